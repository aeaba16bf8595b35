"""Ingest: archive files → parsed, analysed articles → store and index, in committed batches.

Work flows one way.  Worker processes read, parse, fold and segment files
(the expensive part, on every core); the parent process decides for each
article whether it is new, newer, unchanged or an older version, writes the
batch to the store (one SQLite transaction) and then to the Whoosh index (one
commit), and finally marks the batch indexed.  A crash therefore loses at most
the batch in flight, and the next ingest re-indexes whatever the store holds
that the index did not commit.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from whoosh.index import LockError

from newsarc.analysis import (
    Segmenter,
    analyze,
    fold,
    fold_article,
    jieba_dictionary_path,
    read_dictionary,
)
from newsarc.errors import ArchiveError, ArchiveLocked, NewsarcError, RejectedFile
from newsarc.index import (
    INDEX_NAME,
    MAX_SEGMENTS,
    IndexDocument,
    index_dir,
    index_writer,
    merge_segments,
    open_index,
)
from newsarc.lock import DEFAULT_WAIT, ArchiveLock
from newsarc.parse import parse_bytes
from newsarc.records import Article
from newsarc.store import (
    DB_NAME,
    USER_DICT_NAME,
    Store,
    _db_error,
    dictionary_cache,
    open_store,
    prepare_archive_dir,
    published_timestamp,
)

#: Articles per committed batch: what a crash can cost at most.
BATCH_SIZE = 500
#: Environment variable overriding :data:`BATCH_SIZE` (tests use small batches).
BATCH_SIZE_ENV = "NEWSARC_BATCH_SIZE"


def default_batch_size() -> int:
    """:data:`BATCH_SIZE`, or ``$NEWSARC_BATCH_SIZE`` when that is a positive integer."""
    raw = os.environ.get(BATCH_SIZE_ENV, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else BATCH_SIZE


#: Below this many files, work in-process (a worker pool costs more than it saves).
POOL_THRESHOLD = 64
#: Files larger than this are rejected without being read.
MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass
class IngestSummary:
    """What an ingest did.  ``rejected`` lists ``(path, reason)``."""

    files: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    older: int = 0
    reindexed: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        """The summary as plain data (for JSON and the renderer)."""
        return {
            "files": self.files,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "older": self.older,
            "reindexed": self.reindexed,
            "rejected": len(self.rejected),
            "seconds": round(self.seconds, 3),
        }


@dataclass(slots=True)
class Analysed:
    """A parsed and analysed article, as a worker returns it."""

    article: Article  # without its HTML, which the store does not keep (nor pickle it back)
    doc: IndexDocument
    digest: str
    size: int
    mtime_ns: int


# --------------------------------------------------------------------------- files


def iter_archive_files(paths: Iterable[str | Path]) -> Iterator[tuple[Path, str | None]]:
    """Expand files and folders (recursively, sorted) into ``(path, problem)`` pairs.

    ``problem`` is None for a readable regular file, else why it cannot be used.
    Hidden files and folders (``.git``, ``.DS_Store``) inside folders are skipped.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield Path(root) / name, None
        elif path.is_file():
            yield path, None
        elif path.exists():
            yield path, "not a regular file"
        else:
            yield path, "no such file or directory"


# --------------------------------------------------------------------------- analysis (workers)

_SEGMENTER: Segmenter | None = None


#: What a segmenter is built from: (user dictionary files, extra words).
SegmenterSpec = tuple[tuple[str, ...], tuple[str, ...]]


def _init_worker(spec: SegmenterSpec) -> None:
    global _SEGMENTER
    _SEGMENTER = Segmenter(*spec)


