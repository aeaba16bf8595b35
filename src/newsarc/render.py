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

from newsarc.records import Article, ArticleMarks, Change, EditOp, Facets, Hit, KwicLine, Version


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
    "render_changes",
    "render_changes_json",
    "render_diff",
    "render_edit_ops_json",
    "render_history",
    "render_history_json",
    "render_csv",
    "render_facets",
    "render_facets_json",
    "render_hits",
    "render_hits_json",
    "render_ingest_summary",
    "render_json",
    "render_json_lines",
    "render_keywords",
    "render_keywords_json",
    "render_kwic",
    "render_kwic_summary",
    "render_no_hits",
    "render_records_jsonl",
    "render_search_summary",
    "render_stats",
    "render_stats_json",
    "render_timeline",
    "render_timeline_json",
    "render_timeline_split",
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

#: Below this a line of a search hit no longer holds id, date, outlet and title:
#: the title moves to a line of its own.
ONE_LINE_HIT_CELLS = ID_CELLS + DATE_CELLS + OUTLET_CELLS + 6 + 12

MIN_WIDTH = 10
MAX_WIDTH = 200


@dataclass(slots=True, frozen=True)
class Style:
    """How to render: with ANSI colours or not, the line width in cells, and whether to fit it.

    With ``fit`` off (output into a pipe or a file) nothing is cut or wrapped
    to ``width``: titles are whole, snippets and paragraphs one line each.
    """

    color: bool = False
    width: int = 80
    fit: bool = True


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
    clamped to 10..200; on a terminal every renderer keeps its lines within it,
    into a pipe or a file nothing is cut (``Style.fit``).
    """
    if force_color is None:
        color = (
            _isatty(stream) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        )
    else:
        color = bool(force_color)
    columns = shutil.get_terminal_size((80, 24)).columns
    return Style(color=color, width=min(max(columns, MIN_WIDTH), MAX_WIDTH), fit=_isatty(stream))


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


def _join_fit(parts: Sequence[tuple[str, str]], cells: int, style: Style) -> str:
    """Sanitized ``(text, SGR code)`` parts joined by two spaces, cut to ``cells`` cells.

    The part that overflows is truncated (ending in ``…``) and the rest dropped;
    each part is coloured on its own, so a cut never splits an escape sequence.
    """
    out: list[str] = []
    used = 0
    for text, code in parts:
        sep = 2 if out else 0
        room = cells - used - sep
        if room <= 0:
            break
        shown = truncate(text, room)
        out.append(" " * sep + _sgr(shown, code, style) if code else " " * sep + shown)
        used += sep + display_width(shown)
        if shown != text:
            break
    return "".join(out).rstrip(" ")


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
    for part in wrap(line, style.width):
        err_stream.write(_sgr(part, DIM, style) + "\n")


def render_no_hits(err_stream: TextIO, style: Style) -> None:
    """``no hits`` ("talk", for stderr): what a command that found nothing says."""
    err_stream.write(_sgr("no hits", DIM, style) + "\n")


def _hit_title(hit: Hit, cells: int, style: Style) -> str:
    """The title with its highlights in bold and the ``(via alias: …)`` note, in ``cells`` cells.

    The title keeps at least 8 cells (or all of them) before the note is cut;
    with ``style.fit`` off (a pipe) neither is cut.
    """
    suffix = ""
    if hit.aliases:
        suffix = f" (via alias: {sanitize_line('、'.join(hit.aliases))})"
    if hit.version_count > 1:
        numbers = ", ".join(str(n) for n in hit.versions)
        noun = "version" if len(hit.versions) == 1 else "versions"
        suffix += f" ({noun} {numbers} of {hit.version_count})"
    title, spans = _clean_spans(hit.title, hit.title_highlights, _LINE_TABLE)
    room = max(cells - display_width(suffix), min(cells, 8))
    if not style.fit or display_width(title) <= room:
        shown = _paint(title, spans, 0, len(title), BOLD, style)
        used = display_width(title)
    else:
        cut = _cut_index(title, room - 1)
        shown = _paint(title, spans, 0, cut, BOLD, style) + "…"
        used = display_width(title[:cut]) + 1
    if style.fit:
        suffix = truncate(suffix, cells - used)
    return shown + _sgr(suffix, DIM, style)


def _hit_header(hit: Hit, style: Style) -> list[str]:
    """The hit's first line: id, date, outlet (fixed columns) and title; on a
    terminal narrower than :data:`ONE_LINE_HIT_CELLS`, id, date and outlet on one
    line (cut to the width) and the title on the next."""
    id_ = sanitize_line(hit.id[:ID_CELLS])
    date = sanitize_line(hit.published[:DATE_CELLS])
    outlet = sanitize_line(hit.source_name or hit.source)
    if style.width < ONE_LINE_HIT_CELLS:
        head = _join_fit([(id_, YELLOW), (date, DIM), (outlet, "")], style.width, style)
        return [head, _hit_title(hit, style.width, style).rstrip(" ")]
    prefix_cells = ID_CELLS + DATE_CELLS + OUTLET_CELLS + 6
    line = (
        f"{_sgr(pad(id_, ID_CELLS), YELLOW, style)}  {_sgr(pad(date, DATE_CELLS), DIM, style)}  "
        f"{_fit(outlet, OUTLET_CELLS)}  {_hit_title(hit, style.width - prefix_cells, style)}"
    )
    return [line.rstrip(" ")]


def _hit_snippet(hit: Hit, style: Style) -> list[str]:
    text, spans = _clean_spans(hit.snippet, hit.highlights, _SNIPPET_TABLE)
    if not style.fit:
        return [SNIPPET_INDENT + _paint(text, spans, 0, len(text), HIGHLIGHT, style)] if text else []
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


def render_hits(hits: Iterable[Hit], out: TextIO, style: Style) -> int:
    """Write search hits in the human format to ``out``; returns how many were written.

    Per hit: id, date, outlet (padded to a fixed display width so titles line
    up), title with the ``title_highlights`` in bold and ``(via alias: …)``
    when an alias matched; then up to two indented snippet lines with the
    ``highlights`` in bold red.  Without colour there are no markers at all.
    A blank line separates hits.  The count and time are talk, written by
    :func:`render_search_summary`.
    """
    count = 0
    for hit in hits:
        if count:
            out.write("\n")
        for line in _hit_header(hit, style):
            out.write(line + "\n")
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


def render_timeline_json(rows: Iterable[tuple[str, int]], out: TextIO) -> None:
    """Write timeline rows as JSON Lines: ``{"period": "2023-09", "count": 12}``."""
    for period, count in rows:
        out.write(_json_line({"period": period, "count": count}) + "\n")


def render_keywords_json(rows: Iterable[tuple[str, float]], out: TextIO) -> None:
    """Write keywords as JSON Lines: ``{"term": "普京", "weight": 1.0}`` (4 decimals)."""
    for term, weight in rows:
        out.write(_json_line({"term": term, "weight": round(weight, 4)}) + "\n")


def render_json(obj: Any, out: TextIO, *, indent: int | None = None) -> None:
    """Write any JSON value: one line, or indented by ``indent`` (for a file a person reads)."""
    if indent is None:
        out.write(_json_line(obj) + "\n")
    else:
        out.write(json.dumps(obj, ensure_ascii=False, indent=indent) + "\n")


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


def _marked_lines(
    raw: str, spans: Sequence[tuple[int, int]], table: dict[int, str], cells: int, style: Style
) -> tuple[list[str], list[bool]]:
    """``raw`` stripped, sanitized with ``table`` and wrapped to ``cells``, the ``spans`` highlighted.

    Returns the lines and, for each, whether it holds (part of) a span.
    """
    lead = len(raw) - len(raw.lstrip())
    stripped = raw.strip()
    shifted = [(a - lead, b - lead) for a, b in spans]
    text, mapped = _clean_spans(stripped, shifted, table)
    text = text.replace("\t", " ")
    lines: list[str] = []
    marked: list[bool] = []
    for start, end in _wrap_ranges(text, cells):
        lines.append(_paint(text, mapped, start, end, HIGHLIGHT, style))
        marked.append(any(a < end and b > start for a, b in mapped))
    return lines, marked


def render_article(
    article: Article,
    out: TextIO,
    style: Style,
    *,
    local_tz: tzinfo | None = None,
    marks: ArticleMarks | None = None,
) -> int | None:
    """Write an article in the human format (``newsarc show``).

    The title (bold), a blank line, a metadata block (Outlet, Published,
    Archived, URL, Authors, ID; labels padded to one width, values wrapped
    beside them), a blank line,
    the paragraphs of ``article.text`` wrapped to ``min(style.width, 100)``
    cells (one line each when ``style.fit`` is off) with blank lines between
    them, and a ``Captions`` section when there are captions.  Times are shown
    in the recorded offset (or ``local_tz``) and in UTC.  Everything is
    sanitized.  ``marks`` (``show --query``) are highlighted in bold red when
    colour is on.  Returns the number (from 1) of the first line holding a
    mark, or None.
    """
    cells = min(style.width, ARTICLE_MAX_CELLS) if style.fit else 1 << 30
    marks = marks or ArticleMarks()
    lines: list[str] = []
    first: int | None = None

    def add(new: list[str], marked: list[bool]) -> None:
        nonlocal first
        if first is None and any(marked):
            first = len(lines) + marked.index(True) + 1
        lines.extend(new)

    title, marked = _marked_lines(article.title, marks.title, _LINE_TABLE, cells, style)
    if style.color:
        title = [_sgr(line.replace(RESET, RESET + BOLD), BOLD, style) for line in title]
    add(title or [""], marked or [False])
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
        lines += _labelled(label, value, label_cells, cells, style, DIM)

    for number, paragraph in enumerate(article.text.split("\n")):
        spans = marks.text[number] if number < len(marks.text) else []
        wrapped, marked = _marked_lines(paragraph, spans, _TEXT_TABLE, cells, style)
        if wrapped:
            lines.append("")
            add(wrapped, marked)

    heading = False
    for number, caption in enumerate(article.captions):
        spans = marks.captions[number] if number < len(marks.captions) else []
        wrapped, marked = _marked_lines(caption, spans, _LINE_TABLE, cells - 2, style)
        if not wrapped:
            continue
        if not heading:
            lines += ["", _sgr("Captions", BOLD, style)]
            heading = True
        add([("· " if n == 0 else "  ") + line for n, line in enumerate(wrapped)], marked)
    out.write("\n".join(lines) + "\n")
    return first


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


def _labelled(
    label: str, value: str, label_cells: int, cells: int, style: Style, code: str = ""
) -> list[str]:
    """``label`` (in ``code``'s colour) padded to ``label_cells``, then ``value``
    wrapped within ``cells`` cells, its further lines indented under the first
    (or, when less than 8 cells are left beside the label, on lines of their own)."""
    room = cells - label_cells
    if room >= 8:
        lines = wrap(value, room) or [""]
        first = (_sgr(pad(label, label_cells), code, style) + lines[0]).rstrip(" ")
        return [first, *(" " * label_cells + line for line in lines[1:])]
    return [_sgr(truncate(label, cells), code, style), *wrap(value, cells)]


def _table(
    header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool], style: Style
) -> list[str]:
    """Columns aligned by display width, two spaces apart, no trailing blanks.

    On a terminal (``style.fit``) and wider than ``style.width``, the widest
    left-aligned (text) columns give up cells first, down to 4 each, their cells
    cut with ``…``; then lines are cut.  Into a pipe nothing is cut.
    """
    widths = [
        max(display_width(cell) for cell in column) for column in zip(header, *rows, strict=True)
    ]
    excess = sum(widths) + 2 * (len(widths) - 1) - style.width if style.fit else 0
    while excess > 0:
        shrinkable = [i for i, r in enumerate(right) if not r and widths[i] > 4]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    lines = []
    for number, row in enumerate([header, *rows]):
        cells = [
            pad(truncate(cell, w), w, right=r) for cell, w, r in zip(row, widths, right, strict=True)
        ]
        line = "  ".join(cells).rstrip(" ")
        if style.fit:
            line = truncate(line, style.width)
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
    lines = []
    for label, value in summary:
        lines += _labelled(label, value, label_cells, style.width, style)

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


#: Fewer articles written than this and the ingest summary shows no rate.
RATE_MIN_ARTICLES = 100


def render_ingest_summary(summary: Mapping[str, Any], err_stream: TextIO) -> None:
    """The one-line ingest summary ("talk", for stderr).

    ``ingested 3623 files: 3600 added, 12 updated, 5 unchanged, 6 rejected
    (412.3 articles/s, 8.8 s)``; ``N older`` (files holding an older version
    than the archive's newest, with how many were new versions) appears only
    when non-zero, ``from N commits`` after the files when a git mirror was
    read.  The rate counts the articles written (added and updated) and
    appears only when at least 100 were written in a measured time: for a
    handful it says nothing.
    """
    files = int(summary.get("files", 0))
    parts = [
        f"{int(summary.get('added', 0))} added",
        f"{int(summary.get('updated', 0))} updated",
        f"{int(summary.get('unchanged', 0))} unchanged",
    ]
    if summary.get("older"):
        older = f"{int(summary['older'])} older"
        if summary.get("versions"):
            older += f" ({int(summary['versions'])} new older versions kept)"
        parts.append(older)
    parts.append(f"{int(summary.get('rejected', 0))} rejected")
    if summary.get("failed"):
        parts.append(f"{int(summary['failed'])} failed")
    seconds = float(summary.get("seconds", 0.0))
    timing = f"{seconds:.1f} s"
    written = int(summary.get("added", 0)) + int(summary.get("updated", 0))
    if seconds > 0 and written >= RATE_MIN_ARTICLES:
        timing = f"{written / seconds:.1f} articles/s, {timing}"
    noun = "file" if files == 1 else "files"
    commits = int(summary.get("commits", 0))
    if commits:
        noun += f" from {commits} commit" + ("" if commits == 1 else "s")
    err_stream.write(f"ingested {files} {noun}: {', '.join(parts)} ({timing})\n")


def render_candidates(
    ids_and_titles: Iterable[tuple[str, str, str]], out: TextIO, style: Style
) -> None:
    """Lines ``id  date  title`` for the articles an ambiguous id prefix matches, cut to the width."""
    for id_, date, title in ids_and_titles:
        parts = [
            (sanitize_line(id_), YELLOW),
            (pad(sanitize_line(date[:DATE_CELLS]), DATE_CELLS), ""),
            (sanitize_line(title), ""),
        ]
        out.write(_join_fit(parts, style.width, style) + "\n")


def render_timeline(rows: Sequence[tuple[str, int]], out: TextIO, style: Style) -> None:
    """A bar chart: period label, count right-aligned, a bar of ``█`` scaled so the
    largest count fills the rest of the line (a count above 0 gets at least one
    cell).  Lines never exceed the width: on a very narrow terminal they are cut."""
    if not rows:
        return
    labels = [sanitize_line(str(label)) for label, _ in rows]
    counts = [f"{count:,}" for _, count in rows]
    label_cells = max(display_width(label) for label in labels)
    count_cells = max(len(count) for count in counts)
    bar_cells = max(style.width - label_cells - count_cells - 4, 1)
    top = max((count for _, count in rows), default=0) or 1
    for label, text, (_, count) in zip(labels, counts, rows, strict=True):
        bar = "█" * max(round(count / top * bar_cells), 1 if count > 0 else 0)
        line = f"{pad(label, label_cells)}  {text:>{count_cells}}  {bar}"
        out.write(truncate(line.rstrip(" "), style.width) + "\n")


def render_keywords(rows: Sequence[tuple[str, float]], out: TextIO, style: Style) -> None:
    """Keyword lines: term padded by display width (at most 30 cells, less on a
    narrow terminal), weight with three decimals."""
    if not rows:
        return
    weights = [f"{weight:.3f}" for _, weight in rows]
    weight_cells = max(len(weight) for weight in weights)
    term_room = max(min(30, style.width - weight_cells - 2), 1)
    terms = [truncate(sanitize_line(str(term)), term_room) for term, _ in rows]
    term_cells = max(display_width(term) for term in terms)
    for term, weight in zip(terms, weights, strict=True):
        out.write(truncate(f"{pad(term, term_cells)}  {weight:>{weight_cells}}", style.width) + "\n")


# ------------------------------------------------------------------------ versions

#: Deleted and inserted spans of an inline diff (red struck through, green underlined).
DELETED = "\x1b[31;9m"
INSERTED = "\x1b[32;4m"
RED = "\x1b[31m"
GREEN = "\x1b[32m"
#: What an inline diff shows in place of unchanged paragraphs it leaves out.
ELISION = "⋯"


def _when(iso: str) -> str:
    """``2020-07-27 20:05 UTC`` from an ISO UTC time."""
    try:
        moment = datetime.fromisoformat(iso).astimezone(UTC)
    except ValueError:
        return sanitize_line(iso)
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def render_history(versions: Sequence[Version], out: TextIO, style: Style) -> None:
    """Per version, oldest first (the last is the current one): number, archive time (first
    seen), text length in characters and headline; then, indented, what changed from the
    previous version."""
    if not versions:
        return
    number_cells = len(str(len(versions)))
    lengths = [f"{v.text_length:,} chars" for v in versions]
    length_cells = max(len(text) for text in lengths)
    for version, length in zip(versions, lengths, strict=True):
        head = f"{version.number:>{number_cells}}  {_sgr(_when(version.archived), DIM, style)}  {length:>{length_cells}}  "
        room = max(style.width - display_width(_strip_sgr(head)), 10)
        out.write(head + _sgr(_fit(sanitize_line(version.title), room), BOLD, style).rstrip(" ") + "\n")
        indent = " " * (number_cells + 2)
        for line in wrap(sanitize_line(version.summary), style.width - len(indent)):
            out.write(indent + line + "\n")


def render_history_json(versions: Iterable[Version], out: TextIO) -> None:
    """One JSON object per version (:meth:`Version.to_dict`)."""
    for version in versions:
        out.write(_json_line(version.to_dict()) + "\n")


_SGR_RE = re.compile("\x1b\\[[0-9;]*m")


def _strip_sgr(text: str) -> str:
    return _SGR_RE.sub("", text)


def _diff_header(article_id: str, old: Version, new: Version, style: Style) -> list[str]:
    return [
        _sgr(f"--- {sanitize_line(article_id)} version {old.number} ({_when(old.archived)})", RED, style),
        _sgr(f"+++ {sanitize_line(article_id)} version {new.number} ({_when(new.archived)})", GREEN, style),
    ]


def render_diff(old: Version, new: Version, ops: Sequence[EditOp], out: TextIO, style: Style) -> None:
    """The difference between two versions: coloured inline spans with colour, else unified.

    With colour (a terminal), each field that changed is shown once with its
    deleted spans struck through in red and inserted spans underlined in
    green; unchanged paragraphs are left out (``⋯``).  Without colour, the
    unified form of ``diff -u`` over headline and paragraphs.  Every piece of
    archived text is sanitized.
    """
    if style.color:
        _render_inline(old, new, ops, out, style)
    else:
        _render_unified(old, new, ops, out)


def _field_ops(ops: Sequence[EditOp]) -> dict[str, list[EditOp]]:
    fields: dict[str, list[EditOp]] = {}
    for op in ops:
        fields.setdefault(op.field, []).append(op)
    return fields


def _render_inline(old: Version, new: Version, ops: Sequence[EditOp], out: TextIO, style: Style) -> None:
    lines = _diff_header(old.id, old, new, style)
    for name, field_ops in _field_ops(ops).items():
        lines.append(_sgr(f"@@ {name} @@", DIM, style))
        rows: list[list[EditOp]] = [[]]
        for op in field_ops:
            pieces = op.text.split("\n")
            for number, piece in enumerate(pieces):
                if number:
                    rows.append([])
                    if op.op != "equal":  # a paragraph break added or removed
                        rows[-1].append(EditOp(op.field, op.op, "¶"))
                if piece:
                    rows[-1].append(EditOp(op.field, op.op, piece))
        elided = False
        for row in rows:
            if all(part.op == "equal" for part in row):
                if not elided:
                    lines.append(_sgr(ELISION, DIM, style))
                elided = True
                continue
            elided = False
            code = {"delete": DELETED, "insert": INSERTED}
            lines.append("".join(
                _sgr(sanitize_line(part.text), code[part.op], style) if part.op in code
                else sanitize_line(part.text)
                for part in row
            ))
    out.write("\n".join(lines) + "\n")


def _spell(ops: Sequence[EditOp], side: str) -> list[str]:
    text = "".join(op.text for op in ops if op.op in ("equal", side))
    return text.split("\n") if text else []


def _render_unified(old: Version, new: Version, ops: Sequence[EditOp], out: TextIO) -> None:
    import difflib  # only the unified form needs it

    lines = _diff_header(old.id, old, new, Style())
    for name, field_ops in _field_ops(ops).items():
        before, after = _spell(field_ops, "delete"), _spell(field_ops, "insert")
        hunks = list(difflib.unified_diff(before, after, lineterm="", n=1))[2:]
        for line in hunks:
            if line.startswith("@@"):
                line = f"{line} {name}"
            lines.append(sanitize_line(line))
    out.write("\n".join(lines) + "\n")


def render_edit_ops_json(ops: Iterable[EditOp], out: TextIO) -> None:
    """One JSON object per edit operation (:meth:`EditOp.to_dict`)."""
    for op in ops:
        out.write(_json_line(op.to_dict()) + "\n")


def render_changes(changes: Sequence[Change], out: TextIO, style: Style) -> None:
    """Per changed article: id, archive date of the change, outlet and headline; the old
    headline when it changed; and the change summary with its versions and magnitude."""
    for change in changes:
        id_ = pad(sanitize_line(change.id[:ID_CELLS]), ID_CELLS)
        date = pad(sanitize_line(change.archived[:DATE_CELLS]), DATE_CELLS)
        outlet = _fit(sanitize_line(change.source_name or change.source), OUTLET_CELLS)
        prefix_cells = ID_CELLS + DATE_CELLS + OUTLET_CELLS + 6
        title = _fit(sanitize_line(change.title), max(style.width - prefix_cells, 10))
        out.write(
            f"{_sgr(id_, YELLOW, style)}  {_sgr(date, DIM, style)}  {outlet}  {_sgr(title, BOLD, style)}".rstrip(" ")
            + "\n"
        )
        cells = style.width - len(SNIPPET_INDENT)
        if change.headline_changed:
            was = _fit("was: " + sanitize_line(change.old_title), cells)
            out.write(SNIPPET_INDENT + _sgr(was, DIM, style).rstrip(" ") + "\n")
        detail = (
            f"versions {change.from_version}→{change.to_version} of {change.versions}, "
            f"magnitude {change.magnitude:g}: {change.summary}"
        )
        for line in wrap(sanitize_line(detail), cells):
            out.write(SNIPPET_INDENT + line + "\n")


def render_changes_json(changes: Iterable[Change], out: TextIO) -> None:
    """One JSON object per changed article (:meth:`Change.to_dict`)."""
    for change in changes:
        out.write(_json_line(change.to_dict()) + "\n")


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


def page(text: str, out: TextIO, *, line: int | None = None) -> None:
    """Show ``text`` through a pager when ``out`` is a terminal, else write it.

    The pager is ``$NEWSARC_PAGER``, else ``$PAGER``, else ``less -R -F -X``
    when installed; an empty variable means no pager.  ``line`` (from 1) is
    where the pager should open: ``less`` is told ``-j3 +LINEg`` (that line
    third on the screen); other pagers open at the top.  A missing pager falls
    back to writing directly; a pager quit early (broken pipe) is not an error.
    """
    command = _pager_command() if _isatty(out) else None
    if command and line is not None and line > 1 and os.path.basename(command[0]) == "less":
        command = [*command, "-j3", f"+{line}g"]
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


# ----------------------------------------------------------------------- research

#: Largest cell width of the outlet column of concordance lines.
KWIC_OUTLET_CELLS = 10


def _cut_left(s: str, cells: int) -> str:
    """The end of ``s`` at most ``cells`` cells wide, starting with ``…`` when anything was cut."""
    if display_width(s) <= cells:
        return s
    if cells <= 0:
        return ""
    kept: list[str] = []
    used = 0
    for unit in reversed(list(_clusters(s))):
        used += _unit_width(unit)
        if used > cells - 1:
            break
        kept.append(unit)
    return "…" + "".join(reversed(kept))


def render_kwic(lines: Sequence[KwicLine], out: TextIO, style: Style) -> int:
    """Concordance lines: id, date, outlet, left context, the match, right context.

    The left contexts are right-aligned so that every match starts in the same
    column (by display width).  On a terminal (``style.fit``) each line is
    fitted to the width: both contexts are cut to the room left, the left one
    from its start; into a pipe nothing is cut.  Matches are bold red when
    colour is on.  Returns how many lines were written.
    """
    if not lines:
        return 0
    rows = []
    for line in lines:
        rows.append(
            (
                sanitize_line(line.id),
                sanitize_line(line.published[:DATE_CELLS]),
                sanitize_line(line.source),
                line.left.translate(_SNIPPET_TABLE),
                line.match.translate(_SNIPPET_TABLE),
                line.right.translate(_SNIPPET_TABLE),
            )
        )
    outlet_cells = min(max(display_width(r[2]) for r in rows), KWIC_OUTLET_CELLS)
    match_cells = max(display_width(r[4]) for r in rows)
    left_cells = max(display_width(r[3]) for r in rows)
    right_cells = max(display_width(r[5]) for r in rows)
    if style.fit:
        prefix = ID_CELLS + DATE_CELLS + outlet_cells + 6
        room = max(style.width - prefix - match_cells - 4, 8)
        left_cells = min(left_cells, room // 2)
        right_cells = room - left_cells
    for id_, day, source, left, match, right in rows:
        if style.fit:
            left, right = _cut_left(left, left_cells), truncate(right, right_cells)
        text = (
            f"{_sgr(pad(id_, ID_CELLS), YELLOW, style)}  {_sgr(pad(day, DATE_CELLS), DIM, style)}  "
            f"{_fit(source, outlet_cells)}  {pad(left, left_cells, right=True)}  "
            f"{_sgr(match, HIGHLIGHT, style)}  {right}"
        )
        out.write(text.rstrip(" ") + "\n")
    return len(rows)


def _csv_cell(value: Any) -> str:
    """A record value as a CSV cell: lists joined by ``; ``, control characters escaped."""
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value)
    return sanitize("" if value is None else str(value))


def render_csv(rows: Iterable[Mapping[str, Any]], fields: Sequence[str], out: TextIO, *, bom: bool = False) -> int:
    """Write ``rows`` as RFC 4180 CSV (``csv`` module, CRLF line ends) with a header of ``fields``.

    One row per mapping, its ``fields`` in order; list values (authors,
    captions …) joined by ``; ``; control characters and bidi overrides
    escaped as in :func:`sanitize`.  ``bom`` writes a UTF-8 byte-order mark
    first, for spreadsheet programs that need one.  Returns the number of rows.
    """
    import csv

    writer = csv.writer(out, lineterminator="\r\n")
    if bom:
        out.write("\ufeff")
    writer.writerow(fields)
    count = 0
    for row in rows:
        writer.writerow([_csv_cell(row.get(name)) for name in fields])
        count += 1
    return count


def render_json_lines(rows: Iterable[Mapping[str, Any]], out: TextIO, fields: Sequence[str] | None = None) -> int:
    """Write mappings as JSON Lines (only ``fields``, in that order, when given); returns the count."""
    count = 0
    for row in rows:
        obj = dict(row) if fields is None else {name: row.get(name) for name in fields}
        out.write(_json_line(obj) + "\n")
        count += 1
    return count


def render_kwic_summary(lines: int, articles: int, matched: int, elapsed: float, err_stream: TextIO,
                        style: Style) -> None:
    """Talk for stderr: ``114 occurrences in 23 articles (23 hits) (0.03 s)``."""
    noun = "occurrence" if lines == 1 else "occurrences"
    where = "article" if articles == 1 else "articles"
    hits = "hit" if matched == 1 else "hits"
    line = f"{lines} {noun} in {articles} {where} ({matched} {hits}) ({elapsed:.2f} s)"
    err_stream.write(_sgr(line, DIM, style) + "\n")


def render_facets(facets: Facets, out: TextIO, style: Style) -> None:
    """Two tables: hits per outlet (key, name, count, most first) and per year."""
    rows = [
        (sanitize_line(key), truncate(sanitize_line(name), 30), f"{count:,}")
        for key, name, count in facets.sources
    ]
    lines = _table(("Key", "Outlet", "Hits"), rows, (False, False, True), style)
    years = [(sanitize_line(year), f"{count:,}") for year, count in facets.years]
    lines += ["", *_table(("Year", "Hits"), years, (False, True), style)]
    out.write("\n".join(lines) + "\n")


def render_facets_json(facets: Facets, out: TextIO) -> None:
    """The facets as one JSON Lines record: ``{"facets": {"total": …, "source": {…}, "year": {…}}}``."""
    out.write(_json_line({"facets": facets.to_dict()}) + "\n")


def render_timeline_split(
    rows: Sequence[tuple[str, str, int]], sources: Sequence[str], out: TextIO, style: Style
) -> None:
    """A table of counts: one line per period, one column per outlet (most hits first), and the total.

    On a terminal, outlets that do not fit the width are summed in an ``other``
    column.
    """
    if not rows:
        return
    columns = [sanitize_line(s) for s in sources]
    counts: dict[str, dict[str, int]] = {}
    for period, source, count in rows:
        counts.setdefault(period, {})[sanitize_line(source)] = count
    shown = list(columns)

    def table(shown: list[str]) -> list[str]:
        other = columns[len(shown) :]
        header = ["Period", *shown, *(["other"] if other else []), "total"]
        body = []
        for period, by_source in counts.items():
            cells = [f"{by_source.get(c, 0):,}" for c in shown]
            if other:
                cells.append(f"{sum(by_source.get(c, 0) for c in other):,}")
            body.append([sanitize_line(period), *cells, f"{sum(by_source.values()):,}"])
        return _table(header, body, [False] + [True] * (len(header) - 1), style)

    lines = table(shown)
    while style.fit and len(shown) > 1 and max(display_width(line) for line in lines) > style.width:
        shown.pop()
        lines = table(shown)
    out.write("\n".join(lines) + "\n")
