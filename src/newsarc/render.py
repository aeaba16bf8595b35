"""newsarc's output stage: everything a person or a program reads.

Every function here writes to an explicit text stream and takes a :class:`Style`
(colour on/off, terminal width), so the CLI decides where output goes and tests
can render into :class:`io.StringIO`.  *Data* (hits, articles, stats, JSON)
goes to the stream the caller passes as ``out`` (stdout); *talk* (search
summaries, ingest summaries) is written by separate functions meant for stderr.

Archived text is untrusted: every string taken from a record passes through
:func:`sanitize` (or :func:`sanitize_line` for single-line fields) before it
reaches a terminal, so escape sequences, C1 controls and bidi overrides in an
article cannot move the cursor, recolour the screen or reorder what is shown.

Widths are measured in terminal cells (CJK characters take two) with
:mod:`wcwidth`, grapheme cluster by grapheme cluster, so alignment, truncation
and wrapping never split a wide character, a combining sequence or an emoji.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, TextIO

from newsarc.records import Article, Hit


@functools.cache
def _wcwidth() -> tuple[Any, Any]:
    """``(wcswidth, iter_graphemes or None)``, imported on first use: JSON output never needs them."""
    import wcwidth

    # wcwidth >= 0.3 segments grapheme clusters (UAX #29) in C.
    return wcwidth.wcswidth, getattr(wcwidth, "iter_graphemes", None)


def _simple_width(text: str) -> int | None:
    """The width of text whose every character is a cluster of its own, 1 or 2 cells wide.

    News text is almost all ASCII, CJK and punctuation, where the width is
    Unicode's East Asian Width (W and F take two cells) exactly as wcwidth
    computes it.  Anything else — combining marks, format and control
    characters, Hangul jamo, emoji and other supplementary-plane symbols,
    characters this Python's Unicode tables do not know — returns None and is
    left to wcwidth (so a search printing plain hits does not import it).
    """
    if text.isascii():
        return len(text) if text.isprintable() else None
    width = 0
    for char in text:
        cp = ord(char)
        if 0x20 <= cp < 0x7F:
            width += 1
            continue
        if cp >= 0x1F000 or 0x1100 <= cp <= 0x11FF or 0xD7B0 <= cp <= 0xD7FF or cp < 0xA0:
            return None
        category = unicodedata.category(char)
        if category[0] in "MC" or category in ("Zl", "Zp"):
            return None
        width += 2 if unicodedata.east_asian_width(char) in "WF" else 1
    return width


def wcswidth(text: str) -> int:
    """wcwidth's display width of ``text`` (-1 if it holds non-printables)."""
    simple = _simple_width(text)
    if simple is not None:
        return simple
    return int(_wcwidth()[0](text))


__all__ = [
    "Style",
    "display_width",
    "page",
    "pad",
    "render_article",
    "render_article_json",
    "render_candidates",
    "render_hits",
    "render_hits_json",
    "render_ingest_summary",
    "render_keywords",
    "render_records_jsonl",
    "render_search_summary",
    "render_stats",
    "render_stats_json",
    "render_timeline",
    "sanitize",
    "sanitize_line",
    "style_for",
    "truncate",
    "wrap",
]

# --------------------------------------------------------------------------- style

#: SGR sequences used when colour is on (exact values are part of the tests).
RESET = "\x1b[0m"
BOLD = "\x1b[1m"
DIM = "\x1b[2m"
YELLOW = "\x1b[33m"
HIGHLIGHT = "\x1b[1;31m"  # bold red: matched terms in snippets

#: Cell widths of the columns of a search hit's first line.
ID_CELLS = 12
DATE_CELLS = 10
OUTLET_CELLS = 14
#: Indentation of snippet lines, and how many of them a hit gets at most.
SNIPPET_INDENT = "    "
SNIPPET_LINES = 2
#: Article bodies are wrapped to the terminal width, but never wider than this.
ARTICLE_MAX_CELLS = 100

MIN_WIDTH = 40
MAX_WIDTH = 200