def _die_with_parent() -> None:
    """Pool workers: be killed with the parent (Linux), not linger and print a BrokenPipe traceback."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: the worker exits on its own when the parent's pipe closes
        pass


def worker_segmenter() -> Segmenter:
    """The segmenter of this worker process (set up by the pool of :func:`_analysed_batches`)."""
    assert _SEGMENTER is not None
    return _SEGMENTER


def _init_pool_worker(spec: SegmenterSpec) -> None:
    _die_with_parent()
    _init_worker(spec)


def analyse_article(
    article: Article, segmenter: Segmenter, *, key: int = 0
) -> tuple[str, IndexDocument]:
    """Fold and segment an article: its verification text and its index document."""
    title, body = fold_article(article.title, article.text, article.captions)
    authors = set()
    for name in article.authors:
        folded_name = fold(name).strip()
        if folded_name:
            authors.add(folded_name)
            authors.update(analyze(folded_name, segmenter).words)
    doc = IndexDocument(
        id=article.id,
        key=key,
        published=published_timestamp(article.published),
        day=local_day(article.published),
        source=article.source,
        authors=sorted(authors),
        title=analyze(title, segmenter),
        body=analyze(body, segmenter),
    )
    return title + "\n" + body, doc


def local_day(published: str) -> int:
    """``YYYYMMDD`` of an ISO 8601 time's own (local) date; 0 when it has none."""
    digits = published[:10].replace("-", "")
    return int(digits) if len(digits) == 8 and digits.isdigit() else 0


def _work(task: tuple[str, tuple[int, int, str] | None]) -> Analysed | tuple[str, str] | str:
    """Worker: read, parse and analyse one file.

    Returns an :class:`Analysed`, ``(path, reason)`` for a rejected file, or the
    path alone when the file's content is what the ledger already holds.
    """
    path, known = task
    assert _SEGMENTER is not None
    try:
        st = os.stat(path)
        if st.st_size > MAX_FILE_BYTES:
            return (
                path,
                f"file too large: {st.st_size / 1048576:.0f} MB > {MAX_FILE_BYTES // 1048576} MB",
            )
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
        digest = hashlib.sha1(data).hexdigest()
        if known is not None and known[2] == digest:
            return path
        article = parse_bytes(data, path)
        _folded, doc = analyse_article(article, _SEGMENTER)
        article.html = ""
        return Analysed(article, doc, digest, st.st_size, st.st_mtime_ns)
    except RejectedFile as exc:
        return path, exc.reason
    except OSError as exc:
        return path, f"cannot read: {exc.strerror or exc}"
    except RecursionError:
        return path, "too deeply nested to parse"
    except MemoryError:
        return path, "out of memory while parsing"
    except Exception as exc:  # a parser bug must not stop the ingest
        return path, f"internal error while parsing: {type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- dictionary


def segmenter_spec(data_dir: str | Path) -> SegmenterSpec:
    """What an archive segments with: its ``userdict.txt`` (if any) and every alias name.

    Alias names (built-in and ``DATA/aliases.txt``) join the dictionary so that
    普丁 or 泽连斯基 are cut as words: they rank as words, and a query for them is
    matched exactly through the index instead of verified character by character.
    """
    from newsarc.aliases import load_aliases

    path = Path(data_dir) / USER_DICT_NAME
    user_dicts = (str(path),) if path.exists() else ()
    words = sorted({v for group in load_aliases(data_dir) for v in group})
    return user_dicts, tuple(words)


def archive_segmenter(data_dir: str | Path) -> Segmenter:
    """The segmenter an archive's articles are indexed with (for commands that re-analyse them)."""
    return Segmenter(*segmenter_spec(data_dir))


def _dictionary_signature(spec: SegmenterSpec) -> str:
    h = hashlib.sha1()
    main = jieba_dictionary_path()
    h.update(f"{main.stat().st_size}".encode())
    for p in spec[0]:
        h.update(Path(p).read_bytes())
    h.update("\n".join(spec[1]).encode())
    return h.hexdigest()


def sync_dictionary(store: Store, segmenter: Segmenter, spec: SegmenterSpec) -> bool:
    """Make the store's query dictionary match the segmenter's; True if it changed."""
    signature = _dictionary_signature(spec)
    if store.meta("dict_signature") == signature:
        return False
    main = jieba_dictionary_path()
    base = dictionary_cache(main, lambda: read_dictionary(main))
    previous = store.meta("dict_signature")
    store.load_dictionary(
        base, segmenter.user_words, signature, mark_unindexed=previous is not None
    )
    return previous is not None


