"""Research workflows on top of search: concordances, facets, per-outlet timelines, exports, reading.

Everything here works on the *whole* result set of a query, through the
search stage's public interface only (:meth:`Searcher.search` with every hit
and no snippets, :meth:`Searcher.highlight_terms` for the words to mark) and
the store's record access, so it does not depend on how the index answers.

*Where are the matches in a text?*  The strings search highlights (every
piece of every positive query word, every alias variant, phrases whole) are
already folded; they are found in the folded text of each paragraph, exactly
as :func:`newsarc.analysis.fold` folds it, and reported at the same place in
the original text.  Folding can change lengths (NFKC turns ``…`` into
``...`` and ``ﬁ`` into ``fi``, a combining accent merges with its letter):
:class:`MappedFold` keeps, for every folded offset, the original offset it
came from.  Latin words match whole tokens (``tu`` does not match inside
``tutor``), as search's Latin tokens do; the words of a phrase match across
any run of whitespace.

*Paragraphs.*  An article's text paragraphs (its ``text``, one per line) come
first, then its captions; the title is not searched for concordance lines (it
is shown beside each line).  Contexts stop at the paragraph's ends unless
``cross_paragraphs`` is asked for; then paragraphs are joined by
:data:`PARAGRAPH_MARK`.
"""

from __future__ import annotations

import functools
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from newsarc.analysis import fold
from newsarc.errors import DamagedArchive, QueryError
from newsarc.explore import PERIODS, period_axis, period_counts
from newsarc.ingest import local_day
from newsarc.query import Node, Not, Term, parse_query
from newsarc.records import Article, ArticleMarks, Facets, Hit, KwicLine
from newsarc.search import Searcher, SearchOptions, SearchResult, parse_date_bound, searching
from newsarc.store import open_store

#: Characters of context on each side of a concordance line, unless asked otherwise.
KWIC_WIDTH = 30
KWIC_SORTS = ("date", "source", "left", "right")
#: What stands between two paragraphs in a context that crosses paragraphs.
PARAGRAPH_MARK = " ¶ "
_LATIN = "0-9a-z\u00c0-\u024f"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# --------------------------------------------------------------------------- folded offsets


@functools.lru_cache(maxsize=65536)
def _irregular(ch: str) -> bool:
    """Whether ``ch`` folded on its own is not exactly one character (or is a combining mark)."""
    return len(fold(ch)) != 1 or unicodedata.combining(ch) != 0


