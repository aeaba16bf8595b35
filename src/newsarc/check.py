"""``newsarc check``: verify a whole archive, as ``git fsck`` or Lucene's ``CheckIndex`` do.

It reads everything once and changes nothing:

* the store: SQLite's ``PRAGMA integrity_check`` (every page and index of
  ``articles.db``), then every stored record and every older version, which
  must decompress (their zstd frames carry a checksum) and parse;
* the index: its table of contents (read without trusting its pickles),
  every file of every segment against the CRC32s written with it, and every
  document's stored fields (unpickled without building any class);
* store ↔ index: the index holds each stored article exactly once, and
  nothing else.

Each problem names what is wrong and what repairs it (:class:`Problem`).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from newsarc.errors import ArchiveError, NoArchive
from newsarc.index import IndexReader, index_dir, open_index
from newsarc.integrity import verify_segment
from newsarc.store import DB_NAME, Store, open_store

#: The repair of a damaged store: nothing else holds what it held.
STORE_REPAIR = "restore articles.db from a backup, or ingest the source files again into a new --data directory"
#: The repair of a missing or damaged index, or one that disagrees with the store.
INDEX_REPAIR = "newsarc reindex"
#: Problems of one kind reported one by one; beyond this many, the rest are counted in one line.
MAX_LISTED = 20


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong: ``part`` is ``store``, ``record``, ``index`` or ``agreement``."""

    part: str
    problem: str
    repair: str


@dataclass
class CheckReport:
    """What :func:`check_archive` verified and found."""

    articles: int = 0
    records: int = 0
    versions: int = 0
    segments: int = 0
    index_documents: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problems

    def as_dict(self) -> dict:
        """The ``--json`` form."""
        out = asdict(self)
        out["ok"] = self.ok
        return out


def _listed(report: CheckReport, part: str, problems: list[str], repair: str) -> None:
    for text in problems[:MAX_LISTED]:
        report.problems.append(Problem(part, text, repair))
    if len(problems) > MAX_LISTED:
        report.problems.append(Problem(part, f"… and {len(problems) - MAX_LISTED} more", repair))


def check_archive(data_dir: str | Path, on_progress: Callable[[str], None] | None = None) -> CheckReport:
    """Verify the archive at ``data_dir`` (see the module docstring); raises :class:`NoArchive`
    when there is none.  ``on_progress(phase)`` is told each phase as it starts."""
    progress = on_progress or (lambda phase: None)
    report = CheckReport()
    try:
        store = open_store(data_dir)
    except NoArchive:
        raise
    except ArchiveError as exc:
        pages = _integrity_check(Path(data_dir) / DB_NAME)
        _listed(report, "store", pages or [str(exc)], STORE_REPAIR)
        return report
    with store:
        progress("store")
        try:
            _check_store(store, report, progress)
        except sqlite3.DatabaseError as exc:
            report.problems.append(Problem("store", f"{DB_NAME}: {exc}", STORE_REPAIR))
            return report
        progress("index")
        _check_index(store, Path(data_dir), report)
    return report


def _integrity_check(db: Path, conn: sqlite3.Connection | None = None) -> list[str]:
    """What SQLite's ``PRAGMA integrity_check`` finds wrong in ``db`` (read-only)."""
    own = conn is None
    try:
        if conn is None:
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        rows = [str(r[0]) for r in conn.execute(f"PRAGMA integrity_check({MAX_LISTED + 1})")]
    except sqlite3.DatabaseError as exc:
        rows = [str(exc)]
    finally:
        if own and conn is not None:
            conn.close()
    return [] if rows == ["ok"] else [f"{DB_NAME}: {r}" for r in rows]


def _check_store(store: Store, report: CheckReport, progress: Callable[[str], None]) -> None:
    _listed(report, "store", _integrity_check(store.path / DB_NAME, store.conn), STORE_REPAIR)
    progress("records")
    damaged: list[str] = []
    for _record in store.iter_records(lambda _id, reason: damaged.append(reason)):
        report.records += 1
    report.articles = store.count()
    for article_id in store.versioned_ids():
        try:
            report.versions += len(store.versions_of(article_id))
        except (ArchiveError, ValueError) as exc:
            damaged.append(f"damaged versions of {article_id}: {exc}")
    _listed(report, "record", damaged, STORE_REPAIR)


def _check_index(store: Store, data: Path, report: CheckReport) -> None:
    where = index_dir(data)
    try:
        ix = open_index(data)
        toc = ix._read_toc()
    except ArchiveError as exc:
        if not report.articles and "no search index" in str(exc):
            return  # a new archive killed before its index was made: nothing is missing
        report.problems.append(Problem("index", str(exc), INDEX_REPAIR))
        return
    report.segments = len(toc.segments)
    problems = [p for seg in toc.segments for p in verify_segment(ix.storage, seg)]
    if problems:
        _listed(report, "index", [f"{where}: {p}" for p in problems], INDEX_REPAIR)
        return  # reading damaged segments would only report the damage again
    try:
        with IndexReader(ix) as reader:
            ids = Counter(reader.live_article_ids())
    except Exception as exc:  # whoosh raises many types for a damaged segment
        report.problems.append(Problem("index", f"{where}: cannot read: {exc}", INDEX_REPAIR))
        return
    report.index_documents = sum(ids.values())
    stored = {r[0]: r[1] for r in store.conn.execute("SELECT id, indexed FROM articles")}
    _listed(report, "agreement", [
        f"article {i} is indexed {n} times" for i, n in sorted(ids.items()) if n > 1
    ], INDEX_REPAIR)  # fmt: skip
    _listed(report, "agreement", [
        f"article {i} is indexed but not stored" for i in sorted(ids.keys() - stored.keys())
    ], INDEX_REPAIR)  # fmt: skip
    missing = sorted(stored.keys() - ids.keys())
    unfinished = [i for i in missing if not stored[i]]
    lost = [i for i in missing if stored[i]]
    _listed(report, "agreement", [f"article {i} is stored but not indexed" for i in lost], INDEX_REPAIR)
    if unfinished:
        report.problems.append(Problem(
            "agreement",
            f"{len(unfinished)} stored articles are not indexed yet (an interrupted ingest)",
            "newsarc ingest (any path) or newsarc reindex finishes it",
        ))  # fmt: skip
