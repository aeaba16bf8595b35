"""Hostile input (issue 11): entries that must not stop an ingest, input that must not be let in.

Every test reproduces an attack on real files through the real CLI (a subprocess where
the attack could hang or race), and asserts the exact outcome.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SEEDS, jsonl, run

SEED = sorted(SEEDS.glob("*.txt"))[0]  # 金正恩离开俄罗斯回国 (VOA)
HEADER = "<!--1694965143000-->\n[{title}](https://www.voachinese.com/a/{slug}.html)\n------\n\n"


def newsarc(*args: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real CLI in a process of its own (an attack that hangs fails the test, not the suite)."""
    return subprocess.run([sys.executable, "-m", "newsarc", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "NO_COLOR": "1", **(env or {})})


def article(folder: Path, name: str | bytes, title: str, slug: str, body: str) -> Path:
    """Write an archive file (``name`` may be bytes: a file name that is not UTF-8)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = os.path.join(os.fsencode(folder), name) if isinstance(name, bytes) else folder / name
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(HEADER.format(title=title, slug=slug) + body + "\n")
    return Path(os.fsdecode(path))


# ------------------------------------------------------------------ entries that must not stop the ingest


def test_file_name_with_invalid_utf8(tmp_path: Path) -> None:
    """A GBK name unpacked on Linux: stored losslessly, shown escaped, valid JSON, re-read by show --html."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SEED, folder)
    bad = article(folder, "新闻".encode("gbk") + b".txt", "坏名字测试", "bad-name", "<p>坏名字的文件照样存档。</p>")
    data = tmp_path / "data"
    proc = newsarc("--data", str(data), "ingest", str(folder))
    assert (proc.returncode, proc.stderr) == (0, "ingested 2 files: 2 added, 0 updated, 0 unchanged, 0 rejected"
                                              + proc.stderr[proc.stderr.index(" ("):])
    shown = str(folder) + "/\\xd0\\xc2\\xce\\xc5.txt"
    records = {r["title"]: r for r in jsonl(newsarc("--data", str(data), "export").stdout)}
    assert records["坏名字测试"]["path"] == shown  # valid JSON, no raw bytes, no lone surrogates
    hit = jsonl(newsarc("--data", str(data), "search", "坏名字", "--json").stdout)
    assert [h["title"] for h in hit] == ["坏名字测试"]
    html = newsarc("--data", str(data), "show", hit[0]["id"], "--html")
    assert (html.returncode, html.stdout) == (0, "<p>坏名字的文件照样存档。</p>\n")
    again = newsarc("--data", str(data), "ingest", str(folder))  # the ledger matches the exact bytes
    assert "0 added, 0 updated, 2 unchanged, 0 rejected" in again.stderr
    bad.unlink()
    gone = newsarc("--data", str(data), "show", hit[0]["id"], "--html")
    assert gone.returncode == 1
    assert gone.stderr == (f"newsarc: cannot show the original HTML of {hit[0]['id']}: its source file "
                           f"{shown} is gone (moved or deleted since it was ingested)\n")
    (folder / os.fsdecode(b"x\xff.txt")).write_text("not an archive file")
    rejected = newsarc("--data", str(data), "ingest", str(folder))
    assert rejected.stderr.splitlines()[0] == (
        f"{folder}/x\\xff.txt: not an archive file: missing <!--timestamp--> header")


