"""Text analysis: script folding and segmentation, shared by the index and the query.

Everything that is indexed and everything that is searched goes through
:func:`fold` first: Unicode NFKC (full-width Latin and digits become ASCII),
traditional → simplified script with OpenCC ``t2s``, lower case.  So 朝鮮 and
朝鲜, 習近平 and 习近平, ＲＩＡ and ria meet in the same tokens.

Folded text is then cut into three kinds of terms (see :func:`analyze`):

``words``
    jieba search-mode tokens of every CJK run, plus Latin/number tokens that
    newsarc makes itself (``tu-160``, ``tu``, ``160``).  These rank hits.
``grams``
    what the *recall* side needs beyond ``words``: every dictionary word
    found anywhere in the text (jieba "full mode") that search mode did not
    emit.  A dictionary word in the query is then matched exactly by
    ``words`` ∪ ``grams``, wherever jieba's cut put the boundaries in this
    document.
``chars``
    every CJK character with its offsets (:func:`char_positions`; all of
    them, also those jieba's dictionary lacks): a string jieba does not know
    (崔善姬), a phrase or a ``title:`` word is found exactly by intersecting
    its characters' positions (``index.IndexReader.substring_docs``).

Segmentation uses ``rjieba`` (the jieba-rs binding: same dictionary, same
tokens, ~28× faster); ``tests/test_analysis.py`` proves token identity with
jieba on corpus text.  Latin and digits are tokenised here, not by either
segmenter, because that is where the two disagree.
"""

from __future__ import annotations

import importlib.util
import math
import re
import unicodedata
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

# CJK ideographs that segmentation handles (BMP blocks, extension A, compatibility
# ideographs survive NFKC only rarely, and the supplementary planes).
CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))
CJK_CLASS = "".join(f"{chr(low)}-{chr(high)}" for low, high in CJK_RANGES)


class _LazyPattern:
    """A regular expression compiled on first use.

    ``re`` compiles a class of CJK or Latin-extended ranges by filling a bitmap
    code point by code point (2–4 ms each); a search that meets no Latin word
    need not pay for those patterns at all.
    """

    def __init__(self, pattern: str) -> None:
        self._pattern = pattern
        self._compiled: re.Pattern[str] | None = None

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        if self._compiled is None:
            self._compiled = re.compile(self._pattern)
        return getattr(self._compiled, name)


CJK_RUN = _LazyPattern(f"[{CJK_CLASS}]+")
CJK_CHAR = _LazyPattern(f"[{CJK_CLASS}]")
#: A Latin or number token: letters/digits, joined by single inner - . ' + & (tu-160, u.s., 3.5, at&t).
LATIN_TOKEN = _LazyPattern(r"[0-9a-z\u00c0-\u024f]+(?:[-.'’+&][0-9a-z\u00c0-\u024f]+)*")
LATIN_PART = _LazyPattern(r"[0-9a-z\u00c0-\u024f]+")
#: Longest dictionary word considered at query time.
MAX_WORD_CHARS = 16


@lru_cache(maxsize=1)
def _opencc():  # type: ignore[no-untyped-def]
    import opencc

    return opencc.OpenCC("t2s")


#: Texts at least this long are normalised through the shortcut of :func:`nfkc`.
_LONG_TEXT = 200


@lru_cache(maxsize=1)
def _nfkc_changes() -> tuple[re.Pattern[str], dict[str, str]]:
    """The characters of the punctuation and full-width blocks that NFKC changes, their NFKC forms."""
    table = {}
    for lo, hi in ((0xA0, 0x100), (0x2000, 0x2070), (0x3000, 0x3040), (0xFE30, 0xFE70), (0xFF00, 0xFFF0)):
        for cp in range(lo, hi):
            if (nf := unicodedata.normalize("NFKC", chr(cp))) != chr(cp):
                table[chr(cp)] = nf
    return re.compile("[" + "".join(re.escape(c) for c in sorted(table)) + "]"), table


def nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, five times faster on an article's text.

    CPython normalises a whole text the slow way as soon as one character needs
    it (one full-width comma does).  Replacing a character by its own NFKC form
    never changes the NFKC form of the text (compatibility decomposition goes
    character by character, and canonical equivalence survives concatenation),
    so the common ones are replaced first; when what is left is NFKC already (an
    exact check), it is the answer, else the text is normalised in full.
    """
    if len(text) < _LONG_TEXT:
        return unicodedata.normalize("NFKC", text)
    pattern, table = _nfkc_changes()
    quick = text
    for ch in set(pattern.findall(text)):
        quick = quick.replace(ch, table[ch])
    if unicodedata.is_normalized("NFKC", quick):
        return quick
    return unicodedata.normalize("NFKC", text)


def fold(text: str) -> str:
    """Fold ``text`` for matching: NFKC, traditional → simplified (OpenCC t2s), lower case."""
    if not text:
        return ""
    text = nfkc(text)
    if CJK_CHAR.search(text):
        text = _opencc().convert(text)
    return text.lower()


def fold_aligned(text: str) -> str:
    """Fold ``text`` keeping one output character per input character.

    Used to map matches in folded text back to the original (snippets).  Where
    whole-text folding would change the length, characters are folded one by one.
    """
    folded = fold(text)
    if len(folded) == len(text):
        return folded
    out = []
    for ch in text:
        f = fold(ch)
        out.append(f if len(f) == 1 else ch.lower()[:1] or ch)
    return "".join(out)


def is_cjk(ch: str) -> bool:
    """Whether ``ch`` is a CJK ideograph that segmentation handles."""
    return bool(CJK_CHAR.match(ch))


def latin_tokens(text: str) -> Iterator[str]:
    """Latin/number tokens of folded ``text``: each compound and, if compound, its parts.

    >>> list(latin_tokens("tu-160 ria novosti"))
    ['tu-160', 'tu', '160', 'ria', 'novosti']
    """
    for m in LATIN_TOKEN.finditer(text):
        token = m.group()
        yield token
        if not token.isalnum():
            yield from LATIN_PART.findall(token)


def split_runs(text: str) -> Iterator[tuple[bool, str]]:
    """Split folded text into ``(is_cjk, chunk)`` runs."""
    pos = 0
    for m in CJK_RUN.finditer(text):
        if m.start() > pos:
            yield False, text[pos : m.start()]
        yield True, m.group()
        pos = m.end()
    if pos < len(text):
        yield False, text[pos:]


# --------------------------------------------------------------------------- dictionary


def jieba_dictionary_path() -> Path:
    """The path of jieba's main dictionary file (without importing jieba)."""
    spec = importlib.util.find_spec("jieba")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("jieba is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "dict.txt"


def read_dictionary(path: str | Path) -> Iterator[tuple[str, int | None]]:
    """``(word, freq)`` entries of a jieba-format dictionary file (``word [freq] [tag]``).

    ``freq`` is None when the line gives none.  Blank lines and ``#`` comments are skipped.
    """
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        for line in fh:
            parts = line.strip().split()
            if not parts or parts[0].startswith("#"):
                continue
            word = parts[0]
            freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            yield word, freq


@lru_cache(maxsize=1)
def _jieba_class() -> type:
    """rjieba's ``Jieba`` class, from its extension module.

    Importing the ``rjieba`` package builds a default instance at once — a whole
    dictionary load (~0.12 s) that newsarc, which needs an instance of its own
    to add words to, never uses.  So the extension module is loaded by itself
    and registered under its own name, where a later ``import rjieba`` finds it.
    """
    import importlib.machinery
    import sys

    name = "rjieba.rjieba"
    module = sys.modules.get(name)
    spec = None if module is not None else importlib.util.find_spec("rjieba")  # the package, not run
    if spec is not None and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations)))
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = folder / f"rjieba{suffix}"
            ext = importlib.util.spec_from_file_location(name, path) if path.is_file() else None
            if ext is not None and ext.loader is not None:
                module = importlib.util.module_from_spec(ext)
                sys.modules[name] = module
                ext.loader.exec_module(module)
                break
    if module is None:  # laid out otherwise: the package's own way
        import rjieba

        return rjieba.Jieba
    return module.Jieba


