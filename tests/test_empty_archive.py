"""An empty archive is a valid archive: every command answers on it, none crashes.

Two empty states arise in practice: a new archive whose ingest found nothing to
add (an empty folder, a missing path, only rejected files), and an archive whose
index has no segments while the store already holds rows (``kill -9`` during a
new archive's first batch, a full disk on its first index commit, a search
during that commit).  Both are built here as they arise, through the real CLI.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import SEED_IDS, SEEDS, jsonl, make_corpus, run
from newsarc.index import index_dir, open_index


def _no_crash(result) -> None:  # type: ignore[no-untyped-def]
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr, result.stderr


def _assert_empty_archive_answers(data: Path) -> None:
    """Every command on an archive without articles: the exact outcome of each."""
    result = run("search", "普京", data=data)
    _no_crash(result)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("no hits")
    result = run("search", "--json", "崔善姬 OR Tu-160", data=data)
    _no_crash(result)
    assert (result.exit_code, result.stdout) == (1, "")
    result = run("timeline", "普京", data=data)
    _no_crash(result)
    assert (result.exit_code, result.stdout) == (1, "")
    for command in ("show", "similar", "keywords"):
        result = run(command, "abcd", data=data)
        _no_crash(result)
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == "newsarc: no article with id abcd\n"
    result = run("stats", "--json", data=data)
    _no_crash(result)
    assert result.exit_code == 0
    figures = json.loads(result.stdout)
    assert (figures["articles"], figures["sources"], figures["years"]) == (0, {}, {})
    result = run("stats", data=data)
    assert result.exit_code == 0 and "Articles  0" in result.stdout
    result = run("export", data=data)
    _no_crash(result)
    assert (result.exit_code, result.stdout) == (0, "")
    result = run("export", "--format", "opensearch", data=data)
    assert (result.exit_code, result.stdout) == (0, "")
    result = run("reindex", data=data)
    _no_crash(result)
    assert result.exit_code == 0
    assert result.stderr == "re-indexed 0 articles\n"
    # and still answers after the reindex
    result = run("search", "普京", data=data)
    assert (result.exit_code, result.stdout) == (1, "")


def test_ingest_of_an_empty_folder_makes_a_valid_empty_archive(tmp_path: Path) -> None:
    (tmp_path / "emptydir").mkdir()
    data = tmp_path / "fresh"
    result = run("ingest", str(tmp_path / "emptydir"), data=data)
    _no_crash(result)
    assert result.exit_code == 0
    assert result.stderr.startswith("ingested 0 files: 0 added, 0 updated, 0 unchanged, 0 rejected")
    _assert_empty_archive_answers(data)
    # a second ingest of nothing, then of real files, works on it
    assert run("ingest", str(tmp_path / "emptydir"), data=data).exit_code == 0
    # killed before the index was even made: readers still answer, the next ingest makes it
    shutil.rmtree(index_dir(data))
    _assert_empty_archive_answers(data)
    shutil.rmtree(index_dir(data))
    result = run("ingest", str(SEEDS), data=data)
    assert result.exit_code == 0, result.stderr
    result = run("search", "--json", "金正恩", data=data)
    assert result.exit_code == 0 and SEED_IDS["voa_2023"] in {h["id"] for h in jsonl(result.stdout)}


def test_ingest_of_a_missing_path_makes_a_valid_empty_archive(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    missing = tmp_path / "nosuchdir"
    result = run("ingest", str(missing), data=data)
    _no_crash(result)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"{missing}: no such file or directory"
    assert result.stderr.splitlines()[1].startswith("ingested 1 file: 0 added, 0 updated, 0 unchanged, 1 rejected")
    _assert_empty_archive_answers(data)


def test_ingest_of_only_rejected_files_makes_a_valid_empty_archive(tmp_path: Path) -> None:
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "README.md").write_text("# notes\n\nnot an archive file\n", encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")
    data = tmp_path / "fresh"
    result = run("ingest", str(folder), data=data)
    _no_crash(result)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:2] == [
        f"{folder / 'README.md'}: not an archive file: missing <!--timestamp--> header",
        f"{folder / 'empty.txt'}: empty file",
    ]
    _assert_empty_archive_answers(data)


@pytest.fixture()
def stored_not_indexed(tmp_path: Path, seed_archive: Path) -> Path:
    """The seeds stored (rows marked not indexed) beside an index without segments.

    The state ``kill -9`` leaves during a new archive's first batch: the store
    committed, the index had written its empty table of contents and nothing else.
    """
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(seed_archive / "articles.db", data / "articles.db")
    conn = sqlite3.connect(data / "articles.db")
    conn.execute("UPDATE articles SET indexed = 0")
    conn.commit()
    conn.close()
    open_index(data, create=True)
    assert [p.name for p in index_dir(data).iterdir()] == ["_MAIN_0.toc"]
    return data


def test_every_command_on_an_index_without_segments(stored_not_indexed: Path) -> None:
    data = stored_not_indexed
    voa = SEED_IDS["voa_2023"]
    result = run("search", "金正恩", data=data)  # not indexed yet: nothing to find
    _no_crash(result)
    assert (result.exit_code, result.stdout) == (1, "")
    result = run("timeline", "金正恩", data=data)
    _no_crash(result)
    assert (result.exit_code, result.stdout) == (1, "")
    result = run("show", "--json", voa, data=data)
    assert result.exit_code == 0 and json.loads(result.stdout)["id"] == voa
    result = run("similar", voa, data=data)
    _no_crash(result)
    assert (result.exit_code, result.stdout) == (1, "")
    result = run("keywords", "--json", voa, data=data)
    _no_crash(result)
    assert result.exit_code == 0
    assert "金正恩" in [row["term"] for row in jsonl(result.stdout)]
    result = run("stats", "--json", data=data)
    assert result.exit_code == 0 and json.loads(result.stdout)["articles"] == 5
    result = run("export", data=data)
    assert result.exit_code == 0 and len(jsonl(result.stdout)) == 5
    # re-indexing finishes the job
    result = run("reindex", data=data)
    _no_crash(result)
    assert (result.exit_code, result.stderr) == (0, "re-indexed 5 articles\n")
    result = run("search", "--json", "金正恩", data=data)
    assert result.exit_code == 0 and voa in {h["id"] for h in jsonl(result.stdout)}


def test_ingest_resumes_an_index_without_segments(stored_not_indexed: Path) -> None:
    data = stored_not_indexed
    result = run("ingest", str(SEEDS), data=data)
    _no_crash(result)
    assert result.exit_code == 0, result.stderr
    assert "re-indexed 5 stored articles" in result.stderr
    result = run("search", "--json", "--all", "普京", data=data)
    ids = [h["id"] for h in jsonl(result.stdout)]
    assert len(ids) == len(set(ids)) and SEED_IDS["dw"] in ids


@pytest.mark.parametrize("delay", [0.8, 1.6, 2.4, 3.2])
def test_kill_9_during_a_new_archives_first_batch(tmp_path: Path, delay: float) -> None:
    """Killed at any moment of its first ingest, a new archive answers every reader, and the same
    ingest run again completes it."""
    corpus = tmp_path / "corpus"
    make_corpus(corpus, 40)
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsarc", "--data", str(data), "ingest", "--workers", "1", str(corpus)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    proc.kill()
    proc.wait()
    if (data / "articles.db").exists():
        for args in (("search", "金正恩"), ("timeline", "金正恩"), ("show", "abcd"), ("similar", "abcd"),
                     ("keywords", "abcd"), ("stats",), ("export",)):
            result = run(*args, data=data)
            _no_crash(result)
            assert result.exit_code in (0, 1)
            # a database killed before its tables were made is no archive yet: also one clear line
            assert not result.stderr.startswith("newsarc: cannot"), result.stderr
    result = run("ingest", str(corpus), data=data)
    assert result.exit_code == 0, result.stderr
    assert json.loads(run("stats", "--json", data=data).stdout)["articles"] == 40
    assert len(jsonl(run("search", "--json", "--all", "金正恩 OR 普京", data=data).stdout)) == 40


def test_an_archive_killed_before_its_tables_were_made_is_made_by_the_next_ingest(tmp_path: Path) -> None:
    for name, make in (("zero-bytes", lambda db: db.write_bytes(b"")),
                       ("wal-no-tables", lambda db: sqlite3.connect(db).execute("PRAGMA journal_mode=WAL"))):
        data = tmp_path / name
        data.mkdir()
        make(data / "articles.db")
        result = run("search", "普京", data=data)
        assert (result.exit_code, result.stderr) == (1, f"newsarc: no archive in {data} (run `newsarc ingest PATH` first)\n")
        result = run("ingest", str(SEEDS), data=data)
        assert result.exit_code == 0, result.stderr
        assert json.loads(run("stats", "--json", data=data).stdout)["articles"] == 5
