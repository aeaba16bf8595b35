"""Every version of an article: ingest, history, diff, changes, export --versions, git mirrors.

Real edited articles from the corpus: a headline rewritten twice at one archive
time (31b22bacdfd6, 联合早报), a headline and figures edited at one archive time
(61d792c5e246, 自由亚洲电台), nine paragraphs added two weeks later
(40740219ff65, 德国之声), and a change of markup alone (00e13dbbb00c).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import corpus_dir, jsonl, run
from test_gitmirror import V1, V2, build_mirror, corpus_bytes, git

#: (corpus file, mtime) — versions archived at the same time are ordered by mtime.
FILES = [
    ("feeds-older-versions/00091_31b22bacdfd67e18.txt", 1_700_000_001),
    ("feeds-older-versions/00092_31b22bacdfd67e18.txt", 1_700_000_002),
    ("feeds/01788_31b22bacdfd67e18.txt", 1_700_000_003),
    ("feeds-older-versions/00174_61d792c5e24687c3.txt", 1_700_000_001),
    ("feeds-older-versions/00175_61d792c5e24687c3.txt", 1_700_000_002),
    ("feeds/03474_61d792c5e24687c3.txt", 1_700_000_003),
    ("feeds-older-versions/00117_40740219ff658c9c.txt", 1_700_000_001),
    ("feeds/02310_40740219ff658c9c.txt", 1_700_000_003),
    ("feeds-older-versions/00000_00e13dbbb00ce361.txt", 1_700_000_001),
    ("feeds/00019_00e13dbbb00ce361.txt", 1_700_000_003),
]


def copy_files(folder: Path, which: str | None = None) -> Path:
    """The FILES (or those of one corpus folder) under ``folder``, with their mtimes set."""
    for rel, mtime in FILES:
        top, name = rel.split("/")
        if which is not None and top != which:
            continue
        target = folder / top / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(corpus_dir(top) / name, target)
        os.utime(target, (mtime, mtime))
    return folder


@pytest.fixture(scope="module")
def edited(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive of the FILES, newest folder first (read-only for tests)."""
    base = copy_files(tmp_path_factory.mktemp("edited"))
    data = base / "data"
    newest = run("ingest", str(base / "feeds"), data=data)
    assert newest.stderr.startswith("ingested 4 files: 4 added, 0 updated, 0 unchanged, 0 rejected (")
    older = run("ingest", str(base / "feeds-older-versions"), data=data)
    assert older.exit_code == 0, older.stderr
    assert older.stderr.startswith(
        "ingested 6 files: 0 added, 0 updated, 1 unchanged, 5 older (5 new older versions kept), 0 rejected ("
    )
    return data


def test_history_headline_rewritten_twice_at_one_archive_time(edited: Path) -> None:
    result = run("history", "31b2", data=edited)
    assert result.exit_code == 0
    assert result.stdout == (
        "1  2020-07-27 20:05 UTC  198 chars  中国否认新加坡男子被招募当间谍的指控\n"
        "   first version\n"
        "2  2020-07-27 20:05 UTC  200 chars  中国驳斥新加坡男子被招募当间谍的指控\n"
        "   headline changed, 2 characters changed\n"
        "3  2020-07-27 20:05 UTC  353 chars  回应新加坡间谍案 中国外交部批美贼喊捉贼\n"
        "   headline changed, 4 paragraphs added, 3 removed, 38 characters changed\n"
    )
    rows = jsonl(run("history", "31b22bacdfd6", "--json", data=edited).stdout)
    assert [(r["version"], r["current"], r["text_length"], r["magnitude"]) for r in rows] == [
        (1, False, 198, 0.0), (2, False, 200, 0.2322), (3, True, 353, 2.9),
    ]
    assert {r["archived"] for r in rows} == {"2020-07-27T20:05:00+00:00"}