@dataclass
class Segmenter:
    """jieba segmentation (via rjieba) with optional user dictionaries and extra words.

    ``extra_words`` (newsarc adds the alias names, e.g. 普丁, 泽连斯基) join the
    dictionary when jieba lacks them, so they are cut as words.  One instance
    per process; building it loads the dictionary (~0.12 s).
    """

    user_dicts: tuple[str, ...] = ()
    extra_words: tuple[str, ...] = ()
    _jieba: object = field(init=False, repr=False)
    user_words: dict[str, int] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._jieba = _jieba_class()()
        for word in self.extra_words:
            word = fold(word)
            if CJK_RUN.fullmatch(word) and len(word) > 1 and not self._jieba.has_word(word):
                self.user_words[word] = self._jieba.add_word(word, None, None)
        for path in self.user_dicts:
            for word, freq in read_dictionary(path):
                word = fold(word)
                if not CJK_RUN.fullmatch(word):
                    continue
                self.user_words[word] = self._jieba.add_word(word, freq, None)

    def cut_for_search(self, run: str) -> list[str]:
        """jieba search-mode tokens of one CJK run."""
        return self._jieba.cut_for_search(run, True)

    def cut_all(self, run: str) -> list[str]:
        """Every dictionary word and every character of one CJK run (jieba full mode)."""
        return self._jieba.cut_all(run)


@dataclass(slots=True)
class Terms:
    """The terms of one text: ranked ``words`` with counts and recall-only ``grams``."""

    words: Counter[str]
    grams: set[str]


@dataclass(frozen=True, slots=True)
class CharPositions:
    """Every CJK character of a folded text with its offsets (:func:`char_positions`): the
    characters in code point order, how many offsets each has, and all the offsets laid
    end to end (each character's ascending), as ``array("I")``.

    Three objects however long the text: a worker pickles them to the writer in
    microseconds, where a dictionary of one array per character (about 300 in a
    news article) cost about a millisecond an article each way.
    """

    chars: str
    counts: array
    offsets: array

    def __iter__(self) -> Iterator[str]:
        return iter(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def items(self) -> Iterator[tuple[str, array]]:
        """``(character, its offsets)``, in code point order."""
        offsets = self.offsets
        at = 0
        for ch, count in zip(self.chars, self.counts, strict=True):
            yield ch, offsets[at : at + count]
            at += count


def char_positions(folded: str) -> CharPositions:
    """Every CJK character of ``folded`` (:data:`CJK_RANGES`) with its offsets in it, ascending.

    Done over the text's code points at once (numpy; an ingest's workers call it
    for every article): a loop over the characters cost a third of analysing one.
    """
    import numpy as np

    codes = np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), "<u4")
    cjk = np.zeros(len(codes), bool)
    for low, high in CJK_RANGES:
        cjk |= (codes >= low) & (codes <= high)
    at = np.flatnonzero(cjk)
    counts, offsets = array("I"), array("I")
    if not len(at):
        return CharPositions("", counts, offsets)
    found = codes[at]
    order = np.argsort(found, kind="stable")  # by character, each one's offsets still ascending
    found = found[order]
    firsts = np.flatnonzero(np.concatenate(([True], found[1:] != found[:-1])))
    counts.frombytes(np.diff(np.append(firsts, len(found))).astype(np.uintc).tobytes())
    offsets.frombytes(at[order].astype(np.uintc).tobytes())
    return CharPositions(found[firsts].tobytes().decode("utf-32-le", "surrogatepass"), counts, offsets)


def fold_article(title: str, text: str = "", captions: Iterable[str] = ()) -> tuple[str, str]:
    """An article's folded title and folded body (text and captions, one per line).

    The one definition of what is indexed and what search verifies verbatim
    matches against (``title + "\\n" + body``): the ingest folds a new article
    with it, and search, ``keywords`` and ``similar`` fold the stored record
    with it again (the store keeps no folded copy).
    """
    return fold(title), fold("\n".join([text, *captions]))


def analyze(folded: str, segmenter: Segmenter) -> Terms:
    """Cut already-folded text into :class:`Terms` (see the module docstring)."""
    words: Counter[str] = Counter()
    full: set[str] = set()
    for cjk, chunk in split_runs(folded):
        if cjk:
            words.update(segmenter.cut_for_search(chunk))
            full.update(segmenter.cut_all(chunk))
        else:
            words.update(latin_tokens(chunk))
    return Terms(words=words, grams={t for t in full if len(t) > 1}.difference(words))