@dataclass(slots=True, frozen=True)
class Style:
    """How to render: with ANSI colours or not, and the line width in cells."""

    color: bool = False
    width: int = 80


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def style_for(stream: TextIO, *, force_color: bool | None = None) -> Style:
    """The style for writing to ``stream``.

    Colour is on only when ``stream`` is a terminal, ``NO_COLOR`` is unset or
    empty (https://no-color.org) and ``TERM`` is not ``dumb``; ``force_color``
    (``--color=always/never``) overrides all three.  The width is the terminal's
    (``shutil.get_terminal_size``, which honours ``COLUMNS``), 80 when unknown,
    clamped to 40..200.
    """
    if force_color is None:
        color = (
            _isatty(stream) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        )
    else:
        color = bool(force_color)
    columns = shutil.get_terminal_size((80, 24)).columns
    return Style(color=color, width=min(max(columns, MIN_WIDTH), MAX_WIDTH))


def _sgr(text: str, code: str, style: Style) -> str:
    return f"{code}{text}{RESET}" if style.color and text else text


# ------------------------------------------------------------------------ sanitize

_BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)


def _escape(cp: int) -> str:
    if cp < 0x100:
        return f"\\x{cp:02x}"
    return f"\\u{cp:04x}"


class _Table(dict):  # type: ignore[type-arg]
    """A ``str.translate`` table that also escapes lone surrogates, computed when met."""

    def __missing__(self, cp: int) -> str:
        if 0xD800 <= cp < 0xE000:
            return _escape(cp)
        raise LookupError(cp)


def _build_table(*, line: bool, blank: bool = False) -> dict[int, str]:
    table: dict[int, str] = _Table({cp: _escape(cp) for cp in range(0x20)})
    table[0x0D] = "\\r"
    if line:
        table[0x0A] = "\\n"
        table[0x09] = "\\t"
    else:
        del table[0x0A], table[0x09]
    if blank:  # snippets: line breaks and tabs become spaces (same length)
        table[0x0A] = table[0x09] = table[0x0D] = " "
    table[0x7F] = _escape(0x7F)
    table.update({cp: _escape(cp) for cp in range(0x80, 0xA0)})
    table.update({cp: _escape(cp) for cp in _BIDI})
    # Lone surrogates (from surrogateescape decoding) cannot be written as UTF-8:
    # _Table escapes them on lookup.
    return table


_TEXT_TABLE = _build_table(line=False)
_LINE_TABLE = _build_table(line=True)
_SNIPPET_TABLE = _build_table(line=True, blank=True)


def _char_class(table: dict[int, str]) -> re.Pattern[str]:
    """A character class of the table's code points, written as ranges (quick to compile)."""
    ranges: list[list[int]] = []
    for cp in sorted(table):
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    spec = "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in ranges
    )
    return re.compile(f"[{spec}\\ud800-\\udfff]")


_UNSAFE_TEXT = _char_class(_TEXT_TABLE)
_UNSAFE_LINE = _char_class(_LINE_TABLE)


def sanitize(text: str) -> str:
    """``text`` made safe for a terminal, keeping ``\\n`` and ``\\t``.

    C0 controls, DEL, C1 controls (U+0080..U+009F), bidi controls and lone
    surrogates become visible escapes (``\\x1b``, ``\\r``, ``\\x9b``,
    ``\\u202e``), so no escape sequence from an archived page reaches the
    terminal.  Other text is returned unchanged.
    """
    if not _UNSAFE_TEXT.search(text):
        return text
    return text.translate(_TEXT_TABLE)


def sanitize_line(text: str) -> str:
    """Like :func:`sanitize`, but also escapes ``\\n``, ``\\t`` and ``\\r``: for titles, URLs, names."""
    if not _UNSAFE_LINE.search(text):
        return text
    return text.translate(_LINE_TABLE)


# -------------------------------------------------------------------------- widths