def test_history_added_paragraphs_and_markup_only_change(edited: Path) -> None:
    assert run("history", "40740219ff65", data=edited).stdout == (
        "1  2020-07-13 14:55 UTC    825 chars  疫情之下 与DW女记者一起德国自驾游\n"
        "   first version\n"
        "2  2020-07-27 12:54 UTC  1,915 chars  疫情之下 与DW女记者一起德国自驾游\n"
        "   9 paragraphs added\n"
    )
    (only,) = jsonl(run("history", "00e13dbbb00c", "--json", data=edited).stdout)
    assert (only["version"], only["summary"], only["current"]) == (1, "first version", True)


def test_diff_unified_and_json(edited: Path) -> None:
    result = run("diff", "61d792c5e246", "--from", "1", "--to", "2", data=edited)
    assert result.exit_code == 0
    assert result.stdout == (
        "--- 61d792c5e246 version 1 (2020-07-20 11:45 UTC)\n"
        "+++ 61d792c5e246 version 2 (2020-07-20 11:45 UTC)\n"
        "@@ -1 +1 @@ title\n"
        "-“台美国会议员联谊会”台湾六成立委参与\n"
        "+“台美国会议员联谊会”台湾六成立委都参与\n"
    )
    ops = jsonl(run("diff", "31b2", "--from", "1", "--to", "2", "--json", data=edited).stdout)
    assert [(o["field"], o["op"], o["text"]) for o in ops if o["op"] != "equal"] == [
        ("title", "delete", "否认"), ("title", "insert", "驳斥"), ("text", "insert", "表示"),
    ]
    assert "".join(o["text"] for o in ops if o["field"] == "title" and o["op"] != "delete") == (
        "中国驳斥新加坡男子被招募当间谍的指控"
    )


def test_diff_default_is_the_two_newest_and_errors(edited: Path) -> None:
    default = run("diff", "61d7", data=edited).stdout
    assert default == run("diff", "61d7", "--from", "2", "--to", "3", data=edited).stdout
    assert "-“台美国会议员联谊会”台湾六成立委都参与\n+“台美国会议员联谊会”台湾6成立委都参与\n" in default
    single = run("diff", "00e13dbbb00c", data=edited)
    assert single.exit_code == 1
    assert single.stderr == "newsarc: article 00e13dbbb00c has only one version: nothing to compare\n"
    bad = run("diff", "61d7", "--from", "7", data=edited)
    assert bad.exit_code == 2
    assert bad.stderr == "newsarc: bad query: --from 7: article 61d792c5e246 has versions 1 to 3\n"
    unknown = run("history", "ffff0000", data=edited)
    assert (unknown.exit_code, unknown.stderr) == (1, "newsarc: no article with id ffff0000\n")


def test_changes_biggest_first_with_filters(edited: Path) -> None:
    rows = jsonl(run("changes", "--json", data=edited).stdout)
    assert [(r["id"], r["from_version"], r["to_version"], r["headline_changed"], r["magnitude"]) for r in rows] == [
        ("31b22bacdfd6", 1, 3, True, 2.9),
        ("40740219ff65", 1, 2, False, 0.5645),
        ("61d792c5e246", 1, 3, True, 0.2043),
    ]
    assert rows[0]["summary"] == "headline changed, 4 paragraphs added, 3 removed, 36 characters changed"
    assert rows[0]["old_title"] == "中国否认新加坡男子被招募当间谍的指控"
    headlines = jsonl(run("changes", "--headlines", "--json", data=edited).stdout)
    assert [r["id"] for r in headlines] == ["31b22bacdfd6", "61d792c5e246"]
    dw = run("changes", "--source", "dw", data=edited)
    assert dw.stdout == (
        "40740219ff65  2020-07-27  德国之声        疫情之下 与DW女记者一起德国自驾游\n"
        "    versions 1→2 of 2, magnitude 0.5645: 9 paragraphs added\n"
    )
    assert run("changes", "--source", "德國之聲", data=edited).stdout == dw.stdout  # a name, either script
    unknown = run("changes", "--source", "nosuch", data=edited)
    assert unknown.exit_code == 2
    assert "unknown outlet 'nosuch'; the archive has: cdt (中国数字时代), dw (德国之声), rfa (自由亚洲电台), zaobao (联合早报)" in unknown.stderr
    since = jsonl(run("changes", "--since", "2020-07-21", "--json", data=edited).stdout)
    assert [r["id"] for r in since] == ["31b22bacdfd6", "40740219ff65"]
    none = run("changes", "--until", "2019", data=edited)
    assert (none.exit_code, none.stdout, none.stderr) == (1, "", "no changes\n")


