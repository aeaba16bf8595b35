"""What ingest makes of its input files: truncated files, and the path an article records."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import SEED_IDS, SEEDS, jsonl, run

BBC = SEEDS / "001_b53b4a0bd97847b9.txt"
DW = SEEDS / "004_b5702a1fdfafb872.txt"


def test_truncated_files_are_rejected_not_archived_empty(tmp_path: Path) -> None:
    """A file cut off before its text (mid-HTML) is rejected with a reason; one with text is kept."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "bbc-200.txt").write_bytes(BBC.read_bytes()[:200])  # cut inside the byline list
    (src / "dw-300.txt").write_bytes(DW.read_bytes()[:300])  # date line, then cut inside <img
    (src / "dw-600.txt").write_bytes(DW.read_bytes()[:600])  # cut inside the first paragraph
    data = tmp_path / "data"
    result = run("ingest", str(src), data=data)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:2] == [
        f"{src / 'bbc-200.txt'}: truncated: no article text",
        f"{src / 'dw-300.txt'}: truncated: no article text",
    ]
    assert "1 added, 0 updated, 0 unchanged, 2 rejected" in result.stderr
    record = jsonl(run("export", data=data).stdout)
    assert [r["id"] for r in record] == [SEED_IDS["dw"]]
    assert record[0]["text"].startswith("（德国之声中文网）朝鲜官方媒体周日报道称")


def test_a_complete_body_without_text_keeps_its_title(tmp_path: Path) -> None:
    """A video entry whose body is an empty (complete) element is not truncated: its title is searchable."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "video.txt").write_text(
        "<!--1516940924000-->\n"
        "[認識中國的十本好書（2） - 25/01/18 「龍津義學」](https://www.youtube.com/watch?v=y6UIQ8w4Yxw)\n"
        "------\n\n<div>\n\n</div>\n",
        encoding="utf-8",
    )
    data = tmp_path / "data"
    result = run("ingest", str(src), data=data)
    assert result.exit_code == 0, result.stderr
    hits = jsonl(run("search", "--json", "龙津义学", data=data).stdout)
    assert [(h["source"], h["title"]) for h in hits] == [
        ("youtube", "認識中國的十本好書（2） - 25/01/18 「龍津義學」")
    ]


def test_path_is_stored_absolute_whatever_was_typed(tmp_path: Path) -> None:
    """``ingest src`` typed relative to some directory records the file's absolute path."""
    work = tmp_path / "work"
    (work / "src").mkdir(parents=True)
    (work / "src" / "dw.txt").write_bytes(DW.read_bytes())
    (tmp_path / "elsewhere").mkdir()
    env = {**os.environ, "NO_COLOR": "1"}
    ingest = subprocess.run(
        [sys.executable, "-m", "newsarc", "--data", "../data", "ingest", "src"],
        cwd=work, capture_output=True, env=env, timeout=120,
    )
    assert ingest.returncode == 0, ingest.stderr.decode()
    expected = str((work / "src" / "dw.txt").resolve())
    for cwd in (work, tmp_path / "elsewhere"):
        shown = subprocess.run(
            [sys.executable, "-m", "newsarc", "--data", str(tmp_path / "data"), "show", "--json", "b5b1"],
            cwd=cwd, capture_output=True, env=env, timeout=60,
        )
        assert jsonl(shown.stdout.decode())[0]["path"] == expected
    assert jsonl(run("export", data=tmp_path / "data").stdout)[0]["path"] == expected
    # where the file is under the current directory, messages name it relative to it
    (work / "src" / "dw.txt").unlink()
    gone = subprocess.run(
        [sys.executable, "-m", "newsarc", "--data", "../data", "show", "--html", "b5b1"],
        cwd=work, capture_output=True, env=env, timeout=60,
    )
    assert gone.returncode == 1
    assert gone.stderr.decode() == (
        f"newsarc: cannot show the original HTML of {SEED_IDS['dw']}: its source file "
        "src/dw.txt is gone (moved or deleted since it was ingested)\n"
    )


def test_reindex_json_summary_and_no_progress_when_piped(seed_archive: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(seed_archive, data)
    result = run("reindex", "--json", data=data)
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert sorted(summary) == ["reindexed", "seconds"] and summary["reindexed"] == 5
    assert result.stderr == "re-indexed 5 articles\n"  # no progress bar: stderr is not a terminal
    hits = jsonl(run("search", "--json", "金正恩", data=data).stdout)
    assert SEED_IDS["voa_2023"] in {h["id"] for h in hits}