# --------------------------------------------------------------------------- query side

#: Looks up words in the dictionary: given candidate strings, returns those present with their freq.
DictionaryLookup = Callable[[Iterable[str]], dict[str, int]]


@dataclass(frozen=True, slots=True)
class QueryPiece:
    """One unit of a query word after segmentation.

    ``kind`` is ``"word"`` (a dictionary word: exact through the index),
    ``"chars"`` (CJK jieba does not know: matched verbatim from the positions of
    its characters), or ``"latin"`` (a Latin/number token: exact word match).
    """

    text: str
    kind: str
    parts: tuple[str, ...] = ()


def segment_query(folded: str, lookup: DictionaryLookup, total_freq: int) -> list[QueryPiece]:
    """Split a folded query word into pieces, the way jieba's default cut would.

    The dictionary is consulted lazily through ``lookup`` (only the substrings of
    the query), so no dictionary has to be loaded to answer a query.  CJK runs
    are cut by jieba's DAG and maximum-probability route (no HMM).  The word is
    split into independent pieces only between two dictionary words of two or
    more characters (普京朝鲜 → 普京 + 朝鲜, as if typed with a space); a stretch
    that jieba can only cut into single characters stays one verbatim piece
    together with its neighbours (崔善姬, 李家超, 泽连斯基), because that is
    what an unknown name looks like to a dictionary.
    """
    pieces: list[QueryPiece] = []
    for cjk, chunk in split_runs(folded):
        if not cjk:
            pieces.extend(QueryPiece(t, "latin", (t,)) for t in LATIN_TOKEN.findall(chunk))
            continue
        groups: list[list[str]] = []
        for word in _route(chunk, lookup, total_freq):
            if groups and (len(word) == 1 or len(groups[-1][-1]) == 1):
                groups[-1].append(word)
            else:
                groups.append([word])
        for group in groups:
            kind = "word" if len(group) == 1 else "chars"
            pieces.append(QueryPiece("".join(group), kind, tuple(group)))
    return pieces


def _route(sentence: str, lookup: DictionaryLookup, total_freq: int) -> list[str]:
    """jieba's ``__cut_DAG_NO_HMM`` route over ``sentence`` with lazy lookups."""
    n = len(sentence)
    candidates = {
        sentence[i:j] for i in range(n) for j in range(i + 1, min(n, i + MAX_WORD_CHARS) + 1)
    }
    freqs = lookup(candidates) if candidates else {}
    logtotal = math.log(total_freq or 1)
    dag: dict[int, list[int]] = {}
    for i in range(n):
        ends = [i]
        ends.extend(
            j - 1 for j in range(i + 2, min(n, i + MAX_WORD_CHARS) + 1) if freqs.get(sentence[i:j])
        )
        dag[i] = ends
    route: dict[int, tuple[float, int]] = {n: (0.0, 0)}
    for idx in range(n - 1, -1, -1):
        route[idx] = max(
            (
                math.log(freqs.get(sentence[idx : x + 1]) or 1) - logtotal + route[x + 1][0],
                x,
            )
            for x in dag[idx]
        )
    out = []
    x = 0
    while x < n:
        y = route[x][1] + 1
        out.append(sentence[x:y])
        x = y
    return out


def search_tokens(piece: QueryPiece, lookup: DictionaryLookup) -> list[str]:
    """The ranking tokens of a query piece, as jieba's search mode would emit them.

    A dictionary word longer than two characters also yields the dictionary 2-
    and 3-grams inside it (北朝鲜 → 北朝, 朝鲜, 北朝鲜); an unknown stretch yields
    the words and characters jieba's route cuts it into.
    """
    if piece.kind != "word":
        return list(dict.fromkeys(piece.parts))
    text = piece.text
    inner = {text[i : i + k] for k in (2, 3) if k < len(text) for i in range(len(text) - k + 1)}
    found = lookup(inner) if inner else {}
    return sorted(found, key=lambda w: (len(w), text.find(w))) + [text]
