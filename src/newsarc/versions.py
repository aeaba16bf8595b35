"""Versions of an article: what makes two versions distinct, and what changed between them.

Outlets edit what they publish: headlines are rewritten, paragraphs added or
cut, captions corrected.  A *version* is what a reader sees — the headline,
the text, the captions and the bylines — so :func:`content_digest` covers
exactly those; a change of markup, image URLs or archive time alone is not a
new version.

:func:`compare` diffs two versions.  The unit is the *character* for Chinese
(and every other script without spaces) and the *word* for runs of Latin
letters and digits (:func:`tokens`): Chinese has no word boundaries in the
text, and a word segmenter's boundaries move when one character changes (an
edit of 不知情 into 表示不知情 re-cuts its neighbours), which would report
changes where there are none; a character diff shows exactly the characters
an editor touched, and is what a reader counts (字数).  English words stay
whole, so ``Off`` → ``off`` is one word replaced, not a letter.  The diff is
:class:`difflib.SequenceMatcher` (``autojunk=False``: in a Chinese text the
common characters 的, 在, 中 would otherwise be ignored), first over the
paragraphs, then over the characters of each edited paragraph, followed by a
semantic clean-up that folds tiny coincidental matches (a shared 的 between
two rewritten sentences) into the change around them.

The result gives the edit operations (``newsarc diff --json``), a one-line
summary (``headline changed, 1 paragraph added, 12 characters changed in 2
paragraphs``) and a magnitude for ranking changes (a headline rewrite ranks
above a typo fix).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from newsarc.records import EditOp

__all__ = [
    "Comparison",
    "compare",
    "content_digest",
    "diff_tokens",
    "tokens",
]

#: Runs of these characters are one diff unit (a Latin word or a number); every other
#: character is a unit of its own.
_WORD_RE = re.compile(
    r"[0-9A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]+"
    r"|.",
    re.DOTALL,
)
#: Two paragraphs at least this similar (difflib ratio over their units) are one edited paragraph.
PARAGRAPH_SIMILARITY = 0.5
#: Paragraph blocks larger than this (old × new) are paired in order rather than by similarity.
_MAX_PAIRING = 2500
#: Weights of the change magnitude: the headline counts twice the text.
HEADLINE_WEIGHT = 2.0
CAPTIONS_WEIGHT = 0.25
AUTHORS_WEIGHT = 0.25

_FIELDS = ("title", "text", "captions", "authors")


def _content(record: Any) -> tuple[str, str, list[str], list[str]]:
    """``(title, text, captions, authors)`` of an :class:`Article` or a record dict."""
    if isinstance(record, dict):
        return (
            record.get("title", ""),
            record.get("text", ""),
            list(record.get("captions") or []),
            list(record.get("authors") or []),
        )
    return record.title, record.text, list(record.captions), list(record.authors)


def content_digest(record: Any) -> str:
    """The SHA-1 (hex) of what a reader sees of an article: headline, text, captions, authors.

    Two files of one URL with equal digests are one version, whatever their
    markup, image URLs or archive times.  ``record`` is an
    :class:`~newsarc.records.Article` or its JSON dict.
    """
    data = json.dumps(_content(record), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha1(data.encode("utf-8", "surrogatepass")).hexdigest()


def tokens(text: str) -> list[str]:
    """The diff units of ``text``: one per CJK character or symbol, one per Latin word or number.

    >>> tokens("普京访问Tu-160工厂")
    ['普', '京', '访', '问', 'Tu', '-', '160', '工', '厂']
    """
    return _WORD_RE.findall(text)


# ------------------------------------------------------------------ diff of one string


def diff_tokens(old: str, new: str) -> list[tuple[str, str]]:
    """The edit script from ``old`` to ``new``: ``(op, text)`` with op equal/delete/insert.

    Within each change, deletions come before insertions; adjacent operations
    of one kind are merged; tiny coincidental equalities inside a rewrite are
    folded into it (see the module docstring).
    """
    if old == new:
        return [("equal", old)] if old else []
    a, b = tokens(old), tokens(new)
    ops: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            ops.append(("equal", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            ops.append(("delete", "".join(a[i1:i2])))
        if j2 > j1:
            ops.append(("insert", "".join(b[j1:j2])))
    return _cleanup(ops)


def _normalize(ops: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Merge runs: each change becomes one deletion then one insertion; equalities merged."""
    out: list[tuple[str, str]] = []
    deleted: list[str] = []
    inserted: list[str] = []

    def flush() -> None:
        if deleted:
            out.append(("delete", "".join(deleted)))
        if inserted:
            out.append(("insert", "".join(inserted)))
        deleted.clear()
        inserted.clear()

    for op, text in ops:
        if not text:
            continue
        if op == "delete":
            deleted.append(text)
        elif op == "insert":
            inserted.append(text)
        else:
            flush()
            if out and out[-1][0] == "equal":
                out[-1] = ("equal", out[-1][1] + text)
            else:
                out.append(("equal", text))
    flush()
    return out


