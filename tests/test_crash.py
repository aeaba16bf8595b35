"""Crash safety: ``kill -9`` a real ``newsarc ingest`` at random moments.

After every kill the archive must open and answer ``stats`` and searches with
no duplicate ids; re-running the same ingest must end with every article
present exactly once (in the store and in the Whoosh index).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import make_corpus, template_archive
from newsarc import ingest as ingest_mod
from newsarc.index import APART_PREFIX, INDEX_NAME, index_dir
from newsarc.search import SearchOptions, open_searcher
from newsarc.store import open_store

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
CORPUS_FILES = 150
KILL_RUNS = 5


def copy_archive(template: Path, target: Path) -> Path:
    shutil.copytree(template, target)
    return target


def cli(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsarc", *args],
        capture_output=True, timeout=timeout, env={**os.environ, **(env or {})},
    )


def whoosh_ids(data: Path) -> Counter:
    """How many live index documents each article id has."""
    from whoosh import index

    ix = index.open_dir(index_dir(data), indexname=INDEX_NAME)
    with ix.reader() as reader:
        return Counter(fields["id"] for _n, fields in reader.iter_docs())


def check_invariants(data: Path) -> tuple[int, int]:
    """The archive opens, stats work, no id is indexed twice, searches return distinct ids."""
    with open_store(data) as store:
        stored = {r[0]: r[1] for r in store.conn.execute("SELECT id, indexed FROM articles")}
        store.stats()
    ids = whoosh_ids(data)
    dups = {i: n for i, n in ids.items() if n > 1}
    assert not dups, f"ids indexed more than once: {dups}"
    assert set(ids) <= set(stored), "index holds ids the store does not"
    with open_searcher(data) as searcher:
        for q in ("金正恩", "普京", "朝鲜 OR 俄罗斯"):
            result = searcher.search(q)
            full = searcher.search(q, SearchOptions(limit=None))
            got = [h.id for h in full.hits]
            assert len(got) == len(set(got)), f"duplicate hits for {q}"
            assert full.total == len(got) and result.total == full.total
    proc = cli("--data", str(data), "stats", "--json")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    figures = json.loads(proc.stdout)
    assert figures["articles"] == len(stored)
    return len(stored), len(ids)


def test_kill_9_during_ingest(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    corpus = tmp_path / "corpus"
    urls = make_corpus(corpus, CORPUS_FILES)
    data = copy_archive(template_archive(tmp_path_factory), tmp_path / "data")
    base = check_invariants(data)[0]
    env = {"NEWSARC_BATCH_SIZE": "10", "PYTHONUNBUFFERED": "1"}
    rng = random.Random(int(os.environ.get("NEWSARC_CRASH_SEED", "20231117")))
    survived = 0
    history = []
    for run in range(KILL_RUNS):
        proc = subprocess.Popen(
            [sys.executable, "-m", "newsarc", "--data", str(data), "ingest", "--wait", "0",
             "--workers", str(1 + run % 2), str(corpus)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **env},
        )
        delay = rng.uniform(0.8, 3.5)
        time.sleep(delay)
        finished = proc.poll() is not None
        if not finished:
            proc.send_signal(signal.SIGKILL)
        _out, err = proc.communicate(timeout=30)
        assert finished or proc.returncode == -signal.SIGKILL
        assert b"Traceback" not in err, err.decode(errors="replace")
        stored, indexed = check_invariants(data)
        history.append((round(delay, 2), stored - base, indexed - base))
        survived += 1
    print(f"\nkill -9 runs survived: {survived}/{KILL_RUNS}; (delay s, stored, indexed): {history}")
    done = cli("--data", str(data), "ingest", "--wait", "0", str(corpus), env=env, timeout=120)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    stored, indexed = check_invariants(data)
    assert stored == indexed == base + CORPUS_FILES
    ids = whoosh_ids(data)
    with open_store(data) as store:
        assert store.unindexed() == []
        urls_stored = {r[0] for r in store.conn.execute("SELECT url FROM articles")}
    assert set(urls) <= urls_stored
    assert all(n == 1 for n in ids.values())
    # no debris left by the killed Whoosh commits, nor segments the killed workers wrote apart
    leftovers = [
        n for n in os.listdir(index_dir(data)) if ".toc." in n or n.endswith(".tmp") or n.startswith(APART_PREFIX)
    ]
    assert leftovers == []


class _Crash(BaseException):
    """Stands for the process dying at a chosen point (nothing after it runs)."""


def test_crash_between_index_commit_and_mark_indexed(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoosh committed a batch but the rows were never marked indexed: re-indexing adds no duplicate."""
    corpus = tmp_path / "corpus"
    make_corpus(corpus, 30, chars=600)
    data = copy_archive(template_archive(tmp_path_factory), tmp_path / "data")
    base = check_invariants(data)[0]
    from newsarc.store import Store

    real = Store.mark_indexed
    calls = {"n": 0}

    def crashing(self, rowids):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise _Crash()
        return real(self, rowids)

    monkeypatch.setattr(Store, "mark_indexed", crashing)
    with pytest.raises(_Crash):
        ingest_mod.ingest([corpus], data, workers=1, batch_size=10)
    monkeypatch.setattr(Store, "mark_indexed", real)
    with open_store(data) as store:
        assert len(store.unindexed()) == 10  # the second batch: in the index, not marked
    assert sum(whoosh_ids(data).values()) == base + 20
    summary = ingest_mod.ingest([corpus], data, workers=1, batch_size=10)
    assert summary.reindexed == 10 and summary.added == 10
    stored, indexed = check_invariants(data)
    assert stored == indexed == base + 30


def test_crash_during_dictionary_reindex_is_finished_later(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dictionary change marks every row unindexed in the same transaction; a crash mid-way is resumed."""
    corpus = tmp_path / "corpus"
    make_corpus(corpus, 20, chars=600)
    data = copy_archive(template_archive(tmp_path_factory), tmp_path / "data")
    ingest_mod.ingest([corpus], data, workers=1, batch_size=10)
    (data / "userdict.txt").write_text("测试新词 100 n\n", encoding="utf-8")
    real = ingest_mod._reindex

    def crashing(store, ix, segmenter, rowids, batch_size, summary, progress):  # type: ignore[no-untyped-def]
        real(store, ix, segmenter, rowids[:5], batch_size, summary, progress)
        raise _Crash()

    monkeypatch.setattr(ingest_mod, "_reindex", crashing)
    with pytest.raises(_Crash):
        ingest_mod.ingest([corpus], data, workers=1, batch_size=10)
    monkeypatch.setattr(ingest_mod, "_reindex", real)
    with open_store(data) as store:
        left = len(store.unindexed())
        total = store.count()
    assert left == total - 5
    summary = ingest_mod.ingest([corpus], data, workers=1, batch_size=10)
    assert summary.reindexed == left
    check_invariants(data)