def _clusters(text: str) -> Iterator[str]:
    """Grapheme clusters (or, with an old wcwidth, characters plus combining marks)."""
    if _simple_width(text) is not None:  # every character is its own cluster
        yield from text
        return
    iter_graphemes = _wcwidth()[1]
    if iter_graphemes is not None:
        yield from iter_graphemes(text)
        return
    cluster = ""  # pragma: no cover - older wcwidth
    for char in text:  # pragma: no cover
        if cluster and wcswidth(char) == 0:
            cluster += char
        else:
            if cluster:
                yield cluster
            cluster = char
    if cluster:  # pragma: no cover
        yield cluster


def _unit_width(unit: str) -> int:
    width = wcswidth(unit)
    if width < 0:
        width = wcswidth(sanitize_line(unit))
    return max(width, 0)


def display_width(s: str) -> int:
    """How many terminal cells ``s`` takes once sanitized (CJK = 2, combining marks = 0).

    Non-printable characters count as the length of their escape, so
    ``display_width(s) == display_width(sanitize_line(s))``.
    """
    if _UNSAFE_LINE.search(s):
        s = sanitize_line(s)
    width = wcswidth(s)
    if width < 0:  # pragma: no cover - nothing unprintable is left after sanitize
        width = sum(_unit_width(unit) for unit in _clusters(s))
    return width


def _cut_index(s: str, cells: int) -> int:
    """The length of the longest prefix of ``s`` (whole clusters) at most ``cells`` wide."""
    used = 0
    index = 0
    for unit in _clusters(s):
        used += _unit_width(unit)
        if used > cells:
            break
        index += len(unit)
    return index


def truncate(s: str, cells: int) -> str:
    """``s`` cut to at most ``cells`` cells, ending in ``…`` when anything was cut.

    Cuts only between grapheme clusters, so a wide character is never split
    (the result may be one cell narrower than ``cells``).  Pass sanitized text.
    """
    if display_width(s) <= cells:
        return s
    if cells <= 0:
        return ""
    return s[: _cut_index(s, cells - 1)] + "…"


def pad(s: str, cells: int, *, right: bool = False) -> str:
    """``s`` padded with spaces to ``cells`` cells (left-aligned, or right-aligned).

    Never truncates: combine with :func:`truncate` for a fixed-width column.
    """
    fill = " " * max(cells - display_width(s), 0)
    return fill + s if right else s + fill


def _fit(s: str, cells: int) -> str:
    return pad(truncate(s, cells), cells)


# ---------------------------------------------------------------------------- wrap

#: Characters a line must not start with (closing brackets, punctuation) …
_NO_LINE_START = frozenset(")]}）］｝〕〉》」』】〗〙〛〞’”｠»,.;:?!%，。、；：？！…‥·・〜～‰％")
#: … and characters a line must not end with (opening brackets and quotes).
_NO_LINE_END = frozenset("([{（［｛〔〈《「『【〖〘〚〝‘“｟«")


def _breakable(before: str, before_width: int, after: str, after_width: int) -> bool:
    """May a line break fall between these two adjacent non-space clusters?"""
    if after[0] in _NO_LINE_START or before[-1] in _NO_LINE_END or after_width == 0:
        return False
    # Break next to wide (CJK) characters; never inside runs of narrow (Latin) text.
    return before_width >= 2 or after_width >= 2


def _wrap_ranges(text: str, cells: int) -> list[tuple[int, int]]:
    """Line ranges ``(start, end)`` into ``text`` when wrapped to ``cells`` cells.

    ``\\n`` is a hard break; whitespace at soft breaks is dropped; leading
    whitespace of the text is kept.  A chunk wider than ``cells`` with no
    allowed break (a long URL) is cut between clusters.
    """
    cells = max(cells, 1)
    lines: list[tuple[int, int]] = []
    offset = 0
    for hard in text.split("\n"):
        lines.extend(_wrap_hard_line(hard, offset, cells))
        offset += len(hard) + 1
    if not text.strip():
        return []
    return lines