def test_newest_is_what_search_show_and_stats_see(edited: Path) -> None:
    shown = jsonl(run("show", "31b2", "--json", data=edited).stdout)[0]
    assert shown["title"] == "回应新加坡间谍案 中国外交部批美贼喊捉贼"
    assert shown["path"].endswith("feeds/01788_31b22bacdfd67e18.txt")
    assert jsonl(run("stats", "--json", data=edited).stdout)[0]["articles"] == 4
    assert [h["id"] for h in jsonl(run("search", "贼喊捉贼", "--json", data=edited).stdout)] == ["31b22bacdfd6"]
    assert run("search", "否认新加坡男子", data=edited).exit_code == 1  # only an older headline says it
    assert len(jsonl(run("export", data=edited).stdout)) == 4


def test_export_versions(edited: Path) -> None:
    records = jsonl(run("export", "--versions", data=edited).stdout)
    assert len(records) == 9
    by_id: dict[str, list[dict]] = {}
    for record in records:
        by_id.setdefault(record["id"], []).append(record)
    assert [(r["version"], r["versions"], r["current"]) for r in by_id["31b22bacdfd6"]] == [
        (1, 3, False), (2, 3, False), (3, 3, True),
    ]
    assert [r["title"] for r in by_id["61d792c5e246"]] == [
        "“台美国会议员联谊会”台湾六成立委参与",
        "“台美国会议员联谊会”台湾六成立委都参与",
        "“台美国会议员联谊会”台湾6成立委都参与",
    ]
    assert by_id["40740219ff65"][0]["first_archived"] == "2020-07-13T14:55:53+00:00"
    # the versions of a query's hits, as CSV with version fields
    csv = run("export", "贼喊捉贼", "--versions", "--format", "csv", "--fields", "id,version,current,title",
              data=edited)
    assert csv.stdout.splitlines() == [
        "id,version,current,title",
        "31b22bacdfd6,1,False,中国否认新加坡男子被招募当间谍的指控",
        "31b22bacdfd6,2,False,中国驳斥新加坡男子被招募当间谍的指控",
        "31b22bacdfd6,3,True,回应新加坡间谍案 中国外交部批美贼喊捉贼",
    ]
    assert run("export", "--versions", "--format", "opensearch", data=edited).exit_code == 2


def test_both_orders_and_reingest_keep_every_version_once(tmp_path: Path, edited: Path) -> None:
    base = copy_files(tmp_path)
    other = tmp_path / "other"
    older = run("ingest", str(base / "feeds-older-versions"), data=other)
    assert older.stderr.startswith(
        "ingested 6 files: 4 added, 0 updated, 0 unchanged, 2 older (2 new older versions kept), 0 rejected ("
    ), older.stderr
    newest = run("ingest", str(base / "feeds"), data=other)
    assert newest.stderr.startswith(
        "ingested 4 files: 0 added, 4 updated, 0 unchanged, 0 rejected ("
    ), newest.stderr
    assert run("export", "--versions", data=other).stdout.replace(str(tmp_path), "") == run(
        "export", "--versions", data=edited
    ).stdout.replace(str(edited.parent), "")
    again = run("ingest", str(base / "feeds"), str(base / "feeds-older-versions"), data=other)
    assert again.stderr.startswith("ingested 10 files: 0 added, 0 updated, 10 unchanged, 0 rejected (")
    assert len(jsonl(run("export", "--versions", data=other).stdout)) == 9


# ----------------------------------------------------------------------------- git mirrors