def add_user_dictionary(data_dir: str | Path, source: str | Path) -> int:
    """Merge the words of a jieba-format dictionary file into the archive's ``userdict.txt``.

    Returns how many new words it added.
    """
    data = Path(data_dir)
    target = data / USER_DICT_NAME
    have = {w for w, _ in read_dictionary(target)} if target.exists() else set()
    try:
        new_lines = [
            line.rstrip("\n")
            for line in Path(source).read_text(encoding="utf-8-sig").splitlines()
            if line.split() and line.split()[0] not in have and not line.startswith("#")
        ]
    except (OSError, UnicodeDecodeError) as exc:
        raise NewsarcError(f"{source}: cannot read dictionary: {exc}") from None
    if new_lines:
        data.mkdir(parents=True, exist_ok=True)
        with open(target, "a", encoding="utf-8") as fh:
            fh.write("\n".join(new_lines) + "\n")
    return len(new_lines)


# --------------------------------------------------------------------------- the ingest


ProgressCallback = Callable[[int, int], None]
RejectCallback = Callable[[str, str], None]


def ingest(
    paths: Iterable[str | Path],
    data_dir: str | Path,
    *,
    workers: int | None = None,
    batch_size: int | None = None,
    wait: float = DEFAULT_WAIT,
    on_wait: Callable[[int | None], None] | None = None,
    on_reject: RejectCallback | None = None,
    on_progress: ProgressCallback | None = None,
    on_message: Callable[[str], None] | None = None,
) -> IngestSummary:
    """Ingest archive files and folders into the archive at ``data_dir``.

    Idempotent: unchanged files are skipped on their size and mtime (or, if
    touched, their digest); an article whose URL is stored already replaces
    the stored one only when its ``archived`` time is newer.  Rejected files
    are reported through ``on_reject`` and do not stop the rest.

    Holds the archive's writer lock (:class:`~newsarc.lock.ArchiveLock`),
    waiting up to ``wait`` seconds for another writer (``on_wait(pid)`` is
    called when waiting starts).  ``batch_size`` defaults to
    :func:`default_batch_size`.
    """
    started = time.perf_counter()
    data = Path(data_dir)
    summary = IngestSummary()
    batch_size = batch_size or default_batch_size()
    if (data / DB_NAME).exists():
        open_store(data).close()  # a foreign or other-version archive: report it, touch nothing
    prepare_archive_dir(data)
    with ArchiveLock(data, wait=wait, on_wait=on_wait) as lock, _write_errors(data):
        if lock.stale_pid is not None and on_message:
            on_message(
                f"cleared a stale archive lock left by PID {lock.stale_pid} (an interrupted ingest)"
            )
        _clean_index_debris(data)
        _ingest_locked(
            paths, data, summary, workers, batch_size, on_reject, on_progress, on_message
        )
    summary.seconds = time.perf_counter() - started
    return summary


def _ingest_locked(
    paths, data, summary, workers, batch_size, on_reject, on_progress, on_message
) -> None:  # type: ignore[no-untyped-def]
    """The ingest proper (the caller holds the archive lock)."""
    store = open_store(data, create=True)
    try:
        ix = open_index(data, create=True)
        spec = segmenter_spec(data)
        segmenter = Segmenter(*spec)
        changed = sync_dictionary(store, segmenter, spec)
        pending = store.unindexed()
        if changed and pending and on_message:
            on_message(f"dictionary changed: re-indexing {len(pending)} stored articles")
        if pending:
            summary.reindexed = _reindex(store, ix, segmenter, pending, batch_size)

        tasks: list[tuple[str, tuple[int, int, str] | None]] = []
        for path, problem in iter_archive_files(paths):
            summary.files += 1
            spath = str(path)
            if problem:
                summary.rejected.append((spath, problem))
                if on_reject:
                    on_reject(spath, problem)
                continue
            known = store.file_state(_ledger_key(path))
            if known is not None:
                try:
                    st = path.stat()
                except OSError:
                    st = None
                if st is not None and (st.st_size, st.st_mtime_ns) == known[:2]:
                    summary.unchanged += 1
                    continue
            tasks.append((spath, known))

        total = len(tasks)
        done = 0
        if on_progress:
            on_progress(0, total)
        for results in _analysed_batches(tasks, batch_size, workers, spec):
            _commit_batch(store, ix, results, summary, on_reject)
            merge_segments(ix, above=MAX_SEGMENTS)
            done += len(results)
            if on_progress:
                on_progress(done, total)
        merge_segments(ix)
    finally:
        store.close()


