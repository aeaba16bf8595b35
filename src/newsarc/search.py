"""Search: a query string → ranked, highlighted :class:`~newsarc.records.Hit` objects.

Two questions are answered separately:

*Which articles match?*  Each query word is folded and cut into pieces
(:func:`newsarc.analysis.segment_query`).  A dictionary word is matched
exactly by the index (``title``/``body`` words or ``grams``, which hold every
dictionary word of the text wherever jieba's cut put the boundaries); a
stretch jieba does not know (崔善姬), a CJK phrase, a single character and a
``title:`` word are matched exactly by the positions of their characters
(``IndexReader.substring_docs``).  Only a phrase holding spaces or Latin is
verified against the stored text.  So a hit set is exactly the set of
articles that contain the words, whatever the segmentation.

*In what order?*  BM25F over the jieba search-mode words of the pieces, with
the title weighted above the body; or by publication date.
"""

from __future__ import annotations

import heapq
import math
import re
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from newsarc.aliases import Aliases, load_aliases
from newsarc.analysis import (
    CJK_RUN,
    QueryPiece,
    fold,
    fold_aligned,
    fold_article,
    latin_tokens,
    search_tokens,
    segment_query,
)
from newsarc.errors import ArchiveChanged, ArchiveError, QueryError, UnknownSource
from newsarc.index import (
    INDEX_NAME,
    TITLE_BOOST,
    IndexReader,
    TermStats,
    arrays_pay,
    empty_index,
    index_dir,
    locate,
    open_index,
)
from newsarc.integrity import check_doc_count
from newsarc.query import Node, Not, Or, Term, parse_query
from newsarc.records import Hit
from newsarc.store import Store, open_store, published_timestamp

if TYPE_CHECKING:  # imported where used: most searches never need it
    import numpy as np

#: BM25's free parameters (Whoosh's defaults, with which the ranking was tuned).
BM25_B = 0.75
BM25_K1 = 1.2
#: How many top hits are re-ranked by title coverage, and how much coverage counts.
RERANK_DEPTH = 100
COVERAGE_WEIGHT = 1.0
#: From how many postings a relevance ranking is computed over numpy arrays
#: (:func:`head_bm25f`): below it, unless numpy is loaded already, importing it costs
#: more than it saves.
VECTOR_POSTINGS = 50_000
SORTS = ("relevance", "newest", "oldest")
#: Attempts of a search whose index changed under it (an ingest merged segments away).
SEARCH_ATTEMPTS = 3
SNIPPET_CHARS = 60
_SPACE = re.compile(r"\s+")


@dataclass
class SearchOptions:
    """Filters, order and page of a search."""

    sources: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    sort: str = "relevance"
    limit: int | None = 10
    page: int = 1
    all_versions: bool = False
    #: Make snippets (False: hits carry no snippet and no article text is read).
    snippets: bool = True


@dataclass
class SearchResult:
    """One page of hits, the total number of matching articles and the time taken."""

    hits: list[Hit]
    total: int
    offset: int
    elapsed: float


def parse_date_bound(text: str, *, end: bool) -> int:
    """``YYYYMMDD`` of ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``: its first day, or with ``end`` its last.

    Dates are the outlets' own (local) publication dates, as the index's ``day``
    field holds them: ``--since 2019-06-01`` includes an article published at
    2019-06-01 00:00 +08:00.
    """
    m = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", text.strip())
    if not m:
        raise QueryError(f"not a date: {text!r} (use YYYY-MM-DD, YYYY-MM or YYYY)")
    year, month, day = int(m[1]), int(m[2] or 1), int(m[3] or 1)
    try:
        first = date(year, month, day)
    except ValueError as exc:
        raise QueryError(f"not a date: {text!r} ({exc})") from None
    if not end or m[3]:
        last = first
    elif m[2]:
        last = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
    else:
        last = date(year, 12, 31)
    chosen = last if end else first
    return chosen.year * 10000 + chosen.month * 100 + chosen.day