def _pieces(text: str, offset: int) -> Iterator[tuple[bool, int, int, int]]:
    """Unbreakable pieces of one line: ``(is_space, start, end, width)``."""
    start = offset
    pos = offset
    width = 0
    kind: bool | None = None  # is the current piece whitespace?
    prev = ""
    prev_width = 0
    for unit in _clusters(text):
        unit_width = _unit_width(unit)
        space = unit.isspace()
        if kind is not None and (
            space != kind or (not space and _breakable(prev, prev_width, unit, unit_width))
        ):
            yield kind, start, pos, width
            start, width = pos, 0
        kind = space
        width += unit_width
        pos += len(unit)
        prev, prev_width = unit, unit_width
    if kind is not None:
        yield kind, start, pos, width


def _wrap_hard_line(text: str, offset: int, cells: int) -> list[tuple[int, int]]:
    lines: list[tuple[int, int]] = []
    line_start = line_end = offset
    used = 0  # cells taken by the current line
    has_word = False  # does the current line hold more than indentation?
    gap = 0  # whitespace between the current line and the next piece
    for space, start, end, width in _pieces(text, offset):
        if space:
            if not lines and not has_word:  # indentation of the paragraph
                line_end, used = end, used + width
            elif has_word:
                gap += width
            continue
        if used + gap + width <= cells:
            line_end, used = end, used + gap + width
            gap, has_word = 0, True
            continue
        if has_word:
            lines.append((line_start, line_end))
        line_start, used, gap, has_word = start, 0, 0, True
        if width <= cells:
            line_end, used = end, width
            continue
        # Wider than a line and no allowed break inside (a long URL): cut between clusters.
        pos = start
        for unit in _clusters(text[start - offset : end - offset]):
            unit_width = _unit_width(unit)
            if used and used + unit_width > cells:
                lines.append((line_start, pos))
                line_start, used = pos, 0
            pos += len(unit)
            used += unit_width
        line_end = pos
    if has_word or not lines:
        lines.append((line_start, line_end) if has_word else (offset, offset))
    return lines


def wrap(text: str, cells: int) -> list[str]:
    """``text`` wrapped to lines of at most ``cells`` cells.

    Breaks anywhere next to a CJK character, at whitespace, but not inside
    Latin words (unless a word is wider than a line), never before closing
    punctuation such as ``，。、；：？！」』）》`` and never after opening
    brackets (light kinsoku shori).  ``\\n`` forces a break; tabs count as
    spaces.  Empty text gives no lines.  Pass sanitized text.
    """
    text = text.replace("\t", " ")
    return [text[start:end] for start, end in _wrap_ranges(text, cells)]


# ---------------------------------------------------------------- highlighted text


def _clean_spans(
    text: str, spans: Iterable[Sequence[int]], table: dict[int, str]
) -> tuple[str, list[tuple[int, int]]]:
    """Sanitize ``text`` segment by segment and map ``spans`` into the result."""
    bounds: list[tuple[int, int]] = []
    for span in spans:
        try:
            start, end = int(span[0]), int(span[1])
        except (TypeError, ValueError, IndexError):
            continue
        start, end = max(start, 0), min(end, len(text))
        if start < end:
            bounds.append((start, end))
    bounds.sort()
    merged: list[tuple[int, int]] = []
    for start, end in bounds:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    parts: list[str] = []
    mapped: list[tuple[int, int]] = []
    length = 0
    pos = 0
    for start, end in merged:
        plain = text[pos:start].translate(table)
        marked = text[start:end].translate(table)
        parts += [plain, marked]
        length += len(plain)
        mapped.append((length, length + len(marked)))
        length += len(marked)
        pos = end
    parts.append(text[pos:].translate(table))
    return "".join(parts), mapped


def _paint(
    text: str, spans: list[tuple[int, int]], start: int, end: int, code: str, style: Style
) -> str:
    """``text[start:end]`` with the parts inside ``spans`` wrapped in ``code`` (colour only)."""
    if not style.color:
        return text[start:end]
    out: list[str] = []
    pos = start
    for span_start, span_end in spans:
        lo, hi = max(span_start, start), min(span_end, end)
        if lo >= hi:
            continue
        out.append(text[pos:lo])
        out.append(f"{code}{text[lo:hi]}{RESET}")
        pos = hi
    out.append(text[pos:end])
    return "".join(out)