@contextmanager
def _write_errors(data: Path) -> Iterator[None]:
    """Turn failures to write the archive (disk full, I/O, read-only) into :class:`ArchiveError`.

    What was committed before stays: SQLite rolls back the open transaction
    and an uncommitted Whoosh segment is never referenced.
    """
    try:
        yield
    except sqlite3.Error as exc:
        raise _db_error(data, data / DB_NAME, exc) from None
    except LockError:
        raise ArchiveLocked(f"the search index in {data} is locked by another writer") from None
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise ArchiveError(
            f"cannot write to archive {data}: {exc.strerror or exc}{where}; "
            "what was committed before is intact (run the ingest again when fixed)"
        ) from None


def _clean_index_debris(data: Path) -> None:
    """Remove temporary TOC files a killed Whoosh commit left (Whoosh never removes them).

    Orphaned segments and the ``MAIN.tmp`` folder are removed by Whoosh itself
    at the next commit.  Call only while holding the archive lock.
    """
    folder = index_dir(data)
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if name.startswith(f"_{INDEX_NAME}_") and ".toc." in name:
            with suppress(OSError):
                os.remove(folder / name)


def _ledger_key(path: Path) -> str:
    try:
        return str(path.resolve())
    except OSError:
        return str(path.absolute())


def _analysed_batches(
    tasks: list,
    batch_size: int,
    workers: int | None,
    spec: SegmenterSpec,
    work: Callable = _work,
) -> Iterator[list]:
    """Analyse tasks batch by batch, at most two batches in flight (bounded memory).

    ``work`` (a module-level function, run in the workers with the segmenter of
    ``spec`` as ``_SEGMENTER``) defaults to this ingest's :func:`_work`; the
    cluster engine passes its own.
    """
    batches = [tasks[i : i + batch_size] for i in range(0, len(tasks), batch_size)]
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers <= 1 or len(tasks) < POOL_THRESHOLD:
        _init_worker(spec)
        for batch in batches:
            yield [work(t) for t in batch]
        return
    ctx = get_context("fork") if hasattr(os, "fork") else get_context()
    with ctx.Pool(workers, initializer=_init_pool_worker, initargs=(spec,)) as pool:
        inflight = None
        for batch in batches:
            nxt = pool.map_async(work, batch, chunksize=8)
            if inflight is not None:
                yield inflight.get()
            inflight = nxt
        if inflight is not None:
            yield inflight.get()