def test_symlink_loop_fifo_and_broken_link_are_rejected(tmp_path: Path) -> None:
    """A symlink loop, a broken link and a FIFO in the folder: one line each, the rest ingested, no hang."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SEED, folder / "real.txt")
    os.symlink("b.txt", folder / "a.txt")
    os.symlink("a.txt", folder / "b.txt")
    os.symlink("nowhere.txt", folder / "dangling.txt")
    os.mkfifo(folder / "f.txt")
    os.symlink("real.txt", folder / "link.txt")  # a link to a regular file is read (same article)
    proc = newsarc("--data", str(tmp_path / "data"), "ingest", str(folder), timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[:4] == [
        f"{folder}/a.txt: symbolic link loop",
        f"{folder}/b.txt: symbolic link loop",
        f"{folder}/dangling.txt: broken symbolic link",
        f"{folder}/f.txt: not a regular file: a named pipe (FIFO)",
    ]
    assert proc.stderr.splitlines()[4].startswith(
        "ingested 6 files: 1 added, 0 updated, 1 unchanged, 4 rejected")  # the link: the same version
    direct = newsarc("--data", str(tmp_path / "data"), "ingest", str(folder / "a.txt"), str(folder / "f.txt"))
    assert direct.stderr.splitlines()[:2] == [f"{folder}/a.txt: symbolic link loop",
                                              f"{folder}/f.txt: not a regular file: a named pipe (FIFO)"]


@pytest.mark.parametrize("replacement", ["fifo", "directory", "device"])
def test_show_html_never_opens_what_replaced_the_source(tmp_path: Path, replacement: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    source = folder / "a.txt"
    shutil.copy(SEED, source)
    data = tmp_path / "data"
    assert newsarc("--data", str(data), "ingest", str(folder)).returncode == 0
    source.unlink()
    {"fifo": os.mkfifo, "directory": os.mkdir, "device": lambda p: os.symlink("/dev/zero", p)}[replacement](source)
    kind = {"fifo": "a named pipe (FIFO)", "directory": "a directory", "device": "a device"}[replacement]
    proc = newsarc("--data", str(data), "show", "4826", "--html", timeout=30)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (f"newsarc: cannot show the original HTML of 4826687f7129: its source file {source} "
                           f"cannot be read (not a regular file: {kind})\n")


def test_a_million_nested_tags_keep_their_text(tmp_path: Path) -> None:
    """Past libxml2's depth limit the text is read by stripping tags; a deep but sane page keeps its structure."""
    n = 10**6
    folder = tmp_path / "in"
    article(folder, "bomb.txt", "深度炸弹", "deep-bomb",
            "<p>外层文字。</p>" + "<div>" * n + "<p>深处文字就在这里。</p>" + "</div>" * n)
    article(folder, "sane.txt", "深而合理", "deep-sane",
            "<p>开头的文字。</p>" + "<div>" * 1500 + '<figure><img src="/img/p.jpg"><figcaption>图片说明文字</figcaption>'
            "</figure><p>第一千五百层的文字。</p>" + "</div>" * 1500)
    data = tmp_path / "data"
    assert run("ingest", str(folder), data=data).exit_code == 0
    hits = jsonl(run("search", "深处文字", "--json", data=data).stdout)
    assert [h["title"] for h in hits] == ["深度炸弹"]
    records = {r["title"]: r for r in jsonl(run("export", data=data).stdout)}
    assert records["深度炸弹"]["text"] == "外层文字。\n深处文字就在这里。"
    sane = records["深而合理"]
    assert (sane["text"], sane["captions"], sane["images"]) == (
        "开头的文字。\n第一千五百层的文字。", ["图片说明文字"], ["https://www.voachinese.com/img/p.jpg"])


