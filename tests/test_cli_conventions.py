"""Conventions every command keeps, through the real CLI: options vs query words, --source names,
closed pipes, --color, terminal widths, shell completion, help."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SEED_IDS, corpus_dir, jsonl, run
from newsarc.cli import cli
from newsarc.render import display_width

V = SEED_IDS
ALL = set(V.values())
SGR = re.compile(r"\x1b\[[0-9;]*m")


def ids(data: Path, *args: str) -> list[str]:
    result = run("search", "--json", "--all", *args, data=data)
    assert result.exit_code == 0 or (result.exit_code == 1 and result.stderr.startswith("no hits")), result.stderr
    return [hit["id"] for hit in jsonl(result.stdout)]


# ------------------------------------------------------------ unknown options vs exclusions


@pytest.mark.parametrize(
    ("args", "unknown", "suggestion"),
    [
        (("--jsn",), "--jsn", "'--json'"),
        (("--sinse", "2020"), "--sinse", "'--since'"),
        (("--colour=always",), "--colour", "'--color'"),
        (("--sourse", "voa"), "--sourse", "'--source'"),
        (("--no-alias",), "--no-alias", "'--no-aliases'"),
    ],
)
@pytest.mark.parametrize("command", ["search", "timeline"])
def test_a_mistyped_option_is_a_usage_error_with_a_suggestion(
    seed_archive: Path, command: str, args: tuple[str, ...], unknown: str, suggestion: str
) -> None:
    result = run(command, "普京", *args, data=seed_archive)
    assert (result.exit_code, result.stdout) == (2, "")
    assert f"Error: No such option '{unknown}'" in result.stderr
    assert "Did you mean" in result.stderr and suggestion in result.stderr
    assert "no hits" not in result.stderr


def test_known_options_anywhere_among_the_words(seed_archive: Path) -> None:
    assert run("search", "普京", "--color=always", data=seed_archive).exit_code == 0
    oldest = run("search", "--sort", "oldest", "普京", "-n", "2", "朝鲜", "--json", data=seed_archive)
    assert [hit["id"] for hit in jsonl(oldest.stdout)] == [V["bbc"], V["rfi"]]
    assert ids(seed_archive, "普京", "--source=dw") == [V["dw"]]
    limited = run("search", "普京", "-n2", "--json", data=seed_archive)  # a short option, value attached
    assert len(jsonl(limited.stdout)) == 2


def test_single_dash_words_are_exclusions(seed_archive: Path) -> None:
    assert set(ids(seed_archive, "普京", "-崔善姬")) == ALL - {V["dw"]}
    assert set(ids(seed_archive, "普京", "-Tu-160")) == ALL - {V["voa_2023"]}  # mixed Latin
    assert set(ids(seed_archive, "普京", "-斯拉維安卡")) == ALL - {V["voa_2023"]}  # traditional
    assert set(ids(seed_archive, "普京", "-崔善姬", "-海参崴")) == ALL - {V["dw"], V["voa_2023"], V["rfi"]}
    assert set(ids(seed_archive, "普京", "-n", "9", "-崔善姬")) == ALL - {V["dw"]}
    # after --, everything is a word, also what looks like an option
    assert set(ids(seed_archive, "普京", "--", "-崔善姬")) == ALL - {V["dw"]}
    assert ids(seed_archive, "--", "崔善姬", "--json") == []  # "--json" searched as words


def test_a_missing_option_value_is_a_usage_error(seed_archive: Path) -> None:
    result = run("search", "普京", "-崔善姬", "--source", data=seed_archive)
    assert result.exit_code == 2
    assert "Error: Option '--source' requires an argument." in result.stderr


def test_timeline_takes_the_query_syntax_of_search(seed_archive: Path) -> None:
    result = run("timeline", "普京", "-朝鲜", "--json", data=seed_archive)
    assert result.exit_code == 1  # every seed mentions 朝鲜
    assert result.stderr == "no hits\n"
    excluded = run("timeline", "普京", "-崔善姬", "--by", "year", "--json", data=seed_archive)
    assert excluded.exit_code == 0, excluded.stderr
    assert [(r["period"], r["count"]) for r in jsonl(excluded.stdout)] == [("2023", 3), ("2024", 1)]
    tu = run("timeline", "普京", "-Tu-160", "--by", "year", "--json", data=seed_archive)
    assert [(r["period"], r["count"]) for r in jsonl(tu.stdout)] == [("2023", 2), ("2024", 2)]


# ------------------------------------------------------------------------------ --source


@pytest.mark.parametrize("value", ["voa", "VOA", "美国之音", "美國之音", " 美国之音 "])
def test_source_by_key_or_name(seed_archive: Path, value: str) -> None:
    assert set(ids(seed_archive, "普京", "--source", value)) == {V["voa_2023"], V["voa_2024"]}


def test_source_names_in_timeline(seed_archive: Path) -> None:
    result = run("timeline", "普京", "--source", "德国之声", "--source", "BBC中文", "--by", "year",
                 "--json", data=seed_archive)
    assert [(r["period"], r["count"]) for r in jsonl(result.stdout)] == [("2023", 1), ("2024", 1)]


@pytest.mark.parametrize("command", ["search", "timeline"])
@pytest.mark.parametrize("value", ["nosuchoutlet", "美国", "reuters"])
def test_an_unknown_source_is_a_usage_error_listing_the_archives_outlets(
    seed_archive: Path, command: str, value: str
) -> None:
    result = run(command, "普京", "--source", "voa", "--source", value, data=seed_archive)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.endswith(
        f"Error: Invalid value for '--source': unknown outlet '{value}'; the archive has: "
        "bbc (BBC中文), dw (德国之声), rfi (法广), voa (美国之音)\n"
    )
    assert re.match(rf"Usage: \S+ {command} \[OPTIONS\] QUERY\.\.\.\n", result.stderr)


# ------------------------------------------------------------------------------ pipes


def _newsarc(*args: str) -> list[str]:
    return [sys.executable, "-m", "newsarc", *args]


def _into_closed_pipe(*args: str) -> subprocess.CompletedProcess:
    """Run newsarc writing into a pipe whose reader has already gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(_newsarc(*args), stdout=write_end, stderr=subprocess.PIPE,
                              env={**os.environ, "NO_COLOR": "1"}, timeout=120, check=False)
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "args",
    [
        ("export",),
        ("export", "--format", "opensearch"),
        ("export", "--mapping"),
        ("search", "普京"),
        ("search", "普京", "--json"),
        ("show", V["dw"]),
        ("show", V["dw"], "--json"),
        ("show", V["dw"], "--html"),
        ("similar", V["dw"]),
        ("keywords", V["dw"], "--json"),
        ("timeline", "普京"),
        ("stats",),
        ("stats", "--json"),
        ("--help",),
        ("search", "--help"),
    ],
)
def test_a_closed_pipe_exits_0_quietly(seed_archive: Path, args: tuple[str, ...]) -> None:
    result = _into_closed_pipe("--data", str(seed_archive), *args)
    assert (result.returncode, result.stderr.decode()) == (0, "")