class MappedFold:
    """A text, its folded form, and where each folded character came from.

    ``folded`` is :func:`~newsarc.analysis.fold` of the text.  When folding
    kept the length, offsets are the same in both.  Otherwise the text is
    folded piece by piece: runs of characters that fold one to one, and each
    character that does not (with any combining marks after it) on its own, so
    a span of the folded text maps back to whole original characters
    (``span``).  Should folding piece by piece differ from folding the whole
    (OpenCC converting a phrase across a piece boundary), the pieces' folded
    text is the one matched.
    """

    __slots__ = ("_ends", "_starts", "folded", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.folded = fold(text)
        self._starts: list[int] | None = None
        self._ends: list[int] | None = None
        if len(self.folded) != len(text):
            self._map()

    def _map(self) -> None:
        text = self.text
        parts: list[str] = []
        starts: list[int] = []
        ends: list[int] = [0]
        for lo, hi, regular in _pieces(text):
            folded = fold(text[lo:hi])
            if regular and len(folded) != hi - lo:  # fold one by one: each folds to one character
                folded = "".join(fold(ch) for ch in text[lo:hi])
            if len(folded) == hi - lo:
                starts.extend(range(lo, hi))
                ends.extend(range(lo + 1, hi + 1))
            else:  # the piece's folded characters all come from the whole piece
                starts.extend([lo] * len(folded))
                ends.extend([hi] * len(folded))
            parts.append(folded)
        self.folded = "".join(parts)
        self._starts, self._ends = starts, ends

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original ``(start, end)`` of the folded span ``[start, end)`` (``start < end``)."""
        if self._starts is None or self._ends is None:
            return start, end
        return self._starts[start], self._ends[end]


def _pieces(text: str) -> Iterator[tuple[int, int, bool]]:
    """``(start, end, regular)``: runs of one-to-one characters, and irregular characters alone.

    A combining mark joins the piece before it, which then is irregular.
    """
    run_start = 0
    pos = 0
    n = len(text)
    while pos < n:
        if not _irregular(text[pos]):
            pos += 1
            continue
        end = pos + 1
        while end < n and unicodedata.combining(text[end]):
            end += 1
        start = pos
        if unicodedata.combining(text[pos]) and pos > run_start:
            start = pos - 1  # the mark belongs to the character before it
        if start > run_start:
            yield run_start, start, True
        yield start, end, False
        run_start = pos = end
    if run_start < n:
        yield run_start, n, True


def match_pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern finding any of the folded ``terms`` (longest first), or None for no terms.

    A term's words match across any whitespace; a term that starts or ends
    with a Latin letter or digit matches whole tokens only.
    """
    alternatives = []
    for term in sorted({t for t in terms if t.strip()}, key=len, reverse=True):
        body = r"\s+".join(re.escape(word) for word in term.split())
        if re.match(f"[{_LATIN}]", term):
            body = f"(?<![{_LATIN}])" + body
        if re.search(f"[{_LATIN}]$", term):
            body += f"(?![{_LATIN}])"
        alternatives.append(body)
    return re.compile("|".join(alternatives)) if alternatives else None


def find_matches(text: str, pattern: re.Pattern[str] | None) -> list[tuple[int, int]]:
    """The ``(start, end)`` spans in the original ``text`` whose folded form matches ``pattern``."""
    if pattern is None or not text:
        return []
    mapped = MappedFold(text)
    return [mapped.span(m.start(), m.end()) for m in pattern.finditer(mapped.folded) if m.end() > m.start()]


# --------------------------------------------------------------------------- result sets


def query_terms(searcher: Searcher, text: str) -> list[str]:
    """The folded strings to find for the query ``text``, longest first.

    Every positive word of the query whole and the pieces search cuts it into
    (a typed 普京朝鲜 marks 普京 and 朝鲜, as search matches them), every alias
    variant of a word whole (普丁 for 普京; not its pieces: 2019冠状病毒病 is an
    alias of 新冠肺炎, a lone 2019 is not), each phrase whole.  ``source:``
    and ``author:`` terms and excluded words mark nothing.
    """
    out: list[str] = []
    for term in _positive_terms(parse_query(text)):
        if term.field in ("source", "author"):
            continue
        folded = " ".join(fold(term.text).split())
        if term.phrase:
            out.append(folded)
            continue
        out.extend(searcher.alias_group(term))
        for word in folded.split():
            out.append(word)
            out.extend(piece.text for piece in searcher.pieces(word))
    return sorted(set(out), key=len, reverse=True)


def _positive_terms(node: Node, negated: bool = False) -> Iterator[Term]:
    """The terms of a query tree that are not excluded (by an odd number of NOTs)."""
    if isinstance(node, Term):
        if not negated:
            yield node
    elif isinstance(node, Not):
        yield from _positive_terms(node.child, not negated)
    else:
        for child in node.children:
            yield from _positive_terms(child, negated)


def all_hits(
    searcher: Searcher, text: str, options: SearchOptions | None = None, *, sort: str = "oldest"
) -> SearchResult:
    """Every hit of the query (no page, no snippets), oldest first unless ``sort`` says otherwise."""
    options = replace(options or SearchOptions(), limit=None, page=1, sort=sort, snippets=False)
    return searcher.search(text, options)


def facets_in(searcher: Searcher, text: str, options: SearchOptions | None = None) -> Facets:
    """Hits of the whole result set per outlet (most first) and per local publication year.

    Counted from the index (``source`` postings, date columns): the cost is that
    of matching, whatever the number of hits.  With ``all_versions`` the hits of
    older versions (which the index does not hold) are counted from their records.
    """
    options = options or SearchOptions()
    names = searcher.store.stats()["source_names"]
    if options.all_versions:
        hits = all_hits(searcher, text, options).hits
        sources = Counter(hit.source for hit in hits)
        names = {**names, **{hit.source: hit.source_name for hit in hits}}
        years = Counter(_local_date(hit.published)[:4] or "undated" for hit in hits)
        total = len(hits)
    else:
        docs = searcher.matching_docs(parse_query(text), options)
        sources = Counter({key: len(found) for key, found in searcher.docs_by_source(docs).items()})
        years, undated = period_counts(searcher, docs, "year")
        if undated:
            years["undated"] = undated
        total = len(docs)
    return Facets(
        total=total,
        sources=[(key, names.get(key, key), n) for key, n in sorted(sources.items(), key=lambda x: (-x[1], x[0]))],
        years=sorted(years.items()),
    )


def _local_date(published: str) -> str:
    """``YYYY-MM-DD`` of an ISO time's own (local) date, or ``""``."""
    return published[:10] if _DATE.match(published) else ""


@dataclass(slots=True)
class SourceTimeline:
    """Counts per period and outlet: ``rows`` of ``(period, source, count)``, period by period.

    Every outlet with hits has a row for every period of the continuous axis
    (0 where it has none); ``sources`` lists the outlets, most hits first.
    """

    rows: list[tuple[str, str, int]]
    sources: list[str]
    total: int
    undated: int = 0


def timeline_by_source_in(
    searcher: Searcher, text: str, by: str = "month", options: SearchOptions | None = None
) -> SourceTimeline:
    """``timeline --split source``: matches of ``text`` per period and outlet."""
    if by not in PERIODS:
        raise QueryError(f"unknown period {by!r} (use {', '.join(PERIODS)})")
    docs = searcher.matching_docs(parse_query(text), options or SearchOptions())
    counts: Counter[tuple[str, str]] = Counter()
    per_source: Counter[str] = Counter()
    undated = 0
    for source, found in searcher.docs_by_source(docs).items():
        periods, none = period_counts(searcher, found, by)
        undated += none
        for period, n in periods.items():
            counts[(period, source)] += n
            per_source[source] += n
    sources = [s for s, _n in sorted(per_source.items(), key=lambda x: (-x[1], x[0]))]
    rows: list[tuple[str, str, int]] = []
    if counts:
        periods = [p for p, _s in counts]
        for period in period_axis(min(periods), max(periods), by):
            rows.extend((period, source, counts.get((period, source), 0)) for source in sources)
    return SourceTimeline(rows=rows, sources=sources, total=len(docs), undated=undated)


# --------------------------------------------------------------------------- kwic


@dataclass(slots=True)
class Kwic:
    """Concordance lines of a query, and how many articles matched and held them."""

    lines: list[KwicLine]
    matched: int
    articles: int
    elapsed: float = 0.0


def _paragraphs(text: str, captions: Iterable[str]) -> list[tuple[int, str]]:
    """``(number, paragraph)`` of the non-empty text paragraphs, then captions."""
    parts = [*text.split("\n"), *captions]
    return [(n, p) for n, p in enumerate(parts) if p.strip()]


def article_lines(
    hit: Hit,
    text: str,
    captions: Iterable[str],
    pattern: re.Pattern[str] | None,
    width: int = KWIC_WIDTH,
    *,
    cross_paragraphs: bool = False,
) -> list[KwicLine]:
    """The concordance lines of one article: every match of ``pattern`` in its paragraphs."""
    paragraphs = _paragraphs(text, captions)
    flat = PARAGRAPH_MARK.join(p for _n, p in paragraphs)
    out: list[KwicLine] = []
    base = 0
    for number, paragraph in paragraphs:
        lo, hi = (0, len(flat)) if cross_paragraphs else (base, base + len(paragraph))
        for start, end in find_matches(paragraph, pattern):
            a, b = base + start, base + end
            out.append(
                KwicLine(
                    id=hit.id,
                    published=hit.published,
                    source=hit.source,
                    source_name=hit.source_name,
                    title=hit.title,
                    url=hit.url,
                    left=flat[max(lo, a - width) : a],
                    match=flat[a:b],
                    right=flat[b : min(hi, b + width)],
                    paragraph=number,
                    offset=start,
                )
            )
        base += len(paragraph) + len(PARAGRAPH_MARK)
    return out


def kwic_in(
    searcher: Searcher,
    text: str,
    options: SearchOptions | None = None,
    *,
    width: int = KWIC_WIDTH,
    sort: str = "date",
    cross_paragraphs: bool = False,
) -> Kwic:
    """Every occurrence of the query's words in the text and captions of every hit.

    ``width`` characters of context on each side; ``sort``: ``date`` (oldest
    article first, then by place in the article), ``source`` (then date),
    ``left`` (by the left context read from the match outwards) or ``right``.
    """
    started = time.perf_counter()
    if sort not in KWIC_SORTS:
        raise QueryError(f"unknown sort {sort!r} (use {', '.join(KWIC_SORTS)})")
    if width < 0:
        raise QueryError(f"context width must be 0 or more, not {width}")
    hits = all_hits(searcher, text, options).hits
    pattern = match_pattern(query_terms(searcher, text))
    lines: list[KwicLine] = []
    with_lines = 0
    for chunk in range(0, len(hits), 200):
        batch = hits[chunk : chunk + 200]
        texts = searcher.store.texts([h.id for h in batch])
        for hit in batch:
            body, captions = texts.get(hit.id, ("", []))
            found = article_lines(hit, body, captions, pattern, width, cross_paragraphs=cross_paragraphs)
            with_lines += bool(found)
            lines.extend(found)
    if sort == "source":
        lines.sort(key=lambda line: line.source)
    elif sort == "left":
        lines.sort(key=lambda line: fold(line.left)[::-1])
    elif sort == "right":
        lines.sort(key=lambda line: fold(line.right))
    return Kwic(lines, len(hits), with_lines, time.perf_counter() - started)


# --------------------------------------------------------------------------- reading


def article_marks(article: Article, terms: Iterable[str]) -> ArticleMarks:
    """The matches of the folded ``terms`` (see :func:`query_terms`) in ``article``."""
    pattern = match_pattern(terms)
    return ArticleMarks(
        title=find_matches(article.title, pattern),
        text=[find_matches(p, pattern) for p in article.text.split("\n")],
        captions=[find_matches(c, pattern) for c in article.captions],
    )


# --------------------------------------------------------------------------- export


def _filtered_records(
    data_dir: str | Path, options: SearchOptions, on_damage: Callable[[str, str], None] | None
) -> Iterator[dict]:
    """Every stored record of the outlets and local publication days ``options`` allow."""
    sources = {s.lower() for s in options.sources}
    dated = bool(options.since or options.until)
    first = parse_date_bound(options.since, end=False) if options.since else 0
    last = parse_date_bound(options.until, end=True) if options.until else 99_999_999
    if first > last:
        raise QueryError(f"--since {options.since} is after --until {options.until}")
    with open_store(data_dir) as store:
        for record in store.iter_records(on_damage):
            if sources and record["source"] not in sources:
                continue
            if dated and not first <= local_day(record["published"]) <= last:
                continue
            yield record


def export_records(
    data_dir: str | Path,
    text: str | None = None,
    options: SearchOptions | None = None,
    *,
    aliases: bool = True,
    on_damage: Callable[[str, str], None] | None = None,
) -> Iterator[dict]:
    """The records of ``newsarc export``: every hit of the query ``text``, oldest first, streamed.

    Without a query, every stored record the filters of ``options`` allow
    (outlets, local publication days), in the store's order (oldest first).
    A record that cannot be read raises :class:`~newsarc.errors.DamagedArchive`,
    or with ``on_damage`` is skipped after ``on_damage(article id, reason)``.
    """
    options = options or SearchOptions()
    if text is None or not text.strip():
        yield from _filtered_records(data_dir, options, on_damage)
        return
    ids = searching(data_dir, lambda searcher: [hit.id for hit in all_hits(searcher, text, options).hits], aliases=aliases)
    with open_store(data_dir) as store:
        for article_id in ids:
            try:
                yield store.get(article_id).to_dict()
            except DamagedArchive as exc:
                if on_damage is None:
                    raise
                on_damage(article_id, str(exc))


# --------------------------------------------------------------------------- archive-level API


def kwic(
    data_dir: str | Path,
    text: str,
    options: SearchOptions | None = None,
    *,
    width: int = KWIC_WIDTH,
    sort: str = "date",
    cross_paragraphs: bool = False,
    aliases: bool = True,
) -> Kwic:
    """``newsarc kwic``: the concordance of the query ``text`` in the archive at ``data_dir``."""
    return searching(
        data_dir,
        lambda searcher: kwic_in(searcher, text, options, width=width, sort=sort, cross_paragraphs=cross_paragraphs),
        aliases=aliases,
    )


def search_with_facets(
    data_dir: str | Path, text: str, options: SearchOptions | None = None, *, aliases: bool = True
) -> tuple[SearchResult, Facets]:
    """``newsarc search --facets``: one page of hits and the facets of the whole result set."""
    return searching(
        data_dir, lambda searcher: (searcher.search(text, options), facets_in(searcher, text, options)), aliases=aliases
    )


def timeline_by_source(
    data_dir: str | Path,
    text: str,
    by: str = "month",
    options: SearchOptions | None = None,
    *,
    aliases: bool = True,
) -> SourceTimeline:
    """``newsarc timeline --split source`` on the archive at ``data_dir``."""
    return searching(data_dir, lambda searcher: timeline_by_source_in(searcher, text, by, options), aliases=aliases)


def highlight_articles(
    data_dir: str | Path, articles: list[Article], text: str, *, aliases: bool = True
) -> list[ArticleMarks]:
    """``newsarc show --query``: where the query ``text`` matches in each article."""
    terms = searching(data_dir, lambda searcher: query_terms(searcher, text), aliases=aliases)
    return [article_marks(article, terms) for article in articles]
