"""Research workflows on real corpus files: `kwic`, `search --facets`, `timeline --split source`,
filtered `export` (CSV too), `show` with several ids and `--query`, piped output never cut."""

from __future__ import annotations

import csv
import io
import os
import re
import sys
from pathlib import Path

import pytest

from conftest import corpus_dir, jsonl, read_pty, run
from newsarc.analysis import fold
from newsarc.ingest import ingest
from newsarc.research import MappedFold, find_matches, match_pattern

#: Four feeds articles for exact concordance lines: 朝鮮 in traditional script (matters),
#: 北韓 (an alias of 朝鲜, traditional script; rti), 北韩 and 朝鲜 opening paragraphs (reuters),
#: 朝鲜 ending a paragraph and a caption (dw).
KWIC_FILES = (
    "03184_59a400b8b42b6d1e.txt",
    "01265_2290d079cad69ff5.txt",
    "00824_1683b5607d75d466.txt",
    "02537_47511909c599f859.txt",
)
#: The first files of the feeds folder, for facets and exports.
SAMPLE_FILES = 150

KWIC_LINES = """\
2290d079cad6  2020-07-21  rti      增強南韓抵禦擁核  北韓  的入侵能力。北韓
2290d079cad6  2020-07-21  rti      北韓的入侵能力。  北韓  曾在1950年入
47511909c599  2020-07-28  dw        ，一名3年前逃离  朝鲜  的脱北者可能以泅
47511909c599  2020-07-28  dw       式越界重新进入了  朝鲜  。当事人身份已获
47511909c599  2020-07-28  dw       确认。此前一天，  朝鲜  媒体报道了一名叛
47511909c599  2020-07-28  dw       毒感染症状，构成  朝鲜  首例疑似感染病例
47511909c599  2020-07-28  dw       例疑似感染病例，  朝鲜  领导层因此对边境
47511909c599  2020-07-28  dw       通报说，疑似重返  朝鲜  的这名脱北者在韩
47511909c599  2020-07-28  dw          hwa）泅水进入  朝鲜  的。此前，他很可
47511909c599  2020-07-28  dw          017年成功逃离  朝鲜  来到韩国。联合通
47511909c599  2020-07-28  dw       前，每年都有大批  朝鲜  人因饥馑和受迫害
47511909c599  2020-07-28  dw         中只有11人重返  朝鲜  。
47511909c599  2020-07-28  dw             山那边就是  朝鲜
1683b5607d75  2020-07-31  reuters  情报部门以及一些  朝鲜  (北韩)和中国企
1683b5607d75  2020-07-31  reuters   门以及一些朝鲜(  北韩  )和中国企业实施
1683b5607d75  2020-07-31  reuters                    朝鲜  企业Chosun
1683b5607d75  2020-07-31  reuters                    朝鲜  否认涉入任何网络
59a400b8b42b  2021-01-04  matters  。只是隨著韓戰（  朝鮮  戰爭）爆發，美國
59a400b8b42b  2021-01-04  matters  共軍攻臺的意圖，  朝鮮  半島上的戰事發展
59a400b8b42b  2021-01-04  matters  人民共和國「干預  朝鮮  」問題提出說明時
"""


@pytest.fixture(scope="module")
def kwic_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    feeds = corpus_dir("feeds")
    data = tmp_path_factory.mktemp("kwic") / "data"
    summary = ingest([feeds / name for name in KWIC_FILES], data, workers=1)
    assert summary.added == len(KWIC_FILES) and not summary.rejected
    return data


@pytest.fixture(scope="module")
def sample_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    feeds = corpus_dir("feeds")
    data = tmp_path_factory.mktemp("research-sample") / "data"
    files = sorted(feeds.iterdir())[:SAMPLE_FILES]
    summary = ingest(files, data)
    assert summary.added == SAMPLE_FILES and not summary.rejected
    return data


def summary_count(stderr: str) -> int:
    """The hit count of search's summary line on stderr."""
    match = re.search(r"(\d+) hits?", stderr)
    assert match, stderr
    return int(match.group(1))