def _first_line_then_close(*args: str) -> tuple[bytes, int, str]:
    """Like ``newsarc ARGS | head -1``: read one line, close the pipe, wait."""
    process = subprocess.Popen(_newsarc(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "NO_COLOR": "1"})
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()
    err = process.stderr.read().decode()
    return first, process.wait(timeout=120), err


def test_export_into_head_on_the_seeds(seed_archive: Path) -> None:
    first, code, err = _first_line_then_close("--data", str(seed_archive), "export")
    assert first.startswith(b'{"id": "') and (code, err) == (0, "")


def test_export_into_head_on_a_corpus_sample(tmp_path: Path) -> None:
    feeds = corpus_dir("feeds")
    sample = tmp_path / "sample"
    sample.mkdir()
    for path in sorted(feeds.glob("*.txt"))[:200]:
        (sample / path.name).symlink_to(path)
    data = tmp_path / "data"
    assert run("ingest", str(sample), data=data).exit_code == 0
    for args in (("export",), ("export", "--format", "opensearch"), ("search", "中国", "--all")):
        first, code, err = _first_line_then_close("--data", str(data), *args)
        assert first and (code, err) == (0, ""), args


# ------------------------------------------------------------------------------ timeline


def test_timeline_without_hits_says_so(seed_archive: Path) -> None:
    for extra in ((), ("--json",), ("--by", "day")):
        result = run("timeline", "不存在的词语组合", *extra, data=seed_archive)
        assert (result.exit_code, result.stdout, result.stderr) == (1, "", "no hits\n")