pytestmark_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytestmark_git
def test_ingest_a_git_mirror_then_only_new_commits(tmp_path: Path) -> None:
    repo = tmp_path / "mirror"
    commits = build_mirror(repo)
    data = tmp_path / "data"
    first = run("ingest", str(repo), "--json", data=data)
    assert first.exit_code == 1  # README.md is not an archive file
    summary = jsonl(first.stdout)[0]
    assert {k: summary[k] for k in ("files", "added", "updated", "older", "versions", "commits", "rejected")} == {
        "files": 6, "added": 3, "updated": 0, "older": 2, "versions": 2, "commits": 4, "rejected": 1,
    }
    lines = first.stderr.splitlines()
    assert lines[0] == f"{repo / '.git'}:README.md: no title line"
    assert lines[1].startswith("ingested 6 files from 4 commits: 3 added, 0 updated, 0 unchanged, 2 older")
    assert [(r["version"], r["title"]) for r in jsonl(run("history", "31b2", "--json", data=data).stdout)] == [
        (1, "中国否认新加坡男子被招募当间谍的指控"),
        (2, "中国驳斥新加坡男子被招募当间谍的指控"),
        (3, "回应新加坡间谍案 中国外交部批美贼喊捉贼"),
    ]
    shown = jsonl(run("show", "31b2", "--json", data=data).stdout)[0]
    assert shown["path"] == f"{repo / '.git'}@{commits[2][:12]}:_posts/2020-07-27-间谍案.md"
    # nothing new: nothing read
    again = jsonl(run("ingest", str(repo), "--json", data=data).stdout)[0]
    assert (again["files"], again["commits"], again["added"], again["updated"]) == (0, 0, 0, 0)
    # the outlet reverts its headline: the old version becomes the newest again
    (repo / "_posts" / "2020-07-27-间谍案.md").write_bytes(corpus_bytes(V2))
    git(repo, "commit", "-qam", "day 5", when=1596245600)
    third = jsonl(run("ingest", str(repo), "--json", data=data).stdout)[0]
    assert (third["files"], third["commits"], third["updated"]) == (1, 1, 1)
    history = jsonl(run("history", "31b2", "--json", data=data).stdout)
    assert [(r["title"], r["current"]) for r in history] == [
        ("中国否认新加坡男子被招募当间谍的指控", False),
        ("回应新加坡间谍案 中国外交部批美贼喊捉贼", False),
        ("中国驳斥新加坡男子被招募当间谍的指控", True),
    ]
    assert jsonl(run("show", "31b2", "--json", data=data).stdout)[0]["title"] == "中国驳斥新加坡男子被招募当间谍的指控"
    assert [h["id"] for h in jsonl(run("search", "驳斥", "--json", data=data).stdout)] == ["31b22bacdfd6"]


