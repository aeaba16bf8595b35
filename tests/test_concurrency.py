"""Concurrency: readers during an ingest, a second ingest waits or fails, stale locks are cleared."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import make_corpus, template_archive
from newsarc.errors import ArchiveLocked, NewsarcError
from newsarc.lock import ArchiveLock, is_locked, read_owner
from newsarc.search import SearchOptions, open_searcher
from newsarc.store import open_store

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def newsarc(*args: str, **kw) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    env = {**os.environ, "NEWSARC_BATCH_SIZE": "10"}
    return subprocess.Popen([sys.executable, "-m", "newsarc", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, **kw)


def test_readers_and_a_second_ingest_during_an_ingest(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = tmp_path / "data"
    shutil.copytree(template_archive(tmp_path_factory), data)
    make_corpus(tmp_path / "one", 120, "one")
    make_corpus(tmp_path / "two", 30, "two")
    with open_store(data) as store:
        base = store.count()
        some_id = store.conn.execute("SELECT id FROM articles LIMIT 1").fetchone()[0]

    first = newsarc("--data", str(data), "ingest", "--workers", "1", str(tmp_path / "one"))
    deadline = time.monotonic() + 10
    while read_owner(data) != first.pid and time.monotonic() < deadline:
        time.sleep(0.02)
    assert read_owner(data) == first.pid and is_locked(data)

    # a second ingest that will not wait: exit 1, one line naming the holder
    now = newsarc("--data", str(data), "ingest", "--wait", "0", str(tmp_path / "two"))
    out, err = now.communicate(timeout=60)
    assert now.returncode == 1
    assert err.decode().strip() == (
        f"newsarc: archive is locked by PID {first.pid} (another ingest is writing {data})"
    )
    # a second ingest that waits (default --wait 120)
    waiter = newsarc("--data", str(data), "ingest", str(tmp_path / "two"))

    counts: list[int] = []
    stats_counts: list[int] = []
    searches = cli_reads = 0
    while first.poll() is None:
        with open_searcher(data) as searcher:
            result = searcher.search("金正恩 OR 普京", SearchOptions(limit=None))
        ids = [h.id for h in result.hits]
        assert len(ids) == len(set(ids))
        counts.append(result.total)
        searches += 1
        if searches % 4 == 1:  # the CLI readers too: stats, show, export, search
            for args in (("stats", "--json"), ("show", some_id), ("export",), ("search", "--json", "普京")):
                proc = subprocess.run([sys.executable, "-m", "newsarc", "--data", str(data), *args],
                                      capture_output=True, timeout=60)
                assert proc.returncode == 0, (args, proc.stderr)
                assert b"Traceback" not in proc.stderr
                if args[0] == "stats":
                    stats_counts.append(json.loads(proc.stdout)["articles"])
                if args[0] == "export":
                    records = [json.loads(line) for line in proc.stdout.splitlines()]
                    assert len({r["id"] for r in records}) == len(records)
                cli_reads += 1
    assert first.wait(timeout=120) == 0, first.stderr.read() if first.stderr else b""
    wout, werr = waiter.communicate(timeout=120)
    assert waiter.returncode == 0, werr
    assert f"waiting for the archive lock held by PID {first.pid}".encode() in werr
    assert counts == sorted(counts) and stats_counts == sorted(stats_counts)
    print(f"\nconcurrency: {searches} in-process searches and {cli_reads} CLI reads during the ingest; "
          f"hit counts {counts[0]}→{counts[-1]}, stats {stats_counts[:1]}→{stats_counts[-1:]}")
    with open_store(data) as store:
        assert store.count() == base + 150
        assert store.unindexed() == []
    with open_searcher(data) as searcher:
        assert searcher.reader.doc_count() == base + 150


def test_stale_lock_of_a_killed_process_is_taken(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    # a process that locks and dies by SIGKILL
    code = ("import os,sys,signal; from newsarc.lock import ArchiveLock; "
            "l=ArchiveLock(sys.argv[1]).acquire(); os.kill(os.getpid(), signal.SIGKILL)")
    proc = subprocess.run([sys.executable, "-c", code, str(data)], timeout=30)
    assert proc.returncode == -9
    assert read_owner(data) is not None and not is_locked(data)
    with ArchiveLock(data, wait=0) as lock:
        assert lock.stale_pid == read_owner(data) or lock.stale_pid is not None
        assert read_owner(data) == os.getpid() and is_locked(data)
    assert read_owner(data) is None and not is_locked(data)


def test_lock_wait_limit_and_forked_children(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with ArchiveLock(data, wait=0) as lock:
        started = time.monotonic()
        code = ("import sys; from newsarc.lock import ArchiveLock\n"
                "try:\n    ArchiveLock(sys.argv[1], wait=0.5, on_wait=lambda p: print('waiting', p)).acquire()\n"
                "except Exception as e:\n    print(type(e).__name__, e)")
        out = subprocess.run([sys.executable, "-c", code, str(data)], capture_output=True, text=True,
                             timeout=30).stdout
        assert f"waiting {os.getpid()}" in out
        assert f"ArchiveLocked archive is locked by PID {os.getpid()}" in out and "gave up after waiting 0.5 s" in out
        assert time.monotonic() - started >= 0.5
        # a forked child (like an ingest worker) drops its copy of the lock descriptor at once,
        # so it cannot keep the archive locked after its parent is killed
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            try:
                os.fstat(lock.fd)  # type: ignore[arg-type]
            except OSError:
                os._exit(0)
            os._exit(1)
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    assert not is_locked(data)
    with pytest.raises(NewsarcError):
        ArchiveLock(tmp_path / "missing", wait=0).acquire()
    assert issubclass(ArchiveLocked, NewsarcError)