class Searcher:
    """Searches one archive.  Open with :func:`open_searcher`; use as a context manager.

    Reads the index only through :class:`~newsarc.index.IndexReader` (posting
    lists, statistics, columns) and the store (records, dictionary).
    """

    def __init__(
        self, store: Store, reader: IndexReader, dictionary: tuple[str, int], aliases: Aliases | None = None
    ) -> None:
        self.store = store
        self.reader = reader
        self.aliases = aliases
        self._alias_docs: dict[tuple[str, str | None], set[int]] = {}
        # the query dictionary's state, read *before* the index was opened (Store.dictionary_state):
        # lookups refuse a dictionary switched since, for ``reader`` may predate the re-index behind it
        self._signature, self._total = dictionary
        self._lookup_cache: dict[str, int | None] = {}

    def close(self) -> None:
        """Release the index and the store."""
        self.reader.close()
        self.store.close()

    def __enter__(self) -> Searcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ dictionary

    def lookup(self, words: Iterable[str]) -> dict[str, int]:
        """Dictionary lookups, cached for the life of the searcher."""
        words = list(words)
        missing = [w for w in words if w not in self._lookup_cache]
        if missing:
            found = self.store.lookup_words(missing, expect=self._signature)
            for w in missing:
                self._lookup_cache[w] = found.get(w)
        return {w: f for w in words if (f := self._lookup_cache.get(w))}

    def pieces(self, folded: str) -> list[QueryPiece]:
        """Cut a folded query word into pieces."""
        return segment_query(folded, self.lookup, self._total)

    # ------------------------------------------------------------------ matching

    def postings(self, field: str, term: str) -> Iterator[tuple[int, float]]:
        """``(docnum, weight)`` of the live documents holding ``term`` in ``field``."""
        ids, weights = self.reader.postings(field, term)
        return zip(ids, weights if weights is not None else [1.0] * len(ids), strict=True)

    def _docs(self, field: str, terms: Iterable[str]) -> set[int]:
        out: set[int] = set()
        for term in terms:
            out.update(self.reader.doc_ids(field, term))
        return out

    def _any_field(
        self, term: str, fields: tuple[str, ...] = ("title", "body", "grams")
    ) -> set[int]:
        out: set[int] = set()
        for f in fields:  # one set filled from each list: no set per field to join
            out.update(self.reader.doc_ids(f, term))
        return out

    def _verify(self, docs: set[int], needle: str, *, title_only: bool = False) -> set[int]:
        """The ``docs`` whose folded title and body (or title, ``title_only``) contain ``needle``.

        Only for needles with something besides CJK characters (a phrase with a
        space or Latin, ``title:Tu-160``): the text is folded again from the
        stored record, as the ingest folded it (a title alone comes from its
        column), whitespace collapsed.  CJK needles never come here: the
        index's character positions answer them exactly (:meth:`_cjk_docs`).
        """
        if not docs:
            return docs
        ids = {self.reader.article_id(d): d for d in docs}
        out = set()
        for aid, folded in self.store.folded_texts(ids, title_only=title_only):
            if needle in _SPACE.sub(" ", folded):
                out.add(ids[aid])
        return out

    def _cjk_docs(self, needle: str, *, title_only: bool) -> set[int]:
        """Docs whose folded title and body (or title) contain a run of CJK characters, exactly.

        A dictionary word (outside ``title:``) through words ∪ grams, which hold
        every dictionary word of the text wherever jieba's cut put the
        boundaries; anything else (an unknown name, a phrase of several words,
        one character, a ``title:`` word) from the index's character positions.
        """
        if not title_only and len(needle) > 1 and self.lookup([needle]):
            return self._any_field(needle)
        return self.reader.substring_docs(needle, title_only=title_only)

    def _piece_docs(self, piece: QueryPiece, *, title_only: bool) -> tuple[set[int], bool]:
        """Docs containing ``piece``; the flag says whether they still need verifying.

        Only a Latin piece in a ``title:`` term does (its word postings do not
        say in which field it was).
        """
        if piece.kind == "latin":
            return self._any_field(piece.text, ("title", "body")), title_only
        return self._cjk_docs(piece.text, title_only=title_only), False

    # -- alias hook: a plain word (or title: word) that is a variant of an alias group
    # matches any variant of the group; everything else goes to _exact_term_docs.

    def alias_group(self, term: Term) -> tuple[str, ...]:
        """The variants ``term`` stands for through an alias (typed form first), or ``()``."""
        if not self.aliases or term.phrase or term.field not in (None, "title"):
            return ()
        return self.aliases.group(fold(term.text).strip())

    def _variant_docs(self, variant: str, field: str | None) -> set[int]:
        key = (variant, field)
        if key not in self._alias_docs:
            self._alias_docs[key] = self._exact_term_docs(Term(variant, field))
        return self._alias_docs[key]

    def _term_docs(self, term: Term) -> set[int]:
        group = self.alias_group(term)
        if not group:
            return self._exact_term_docs(term)
        return set().union(*(self._variant_docs(v, term.field) for v in group))

    def alias_matches(self, node: Node, docnum: int) -> list[str]:
        """The alias variants through which article ``docnum`` matched a query word.

        Only for words the article does not contain as typed: an article holding
        朝鲜 itself matched 朝鲜, even if it also says 北韩.
        """
        typed = {fold(t.text).strip() for t in _positive_terms(node)}
        out: list[str] = []
        for term in _positive_terms(node):
            group = self.alias_group(term)
            if not group or docnum in self._variant_docs(group[0], term.field):
                continue
            out.extend(
                v
                for v in group[1:]
                if v not in typed and docnum in self._variant_docs(v, term.field)
            )
        return list(dict.fromkeys(out))

    def _exact_term_docs(self, term: Term) -> set[int]:
        if term.field == "source":
            return self._docs("source", (term.text.lower(),))
        if term.field == "author":
            return self._docs("author", (fold(term.text).strip(),))
        folded = fold(term.text)
        title_only = term.field == "title"
        if term.phrase:
            needle = _SPACE.sub(" ", folded).strip()
            if CJK_RUN.fullmatch(needle):
                return self._cjk_docs(needle, title_only=title_only)
            # spaces, Latin or punctuation: candidates hold every piece, then the text is read
            docs: set[int] | None = None
            for piece in (p for w in needle.split(" ") for p in self.pieces(w)):
                found, _verify = self._piece_docs(piece, title_only=False)
                docs = found if docs is None else docs & found
                if not docs:
                    return set()
            return self._verify(docs or set(), needle, title_only=title_only)
        result: set[int] | None = None
        for piece in self.pieces(folded):
            docs, verify = self._piece_docs(piece, title_only=title_only)
            if result is not None:
                docs &= result
            if verify:
                docs = self._verify(docs, piece.text, title_only=True)
            result = docs
            if not result:
                break
        return result or set()

    def matching(self, node: Node) -> set[int]:
        """The docnums of articles matching a query tree exactly."""
        if isinstance(node, Term):
            return self._term_docs(node)
        if isinstance(node, Not):
            return self.reader.live_docs() - self.matching(node.child)
        if isinstance(node, Or):
            out: set[int] = set()
            for child in node.children:
                out |= self.matching(child)
            return out
        positives = [c for c in node.children if not isinstance(c, Not)]
        negatives = [c for c in node.children if isinstance(c, Not)]
        result: set[int] | None = None
        for child in positives:
            docs = self.matching(child)
            result = docs if result is None else result & docs
            if not result:
                return set()
        if result is None:
            result = self.reader.live_docs()
        for neg in negatives:
            result -= self.matching(neg.child)
        return result

    def matching_docs(self, node: Node, options: SearchOptions) -> set[int]:
        """The docnums of articles matching a query tree and the filters of ``options``."""
        docs = self.matching(node)
        flt = self._filter(options)
        if flt is not None:
            docs &= flt
        return docs

    def docs_by_source(self, docs: set[int]) -> dict[str, set[int]]:
        """``docs`` split by outlet key (outlets with none left out), from the ``source``
        postings: no record or summary is read."""
        out = {}
        for key in self.reader.terms("source"):
            if found := docs.intersection(self.reader.doc_ids("source", key)):
                out[key] = found
        return out

    def outlets(self) -> dict[str, str]:
        """The outlets of the archive: key -> display name (the outlet table's; else the key)."""
        from newsarc.sources import OUTLET_NAMES  # only a --source filter needs the table

        keys = self.reader.terms("source")
        return {key: OUTLET_NAMES.get(key, key) for key in keys}

    def source_keys(self, values: Iterable[str]) -> list[str]:
        """The outlet keys that ``values`` name (see :func:`outlet_keys`)."""
        return outlet_keys(self.outlets(), values)

    def _filter(self, options: SearchOptions) -> set[int] | None:
        docs: set[int] | None = None
        if options.sources:
            docs = self._docs("source", self.source_keys(options.sources))
        if options.since or options.until:
            start = parse_date_bound(options.since, end=False) if options.since else 0
            end = parse_date_bound(options.until, end=True) if options.until else 99_999_999
            if start > end:
                raise QueryError(f"--since {options.since} is after --until {options.until}")
            day = self.reader.day
            candidates = docs if docs is not None else self.reader.live_docs()
            docs = {d for d in candidates if start <= day(d) <= end}
        return docs

    # ------------------------------------------------------------------ ranking

    def ranking_terms(self, node: Node) -> list[str]:
        """The search-mode words of the positive terms of a query (for BM25F and highlighting)."""
        out: list[str] = []
        for term in _positive_terms(node):
            if term.field in ("source", "author"):
                continue
            for word in self.alias_group(term) or fold(term.text).split():
                for piece in self.pieces(word):
                    out.extend(search_tokens(piece, self.lookup))
        return list(dict.fromkeys(out))

    def highlight_terms(self, node: Node) -> list[str]:
        """The folded strings to mark in titles and snippets, longest first."""
        out: list[str] = []
        for term in _positive_terms(node):
            if term.field in ("source", "author"):
                continue
            folded = _SPACE.sub(" ", fold(term.text)).strip()
            if term.phrase:
                out.append(folded)
            for word in self.alias_group(term) or folded.split():
                out.extend(p.text for p in self.pieces(word))
        return sorted(set(out), key=len, reverse=True)

    def search(self, text: str, options: SearchOptions | None = None) -> SearchResult:
        """Run a query string and return one page of hits."""
        return self.run(parse_query(text), options)

    def run(self, node: Node, options: SearchOptions | None = None) -> SearchResult:
        """Run a parsed query (:func:`newsarc.query.parse_query`) and return one page of hits."""
        started = time.perf_counter()
        options = options or SearchOptions()
        if options.sort not in SORTS:
            raise QueryError(f"unknown sort {options.sort!r} (use {', '.join(SORTS)})")
        docs = self.matching_docs(node, options)
        limit = options.limit
        offset = (max(options.page, 1) - 1) * (limit or 0)
        ordered = self._order(node, docs, options.sort, None if limit is None else offset + limit)
        page = ordered if limit is None else ordered[offset : offset + limit]
        highlights = self.highlight_terms(node)
        hits = self.hits(page, highlights, snippets=options.snippets)
        if self.aliases:
            docnums = {self.reader.article_id(d): d for d, _ in page}
            for hit in hits:
                hit.aliases = self.alias_matches(node, docnums[hit.id])
        total = len(docs)
        if options.all_versions:
            matched, older = self._older_versions(node, docs, options, highlights)
            for hit in hits:
                hit.versions, hit.version_count = matched.get(hit.id, ([1], 1))
            total += len(older)
            if options.sort == "oldest":
                older.reverse()
            start = max(offset - len(docs), 0)
            room = None if limit is None else max(limit - len(hits), 0)
            hits += older[start:] if room is None else older[start : start + room]
        return SearchResult(hits, total, offset, time.perf_counter() - started)

    # ------------------------------------------------------------------ older versions

    def _older_versions(
        self, node: Node, docs: set[int], options: SearchOptions, highlights: list[str]
    ) -> tuple[dict[str, tuple[list[int], int]], list[Hit]]:
        """Which versions of the articles with several match, and hits for articles only an
        older version matches (newest published first).

        The newest version matches as the index says; an older version (not in
        the index) matches when its folded text contains every query word
        (:meth:`matches_text`), as the index's hits contain them.
        """
        from newsarc.ingest import local_day  # the ingest's definition of an article's day

        start = parse_date_bound(options.since, end=False) if options.since else 0
        end = parse_date_bound(options.until, end=True) if options.until else 99_999_999
        sources = set(self.source_keys(options.sources))
        matched: dict[str, tuple[list[int], int]] = {}
        older: list[tuple[int, Hit]] = []
        for article_id in self.store.versioned_ids():
            versions = self.store.versions_of(article_id)
            numbers = [
                number
                for number, version in enumerate(versions[:-1], 1)
                if (not sources or version.record.get("source", "") in sources)
                and start <= local_day(version.record.get("published", "")) <= end
                and self.matches_text(node, version.record)
            ]
            if self.reader.docnum(article_id) in docs:
                numbers.append(len(versions))
            if not numbers:
                continue
            matched[article_id] = (numbers, len(versions))
            if numbers[-1] != len(versions):
                record = versions[numbers[-1] - 1].record
                hit = self._record_hit(record, highlights)
                hit.versions, hit.version_count = numbers, len(versions)
                older.append((published_timestamp(record.get("published", "")), hit))
        older.sort(key=lambda item: (-item[0], item[1].id))
        return matched, [hit for _ts, hit in older]

    def _record_hit(self, record: dict, terms: list[str]) -> Hit:
        text = "\n".join([record.get("text", ""), *record.get("captions", [])])
        snippet, spans = make_snippet(text, terms)
        title = record.get("title", "")
        return Hit(
            id=record["id"],
            title=title,
            source=record.get("source", ""),
            source_name=record.get("source_name", ""),
            published=record.get("published", ""),
            url=record.get("url", ""),
            score=0.0,
            snippet=snippet,
            highlights=spans,
            title_highlights=find_spans(fold_aligned(title), terms),
        )

    def matches_text(self, node: Node, record: dict) -> bool:
        """Whether a record (an older version, not in the index) matches a query tree.

        A word matches where its folded form occurs in the folded title and
        body (Latin words as whole words), through its aliases too; ``title:``
        looks at the title only, ``source:`` at the outlet key, ``author:`` at
        the bylines.
        """
        if isinstance(node, Not):
            return not self.matches_text(node.child, record)
        if isinstance(node, Or):
            return any(self.matches_text(child, record) for child in node.children)
        if not isinstance(node, Term):
            return all(self.matches_text(child, record) for child in node.children)
        if node.field == "source":
            return record.get("source", "").lower() == node.text.lower()
        if node.field == "author":
            wanted = fold(node.text).strip()
            return any(wanted in fold(name) for name in record.get("authors", []))
        title, body = fold_article(record.get("title", ""), record.get("text", ""), record.get("captions", []))
        text = _SPACE.sub(" ", title if node.field == "title" else title + "\n" + body)
        variants = self.alias_group(node) or (node.text,)
        return any(self._contains(text, variant, phrase=node.phrase) for variant in variants)

    def _contains(self, text: str, word: str, *, phrase: bool) -> bool:
        needle = _SPACE.sub(" ", fold(word)).strip()
        if phrase:
            return needle in text
        latin = None
        for piece in (p for w in needle.split(" ") for p in self.pieces(w)):
            if piece.kind == "latin":
                if latin is None:
                    latin = set(latin_tokens(text))
                if piece.text not in latin:
                    return False
            elif piece.text not in text:
                return False
        return True

    def _order(
        self, node: Node, docs: set[int], sort: str, upto: int | None
    ) -> list[tuple[int, float]]:
        """``docs`` in result order with their scores: all of them, or (``upto``) at least
        the first ``upto`` — the head of the order is found without sorting the rest."""
        published = self.reader.column("published")
        if sort != "relevance":
            sign = -1 if sort == "newest" else 1
            pairs = ((sign * published[d], sign * d) for d in docs)
            head = sorted(pairs) if upto is None else heapq.nsmallest(upto, pairs)
            return [(sign * d, 0.0) for _p, d in head]
        terms = [(t, 1.0) for t in self.ranking_terms(node)]
        depth = None if upto is None else max(upto, RERANK_DEPTH)
        if depth is not None and depth < len(docs):
            postings = sum(sc.doc_frequency for sc in _summed_scorers(self.reader, terms))
            if arrays_pay(postings, VECTOR_POSTINGS):
                return self._title_coverage(node, head_bm25f(self.reader, terms, docs, depth), published)
        scores = bm25f(self.reader, terms, docs)
        candidates: Iterable[int] = docs
        if depth is not None and depth < len(docs):
            # only the documents scoring at least the depth-th best score can be in the head
            best = heapq.nlargest(depth, scores.values())
            cutoff = best[-1] if len(best) == depth else 0.0
            candidates = (
                docs if cutoff <= 0.0 else [d for d, score in scores.items() if score >= cutoff]
            )
        ranked = sorted(
            ((d, scores.get(d, 0.0)) for d in candidates),
            key=lambda x: (-x[1], -published[x[0]], x[0]),
        )
        if depth is not None:
            ranked = ranked[:depth]
        return self._title_coverage(node, ranked, published)

    def _title_coverage(
        self, node: Node, ranked: list[tuple[int, float]], published
    ) -> list[tuple[int, float]]:  # type: ignore[no-untyped-def]
        """Re-rank the head of a ranking by how many of the query's words its titles contain.

        BM25F adds up per-term title scores, so a title holding one rare query word can
        beat a title holding all of them; a title that names everything asked for is
        what a reader looks for first.  Only the first :data:`RERANK_DEPTH` hits move.
        """
        words = [w for w in self.highlight_terms(node) if " " not in w]
        if len(words) < 2 or len(ranked) < 2:
            return ranked
        head = ranked[:RERANK_DEPTH]
        ids = {self.reader.article_id(d): d for d, _ in head}
        titles = {ids[aid]: fold(s.title) for aid, s in self.store.summaries(list(ids)).items()}
        rescored = []
        for docnum, score in head:
            title = titles.get(docnum, "")
            covered = sum(1 for w in words if w in title) / len(words)
            rescored.append((docnum, score * (1.0 + COVERAGE_WEIGHT * covered)))
        rescored.sort(key=lambda x: (-x[1], -published[x[0]], x[0]))
        return rescored + ranked[RERANK_DEPTH:]

    # ------------------------------------------------------------------ hits

    def hits(
        self, page: list[tuple[int, float]], terms: list[str], *, snippets: bool = True
    ) -> list[Hit]:
        """:class:`Hit` objects for ``(docnum, score)`` pairs, snippets around ``terms``.

        Without ``snippets`` no article text is read and the hits' snippets are empty.
        """
        ids = [self.reader.article_id(d) for d, _ in page]
        summaries = self.store.summaries(ids)
        texts = self.store.texts(ids) if snippets else {}
        hits = []
        for (_docnum, score), aid in zip(page, ids, strict=True):
            s = summaries.get(aid)
            if s is None:  # indexed but replaced in the store since: skip
                continue
            snippet, spans = "", []
            if snippets:
                text, captions = texts.get(aid, ("", []))
                snippet, spans = make_snippet("\n".join([text, *captions]), terms)
            hits.append(
                Hit(
                    id=s.id,
                    title=s.title,
                    source=s.source,
                    source_name=s.source_name,
                    published=s.published,
                    url=s.url,
                    score=score,
                    snippet=snippet,
                    highlights=spans,
                    title_highlights=find_spans(fold_aligned(s.title), terms),
                )
            )
        return hits


