"""Ingest: archive files → parsed, analysed articles → store and index, in committed batches.

Work flows one way.  Worker processes read, parse, fold and segment files
(the expensive part, on every core); the parent process decides for each
article whether it is new, newer, unchanged or an older version, writes the
batch to the store (one SQLite transaction) and then to the Whoosh index (one
commit), and finally marks the batch indexed.  With a pool, a worker writes
each batch's segment apart and the parent commits it; workers also merge
segments apart while the ingest goes on, and the parent commits each merged
segment in the place of those it merged.  A crash therefore loses at most the
batches in flight, and the next ingest re-indexes whatever the store holds
that the index did not commit.
"""

from __future__ import annotations

import errno
import hashlib
import os
import pickle
import shutil
import sqlite3
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh.index import Index, LockError

from newsarc.analysis import (
    Segmenter,
    analyze,
    char_positions,
    fold,
    fold_article,
    jieba_dictionary_path,
    read_dictionary,
)
from newsarc.errors import (
    ArchiveError,
    ArchiveLocked,
    DamagedArchive,
    NewsarcError,
    NoArchive,
    RejectedFile,
)
from newsarc.gitmirror import GitMirror, find_mirror
from newsarc.index import (
    APART_PREFIX,
    INDEX_NAME,
    IndexDocument,
    Merge,
    WrittenSegment,
    index_dir,
    index_folder,
    index_writer,
    merge_segments,
    next_merge,
    open_index,
    write_merged,
    write_segment,
)
from newsarc.integrity import verify_all
from newsarc.lock import DEFAULT_WAIT, ArchiveLock, check_archive_dir, open_no_follow
from newsarc.records import Article, IngestSummary, file_kind, printable_path
from newsarc.store import (
    DB_NAME,
    USER_DICT_NAME,
    Store,
    database_error,
    dictionary_cache,
    open_store,
    prepare_archive_dir,
    published_timestamp,
)
from newsarc.versions import content_digest
from newsarc.workers import DEPTH, Job, Workers

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


class Interrupted(KeyboardInterrupt):
    """A writer stopped by an interrupt (SIGINT, or SIGTERM turned into one by the caller).

    ``summary`` counts what was committed before it stopped; running the same
    ingest again resumes from there.
    """

    def __init__(self, summary: IngestSummary) -> None:
        super().__init__()
        self.summary = summary

    @property
    def committed(self) -> int:
        """Articles added, updated or re-indexed by the batches committed before the interrupt."""
        return self.summary.added + self.summary.updated + self.summary.reindexed


@dataclass(slots=True)
class Analysed:
    """A parsed and analysed article, as a worker returns it."""

    article: Article  # without its HTML, which the store does not keep (nor pickle it back)
    doc: IndexDocument
    digest: str
    size: int  # -1: a version from a git mirror, which has no ledger row
    mtime_ns: int
    ledger: str  # the file's exact absolute path (article.path is its printable form); "" from git
    content: str = ""  # the content digest (newsarc.versions.content_digest)
    seq: int = 0  # orders versions archived at the same time: the file's mtime, a commit's place


@dataclass(frozen=True, slots=True)
class FileTask:
    """One file for a worker: its path as given (for messages), its absolute path (the
    ledger's key and the article's ``path``) and the ledger's ``(size, mtime_ns, digest)``."""

    path: str
    ledger: str
    known: tuple[int, int, str] | None


@dataclass(frozen=True, slots=True)
class BlobTask:
    """One version of a file in a git mirror, for a worker: its bytes and where it came from.

    ``path`` names the file for messages (``GITDIR:PATH``), ``name`` is how the
    article records its source (``GITDIR@COMMIT:PATH``), ``archived_ms`` the
    commit time (the archive time of a file whose header has none) and
    ``seq`` the version's place in the mirror's history.
    """

    path: str
    name: str
    data: bytes
    archived_ms: int
    seq: int


@dataclass(slots=True)
class FileResult:
    """What a worker made of a file: an ``analysed`` article, a ``rejected`` reason, or
    neither — the content is what the ledger already holds (``unchanged``)."""

    task: FileTask | BlobTask
    analysed: Analysed | None = None
    rejected: str | None = None

    @property
    def unchanged(self) -> bool:
        """The file's content digest is the one the ledger recorded."""
        return self.analysed is None and self.rejected is None


# --------------------------------------------------------------------------- files