def test_far_future_archive_time_is_rejected(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    article(folder, "ok.txt", "金正恩正常", "ok", "<p>金正恩的正常文章。</p>")
    future = folder / "future.txt"
    future.write_text("<!--99999999999999-->\n[金正恩未来](https://www.voachinese.com/a/future.html)\n------\n\n"
                      "<p>金正恩的未来文章。</p>\n", encoding="utf-8")
    data = tmp_path / "data"
    result = run("ingest", str(folder), data=data)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"{future}: archive time in the future: 5138-11-16 09:46 UTC"
    timeline = run("timeline", "金正恩", "--by", "day", "--json", data=data)
    assert jsonl(timeline.stdout) == [{"period": "2023-09-17", "count": 1}]


@pytest.mark.parametrize("query", [
    ["普京 " + "-" * 1000 + "朝鲜"],
    ["--", "-" * 1000 + "朝鲜"],
    ["普京 " + "NOT " * 300 + "朝鲜"],
    ["普京 " + "-" * 60 + '"朝鲜"'],
    ["(" * 51 + "普京" + ")" * 51],
    ["普京", "-" + "NOT " * 50 + "朝鲜"],
])
@pytest.mark.parametrize("command", ["search", "timeline"])
def test_deep_negation_chains_are_usage_errors(seed_archive: Path, command: str, query: list[str]) -> None:
    result = run(command, *query, data=seed_archive)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "newsarc: bad query: query is nested too deeply\n"


@pytest.mark.parametrize("query", ["普京 " + "NOT " * 1000 + "朝鲜", "(" * 1000 + "普京" + ")" * 1000])
def test_a_thousand_nots_or_parentheses_are_usage_errors(seed_archive: Path, query: str) -> None:
    for command in ("search", "timeline"):
        result = run(command, query, data=seed_archive)
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == f"newsarc: bad query: query is too long ({len(query)} characters; the limit is 2000)\n"


def test_fifty_negations_are_still_a_query(seed_archive: Path) -> None:
    """49 dashes are 49 negations, within the limit of 50 levels: the same as one."""
    chain = run("search", "普京 " + "-" * 49 + "中国", "--json", data=seed_archive)
    one = run("search", "普京 -中国", "--json", data=seed_archive)
    assert chain.exit_code == one.exit_code == 0
    assert chain.stdout == one.stdout


# ------------------------------------------------------------------ nothing let in


def test_image_urls_other_than_http_are_dropped(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    article(folder, "img.txt", "图片地址测试", "images",
            '<p>图片地址测试的正文。</p><img src="javascript:alert(1)"><img src=" JaVa\tScript:alert(2)">'
            '<img src="vbscript:msgbox(1)"><img src="data:image/png;base64,AAAA"><img src="file:///etc/passwd">'
            '<img src="/img/a b.jpg"><img src="//cdn.example.com/c.jpg"><img src="http://ok.example/x.jpg">')
    data = tmp_path / "data"
    assert run("ingest", str(folder), data=data).exit_code == 0
    expected = ["https://www.voachinese.com/img/a%20b.jpg", "https://cdn.example.com/c.jpg",
                "http://ok.example/x.jpg"]
    record = jsonl(run("export", data=data).stdout)[0]
    assert record["images"] == expected
    assert json.loads(run("show", record["id"], "--json", data=data).stdout)["images"] == expected
    bulk = jsonl(run("export", "--format", "opensearch", data=data).stdout)
    assert bulk[1]["images"] == expected


def _archive(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the one-seed template archive."""
    from conftest import template_archive

    data = tmp_path / "data"
    shutil.copytree(template_archive(tmp_path_factory), data, symlinks=True)
    return data


@pytest.mark.parametrize("where", ["new", "empty", "archive"])
def test_a_symlinked_lock_never_truncates_its_target(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, where: str
) -> None:
    """`ln -s ~/victim DATA/lock`: refused with one line, the victim untouched (also in an empty directory)."""
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    data = _archive(tmp_path, tmp_path_factory) if where == "archive" else tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "lock").unlink(missing_ok=True)
    os.symlink(victim, data / "lock")
    for command in (("ingest", str(SEED)), ("reindex",)) if where == "archive" else (("ingest", str(SEED)),):
        proc = newsarc("--data", str(data), *command)
        assert (proc.returncode, proc.stdout) == (1, "")
        assert proc.stderr == f"newsarc: {data}/lock is a symbolic link: newsarc does not write through one (remove it)\n"
    assert victim.read_text() == "precious\n"


def test_a_symlinked_userdict_gets_nothing_appended(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    data = _archive(tmp_path, tmp_path_factory)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    os.symlink(victim, data / "userdict.txt")
    words = tmp_path / "words.txt"
    words.write_text("崔善姬 10 nr\n", encoding="utf-8")
    proc = newsarc("--data", str(data), "ingest", "--dict", str(words), str(SEED))
    assert proc.returncode == 1
    assert proc.stderr == (f"newsarc: {data}/userdict.txt is a symbolic link: newsarc does not write through one "
                           "(remove it)\n")
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize("name", ["articles.db-wal", "articles.db-shm", "index"])
def test_symlinks_among_the_archive_files_are_refused(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, name: str
) -> None:
    data = _archive(tmp_path, tmp_path_factory)
    elsewhere = tmp_path / "elsewhere"
    if (data / name).is_dir():
        shutil.move(data / name, elsewhere)
    else:
        (data / name).unlink(missing_ok=True)
        elsewhere.write_bytes(b"")
    os.symlink(elsewhere, data / name)
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = newsarc("--data", str(data), "ingest", str(SEED))
    assert proc.returncode == 1
    assert proc.stderr == f"newsarc: {data}/{name} is a symbolic link: newsarc does not write through one (remove it)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_fifo_as_the_lock_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    os.mkfifo(data / "lock")
    proc = newsarc("--data", str(data), "ingest", str(SEED), timeout=30)
    assert proc.returncode == 1
    assert proc.stderr == f"newsarc: {data}/lock is a named pipe (FIFO), not a file newsarc made (remove it)\n"


def test_archive_directory_writable_by_others_or_not_yours(tmp_path: Path) -> None:
    data = tmp_path / "shared"
    data.mkdir()
    data.chmod(0o1777)  # like /tmp: anyone may plant a link in it
    proc = newsarc("--data", str(data), "ingest", str(SEED))
    assert proc.returncode == 1
    assert proc.stderr == (f"newsarc: archive directory {data} is writable by every user (mode 1777): "
                           f"newsarc does not write there (chmod o-w {data})\n")
    assert os.listdir(data) == []
    if os.geteuid() != 0:
        pytest.skip("the other half needs root (to give a directory to another user)")
    data.chmod(0o755)
    os.chown(data, 4242, 4242)
    proc = newsarc("--data", str(data), "ingest", str(SEED))
    assert proc.returncode == 1
    assert proc.stderr == (f"newsarc: archive directory {data} belongs to another user (uid 4242): "
                           "newsarc writes only to a directory of your own\n")
    assert os.listdir(data) == []


def test_racing_first_ingests(tmp_path: Path) -> None:
    """Two ingests started at the same moment on a new --data, in 12 archives at once: all 24 succeed,
    each archive holds both articles once."""
    seeds = sorted(SEEDS.glob("*.txt"))[:2]
    env = {**os.environ, "NO_COLOR": "1"}
    trials = [(tmp_path / f"data{trial}", [
        subprocess.Popen([sys.executable, "-m", "newsarc", "--data", str(tmp_path / f"data{trial}"), "ingest",
                          "--workers", "1", str(seed)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env)
        for seed in seeds]) for trial in range(12)]
    for data, procs in trials:
        for proc in procs:
            _out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err
            assert err.splitlines()[-1].startswith("ingested 1 file: 1 added, 0 updated, 0 unchanged, 0 rejected")
        records = jsonl(run("export", data=data).stdout)
        assert sorted(r["id"] for r in records) == ["16c90d67d6f0", "4826687f7129"]


def test_stale_lock_names_the_killed_command_and_reindex_waits(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import signal
    import time

    from newsarc.lock import ArchiveLock

    data = _archive(tmp_path, tmp_path_factory)
    proc = subprocess.Popen([sys.executable, "-m", "newsarc", "--data", str(data), "reindex"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while (data / "lock").read_text() != f"{proc.pid} reindex\n" and time.monotonic() < deadline:
        time.sleep(0.001)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    ingest = newsarc("--data", str(data), "ingest", str(SEED))
    assert ingest.stderr.splitlines()[0] == f"cleared a stale archive lock left by PID {proc.pid} (an interrupted reindex)"
    with ArchiveLock(data, wait=0):
        started = time.monotonic()
        reindex = newsarc("--data", str(data), "reindex", "--wait", "0.5")
        assert time.monotonic() - started >= 0.5
    assert reindex.returncode == 1
    assert reindex.stderr.splitlines() == [
        f"waiting for the archive lock held by PID {os.getpid()}… (up to 0.5 s; --wait SECONDS)",
        f"newsarc: archive is locked by PID {os.getpid()} (another ingest is writing {data}); "
        "gave up after waiting 0.5 s",
    ]


def test_disk_full_while_writing_the_lock(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount tmpfs: {made.stderr.decode().strip()}")
    try:
        data = mount / "data"
        data.mkdir()
        with open(mount / "filler", "wb", buffering=0) as fh, pytest.raises(OSError, match="No space"):
            while True:
                fh.write(b"x" * 4096)
        proc = newsarc("--data", str(data), "ingest", str(SEED))
        assert proc.returncode == 1
        assert proc.stderr == (f"newsarc: cannot write to archive {data}: No space left on device "
                               f"({data}/lock)\n")
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def _planted_cache(path: Path, digest: str) -> None:
    """Another user's dictionary cache: jieba's words without 俄罗斯, claiming to be built from ``source``."""
    import sqlite3

    from newsarc.analysis import jieba_dictionary_path, read_dictionary

    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("CREATE TABLE dictionary (word TEXT PRIMARY KEY, freq INTEGER NOT NULL) WITHOUT ROWID")
    words = {w: f or 0 for w, f in read_dictionary(jieba_dictionary_path()) if w != "俄罗斯"}
    conn.executemany("INSERT INTO dictionary VALUES(?, ?)", sorted(words.items()))
    conn.executemany("INSERT INTO meta VALUES(?, ?)", [("source_sha256", digest), ("rows", str(len(words)))])
    conn.commit()
    conn.close()


@pytest.mark.parametrize("planted_in", ["world-writable", "other-user", "stale"])
def test_a_planted_dictionary_cache_is_never_used(tmp_path: Path, planted_in: str) -> None:
    """~/.cache not writable: the cache falls back to $TMPDIR/newsarc-UID, where another user planted a
    dictionary without 俄罗斯.  It is not trusted; the victim's archive finds 俄罗斯 all the same."""
    import hashlib
    import sqlite3

    from newsarc.analysis import jieba_dictionary_path, read_dictionary

    if planted_in == "other-user" and os.geteuid() != 0:
        pytest.skip("needs root to make a folder of another user")
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")  # XDG_CACHE_HOME/newsarc cannot be made under a file, even by root
    tmpdir = tmp_path / "tmp"
    folder = tmpdir / f"newsarc-{os.geteuid()}"
    folder.mkdir(parents=True)
    digest = hashlib.sha256(jieba_dictionary_path().read_bytes()).hexdigest()
    planted = folder / f"jieba-dict-{digest[:24]}.db"
    _planted_cache(planted, digest if planted_in != "stale" else "0" * 64)
    st = jieba_dictionary_path().stat()  # the name older newsarc trusted blindly, planted too
    shutil.copy(planted, folder / f"jieba-dict-{st.st_size}-{st.st_mtime_ns}.db")
    if planted_in == "world-writable":
        folder.chmod(0o777)
    elif planted_in == "other-user":
        for path in (folder, *folder.iterdir()):
            os.chown(path, 4242, 4242)
    else:  # the user's own folder and file, but recording another source: rebuilt
        folder.chmod(0o700)
    before = planted.read_bytes()
    env = {"XDG_CACHE_HOME": str(blocked), "TMPDIR": str(tmpdir)}
    data = tmp_path / "data"
    assert newsarc("--data", str(data), "ingest", str(SEEDS), env=env).returncode == 0
    hits = newsarc("--data", str(data), "search", "俄罗斯", "--json", "--all", env=env)
    assert (hits.returncode, len(jsonl(hits.stdout))) == (0, 5)
    conn = sqlite3.connect(data / "articles.db")  # what the archive keeps for good: jieba's own words
    assert conn.execute("SELECT freq FROM dictionary WHERE word = '俄罗斯'").fetchone() == (
        dict(read_dictionary(jieba_dictionary_path()))["俄罗斯"],)
    conn.close()
    if planted_in == "stale":
        assert planted.read_bytes() != before and oct(planted.stat().st_mode & 0o777) == "0o600"
    else:
        assert planted.read_bytes() == before  # neither used nor touched
        assert sorted(os.listdir(tmpdir)) == [folder.name]  # the private build was removed


def test_a_new_cache_folder_is_private(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    proc = newsarc("--data", str(tmp_path / "data"), "ingest", str(SEED), env={"XDG_CACHE_HOME": str(cache)})
    assert proc.returncode == 0
    assert oct((cache / "newsarc").stat().st_mode & 0o777) == "0o700"
    (db,) = (cache / "newsarc").iterdir()
    assert oct(db.stat().st_mode & 0o777) == "0o600"