def outlet_keys(outlets: dict[str, str], values: Iterable[str]) -> list[str]:
    """The keys of ``outlets`` (key → name) that ``values`` name: a key or an outlet's name
    (美国之音, 美國之音), in any case or script.  A value naming none of them raises
    :class:`UnknownSource`."""
    known = {fold(name): key for key, name in outlets.items()}
    known.update((fold(key), key) for key in outlets)
    keys = []
    for value in values:
        key = known.get(fold(value.strip()))
        if key is None:
            raise UnknownSource(value, outlets)
        keys.append(key)
    return keys


class _FieldScorer:
    """BM25 contributions of one weighted term in one field (see :func:`bm25f`)."""

    __slots__ = ("reader", "term", "field", "factor", "idf", "upper", "doc_frequency")

    def __init__(self, reader: IndexReader, term: str, field: str, factor: float, stats: TermStats) -> None:
        self.reader = reader
        self.term = term
        self.field = field
        self.factor = factor
        self.doc_frequency = stats.doc_frequency
        self.idf = math.log(reader.doc_count_all() / (stats.doc_frequency + 1)) + 1
        # the best this term can give a document: its largest frequency at the shortest length
        norm = BM25_K1 * ((1 - BM25_B) + BM25_B * stats.min_length / reader.avg_field_length(field))
        tf = stats.max_weight
        self.upper = factor * (self.idf * ((tf * (BM25_K1 + 1)) / (tf + norm)))

    def postings(self) -> tuple[list[int], list[float]]:
        ids, tfs = self.reader.postings(self.field, self.term)
        return ids, tfs if tfs is not None else [1.0] * len(ids)

    def add(self, scores: dict[int, float], pairs: Iterable[tuple[int, float]]) -> None:
        """Add the contributions of ``(docnum, tf)`` pairs to ``scores``."""
        norms = self.reader.length_norms(self.field, BM25_K1, BM25_B)
        lengths = self.reader.column(f"{self.field}_len")
        factor, idf, k1 = self.factor, self.idf, BM25_K1 + 1
        if not scores:  # the first term: 0.0 + its score is its score, to the bit
            scores.update(
                {docnum: factor * (idf * ((tf * k1) / (tf + norms[lengths[docnum]]))) for docnum, tf in pairs}
            )
            return
        get = scores.get
        for docnum, tf in pairs:
            scores[docnum] = get(docnum, 0.0) + factor * (
                idf * ((tf * k1) / (tf + norms[lengths[docnum]]))
            )


    def contributions(self, ids: np.ndarray, tfs: np.ndarray | None) -> np.ndarray:
        """What :meth:`add` adds for postings ``(ids, tfs)`` (None: every tf is 1), as an array."""
        import numpy as np

        norms = np.asarray(self.reader.length_norms(self.field, BM25_K1, BM25_B))
        lengths = np.asarray(self.reader.column(f"{self.field}_len"))
        tf = np.ones(len(ids)) if tfs is None else tfs
        return self.factor * (self.idf * ((tf * (BM25_K1 + 1)) / (tf + norms[lengths[ids]])))