def iter_archive_files(paths: Iterable[str | Path]) -> Iterator[tuple[Path, str | None]]:
    """Expand files and folders (recursively, sorted) into ``(path, problem)`` pairs.

    ``problem`` is None for a regular file (or a symbolic link to one), else
    why it cannot be used: a symbolic link loop, a broken link, a named pipe, a
    device …  Hidden files and folders (``.git``, ``.DS_Store``) inside
    folders are skipped; symbolic links to folders are not followed.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        entry = Path(root) / name
                        yield entry, _file_problem(entry)
        else:
            yield path, _file_problem(path)


def _file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as an archive file (None: it is a regular file)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        if exc.errno == errno.ENOENT:
            return "broken symbolic link" if os.path.islink(path) else "no such file or directory"
        return f"cannot read: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return None
    kind = file_kind(mode)
    return f"not a regular file: {kind}" if kind.startswith("a ") else kind


# --------------------------------------------------------------------------- analysis (workers)

_SEGMENTER: Segmenter | None = None


#: What a segmenter is built from: (user dictionary files, extra words).
SegmenterSpec = tuple[tuple[str, ...], tuple[str, ...]]


def _init_worker(spec: SegmenterSpec) -> None:
    global _SEGMENTER
    _SEGMENTER = Segmenter(*spec)


def worker_segmenter() -> Segmenter:
    """The segmenter of this worker process (set up by the pool of :func:`_analysed_batches`)."""
    assert _SEGMENTER is not None
    return _SEGMENTER


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
        chars=char_positions(title + "\n" + body),
        title_length=len(title),
        text_length=len(title) + 1 + len(body),
    )
    return title + "\n" + body, doc


def local_day(published: str) -> int:
    """``YYYYMMDD`` of an ISO 8601 time's own (local) date; 0 when it has none."""
    digits = published[:10].replace("-", "")
    return int(digits) if len(digits) == 8 and digits.isdigit() else 0


def _work(task: FileTask) -> FileResult:
    """Worker: read, parse and analyse one file."""
    assert _SEGMENTER is not None
    # the parser is imported here: commands that only re-analyse stored articles need none
    from newsarc.parse import parse_bytes, read_regular_file

    try:
        data, st = read_regular_file(task.path)  # never blocks on a FIFO put in the file's place
        digest = hashlib.sha1(data).hexdigest()
        if task.known is not None and task.known[2] == digest:
            return FileResult(task)
        article = parse_bytes(data, task.ledger)  # the article records the absolute path
        article.path = printable_path(task.ledger)
        _folded, doc = analyse_article(article, _SEGMENTER)
        article.html = ""
        return FileResult(task, Analysed(
            article, doc, digest, st.st_size, st.st_mtime_ns, task.ledger, content_digest(article),
            st.st_mtime_ns,
        ))
    except RejectedFile as exc:
        return FileResult(task, rejected=exc.reason)
    except OSError as exc:
        return FileResult(task, rejected=f"cannot read: {exc.strerror or exc}")
    except RecursionError:
        return FileResult(task, rejected="too deeply nested to parse")
    except MemoryError:
        return FileResult(task, rejected="out of memory while parsing")
    except Exception as exc:  # a parser bug must not stop the ingest
        return FileResult(task, rejected=f"internal error while parsing: {type(exc).__name__}: {exc}")


def _work_blob(task: BlobTask) -> FileResult:
    """Worker: parse and analyse one version of a file from a git mirror."""
    assert _SEGMENTER is not None
    from newsarc.parse import parse_bytes

    try:
        article = parse_bytes(task.data, task.name, archived_ms=task.archived_ms)
        _folded, doc = analyse_article(article, _SEGMENTER)
        article.html = ""
        digest = hashlib.sha1(task.data).hexdigest()
        return FileResult(task, Analysed(article, doc, digest, -1, 0, "", content_digest(article), task.seq))
    except RejectedFile as exc:
        return FileResult(task, rejected=exc.reason)
    except RecursionError:
        return FileResult(task, rejected="too deeply nested to parse")
    except MemoryError:
        return FileResult(task, rejected="out of memory while parsing")
    except Exception as exc:  # a parser bug must not stop the ingest
        return FileResult(task, rejected=f"internal error while parsing: {type(exc).__name__}: {exc}")


def _work_any(task: FileTask | BlobTask) -> FileResult:
    return _work_blob(task) if isinstance(task, BlobTask) else _work(task)


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
    """Bring the store's dictionaries up to the segmenter's; True when the stored articles are to
    be re-indexed with a changed dictionary, which waits beside the query dictionary until then
    (see :meth:`~newsarc.store.Store.load_dictionary`; ``switch_dictionary`` ends the wait)."""
    signature = _dictionary_signature(spec)
    if store.meta("dict_signature") == signature:
        if store.next_dictionary() is not None:  # a change undone before its re-index completed
            store.discard_next_dictionary()
        return False
    if store.next_dictionary() == signature:  # an interrupted re-index: its rows are still marked
        return True
    main = jieba_dictionary_path()
    previous = store.meta("dict_signature")
    with dictionary_cache(main, lambda: read_dictionary(main)) as base:
        store.load_dictionary(base, segmenter.user_words, signature, pending=previous is not None)
    return previous is not None


