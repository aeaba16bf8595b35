"""``newsarc serve``: a read-only web interface over the library API.

Every page is built from one *context* — a dict of JSON values — and rendered
either as HTML (a Jinja2 template, autoescaped) or as JSON (the same dict), as
Datasette does: ``/search`` and ``/search.json`` (or ``Accept:
application/json``) never disagree.  Field names are the CLI's ``--json`` ones.

Library calls run in worker threads, at most :data:`WORKERS` at a time (the
work is Python, bound by the interpreter lock: more threads only make every
request slower).  Each thread keeps its own open archive — SQLite connections
and Whoosh readers are not shared between threads — and checks on every request
whether the archive's files have changed: a running ``newsarc ingest`` commits
every batch, and the next request opens the archive again, so new articles
show without a restart.  Similar articles, keywords and the archive's figures
are cached until the archive changes.

Archived text is untrusted.  Templates escape everything; control and bidi
characters are shown as visible escapes (``\\x1b``, ``\\u202e``, in a
``<span class="ctl">``); only ``http(s)`` URLs become links; the
Content-Security-Policy allows scripts, styles and images from this server
only.  Remote images are not loaded unless asked for one article
(``?images=1``), which widens ``img-src`` for that response to that article's
image hosts alone.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import math
import os
import re
import socket
import sqlite3
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import anyio
import anyio.to_thread
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsarc.analysis import fold_aligned
from newsarc.errors import (
    AmbiguousArticle,
    ArchiveChanged,
    ArchiveError,
    NewsarcError,
    QueryError,
    UnknownArticle,
)
from newsarc.explore import PERIODS, keywords_in, similar_in, timeline_in
from newsarc.query import parse_query
from newsarc.records import Facets, Hit
from newsarc.render import sanitize_line
from newsarc.research import facets_in
from newsarc.search import (
    SEARCH_ATTEMPTS,
    SORTS,
    Searcher,
    SearchOptions,
    find_spans,
    open_searcher,
)
from newsarc.store import archive_size

#: Host names a loopback server answers to; others are refused (DNS rebinding).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
#: Requests worked on at once (threads); the rest wait their turn.
WORKERS = 4
#: Cached similar-article lists, keyword lists and archive figures (until the archive changes).
CACHE_ENTRIES = 512
#: Hits per page: the default and the most a request may ask for.
PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
#: How many similar articles and keywords an article page shows.
SIMILAR_LIMIT = 8
KEYWORD_LIMIT = 15
#: The Content-Security-Policy of every response; ``{img}`` is widened by ``?images=1``.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src {img}; object-src 'none'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
DEFAULT_IMG_SRC = "'self'"
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
#: Shown as visible escapes: C0/C1 controls, DEL, bidi controls, lone surrogates.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_HOST = re.compile(r"(?:[A-Za-z0-9-]+\.)*[A-Za-z0-9-]+(?::\d{1,5})?")
#: What Whoosh raises when an ingest merges away the segments a reader opened;
#: the request then starts again on the newer commit (as :func:`newsarc.search.search` does).
_INDEX_CHANGED = (OSError, TypeError, LookupError, ValueError, EOFError)


class BadRequest(NewsarcError):
    """A request parameter is not valid (HTTP 400)."""


# ----------------------------------------------------------------------------- text → HTML


def visible(text: str, spans: Iterable[tuple[int, int]] = ()) -> Markup:
    """``text`` as safe HTML: escaped, ``spans`` in ``<mark>``, control characters visibly escaped.

    A control or bidi character becomes ``<span class="ctl">\\x1b</span>`` (the
    escape the terminal output uses), so it can neither reorder nor hide text.
    """
    out: list[str] = []
    pos = 0
    for start, end in sorted(spans):
        if start < pos or end > len(text) or start >= end:
            continue
        out.append(_escape_controls(text[pos:start]))
        out.append(f"<mark>{_escape_controls(text[start:end])}</mark>")
        pos = end
    out.append(_escape_controls(text[pos:]))
    return Markup("".join(out))


def _escape_controls(text: str) -> str:
    pieces: list[str] = []
    pos = 0
    for m in _CONTROL.finditer(text):
        pieces.append(str(escape(text[pos : m.start()])))
        pieces.append(f'<span class="ctl">{escape(sanitize_line(m.group()))}</span>')
        pos = m.end()
    pieces.append(str(escape(text[pos:])))
    return "".join(pieces)


def plain(text: str) -> str:
    """``text`` with control and bidi characters replaced by visible escapes (for attributes, titles)."""
    return _CONTROL.sub(lambda m: sanitize_line(m.group()), text)


def safe_url(url: str) -> str | None:
    """``url`` if it is an ``http(s)`` URL with a plain host name, else None (never made a link)."""
    url = url.strip()
    if _CONTROL.search(url) or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not _HOST.fullmatch(parts.netloc):
        return None
    return url


def _origin(url: str) -> str | None:
    safe = safe_url(url)
    if safe is None:
        return None
    parts = urlsplit(safe)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def format_time(iso: str) -> dict[str, str]:
    """``{"local": "2023-09-17 23:33 (UTC+08:00)", "utc": "2023-09-17 15:33 UTC"}`` of an ISO time."""
    try:
        moment = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return {"local": plain(iso or "unknown"), "utc": ""}
    if moment.tzinfo is None:
        return {"local": f"{moment:%Y-%m-%d %H:%M}", "utc": ""}
    utc = moment.astimezone(UTC)
    shift = moment.utcoffset()
    if not shift:
        return {"local": f"{utc:%Y-%m-%d %H:%M} UTC", "utc": ""}
    minutes = int(shift.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return {
        "local": f"{moment:%Y-%m-%d %H:%M} (UTC{sign}{hours:02d}:{rest:02d})",
        "utc": f"{utc:%Y-%m-%d %H:%M} UTC",
    }


# ----------------------------------------------------------------------------- request parsing


def _int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {plain(raw)!r}") from None
    if not lo <= value <= hi:
        raise BadRequest(f"{name} must be between {lo} and {hi}, not {value}")
    return value


def _filters(request: Request) -> dict[str, Any]:
    """The query and filters of a search or timeline request (``q``, ``source``…, ``since``, ``until``)."""
    params = request.query_params
    return {
        "query": params.get("q", "").strip(),
        "sources": [s.strip() for s in params.getlist("source") if s.strip()],
        "since": params.get("since", "").strip(),
        "until": params.get("until", "").strip(),
    }


def _options(filters: dict[str, Any], **more: Any) -> SearchOptions:
    return SearchOptions(
        sources=tuple(filters["sources"]),
        since=filters["since"] or None,
        until=filters["until"] or None,
        **more,
    )


def _wants_json(request: Request) -> bool:
    if request.url.path.endswith(".json"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _url(path: str, **params: Any) -> str:
    """``path`` with the non-empty ``params`` as a query string (lists repeat the name)."""
    pairs: list[tuple[str, Any]] = []
    for name, value in params.items():
        for v in value if isinstance(value, list | tuple) else [value]:
            if v not in (None, "", 0):
                pairs.append((name, v))
    return path + (f"?{urlencode(pairs)}" if pairs else "")


# ----------------------------------------------------------------------------- the archive


def archive_signature(data_dir: Path) -> tuple:
    """What changes whenever the archive at ``data_dir`` changes: its files' and folders' stat data.

    Any commit of an ingest writes the database (or its write-ahead log) and
    the index folder; a replaced or deleted archive changes inodes.  Read
    from the file system only, so it holds whatever the index engine.
    """
    out = []
    try:
        entries = sorted(os.scandir(data_dir), key=lambda e: e.name)
    except OSError:
        return ()
    for entry in entries:
        with contextlib.suppress(OSError):
            st = entry.stat(follow_symlinks=False)
            out.append((entry.name, st.st_ino, st.st_mtime_ns, st.st_size))
    return tuple(out)


class Archive:
    """One archive as the pages see it: a searcher per thread, kept while the archive is unchanged.

    :meth:`run` gives ``work`` the calling thread's searcher, opened again when
    the archive's files have changed since (:func:`archive_signature`).  Small
    results that depend only on the archive's contents are cached per signature
    (:meth:`cached`).
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._local = threading.local()
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple, Any] = OrderedDict()

    def _searcher(self) -> Searcher:
        """The thread's searcher, of the archive as it is now (its signature: ``_local.current``)."""
        signature = self._local.current = archive_signature(self.data_dir)
        searcher: Searcher | None = getattr(self._local, "searcher", None)
        if searcher is not None and self._local.signature == signature:
            return searcher
        self._drop()
        searcher = open_searcher(self.data_dir)
        self._local.searcher, self._local.signature = searcher, signature
        return searcher

    def _drop(self) -> None:
        searcher = getattr(self._local, "searcher", None)
        self._local.searcher = None
        if searcher is not None:
            with contextlib.suppress(Exception):  # files of a damaged or vanished archive
                searcher.close()

    def run(self, work: Callable[[Searcher], Any]) -> Any:
        """``work(searcher)``; started again on a fresh searcher if the archive changed under it."""
        for attempt in range(1, SEARCH_ATTEMPTS + 1):
            try:
                return work(self._searcher())
            except NewsarcError:
                raise
            except (*_INDEX_CHANGED, ArchiveChanged, sqlite3.Error) as exc:
                if archive_signature(self.data_dir) == self._local.current:
                    raise  # the archive did not change: a bug, reported as one
                # an ingest merged segments away, or the database was replaced or damaged:
                # open the archive again (which says what is wrong with it, if anything)
                self._drop()
                if attempt == SEARCH_ATTEMPTS:
                    raise ArchiveError(
                        f"the archive changed during the request ({type(exc).__name__}: {exc}); try again"
                    ) from None
        raise AssertionError("unreachable")

    def cached(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """``compute()``, remembered for ``key`` while the archive is unchanged (within :meth:`run`)."""
        full = (self._local.current, *key)
        with self._lock:
            if full in self._cache:
                self._cache.move_to_end(full)
                return self._cache[full]
        value = compute()
        with self._lock:
            self._cache[full] = value
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return value


def _outlet_choices(archive: Archive, searcher: Searcher, chosen: list[str]) -> list[dict[str, Any]]:
    """The archive's outlets for the filter menu, most articles first, chosen ones marked."""
    figures = archive.cached(("stats",), searcher.store.stats)
    names = figures["source_names"]
    return [
        {"source": s, "source_name": plain(names.get(s) or s), "count": c, "selected": s in chosen}
        for s, c in figures["sources"].items()
    ]


def _hit(hit: Hit) -> dict[str, Any]:
    """A hit's JSON fields (those of ``search --json``, plus ``source_name``)."""
    out = hit.to_dict()
    out["source_name"] = hit.source_name
    return out


def _hit_view(hit: Hit, query: str, *, marked: bool = True) -> dict[str, Any]:
    """What the HTML shows of a hit: title and snippet (query words marked), link, date."""
    return {
        "id": hit.id,
        "title": visible(hit.title, hit.title_highlights if marked else ()),
        "snippet": visible(hit.snippet, hit.highlights),
        "href": _url(f"/article/{hit.id}", q=query),
        "date": plain(hit.published[:10]),
        "source": plain(hit.source),
        "source_name": plain(hit.source_name or hit.source),
        "aliases": [plain(a) for a in hit.aliases],
        "url": safe_url(hit.url),
    }


def _facets(facets: Facets | None) -> dict[str, Any]:
    """Hit counts of the whole result set per outlet and per local publication year."""
    if facets is None:
        return {"scope": "all", "source": [], "year": []}
    return {
        "scope": "all",
        "source": [{"source": s, "source_name": n, "count": c} for s, n, c in facets.sources],
        "year": [{"year": y, "count": c} for y, c in facets.years],
    }


def search_page(archive: Archive, request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """The search page: ``(JSON context, HTML-only extras)``."""
    filters = _filters(request)
    sort = request.query_params.get("sort", "relevance").strip() or "relevance"
    if sort not in SORTS:
        raise BadRequest(f"unknown sort {plain(sort)!r} (use {', '.join(SORTS)})")
    limit = _int_param(request, "n", PAGE_SIZE, 1, MAX_PAGE_SIZE)
    page = _int_param(request, "page", 1, 1, 1_000_000)

    def work(searcher: Searcher) -> tuple[dict[str, Any], dict[str, Any]]:
        outlets = _outlet_choices(archive, searcher, filters["sources"])
        context: dict[str, Any] = {**filters, "sort": sort, "page": page, "limit": limit}
        if not filters["query"]:
            context.update(total=0, elapsed=0.0, first=0, last=0, pages=0, hits=[],
                           facets=_facets(None))
            return context, {"outlets": outlets, "articles": searcher.store.count()}
        result = searcher.search(filters["query"], _options(filters, sort=sort, limit=limit, page=page))
        pages = math.ceil(result.total / limit) if result.total else 0
        context.update(
            total=result.total,
            elapsed=round(result.elapsed, 4),
            first=result.offset + 1 if result.hits else 0,
            last=result.offset + len(result.hits),
            pages=pages,
            hits=[_hit(h) for h in result.hits],
            facets=_facets(facets_in(searcher, filters["query"], _options(filters))),
        )
        base = {**filters, "sort": "" if sort == "relevance" else sort,
                "n": "" if limit == PAGE_SIZE else limit}
        extras = {
            "outlets": outlets,
            "hit_views": [_hit_view(h, filters["query"]) for h in result.hits],
            "pager": _pager(page, pages, lambda p: _search_url(base, p)),
            "facet_links": {
                "source": {f["source"]: _search_url({**base, "sources": [f["source"]]}, 1)
                           for f in context["facets"]["source"]},
                "year": {f["year"]: _search_url({**base, "since": f["year"], "until": f["year"]}, 1)
                         for f in context["facets"]["year"]},
            },
            "timeline_href": _url("/timeline", q=filters["query"], source=filters["sources"],
                                  since=filters["since"], until=filters["until"]),
        }
        return context, extras

    return archive.run(work)


def _search_url(base: dict[str, Any], page: int) -> str:
    return _url("/search", q=base["query"], source=base["sources"], since=base["since"],
                until=base["until"], sort=base["sort"], n=base["n"], page=page if page > 1 else "")


def _pager(page: int, pages: int, href: Callable[[int], str]) -> list[dict[str, Any]]:
    """Links to the first, last and nearby pages (``None`` href: the current page; gaps as ``…``)."""
    if pages <= 1:
        return []
    wanted = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    out: list[dict[str, Any]] = []
    if page > 1:
        out.append({"label": "‹ prev", "href": href(page - 1), "rel": "prev"})
    previous = 0
    for p in wanted:
        if p - previous > 1:
            out.append({"label": "…", "href": None, "rel": "gap"})
        out.append({"label": str(p), "href": None if p == page else href(p), "rel": ""})
        previous = p
    if page < pages:
        out.append({"label": "next ›", "href": href(page + 1), "rel": "next"})
    return out


def article_page(
    archive: Archive, request: Request, article_id: str
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The article page: ``(JSON context, HTML-only extras, img-src of the response)``."""
    query = request.query_params.get("q", "").strip()
    images = request.query_params.get("images", "") == "1"

    def work(searcher: Searcher) -> tuple[dict[str, Any], dict[str, Any], str]:
        full = searcher.store.resolve(article_id)
        article = searcher.store.get(full)
        terms = searcher.highlight_terms(parse_query(query)) if query else []
        similar = archive.cached(("similar", full), lambda: similar_in(searcher, full, SIMILAR_LIMIT))
        keywords = archive.cached(("keywords", full), lambda: keywords_in(searcher, full, KEYWORD_LIMIT))
        context = {
            **article.to_dict(),
            "similar": [_hit(h) for h in similar],
            "keywords": [{"term": t, "weight": round(w, 4)} for t, w in keywords],
        }

        marked_paragraphs = 0

        def marked(text: str) -> Markup:
            nonlocal marked_paragraphs
            spans = find_spans(fold_aligned(text), terms) if terms else []
            marked_paragraphs += bool(spans)
            return visible(text, spans)

        image_urls = [u for u in (safe_url(i) for i in article.images) if u]
        origins = sorted({o for o in (_origin(u) for u in image_urls) if o})
        extras = {
            "query": query,
            "title_html": visible(article.title, find_spans(fold_aligned(article.title), terms)),
            "paragraphs": [marked(p) for p in article.text.split("\n") if p.strip()],
            "caption_views": [visible(c, find_spans(fold_aligned(c), terms)) for c in article.captions if c.strip()],
            "marked_paragraphs": marked_paragraphs,
            "outlet_name": plain(article.source_name or article.source),
            "published_at": format_time(article.published),
            "archived_at": format_time(article.archived),
            "original": safe_url(article.url),
            "url_text": plain(article.url),
            "author_names": [plain(a) for a in article.authors],
            "tag_names": [plain(t) for t in article.tags],
            "similar_views": [_hit_view(h, "", marked=False) for h in similar],
            "keyword_links": [
                {"term": plain(t), "href": _url("/search", q=t)} for t, _w in keywords
            ],
            "image_srcs": image_urls if images else [],
            "image_count": len(image_urls),
            "image_hosts": [urlsplit(o).netloc for o in origins],
            "images_href": _url(f"/article/{full}", q=query, images=1),
            "without_images_href": _url(f"/article/{full}", q=query),
            "search_href": _url("/search", q=query) if query else "",
        }
        img_src = " ".join([DEFAULT_IMG_SRC, *origins]) if images and origins else DEFAULT_IMG_SRC
        return context, extras, img_src

    return archive.run(work)


#: Chart geometry (SVG user units).
CHART_WIDTH, CHART_HEIGHT = 960, 280
CHART_LEFT, CHART_BOTTOM, CHART_TOP, CHART_RIGHT = 48, 36, 12, 8
#: The widest a bar and its gap may be (a few periods do not make a few slabs).
CHART_MAX_SLOT = 80


def timeline_page(archive: Archive, request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """The timeline page: ``(JSON context, HTML-only extras)``."""
    filters = _filters(request)
    by = request.query_params.get("by", "month").strip() or "month"
    if by not in PERIODS:
        raise BadRequest(f"unknown period {plain(by)!r} (use {', '.join(PERIODS)})")

    def work(searcher: Searcher) -> tuple[dict[str, Any], dict[str, Any]]:
        outlets = _outlet_choices(archive, searcher, filters["sources"])
        context: dict[str, Any] = {**filters, "by": by, "total": 0, "undated": 0, "rows": []}
        extras: dict[str, Any] = {"outlets": outlets, "chart": None}
        if not filters["query"]:
            return context, extras
        result = timeline_in(searcher, filters["query"], by, _options(filters))
        context.update(
            total=result.total,
            undated=result.undated,
            rows=[{"period": p, "count": c} for p, c in result.rows],
        )
        extras["chart"] = bar_chart(
            result.rows,
            lambda period: _url("/search", q=filters["query"], source=filters["sources"],
                                since=period, until=period),
        )
        extras["search_href"] = _url("/search", q=filters["query"], source=filters["sources"],
                                     since=filters["since"], until=filters["until"])
        return context, extras

    return archive.run(work)


def bar_chart(rows: list[tuple[str, int]], href: Callable[[str], str]) -> dict[str, Any]:
    """Geometry of a bar chart of ``(period, count)`` rows, for the SVG the template draws.

    Bars, y-axis ticks at round numbers, and at most about twelve x labels.
    Every bar links to the search of its period.
    """
    top = max((c for _p, c in rows), default=0) or 1
    step = _nice_step(top / 4)
    y_max = math.ceil(top / step) * step
    plot_w = CHART_WIDTH - CHART_LEFT - CHART_RIGHT
    plot_h = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    slot = min(plot_w / max(len(rows), 1), CHART_MAX_SLOT)
    gap = min(slot * 0.2, 4) if slot > 3 else 0
    bars = []
    label_width = 8.5 * max((len(p) for p, _c in rows), default=0) + 12  # 14-unit digits
    label_every = max(1, math.ceil(len(rows) / 12), math.ceil(label_width / slot))
    for i, (period, count) in enumerate(rows):
        height = plot_h * count / y_max
        bars.append({
            "x": round(CHART_LEFT + i * slot + gap / 2, 2),
            "y": round(CHART_TOP + plot_h - height, 2),
            "width": round(max(slot - gap, 0.5), 2),
            "height": round(height, 2),
            "period": period,
            "count": count,
            "href": href(period),
            "label": period if i % label_every == 0 else "",
            "label_x": round(CHART_LEFT + (i + 0.5) * slot, 2),
        })
    ticks = [
        {"value": v, "y": round(CHART_TOP + plot_h - plot_h * v / y_max, 2)}
        for v in range(0, int(y_max) + 1, int(step))
    ]
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "left": CHART_LEFT,
        "right": CHART_WIDTH - CHART_RIGHT,
        "baseline": CHART_TOP + plot_h,
        "label_y": CHART_TOP + plot_h + 20,
        "bars": bars,
        "ticks": ticks,
    }


def _nice_step(raw: float) -> int:
    """The smallest of 1, 2, 5 × 10ⁿ at least ``raw`` (a whole number, at least 1)."""
    if raw <= 1:
        return 1
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * power >= raw:
            return int(m * power)
    return int(10 * power)


def stats_page(archive: Archive, request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stats page: the figures of ``newsarc stats --json``."""

    def work(searcher: Searcher) -> tuple[dict[str, Any], dict[str, Any]]:
        figures = dict(archive.cached(("stats",), searcher.store.stats))
        figures["size_bytes"] = archive_size(archive.data_dir)
        names = figures.get("source_names", {})
        top = max(figures["sources"].values(), default=0) or 1
        top_year = max(figures["years"].values(), default=0) or 1
        extras = {
            "source_rows": [
                {"source": s, "name": plain(names.get(s) or s), "count": n,
                 "share": round(100 * n / top, 1), "href": _url("/search", source=s, q="")}
                for s, n in figures["sources"].items()
            ],
            "year_rows": [
                {"year": plain(y), "count": n, "share": round(100 * n / top_year, 1)}
                for y, n in figures["years"].items()
            ],
            "author_rows": [{"name": plain(str(a)), "count": n} for a, n in figures.get("authors", [])],
            "first": format_time(figures.get("first_published") or ""),
            "last": format_time(figures.get("last_published") or ""),
            "size": _human_size(figures["size_bytes"]),
        }
        return figures, extras

    return archive.run(work)


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


# ----------------------------------------------------------------------------- the application


class _SecurityHeaders:
    """Adds the CSP and the other security headers to every response that has none of its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy",
                                    CSP.format(img=DEFAULT_IMG_SRC).encode()))
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class WebApp:
    """The pages of one archive; :meth:`asgi` is the Starlette application."""

    def __init__(self, data_dir: str | Path) -> None:
        self.archive = Archive(Path(data_dir))
        self.limiter = anyio.CapacityLimiter(WORKERS)
        self.env = Environment(
            loader=PackageLoader("newsarc", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["plain"] = plain

    def render(self, request: Request, template: str, context: dict[str, Any], extras: dict[str, Any],
               *, status: int = 200, img_src: str = DEFAULT_IMG_SRC) -> Response:
        """``context`` as JSON, or the template with ``context`` and ``extras`` as HTML."""
        headers = {"content-security-policy": CSP.format(img=img_src)}
        if _wants_json(request):
            return JSONResponse(context, status_code=status, headers=headers)
        path = request.url.path
        if status == 200 and not path.endswith(".json"):
            query = f"?{request.url.query}" if request.url.query else ""
            alternate = (path.rstrip("/") or "/search") + ".json" + query
            headers["link"] = f'<{alternate}>; rel="alternate"; type="application/json"'
            extras = {**extras, "json_href": alternate}
        html = self.env.get_template(template).render({**context, **extras, "page_path": path})
        return HTMLResponse(html, status_code=status, headers=headers)

    def error(self, request: Request, status: int, message: str) -> Response:
        """An error page (or ``{"error": …}``) with ``status`` and a one-line ``message``."""
        message = plain(" ".join(message.split()))
        titles = {400: "Bad request", 404: "Not found", 405: "Method not allowed",
                  500: "Internal error", 503: "Archive unavailable"}
        return self.render(request, "error.html", {"error": message, "status": status},
                           {"title": titles.get(status, "Error"),
                            "query": request.query_params.get("q", "")}, status=status)

    def page(self, template: str, build: Callable[..., tuple]) -> Callable[[Request], Any]:
        """An endpoint running ``build(archive, request, **path_params)`` in a worker thread."""

        async def endpoint(request: Request) -> Response:
            try:
                built = await anyio.to_thread.run_sync(
                    functools.partial(build, self.archive, request, **request.path_params),
                    limiter=self.limiter,
                )
            except (QueryError, BadRequest) as exc:
                return self.error(request, 400, str(exc))
            except UnknownArticle as exc:
                return self.error(request, 404, str(exc))
            except AmbiguousArticle as exc:
                return self.error(request, 404, f"{exc}: {', '.join(exc.candidates[:10])}")
            except ArchiveError as exc:
                return self.error(request, 503, str(exc))
            except NewsarcError as exc:
                return self.error(request, 500, str(exc))
            except Exception as exc:  # a bug: one line in the page and on stderr, no traceback
                line = f"internal error: {type(exc).__name__}: {str(exc)[:300]}"
                print(f"newsarc: {sanitize_line(line)} ({request.url.path})", file=sys.stderr)
                return self.error(request, 500, line)
            context, extras, *img = built
            return self.render(request, template, context, extras,
                               img_src=img[0] if img else DEFAULT_IMG_SRC)

        return endpoint

    async def not_found(self, request: Request, exc: Exception) -> Response:
        """Starlette's own 404 and 405 (unknown path, method other than GET/HEAD)."""
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        message = {404: f"no page at {request.url.path}",
                   405: f"{request.method} is not allowed: this server is read-only"}
        return self.error(request, status, message.get(status, "error"))

    async def server_error(self, request: Request, exc: Exception) -> Response:
        """Anything that escaped a page (the page endpoints catch their own errors)."""
        return self.error(request, 500, f"internal error: {type(exc).__name__}")

    def asgi(self, *, allowed_hosts: Iterable[str] | None = LOOPBACK_HOSTS) -> Starlette:
        """The ASGI application; requests for other ``Host`` names are refused unless ``None``."""
        static = Path(__file__).parent / "static"
        routes = [
            Route("/", self.page("search.html", search_page)),
            Route("/search", self.page("search.html", search_page)),
            Route("/search.json", self.page("search.html", search_page)),
            Route("/article/{article_id:str}.json", self.page("article.html", article_page)),
            Route("/article/{article_id:str}", self.page("article.html", article_page)),
            Route("/timeline", self.page("timeline.html", timeline_page)),
            Route("/timeline.json", self.page("timeline.html", timeline_page)),
            Route("/stats", self.page("stats.html", stats_page)),
            Route("/stats.json", self.page("stats.html", stats_page)),
            Mount("/static", StaticFiles(directory=static), name="static"),
        ]
        middleware = [Middleware(_SecurityHeaders)]
        if allowed_hosts is not None:
            middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
        return Starlette(
            routes=routes,
            middleware=middleware,
            exception_handlers={HTTPException: self.not_found, Exception: self.server_error},
        )


def create_app(data_dir: str | Path, *, allowed_hosts: Iterable[str] | None = LOOPBACK_HOSTS) -> Starlette:
    """The web application over the archive at ``data_dir`` (see :class:`WebApp`)."""
    return WebApp(data_dir).asgi(allowed_hosts=allowed_hosts)


# ----------------------------------------------------------------------------- the server


@dataclass
class Server:
    """A listening socket and the application that will answer on it."""

    sock: socket.socket
    app: Starlette
    url: str
    loopback: bool


def listen(data_dir: str | Path, host: str = "127.0.0.1", port: int = 8000) -> Server:
    """Check the archive opens and bind ``host:port`` (port 0: a free one); nothing is served yet.

    A loopback server answers only requests addressed to a loopback name
    (``Host: 127.0.0.1``, ``localhost``): a web page elsewhere cannot rebind its
    own domain name to this server and read the archive.  Raises
    :class:`ArchiveError` when the archive cannot be opened and
    :class:`NewsarcError` when the address cannot be bound.
    """
    with open_searcher(data_dir):
        pass
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (OSError, UnicodeError) as exc:
        raise NewsarcError(f"cannot listen on {host}: {getattr(exc, 'strerror', None) or exc}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise NewsarcError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound = sock.getsockname()
    loopback = ipaddress.ip_address(bound[0]).is_loopback
    shown = f"[{bound[0]}]" if family == socket.AF_INET6 else bound[0]
    app = create_app(data_dir, allowed_hosts=LOOPBACK_HOSTS if loopback else None)
    return Server(sock=sock, app=app, url=f"http://{shown}:{bound[1]}/", loopback=loopback)


def run_server(server: Server) -> None:
    """Serve until interrupted (uvicorn, one process; no access log: who read what is not recorded)."""
    import uvicorn

    config = uvicorn.Config(
        server.app, log_level="warning", access_log=False, lifespan="off", server_header=False,
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run(sockets=[server.sock])