def _scorers(reader: IndexReader, terms: list[tuple[str, float]]) -> list[_FieldScorer]:
    out = []
    for term, weight in terms:
        for fname, boost in (("title", TITLE_BOOST), ("body", 1.0)):
            stats = reader.term_stats(fname, term)
            if stats is not None:
                out.append(_FieldScorer(reader, term, fname, weight * boost if weight != 1.0 else boost, stats))
    return out


def _summed_scorers(reader: IndexReader, terms: list[tuple[str, float]]) -> list[_FieldScorer]:
    """The scorers of :func:`bm25f` in the order their contributions are added up."""
    scorers = _scorers(reader, terms)
    if len(scorers) == 2:  # a sum of two is the same either way round: the longer list first
        scorers.sort(key=lambda sc: -sc.doc_frequency)
    return scorers


def bm25f(
    reader: IndexReader, terms: list[tuple[str, float]], docs: set[int]
) -> dict[int, float]:
    """BM25F scores of ``docs`` for weighted ``terms`` (title weighted :data:`TITLE_BOOST`, body 1).

    The ranking function of search and ``similar`` (:func:`top_bm25f`): per
    term and field ``weight × boost × idf × tf(k1 + 1) / (tf + k1((1 − b) + b ×
    length / average length))`` with Whoosh's idf ``log(N / (df + 1)) + 1``
    and byte-quantised field lengths, summed.
    """
    scores: dict[int, float] = {}
    if not docs:
        return scores
    for scorer in _summed_scorers(reader, terms):
        ids, tfs = scorer.postings()
        if docs.issuperset(ids):  # every posting is a match (one word, say): no test per posting
            scorer.add(scores, zip(ids, tfs, strict=True))
        else:
            scorer.add(scores, ((d, tf) for d, tf in zip(ids, tfs, strict=True) if d in docs))
    return scores


