"""Missing, read-only, foreign and incompatible archives, and a full disk: one clear line, nothing destroyed."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import template_archive
from newsarc.store import FORMAT_VERSION

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SEED = SEEDS / sorted(os.listdir(SEEDS))[0]


def run(*args: str, prefix: tuple[str, ...] = ()) -> tuple[int, str, str]:
    proc = subprocess.run([*prefix, sys.executable, "-m", "newsarc", *args], capture_output=True, timeout=120)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def one_line(err: str) -> str:
    assert err.endswith("\n") and err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


@pytest.mark.parametrize("command", [("search", "普京"), ("show", "abcd"), ("stats",), ("export",), ("reindex",)])
def test_missing_archive(tmp_path: Path, command: tuple[str, ...]) -> None:
    for data in (tmp_path / "empty", tmp_path / "nowhere"):
        if data.name == "empty":
            data.mkdir(exist_ok=True)
        code, out, err = run("--data", str(data), *command)
        assert (code, out) == (1, "")
        assert one_line(err) == f"newsarc: no archive in {data} (run `newsarc ingest PATH` first)"
    assert not (tmp_path / "nowhere").exists()  # readers create nothing


def test_data_is_a_file(tmp_path: Path) -> None:
    data = tmp_path / "file"
    data.write_text("hello")
    for command in (("search", "普京"), ("ingest", str(SEED))):
        code, _out, err = run("--data", str(data), *command)
        assert code == 2  # click rejects the option value (a usage error)
        assert f"Invalid value for '--data': Directory '{data}' is a file." in err and "Traceback" not in err
    assert data.read_text() == "hello"


def test_foreign_directory(tmp_path: Path) -> None:
    data = tmp_path / "photos"
    data.mkdir()
    (data / "a.jpg").write_bytes(b"\xff\xd8")
    (data / "b.txt").write_text("notes")
    before = digest(data)
    code, _out, err = run("--data", str(data), "ingest", str(SEED))
    assert code == 1
    assert one_line(err) == (
        f"newsarc: {data} is not a newsarc archive and not empty (a.jpg, b.txt…); choose another --data directory"
    )
    code, _out, err = run("--data", str(data), "search", "普京")
    assert one_line(err) == f"newsarc: no archive in {data} (run `newsarc ingest PATH` first)"
    assert digest(data) == before and sorted(os.listdir(data)) == ["a.jpg", "b.txt"]


def test_foreign_database_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "articles.db").write_bytes(b"this is not sqlite at all" * 100)
    before = digest(data)
    for command in (("search", "普京"), ("ingest", str(SEED)), ("stats",)):
        code, _out, err = run("--data", str(data), *command)
        assert code == 1
        assert one_line(err) == (
            f"newsarc: {data} is not a newsarc archive "
            "(articles.db is not an archive database: file is not a database)"
        )
    assert digest(data) == before
    other = tmp_path / "other"
    other.mkdir()
    conn = sqlite3.connect(other / "articles.db")
    conn.execute("CREATE TABLE photos (name TEXT)")
    conn.commit()
    conn.close()
    before = digest(other)
    for command in (("search", "普京"), ("ingest", str(SEED))):
        code, _out, err = run("--data", str(other), *command)
        assert one_line(err) == f"newsarc: {other} is not a newsarc archive (articles.db has no newsarc tables)"
    assert digest(other) == before


@pytest.mark.parametrize("found", ["99", str(FORMAT_VERSION - 1)])
def test_incompatible_format_version(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, found: str
) -> None:
    data = tmp_path / "data"
    shutil.copytree(template_archive(tmp_path_factory), data)
    conn = sqlite3.connect(data / "articles.db")
    conn.execute("UPDATE meta SET value = ? WHERE key = 'format'", (found,))
    conn.commit()
    conn.close()
    before = digest(data)
    for command in (("search", "普京"), ("stats",), ("ingest", str(SEED)), ("reindex",)):
        code, _out, err = run("--data", str(data), *command)
        assert code == 1
        assert one_line(err) == (
            f"newsarc: archive {data} has format version {found}, this newsarc reads version {FORMAT_VERSION}; "
            "re-ingest into a new --data directory"
        )
    # ingest took (and released) the writer lock; SQLite readers leave an empty -wal and a -shm
    def kept(d: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in d.items() if k != "lock" and not k.endswith(("-shm", "-wal"))}

    assert kept(digest(data)) == kept(before)
    assert (data / "articles.db-wal").stat().st_size == 0


def _read_only_prefix() -> tuple[str, ...] | None:
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    # root ignores permission bits; without these capabilities it does not
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--")


def test_read_only_archive(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    prefix = _read_only_prefix()
    if prefix is None:
        pytest.skip("running as root without setpriv: cannot make a directory read-only")
    data = tmp_path / "data"
    shutil.copytree(template_archive(tmp_path_factory), data)
    (data / "lock").unlink(missing_ok=True)
    before = digest(data)
    for folder in (data / "index", data):
        folder.chmod(0o555)
    try:
        code, out, err = run("--data", str(data), "search", "金正恩", prefix=prefix)
        assert code == 0 and out, err
        code, out, _err = run("--data", str(data), "stats", prefix=prefix)
        assert code == 0 and "Articles" in out
        code, _out, err = run("--data", str(data), "ingest", str(SEED), prefix=prefix)
        assert code == 1
        assert one_line(err) == f"newsarc: archive {data} is read-only: cannot write to it (Permission denied)"
    finally:
        for folder in (data, data / "index"):
            folder.chmod(0o755)
    assert digest(data) == before


def test_disk_full_during_commit(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A full disk mid-ingest: one line, exit 1, the archive still answers with what was committed."""
    template = template_archive(tmp_path_factory)
    mount = tmp_path / "small"
    mount.mkdir()
    used_kb = sum(p.stat().st_size for p in template.rglob("*") if p.is_file()) // 1024
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={used_kb + 400}k", "tmpfs", str(mount)],
                          capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount tmpfs: {made.stderr.decode().strip()}")
    try:
        data = mount / "data"
        shutil.copytree(template, data)
        corpus = tmp_path / "corpus"
        corpus.mkdir()
        for i in range(150):
            text = SEED.read_text(encoding="utf-8").replace(".html)", f".html?n={i})", 1)
            (corpus / f"{i:03d}.txt").write_text(text, encoding="utf-8")
        proc = subprocess.run([sys.executable, "-m", "newsarc", "--data", str(data), "ingest", "--workers", "1",
                               str(corpus)], capture_output=True, timeout=120,
                              env={**os.environ, "NEWSARC_BATCH_SIZE": "10"})
        err = proc.stderr.decode()
        assert proc.returncode == 1
        assert one_line(err).startswith(f"newsarc: cannot write to archive {data}")
        assert "No space left on device" in err or "disk is full" in err
        code, out, err = run("--data", str(data), "stats", "--json")
        assert code == 0, err
        code, out, err = run("--data", str(data), "search", "--json", "金正恩")
        assert code == 0 and out, err
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)
