"""Shared fixtures: the seed files, the real corpus (when present), a seed archive."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsarc.cli import cli

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
CORPUS = ROOT.parent / "shared" / "corpus"


def corpus_dir(name: str) -> Path:
    """A folder of the shared corpus, or skip the test when it is absent."""
    path = CORPUS / name
    if not path.is_dir():
        pytest.skip(f"corpus folder {path} not present")
    return path


def run(*args: str, data: Path | None = None, env: dict | None = None):  # type: ignore[no-untyped-def]
    """Invoke the real CLI in-process; returns click's Result (stdout and stderr separate)."""
    argv = (["--data", str(data)] if data is not None else []) + list(args)
    return CliRunner().invoke(cli, argv, env={"NO_COLOR": "1", **(env or {})}, catch_exceptions=False)


def jsonl(text: str) -> list[dict]:
    """Parse JSON Lines output."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def template_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive holding one seed article (its query dictionary built: that takes seconds),
    made once per session; tests copy it before changing anything."""
    from newsarc.ingest import ingest

    base = tmp_path_factory.getbasetemp() / "newsarc-template"
    if not (base / "articles.db").exists():
        ingest([sorted(SEEDS.glob("*.txt"))[0]], base, workers=1)
    return base


def make_corpus(folder: Path, count: int, tag: str = "copy", chars: int = 1200) -> list[str]:
    """``count`` small archive files made from the seeds, each with its own URL (``…?TAG=i``).

    Each file is cut after ``chars`` characters, though never before its first
    paragraph ends (a file cut before any text is rejected as truncated).
    Returns the URLs.
    """
    seeds = sorted(SEEDS.glob("*.txt"))
    folder.mkdir(parents=True, exist_ok=True)
    urls = []
    for i in range(count):
        lines = seeds[i % len(seeds)].read_text(encoding="utf-8").split("\n")
        for j, line in enumerate(lines):
            if line.startswith("["):
                m = re.search(r"\]\((https?://[^)]*)\)\s*$", line)
                assert m
                url = f"{m.group(1)}?{tag}={i}"
                lines[j] = line[: m.start()] + f"]({url})"
                urls.append(url)
                break
        text = "\n".join(lines)
        (folder / f"{i:04d}.txt").write_text(text[: max(chars, text.find("</p>") + 4)], encoding="utf-8")
    return urls


@pytest.fixture(scope="session")
def seed_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive holding the five seeds (read-only for tests: copy it to change it)."""
    data = tmp_path_factory.mktemp("seed-archive") / "data"
    result = run("ingest", str(SEEDS), data=data)
    assert result.exit_code == 0, result.stderr
    return data


SEED_IDS = {
    "voa_2023": "4826687f7129",
    "bbc": "16c90d67d6f0",
    "voa_2024": "74b510fd3afa",
    "rfi": "a75a0b8d09ee",
    "dw": "b5b1ad0c0be9",
}


#: The title of the hostile test article: markup, an event handler, ANSI colour and a bidi override.
HOSTILE_TITLE = (
    '<script>alert("t")</script>\x1b[31m红色\x1b[0m \u202e普京朝鲜\u202c <img src=x onerror=alert(1)>'
)


def write_hostile_files(folder: Path) -> None:
    """Two archive files meant to attack a reader: hostile.txt (VOA URL) and jsurl.txt (javascript: URL).

    hostile.txt carries script tags, ``javascript:`` links, event-handler
    attributes, an OSC 8 terminal hyperlink, escaped markup in the text, a
    remote image with an ``onerror`` handler and bidi overrides in a caption.
    """
    folder.mkdir(parents=True, exist_ok=True)
    html = (
        '<div><i>Sun, 17 Sep 2023 15:33:48 GMT</i></div>'
        '<p>普京与朝鲜领导人会面。<script>alert("body")</script><a href="javascript:alert(2)">点我</a></p>'
        '<p onmouseover="alert(3)">第二段 <b onclick="alert(4)">粗体</b> '
        '\x1b]8;;http://evil.example\x1b\\链接\x1b]8;;\x1b\\ 朝鲜</p>'
        '<p>&lt;script&gt;alert("escaped")&lt;/script&gt; 和 <iframe src="javascript:alert(5)"></iframe></p>'
        '<figure><img src="https://images.evil.example/track.png" onerror="alert(6)">'
        '<figcaption>图说 <script>alert(7)</script>\u202e反向</figcaption></figure>'
    )
    (folder / "hostile.txt").write_text(
        f"<!--1694965143000-->\n[{HOSTILE_TITLE}](https://www.voachinese.com/a/hostile-test.html)\n"
        f"------\n\n{html}\n",
        encoding="utf-8",
    )
    (folder / "jsurl.txt").write_text(
        "<!--1694965143000-->\n[坏链接 普京](javascript:alert(8))\n------\n\n"
        "<p>另一篇关于普京朝鲜的文章。</p>\n",
        encoding="utf-8",
    )


def read_pty(cmd: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run ``cmd`` with stdout on a pseudo-terminal (stderr a pipe); (exit code, stdout, stderr)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(master)
    err = proc.stderr.read().decode("utf-8") if proc.stderr else ""
    return proc.returncode, b"".join(chunks).decode("utf-8"), err