def _commit_batch(store: Store, ix, results: list, summary: IngestSummary, on_reject) -> None:  # type: ignore[no-untyped-def]
    """Decide, store and index one batch; commit the store, then the index."""
    chosen: dict[str, Analysed] = {}
    ledger: list[tuple[str, int, int, str]] = []
    for res in results:
        if isinstance(res, str):
            summary.unchanged += 1
            try:
                st = os.stat(res)
            except OSError:  # removed since it was read: nothing to record
                continue
            known = store.file_state(_ledger_key(Path(res)))
            if known:
                ledger.append((_ledger_key(Path(res)), st.st_size, st.st_mtime_ns, known[2]))
            continue
        if isinstance(res, tuple):
            path, reason = res
            summary.rejected.append((path, reason))
            if on_reject:
                on_reject(path, reason)
            continue
        ledger.append((_ledger_key(Path(res.article.path)), res.size, res.mtime_ns, res.digest))
        aid = res.article.id
        if aid in chosen:
            summary.older += 1
            if res.article.archived_ms > chosen[aid].article.archived_ms:
                chosen[aid] = res
            continue
        chosen[aid] = res

    writes: list[tuple[Analysed, bool]] = []
    for aid, res in chosen.items():
        stored_ms = store.archived_ms(aid)
        if stored_ms is None:
            summary.added += 1
            writes.append((res, False))
        elif res.article.archived_ms > stored_ms:
            summary.updated += 1
            writes.append((res, True))
        elif res.article.archived_ms == stored_ms:
            summary.unchanged += 1
        else:
            summary.older += 1

    conn = store.conn
    conn.execute("BEGIN IMMEDIATE")
    rowids = []
    char_postings: dict[str, list[int]] = {}
    for res, _replace in writes:
        rowid = store.put(res.article, file=_ledger_key(Path(res.article.path)), digest=res.digest)
        res.doc.key = rowid
        rowids.append(rowid)
        for ch in res.doc.title.chars | res.doc.body.chars:
            char_postings.setdefault(ch, []).append(rowid)
    if char_postings:
        store.add_char_postings(char_postings)
    for entry in ledger:
        store.record_file(*entry)
    conn.execute("COMMIT")
    if not writes:
        return
    writer = index_writer(ix)
    try:
        writer.delete_ids(res.article.id for res, replace in writes if replace)
        for res, _replace in writes:
            writer.add_document(**res.doc.fields())
        writer.commit(merge=False)  # merged once at the end: see merge_segments
    except BaseException:
        writer.cancel()
        raise
    conn.execute("BEGIN IMMEDIATE")
    store.mark_indexed(rowids)
    conn.execute("COMMIT")


def _reindex(store: Store, ix, segmenter: Segmenter, rowids: list[int], batch_size: int) -> int:  # type: ignore[no-untyped-def]
    """Re-analyse stored articles and replace them in the index."""
    count = 0
    for i in range(0, len(rowids), batch_size):
        chunk = rowids[i : i + batch_size]
        writer = index_writer(ix)
        try:
            docs = []
            for rowid in chunk:
                article = store.get_by_rowid(rowid)
                _folded, doc = analyse_article(article, segmenter, key=rowid)
                docs.append(doc)
            writer.delete_ids(doc.id for doc in docs)
            for doc in docs:
                writer.add_document(**doc.fields())
            writer.commit(merge=False)
        except BaseException:
            writer.cancel()
            raise
        merge_segments(ix, above=MAX_SEGMENTS)
        store.conn.execute("BEGIN IMMEDIATE")
        store.mark_indexed(chunk)
        store.conn.execute("COMMIT")
        count += len(chunk)
    return count


def reindex(
    data_dir: str | Path,
    *,
    wait: float = DEFAULT_WAIT,
    on_wait: Callable[[int | None], None] | None = None,
) -> int:
    """Rebuild the search index of an archive from its store (after a dictionary change).

    Takes the archive's writer lock like :func:`ingest`.  Every row is first
    marked unindexed in one transaction, so an interrupted reindex is finished
    by the next ingest or reindex.
    """
    data = Path(data_dir)
    open_store(
        data
    ).close()  # "no archive", foreign or other-version archives: report, touch nothing
    with ArchiveLock(data, wait=wait, on_wait=on_wait), _write_errors(data):
        _clean_index_debris(data)
        store = open_store(data, create=True)
        try:
            ix = open_index(data, create=True)
            spec = segmenter_spec(data)
            segmenter = Segmenter(*spec)
            sync_dictionary(store, segmenter, spec)
            store.conn.execute("BEGIN IMMEDIATE")
            store.conn.execute("UPDATE articles SET indexed = 0")
            store.conn.execute("COMMIT")
            count = _reindex(store, ix, segmenter, store.unindexed(), default_batch_size())
            merge_segments(ix)
            return count
        finally:
            store.close()