def add_user_dictionary(data_dir: str | Path, source: str | Path) -> int:
    """Merge the words of a jieba-format dictionary file into the archive's ``userdict.txt``.

    Returns how many new words it added.  Call while holding the archive lock
    (:func:`ingest` does, given ``user_dict``); ``userdict.txt`` is never
    written through a symbolic link.
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
        fd = open_no_follow(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT)  # never through a link
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write("\n".join(new_lines) + "\n")
    return len(new_lines)


# --------------------------------------------------------------------------- the ingest


#: ``on_progress(phase, done, total)``: ``phase`` is ``parse`` (files read, parsed and segmented),
#: ``index`` (articles stored and indexed) or ``merge`` (segments merged; ``done`` 0 or 1 of 1).
ProgressCallback = Callable[[str, int, int], None]
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
    user_dict: str | Path | None = None,
) -> IngestSummary:
    """Ingest archive files and folders into the archive at ``data_dir``.

    Idempotent: unchanged files are skipped on their size and mtime (or, if
    touched, their digest).  Every distinct version of a URL is kept
    (:meth:`~newsarc.store.Store.add_sighting`); the newest is the article.
    A path that is a git mirror (:func:`~newsarc.gitmirror.find_mirror`) is
    read version by version from its history, after the commit read last.
    Rejected files are reported through ``on_reject`` and do not stop the rest.

    Holds the archive's writer lock (:class:`~newsarc.lock.ArchiveLock`),
    waiting up to ``wait`` seconds for another writer (``on_wait(pid)`` is
    called when waiting starts).  ``batch_size`` defaults to
    :func:`default_batch_size`.  An interrupt (``KeyboardInterrupt``) stops the
    workers and raises :class:`Interrupted`, which says what was committed.
    ``user_dict`` is a jieba-format dictionary merged into the archive's
    (:func:`add_user_dictionary`) once the lock is taken.

    Nothing is written before the lock is held, the archive directory has been
    found trustworthy and no file newsarc writes in it is a symbolic link
    (:func:`~newsarc.lock.check_archive_dir`, :func:`check_archive_entries`).
    """
    started = time.perf_counter()
    data = Path(data_dir)
    summary = IngestSummary()
    batch_size = batch_size or default_batch_size()
    if (data / DB_NAME).exists():
        # a foreign or other-version archive: report it, touch nothing (an archive whose first
        # ingest was killed before its tables were made is no archive yet, and is made now)
        with suppress(NoArchive):
            open_store(data).close()
    prepare_archive_dir(data)
    progress = on_progress or _no_progress
    try:
        with ArchiveLock(data, wait=wait, on_wait=on_wait) as lock, _write_errors(data):
            _after_lock(data, lock, on_message)
            if user_dict is not None:
                added = add_user_dictionary(data, user_dict)
                if on_message:
                    on_message(f"dictionary: {added} new words from {user_dict}")
            try:
                with open_store(data, create=True) as store:
                    ix, spec = _resume(store, data, batch_size, summary, progress, on_message)
                    mirrors, plain = _split_mirrors(paths)
                    tasks = _tasks(plain, store, summary, on_reject)
                    _ingest_tasks(store, ix, tasks, spec, workers, batch_size, summary, on_reject, progress)
                    for mirror in mirrors:
                        _ingest_mirror(mirror, store, ix, spec, workers, batch_size, summary, on_reject, progress)
            finally:  # the workers are stopped: what they were writing apart is of no use now
                _clean_index_debris(data)
    except KeyboardInterrupt:
        summary.seconds = time.perf_counter() - started
        raise Interrupted(summary) from None
    summary.seconds = time.perf_counter() - started
    return summary


def _resume(
    store: Store,
    data: Path,
    batch_size: int,
    summary: IngestSummary,
    progress: ProgressCallback,
    on_message: Callable[[str], None] | None,
) -> tuple[Index, SegmenterSpec]:
    """Open (or make) the index, bring the query dictionary up to date, and index what the store
    holds unindexed (a dictionary change, or an interrupted ingest); the index and segmenter spec."""
    ix = open_index(data, create=True)
    if ix.doc_count() < store.indexed_count():  # an index lost (removed, or replaced by an older one)
        if on_message:
            on_message(f"the search index lacks stored articles: re-indexing all {store.count()}")
        with store.transaction():
            store.mark_all_unindexed()
    spec = segmenter_spec(data)
    segmenter = Segmenter(*spec)
    changed = sync_dictionary(store, segmenter, spec)
    pending = store.unindexed()
    if changed and pending and on_message:
        on_message(f"dictionary changed: re-indexing {len(pending)} stored articles")
    if pending:
        _reindex(store, ix, segmenter, pending, batch_size, summary, progress)
    store.switch_dictionary()  # every article is now indexed with it
    return ix, spec


def _after_lock(data: Path, lock: ArchiveLock, on_message: Callable[[str], None] | None) -> None:
    """What a writer does first once it holds the lock: report a stale lock it took over,
    refuse symbolic links among the files it writes, clean a killed commit's leftovers."""
    if lock.stale_pid is not None and on_message:
        on_message(f"cleared a stale archive lock left by PID {lock.stale_pid} "
                   f"(an interrupted {lock.stale_command})")
    check_archive_entries(data)
    _clean_index_debris(data)