# --------------------------------------------------------------------------- kwic


def test_kwic_lines_are_exact(kwic_archive: Path) -> None:
    result = run("kwic", "朝鲜", "--width", "8", data=kwic_archive)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == KWIC_LINES
    assert re.fullmatch(r"20 occurrences in 4 articles \(4 hits\) \(\d+\.\d\d s\)\n", result.stderr)


def test_kwic_json_and_csv_records(kwic_archive: Path) -> None:
    lines = jsonl(run("kwic", "朝鲜", "--width", "8", "--json", data=kwic_archive).stdout)
    assert len(lines) == 20
    assert list(lines[0]) == ["id", "published", "source", "title", "left", "match", "right", "url"]
    traditional = lines[17]  # 朝鮮 for the simplified query
    assert traditional == {
        "id": "59a400b8b42b",
        "published": lines[17]["published"],
        "source": "matters",
        "title": lines[17]["title"],
        "left": "。只是隨著韓戰（",
        "match": "朝鮮",
        "right": "戰爭）爆發，美國",
        "url": lines[17]["url"],
    }
    assert traditional["published"].startswith("2021-01-04")
    assert "朝鮮問題" in traditional["title"]
    alias = lines[14]  # 北韩 through the alias group of 朝鲜
    assert (alias["left"], alias["match"], alias["right"]) == ("门以及一些朝鲜(", "北韩", ")和中国企业实施")
    start = lines[15]  # a paragraph opening with the word
    assert (start["left"], start["match"], start["right"]) == ("", "朝鲜", "企业Chosun")
    end = lines[12]  # a caption ending with it
    assert (end["left"], end["match"], end["right"]) == ("山那边就是", "朝鲜", "")

    out = run("kwic", "朝鲜", "--width", "8", "--csv", data=kwic_archive).stdout_bytes.decode("utf-8")
    assert out.startswith("id,published,source,title,left,match,right,url\r\n")
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert rows == [{k: str(v) for k, v in line.items()} for line in lines]


def test_kwic_contexts_cross_paragraphs_only_when_asked(kwic_archive: Path) -> None:
    plain = jsonl(run("kwic", "朝鲜", "--width", "8", "--json", "--source", "dw", data=kwic_archive).stdout)
    crossed = jsonl(run("kwic", "朝鲜", "--width", "8", "--json", "--source", "dw", "--cross-paragraphs",
                        data=kwic_archive).stdout)
    assert [(x["left"], x["match"], x["right"]) for x in plain][-2:] == [
        ("中只有11人重返", "朝鲜", "。"),
        ("山那边就是", "朝鲜", ""),
    ]
    assert [(x["left"], x["match"], x["right"]) for x in crossed][-2:] == [
        ("中只有11人重返", "朝鲜", "。 ¶ 凝炼/乐"),
        (" ¶ 山那边就是", "朝鲜", ""),  # 8 characters, the paragraph mark's too
    ]


def test_kwic_filters_sorts_and_aliases(kwic_archive: Path) -> None:
    literal = jsonl(run("kwic", "朝鲜", "--no-aliases", "--json", data=kwic_archive).stdout)
    assert {x["match"] for x in literal} == {"朝鲜", "朝鮮"}  # script folds, aliases do not apply
    by_left = jsonl(run("kwic", "朝鲜", "--width", "8", "--sort", "left", "--json", data=kwic_archive).stdout)
    keys = [fold(x["left"])[::-1] for x in by_left]
    assert keys == sorted(keys) and keys[0] == ""
    by_right = jsonl(run("kwic", "朝鲜", "--width", "8", "--sort", "right", "--json", data=kwic_archive).stdout)
    assert [x["right"] for x in by_right][:2] == ["", "(北韩)和中国企"]
    by_source = jsonl(run("kwic", "朝鲜", "--sort", "source", "--json", data=kwic_archive).stdout)
    assert [x["source"] for x in by_source] == sorted(x["source"] for x in by_source)
    only = run("kwic", "朝鲜", "--width", "8", "--source", "rti", "--since", "2020-07-21", "--until", "2020-07-21",
               data=kwic_archive)
    assert only.stdout == (  # the outlet column is as wide as the widest key shown
        "2290d079cad6  2020-07-21  rti  增強南韓抵禦擁核  北韓  的入侵能力。北韓\n"
        "2290d079cad6  2020-07-21  rti  北韓的入侵能力。  北韓  曾在1950年入\n"
    )
    assert run("kwic", "不存在的词语", data=kwic_archive).exit_code == 1
    bad = run("kwic", "(朝鲜", data=kwic_archive)
    assert bad.exit_code == 2 and bad.stderr.startswith("newsarc: bad query")
    assert run("kwic", "朝鲜", "--csv", "--json", data=kwic_archive).exit_code == 2