def head_bm25f(
    reader: IndexReader, terms: list[tuple[str, float]], docs: set[int], depth: int
) -> list[tuple[int, float]]:
    """The first ``depth`` of ``docs`` with their :func:`bm25f` scores, in search's order
    (best score, then newest, then docnum).

    The same scores, to the bit (the same operations in the same order, per
    document), computed over numpy arrays: for a common word the per-posting
    work of :func:`bm25f` is what a search would spend its time on.
    """
    import numpy as np

    matched = np.fromiter(docs, np.int64, len(docs))
    matched.sort()
    scores = np.zeros(len(matched))
    for scorer in _summed_scorers(reader, terms):
        ids, tfs = reader.posting_arrays(scorer.field, scorer.term)
        at, hit = locate(matched, ids)
        scores[at[hit]] += scorer.contributions(ids[hit], None if tfs is None else tfs[hit])
    if depth < len(matched):
        # only documents scoring at least the depth-th best score can be in the head
        cutoff = np.partition(scores, len(matched) - depth)[len(matched) - depth]
        keep = scores >= cutoff
        matched, scores = matched[keep], scores[keep]
    published = np.asarray(reader.column("published"))[matched]
    order = np.lexsort((matched, -published, -scores))[:depth]
    return list(zip(matched[order].tolist(), scores[order].tolist(), strict=True))