#: The files of an archive directory newsarc writes (SQLite's own included), besides the index.
WRITTEN_FILES = (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal", USER_DICT_NAME)


def check_archive_entries(data_dir: str | Path) -> None:
    """Refuse an archive in which a file newsarc writes is a symbolic link or not a regular file
    of the user's, or whose index folder is a link or not the user's alone to write.

    SQLite and Whoosh open their files by name and would follow a link: a
    link planted as ``articles.db-wal`` or ``index`` would make newsarc
    write wherever it points.  Call while holding the archive lock.
    """
    data = Path(data_dir)
    for path in [*(data / name for name in WRITTEN_FILES), index_dir(data)]:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(st.st_mode):
            raise ArchiveError(f"{path} is a symbolic link: newsarc does not write through one (remove it)")
        if path == index_dir(data):
            if not stat.S_ISDIR(st.st_mode):
                raise ArchiveError(f"{path} is {file_kind(st.st_mode)}, not the archive's index folder")
            check_archive_dir(path)
        elif not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            kind = "a file of another user" if stat.S_ISREG(st.st_mode) else file_kind(st.st_mode)
            raise ArchiveError(f"{path} is {kind}, not a file newsarc made (remove it)")


def _no_progress(phase: str, done: int, total: int) -> None:
    """The progress callback when the caller gives none."""


def _tasks(
    paths: Iterable[str | Path], store: Store, summary: IngestSummary, on_reject: RejectCallback | None
) -> list[FileTask]:
    """The files to read: every file under ``paths`` except those whose size and mtime the
    ledger already holds (counted unchanged) and those that cannot be used (rejected)."""
    tasks: list[FileTask] = []
    for path, problem in iter_archive_files(paths):
        summary.files += 1
        if problem:
            _reject(summary, on_reject, str(path), problem)
            continue
        ledger = ledger_key(path)
        known = store.file_state(ledger)
        if known is not None:
            try:
                st = path.stat()
            except OSError:
                st = None
            if st is not None and (st.st_size, st.st_mtime_ns) == known[:2]:
                summary.unchanged += 1
                continue
        tasks.append(FileTask(str(path), ledger, known))
    return tasks


def _reject(summary: IngestSummary, on_reject: RejectCallback | None, path: str, reason: str) -> None:
    path = printable_path(path)
    summary.rejected.append((path, reason))
    if on_reject:
        on_reject(path, reason)


def _ingest_tasks(
    store: Store,
    ix,  # type: ignore[no-untyped-def]
    tasks: list[FileTask],
    spec: SegmenterSpec,
    workers: int | None,
    batch_size: int,
    summary: IngestSummary,
    on_reject: RejectCallback | None,
    progress: ProgressCallback,
) -> None:
    """Analyse the tasks (in workers), commit them batch by batch, merge segments at the end."""
    batches = [tasks[i : i + batch_size] for i in range(0, len(tasks), batch_size)]

    def reject(path: str, reason: str) -> None:
        _reject(summary, on_reject, path, reason)

    _commit_batches(store, ix, batches, len(tasks), spec, workers, summary, reject, progress)


def _commit_batches(
    store: Store,
    ix,  # type: ignore[no-untyped-def]
    batches: Iterable[list[FileTask] | list[BlobTask]],
    total: int,
    spec: SegmenterSpec,
    workers: int | None,
    summary: IngestSummary,
    reject: RejectCallback,
    progress: ProgressCallback,
) -> None:
    """Analyse batches of ``total`` tasks (in workers), commit them one by one, merge at the end;
    ``reject(path, reason)`` reports (and counts) a file that cannot be used.

    With a pool, a worker writes each batch's segment while this process stores
    the next batch; the segment is committed (and its rows marked indexed) before
    the next batch's segment is asked for, so replacements find what they replace.
    """
    done = 0
    progress("parse", 0, total)
    with _Workers(total, workers, spec) as pool:
        writing: _Writing | None = None
        merges = _MergesApart(pool, ix) if pool.parallel else None
        for batch in pool.analysed(batches):
            results = []
            for result in batch:
                results.append(result)
                done += 1
                progress("parse", done, total)
            progress("index", done, total)
            writes, rowids = _store_results(store, results, summary, reject)
            if writing is not None:
                _commit_written(store, ix, writing)
                writing = None
            if merges is not None:
                merges.go_on()
            if not writes:
                continue
            if pool.parallel:
                docs = [res.doc for res, _replace in writes]
                replaced = [res.article.id for res, replace in writes if replace]
                writing = _Writing(pool.write_segment(index_folder(ix), docs), replaced, rowids)
            else:
                _index_batch(ix, writes)
                with store.transaction():
                    store.mark_indexed(rowids)
                merge_segments(ix, final=False)
        if writing is not None:
            _commit_written(store, ix, writing)
        progress("merge", 0, 1)
        if merges is not None:
            merges.finish()
    merge_segments(ix)
    progress("merge", 1, 1)


@dataclass(frozen=True)
class _Writing:
    """A stored batch whose segment a worker is writing: waiting for it gives the segment."""

    segment: Callable[[], WrittenSegment]
    replaced: list[str]  # article ids whose older documents the batch replaces
    rowids: list[int]


def _commit_written(store: Store, ix, writing: _Writing) -> None:  # type: ignore[no-untyped-def]
    """Commit a segment a worker wrote (deleting what its articles replace) and mark its rows
    indexed."""
    written = writing.segment()
    writer = index_writer(ix)
    try:
        writer.delete(writing.replaced)
        writer.adopt(written)
        writer.commit()
    except BaseException:
        writer.cancel()
        raise
    with store.transaction():
        store.mark_indexed(writing.rowids)


class _MergesApart:
    """The merges an ingest's workers run while it goes on (:func:`~newsarc.index.next_merge`,
    :func:`~newsarc.index.write_merged`), at most one per worker; each is committed in the place
    of the segments it merged once it is done.  A killed ingest leaves at most folders apart,
    which the next one removes; the segments they merged are still in the index."""

    def __init__(self, pool: _Workers, ix: Index) -> None:
        self._pool = pool
        self._ix = ix
        self._running: list[tuple[Merge, Job]] = []

    def go_on(self) -> None:
        """Commit the merges that are done, and start those the index now calls for."""
        for merge, result in list(self._running):
            if result.ready():
                self._commit(merge, result)
        self._start()

    def finish(self) -> None:
        """Wait for every merge, committing each, and for those they call for in turn."""
        while self._running:
            self._commit(*self._running[0])
            self._start()

    def _start(self) -> None:
        while len(self._running) < self._pool.size:
            merge = next_merge(self._ix, [merge for merge, _result in self._running])
            if merge is None:
                return
            self._running.append((merge, self._pool.write_merged(index_folder(self._ix), merge)))

    def _commit(self, merge: Merge, result: Job) -> None:
        self._running.remove((merge, result))
        written = result.get()
        writer = index_writer(self._ix)
        try:
            writer.replace(merge, written)
            writer.commit()
        except BaseException:
            writer.cancel()
            raise


def _split_mirrors(paths: Iterable[str | Path]) -> tuple[list[GitMirror], list[str | Path]]:
    """The git mirrors among ``paths`` (bare repositories, tops of working copies) and the rest."""
    mirrors: list[GitMirror] = []
    plain: list[str | Path] = []
    for path in paths:
        mirror = find_mirror(path)
        if mirror is None:
            plain.append(path)
        elif all(m.git_dir != mirror.git_dir for m in mirrors):
            mirrors.append(mirror)
    return mirrors, plain


#: Seconds to nanoseconds: a git version's ``seq`` is its commit time in ns plus its place in the run.
_NS = 1_000_000_000
#: A batch of git versions is cut short when its files hold this many bytes (bounded memory).
BLOB_BATCH_BYTES = 64 * 1024 * 1024


def _ingest_mirror(
    mirror: GitMirror,
    store: Store,
    ix,  # type: ignore[no-untyped-def]
    spec: SegmenterSpec,
    workers: int | None,
    batch_size: int,
    summary: IngestSummary,
    on_reject: RejectCallback | None,
    progress: ProgressCallback,
) -> None:
    """Ingest every version of every file in a git mirror's history after the commit read last.

    The commit read last is remembered in the store once every version up to
    it is committed; an interrupted run starts again from the previous one,
    and what it reads again adds nothing.  A file that is not an archive file
    is reported once per path.
    """
    key = f"git:{mirror.git_dir.resolve()}"
    head = mirror.head()
    if head is None:
        return
    after = store.meta(key)
    summary.commits += len(mirror.commits(after=after, head=head))
    changes = mirror.changes(after=after, head=head)
    reported: set[str] = set()

    def reject_once(path: str, reason: str) -> None:
        if path not in reported:
            reported.add(path)
            _reject(summary, on_reject, path, reason)

    def batches() -> Iterator[list[BlobTask]]:
        batch: list[BlobTask] = []
        size = 0
        for version in mirror.read(changes):
            summary.files += 1
            where = f"{mirror.git_dir}:{version.path}"
            if version.data is None:
                reject_once(where, version.problem or "unreadable")
                continue
            name = f"{mirror.git_dir}@{version.commit[:12]}:{version.path}"
            seq = version.commit_time * _NS + version.sequence
            batch.append(BlobTask(where, name, version.data, version.commit_time * 1000, seq))
            size += len(version.data)
            if len(batch) >= batch_size or size >= BLOB_BATCH_BYTES:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    _commit_batches(store, ix, batches(), len(changes), spec, workers, summary, reject_once, progress)
    with store.transaction():
        store.set_meta(key, head)


@contextmanager
def _write_errors(data: Path) -> Iterator[None]:
    """Turn failures to write the archive (disk full, I/O, read-only) into :class:`ArchiveError`.

    What was committed before stays: SQLite rolls back the open transaction
    and an uncommitted Whoosh segment is never referenced.
    """
    try:
        yield
    except sqlite3.Error as exc:
        raise database_error(data, data / DB_NAME, exc) from None
    except LockError:
        raise ArchiveLocked(f"the search index in {data} is locked by another writer") from None
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise ArchiveError(
            f"cannot write to archive {data}: {exc.strerror or exc}{where}; "
            "what was committed before is intact (run the ingest again when fixed)"
        ) from None


def _clean_index_debris(data: Path) -> None:
    """Remove temporary TOC files a killed Whoosh commit left (Whoosh never removes them), and
    the folders of segments a killed ingest's workers wrote apart and it never committed
    (:func:`~newsarc.index.write_segment`), and the files of documents it handed them.

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
        elif name.startswith(APART_PREFIX):  # a folder, or the documents handed to a worker
            if (folder / name).is_dir() and not (folder / name).is_symlink():
                shutil.rmtree(folder / name, ignore_errors=True)
            else:
                with suppress(OSError):
                    os.remove(folder / name)


def ledger_key(path: Path) -> str:
    """The path an archive records for a file it ingests: resolved (symbolic links followed), else
    absolute (both engines: ``show`` and ``export`` give the same path whichever holds the article)."""
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):  # a symbolic link loop made since the walk (RuntimeError before 3.13)
        return str(path.absolute())


class _Workers:
    """An ingest's worker processes (a context manager, :class:`~newsarc.workers.Workers`): they
    analyse batches of tasks and write segments apart (:func:`~newsarc.index.write_segment`).
    With one worker, or fewer than :data:`POOL_THRESHOLD` tasks, there is no pool: the work is
    done in this process."""

    def __init__(self, count: int, workers: int | None, spec: SegmenterSpec) -> None:
        workers = workers if workers is not None else (os.cpu_count() or 1)
        self.parallel = workers > 1 and count >= POOL_THRESHOLD
        self._workers = workers
        self._spec = spec
        self._pool: Workers | None = None

    def __enter__(self) -> _Workers:
        if not self.parallel:
            _init_worker(self._spec)
            return self
        self._pool = Workers(self._workers, _init_worker, (self._spec,)).__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:  # stops the workers, also on an interrupt
            self._pool.stop()

    def analysed(
        self, batches: Iterable[list[Any]], work: Callable[[Any], Any] | None = None
    ) -> Iterator[Iterator[Any]]:
        """Each batch's results as they come (at most two batches in flight: bounded memory,
        and the workers go on with the next batch while one is committed).  ``work`` (a
        module-level function, run with the segmenter of the spec, see
        :func:`worker_segmenter`) defaults to this ingest's :func:`_work_any`."""
        work = work or _work_any
        if self._pool is None:
            for batch in batches:
                yield (work(t) for t in batch)
            return
        inflight = None
        for batch in batches:
            jobs = [self._pool.submit(_work_each, work, batch[i : i + CHUNK]) for i in range(0, len(batch), CHUNK)]
            if inflight is not None:
                yield inflight
            inflight = _results(jobs)
        if inflight is not None:
            yield inflight

    @property
    def size(self) -> int:
        """How many worker processes there are."""
        return self._pool.processes if self._pool is not None else 0

    def write_segment(self, folder: Path, docs: list[IndexDocument]) -> Callable[[], WrittenSegment]:
        """Have a worker write ``docs`` as a segment apart, after the analysis tasks queued
        before; returns the function that waits for it (and raises what the worker raised).
        Only with a pool (:attr:`parallel`).

        The documents (megabytes) reach the worker in a file apart in ``folder``, not through
        its pipe: a task larger than the pipe holds waits until a worker is idle, and holds up
        the tasks behind it (:class:`~newsarc.workers.Workers`)."""
        assert self._pool is not None
        fd, docs_file = tempfile.mkstemp(prefix=APART_PREFIX, suffix=".docs", dir=folder)
        with os.fdopen(fd, "wb") as out:
            pickle.dump(docs, out, protocol=pickle.HIGHEST_PROTOCOL)
        return self._pool.submit(_write_segment_from, folder, docs_file).get

    def write_merged(self, folder: Path, merge: Merge) -> Job:
        """Have a worker merge ``merge``'s segments into a segment apart, after the tasks
        queued before, with nothing queued behind it on that worker (a merge is long).  Only
        with a pool (:attr:`parallel`)."""
        assert self._pool is not None
        return self._pool.submit(write_merged, folder, merge, cost=DEPTH)