@pytestmark_git
def test_git_versions_without_header_time_take_the_commit_time(tmp_path: Path) -> None:
    repo = tmp_path / "bare-source"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    body = corpus_bytes(V1).decode("utf-8").split("\n", 3)[3]  # the HTML after the header lines
    post = repo / "_posts" / "2020-07-27-spy.md"
    post.parent.mkdir()
    front = ("---\nlayout: post\ntitle: \"中国否认新加坡男子被招募当间谍的指控\"\ndate: 2020-07-27T12:00:00+08:00\n"
             "from: https://www.zaobao.com/realtime/china/story20200727-1072430\n---\n\n")
    post.write_text(front + body, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one", when=1595900000)
    post.write_text(front.replace("否认", "驳斥") + body.replace("不知情", "表示不知情"), encoding="utf-8")
    git(repo, "commit", "-qam", "two", when=1595986400)
    bare = tmp_path / "mirror.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(bare)], check=True)
    data = tmp_path / "data"
    result = run("ingest", str(bare), data=data)
    assert result.exit_code == 0, result.stderr
    assert run("history", "31b2", data=data).stdout == (
        "1  2020-07-28 01:33 UTC  198 chars  中国否认新加坡男子被招募当间谍的指控\n"
        "   first version\n"
        "2  2020-07-29 01:33 UTC  200 chars  中国驳斥新加坡男子被招募当间谍的指控\n"
        "   headline changed, 2 characters changed\n"
    )


def test_search_all_versions_says_which_matched(edited: Path) -> None:
    older_only = run("search", "否认", "--all-versions", "--json", data=edited)
    assert older_only.exit_code == 0
    (hit,) = jsonl(older_only.stdout)
    assert (hit["id"], hit["title"], hit["versions"], hit["version_count"]) == (
        "31b22bacdfd6", "中国否认新加坡男子被招募当间谍的指控", [1], 3,
    )
    every = jsonl(run("search", "新加坡", "--all-versions", "--json", data=edited).stdout)
    assert [(h["id"], h["title"], h["versions"]) for h in every] == [
        ("31b22bacdfd6", "回应新加坡间谍案 中国外交部批美贼喊捉贼", [1, 2, 3]),
    ]
    # 六成 is in the first two versions only (the newest says 6成)
    text = run("search", "六成立委", "--all-versions", data=edited, env={"COLUMNS": "120"})
    assert text.stdout.splitlines()[0] == (
        "61d792c5e246  2020-07-20  自由亚洲电台    “台美国会议员联谊会”台湾六成立委都参与 (versions 1, 2 of 3)"
    )
    assert jsonl(run("search", "六成立委", "--json", data=edited).stdout) == []
    assert run("search", "否认", "--all-versions", "--source", "dw", data=edited).exit_code == 1
    single = jsonl(run("search", "DW女记者", "--all-versions", "--json", data=edited).stdout)
    assert [(h["id"], h["versions"], h["version_count"]) for h in single] == [("40740219ff65", [1, 2], 2)]


def write_version(folder: Path, name: str, title: str, ms: int, body: str, mtime: int) -> None:
    path = folder / name
    url = "https://www.rfa.org/mandarin/test/edited.html"
    path.write_text(f"<!--{ms}-->\n[{title}]({url})\n------\n\n{body}\n", encoding="utf-8")
    os.utime(path, (mtime, mtime))


def test_diff_never_emits_archived_control_sequences(tmp_path: Path) -> None:
    from newsarc.history import diff
    from newsarc.render import Style, render_diff

    folder = tmp_path / "in"
    folder.mkdir()
    write_version(folder, "a.txt", "普京會見金正恩", 1700000000000, "<p>第一段\x1b]0;pwned\x07。</p><p>第二段</p>", 1)
    write_version(folder, "b.txt", "普京會見金正恩\u202e", 1700000000000,
                  "<p>第一段\x1b[2J改。</p><p>第二段</p><p>Tu-160轟炸機</p>", 2)
    data = tmp_path / "data"
    run("ingest", str(folder), data=data)
    plain = run("diff", "f21c", data=data)
    assert plain.exit_code == 0, plain.stderr
    assert "\x1b" not in plain.stdout and "\u202e" not in plain.stdout
    # the parser drops the text's control characters; the title keeps the bidi override, escaped
    assert "-第一段]0;pwned。\n+第一段[2J改。\n 第二段\n+Tu-160轟炸機\n" in plain.stdout
    assert "-普京會見金正恩\n+普京會見金正恩\\u202e\n" in plain.stdout
    before, after, comparison = diff(data, "f21c")
    out = io.StringIO()
    render_diff(before, after, comparison.edit_ops(), out, Style(color=True, width=80))
    shown = out.getvalue()
    assert shown.replace("\x1b[31;9m", "").replace("\x1b[32;4m", "").replace("\x1b[0m", "").replace(
        "\x1b[31m", "").replace("\x1b[32m", "").replace("\x1b[2m", "").count("\x1b") == 0
    assert "普京會見金正恩\x1b[32;4m\\u202e\x1b[0m" in shown
    assert "\x1b[32;4m¶\x1b[0m\x1b[32;4mTu-160轟炸機\x1b[0m" in shown