def top_bm25f(
    reader: IndexReader, terms: list[tuple[str, float]], k: int, exclude: Iterable[int] = ()
) -> list[tuple[int, float]]:
    """The ``k`` best documents for weighted ``terms`` by :func:`bm25f`, best first (ties: docnum).

    Term at a time with MaxScore pruning: terms go from the highest possible
    contribution down; once what the remaining terms could add together is
    below the k-th best score so far, no new document can enter the top, and
    the remaining (common, low-idf) terms only complete the scores of the
    candidates, found by bisection in their lists instead of walking them.
    """
    scorers = sorted(_scorers(reader, terms), key=lambda sc: -sc.upper)
    excluded = set(exclude)
    remaining = sum(sc.upper for sc in scorers)
    scores: dict[int, float] = {}
    theta = 0.0
    closed = False
    for scorer in scorers:
        # the sum less each bound, in floating point, can end a hair below zero: never trust that
        remaining = max(remaining - scorer.upper, 0.0)
        ids, tfs = scorer.postings()
        if not closed:
            scorer.add(scores, zip(ids, tfs, strict=True))
        else:
            pairs = []
            for docnum in scores:
                at = bisect_left(ids, docnum)
                if at < len(ids) and ids[at] == docnum:
                    pairs.append((docnum, tfs[at]))
            scorer.add(scores, pairs)
        for docnum in excluded:
            scores.pop(docnum, None)
        if len(scores) >= k:
            # a margin for rounding: scores summed in another order differ in the last bits
            theta = heapq.nlargest(k, scores.values())[-1] * (1 - 1e-9)
            if remaining < theta:
                closed = True
                scores = {d: v for d, v in scores.items() if v + remaining >= theta}
    return heapq.nsmallest(k, scores.items(), key=lambda x: (-x[1], x[0]))


