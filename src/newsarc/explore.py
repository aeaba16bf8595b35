"""Exploring the archive beyond one query: similar articles, timelines, keywords.

All three work on an open :class:`~newsarc.search.Searcher` (the ``*_in``
functions) or on an archive directory (the plain functions, which open and
close one).

*Keywords* are an article's characteristic words: the jieba search-mode words
of its folded title and text, weighted by TF-IDF against the archive's own
document frequencies (the index's ``title``/``body`` fields), with stop-like
tokens dropped.  The index keeps no term vectors, so the article's words are
recomputed from its stored record, folded by the function the ingest folds
with (:func:`newsarc.analysis.fold_article`) and cut by the archive's segmenter.

*Similar* articles: an OR query of the article's top keywords, each boosted by
its weight, ranked by BM25F (title weighted above body), the article itself
and copies of it (same outlet, same title) left out.

*Timeline*: how many articles match a query per day, month or year of
publication, on a continuous axis.  A period is the article's own calendar
date (its ``published`` value, in the outlet's time zone — a Hong Kong
article of 1 January is counted in January, as ``stats`` counts years);
``--since``/``--until`` filter by the same local date, as in search.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import compress
from operator import not_
from pathlib import Path

from newsarc.analysis import Segmenter, analyze
from newsarc.errors import QueryError, UnknownArticle
from newsarc.query import Node, parse_query
from newsarc.records import Hit
from newsarc.search import Searcher, SearchOptions, parse_date_bound, searching, top_bm25f

PERIODS = ("year", "month", "day")
#: The longest timeline axis, in periods (27 years of days); a longer one is refused.
MAX_PERIODS = 10_000
_LABEL_CHARS = {"year": 4, "month": 7, "day": 10}
#: How many of an article's keywords make the similarity query.
SIMILAR_TERMS = 25
#: Weight of a title occurrence relative to a body occurrence in an article's term frequencies.
TITLE_TF_WEIGHT = 3

_STOPWORD_TEXT = """
    的 了 在 是 和 也 都 就 而 及 与 或 等 这 那 他 她 它 们 说 着 被 把 对 从 向 到 以 为 于 之 其
    表示 认为 进行 已经 没有 我们 他们 她们 它们 你们 一个 以及 因为 所以 但是 如果 可以 这个 那个
    这些 那些 这样 那样 这种 那种 什么 怎么 如何 为什么 因此 然而 而且 并且 或者 还是 不是 就是 只是
    可能 能够 应该 需要 必须 一些 一样 一直 一起 一定 一次 一种 其中 其他 其它 以来 以后 以前 之后
    之前 之间 当时 目前 现在 今天 昨天 明天 今年 去年 明年 时候 时间 同时 此外 另外 包括 通过 根据
    关于 由于 对于 作为 成为 不过 虽然 尽管 还有 也是 就是 都是 不会 不能 不要 没有 自己 大家 有关
    指出 称 据 报道 表明 强调 提到 透过 并 又 再 很 最 更 非常 所有 任何 每个 许多 很多 不少 当地
    记者 新闻 本文 文章 图片 资料 照片 来源 编辑 报导 中文 网站 消息 问题 方面 情况 工作 发展
    the a an and or of to in on for with by at from is are was were be been it that this as