def test_kwic_on_a_terminal_aligns_the_keyword_and_fits_the_width(kwic_archive: Path) -> None:
    code, out, _err = run_tty(kwic_archive, "kwic", "朝鲜", columns=72)
    assert code == 0
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in out.replace("\r\n", "\n").splitlines()]
    assert len(lines) == 20
    from newsarc.render import display_width

    starts = {display_width(line.split("  朝", 1)[0]) for line in lines if "  朝" in line}
    assert len(starts) == 1  # the keyword column
    assert max(display_width(line) for line in lines) <= 72
    assert "\x1b[1;31m朝鲜\x1b[0m" in out


def test_folded_offsets_map_back_to_the_original() -> None:
    # NFKC lengthens … and ﬁ, a combining accent merges with its letter, 習 folds to 习
    text = "他說…「習近平」ﬁx café 習近平"
    mapped = MappedFold(text)
    assert mapped.folded == "他说...「习近平」fix café 习近平"
    spans = find_matches(text, match_pattern(["习近平", "fix", "café"]))
    assert [text[a:b] for a, b in spans] == ["習近平", "ﬁx", "café", "習近平"]
    assert match_pattern([]) is None
    # Latin words match whole tokens only
    assert find_matches("Tu-160 tutor TU", match_pattern(["tu"])) == [(0, 2), (13, 15)]


def test_kwic_matches_fold_to_the_query_words_on_the_corpus(sample_archive: Path) -> None:
    lines = jsonl(run("kwic", "香港", "--json", data=sample_archive).stdout)
    assert lines and all(fold(x["match"]) == "香港" for x in lines)
    hits = jsonl(run("search", "香港", "--all", "--json", data=sample_archive).stdout)
    assert {x["id"] for x in lines} <= {h["id"] for h in hits}


# --------------------------------------------------------------------------- facets, timeline


@pytest.mark.parametrize("query", ["香港", "美国 OR 中国", "疫情 -美国", "中国 --since 2020-01-01 --source voa --source bbc"])
def test_facets_sum_to_the_search_total(sample_archive: Path, query: str) -> None:
    """Facets (counted from the index) are exactly the counts of every hit's outlet and year."""
    result = run("search", *query.split(" "), "--facets", "--json", data=sample_archive)
    assert result.exit_code == 0, result.stderr
    records = jsonl(result.stdout)
    facets = records[-1]["facets"]
    total = summary_count(result.stderr)
    assert facets["total"] == total
    assert sum(facets["source"].values()) == total
    assert sum(facets["year"].values()) == total
    every = jsonl(run("search", *query.split(" "), "--all", "--json", data=sample_archive).stdout)
    assert len(every) == total
    by_source: dict[str, int] = {}
    for hit in every:
        by_source[hit["source"]] = by_source.get(hit["source"], 0) + 1
    assert facets["source"] == dict(sorted(by_source.items(), key=lambda x: (-x[1], x[0])))
    by_year: dict[str, int] = {}
    for hit in every:
        year = hit["published"][:4] if hit["published"] else "undated"
        by_year[year] = by_year.get(year, 0) + 1
    assert facets["year"] == dict(sorted(by_year.items()))
    assert len(records) == min(total, 10) + 1  # a page of hits, then the facets