#: Files a worker analyses in one job.
CHUNK = 8


def _work_each(work: Callable[[Any], Any], tasks: list[Any]) -> list[Any]:
    """In a worker: ``work`` on each task."""
    return [work(task) for task in tasks]


def _results(jobs: list[Job]) -> Iterator[Any]:
    """The results of analysis jobs, in order, each job waited for in turn."""
    for job in jobs:
        yield from job.get()


def _write_segment_from(folder: Path, docs_file: str) -> WrittenSegment:
    """In a worker: write the documents :meth:`_Workers.write_segment` left in ``docs_file``
    (removed once read) as a segment apart."""
    try:
        with open(docs_file, "rb") as f:
            docs = pickle.load(f)
    finally:
        os.remove(docs_file)
    return write_segment(folder, docs)


def _analysed_batches(
    batches: Iterable[list[Any]],
    count: int,
    workers: int | None,
    spec: SegmenterSpec,
    work: Callable[[Any], Any] = _work_any,
) -> Iterator[Iterator[Any]]:
    """Analyse batches of tasks (``count`` in all) with :class:`_Workers`: each batch's results
    as they come.  The cluster engine passes its own ``work``."""
    with _Workers(count, workers, spec) as pool:
        yield from pool.analysed(batches, work)


@dataclass
class _Counts:
    """How a batch's articles compare with the store, counted into the summary once committed."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    older: int = 0
    versions: int = 0

    def add_to(self, summary: IngestSummary) -> None:
        summary.added += self.added
        summary.updated += self.updated
        summary.unchanged += self.unchanged
        summary.older += self.older
        summary.versions += self.versions


def _store_results(
    store: Store, results: list[FileResult], summary: IngestSummary, reject: RejectCallback
) -> tuple[list[tuple[Analysed, bool]], list[int]]:
    """Decide and store one batch (the store commits before the index: a crash in between is
    finished by the next ingest); the articles to index, each with whether it replaces an
    indexed one, and their rowids (marked indexed once the index has committed them)."""
    counts = _Counts()
    sightings, ledger = _sort_results(results, counts, reject)
    writes, rowids = _store_batch(store, sightings, ledger, counts)
    counts.add_to(summary)
    return writes, rowids


#: A ledger row: ``(absolute path, size, mtime_ns, sha1 hex)``.
LedgerEntry = tuple[str, int, int, str]


def _sort_results(
    results: list[FileResult], counts: _Counts, reject: RejectCallback
) -> tuple[dict[str, list[Analysed]], list[LedgerEntry]]:
    """Report the rejected files; the versions of each article the batch holds; the ledger rows
    of the files read."""
    sightings: dict[str, list[Analysed]] = {}
    ledger: list[LedgerEntry] = []
    for result in results:
        task = result.task
        if result.rejected is not None:
            reject(task.path, result.rejected)
            continue
        if result.analysed is None:  # touched, same content: remember its new size and mtime
            assert isinstance(task, FileTask)
            counts.unchanged += 1
            try:
                st = os.stat(task.ledger)
            except OSError:  # removed since it was read: nothing to record
                continue
            if task.known is not None:
                ledger.append((task.ledger, st.st_size, st.st_mtime_ns, task.known[2]))
            continue
        res = result.analysed
        if isinstance(task, FileTask):  # a git blob has no ledger row
            ledger.append((task.ledger, res.size, res.mtime_ns, res.digest))
        sightings.setdefault(res.article.id, []).append(res)
    return sightings, ledger


def _store_versions(
    store: Store, sightings: dict[str, list[Analysed]], counts: _Counts
) -> list[tuple[Analysed, bool]]:
    """Record every version the batch holds (inside the caller's transaction): the articles whose
    row was written (to be indexed), each with whether it replaces a stored one.

    Each article's versions go newest first, so that its row is written at most once.
    """
    writes: list[tuple[Analysed, bool]] = []
    for results in sightings.values():
        results.sort(key=lambda r: (r.article.archived_ms, r.seq, r.content), reverse=True)
        existed = store.archived_ms(results[0].article.id) is not None
        written: Analysed | None = None
        for res in results:
            from_file = res.size >= 0
            outcome, rowid = store.add_sighting(
                res.article, res.content, res.seq,
                file=res.ledger if from_file else None, digest=res.digest if from_file else None,
            )
            if rowid is not None:
                res.doc.key = rowid
                written = res
            if outcome == "added":
                counts.added += 1
            elif outcome == "updated":
                counts.updated += 1
            elif outcome == "unchanged":
                counts.unchanged += 1
            else:
                counts.older += 1
                counts.versions += outcome == "version"
        if written is not None:
            writes.append((written, existed))
    return writes


def _store_batch(
    store: Store, sightings: dict[str, list[Analysed]], ledger: list[LedgerEntry], counts: _Counts
) -> tuple[list[tuple[Analysed, bool]], list[int]]:
    """Store the batch's versions (articles not yet indexed) and the ledger rows in one
    transaction; returns the articles written and their rowids (set as their index documents'
    keys)."""
    with store.transaction():
        writes = _store_versions(store, sightings, counts)
        rowids = [res.doc.key for res, _replace in writes]
        for entry in ledger:
            store.record_file(*entry)
    return writes, rowids


def _index_batch(ix, writes: list[tuple[Analysed, bool]]) -> None:  # type: ignore[no-untyped-def]
    """Add the articles to the index as one segment, deleting the versions they replace."""
    writer = index_writer(ix)
    try:
        writer.delete(res.article.id for res, replace in writes if replace)
        for res, _replace in writes:
            writer.add(res.doc)
        writer.commit()  # merged by the caller: see merge_segments
    except BaseException:
        writer.cancel()
        raise


def _reindex(
    store: Store,
    ix,  # type: ignore[no-untyped-def]
    segmenter: Segmenter,
    rowids: list[int],
    batch_size: int,
    summary: IngestSummary,
    progress: ProgressCallback,
) -> None:
    """Re-analyse stored articles and replace them in the index, batch by batch."""
    total = len(rowids)
    progress("index", 0, total)
    for i in range(0, total, batch_size):
        chunk = rowids[i : i + batch_size]
        writer = index_writer(ix)
        try:
            docs = []
            for rowid in chunk:
                article = store.get_by_rowid(rowid)
                _folded, doc = analyse_article(article, segmenter, key=rowid)
                docs.append(doc)
                progress("index", i + len(docs), total)
            writer.delete(doc.id for doc in docs)
            for doc in docs:
                writer.add(doc)
            writer.commit()
        except BaseException:
            writer.cancel()
            raise
        merge_segments(ix, final=False)
        with store.transaction():
            store.mark_indexed(chunk)
        summary.reindexed += len(chunk)


def _sound_index(data: Path) -> Index:
    """The archive's index, made anew (empty) when it is missing or fails any check (every
    CRC32 read): what :func:`reindex` rebuilds.  Call only while holding the archive lock."""
    try:
        ix = open_index(data, create=True)
        if not verify_all(ix):
            return ix
    except DamagedArchive:
        pass
    folder = index_dir(data)
    for name in os.listdir(folder):
        if name != f"{INDEX_NAME}_WRITELOCK":
            os.remove(folder / name)
    return open_index(data, create=True)


def reindex(
    data_dir: str | Path,
    *,
    wait: float = DEFAULT_WAIT,
    on_wait: Callable[[int | None], None] | None = None,
    on_progress: ProgressCallback | None = None,
    on_message: Callable[[str], None] | None = None,
) -> IngestSummary:
    """Rebuild the search index of an archive from its store (after a dictionary change, or
    when the index is missing or damaged: then it is rebuilt from nothing).

    Takes the archive's writer lock like :func:`ingest`.  Every row is first
    marked unindexed in one transaction, so an interrupted reindex is finished
    by the next ingest or reindex.  Returns a summary whose ``reindexed`` is
    the number of articles; an interrupt raises :class:`Interrupted`.
    """
    started = time.perf_counter()
    data = Path(data_dir)
    summary = IngestSummary()
    progress = on_progress or _no_progress
    open_store(data).close()  # "no archive", foreign or other-version archives: report, touch nothing
    try:
        with ArchiveLock(data, wait=wait, on_wait=on_wait, command="reindex") as lock, _write_errors(data):
            _after_lock(data, lock, on_message)
            with open_store(data, create=True) as store:
                ix = _sound_index(data)
                spec = segmenter_spec(data)
                segmenter = Segmenter(*spec)
                sync_dictionary(store, segmenter, spec)
                with store.transaction():
                    store.mark_all_unindexed()
                _reindex(store, ix, segmenter, store.unindexed(), default_batch_size(), summary, progress)
                store.switch_dictionary()
                progress("merge", 0, 1)
                merge_segments(ix)
                progress("merge", 1, 1)
    except KeyboardInterrupt:
        summary.seconds = time.perf_counter() - started
        raise Interrupted(summary) from None
    summary.seconds = time.perf_counter() - started
    return summary
