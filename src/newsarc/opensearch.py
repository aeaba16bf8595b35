"""OpenSearch: newsarc's second engine, and the ``_bulk`` export that feeds any cluster.

A cluster cannot run jieba the way newsarc does (same dictionary, same
script folding, same search-mode cut), so documents carry newsarc's own
analysis, pre-segmented: ``title_tokens`` and ``body_tokens`` hold the
space-joined words (each repeated as often as it occurs, so term frequencies
agree) and ``recall_tokens`` every word and dictionary gram of the article
once (what newsarc matches dictionary words on).  The mapping indexes those
fields with the ``whitespace`` analyzer.  ``folded`` (the folded title and
body) is indexed as single CJK characters plus bigrams (``cjk_bigram`` with
``output_unigrams``), so a string jieba does not know (崔善姬) is found
verbatim by ``match_phrase``; ``title_folded`` (a keyword) answers ``title:``
substrings.  The original fields (title, text, url, source, published,
authors …) are kept alongside; the analysed fields are indexed, not stored.

An archive directory bound to a cluster (``newsarc init --opensearch URL``)
keeps only ``engine.json`` (where the cluster is; no password), an
optional ``opensearch.secret`` (mode 0600) and the segmentation dictionary
(``newsarc.db``, no articles).  :class:`Cluster` then ingests (workers parse
and analyse in parallel, ``helpers.streaming_bulk`` sends, external versions
let the cluster itself keep the newest version of each article), and
:class:`ClusterSearcher` translates the query tree of :mod:`newsarc.query`
into the query DSL, with the same hit sets as the embedded engine.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from newsarc.analysis import Segmenter, analyze, fold, fold_aligned, fold_article
from newsarc.binding import (
    DEFAULT_INDEX,
    ClusterConfig,
    _redact,
    is_bound,
    load_config,
    save_config,
    split_credentials,
)
from newsarc.errors import ArchiveError, NewsarcError, QueryError, UnknownArticle
from newsarc.index import TITLE_BOOST, IndexDocument
from newsarc.query import Node, Not, Or, Term, parse_query
from newsarc.records import ARTICLE_FIELDS, Article, Hit, IngestSummary, printable_path
from newsarc.search import (
    COVERAGE_WEIGHT,
    RERANK_DEPTH,
    SORTS,
    Searcher,
    SearchOptions,
    SearchResult,
    _positive_terms,
    find_spans,
    make_snippet,
    parse_date_bound,
)

#: Fields of the cluster document that are indexed only (not kept in ``_source``).
ANALYSED_FIELDS = ("title_tokens", "body_tokens", "recall_tokens", "folded", "title_folded", "author_terms")
#: Fields the cluster keeps beside the record, for newsarc's own use.
EXTRA_FIELDS = ("archived_ms", "published_ts", "day", "file_sha1")
_SPACE = re.compile(r"\s+")


def index_mapping(shards: int = 1, replicas: int | None = None) -> dict[str, Any]:
    """The index settings and mapping (``PUT /newsarc`` body) that the documents fit."""
    tokens = {"type": "text", "analyzer": "whitespace", "similarity": "BM25"}
    keyword = {"type": "keyword"}
    stored_only = {"type": "keyword", "index": False}
    index: dict[str, Any] = {"number_of_shards": shards}
    if replicas is not None:
        index["number_of_replicas"] = replicas
    return {
        "settings": {
            "index": index,
            "analysis": {
                "filter": {
                    "newsarc_bigrams_unigrams": {"type": "cjk_bigram", "output_unigrams": True},
                    "newsarc_bigrams": {"type": "cjk_bigram"},
                },
                "analyzer": {
                    # index every CJK character and every pair; a query string becomes its
                    # pairs (one character: itself), so match_phrase finds it verbatim
                    "newsarc_chars": {"tokenizer": "standard", "filter": ["newsarc_bigrams_unigrams"]},
                    "newsarc_chars_query": {"tokenizer": "standard", "filter": ["newsarc_bigrams"]},
                },
            },
        },
        "mappings": {
            "dynamic": "strict",
            "_source": {"excludes": list(ANALYSED_FIELDS)},
            "properties": {
                "id": keyword,
                "url": keyword,
                "title": {"type": "text"},
                "source": keyword,
                "source_name": keyword,
                "published": {"type": "date", "format": "strict_date_optional_time", "ignore_malformed": True},
                "archived": {"type": "date", "format": "strict_date_optional_time", "ignore_malformed": True},
                "authors": keyword,
                "tags": keyword,
                "text": {"type": "text"},
                "captions": {"type": "text"},
                "images": stored_only,
                "path": stored_only,
                "archived_ms": {"type": "long"},
                "published_ts": {"type": "long"},
                "day": {"type": "integer"},
                "file_sha1": stored_only,
                "title_tokens": tokens,
                "body_tokens": tokens,
                "recall_tokens": {
                    "type": "text",
                    "analyzer": "whitespace",
                    "index_options": "docs",
                    "norms": False,
                },
                "folded": {
                    "type": "text",
                    "analyzer": "newsarc_chars",
                    "search_analyzer": "newsarc_chars_query",
                    "norms": False,
                },
                "title_folded": keyword,
                "author_terms": keyword,
            },
        },
    }


def _repeat(words: Counter[str]) -> str:
    return " ".join(" ".join([word] * count) for word, count in words.items())


def analysed_document(
    article: Article, folded: str, doc: IndexDocument, digest: str | None = None
) -> dict[str, Any]:
    """The cluster document of an article analysed by the ingest (:func:`~newsarc.ingest.analyse_article`).

    ``folded`` is the folded title and body (``title + "\\n" + body``) that
    analysis returns, ``digest`` the SHA-1 of the source file (for ``show --html``).
    """
    out: dict[str, Any] = article.to_dict()
    if not out.get("published"):
        out.pop("published", None)
    title, _, _body = folded.partition("\n")
    out.update(
        archived_ms=article.archived_ms,
        published_ts=doc.published,
        day=doc.day,
        title_tokens=_repeat(doc.title.words),
        body_tokens=_repeat(doc.body.words),
        recall_tokens=" ".join(
            sorted(set(doc.title.words) | set(doc.body.words) | doc.title.grams | doc.body.grams)
        ),
        folded=folded,
        title_folded=_SPACE.sub(" ", title).strip(),
        author_terms=list(doc.authors),
    )
    if digest:
        out["file_sha1"] = digest
    return out


def document(record: Mapping[str, Any], segmenter: Segmenter, archived_ms: int | None = None) -> dict[str, Any]:
    """One article record (``newsarc export`` JSON) as a cluster document with token fields.

    Title and body are folded (:func:`~newsarc.analysis.fold_article`) and
    analysed exactly as the ingest does.  ``archived_ms`` defaults to the
    record's ``archived`` time.
    """
    from newsarc.ingest import analyse_article

    if archived_ms is None:
        archived_ms = _iso_ms(str(record.get("archived", "")))
    article = Article.from_dict(dict(record), archived_ms=archived_ms)
    folded, doc = analyse_article(article, segmenter)
    return analysed_document(article, folded, doc)


def _iso_ms(text: str) -> int:
    try:
        return int(datetime.fromisoformat(text).timestamp() * 1000)
    except (ValueError, OverflowError, OSError):
        return 0


def bulk_pairs(
    records: Iterable[Mapping[str, Any]], segmenter: Segmenter, index: str = DEFAULT_INDEX
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """``(action, document)`` pairs of the ``_bulk`` API, one per record (newest version wins)."""
    for record in records:
        doc = document(record, segmenter)
        action = {"_index": index, "_id": record["id"], "version": doc["archived_ms"], "version_type": "external"}
        yield {"index": action}, doc


def bulk_lines(
    records: Iterable[Mapping[str, Any]], segmenter: Segmenter, index: str = DEFAULT_INDEX
) -> Iterator[str]:
    """The ``_bulk`` NDJSON stream, line by line (without newlines): action, document, …"""
    for action, doc in bulk_pairs(records, segmenter, index):
        yield json.dumps(action, ensure_ascii=False)
        yield json.dumps(doc, ensure_ascii=False)


def write_bulk(
    records: Iterable[Mapping[str, Any]], out: Any, segmenter: Segmenter, index: str = DEFAULT_INDEX
) -> int:
    """Write the ``_bulk`` stream for ``records`` to the text stream ``out``; returns the article count."""
    count = 0
    for line in bulk_lines(records, segmenter, index):
        out.write(line + "\n")
        count += 1
    return count // 2


# --------------------------------------------------------------------------- binding


@contextmanager
def cluster_errors(config: ClusterConfig) -> Iterator[None]:
    """Turn the client's failures into one-line :class:`ArchiveError` messages naming the cluster."""
    import opensearchpy.exceptions as oe

    where = _redact(config.url)
    try:
        yield
    except oe.AuthenticationException:
        raise ArchiveError(f"the cluster at {where} refused the credentials (401): check the user and password") from None
    except oe.AuthorizationException as exc:
        raise ArchiveError(f"the cluster at {where} denied access to index {config.index} (403): {_reason(exc)}") from None
    except oe.NotFoundError as exc:
        if "index_not_found" in str(exc.error):
            raise ArchiveError(
                f"index {config.index} does not exist on the cluster at {where} "
                f"(create it with: newsarc init --opensearch URL --index {config.index})"
            ) from None
        raise ArchiveError(f"the cluster at {where}: {_reason(exc)}") from None
    except oe.SSLError as exc:
        raise ArchiveError(f"TLS failed with the cluster at {where}: {_first_line(exc)} (--ca-file FILE?)") from None
    except oe.ConnectionError as exc:
        raise ArchiveError(f"cannot reach the cluster at {where}: {_first_line(exc)}") from None
    except oe.TransportError as exc:
        raise ArchiveError(f"the cluster at {where} answered {exc.status_code}: {_reason(exc)}") from None