def _positive_terms(node: Node, negated: bool = False) -> list[Term]:
    if isinstance(node, Term):
        return [] if negated else [node]
    if isinstance(node, Not):
        return _positive_terms(node.child, not negated)
    out: list[Term] = []
    for child in node.children:
        out.extend(_positive_terms(child, negated))
    return out


def find_spans(folded: str, terms: list[str]) -> list[tuple[int, int]]:
    """Non-overlapping ``(start, end)`` spans of ``terms`` in ``folded`` (longest terms win)."""
    taken = [False] * len(folded)
    spans = []
    for term in terms:
        if not term:
            continue
        start = folded.find(term)
        while start != -1:
            end = start + len(term)
            if not any(taken[start:end]):
                spans.append((start, end))
                for i in range(start, end):
                    taken[i] = True
            start = folded.find(term, end)
    return sorted(spans)


def make_snippet(
    text: str, terms: list[str], width: int = SNIPPET_CHARS
) -> tuple[str, list[tuple[int, int]]]:
    """One or two fragments of ``text`` around the query terms, joined by `` … ``, with spans.

    The fragments are chosen to show as many different terms as possible.
    """
    flat = _SPACE.sub(" ", text).strip()
    if not flat:
        return "", []
    folded = fold_aligned(flat)
    spans = find_spans(folded, terms)
    if not spans:
        cut = flat[: width * 2]
        return cut + ("…" if len(flat) > len(cut) else ""), []
    # choose up to two windows: the one covering most distinct terms, then the best for the rest
    windows: list[tuple[int, int]] = []
    remaining = list(spans)
    for _ in range(2):
        if not remaining:
            break
        best = None
        for s, _e in remaining:
            lo = max(0, s - width // 3)
            hi = min(len(flat), lo + width)
            inside = {folded[a:b] for a, b in remaining if a >= lo and b <= hi}
            if best is None or len(inside) > best[0]:
                best = (len(inside), lo, hi)
        assert best is not None
        _n, lo, hi = best
        windows.append((lo, hi))
        covered = {folded[a:b] for a, b in spans if a >= lo and b <= hi}
        remaining = [(a, b) for a, b in remaining if folded[a:b] not in covered]
    windows.sort()
    merged: list[tuple[int, int]] = []
    for lo, hi in windows:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    parts: list[str] = []
    out_spans: list[tuple[int, int]] = []
    pos = 0
    for i, (lo, hi) in enumerate(merged):
        prefix = "…" if lo > 0 and i == 0 else ""
        if i > 0:
            prefix = " … "
        fragment = prefix + flat[lo:hi]
        base = pos + len(prefix)
        for a, b in spans:
            if a >= lo and b <= hi:
                out_spans.append((base + a - lo, base + b - lo))
        parts.append(fragment)
        pos += len(fragment)
    snippet = "".join(parts)
    if merged[-1][1] < len(flat):
        snippet += "…"
    return snippet, out_spans


def open_searcher(data_dir: str | Path, *, aliases: bool = True) -> Searcher:
    """Open an archive for searching (raises :class:`ArchiveError` when there is none).

    With ``aliases``, query words match their alias variants (see ``aliases.py``).
    """
    store = open_store(data_dir)
    try:
        indexed = store.indexed_count()  # before the index: see check_doc_count
        dictionary = store.dictionary_state()  # before the index: see Searcher.__init__
        try:
            ix = open_index(data_dir)
        except ArchiveError:
            if store.count():
                raise
            ix = empty_index()  # a new archive killed before its index was made: nothing to find
        alias_table = load_aliases(data_dir) if aliases else None
        for attempt in range(1, SEARCH_ATTEMPTS + 1):
            try:
                reader = IndexReader(ix)
            except FileNotFoundError as exc:
                # an ingest merged away a segment between reading the TOC and opening it
                if not segment_vanished(exc):
                    raise
                if attempt == SEARCH_ATTEMPTS:
                    raise ArchiveError("the index changed while it was opened; try again") from None
                time.sleep(0.05 * attempt)
                continue
            try:
                check_doc_count(index_dir(data_dir), reader.doc_count(), indexed)
                return Searcher(store, reader, dictionary, alias_table)
            except BaseException:
                reader.close()
                raise
    except BaseException:
        store.close()
        raise
    raise AssertionError("unreachable")


def segment_vanished(exc: FileNotFoundError) -> bool:
    """Whether ``exc`` is about a segment file of the index, which a concurrent ingest removes
    when it merges that segment away: the one failure a search retries on a newer commit."""
    return exc.filename is not None and Path(exc.filename).name.startswith(f"{INDEX_NAME}_")


def search(
    data_dir: str | Path, text: str, options: SearchOptions | None = None, *, aliases: bool = True
) -> SearchResult:
    """Search the archive at ``data_dir`` with a query string (see :func:`run_query`)."""
    return run_query(data_dir, parse_query(text), options, aliases=aliases)


T = TypeVar("T")


def run_query(
    data_dir: str | Path, node: Node, options: SearchOptions | None = None, *, aliases: bool = True
) -> SearchResult:
    """Run a parsed query on the embedded archive at ``data_dir``: one page of hits."""
    return searching(data_dir, lambda searcher: searcher.run(node, options), aliases=aliases)


def searching(data_dir: str | Path, work: Callable[[Searcher], T], *, aliases: bool = True) -> T:
    """``work(searcher)`` on a searcher of the archive at ``data_dir``, opened for it.

    While an ingest commits, a segment this searcher opened may be merged away,
    or a re-index may switch the query dictionary (:class:`ArchiveChanged`):
    ``work`` then starts again on a searcher of the newer commit (a few times at most).
    """
    for attempt in range(1, SEARCH_ATTEMPTS + 1):
        with open_searcher(data_dir, aliases=aliases) as searcher:
            try:
                return work(searcher)
            except (FileNotFoundError, ArchiveChanged) as exc:
                if isinstance(exc, FileNotFoundError) and not segment_vanished(exc):
                    raise
                if attempt == SEARCH_ATTEMPTS:
                    raise ArchiveError("the index changed during the search; try again") from None
    raise AssertionError("unreachable")