def test_timeline_axis_runs_from_since_to_until(seed_archive: Path) -> None:
    def rows(*args: str) -> list[tuple[str, int]]:
        result = run("timeline", "崔善姬", "--json", *args, data=seed_archive)
        assert result.exit_code == 0, result.stderr
        return [(r["period"], r["count"]) for r in jsonl(result.stdout)]

    assert rows() == [("2024-01", 1)]
    assert rows("--since", "2023-11") == [("2023-11", 0), ("2023-12", 0), ("2024-01", 1)]
    assert rows("--since", "2023-11-20", "--until", "2024-03") == [
        ("2023-11", 0), ("2023-12", 0), ("2024-01", 1), ("2024-02", 0), ("2024-03", 0),
    ]
    assert rows("--until", "2024", "--by", "year") == [("2024", 1)]
    assert rows("--since", "2020", "--by", "year") == [
        ("2020", 0), ("2021", 0), ("2022", 0), ("2023", 0), ("2024", 1),
    ]
    days = rows("--since", "2024-01-19", "--until", "2024-01-22", "--by", "day")
    assert days == [("2024-01-19", 0), ("2024-01-20", 0), ("2024-01-21", 1), ("2024-01-22", 0)]
    chart = run("timeline", "崔善姬", "--since", "2023-12", data=seed_archive)
    assert chart.stdout.splitlines() == ["2023-12  0", "2024-01  1  " + "█" * 68]


def test_timeline_refuses_an_absurd_axis(seed_archive: Path) -> None:
    result = run("timeline", "普京", "--since", "0001", "--by", "day", data=seed_archive)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "newsarc: bad query: a timeline by day from 0001-01-01 to 2024-06-17 would have "
        "739,054 periods (at most 10,000): narrow --since/--until or use a longer --by\n"
    )
    by_year = run("timeline", "普京", "--since", "0001", "--by", "year", "--json", data=seed_archive)
    assert by_year.exit_code == 0 and len(jsonl(by_year.stdout)) == 2024