def _reason(exc: Any) -> str:
    info = getattr(exc, "info", None)
    if isinstance(info, dict):
        err = info.get("error")
        if isinstance(err, dict):
            return str(err.get("reason") or err.get("type"))
        if err:
            return str(err)
    return _first_line(exc)


def _first_line(exc: Any) -> str:
    text = str(getattr(exc, "info", None) or getattr(exc, "error", None) or exc)
    if hasattr(exc, "info") and isinstance(exc.info, Exception):
        text = str(exc.info)
    text = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return text[:200]


def make_client(config: ClusterConfig):  # type: ignore[no-untyped-def]
    """An ``OpenSearch`` client for the binding (TLS verified against ``ca_file`` when given)."""
    from opensearchpy import OpenSearch

    hosts = config.hosts
    auth = (config.username, config.password or "") if config.username else None
    kwargs: dict[str, Any] = {}
    if any(h.startswith("https:") for h in hosts):
        kwargs.update(use_ssl=True, verify_certs=True, ssl_show_warn=False)
        if config.ca_file:
            kwargs["ca_certs"] = config.ca_file
    return OpenSearch(
        hosts=hosts,
        http_auth=auth,
        timeout=60,
        max_retries=2,
        retry_on_timeout=True,
        retry_on_status=(502, 503, 504),
        **kwargs,
    )


class Cluster:
    """An archive directory bound to an OpenSearch index: the client and the index name."""

    def __init__(self, data_dir: str | Path, config: ClusterConfig) -> None:
        self.data_dir = Path(data_dir)
        self.config = config
        self.index = config.index
        self.client = make_client(config)

    def errors(self):  # type: ignore[no-untyped-def]
        """Context manager: client failures as one-line :class:`ArchiveError`."""
        return cluster_errors(self.config)

    def check(self) -> int:
        """The number of articles in the index (raises a one-line error when it cannot be reached)."""
        with self.errors():
            return int(self.client.count(index=self.index)["count"])

    def close(self) -> None:
        """Release the client's connections."""
        self.client.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_cluster(data_dir: str | Path) -> Cluster:
    """The cluster an archive directory is bound to (raises :class:`ArchiveError` if it is not)."""
    if not is_bound(data_dir):
        raise ArchiveError(f"{data_dir} is not bound to a cluster (newsarc init --opensearch URL)")
    return Cluster(data_dir, load_config(data_dir))


def init_cluster(
    data_dir: str | Path,
    url: str,
    index: str = DEFAULT_INDEX,
    *,
    ca_file: str | None = None,
    username: str | None = None,
    password: str | None = None,
    shards: int = 1,
    replicas: int | None = None,
    keep_password: bool = False,
) -> tuple[Cluster, bool]:
    """Bind ``data_dir`` to ``index`` on the cluster at ``url``; create the index if it does not exist.

    Returns the cluster and whether the index was created.  The segmentation
    dictionary is prepared locally (``newsarc.db``, which holds no articles).
    """
    clean, url_user, url_password = split_credentials(url)
    if ca_file is not None and not Path(ca_file).is_file():
        raise NewsarcError(f"{ca_file}: no such CA file")
    config = ClusterConfig(
        url=clean,
        index=index,
        ca_file=str(Path(ca_file).resolve()) if ca_file else None,
        username=username or url_user,
        password=password if password is not None else url_password,
    )
    cluster = Cluster(data_dir, config)
    with cluster.errors():
        created = False
        if not cluster.client.indices.exists(index=index):
            cluster.client.indices.create(index=index, body=index_mapping(shards, replicas))
            created = True
        cluster.client.cluster.health(index=index, wait_for_status="yellow")
    _sync_local_dictionary(data_dir, switch=True)
    save_config(data_dir, config, keep_password=keep_password)
    return cluster, created


# --------------------------------------------------------------------------- ingest