def test_facets_on_the_terminal_format(sample_archive: Path) -> None:
    result = run("search", "香港", "--facets", "-n", "1", data=sample_archive)
    facets = jsonl(run("search", "香港", "--facets", "--json", data=sample_archive).stdout)[-1]["facets"]
    tail = result.stdout.split("\n\n", 1)[1]
    lines = tail.splitlines()
    assert lines[0].split() == ["Key", "Outlet", "Hits"]
    first_key, first_count = next(iter(facets["source"].items()))
    assert lines[1].split()[0] == first_key and lines[1].split()[-1] == str(first_count)
    assert "Year  Hits" in tail


def test_timeline_split_by_source(sample_archive: Path) -> None:
    rows = jsonl(run("timeline", "香港", "--split", "source", "--json", data=sample_archive).stdout)
    plain = jsonl(run("timeline", "香港", "--json", data=sample_archive).stdout)
    facets = jsonl(run("search", "香港", "--facets", "--json", data=sample_archive).stdout)[-1]["facets"]
    assert set(rows[0]) == {"period", "source", "count"}
    per_period: dict[str, int] = {}
    per_source: dict[str, int] = {}
    for row in rows:
        per_period[row["period"]] = per_period.get(row["period"], 0) + row["count"]
        per_source[row["source"]] = per_source.get(row["source"], 0) + row["count"]
    assert per_period == {x["period"]: x["count"] for x in plain}
    assert per_source == facets["source"]
    table = run("timeline", "香港", "--split", "source", data=sample_archive).stdout.splitlines()
    assert table[0].split() == ["Period", *facets["source"], "total"]
    assert [line.split()[0] for line in table[1:]] == [x["period"] for x in plain]
    assert [int(line.split()[-1]) for line in table[1:]] == [x["count"] for x in plain]


# --------------------------------------------------------------------------- export


def test_filtered_export_is_exactly_the_hits(sample_archive: Path) -> None:
    query = ("香港", "--source", "rfi", "--since", "2020-07")
    hits = jsonl(run("search", *query, "--all", "--json", "--sort", "oldest", data=sample_archive).stdout)
    assert hits
    exported = jsonl(run("export", *query, data=sample_archive).stdout)
    assert [x["id"] for x in exported] == [h["id"] for h in hits]
    shown = jsonl(run("show", hits[0]["id"], "--json", data=sample_archive).stdout)[0]
    assert exported[0] == shown
    opensearch = jsonl(run("export", *query, "--format", "opensearch", data=sample_archive).stdout)
    assert [x["index"]["_id"] for x in opensearch[::2]] == [h["id"] for h in hits]


def test_csv_export_round_trips_with_chinese_text(sample_archive: Path) -> None:
    result = run("export", "香港", "--format", "csv", data=sample_archive)
    assert result.exit_code == 0, result.stderr
    out = result.stdout_bytes.decode("utf-8")  # click's .stdout turns CRLF into LF
    assert out.startswith("id,published,source,source_name,title,authors,url,text\r\n")
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    records = jsonl(run("export", "香港", data=sample_archive).stdout)
    assert [r["id"] for r in rows] == [r["id"] for r in records]
    for row, record in zip(rows, records, strict=True):
        assert row["text"] == record["text"]
        assert row["title"] == record["title"]
        assert row["source_name"] == record["source_name"]
        assert row["authors"] == "; ".join(record["authors"])
    assert any("香港" in row["text"] for row in rows)

    bom = run("export", "香港", "--format", "csv", "--bom", "--fields", "id,title", data=sample_archive)
    raw = bom.stdout_bytes
    assert raw.startswith("\ufeffid,title\r\n".encode())
    assert [r["title"] for r in csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline=""))] == [
        r["title"] for r in records
    ]