# ------------------------------------------------------------------------------ widths


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Output rendered as for a terminal (fitted to COLUMNS): CliRunner's streams are not ttys,
    and into a pipe newsarc cuts nothing."""
    monkeypatch.setattr("newsarc.render._isatty", lambda stream: True)


@pytest.mark.parametrize("width", [20, 40, 51, 80])
def test_every_line_fits_the_terminal(seed_archive: Path, width: int, terminal: None) -> None:
    commands = [
        ("search", "普京"),
        ("search", "普丁", "朝鲜"),  # (via alias: …) notes
        ("similar", V["dw"]),
        ("timeline", "普京"),
        ("timeline", "普京", "--by", "day", "--since", "2024-06-15"),
        ("stats",),
        ("keywords", V["voa_2023"]),
        ("show", V["voa_2023"]),
    ]
    for args in commands:
        for color in ("never", "always"):
            result = run(*args, "--color", color, data=seed_archive, env={"COLUMNS": str(width)})
            assert result.exit_code == 0, (args, result.stderr)
            lines = result.stdout.splitlines() + result.stderr.splitlines()
            assert lines
            for line in lines:
                assert display_width(SGR.sub("", line)) <= width, (args, width, line)


def test_narrow_search_puts_the_title_on_its_own_line(seed_archive: Path, terminal: None) -> None:
    narrow = run("search", "崔善姬", data=seed_archive, env={"COLUMNS": "40"}).stdout.splitlines()
    assert narrow[:2] == ["b5b1ad0c0be9  2024-01-21  德国之声", "二十余年首次：普京计划访问平壤"]
    tiny = run("search", "崔善姬", data=seed_archive, env={"COLUMNS": "20"}).stdout.splitlines()
    assert tiny[:2] == ["b5b1ad0c0be9  2024-…", "二十余年首次：普京…"]
    wide = run("search", "崔善姬", data=seed_archive, env={"COLUMNS": "80"}).stdout.splitlines()
    assert wide[0] == "b5b1ad0c0be9  2024-01-21  德国之声        二十余年首次：普京计划访问平壤"


# ------------------------------------------------------------------------------ colour


@pytest.mark.parametrize(
    "args",
    [("search", "普京"), ("show", V["dw"]), ("similar", V["dw"]), ("stats",), ("timeline", "不存在")],
)
def test_color_option(seed_archive: Path, args: tuple[str, ...]) -> None:
    def coloured(*extra: str, no_color: str = "") -> bool:
        result = run(*args, *extra, data=seed_archive, env={"NO_COLOR": no_color})
        return "\x1b[" in result.stdout + result.stderr

    assert coloured("--color", "always")
    assert coloured("--color=always", no_color="1")  # an explicit choice beats NO_COLOR
    assert not coloured("--color", "never")
    assert not coloured()  # auto: not a terminal
    assert not coloured("--color", "auto", no_color="1")
    assert run(*args, "--color", "sometimes", data=seed_archive).exit_code == 2


# ------------------------------------------------------------------------------ completion


def _complete(words: str, data: Path | None = None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "NEWSARC_DATA"}
    env.update(_NEWSARC_COMPLETE="bash_complete", COMP_WORDS=words,
               COMP_CWORD=str(len(words.split()) - (0 if words.endswith(" ") else 1)))
    if data is not None:
        env["NEWSARC_DATA"] = str(data)
    result = subprocess.run(_newsarc(), env=env, capture_output=True, text=True, timeout=60,
                            cwd=data.parent if data else None, check=False)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return result.stdout.splitlines()


def test_completion_of_source_from_the_archive(seed_archive: Path) -> None:
    assert _complete("newsarc search 普京 --source ", seed_archive) == [
        "plain,bbc", "plain,dw", "plain,rfi", "plain,voa",
    ]
    assert _complete("newsarc timeline 普京 --source r", seed_archive) == ["plain,rfi"]
    with_option = _complete(f"newsarc search --data {seed_archive} 普京 --source d")
    assert with_option == ["plain,dw"]


def test_completion_of_source_without_an_archive(tmp_path: Path) -> None:
    found = _complete("newsarc search 普京 --source r", tmp_path / "none")
    assert found == ["plain,reuters", "plain,rfa", "plain,rfi", "plain,rti"]


def test_completion_of_commands_and_options(tmp_path: Path) -> None:
    assert "plain,timeline" in _complete("newsarc ti")
    assert sorted(_complete("newsarc search 普京 --so")) == ["plain,--sort", "plain,--source"]


def test_completion_scripts_for_each_shell() -> None:
    for shell, marker in (("bash", "complete -o nosort -F"), ("zsh", "#compdef newsarc"),
                          ("fish", "complete --no-files --command newsarc")):
        result = subprocess.run(_newsarc(), env={**os.environ, "_NEWSARC_COMPLETE": f"{shell}_source"},
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0 and marker in result.stdout, shell


# ------------------------------------------------------------------------------ help


def test_every_command_has_help_with_an_example() -> None:
    assert set(cli.commands) >= {"ingest", "search", "show", "stats", "export", "reindex",
                                 "similar", "keywords", "timeline"}
    for name in cli.commands:
        result = run(name, "--help")
        assert result.exit_code == 0, name
        assert re.match(rf"Usage: \S+ {name} ", result.stdout), name
        assert re.search(rf"^  Examples?:\n    newsarc {name}\b", result.stdout, re.M), name
        if "--since" in result.stdout:
            help_text = " ".join(result.stdout.split()).replace("- ", "-")  # wrapped at hyphens
            assert "YYYY-MM-DD, YYYY-MM (its first day) or YYYY" in help_text, name
            assert "YYYY-MM-DD, YYYY-MM (the whole month) or YYYY (the whole year)" in help_text
    assert "Examples:" in run("--help").stdout


# ------------------------------------------------------------------------------ outlets


def test_an_unknown_host_is_keyed_by_its_registered_domain(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name, url in (("a.txt", "https://someone.github.io/2024/post.html"),
                      ("b.txt", "https://news.mingpao.com.hk/pns/x"),
                      ("c.txt", "http://203.0.113.7:8080/x")):
        (src / name).write_text(
            f"<!--1694965143000-->\n[标题 {name}]({url})\n------\n\n<p>普京访问朝鲜。</p>\n",
            encoding="utf-8",
        )
    data = tmp_path / "data"
    assert run("ingest", str(src), data=data).exit_code == 0
    sources = {r["url"]: r["source"] for r in jsonl(run("export", data=data).stdout)}
    assert sources == {
        "https://someone.github.io/2024/post.html": "someone.github.io",
        "https://news.mingpao.com.hk/pns/x": "mingpao.com.hk",
        "http://203.0.113.7:8080/x": "203.0.113.7",
    }
    assert len(ids(data, "普京", "--source", "someone.github.io")) == 1
    assert run("search", "普京", "--source", "github.io", data=data).exit_code == 2