@dataclass
class ClusterIngestSummary(IngestSummary):
    """What an ingest into a cluster did: :class:`~newsarc.records.IngestSummary`'s counts, plus
    ``failed`` (``(id, reason)`` of documents the cluster refused) and ``retried`` (documents sent again)."""

    retried: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The embedded ingest's fields plus ``failed`` (a count) and ``retried``."""
        return {**super().as_dict(), "failed": len(self.failed), "retried": self.retried}


#: Documents per ``_bulk`` request, and rounds of re-sending documents the cluster could not take.
BULK_CHUNK = 500
SEND_ROUNDS = 8
#: Statuses worth sending again: overload, a shard without a primary, a node gone.
_RETRY_STATUSES = {429, 500, 502, 503, 504}
_VERSIONS = re.compile(r"current version \[(\d+)\] is higher or equal to the one provided \[(\d+)\]")


def _file_work(path: str) -> tuple[dict, None, tuple[int, str]] | tuple[str, str, None]:
    """Worker: read, parse and analyse one file into ``(cluster document, None, order)`` or
    ``(path, reason, None)``; ``order`` (the file's mtime in ns, the content digest) decides between
    copies of one archive time as the embedded ingest does."""
    import hashlib

    from newsarc.errors import RejectedFile
    from newsarc.ingest import analyse_article, ledger_key, worker_segmenter
    from newsarc.parse import parse_bytes, read_regular_file
    from newsarc.versions import content_digest

    try:
        data, st = read_regular_file(path)  # never blocks on a FIFO put in the file's place
        ledger = ledger_key(Path(path))
        article = parse_bytes(data, ledger)  # recorded as the embedded ingest records it
        article.path = printable_path(ledger)
        folded, doc = analyse_article(article, worker_segmenter())
        order = (st.st_mtime_ns, content_digest(article))
        return analysed_document(article, folded, doc, hashlib.sha1(data).hexdigest()), None, order
    except RejectedFile as exc:
        return path, exc.reason, None
    except OSError as exc:
        return path, f"cannot read: {exc.strerror or exc}", None
    except RecursionError:
        return path, "too deeply nested to parse", None
    except MemoryError:
        return path, "out of memory while parsing", None
    except Exception as exc:  # a parser bug must not stop the ingest
        return path, f"internal error while parsing: {type(exc).__name__}: {exc}", None


def _record_work(item: tuple[dict, int, str | None]) -> tuple[dict, None]:
    """Worker: analyse a stored record (``push``, ``reindex``): ``(cluster document, None)``."""
    from newsarc.ingest import analyse_article, worker_segmenter

    record, archived_ms, digest = item
    article = Article.from_dict(record, archived_ms=archived_ms)
    folded, doc = analyse_article(article, worker_segmenter())
    return analysed_document(article, folded, doc, digest), None


class _Sender:
    """Sends documents with ``streaming_bulk`` and sorts the answers into an ingest summary.

    ``streaming_bulk`` retries 429 rejections itself; documents refused for a
    passing reason (a shard whose primary is being moved after a node died, a
    node gone mid-request) are sent again, up to :data:`SEND_ROUNDS` rounds.  A
    version conflict on a document that was sent before means it landed the
    first time.  External versions make every send idempotent.
    """

    def __init__(self, cluster: Cluster, summary: ClusterIngestSummary, version_type: str = "external") -> None:
        self.cluster = cluster
        self.summary = summary
        self.version_type = version_type

    def _action(self, doc: dict) -> dict:
        return {
            "_op_type": "index",
            "_index": self.cluster.index,
            "_id": doc["id"],
            "version": doc["archived_ms"],
            "version_type": self.version_type,
            "_source": doc,
        }

    def send(self, docs: list[dict], orders: list[tuple[int, str]] | None = None) -> None:
        """Send ``docs``; of several copies of one id, the newest goes, and of equal ones the one
        with the greatest ``orders`` entry (as the embedded ingest keeps), else the first."""
        from opensearchpy import helpers

        pending: dict[str, dict] = {}
        rank: dict[str, tuple] = {}
        for i, doc in enumerate(docs):
            key = (doc["archived_ms"], orders[i] if orders is not None else ())
            if doc["id"] not in pending or key > rank[doc["id"]]:
                pending[doc["id"]], rank[doc["id"]] = doc, key
        dropped = len(docs) - len(pending)
        self.summary.older += dropped
        resent: set[str] = set()
        for attempt in range(SEND_ROUNDS):
            again: dict[str, dict] = {}
            last_error = ""
            with self.cluster.errors():
                for _ok, item in helpers.streaming_bulk(
                    self.cluster.client,
                    (self._action(d) for d in pending.values()),
                    chunk_size=BULK_CHUNK,
                    max_retries=6,
                    initial_backoff=1,
                    max_backoff=20,
                    raise_on_error=False,
                    raise_on_exception=False,
                    request_timeout=120,
                ):
                    info = item.get("index", {})
                    aid = str(info.get("_id"))
                    status = info.get("status")
                    if isinstance(status, int) and status < 300:
                        if info.get("result") == "created" or aid in resent:
                            self.summary.added += 1
                        else:
                            self.summary.updated += 1
                    elif status == 409:
                        m = _VERSIONS.search(json.dumps(info.get("error", ""), ensure_ascii=False))
                        if aid in resent:
                            self.summary.added += 1
                        elif m and m.group(1) == m.group(2):
                            self.summary.unchanged += 1
                        else:
                            self.summary.older += 1
                    elif (status in _RETRY_STATUSES or not isinstance(status, int)) and aid in pending:
                        again[aid] = pending[aid]
                        last_error = _item_reason(info)
                    else:
                        self.summary.failed.append((aid, _item_reason(info)))
            if not again:
                return
            self.summary.retried += len(again)
            resent.update(again)
            pending = again
            if attempt < SEND_ROUNDS - 1:
                time.sleep(min(2 ** attempt, 15))
        self.summary.failed.extend((aid, last_error) for aid in pending)


def _item_reason(info: Mapping[str, Any]) -> str:
    err = info.get("error")
    if isinstance(err, dict):
        return f"{err.get('type')}: {err.get('reason')}"[:300]
    return str(err or info.get("status"))[:300]