# ---------------------------------------------------------------------------- hits


def render_search_summary(
    total: int,
    elapsed: float,
    shown_from: int,
    shown_to: int,
    err_stream: TextIO,
    style: Style,
) -> None:
    """The one-line search summary ("talk", for stderr): ``23 hits (0.04 s)``.

    ``shown_from``/``shown_to`` are the 1-based, inclusive positions of the
    hits printed; when they are not all of them the line says which:
    ``23 hits, showing 11–20 (0.04 s)``.
    """
    took = f"({elapsed:.2f} s)"
    if total <= 0:
        line = f"no hits {took}"
    else:
        noun = "hit" if total == 1 else "hits"
        if shown_to < shown_from:
            line = f"{total} {noun}, none shown from {shown_from} {took}"
        elif shown_from <= 1 and shown_to >= total:
            line = f"{total} {noun} {took}"
        else:
            line = f"{total} {noun}, showing {shown_from}–{shown_to} {took}"
    err_stream.write(_sgr(line, DIM, style) + "\n")


def _hit_header(hit: Hit, style: Style) -> str:
    id_ = pad(sanitize_line(hit.id[:ID_CELLS]), ID_CELLS)
    date = pad(sanitize_line(hit.published[:DATE_CELLS]), DATE_CELLS)
    outlet = _fit(sanitize_line(hit.source_name or hit.source), OUTLET_CELLS)
    suffix = ""
    if hit.aliases:
        suffix = f" (via alias: {sanitize_line('、'.join(hit.aliases))})"
    prefix_cells = ID_CELLS + DATE_CELLS + OUTLET_CELLS + 6
    room = max(style.width - prefix_cells - display_width(suffix), 10)
    title, spans = _clean_spans(hit.title, hit.title_highlights, _LINE_TABLE)
    if display_width(title) <= room:
        shown = _paint(title, spans, 0, len(title), BOLD, style)
    else:
        shown = _paint(title, spans, 0, _cut_index(title, room - 1), BOLD, style) + "…"
    return (
        f"{_sgr(id_, YELLOW, style)}  {_sgr(date, DIM, style)}  {outlet}  "
        f"{shown}{_sgr(suffix, DIM, style)}"
    ).rstrip(" ")


def _hit_snippet(hit: Hit, style: Style) -> list[str]:
    text, spans = _clean_spans(hit.snippet, hit.highlights, _SNIPPET_TABLE)
    cells = style.width - len(SNIPPET_INDENT)
    ranges = _wrap_ranges(text, cells)
    lines: list[str] = []
    for number, (start, end) in enumerate(ranges[:SNIPPET_LINES]):
        more = number == SNIPPET_LINES - 1 and len(ranges) > SNIPPET_LINES
        if more:
            end = start + _cut_index(text[start:end], cells - 1)
        line = _paint(text, spans, start, end, HIGHLIGHT, style) + ("…" if more else "")
        lines.append(SNIPPET_INDENT + line)
    return lines


def render_hits(
    hits: Iterable[Hit],
    out: TextIO,
    style: Style,
    *,
    total: int | None = None,
    elapsed: float | None = None,
    offset: int = 0,
    page_info: str = "",
) -> int:
    """Write search hits in the human format to ``out``; returns how many were written.

    Per hit: id, date, outlet (padded to a fixed display width so titles line
    up), title with the ``title_highlights`` in bold and ``(via alias: …)``
    when an alias matched; then up to two indented snippet lines with the
    ``highlights`` in bold red.  Without colour there are no markers at all.
    A blank line separates hits.  ``total``, ``elapsed``, ``offset`` and
    ``page_info`` are accepted for the caller's convenience but not printed:
    the summary is talk, see :func:`render_search_summary`.
    """
    count = 0
    for hit in hits:
        if count:
            out.write("\n")
        out.write(_hit_header(hit, style) + "\n")
        for line in _hit_snippet(hit, style):
            out.write(line + "\n")
        count += 1
    return count