def test_export_fields_filters_and_usage_errors(sample_archive: Path) -> None:
    picked = jsonl(run("export", "--source", "bbc", "--fields", "id,source,title", data=sample_archive).stdout)
    everything = jsonl(run("export", data=sample_archive).stdout)
    assert picked == [{"id": r["id"], "source": r["source"], "title": r["title"]}
                      for r in everything if r["source"] == "bbc"]
    assert len(everything) == SAMPLE_FILES
    dated = jsonl(run("export", "--since", "2020-07-02", "--until", "2020-07-03", data=sample_archive).stdout)
    assert dated and [r["id"] for r in dated] == [
        r["id"] for r in everything if "2020-07-02" <= r["published"][:10] <= "2020-07-03"
    ]
    bad = run("export", "--fields", "id,nosuch", data=sample_archive)
    assert bad.exit_code == 2 and "nosuch" in bad.stderr
    assert run("export", "--bom", data=sample_archive).exit_code == 2
    assert run("export", "--format", "opensearch", "--fields", "id", data=sample_archive).exit_code == 2
    none = run("export", "不存在的词语", data=sample_archive)
    assert none.exit_code == 1 and none.stdout == ""


# --------------------------------------------------------------------------- show, piped output


def test_show_several_ids_and_query_marks(kwic_archive: Path) -> None:
    both = run("show", "59a4", "4751", data=kwic_archive)
    assert both.exit_code == 0
    titles = [x["title"] for x in jsonl(run("show", "59a4", "4751", "--json", data=kwic_archive).stdout)]
    assert len(titles) == 2 and all(title in both.stdout for title in titles)
    assert both.stdout.index(titles[0]) < both.stdout.index(titles[1])

    marked = run("show", "59a4", "4751", "--query", "朝鲜", "--json", data=kwic_archive)
    assert marked.stderr.splitlines() == ["4 matches of 朝鲜 in 59a400b8b42b", "11 matches of 朝鲜 in 47511909c599"]
    for record in jsonl(marked.stdout):
        found = [record["title"][a:b] for a, b in record["highlights"]["title"]]
        lines = record["text"].split("\n")
        for number, spans in enumerate(record["highlights"]["text"]):
            found += [lines[number][a:b] for a, b in spans]
        for number, spans in enumerate(record["highlights"]["captions"]):
            found += [record["captions"][number][a:b] for a, b in spans]
        assert found and {fold(x) for x in found} == {"朝鲜"}
    assert run("show", "59a4", "--query", "朝鲜", "--html", data=kwic_archive).exit_code == 2


def test_show_query_opens_less_at_the_first_match(kwic_archive: Path, tmp_path: Path) -> None:
    fake = tmp_path / "less"
    argv_file = tmp_path / "argv"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {argv_file}\ncat\n')
    fake.chmod(0o755)
    code, out, _err = run_tty(kwic_archive, "show", "4751", "--query", "朝鲜",
                              env={"NEWSARC_PAGER": str(fake)})
    assert code == 0
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out.replace("\r\n", "\n")).splitlines()
    first = next(n for n, line in enumerate(plain, 1) if "朝鲜" in line and n > 1)
    assert argv_file.read_text().splitlines() == ["-j3", f"+{first}g"]
    assert "\x1b[1;31m朝鲜\x1b[0m" in out


def test_piped_output_is_never_cut(sample_archive: Path) -> None:
    hits = jsonl(run("search", "香港", "--all", "--json", data=sample_archive).stdout)
    long = next(h for h in hits if len(h["title"]) > 40)  # wider than 80 cells with the columns
    out = run("search", "香港", "--all", data=sample_archive, env={"COLUMNS": "80"}).stdout
    assert long["title"] in out
    article = jsonl(run("show", long["id"], "--json", data=sample_archive).stdout)[0]
    shown = run("show", long["id"], data=sample_archive, env={"COLUMNS": "80"}).stdout
    for paragraph in article["text"].split("\n"):
        if paragraph.strip():
            assert paragraph.strip() in shown.splitlines()


def run_tty(data: Path, *args: str, columns: int = 100, env: dict | None = None) -> tuple[int, str, str]:
    """Run newsarc with stdout on a pseudo-terminal; returns (exit code, stdout, stderr)."""
    cmd = [sys.executable, "-m", "newsarc", "--data", str(data), *args]
    environment = {**os.environ, "COLUMNS": str(columns), "TERM": "xterm", **(env or {})}
    environment.pop("NO_COLOR", None)
    return read_pty(cmd, environment)