def ingest(
    paths: Iterable[str | Path],
    data_dir: str | Path,
    *,
    workers: int | None = None,
    batch_size: int | None = None,
    on_reject: Callable[[str, str], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_message: Callable[[str], None] | None = None,
) -> ClusterIngestSummary:
    """Ingest archive files and folders into the cluster ``data_dir`` is bound to.

    Workers parse and analyse (as the embedded ingest does, on every core)
    while the parent sends the previous batch.  Every file is sent: the
    cluster keeps a document only when its version (the archive time in ms)
    is newer than the one it has, so a re-ingest or an older version changes
    nothing (counted ``unchanged`` / ``older``).  Documents the cluster
    refuses for good are counted in ``failed``.
    """
    from newsarc.ingest import (
        _analysed_batches,
        default_batch_size,
        iter_archive_files,
        segmenter_spec,
    )

    started = time.perf_counter()
    batch_size = batch_size or default_batch_size()  # the embedded ingest's batches: the same counts
    summary = ClusterIngestSummary()
    with open_cluster(data_dir) as cluster:
        cluster.check()
        if _sync_local_dictionary(data_dir) and cluster.check():
            if on_message:
                on_message("dictionary changed: re-analysing the cluster's articles")
            summary.reindexed = reindex(data_dir, workers=workers)
        tasks: list[str] = []
        for path, problem in iter_archive_files(paths):
            summary.files += 1
            if problem:
                summary.rejected.append((str(path), problem))
                if on_reject:
                    on_reject(str(path), problem)
            else:
                tasks.append(str(path))
        sender = _Sender(cluster, summary)
        done = 0
        if on_progress:
            on_progress(0, len(tasks))
        batches = [tasks[i : i + batch_size] for i in range(0, len(tasks), batch_size)]
        for analysed in _analysed_batches(batches, len(tasks), workers, segmenter_spec(data_dir), _file_work):
            results = list(analysed)
            docs = []
            orders = []
            for doc_or_path, reason, order in results:
                if reason is None:
                    docs.append(doc_or_path)
                    orders.append(order)
                else:
                    summary.rejected.append((doc_or_path, reason))
                    if on_reject:
                        on_reject(doc_or_path, reason)
            sender.send(docs, orders)
            done += len(results)
            if on_progress:
                on_progress(done, len(tasks))
        with cluster.errors():
            cluster.client.indices.refresh(index=cluster.index)
    summary.seconds = time.perf_counter() - started
    return summary


def _sync_local_dictionary(data_dir: str | Path, *, switch: bool = False) -> bool:
    """Bring the bound directory's dictionary up to date; True if the cluster's articles are to be
    re-analysed with a changed one.  A changed dictionary waits beside the query dictionary until
    :func:`reindex` completes (as the embedded ingest's does), or at once with ``switch``."""
    from newsarc.ingest import archive_segmenter, segmenter_spec, sync_dictionary
    from newsarc.store import open_store

    with open_store(data_dir, create=True) as store:
        changed = sync_dictionary(store, archive_segmenter(data_dir), segmenter_spec(data_dir))
        if switch:
            store.switch_dictionary()
        return changed


def _send_records(
    cluster: Cluster,
    items: Iterable[tuple[dict, int, str | None]],
    summary: ClusterIngestSummary,
    spec: Any,
    workers: int | None,
    version_type: str,
) -> None:
    from newsarc.ingest import _analysed_batches

    sender = _Sender(cluster, summary, version_type)
    batch: list[tuple[dict, int, str | None]] = []

    def flush() -> None:
        batches = [batch[i : i + 1000] for i in range(0, len(batch), 1000)]
        for results in _analysed_batches(batches, len(batch), workers, spec, _record_work):
            sender.send([doc for doc, _ in results])
        batch.clear()

    for item in items:
        batch.append(item)
        if len(batch) >= 4000:
            flush()
    flush()
    with cluster.errors():
        cluster.client.indices.refresh(index=cluster.index)


def push(source_dir: str | Path, data_dir: str | Path, *, workers: int | None = None) -> ClusterIngestSummary:
    """Copy the embedded archive at ``source_dir`` into the cluster ``data_dir`` is bound to.

    Stored records are analysed again (with the destination's dictionary), not
    the files parsed again; external versions keep whichever copy is newer.
    """
    from newsarc.ingest import segmenter_spec
    from newsarc.store import open_store

    started = time.perf_counter()
    summary = ClusterIngestSummary()
    with open_cluster(data_dir) as cluster, open_store(source_dir) as store:
        cluster.check()
        _sync_local_dictionary(data_dir, switch=True)
        rows = store.conn.execute(
            "SELECT a.id, a.archived_ms, lower(hex(a.digest)) FROM articles a"
        ).fetchall()
        versions = {aid: (ms, digest or None) for aid, ms, digest in rows}

        def items() -> Iterator[tuple[dict, int, str | None]]:
            for record in store.iter_records():
                summary.files += 1
                ms, digest = versions.get(record["id"], (0, None))
                yield record, ms, digest

        _send_records(cluster, items(), summary, segmenter_spec(data_dir), workers, "external")
    summary.seconds = time.perf_counter() - started
    return summary


def _scan_sources(
    cluster: Cluster, sort: list[dict[str, str]], includes: list[str] | None = None
) -> Iterator[dict]:
    """Every document's ``_source`` (``includes`` only, when given) in ``sort`` order, a thousand
    at a time through ``search_after`` (``sort`` must end in a unique field)."""
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {"size": 1000, "sort": sort, "query": {"match_all": {}}}
        if includes is not None:
            body["_source"] = {"includes": includes}
        if after is not None:
            body["search_after"] = after
        with cluster.errors():
            hits = cluster.client.search(index=cluster.index, body=body)["hits"]["hits"]
        if not hits:
            return
        for hit in hits:
            yield hit["_source"]
        after = hits[-1]["sort"]


def reindex(data_dir: str | Path, *, workers: int | None = None) -> int:
    """Re-analyse every article in the cluster with the directory's dictionary; returns the count.

    Versions stay the same (``external_gte``), so a newer ingest still wins.
    """
    from newsarc.ingest import segmenter_spec

    summary = ClusterIngestSummary()
    with open_cluster(data_dir) as cluster:
        cluster.check()
        _sync_local_dictionary(data_dir)

        def items() -> Iterator[tuple[dict, int, str | None]]:
            for source in _scan_sources(cluster, [{"id": "asc"}]):
                yield _record_of(source), int(source.get("archived_ms", 0)), source.get("file_sha1")

        _send_records(cluster, items(), summary, segmenter_spec(data_dir), workers, "external_gte")
    if summary.failed:
        raise ArchiveError(f"re-indexing: the cluster refused {len(summary.failed)} articles ({summary.failed[0][1]})")
    _sync_local_dictionary(data_dir, switch=True)  # every article is now analysed with it
    return summary.added + summary.updated


def _record_of(source: Mapping[str, Any]) -> dict:
    return {name: source[name] for name in ARTICLE_FIELDS if name in source}


# --------------------------------------------------------------------------- reading


def resolve(cluster: Cluster, prefix: str) -> str:
    """The full id of the one article whose id starts with ``prefix`` (as the embedded store resolves)."""
    from newsarc.errors import AmbiguousArticle

    prefix = prefix.strip().lower()
    if len(prefix) < 4 or any(c not in "0123456789abcdef" for c in prefix):
        raise UnknownArticle(f"not an article id: {prefix!r} (give at least 4 hex digits)")
    body = {"size": 21, "sort": [{"id": "asc"}], "_source": ["id"], "query": {"prefix": {"id": prefix}}}
    with cluster.errors():
        hits = cluster.client.search(index=cluster.index, body=body)["hits"]["hits"]
    if not hits:
        raise UnknownArticle(f"no article with id {prefix}")
    if len(hits) > 1:
        raise AmbiguousArticle(prefix, [h["_source"]["id"] for h in hits])
    return str(hits[0]["_source"]["id"])


def get_source(cluster: Cluster, article_id: str) -> dict:
    """The stored ``_source`` of one article (raises :class:`UnknownArticle`)."""
    import opensearchpy.exceptions as oe

    try:
        with cluster.errors():
            return dict(cluster.client.get(index=cluster.index, id=article_id)["_source"])
    except ArchiveError:
        if _index_exists(cluster):
            raise UnknownArticle(f"no article with id {article_id}") from None
        raise
    except oe.NotFoundError:  # pragma: no cover - cluster_errors reports it
        raise UnknownArticle(f"no article with id {article_id}") from None


def _index_exists(cluster: Cluster) -> bool:
    with cluster.errors():
        return bool(cluster.client.indices.exists(index=cluster.index))


def summaries(cluster: Cluster, ids: list[str]) -> dict[str, Any]:
    """``id → StoredSummary`` of the given articles (for listing ambiguous ids)."""
    from newsarc.store import StoredSummary

    with cluster.errors():
        docs = cluster.client.mget(index=cluster.index, body={"ids": ids}, _source_includes=_SUMMARY_FIELDS)["docs"]
    return {
        d["_id"]: StoredSummary(0, d["_id"], s.get("url", ""), s.get("title", ""), s.get("source", ""),
                                s.get("source_name", ""), s.get("published", ""))
        for d in docs if d.get("found") and (s := d["_source"])
    }


def get_article(cluster: Cluster, article_id: str) -> Article:
    """The article with exactly this id, as the embedded store returns it (no HTML)."""
    source = get_source(cluster, article_id)
    return Article.from_dict(_record_of(source), archived_ms=int(source.get("archived_ms", 0)))


def original_html(cluster: Cluster, article_id: str) -> str:
    """The article's original HTML, parsed again from its source file if it still has the recorded SHA-1."""
    import hashlib

    from newsarc.errors import RejectedFile
    from newsarc.parse import parse_bytes, read_regular_file

    source = get_source(cluster, article_id)
    path, digest = source.get("path"), source.get("file_sha1")
    what = f"cannot show the original HTML of {article_id}"
    if not path or not digest:
        raise NewsarcError(f"{what}: its source file is not recorded")
    try:
        data, _st = read_regular_file(path)
    except RejectedFile as exc:
        raise NewsarcError(f"{what}: its source file {path} is no longer usable ({exc.reason})") from None
    except FileNotFoundError:
        raise NewsarcError(f"{what}: its source file {path} is gone (moved or deleted since it was ingested)") from None
    except OSError as exc:
        raise NewsarcError(f"{what}: cannot read its source file {path}: {exc.strerror}") from None
    if hashlib.sha1(data).hexdigest() != digest:
        raise NewsarcError(f"{what}: its source file {path} has changed since it was ingested")
    try:
        return parse_bytes(data, path).html
    except RejectedFile as exc:
        raise NewsarcError(f"{what}: {path} no longer parses ({exc.reason})") from None


def iter_records(cluster: Cluster) -> Iterator[dict]:
    """Every record (``newsarc export``), oldest publication first as the embedded store gives them."""
    sort = [{"published_ts": "asc"}, {"id": "asc"}]
    for source in _scan_sources(cluster, sort, list(ARTICLE_FIELDS)):
        yield _record_of(source)


def stats(cluster: Cluster) -> dict:
    """``newsarc stats`` figures from the index's aggregations (the embedded store's keys)."""
    body = {
        "size": 0,
        "track_total_hits": True,
        "aggs": {
            "sources": {
                "terms": {"field": "source", "size": 1000, "order": [{"_count": "desc"}, {"_key": "asc"}]},
                "aggs": {"name": {"terms": {"field": "source_name", "size": 1}}},
            },
            "years": {"histogram": {"field": "day", "interval": 10000, "min_doc_count": 1}},
            "authors": {
                "terms": {"field": "authors", "size": 10, "shard_size": 1000, "order": [{"_count": "desc"}, {"_key": "asc"}]}
            },
        },
    }
    with cluster.errors():
        resp = _complete(cluster, cluster.client.search(index=cluster.index, body=body))
        first = _edge_published(cluster, "asc")
        last = _edge_published(cluster, "desc")
        size = cluster.client.indices.stats(index=cluster.index, metric="store")
    aggs = resp["aggregations"]
    sources = {b["key"]: b["doc_count"] for b in aggs["sources"]["buckets"]}
    names = {b["key"]: (b["name"]["buckets"] or [{"key": ""}])[0]["key"] for b in aggs["sources"]["buckets"]}
    years = {f"{int(b['key']) // 10000:04d}": b["doc_count"] for b in aggs["years"]["buckets"] if b["key"] > 0}
    return {
        "articles": resp["hits"]["total"]["value"],
        "sources": sources,
        "source_names": names,
        "years": years,
        "first_published": first,
        "last_published": last,
        "authors": [[b["key"], b["doc_count"]] for b in aggs["authors"]["buckets"]],
        "size_bytes": size["_all"]["total"]["store"]["size_in_bytes"],
    }


def _edge_published(cluster: Cluster, order: str) -> str | None:
    body = {"size": 1, "sort": [{"published_ts": order}, {"id": "asc"}], "_source": ["published"]}
    hits = cluster.client.search(index=cluster.index, body=body)["hits"]["hits"]
    return hits[0]["_source"].get("published") if hits else None


# --------------------------------------------------------------------------- searching


def _complete(cluster: Cluster, response: Mapping[str, Any]) -> Mapping[str, Any]:
    """``response``, unless some shards did not answer (its hits would be silently incomplete)."""
    shards = response.get("_shards") or {}
    if shards.get("failed"):
        raise ArchiveError(
            f"the cluster at {_redact(cluster.config.url)} answered from {shards.get('successful')} of "
            f"{shards.get('total')} shards of index {cluster.index}: the results would be incomplete; try again"
        )
    return response


def _doc_value(hit: Mapping[str, Any], name: str, default: Any) -> Any:
    values = (hit.get("fields") or {}).get(name)
    return values[0] if values else default


def _wildcard_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


_MATCH_NONE: dict[str, Any] = {"match_none": {}}
#: Hits' fields fetched to rank and show them (the text comes with the page only).
_SUMMARY_FIELDS = ["id", "title", "source", "source_name", "published", "url", "published_ts"]
_PAGE_FIELDS = [*_SUMMARY_FIELDS, "text", "captions"]


def _and(conds: list[dict]) -> dict:
    if not conds:
        return _MATCH_NONE
    return conds[0] if len(conds) == 1 else {"bool": {"filter": conds}}


class ClusterSearcher(Searcher):
    """Answers :class:`~newsarc.search.Searcher`'s questions from a cluster.

    The query side (dictionary lookups, query pieces, aliases, ranking and
    highlight terms) is the embedded searcher's own; matching is translated
    to the query DSL (:meth:`query`), ranking is the cluster's BM25 over the
    same words with the title boosted, then the embedded title-coverage
    re-ranking of the head; snippets are made here from the returned text.
    """

    def __init__(self, cluster: Cluster, store: Any, aliases: Any = None) -> None:
        self.cluster = cluster
        self.store = store
        self.aliases = aliases
        # No check of the dictionary's signature on lookup (None): the cluster is asked after the
        # lookups, and a dictionary is switched only once the cluster's articles are re-analysed.
        self._signature, self._total = None, store.dictionary_state()[1]
        self._lookup_cache: dict[str, int | None] = {}
        self._names: dict[str, tuple[int, str]] = {}
        self._term_index: dict[int, int] = {}

    def close(self) -> None:
        self.store.close()
        self.cluster.close()

    # -- the query tree as DSL

    def query(self, node: Node, *, positive: bool = True) -> dict:
        """The DSL query matching exactly the articles the embedded engine matches for ``node``."""
        if isinstance(node, Term):
            return self._term_query(node, positive)
        if isinstance(node, Not):
            return {"bool": {"must_not": [self.query(node.child, positive=not positive)]}}
        if isinstance(node, Or):
            return {"bool": {"should": [self.query(c, positive=positive) for c in node.children],
                             "minimum_should_match": 1}}
        pos = [self.query(c, positive=positive) for c in node.children if not isinstance(c, Not)]
        neg = [self.query(c.child, positive=not positive) for c in node.children if isinstance(c, Not)]
        body: dict[str, Any] = {}
        if pos:
            body["filter"] = pos
        if neg:
            body["must_not"] = neg
        return {"bool": body}

    def _term_query(self, term: Term, positive: bool) -> dict:
        group = self.alias_group(term)
        if not group:
            return self.exact_query(term)
        number = self._term_index.setdefault(id(term), len(self._term_index))
        variants = []
        for variant in group:
            query = self.exact_query(Term(variant, term.field))
            if positive:
                name = f"{number}:{variant}"
                self._names[name] = (number, variant)
                query = {"bool": {"filter": [query], "_name": name}}
            variants.append(query)
        return {"bool": {"should": variants, "minimum_should_match": 1}}

    def exact_query(self, term: Term) -> dict:
        """One word or phrase, without aliases (see the module docstring for the fields)."""
        if term.field == "source":
            return {"term": {"source": term.text.lower()}}
        if term.field == "author":
            return {"term": {"author_terms": fold(term.text).strip()}}
        folded = fold(term.text)
        title = term.field == "title"
        conds: list[dict] = []
        if term.phrase:
            needle = _SPACE.sub(" ", folded).strip()
            pieces = [p for w in needle.split(" ") for p in self.pieces(w)]
            if not pieces:
                return _MATCH_NONE
            conds.extend({"term": {"recall_tokens": p.text}} for p in pieces if p.kind == "latin")
            conds.append(self._title_contains(needle) if title else {"match_phrase": {"folded": needle}})
            return _and(conds)
        for piece in self.pieces(folded):
            if title:
                conds.append(self._title_contains(piece.text))
                if piece.kind == "latin":
                    conds.append({"term": {"recall_tokens": piece.text}})
            elif piece.kind == "latin" or (piece.kind == "word" and len(piece.text) > 1):
                conds.append({"term": {"recall_tokens": piece.text}})
            else:
                conds.append({"match_phrase": {"folded": piece.text}})
        return _and(conds)

    @staticmethod
    def _title_contains(needle: str) -> dict:
        return {"wildcard": {"title_folded": {"value": f"*{_wildcard_escape(needle)}*"}}}

    def filters(self, options: Any) -> list[dict]:
        """``--source``, ``--since`` and ``--until`` as filters on ``source`` and the local ``day``."""
        out: list[dict] = []
        if options.sources:
            out.append({"terms": {"source": [s.lower() for s in options.sources]}})
        if options.since or options.until:
            start = parse_date_bound(options.since, end=False) if options.since else 0
            end = parse_date_bound(options.until, end=True) if options.until else 99_999_999
            if start > end:
                raise QueryError(f"--since {options.since} is after --until {options.until}")
            out.append({"range": {"day": {"gte": start, "lte": end}}})
        return out

    def _matching_query(self, node: Node, options: Any) -> dict:
        self._names.clear()
        self._term_index.clear()
        return {"bool": {"filter": [self.query(node), *self.filters(options)]}}

    # -- searching

    def matching_ids(self, text: str, options: Any = None) -> set[str]:
        """The ids of every article matching a query string and filters (for comparisons)."""
        query = self._matching_query(parse_query(text), options or SearchOptions())
        return {h["_id"] for h in self._fetch(query, [{"id": "asc"}], None, source=False)}

    def count(self, text: str, options: Any = None) -> int:
        """How many articles match (the search's total)."""
        query = self._matching_query(parse_query(text), options or SearchOptions())
        with self.cluster.errors():
            return int(self.cluster.client.count(index=self.cluster.index, body={"query": query})["count"])

    def _fetch(self, query: dict, sort: list, count: int | None, *, source: Any = False) -> list[dict]:
        """The first ``count`` hits (all with None) in ``sort`` order, paging with ``search_after``.

        Hits carry their id, score, matched named queries and, from doc values,
        the folded title and the publication time (what re-ranking needs): no
        ``_source``, whose loading would cost most of a search.
        """
        return self._fetch_counted(query, sort, count, source=source)[0]

    def _fetch_counted(
        self, query: dict, sort: list, count: int | None, *, source: Any = False
    ) -> tuple[list[dict], int]:
        """:meth:`_fetch` and the number of all matching articles (counted by the first request)."""
        out: list[dict] = []
        after = None
        total = 0
        while count is None or len(out) < count:
            size = 1000 if count is None else min(1000, count - len(out))
            body: dict[str, Any] = {"size": size, "query": query, "sort": sort, "_source": source,
                                    "docvalue_fields": ["title_folded", "published_ts"],
                                    "track_total_hits": after is None}
            if after is not None:
                body["search_after"] = after
            with self.cluster.errors():
                found = _complete(self.cluster, self.cluster.client.search(index=self.cluster.index, body=body))["hits"]
            if after is None:
                total = int(found["total"]["value"])
            hits = found["hits"]
            out.extend(hits)
            if len(hits) < size:
                break
            after = hits[-1]["sort"]
        return out, total

    def search(self, text: str | Node, options: Any = None) -> Any:
        """Run a query (a string or a parsed tree) and return one page of hits (a :class:`~newsarc.search.SearchResult`)."""
        started = time.perf_counter()
        options = options or SearchOptions()
        if options.sort not in SORTS:
            raise QueryError(f"unknown sort {options.sort!r} (use {', '.join(SORTS)})")
        node = parse_query(text) if isinstance(text, str) else text
        query = self._matching_query(node, options)
        limit = options.limit
        offset = (max(options.page, 1) - 1) * (limit or 0)
        need = None if limit is None else offset + limit
        if options.sort == "relevance":
            terms = self.ranking_terms(node)
            if terms:
                query["bool"]["should"] = [
                    {"term": {f: {"value": t, "boost": b}}}
                    for t in terms for f, b in (("title_tokens", TITLE_BOOST), ("body_tokens", 1))
                ]
            sort = ["_score", {"published_ts": "desc"}, {"id": "asc"}]
            count = None if need is None else max(need, RERANK_DEPTH)
        else:
            order = "desc" if options.sort == "newest" else "asc"
            sort = [{"published_ts": order}, {"id": order}]
            count = need
        if limit is not None and (options.sort != "relevance" or not self._reranks(node)):
            # the order is the cluster's: the page alone, with its records, in one request
            ranked, total = self._fetch_counted(query, sort, need, source=_PAGE_FIELDS)
        else:
            ranked, total = self._fetch_counted(query, sort, count)
        if options.sort == "relevance":
            ranked = self._title_coverage_hits(node, ranked)
        page = ranked[offset:] if limit is None else ranked[offset : offset + limit]
        highlights = self.highlight_terms(node)
        hits = self.page_hits(page, highlights, node)
        return SearchResult(hits, total, offset, time.perf_counter() - started)

    def _coverage_words(self, node: Node) -> list[str]:
        return [w for w in self.highlight_terms(node) if " " not in w]

    def _reranks(self, node: Node) -> bool:
        """Whether the title-coverage re-ranking can change the order (two or more words)."""
        return len(self._coverage_words(node)) >= 2

    def _title_coverage_hits(self, node: Node, ranked: list[dict]) -> list[dict]:
        """The embedded engine's title-coverage re-ranking of the head (see ``Searcher._title_coverage``)."""
        words = self._coverage_words(node)
        for hit in ranked:
            hit["_newsarc_score"] = float(hit.get("_score") or 0.0)
        if len(words) < 2 or len(ranked) < 2:
            return ranked
        head = ranked[:RERANK_DEPTH]
        for hit in head:
            title = _doc_value(hit, "title_folded", "")
            covered = sum(1 for w in words if w in title) / len(words)
            hit["_newsarc_score"] *= 1.0 + COVERAGE_WEIGHT * covered
        head.sort(key=lambda h: (-h["_newsarc_score"], -int(_doc_value(h, "published_ts", 0)), h["_id"]))
        return head + ranked[RERANK_DEPTH:]

    def page_hits(self, page: list[dict], terms: list[str], node: Node | None = None) -> list[Hit]:
        """:class:`Hit` objects for raw cluster hits, with snippets from their text."""
        sources: dict[str, dict] = {h["_id"]: h["_source"] for h in page if "title" in (h.get("_source") or {})}
        missing = [h["_id"] for h in page if h["_id"] not in sources]
        for start in range(0, len(missing), 1000):
            with self.cluster.errors():
                docs = self.cluster.client.mget(
                    index=self.cluster.index, body={"ids": missing[start : start + 1000]},
                    _source_includes=_PAGE_FIELDS,
                )["docs"]
            sources.update((d["_id"], d["_source"]) for d in docs if d.get("found"))
        hits = []
        for raw in page:
            s = sources.get(raw["_id"])
            if s is None:  # deleted since it was found
                continue
            snippet, spans = make_snippet("\n".join([s.get("text", ""), *s.get("captions", [])]), terms)
            hit = Hit(
                id=s["id"], title=s["title"], source=s["source"], source_name=s.get("source_name", ""),
                published=s.get("published", ""), url=s["url"],
                score=float(raw.get("_newsarc_score", raw.get("_score") or 0.0)),
                snippet=snippet, highlights=spans, title_highlights=find_spans(fold_aligned(s["title"]), terms),
            )
            if node is not None and self.aliases:
                hit.aliases = self._alias_matches(node, set(raw.get("matched_queries") or ()))
            hits.append(hit)
        return hits

    def _alias_matches(self, node: Node, matched: set[str]) -> list[str]:
        """As ``Searcher.alias_matches``, from the named variant queries a hit matched."""
        typed = {fold(t.text).strip() for t in _positive_terms(node)}
        by_term: dict[int, set[str]] = {}
        for name in matched:
            if name in self._names:
                number, variant = self._names[name]
                by_term.setdefault(number, set()).add(variant)
        out: list[str] = []
        for term in _positive_terms(node):
            group = self.alias_group(term)
            number = self._term_index.get(id(term))
            if not group or number is None:
                continue
            found = by_term.get(number, set())
            if group[0] in found:
                continue
            out.extend(v for v in group[1:] if v not in typed and v in found)
        return list(dict.fromkeys(out))

    # -- keywords and similar (explore.py's definitions, with the cluster's document frequencies)

    def keywords(self, article_id: str, limit: int = 20) -> list[tuple[str, float]]:
        """As ``explore.keywords_in``: TF-IDF of the article's words against the index's document frequencies."""
        from newsarc.explore import TITLE_TF_WEIGHT, _drop_inner_words, is_stopword
        from newsarc.ingest import archive_segmenter

        source = get_source(self.cluster, article_id)
        title, body = fold_article(source.get("title", ""), source.get("text", ""), source.get("captions", []))
        segmenter = archive_segmenter(self.cluster.data_dir)
        tf: Counter[str] = Counter()
        for word, n in analyze(title, segmenter).words.items():
            tf[word] += TITLE_TF_WEIGHT * n
        tf.update(analyze(body, segmenter).words)
        tf = _drop_inner_words(tf)
        words = sorted(w for w in tf if not is_stopword(w))
        aggs = {f"{i}{f[0]}": {"filter": {"term": {f"{f}_tokens": w}}}
                for i, w in enumerate(words) for f in ("title", "body")}
        with self.cluster.errors():
            resp = self.cluster.client.search(index=self.cluster.index, body={
                "size": 0, "track_total_hits": True, "query": {"match_all": {}}, "aggs": aggs})
        n_docs = max(int(resp["hits"]["total"]["value"]), 1)
        found = resp.get("aggregations", {})
        scored: list[tuple[str, float]] = []
        for i, word in enumerate(words):
            df = max(found[f"{i}t"]["doc_count"], found[f"{i}b"]["doc_count"], 1)
            idf = math.log((n_docs + 1) / df)
            if idf > 0:
                scored.append((word, tf[word] * idf))
        scored.sort(key=lambda x: (-x[1], x[0]))
        scored = scored[:limit]
        top = scored[0][1] if scored else 1.0
        return [(word, round(weight / top, 6)) for word, weight in scored]

    def similar(self, article_id: str, limit: int = 10) -> list[Hit]:
        """As ``explore.similar_in``: the article's top keywords, boosted by weight, as one OR query."""
        from newsarc.explore import SIMILAR_TERMS

        terms = self.keywords(article_id, SIMILAR_TERMS)
        if not terms:
            return []
        me = get_source(self.cluster, article_id)
        should = [{"term": {f"{f}_tokens": {"value": w, "boost": weight * b}}}
                  for w, weight in terms for f, b in (("title", TITLE_BOOST), ("body", 1))]
        query = {"bool": {"should": should, "minimum_should_match": 1, "must_not": [{"ids": {"values": [article_id]}}]}}
        ranked = self._fetch(query, ["_score", {"published_ts": "desc"}, {"id": "asc"}], limit * 2 + 10)
        highlights = sorted((w for w, _ in terms[:10]), key=len, reverse=True)
        hits = [h for h in self.page_hits(ranked, highlights)
                if not (h.source == me.get("source") and h.title.strip() == str(me.get("title", "")).strip())]
        return hits[:limit]

    # -- timeline

    def timeline(self, text: str | Node, by: str = "month", options: Any = None) -> Any:
        """``newsarc timeline`` on the cluster: counts per local publication period."""
        from newsarc.explore import PERIODS, Timeline, timeline_rows

        if by not in PERIODS:
            raise QueryError(f"unknown period {by!r} (use {', '.join(PERIODS)})")
        node = parse_query(text) if isinstance(text, str) else text
        options = options or SearchOptions()
        query = self._matching_query(node, options)
        interval = {"year": 10000, "month": 100, "day": 1}[by]
        body = {"size": 0, "track_total_hits": True, "query": query,
                "aggs": {"periods": {"histogram": {"field": "day", "interval": interval, "min_doc_count": 1}}}}
        with self.cluster.errors():
            resp = _complete(self.cluster, self.cluster.client.search(index=self.cluster.index, body=body))
        counts: dict[str, int] = {}
        for bucket in resp["aggregations"]["periods"]["buckets"]:
            key = int(bucket["key"])
            if key <= 0:
                continue
            y, m, d = key // 10000, key // 100 % 100, key % 100
            label = {"year": f"{y:04d}", "month": f"{y:04d}-{m:02d}", "day": f"{y:04d}-{m:02d}-{d:02d}"}[by]
            counts[label] = int(bucket["doc_count"])
        total = int(resp["hits"]["total"]["value"])
        return Timeline(rows=timeline_rows(counts, by, options), total=total, undated=total - sum(counts.values()))


def open_searcher(data_dir: str | Path, *, aliases: bool = True) -> ClusterSearcher:
    """A searcher over the cluster ``data_dir`` is bound to (its dictionary and aliases are local)."""
    from newsarc.aliases import load_aliases
    from newsarc.store import open_store

    cluster = open_cluster(data_dir)
    try:
        store = open_store(data_dir)
    except BaseException:
        cluster.close()
        raise
    return ClusterSearcher(cluster, store, load_aliases(data_dir) if aliases else None)


def search(
    data_dir: str | Path, text: str, options: SearchOptions | None = None, *, aliases: bool = True
) -> SearchResult:
    """``newsarc search`` on the cluster ``data_dir`` is bound to."""
    with open_searcher(data_dir, aliases=aliases) as searcher:
        return searcher.search(text, options)


def timeline(
    data_dir: str | Path, text: str, by: str = "month", options: SearchOptions | None = None, *, aliases: bool = True
) -> Any:
    """``newsarc timeline`` on the cluster ``data_dir`` is bound to."""
    with open_searcher(data_dir, aliases=aliases) as searcher:
        return searcher.timeline(text, by, options)


def keywords(data_dir: str | Path, article_id: str, limit: int = 20) -> tuple[str, list[tuple[str, float]]]:
    """``newsarc keywords`` on a cluster: the full id of ``article_id`` and its characteristic terms."""
    with open_searcher(data_dir, aliases=False) as searcher:
        full = resolve(searcher.cluster, article_id)
        return full, searcher.keywords(full, limit)


def similar(data_dir: str | Path, article_id: str, limit: int = 10) -> tuple[str, list[Hit]]:
    """``newsarc similar`` on a cluster: the full id of ``article_id`` and its similar articles."""
    with open_searcher(data_dir, aliases=False) as searcher:
        full = resolve(searcher.cluster, article_id)
        return full, searcher.similar(full, limit)


class OpenSearchEngine:
    """The cluster engine with the query-level interface of the engine seam (``newsarc.engine.Engine``).

    ``OpenSearchEngine(data_dir, settings)``: ``settings`` is the directory's
    ``engine.json`` (see :mod:`newsarc.binding`).  Queries arrive parsed.
    """

    name = "opensearch"

    def __init__(self, data_dir: str | Path, settings: dict[str, Any] | None = None) -> None:
        from newsarc.binding import config_from_settings

        self.data_dir = Path(data_dir)
        self.cluster = Cluster(self.data_dir, config_from_settings(self.data_dir, settings or {}))

    def _searcher(self, aliases: bool) -> ClusterSearcher:
        from newsarc.aliases import load_aliases
        from newsarc.store import open_store

        return ClusterSearcher(self.cluster, open_store(self.data_dir), load_aliases(self.data_dir) if aliases else None)

    def search(self, query: Node, options: SearchOptions | None = None, *, aliases: bool = True) -> SearchResult:
        searcher = self._searcher(aliases)
        try:
            return searcher.search(query, options)
        finally:
            searcher.store.close()

    def timeline(self, query: Node, by: str = "month", options: SearchOptions | None = None, *, aliases: bool = True) -> Any:
        searcher = self._searcher(aliases)
        try:
            return searcher.timeline(query, by, options)
        finally:
            searcher.store.close()

    def similar(self, article_id: str, limit: int = 10) -> tuple[str, list[Hit]]:
        return similar(self.data_dir, article_id, limit)

    def keywords(self, article_id: str, limit: int = 20) -> tuple[str, list[tuple[str, float]]]:
        return keywords(self.data_dir, article_id, limit)

    def stats(self) -> dict[str, Any]:
        return stats(self.cluster)

    def resolve(self, prefix: str) -> str:
        return resolve(self.cluster, prefix)

    def get(self, article_id: str) -> Article:
        return get_article(self.cluster, article_id)

    def records(self) -> Iterator[dict[str, Any]]:
        return iter_records(self.cluster)

    def ingest(self, paths: Iterable[str | Path], **options: Any) -> ClusterIngestSummary:
        allowed = {k: v for k, v in options.items() if k in ("workers", "on_reject", "on_progress", "on_message")}
        return ingest(paths, self.data_dir, **allowed)

    def close(self) -> None:
        self.cluster.close()