# ---------------------------------------------------------------------------- JSON

_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _json_line(obj: Any) -> str:
    """One line of JSON, non-ASCII kept, safe to print and to encode as UTF-8.

    ``json`` escapes only C0 controls; DEL, C1 and bidi controls are escaped
    here too (same value, valid JSON) and lone surrogates become U+FFFD.
    """
    text = json.dumps(obj, ensure_ascii=False, default=str)
    text = _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return _SURROGATE.sub("\ufffd", text)


def render_hits_json(hits: Iterable[Hit], out: TextIO) -> int:
    """Write hits as JSON Lines (:meth:`Hit.to_dict`); returns how many were written."""
    count = 0
    for hit in hits:
        out.write(_json_line(hit.to_dict()) + "\n")
        count += 1
    return count


def render_article_json(article: Article, out: TextIO) -> None:
    """Write the article's JSON object (:meth:`Article.to_dict`) on one line."""
    out.write(_json_line(article.to_dict()) + "\n")


def render_records_jsonl(records: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    """Write records (article JSON dicts, as ``newsarc export``) as JSON Lines; returns the count."""
    count = 0
    for record in records:
        out.write(_json_line(dict(record)) + "\n")
        count += 1
    return count


def render_stats_json(stats: Mapping[str, Any], out: TextIO) -> None:
    """Write the stats dict as one JSON object on one line."""
    out.write(_json_line(dict(stats)) + "\n")


# ------------------------------------------------------------------------- article


def _format_time(iso: str, local_tz: tzinfo | None) -> str:
    """``2023-09-17 23:33 (UTC+08:00) · 2023-09-17 15:33 UTC`` from an ISO string.

    Local time is the recorded offset, or ``local_tz`` when given; a UTC time
    is shown once; an unparsable string is shown as is (sanitized).
    """
    if not iso:
        return "unknown"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return sanitize_line(iso)
    if moment.tzinfo is None:
        return f"{moment:%Y-%m-%d %H:%M}"
    utc = moment.astimezone(UTC)
    local = moment if local_tz is None else moment.astimezone(local_tz)
    shift = local.utcoffset()
    if not shift:
        return f"{utc:%Y-%m-%d %H:%M} UTC"
    minutes = int(shift.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{local:%Y-%m-%d %H:%M} (UTC{sign}{hours:02d}:{minutes:02d}) · {utc:%Y-%m-%d %H:%M} UTC"


def render_article(
    article: Article, out: TextIO, style: Style, *, local_tz: tzinfo | None = None
) -> None:
    """Write an article in the human format (``newsarc show``).

    The title (bold), a blank line, a metadata block (Outlet, Published,
    Archived, URL, Authors, ID; labels padded to one width), a blank line,
    the paragraphs of ``article.text`` wrapped to ``min(style.width, 100)``
    cells with blank lines between them, and a ``Captions`` section when
    there are captions.  Times are shown in the recorded offset (or
    ``local_tz``) and in UTC.  Everything is sanitized.
    """
    cells = min(style.width, ARTICLE_MAX_CELLS)
    lines: list[str] = []
    for line in wrap(sanitize_line(article.title), cells) or [""]:
        lines.append(_sgr(line, BOLD, style))
    lines.append("")

    name, key = sanitize_line(article.source_name), sanitize_line(article.source)
    outlet = f"{name} ({key})" if name and key and name != key else name or key
    meta = [
        ("Outlet", outlet),
        ("Published", _format_time(article.published, local_tz)),
        ("Archived", _format_time(article.archived, local_tz)),
        ("URL", sanitize_line(article.url)),
    ]
    if article.authors:
        meta.append(("Authors", sanitize_line("、".join(article.authors))))
    meta.append(("ID", sanitize_line(article.id)))
    label_cells = max(display_width(label) for label, _ in meta) + 2
    for label, value in meta:
        lines.append(f"{_sgr(pad(label, label_cells), DIM, style)}{value}".rstrip(" "))

    for paragraph in article.text.split("\n"):
        paragraph = sanitize(paragraph).strip()
        if paragraph:
            lines.append("")
            lines.extend(wrap(paragraph, cells))

    captions = [sanitize_line(c).strip() for c in article.captions]
    captions = [c for c in captions if c]
    if captions:
        lines += ["", _sgr("Captions", BOLD, style)]
        for caption in captions:
            for number, line in enumerate(wrap(caption, cells - 2)):
                lines.append(("· " if number == 0 else "  ") + line)
    out.write("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- stats


def _human_size(size: int) -> str:
    """``512 B``, ``1.5 KiB``, ``412.3 MiB`` …"""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


def _table(
    header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool], style: Style
) -> list[str]:
    """Columns aligned by display width, two spaces apart, no trailing blanks."""
    widths = [
        max(display_width(cell) for cell in column) for column in zip(header, *rows, strict=True)
    ]
    lines = []
    for number, row in enumerate([header, *rows]):
        cells = [pad(cell, w, right=r) for cell, w, r in zip(row, widths, right, strict=True)]
        line = "  ".join(cells).rstrip(" ")
        lines.append(_sgr(line, BOLD, style) if number == 0 else line)
    return lines


def render_stats(stats: Mapping[str, Any], out: TextIO, style: Style) -> None:
    """Write archive statistics: a summary block, then a table of outlets by count.

    Optional ``years`` (year → count) and ``authors`` ([name, count] …) add
    further tables.  Columns are aligned by display width; counts are
    right-aligned with thousands separators; the size is in KiB/MiB/….
    """
    sources: Mapping[str, int] = stats.get("sources") or {}
    names: Mapping[str, str] = stats.get("source_names") or {}
    first = stats.get("first_published")
    last = stats.get("last_published")
    summary = [
        ("Articles", f"{int(stats.get('articles', 0)):,}"),
        ("Outlets", f"{len(sources):,}"),
    ]
    if first or last:
        period = f"{sanitize_line(str(first or '?'))[:10]} – {sanitize_line(str(last or '?'))[:10]}"
        summary.append(("Published", period))
    summary.append(("Size", _human_size(int(stats.get("size_bytes", 0)))))
    label_cells = max(display_width(label) for label, _ in summary) + 2
    lines = [f"{pad(label, label_cells)}{value}" for label, value in summary]

    if sources:
        ranked = sorted(sources.items(), key=lambda item: (-item[1], item[0]))
        rows = [
            (
                truncate(sanitize_line(str(key)), 30),
                truncate(sanitize_line(str(names.get(key, ""))), 30),
                f"{count:,}",
            )
            for key, count in ranked
        ]
        lines += ["", *_table(("Key", "Outlet", "Articles"), rows, (False, False, True), style)]

    years: Mapping[Any, int] = stats.get("years") or {}
    if years:
        rows = [(sanitize_line(str(year)), f"{count:,}") for year, count in sorted(years.items())]
        lines += ["", *_table(("Year", "Articles"), rows, (False, True), style)]

    authors = stats.get("authors") or []
    if authors:
        rows = [(truncate(sanitize_line(str(name)), 30), f"{count:,}") for name, count in authors]
        lines += ["", *_table(("Author", "Articles"), rows, (False, True), style)]
    out.write("\n".join(lines) + "\n")


# -------------------------------------------------------------------- small bits


def render_ingest_summary(summary: Mapping[str, Any], err_stream: TextIO, style: Style) -> None:
    """The one-line ingest summary ("talk", for stderr).

    ``ingested 3623 files: 3600 added, 12 updated, 5 unchanged, 6 rejected
    (412.3 articles/s, 8.8 s)``; ``N older`` appears only when non-zero and
    the rate only when time was measured.
    """
    files = int(summary.get("files", 0))
    parts = [
        f"{int(summary.get('added', 0))} added",
        f"{int(summary.get('updated', 0))} updated",
        f"{int(summary.get('unchanged', 0))} unchanged",
    ]
    if summary.get("older"):
        parts.append(f"{int(summary['older'])} older")
    parts.append(f"{int(summary.get('rejected', 0))} rejected")
    if summary.get("failed"):
        parts.append(f"{int(summary['failed'])} failed")
    seconds = float(summary.get("seconds", 0.0))
    timing = f"{seconds:.1f} s"
    if seconds > 0:
        timing = f"{files / seconds:.1f} articles/s, {timing}"
    noun = "file" if files == 1 else "files"
    err_stream.write(f"ingested {files} {noun}: {', '.join(parts)} ({timing})\n")


def render_candidates(
    ids_and_titles: Iterable[tuple[str, str, str]], out: TextIO, style: Style
) -> None:
    """Lines ``id  date  title`` for the articles an ambiguous id prefix matches."""
    for id_, date, title in ids_and_titles:
        head = f"{sanitize_line(id_)}  {pad(sanitize_line(date[:DATE_CELLS]), DATE_CELLS)}  "
        room = max(style.width - display_width(head), 10)
        id_part, rest = head.split("  ", 1)
        line = f"{_sgr(id_part, YELLOW, style)}  {rest}{truncate(sanitize_line(title), room)}"
        out.write(line.rstrip(" ") + "\n")


def render_timeline(rows: Sequence[tuple[str, int]], out: TextIO, style: Style) -> None:
    """A bar chart: period label, count right-aligned, a bar of ``█`` scaled so the
    largest count fills the rest of the line."""
    if not rows:
        return
    labels = [sanitize_line(str(label)) for label, _ in rows]
    counts = [f"{count:,}" for _, count in rows]
    label_cells = max(display_width(label) for label in labels)
    count_cells = max(len(count) for count in counts)
    bar_cells = max(style.width - label_cells - count_cells - 4, 10)
    top = max((count for _, count in rows), default=0) or 1
    for label, text, (_, count) in zip(labels, counts, rows, strict=True):
        bar = "█" * max(round(count / top * bar_cells), 1 if count > 0 else 0)
        line = f"{pad(label, label_cells)}  {text:>{count_cells}}  {bar}"
        out.write(line.rstrip(" ") + "\n")


def render_keywords(rows: Sequence[tuple[str, float]], out: TextIO, style: Style) -> None:
    """Keyword lines: term padded by display width, weight with three decimals."""
    if not rows:
        return
    terms = [truncate(sanitize_line(str(term)), 30) for term, _ in rows]
    weights = [f"{weight:.3f}" for _, weight in rows]
    term_cells = max(display_width(term) for term in terms)
    weight_cells = max(len(weight) for weight in weights)
    for term, weight in zip(terms, weights, strict=True):
        out.write(f"{pad(term, term_cells)}  {weight:>{weight_cells}}\n")


# ---------------------------------------------------------------------------- pager


def _pager_command() -> list[str] | None:
    import shlex  # the pager's modules load only when a pager may run

    for name in ("NEWSARC_PAGER", "PAGER"):
        if name in os.environ:
            value = os.environ[name].strip()
            if not value:
                return None
            try:
                return shlex.split(value) or None
            except ValueError:
                return None
    if shutil.which("less"):
        return ["less", "-R", "-F", "-X"]
    return None


def page(text: str, out: TextIO, style: Style) -> None:
    """Show ``text`` through a pager when ``out`` is a terminal, else write it.

    The pager is ``$NEWSARC_PAGER``, else ``$PAGER``, else ``less -R -F -X``
    when installed; an empty variable means no pager.  A missing pager falls
    back to writing directly; a pager quit early (broken pipe) is not an error.
    """
    command = _pager_command() if _isatty(out) else None
    if command is not None:
        import subprocess

        try:
            out.flush()
            fileno = out.fileno()
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=fileno,
                encoding="utf-8",
                errors="replace",
            )
        except (OSError, ValueError, AttributeError):
            pass  # no such pager, or no real file descriptor: write directly
        else:
            try:
                assert process.stdin is not None
                process.stdin.write(text)
                process.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                process.wait()
            except KeyboardInterrupt:  # the pager handles ^C itself; let it finish
                process.wait()
            return
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:
        pass
