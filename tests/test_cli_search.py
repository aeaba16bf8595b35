"""`newsarc search` through the real CLI on the seed archive: operators, filters, sorting, output."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SEED_IDS, jsonl, run

ALL = set(SEED_IDS.values())
V = SEED_IDS


def ids(data: Path, *args: str) -> list[str]:
    result = run("search", "--json", "--all", *args, data=data)
    assert result.exit_code == 0 or (result.exit_code == 1 and result.stderr.startswith("no hits")), result.stderr
    return [hit["id"] for hit in jsonl(result.stdout)]


def test_putin_north_korea_finds_all_five_in_both_scripts(seed_archive: Path) -> None:
    assert set(ids(seed_archive, "普京", "朝鲜")) == ALL
    assert set(ids(seed_archive, "普京", "朝鮮")) == ALL
    assert set(ids(seed_archive, "普京朝鲜")) == ALL  # jieba splits it like the spaced query


def test_name_jieba_does_not_know(seed_archive: Path) -> None:
    assert ids(seed_archive, "崔善姬") == [V["dw"]]
    assert ids(seed_archive, "崔善姬") == ids(seed_archive, "崔善姬")


def test_traditional_query_and_mixed_latin(seed_archive: Path) -> None:
    assert ids(seed_archive, "金正恩", "離開") == [V["voa_2023"]]
    assert ids(seed_archive, "RIA", "Novosti") == [V["voa_2023"]]
    assert ids(seed_archive, "ria novosti") == [V["voa_2023"]]
    assert ids(seed_archive, "斯拉维安卡") == [V["voa_2023"]]


def test_or_not_and_minus(seed_archive: Path) -> None:
    assert set(ids(seed_archive, "崔善姬 OR 斯拉维安卡")) == {V["dw"], V["voa_2023"]}
    assert set(ids(seed_archive, "普京", "-崔善姬")) == ALL - {V["dw"]}
    assert set(ids(seed_archive, "普京 NOT 崔善姬")) == ALL - {V["dw"]}
    assert set(ids(seed_archive, "(崔善姬 OR 斯拉维安卡) 普京")) == {V["dw"], V["voa_2023"]}
    assert set(ids(seed_archive, "普京 AND 海参崴")) == {V["voa_2023"], V["rfi"]}
    assert set(ids(seed_archive, "海参崴 -斯拉维安卡")) == {V["rfi"]}


def test_phrase_is_exact(seed_archive: Path) -> None:
    assert set(ids(seed_archive, '"外务相崔善姬"')) == {V["dw"]}
    assert ids(seed_archive, '"崔善姬外务相"') == []
    assert set(ids(seed_archive, "“外务相崔善姬”")) == {V["dw"]}  # Chinese quotation marks


def test_field_prefixes(seed_archive: Path) -> None:
    assert set(ids(seed_archive, "title:金正恩")) == {V["voa_2023"], V["bbc"], V["rfi"]}
    assert set(ids(seed_archive, "source:voa", "普京")) == {V["voa_2023"], V["voa_2024"]}
    assert ids(seed_archive, "author:林兰") == [V["rfi"]]
    assert ids(seed_archive, "author:黄晓恩 朝鲜") == [V["bbc"]]
    assert ids(seed_archive, "title：平壤") == [V["dw"]]  # full-width colon


def test_filters(seed_archive: Path) -> None:
    assert set(ids(seed_archive, "普京", "--source", "voa", "--source", "dw")) == {
        V["voa_2023"], V["voa_2024"], V["dw"],
    }
    assert set(ids(seed_archive, "普京", "--since", "2024-01")) == {V["dw"], V["voa_2024"]}
    assert set(ids(seed_archive, "普京", "--until", "2023-09")) == {V["voa_2023"], V["bbc"], V["rfi"]}
    assert ids(seed_archive, "普京", "--since", "2024-01-22", "--until", "2024-06-17") == [V["voa_2024"]]


def test_sort_orders_and_pages(seed_archive: Path) -> None:
    newest = ids(seed_archive, "普京", "--sort", "newest")
    assert newest == [V["voa_2024"], V["dw"], V["voa_2023"], V["rfi"], V["bbc"]]
    assert ids(seed_archive, "普京", "--sort", "oldest") == newest[::-1]
    page1 = run("search", "普京", "--sort", "newest", "-n", "2", "--json", data=seed_archive)
    page3 = run("search", "普京", "--sort", "newest", "-n", "2", "--page", "3", "--json", data=seed_archive)
    assert [h["id"] for h in jsonl(page1.stdout)] == newest[:2]
    assert [h["id"] for h in jsonl(page3.stdout)] == newest[4:]
    assert page1.stderr.startswith("5 hits, showing 1–2 (")
    assert page3.stderr.startswith("5 hits, showing 5–5 (")


def test_relevance_puts_title_matches_first(seed_archive: Path) -> None:
    ranked = ids(seed_archive, "平壤")
    assert ranked[0] == V["dw"]  # the only title with 平壤
    scores = [h["score"] for h in jsonl(run("search", "平壤", "--json", data=seed_archive).stdout)]
    assert scores == sorted(scores, reverse=True)


def test_json_fields_and_plain_snippet(seed_archive: Path) -> None:
    hits = jsonl(run("search", "崔善姬", "--json", data=seed_archive).stdout)
    assert list(hits[0]) == ["id", "title", "source", "published", "url", "score", "snippet"]
    assert hits[0]["title"] == "二十余年首次：普京计划访问平壤"
    assert hits[0]["source"] == "dw"
    assert hits[0]["published"] == "2024-01-21T10:34:44+00:00"
    assert "崔善姬" in hits[0]["snippet"]
    assert "\x1b" not in hits[0]["snippet"]


def test_human_output_aligns_and_highlights(seed_archive: Path) -> None:
    result = run("search", "崔善姬", data=seed_archive)
    assert result.exit_code == 0
    first, snippet = result.stdout.splitlines()[:2]
    assert first.startswith("b5b1ad0c0be9  2024-01-21  德国之声")
    assert first.endswith("二十余年首次：普京计划访问平壤")
    assert "崔善姬" in snippet and "\x1b" not in result.stdout  # NO_COLOR: no markup at all
    assert result.stderr.startswith("1 hit (")
    colour = run("search", "崔善姬", data=seed_archive, env={"NO_COLOR": ""})
    assert "\x1b" not in colour.stdout  # not a terminal: still no colour


def test_no_hits_exit_1(seed_archive: Path) -> None:
    result = run("search", "不存在的词语组合", data=seed_archive)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("no hits (")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"普京', 'unbalanced quote: a phrase opened with " is never closed'),
        ("(普京", "unbalanced parenthesis: '(' is never closed"),
        ("普京)", "unbalanced parenthesis: ')' without a matching '('"),
        ("OR", "OR needs a word on both sides"),
        ("普京 OR", "OR needs a word on both sides"),
        ("NOT", "NOT needs a word after it"),
        ("-普京", "the query only excludes: add a word that results must contain"),
        ("title:", "title: needs a value right after it (title:word)"),
        ('""', 'empty phrase ""'),
        ("()", "empty parentheses or a ')' without a matching '('"),
    ],
)
def test_malformed_queries(seed_archive: Path, query: str, message: str) -> None:
    result = run("search", "--", query, data=seed_archive)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"newsarc: bad query: {message}\n"


def test_bad_dates_and_options(seed_archive: Path) -> None:
    bad = run("search", "普京", "--since", "2024-13", data=seed_archive)
    assert bad.exit_code == 2
    assert bad.stderr.startswith("newsarc: bad query: not a date: '2024-13'")
    assert run("search", "普京", "-n", "0", data=seed_archive).exit_code == 2
    assert run("search", "普京", "--sort", "random", data=seed_archive).exit_code == 2


def test_date_filters_use_the_outlets_local_date(tmp_path: Path) -> None:
    # hkcnews stamps articles at midnight Hong Kong time: 2019-05-31T16:00Z is 2019-06-01 locally
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text(
        "<!--1559318400000-->\n[示威者集會](https://www.hkcnews.com/article/1/demo)\n------\n\n"
        '<div><p class="byline">記者</p><p>示威者在金鐘集會。</p></div>\n',
        encoding="utf-8",
    )
    data = tmp_path / "data"
    assert run("ingest", str(src), data=data).exit_code == 0
    (hit,) = jsonl(run("search", "示威者", "--json", data=data).stdout)
    assert hit["published"] == "2019-06-01T00:00:00+08:00"
    assert ids(data, "示威者", "--since", "2019-06-01") == [hit["id"]]
    assert ids(data, "示威者", "--until", "2019-06") == [hit["id"]]
    assert ids(data, "示威者", "--until", "2019-05-31") == []
    assert ids(data, "示威者", "--since", "2019-06-02") == []
