"""Export to OpenSearch / Elasticsearch: a ``_bulk`` NDJSON stream and its index mapping.

A cluster cannot run jieba the way newsarc does (same dictionary, same
script folding, same search-mode cut), so the documents carry newsarc's own
analysis, pre-segmented: ``title_tokens`` and ``body_tokens`` hold the
space-joined words (each repeated as often as it occurs, so term frequencies
agree) and ``recall_tokens`` every word and dictionary gram of the article
once (what newsarc matches on).  The mapping indexes those fields with the
``whitespace`` analyzer, so a query made of newsarc's query tokens finds and
ranks what ``newsarc search`` finds and ranks.  The original fields (title,
text, url, source, published, authors …) are kept alongside.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from newsarc.analysis import Segmenter, analyze, fold_article
from newsarc.index import TITLE_BOOST

DEFAULT_INDEX = "newsarc"


def index_mapping() -> dict[str, Any]:
    """The index settings and mapping (``PUT /newsarc`` body) that the bulk documents fit."""
    tokens = {"type": "text", "analyzer": "whitespace", "similarity": "BM25"}
    keyword = {"type": "keyword"}
    return {
        "settings": {"index": {"number_of_shards": 1}},
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "id": keyword,
                "url": keyword,
                "title": {"type": "text"},
                "source": keyword,
                "source_name": keyword,
                "published": {"type": "date", "format": "strict_date_optional_time"},
                "archived": {"type": "date", "format": "strict_date_optional_time"},
                "authors": keyword,
                "tags": keyword,
                "text": {"type": "text"},
                "captions": {"type": "text"},
                "images": {"type": "keyword", "index": False},
                "path": {"type": "keyword", "index": False},
                "title_tokens": tokens,
                "body_tokens": tokens,
                "recall_tokens": {
                    "type": "text",
                    "analyzer": "whitespace",
                    "index_options": "docs",
                    "norms": False,
                },
            },
        },
    }


_RECORD_FIELDS = frozenset(index_mapping()["mappings"]["properties"]) - {
    "title_tokens",
    "body_tokens",
    "recall_tokens",
}


def _repeat(words: Counter[str]) -> str:
    return " ".join(" ".join([word] * count) for word, count in words.items())


def document(record: Mapping[str, Any], segmenter: Segmenter) -> dict[str, Any]:
    """One article record (``newsarc export`` JSON) as a cluster document with token fields.

    Title and body are folded (:func:`~newsarc.analysis.fold_article`) and
    analysed exactly as the ingest does.
    """
    folded_title, folded_body = fold_article(
        record.get("title", ""), record.get("text", ""), record.get("captions", [])
    )
    title = analyze(folded_title, segmenter)
    body = analyze(folded_body, segmenter)
    recall = set(title.words) | set(body.words) | title.grams | body.grams
    doc = {key: value for key, value in record.items() if key in _RECORD_FIELDS}
    if not doc.get("published"):
        doc.pop("published", None)
    doc["title_tokens"] = _repeat(title.words)
    doc["body_tokens"] = _repeat(body.words)
    doc["recall_tokens"] = " ".join(sorted(recall))
    return doc


def bulk_pairs(
    records: Iterable[Mapping[str, Any]], segmenter: Segmenter, index: str = DEFAULT_INDEX
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """``(action, document)`` pairs of the ``_bulk`` API, one per record."""
    for record in records:
        yield {"index": {"_index": index, "_id": record["id"]}}, document(record, segmenter)


def bulk_lines(
    records: Iterable[Mapping[str, Any]], segmenter: Segmenter, index: str = DEFAULT_INDEX
) -> Iterator[str]:
    """The ``_bulk`` NDJSON stream, line by line (without newlines): action, document, …"""
    for action, doc in bulk_pairs(records, segmenter, index):
        yield json.dumps(action, ensure_ascii=False)
        yield json.dumps(doc, ensure_ascii=False)


def query_body(words: Iterable[Iterable[str]], size: int = 10) -> dict[str, Any]:
    """A search body that reproduces a newsarc AND query in the cluster.

    ``words`` holds, per query word, the tokens newsarc cuts it into (folded,
    e.g. ``[["普京"], ["朝鲜"]]``): all of them are required in ``recall_tokens``
    (as newsarc requires every word), and all rank through ``title_tokens``
    (boosted) and ``body_tokens``.
    """
    must = []
    ranking: list[str] = []
    for pieces in words:
        pieces = list(pieces)
        must.append({"match": {"recall_tokens": {"query": " ".join(pieces), "operator": "and"}}})
        ranking.extend(pieces)
    return {
        "size": size,
        "query": {
            "bool": {
                "must": must,
                "should": [
                    {
                        "multi_match": {
                            "query": " ".join(dict.fromkeys(ranking)),
                            "type": "best_fields",
                            "fields": [f"title_tokens^{TITLE_BOOST}", "body_tokens"],
                        }
                    }
                ],
            }
        },
    }


def write_bulk(
    records: Iterable[Mapping[str, Any]], out: Any, segmenter: Segmenter, index: str = DEFAULT_INDEX
) -> int:
    """Write the ``_bulk`` stream for ``records`` to the text stream ``out``; returns the article count."""
    count = 0
    for line in bulk_lines(records, segmenter, index):
        out.write(line + "\n")
        count += 1
    return count // 2
