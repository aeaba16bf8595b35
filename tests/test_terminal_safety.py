"""Archived text is untrusted: no escape sequence, C0/C1 control or bidi override reaches a terminal."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import read_pty, template_archive

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
EVIL = "\x1b]0;pwned\x07\x1b[2J\x1b[31m\x9b31m\u202e\u2066\x08\x7f"
#: Line breaks and NULs cannot be inside a title line; they go into the body.
EVIL_BODY = EVIL + "\r\x00\x0b\x0c"
#: Bytes that must never appear raw in output: ESC, BEL, BS, CR, C1 (as UTF-8), bidi controls.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(scope="module")
def evil_archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    import shutil

    tmp = tmp_path_factory.mktemp("evil")
    data = tmp / "data"
    shutil.copytree(template_archive(tmp_path_factory), data)
    article = (
        "<!--1694965143000-->\n"
        f"[金正恩 毒标题{EVIL}end](https://example.com/evil{EVIL}/x)\n"
        "------\n\n"
        f"<div><i>Sun, 17 Sep 2023 15:33:48 GMT</i></div>"
        f"<figure><img src=\"https://e.com/a.jpg\"><figcaption>图说{EVIL}金正恩</figcaption></figure>"
        f"<p>金正恩 正文{EVIL_BODY}继续 &#x1b;[5m 实体 &#27;[1m 闪烁 &#x202e; 反转 &#155;2J</p>"
        "<p>金正恩第二段落，还有更多的文字来构成一个合理的正文长度。金正恩第二段落。</p>\n"
    )
    evil_file = tmp / f"evil{EVIL}.txt"
    evil_file.write_bytes(article.encode("utf-8"))
    bad_name = tmp / "bad\x1b[31mname\u202e.txt"
    bad_name.write_bytes(b"\x1b[2J not an archive file")
    proc = subprocess.run([sys.executable, "-m", "newsarc", "--data", str(data), "ingest", str(evil_file),
                           str(bad_name)], capture_output=True, timeout=120)
    assert proc.returncode == 1  # one file rejected
    err = proc.stderr.decode("utf-8", "surrogateescape")
    assert not RAW.search(err), repr(err)
    assert "\\x1b[31m" in err  # the rejected path, escaped
    from newsarc.store import open_store

    with open_store(data) as store:
        (aid,) = store.conn.execute("SELECT id FROM articles WHERE url LIKE '%evil%'").fetchone()
    return data, aid


def run(data: Path, *args: str, tty: bool = False) -> tuple[int, str, str]:
    cmd = [sys.executable, "-m", "newsarc", "--data", str(data), *args]
    env = {**os.environ, "PAGER": "cat", "COLUMNS": "100"}
    if not tty:
        proc = subprocess.run(cmd, capture_output=True, timeout=60, env=env)
        return proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")
    return read_pty(cmd, env)


def _no_raw(text: str, *, allow_sgr: bool = False) -> None:
    if allow_sgr:  # newsarc's own colours are fine; strip exactly those
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    text = text.replace("\r\n", "\n")  # the pty's own newline translation
    assert not RAW.search(text), repr(RAW.search(text).group())


@pytest.mark.parametrize("tty", [False, True])
def test_search_output_is_safe(evil_archive: tuple[Path, str], tty: bool) -> None:
    data, aid = evil_archive
    code, out, err = run(data, "search", "毒标题", tty=tty)
    assert code == 0 and aid in out
    _no_raw(out, allow_sgr=tty)
    _no_raw(err)
    code, out, _err = run(data, "search", "--json", "正文", tty=tty)
    assert code == 0
    for line in out.splitlines():
        hit = json.loads(line)
        assert "\x1b" in hit["title"] or "end" in hit["title"]  # the data survives, escaped in JSON
    _no_raw(out)


@pytest.mark.parametrize("tty", [False, True])
def test_show_output_is_safe(evil_archive: tuple[Path, str], tty: bool) -> None:
    data, aid = evil_archive
    code, out, _err = run(data, "show", aid, tty=tty)
    assert code == 0 and "毒标题" in out
    _no_raw(out, allow_sgr=tty)
    code, out, _err = run(data, "show", "--json", aid, tty=tty)
    assert code == 0
    record = json.loads(out)
    assert "\x1b" in record["title"] and "\u202e" in record["text"]
    _no_raw(out)


def test_show_html_on_a_terminal_is_safe(evil_archive: tuple[Path, str]) -> None:
    data, aid = evil_archive
    code, out, _err = run(data, "show", "--html", aid, tty=True)
    assert code == 0 and "<p>" in out
    _no_raw(out)
    # piped, --html is the original bytes (data, not for a terminal)
    code, out, _err = run(data, "show", "--html", aid)
    assert code == 0 and "\x1b[2J" in out


def test_export_and_stats_json_stay_valid(evil_archive: tuple[Path, str]) -> None:
    data, _aid = evil_archive
    code, out, _err = run(data, "export")
    assert code == 0
    for line in out.splitlines():
        json.loads(line)
    _no_raw(out)
    code, out, _err = run(data, "stats", "--json")
    assert code == 0
    json.loads(out)


def test_error_messages_are_safe(evil_archive: tuple[Path, str], tmp_path: Path) -> None:
    data, _aid = evil_archive
    code, out, err = run(data, "show", "\x1b[31mdeadbeef")
    assert code == 1 and out == ""
    _no_raw(err)
    code, _out, err = run(tmp_path / "no\x1b[2Jarchive", "search", "x")
    assert code == 1
    _no_raw(err)
    assert err.count("\n") == 1


@pytest.mark.parametrize("tty", [False, True])
@pytest.mark.parametrize(
    "args",
    [
        ("kwic", "金正恩", "--cross-paragraphs"),
        ("kwic", "金正恩", "--csv"),
        ("search", "金正恩", "--facets"),
        ("timeline", "金正恩", "--split", "source"),
        ("export", "金正恩", "--format", "csv"),
        ("show", "--query", "金正恩", "ID"),
    ],
)
def test_research_output_is_safe(evil_archive: tuple[Path, str], args: tuple[str, ...], tty: bool) -> None:
    data, aid = evil_archive
    code, out, err = run(data, *(aid if a == "ID" else a for a in args), tty=tty)
    assert code == 0, err
    out = out.replace("\r\r\n", "\n")  # CSV's own CRLF, after the pty's newline translation
    _no_raw(out, allow_sgr=tty)
    _no_raw(err)