def _cleanup(ops: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Fold an equality into the changes around it when it is no longer than either of them.

    The rule of diff-match-patch's semantic clean-up: in 中国否认新加坡男子 →
    回应新加坡间谍案, a shared 新加坡 between two rewritten stretches is kept
    only if it is longer than the change on each side; single shared characters
    (的, 中) between rewrites are noise and become part of the rewrite.
    """
    ops = _normalize(ops)
    changed = True
    while changed:
        changed = False
        for i, (op, text) in enumerate(ops):
            if op != "equal" or i == 0 or i == len(ops) - 1:
                continue
            before = _change_size(ops, i, -1)
            after = _change_size(ops, i, +1)
            if len(text) <= before and len(text) <= after:
                ops = _normalize([*ops[:i], ("delete", text), ("insert", text), *ops[i + 1 :]])
                changed = True
                break
    return ops


def _change_size(ops: list[tuple[str, str]], i: int, step: int) -> int:
    """The larger of the deleted and inserted lengths of the change next to ops[i] on one side."""
    deleted = inserted = 0
    j = i + step
    while 0 <= j < len(ops) and ops[j][0] != "equal":
        if ops[j][0] == "delete":
            deleted += len(ops[j][1])
        else:
            inserted += len(ops[j][1])
        j += step
    return max(deleted, inserted)


def _changed_chars(ops: list[tuple[str, str]]) -> int:
    """Characters an editor changed: per change, the larger of what it deleted and inserted.

    40 → 四十 is 2 characters changed; whitespace does not count.
    """
    total = deleted = inserted = 0
    for op, text in [*ops, ("equal", "")]:
        size = sum(1 for ch in text if not ch.isspace())
        if op == "delete":
            deleted += size
        elif op == "insert":
            inserted += size
        else:
            total += max(deleted, inserted)
            deleted = inserted = 0
    return total


# ------------------------------------------------------------------ paragraphs


@dataclass(slots=True)
class ParagraphStep:
    """One step of a text's paragraph alignment.

    ``kind`` is ``equal`` (paragraph kept), ``edit`` (kept and changed: ``ops``
    is its character diff), ``delete`` (removed) or ``insert`` (added);
    ``old``/``new`` are the paragraph's texts on each side ("" where absent).
    """

    kind: str
    old: str
    new: str
    ops: list[tuple[str, str]] = field(default_factory=list)


def _paragraphs(text: str) -> list[str]:
    return text.split("\n") if text else []


def _similarity(a: str, b: str) -> float:
    ta, tb = tokens(a), tokens(b)
    matcher = SequenceMatcher(None, ta, tb, autojunk=False)
    if matcher.real_quick_ratio() < PARAGRAPH_SIMILARITY or matcher.quick_ratio() < PARAGRAPH_SIMILARITY:
        return 0.0
    return matcher.ratio()


def _pair(old: Sequence[str], new: Sequence[str]) -> list[tuple[int | None, int | None]]:
    """Pair the paragraphs of a replaced block, in order, maximising total similarity.

    Pairs below :data:`PARAGRAPH_SIMILARITY` are not made: those paragraphs are
    removed and added; but a single paragraph replaced by a single paragraph
    is always that paragraph rewritten.  Returns ``(old index or None, new index or None)`` in
    reading order.
    """
    n, m = len(old), len(new)
    if n == m == 1:  # one paragraph in the place of one: that paragraph, rewritten
        return [(0, 0)]
    if n * m > _MAX_PAIRING:  # a rewrite of a long stretch: pair position by position
        sims = {(i, i): _similarity(old[i], new[i]) for i in range(min(n, m))}
        pairs: list[tuple[int | None, int | None]] = []
        for i in range(max(n, m)):
            if i < n and i < m and sims[(i, i)] >= PARAGRAPH_SIMILARITY:
                pairs.append((i, i))
            else:
                if i < n:
                    pairs.append((i, None))
                if i < m:
                    pairs.append((None, i))
        return pairs
    sim = [[_similarity(old[i], new[j]) for j in range(m)] for i in range(n)]
    # best[i][j]: best total similarity aligning old[i:] with new[j:]
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            options = [best[i + 1][j], best[i][j + 1]]
            if sim[i][j] >= PARAGRAPH_SIMILARITY:
                options.append(sim[i][j] + best[i + 1][j + 1])
            best[i][j] = max(options)
    pairs = []
    i = j = 0
    while i < n or j < m:
        if i < n and j < m and sim[i][j] >= PARAGRAPH_SIMILARITY and best[i][j] == sim[i][j] + best[i + 1][j + 1]:
            pairs.append((i, j))
            i += 1
            j += 1
        elif i < n and (j == m or best[i][j] == best[i + 1][j]):
            pairs.append((i, None))
            i += 1
        else:
            pairs.append((None, j))
            j += 1
    return pairs


def align_paragraphs(old_text: str, new_text: str) -> list[ParagraphStep]:
    """Align the paragraphs (lines) of two texts: kept, edited, removed, added."""
    old, new = _paragraphs(old_text), _paragraphs(new_text)
    steps: list[ParagraphStep] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            steps.extend(ParagraphStep("equal", p, p) for p in old[i1:i2])
            continue
        for i, j in _pair(old[i1:i2], new[j1:j2]):
            if i is not None and j is not None:
                a, b = old[i1 + i], new[j1 + j]
                steps.append(ParagraphStep("edit", a, b, diff_tokens(a, b)))
            elif i is not None:
                steps.append(ParagraphStep("delete", old[i1 + i], ""))
            else:
                assert j is not None
                steps.append(ParagraphStep("insert", "", new[j1 + j]))
    return steps


def _join_text_ops(steps: list[ParagraphStep]) -> list[tuple[str, str]]:
    """The edit script of a whole text (paragraphs joined by ``\\n``) from its alignment.

    The newline before a paragraph belongs to the sides that have a paragraph
    before it: kept on both, deleted when only the old text had one, inserted
    when only the new text did.
    """
    ops: list[tuple[str, str]] = []
    old_started = new_started = False
    for step in steps:
        if step.kind == "delete":
            ops.append(("delete", "\n" * old_started + step.old))
            old_started = True
            continue
        if step.kind == "insert":
            ops.append(("insert", "\n" * new_started + step.new))
            new_started = True
            continue
        if old_started and new_started:
            ops.append(("equal", "\n"))
        elif old_started:
            ops.append(("delete", "\n"))
        elif new_started:
            ops.append(("insert", "\n"))
        old_started = new_started = True
        ops.extend(step.ops if step.kind == "edit" else [("equal", step.old)])
    return _normalize(ops)


# ------------------------------------------------------------------ comparison


@dataclass(slots=True)
class Comparison:
    """What changed from one version to another (see :func:`compare`)."""

    title_ops: list[tuple[str, str]]
    text_ops: list[tuple[str, str]]
    captions_ops: list[tuple[str, str]]
    authors_ops: list[tuple[str, str]]
    paragraphs: list[ParagraphStep]
    headline_changed: bool
    headline_chars: int
    paragraphs_added: int
    paragraphs_removed: int
    paragraphs_edited: int
    paragraphs_moved: int
    chars_changed: int
    text_chars: int
    captions_changed: bool
    authors_changed: bool
    magnitude: float

    @property
    def changed(self) -> bool:
        """Whether a reader would see any difference."""
        return bool(
            self.headline_changed
            or self.paragraphs_added
            or self.paragraphs_removed
            or self.paragraphs_edited
            or self.paragraphs_moved
            or self.captions_changed
            or self.authors_changed
        )

    def summary(self) -> str:
        """One line: ``headline changed, 2 paragraphs added, 1 removed, 37 characters changed in 3 paragraphs``."""
        parts = []
        if self.headline_changed:
            parts.append("headline changed")
        if self.paragraphs_added:
            parts.append(_count(self.paragraphs_added, "paragraph") + " added")
        if self.paragraphs_removed:
            if self.paragraphs_added:
                parts.append(f"{self.paragraphs_removed} removed")
            else:
                parts.append(_count(self.paragraphs_removed, "paragraph") + " removed")
        if self.paragraphs_moved:
            parts.append(_count(self.paragraphs_moved, "paragraph") + " moved")
        if self.paragraphs_edited:
            edited = _count(self.chars_changed, "character") + " changed"
            if self.paragraphs_edited > 1:
                edited += f" in {self.paragraphs_edited} paragraphs"
            parts.append(edited)
        if self.captions_changed:
            parts.append("captions changed")
        if self.authors_changed:
            parts.append("authors changed")
        return ", ".join(parts) if parts else "no visible change"

    def edit_ops(self) -> list[EditOp]:
        """The edit operations of every field that changed, field by field (``diff --json``).

        Each field's operations, concatenated, spell the old value (equal +
        delete) and the new value (equal + insert); captions and authors are
        joined by ``\\n``.  Unchanged fields are left out.
        """
        out: list[EditOp] = []
        for name, ops in zip(
            _FIELDS, (self.title_ops, self.text_ops, self.captions_ops, self.authors_ops), strict=True
        ):
            if any(op != "equal" for op, _ in ops):
                out.extend(EditOp(name, op, text) for op, text in ops)
        return out


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _list_ops(old: list[str], new: list[str]) -> list[tuple[str, str]]:
    return diff_tokens("\n".join(old), "\n".join(new))


def compare(old: Any, new: Any) -> Comparison:
    """Diff two versions of an article (:class:`~newsarc.records.Article` objects or record dicts).

    The magnitude is ``2 × h + t + 0.25 × c + 0.25 × a``: ``h`` the share of
    the headline changed (changed characters over the longer headline), ``t``
    the share of the text changed (characters changed in edited paragraphs plus
    the characters of added and removed ones, over the longer text, at most 1),
    ``c`` 1 when the captions changed, ``a`` 1 when the bylines did.  A
    rewritten headline scores about 2, a one-character typo in a long text
    about 0.001.
    """
    old_title, old_text, old_captions, old_authors = _content(old)
    new_title, new_text, new_captions, new_authors = _content(new)
    title_ops = diff_tokens(old_title, new_title)
    steps = align_paragraphs(old_text, new_text)
    text_ops = _join_text_ops(steps)
    inserted = Counter(s.new for s in steps if s.kind == "insert" and s.new.strip())
    deleted = Counter(s.old for s in steps if s.kind == "delete" and s.old.strip())
    moved = sum((inserted & deleted).values())
    added = sum(inserted.values()) - moved
    removed = sum(deleted.values()) - moved
    edited = [s for s in steps if s.kind == "edit"]
    chars = sum(_changed_chars(s.ops) for s in edited)
    whole = sum(
        n * sum(1 for ch in p if not ch.isspace()) for p, n in ((inserted | deleted) - (inserted & deleted)).items()
    )
    headline_chars = _changed_chars(title_ops)
    h = min(1.0, headline_chars / max(len(old_title), len(new_title), 1))
    t = min(1.0, (chars + whole) / max(len(old_text), len(new_text), 1))
    captions_changed = old_captions != new_captions
    authors_changed = old_authors != new_authors
    magnitude = HEADLINE_WEIGHT * h + t
    magnitude += CAPTIONS_WEIGHT * captions_changed + AUTHORS_WEIGHT * authors_changed
    return Comparison(
        title_ops=title_ops,
        text_ops=text_ops,
        captions_ops=_list_ops(old_captions, new_captions),
        authors_ops=_list_ops(old_authors, new_authors),
        paragraphs=steps,
        headline_changed=old_title != new_title,
        headline_chars=headline_chars,
        paragraphs_added=added,
        paragraphs_removed=removed,
        paragraphs_edited=len(edited),
        paragraphs_moved=moved,
        chars_changed=chars,
        text_chars=chars + whole,
        captions_changed=captions_changed,
        authors_changed=authors_changed,
        magnitude=round(magnitude, 4),
    )