"""
#: Function words and reporting verbs that say nothing about an article's subject.
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_NUMERIC = re.compile(r"[\d.,:/%+\-']+")
_HAS_WORD_CHAR = re.compile(r"\w")


@dataclass(slots=True)
class Timeline:
    """Counts per period (``rows``, continuous), the matching total, and undated matches."""

    rows: list[tuple[str, int]]
    total: int
    undated: int = 0


# --------------------------------------------------------------------------- article terms


def _segmenter(searcher: Searcher) -> Segmenter:
    """The segmenter the archive was indexed with (its user dictionary included)."""
    cached = getattr(searcher, "_explore_segmenter", None)
    if cached is None:
        # imported here: timelines (and research's counts) never need the ingest's module
        from newsarc.ingest import archive_segmenter

        cached = archive_segmenter(searcher.store.path)
        searcher._explore_segmenter = cached  # type: ignore[attr-defined]
    return cached


def article_words(searcher: Searcher, article_id: str) -> tuple[Counter[str], Counter[str]]:
    """The ``(title, body)`` words of a stored article, as the index counted them."""
    folded = dict(searcher.store.folded_texts([article_id])).get(article_id)
    if folded is None:
        raise UnknownArticle(f"no article with id {article_id}")
    title, _, body = folded.partition("\n")
    segmenter = _segmenter(searcher)
    return analyze(title, segmenter).words, analyze(body, segmenter).words


def is_stopword(term: str) -> bool:
    """Whether ``term`` is too general to characterise an article.

    Single characters, Latin tokens of fewer than three letters, pure numbers
    or punctuation, and :data:`STOPWORDS`.
    """
    return (
        len(term) < 2
        or (len(term) < 3 and term.isascii())
        or term in STOPWORDS
        or bool(_NUMERIC.fullmatch(term))
        or not _HAS_WORD_CHAR.search(term)
    )


def _drop_inner_words(counts: Counter[str]) -> Counter[str]:
    """Drop search-mode sub-words that only occur inside a longer word of the text.

    jieba's search mode emits 罗斯 with every 俄罗斯; 罗斯 is dropped unless it
    also occurs on its own (more often than 俄罗斯).
    """
    out = Counter(counts)
    for word, n in counts.items():
        for k in range(2, len(word)):
            for i in range(len(word) - k + 1):
                inner = word[i : i + k]
                if inner in out and out[inner] <= n:
                    del out[inner]
    return out


def keywords_in(searcher: Searcher, article_id: str, limit: int = 20) -> list[tuple[str, float]]:
    """An article's characteristic terms with weights (the best is 1.0).

    TF-IDF: term frequency (title occurrences count :data:`TITLE_TF_WEIGHT`
    times) times ``log((N + 1) / df)``, where ``N`` is the number of archived
    articles and ``df`` the number whose title or body has the word.
    """
    title, body = article_words(searcher, article_id)
    tf: Counter[str] = Counter()
    for word, n in title.items():
        tf[word] += TITLE_TF_WEIGHT * n
    tf.update(body)
    tf = _drop_inner_words(tf)
    reader = searcher.reader
    n_docs = max(reader.doc_count(), 1)
    scored: list[tuple[str, float]] = []
    for word, n in tf.items():
        if is_stopword(word):
            continue
        df = max(
            reader.doc_frequency("body", word),
            reader.doc_frequency("title", word),
            1,
        )
        idf = math.log((n_docs + 1) / df)
        if idf <= 0:
            continue
        scored.append((word, n * idf))
    scored.sort(key=lambda x: (-x[1], x[0]))
    scored = scored[:limit]
    top = scored[0][1] if scored else 1.0
    return [(word, round(weight / top, 6)) for word, weight in scored]


# --------------------------------------------------------------------------- similar


def similar_in(searcher: Searcher, article_id: str, limit: int = 10) -> list[Hit]:
    """The articles most like ``article_id`` (a full id), best first, as search hits.

    The query is the article's top :data:`SIMILAR_TERMS` keywords, each boosted
    by its weight; the article itself and other articles of the same outlet
    with the same title are excluded.
    """
    terms = keywords_in(searcher, article_id, SIMILAR_TERMS)
    if not terms:
        return []
    me = searcher.store.summaries([article_id]).get(article_id)
    own = searcher.reader.docnum(article_id)
    page = top_bm25f(searcher.reader, terms, limit * 2 + 10, () if own is None else (own,))
    highlights = sorted((w for w, _ in terms[:10]), key=len, reverse=True)
    hits = []
    for hit in searcher.hits(page, highlights):
        if hit.id == article_id:
            continue
        if me is not None and hit.source == me.source and hit.title.strip() == me.title.strip():
            continue
        hits.append(hit)
        if len(hits) >= limit:
            break
    return hits


# --------------------------------------------------------------------------- timeline


def period_label(timestamp: int, by: str) -> str:
    """``2023``, ``2023-09`` or ``2023-09-17`` for an epoch second (UTC)."""
    day = datetime.fromtimestamp(timestamp, UTC)
    if by == "year":
        return f"{day.year:04d}"
    if by == "month":
        return f"{day.year:04d}-{day.month:02d}"
    return day.strftime("%Y-%m-%d")


def _label_date(label: str) -> date:
    """The first day of a period label (``2023``, ``2023-09``, ``2023-09-17``)."""
    parts = [int(p) for p in label.split("-")] + [1, 1]
    return date(parts[0], parts[1], parts[2])


def _period_count(first: str, last: str, by: str) -> int:
    """How many periods an axis from label ``first`` to label ``last`` has."""
    start, end = _label_date(first), _label_date(last)
    if by == "year":
        return end.year - start.year + 1
    if by == "month":
        return (end.year - start.year) * 12 + end.month - start.month + 1
    return (end - start).days + 1


def period_axis(first: str, last: str, by: str) -> list[str]:
    """Every period label from label ``first`` to label ``last``, in order."""
    start = _label_date(first)
    count = _period_count(first, last, by)
    if by == "year":
        return [f"{year:04d}" for year in range(start.year, start.year + count)]
    if by == "month":
        months = start.year * 12 + start.month - 1
        return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(months, months + count)]
    return [(start + timedelta(days=n)).isoformat() for n in range(count)]


def _bound_label(text: str, by: str, *, end: bool) -> str:
    """The period label of a ``--since`` (or, with ``end``, ``--until``) date."""
    value = parse_date_bound(text, end=end)
    day = f"{value // 10000:04d}-{value // 100 % 100:02d}-{value % 100:02d}"
    return day[: _LABEL_CHARS[by]]


def timeline_in(
    searcher: Searcher, text: str | Node, by: str = "month", options: SearchOptions | None = None
) -> Timeline:
    """How many articles match the query ``text`` per period (``year``, ``month`` or ``day``).

    The same query language and filters (sources, since, until) as search.
    The axis (the articles' local publication dates) runs from ``since``, else
    the first hit, to ``until``, else the last hit, periods without hits
    included with 0; no hits, no axis.  An axis longer than
    :data:`MAX_PERIODS` raises :class:`QueryError`.
    Articles without a usable publication date are counted in ``undated``.
    """
    if by not in PERIODS:
        raise QueryError(f"unknown period {by!r} (use {', '.join(PERIODS)})")
    options = options or SearchOptions()
    node = parse_query(text) if isinstance(text, str) else text
    docs = searcher.matching_docs(node, options)
    counts, undated = period_counts(searcher, docs, by)
    return Timeline(rows=timeline_rows(counts, by, options), total=len(docs), undated=undated)


def period_counts(searcher: Searcher, docs: Iterable[int], by: str) -> tuple[Counter[str], int]:
    """How many of ``docs`` were published in each period (``year``/``month``/``day`` label of
    the local date, else of the UTC date of the publication time, from the index's columns),
    and how many have neither."""
    published = searcher.reader.column("published")
    days = searcher.reader.column("day")
    docs = list(docs)
    day_of = list(map(days.__getitem__, docs))  # C-level passes, no per-doc call
    per_day = Counter(day_of)
    counts: Counter[str] = Counter()
    for day, n in per_day.items():
        if day:
            counts[_day_label(day, by)] += n
    undated = 0
    if per_day.get(0):  # no local date of its own: the UTC date of the publication time, if any
        for docnum in compress(docs, map(not_, day_of)):
            if published[docnum]:
                counts[period_label(published[docnum], by)] += 1
            else:
                undated += 1
    return counts, undated


def timeline_rows(counts: Mapping[str, int], by: str, options: SearchOptions) -> list[tuple[str, int]]:
    """A timeline's rows from the hits' counts per period label (any engine's): the axis runs from
    ``since``, else the first label, to ``until``, else the last, empty periods included with 0;
    no counts, no rows.  An axis longer than :data:`MAX_PERIODS` raises :class:`QueryError`."""
    if not counts:
        return []
    first, last = min(counts), max(counts)
    if options.since:
        first = min(first, _bound_label(options.since, by, end=False))
    if options.until:
        last = max(last, _bound_label(options.until, by, end=True))
    periods = _period_count(first, last, by)
    if periods > MAX_PERIODS:
        raise QueryError(
            f"a timeline by {by} from {first} to {last} would have {periods:,} periods "
            f"(at most {MAX_PERIODS:,}): narrow --since/--until or use a longer --by"
        )
    return [(label, counts.get(label, 0)) for label in period_axis(first, last, by)]


def _day_label(day: int, by: str) -> str:
    """The period label of a local date given as YYYYMMDD (the index's ``day`` column)."""
    year, month, mday = day // 10000, day // 100 % 100, day % 100
    if by == "year":
        return f"{year:04d}"
    if by == "month":
        return f"{year:04d}-{month:02d}"
    return f"{year:04d}-{month:02d}-{mday:02d}"


# --------------------------------------------------------------------------- archive-level API


def similar(data_dir: str | Path, article_id: str, limit: int = 10) -> tuple[str, list[Hit]]:
    """``newsarc similar``: the full id of ``article_id`` (a unique prefix) and its similar articles."""
    def work(searcher: Searcher) -> tuple[str, list[Hit]]:
        full = searcher.store.resolve(article_id)
        return full, similar_in(searcher, full, limit)

    return searching(data_dir, work, aliases=False)


def keywords(
    data_dir: str | Path, article_id: str, limit: int = 20
) -> tuple[str, list[tuple[str, float]]]:
    """``newsarc keywords``: the full id of ``article_id`` and its characteristic terms."""
    def work(searcher: Searcher) -> tuple[str, list[tuple[str, float]]]:
        full = searcher.store.resolve(article_id)
        return full, keywords_in(searcher, full, limit)

    return searching(data_dir, work, aliases=False)


def timeline(
    data_dir: str | Path,
    text: str | Node,
    by: str = "month",
    options: SearchOptions | None = None,
    *,
    aliases: bool = True,
) -> Timeline:
    """``newsarc timeline``: matches of ``text`` per period in the archive at ``data_dir``."""
    return searching(data_dir, lambda searcher: timeline_in(searcher, text, by, options), aliases=aliases)
