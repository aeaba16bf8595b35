"""ingest, show, stats, export through the real CLI on real archive files."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from conftest import SEED_IDS, SEEDS, jsonl, run


def write_article(folder: Path, name: str, url: str, title: str, ms: int, body: str) -> Path:
    path = folder / name
    path.write_text(f"<!--{ms}-->\n[{title}]({url})\n------\n\n{body}\n", encoding="utf-8")
    return path


def test_ingest_seeds_summary_and_idempotence(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = run("ingest", str(SEEDS), data=data)
    assert first.exit_code == 0
    assert first.stdout == ""
    assert first.stderr.startswith("ingested 5 files: 5 added, 0 updated, 0 unchanged, 0 rejected (")
    again = run("ingest", str(SEEDS), data=data)
    assert again.exit_code == 0
    assert again.stderr.startswith("ingested 5 files: 0 added, 0 updated, 5 unchanged, 0 rejected (")
    stats = jsonl(run("stats", "--json", data=data).stdout)[0]
    assert stats["articles"] == 5


def test_ingest_json_summary(tmp_path: Path) -> None:
    result = run("ingest", "--json", str(SEEDS), data=tmp_path / "d")
    summary = jsonl(result.stdout)[0]
    assert {k: summary[k] for k in ("files", "added", "updated", "unchanged", "rejected")} == {
        "files": 5, "added": 5, "updated": 0, "unchanged": 0, "rejected": 0,
    }


@pytest.mark.parametrize(
    ("key", "source", "date", "authors"),
    [
        ("voa_2023", "voa", "2023-09-17", []),
        ("bbc", "bbc", "2023-09-14", ["黄晓恩"]),
        ("voa_2024", "voa", "2024-06-17", []),
        ("rfi", "rfi", "2023-09-14", ["林兰"]),
        ("dw", "dw", "2024-01-21", []),
    ],
)
def test_show_json_of_each_seed(seed_archive: Path, key: str, source: str, date: str, authors: list[str]) -> None:
    result = run("show", SEED_IDS[key], "--json", data=seed_archive)
    assert result.exit_code == 0
    (record,) = jsonl(result.stdout)
    assert record["source"] == source
    assert record["published"][:10] == date
    assert record["authors"] == authors
    assert record["id"] == hashlib.sha1(record["url"].encode()).hexdigest()[:12]
    assert set(record) >= {"id", "url", "title", "path", "source", "source_name", "archived",
                           "published", "authors", "text", "captions", "images"}
    assert "你的器材不支持播放多媒体材料" not in record["text"]
    assert record["text"].count("\n") >= 3


def test_show_captions_and_boilerplate(seed_archive: Path) -> None:
    voa = jsonl(run("show", "4826", "--json", data=seed_archive).stdout)[0]
    assert voa["captions"] == ["资料照 -2019年4月26日， 朝鲜安保人员正在海参崴火车站主门口守候金正恩返回朝鲜。"]
    assert voa["title"] == "结束四年半以来首次出访 金正恩离开俄罗斯回国"
    assert voa["archived"] == "2023-09-17T15:39:03+00:00"
    dw = jsonl(run("show", "b5b1ad", "--json", data=seed_archive).stdout)[0]
    assert dw["captions"] == ["金正恩和普京已经于2023年9月中旬在俄罗斯会面"]
    assert dw["text"].startswith("（德国之声中文网）朝鲜官方媒体周日报道称")


def test_show_human_and_html(seed_archive: Path) -> None:
    human = run("show", "16c9", data=seed_archive)
    assert human.exit_code == 0
    lines = human.stdout.splitlines()
    assert lines[0] == "普京与金正恩会晤：有可能和朝鲜进行军事合作"
    assert "Authors    黄晓恩" in lines
    assert "ID         16c90d67d6f0" in lines
    html = run("show", "16c9", "--html", data=seed_archive)
    assert html.stdout.startswith('<main role="main">')


def test_show_html_parses_the_source_file_again(tmp_path: Path) -> None:
    """The HTML is not stored: --html re-reads the file, if it still is what was ingested."""
    from newsarc.parse import parse_file

    src = tmp_path / "src"
    shutil.copytree(SEEDS, src)
    data = tmp_path / "data"
    assert run("ingest", str(src), data=data).exit_code == 0
    path = Path(jsonl(run("show", "16c9", "--json", data=data).stdout)[0]["path"])
    original = path.read_bytes()
    html = parse_file(path).html
    shown = run("show", "16c9", "--html", data=data)
    assert shown.exit_code == 0
    assert shown.stdout == (html if html.endswith("\n") else html + "\n")
    prefix = "newsarc: cannot show the original HTML of 16c90d67d6f0: its source file"
    path.write_bytes(original.replace("普京".encode(), "普丁".encode()))
    changed = run("show", "16c9", "--html", data=data)
    assert (changed.exit_code, changed.stdout) == (1, "")
    assert changed.stderr == f"{prefix} {path.resolve()} has changed since it was ingested\n"
    path.write_bytes(original)  # the same bytes again (another mtime): shown again
    assert run("show", "16c9", "--html", data=data).stdout == shown.stdout
    path.rename(tmp_path / "moved.txt")
    moved = run("show", "16c9", "--html", data=data)
    assert (moved.exit_code, moved.stdout) == (1, "")
    assert moved.stderr == (
        f"{prefix} {path.resolve()} is gone (moved or deleted since it was ingested)\n"
    )
    # everything else comes from the store
    assert jsonl(run("show", "16c9", "--json", data=data).stdout)[0]["path"] == str(path)
    assert run("show", "16c9", data=data).exit_code == 0


def test_show_unknown_and_bad_ids(seed_archive: Path) -> None:
    unknown = run("show", "ffff", data=seed_archive)
    assert (unknown.exit_code, unknown.stderr) == (1, "newsarc: no article with id ffff\n")
    short = run("show", "16c", data=seed_archive)
    assert short.exit_code == 1
    assert short.stderr == "newsarc: not an article id: '16c' (give at least 4 hex digits)\n"


def test_show_ambiguous_prefix_lists_candidates(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    seen: dict[str, str] = {}
    pair = None
    for i in range(5000):
        url = f"https://example.com/a/{i}.html"
        prefix = hashlib.sha1(url.encode()).hexdigest()[:4]
        if prefix in seen:
            pair = (seen[prefix], url)
            break
        seen[prefix] = url
    assert pair is not None
    for n, url in enumerate(pair):
        write_article(src, f"{n}.txt", url, f"标题{n}", 1700000000000 + n, f"<p>正文{n}</p>")
    data = tmp_path / "data"
    assert run("ingest", str(src), data=data).exit_code == 0
    prefix = hashlib.sha1(pair[0].encode()).hexdigest()[:4]
    result = run("show", prefix, data=data)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == f"newsarc: id prefix '{prefix}' is ambiguous: 2 articles match:"
    ids = sorted(hashlib.sha1(u.encode()).hexdigest()[:12] for u in pair)
    assert [line.split()[0] for line in lines[1:]] == ids


def test_newest_version_wins_in_any_order(tmp_path: Path) -> None:
    url = "https://www.voachinese.com/a/test-20240101/1.html"
    old = tmp_path / "old"
    new = tmp_path / "new"
    old.mkdir()
    new.mkdir()
    write_article(old, "a.txt", url, "旧标题", 1700000000000, "<p>旧的正文</p>")
    write_article(new, "a.txt", url, "新标题", 1700000999000, "<p>新的正文</p>")
    for order in ((old, new), (new, old)):
        data = tmp_path / f"data-{order[0].name}"
        first = run("ingest", str(order[0]), data=data)
        second = run("ingest", str(order[1]), data=data)
        assert first.exit_code == second.exit_code == 0
        records = jsonl(run("export", data=data).stdout)
        assert [(r["title"], r["text"]) for r in records] == [("新标题", "新的正文")]
    data = tmp_path / "data-both"
    both = run("ingest", str(old), str(new), data=data)
    assert "1 added" in both.stderr and "1 older" in both.stderr
    assert [r["title"] for r in jsonl(run("export", data=data).stdout)] == ["新标题"]
    updated = tmp_path / "data-update"
    run("ingest", str(old), data=updated)
    assert run("ingest", str(new), data=updated).stderr.startswith(
        "ingested 1 file: 0 added, 1 updated, 0 unchanged, 0 rejected"
    )


def test_rejected_files_are_reported_and_the_rest_ingested(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(SEEDS, src)
    (src / "README.md").write_text("# not an archive\n", encoding="utf-8")
    (src / "empty.txt").write_bytes(b"")
    (src / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    (src / "header-only.txt").write_text("<!--1694965143000-->\n", encoding="utf-8")
    data = tmp_path / "data"
    result = run("ingest", str(src), data=data)
    assert result.exit_code == 1
    rejected = sorted(line for line in result.stderr.splitlines() if not line.startswith("ingested"))
    assert rejected == sorted([
        f"{src / 'README.md'}: not an archive file: missing <!--timestamp--> header",
        f"{src / 'empty.txt'}: empty file",
        f"{src / 'image.png'}: binary file",
        f"{src / 'header-only.txt'}: no title line",
    ])
    assert "5 added, 0 updated, 0 unchanged, 4 rejected" in result.stderr
    assert jsonl(run("stats", "--json", data=data).stdout)[0]["articles"] == 5


def test_missing_path_is_a_rejection(tmp_path: Path) -> None:
    result = run("ingest", str(tmp_path / "nope"), data=tmp_path / "d")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"{tmp_path / 'nope'}: no such file or directory"


def test_stats(seed_archive: Path) -> None:
    stats = jsonl(run("stats", "--json", data=seed_archive).stdout)[0]
    assert stats["articles"] == 5
    assert stats["sources"] == {"voa": 2, "bbc": 1, "dw": 1, "rfi": 1}
    assert stats["first_published"][:10] == "2023-09-14"
    assert stats["last_published"][:10] == "2024-06-17"
    assert stats["size_bytes"] > 0
    human = run("stats", data=seed_archive)
    assert human.exit_code == 0
    assert "美国之音" in human.stdout


def test_export_round_trips_show_json(seed_archive: Path) -> None:
    records = jsonl(run("export", "--format", "jsonl", data=seed_archive).stdout)
    assert sorted(r["id"] for r in records) == sorted(SEED_IDS.values())
    for record in records:
        shown = jsonl(run("show", record["id"], "--json", data=seed_archive).stdout)[0]
        assert shown == record


def test_no_archive_is_a_clear_error(tmp_path: Path) -> None:
    for args in (("search", "普京"), ("show", "abcd"), ("stats",), ("export",)):
        result = run(*args, data=tmp_path / "none")
        assert result.exit_code == 1
        assert result.stderr == f"newsarc: no archive in {tmp_path / 'none'} (run `newsarc ingest PATH` first)\n"


def test_data_from_environment(seed_archive: Path) -> None:
    result = run("stats", "--json", env={"NEWSARC_DATA": str(seed_archive)})
    assert jsonl(result.stdout)[0]["articles"] == 5
    per_command = run("stats", "--json", "--data", str(seed_archive))
    assert jsonl(per_command.stdout)[0]["articles"] == 5

