"""Tests of newsarc.render: exact output into StringIO, no terminal needed."""

from __future__ import annotations

import io
import json
import re
import time
from datetime import timedelta, timezone

import pytest

from newsarc.records import Article, Hit
from newsarc.render import (
    Style,
    display_width,
    pad,
    page,
    render_article,
    render_article_json,
    render_candidates,
    render_hits,
    render_hits_json,
    render_ingest_summary,
    render_keywords,
    render_records_jsonl,
    render_search_summary,
    render_stats,
    render_stats_json,
    render_timeline,
    sanitize,
    sanitize_line,
    style_for,
    truncate,
    wrap,
)

PLAIN = Style(color=False, width=80)
COLOR = Style(color=True, width=80)


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def make_hit(**changes: object) -> Hit:
    fields: dict[str, object] = {
        "id": "a1b2c3d4e5f60718",
        "title": "普京访问朝鲜",
        "source": "voa",
        "source_name": "美国之音",
        "published": "2023-09-17T23:33:00+08:00",
        "url": "https://www.voachinese.com/a/1.html",
        "score": 1.0,
        "snippet": "俄罗斯总统普京周三抵达平壤。",
    }
    fields.update(changes)
    return Hit(**fields)  # type: ignore[arg-type]


def render(hits: list[Hit], style: Style = PLAIN) -> str:
    out = io.StringIO()
    render_hits(hits, out, style)
    return out.getvalue()


# --------------------------------------------------------------------------- style


@pytest.mark.parametrize(
    ("env", "tty", "expected"),
    [
        ({"TERM": "xterm-256color"}, True, True),
        ({"TERM": "xterm-256color", "NO_COLOR": "1"}, True, False),
        ({"TERM": "xterm-256color", "NO_COLOR": ""}, True, True),
        ({"TERM": "dumb"}, True, False),
        ({"TERM": "xterm-256color"}, False, False),
    ],
)
def test_style_for_colour(monkeypatch, env, tty, expected):
    monkeypatch.delenv("NO_COLOR", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    stream = FakeTTY() if tty else io.StringIO()
    assert style_for(stream).color is expected


def test_style_for_force_colour_overrides(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert style_for(io.StringIO(), force_color=True).color is True
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "xterm")
    assert style_for(FakeTTY(), force_color=False).color is False


@pytest.mark.parametrize(("columns", "width"), [("100", 100), ("20", 20), ("4", 10), ("500", 200)])
def test_style_for_width_is_clamped(monkeypatch, columns, width):
    monkeypatch.setenv("COLUMNS", columns)
    assert style_for(io.StringIO()).width == width


# ------------------------------------------------------------------------ sanitize


def test_sanitize_escapes_controls_keeps_newline_and_tab():
    raw = "a\x1b[31mb\x9b2Jc\u202ed\x00e\rf\x7fg\x85h\u2066i\u200fj\u061ck\n\tl"
    assert sanitize(raw) == (
        "a\\x1b[31mb\\x9b2Jc\\u202ed\\x00e\\rf\\x7fg\\x85h\\u2066i\\u200fj\\u061ck\n\tl"
    )


def test_sanitize_line_escapes_line_breaks_and_tabs():
    assert sanitize_line("标题\r\n第二行\t!") == "标题\\r\\n第二行\\t!"


def test_sanitize_leaves_clean_text_alone_and_escapes_lone_surrogates():
    text = "俄罗斯新闻社（RIA Novosti）报道「你好」👍🏽"
    assert sanitize(text) is text
    assert sanitize("x\ud800y") == "x\\ud800y"


def test_sanitize_is_fast_on_large_text():
    text = ("新闻报道\x1b[0m 正文 text\u202e，" * 5000)[:100_000]
    start = time.perf_counter()
    clean = sanitize(text)
    assert time.perf_counter() - start < 0.5
    assert "\x1b" not in clean and "\u202e" not in clean


def test_hit_title_is_sanitized():
    hit = make_hit(title="标题\r伪造\x1b[2J\x9b\u202eevil\x00", snippet="")
    line = render([hit]).splitlines()[0]
    assert line.endswith("标题\\r伪造\\x1b[2J\\x9b\\u202eevil\\x00")
    for char in "\r\x1b\x9b\u202e\x00":
        assert char not in render([hit], COLOR).replace("\x1b[", "")


# -------------------------------------------------------------------------- widths


def test_display_width():
    assert display_width("abc") == 3
    assert display_width("中文a") == 5
    assert display_width("（，。）") == 8
    assert display_width("e\u0301") == 1
    assert display_width("\x1b") == 4  # shown as \x1b
    assert display_width("a\u202eb") == display_width(sanitize_line("a\u202eb")) == 8


def test_truncate_never_splits_a_wide_character():
    text = "中文字符串测试abc"
    assert truncate(text, 100) == text
    assert truncate(text, 8) == "中文字…"
    assert truncate(text, 7) == "中文字…"
    assert truncate(text, 1) == "…"
    assert truncate(text, 0) == ""
    for cells in range(1, 18):
        cut = truncate(text, cells)
        assert display_width(cut) <= cells
        assert text.startswith(cut.removesuffix("…"))


def test_truncate_keeps_combining_sequences_and_emoji_whole():
    assert truncate("e\u0301e\u0301e\u0301", 2) == "e\u0301…"
    assert truncate("👨\u200d👩\u200d👧家庭", 4) == "👨\u200d👩\u200d👧…"


def test_pad():
    assert pad("中文", 6) == "中文  "
    assert pad("中文", 6, right=True) == "  中文"
    assert pad("中文字", 4) == "中文字"  # never truncates


# ---------------------------------------------------------------------------- wrap

NEWS = "俄罗斯新闻社（RIA Novosti）报道，Tu-160 轰炸机在北极上空进行了例行飞行。“这是一次计划内的训练，”他说。"


def test_wrap_cjk_and_latin_with_kinsoku():
    assert wrap(NEWS, 20) == [
        "俄罗斯新闻社（RIA",
        "Novosti）报道，",
        "Tu-160 轰炸机在北极",
        "上空进行了例行飞行。",
        "“这是一次计划内的训",
        "练，”他说。",
    ]
    assert wrap(NEWS, 12) == [
        "俄罗斯新闻社",
        "（RIA",
        "Novosti）报",
        "道，Tu-160",
        "轰炸机在北极",
        "上空进行了例",
        "行飞行。“这",
        "是一次计划内",
        "的训练，”他",
        "说。",
    ]


@pytest.mark.parametrize("cells", range(9, 41))  # widest unbreakable piece: 9
def test_wrap_invariants(cells):
    lines = wrap(NEWS, cells)
    assert all(display_width(line) <= cells for line in lines)
    assert "".join(lines).replace(" ", "") == NEWS.replace(" ", "")
    for line in lines:
        assert line[0] not in "，。、；：？！」』）》”…"
        assert line[-1] not in "（「『《“"
    words = " ".join(lines)
    assert "Novosti" in words and "Tu-160" in words  # Latin words never split


def test_wrap_cuts_overlong_words_and_honours_newlines():
    assert wrap("see https://example.com/a/long/path", 12) == [
        "see",
        "https://exam",
        "ple.com/a/lo",
        "ng/path",
    ]
    assert wrap("第一行\n\n第二行", 40) == ["第一行", "", "第二行"]
    assert wrap("", 10) == []
    assert wrap("a\tb", 10) == ["a b"]


# ---------------------------------------------------------------------------- hits


def test_hits_plain_exact_and_titles_aligned():
    hits = [
        make_hit(title_highlights=[(0, 2)], highlights=[(5, 7)], aliases=["普丁"]),
        make_hit(
            id="ffffeeeeddddcccc",
            title="Putin visits North Korea",
            source="bbc",
            source_name="BBC News",
            published="2023-09-18T08:00:00+01:00",
            snippet="Putin\narrived in\tPyongyang",
            highlights=[(0, 5)],
        ),
    ]
    output = render(hits)
    assert output == (
        "a1b2c3d4e5f6  2023-09-17  美国之音        普京访问朝鲜 (via alias: 普丁)\n"
        "    俄罗斯总统普京周三抵达平壤。\n"
        "\n"
        "ffffeeeedddd  2023-09-18  BBC News        Putin visits North Korea\n"
        "    Putin arrived in Pyongyang\n"
    )
    first, second = output.splitlines()[0], output.splitlines()[3]
    column_1 = display_width(first[: first.index("普京访问")])
    column_2 = display_width(second[: second.index("Putin")])
    assert column_1 == column_2 == 42


def test_hits_long_outlet_is_truncated_to_keep_alignment():
    line = render([make_hit(source_name="自由亚洲电台粤语新闻部")]).splitlines()[0]
    assert line.startswith("a1b2c3d4e5f6  2023-09-17  自由亚洲电台…   普京访问朝鲜")
    assert display_width(line[: line.index("普京")]) == 42


def test_hits_colour_highlights_exact():
    hit = make_hit(title_highlights=[(0, 2)], highlights=[(5, 7), (11, 13)], aliases=["普丁"])
    assert render([hit], COLOR) == (
        "\x1b[33ma1b2c3d4e5f6\x1b[0m  \x1b[2m2023-09-17\x1b[0m  美国之音        "
        "\x1b[1m普京\x1b[0m访问朝鲜\x1b[2m (via alias: 普丁)\x1b[0m\n"
        "    俄罗斯总统\x1b[1;31m普京\x1b[0m周三抵达\x1b[1;31m平壤\x1b[0m。\n"
    )


def test_hits_highlights_survive_sanitizing():
    hit = make_hit(
        title="\x1b标题",
        title_highlights=[(1, 3)],
        snippet="\x9b普京\u202e访朝",
        highlights=[(1, 3)],
    )
    lines = render([hit], COLOR).splitlines()
    assert lines[0].endswith("\\x1b\x1b[1m标题\x1b[0m")
    assert lines[1] == "    \\x9b\x1b[1;31m普京\x1b[0m\\u202e访朝"
    assert render([hit]).splitlines()[1] == "    \\x9b普京\\u202e访朝"


def test_hits_ignore_bad_spans():
    hit = make_hit(highlights=[(5, 99), (-3, 1), (4, 2)], title_highlights=[(9, 20)])
    assert render([hit], COLOR).splitlines()[1] == (
        "    \x1b[1;31m俄\x1b[0m罗斯总统\x1b[1;31m普京周三抵达平壤。\x1b[0m"
    )


def test_hits_snippet_is_two_lines_at_most_and_fits():
    style = Style(color=True, width=40)
    snippet = "普京周三抵达平壤，开始对朝鲜进行为期两天的国事访问。" * 4
    hit = make_hit(title="很长的标题" * 10, snippet=snippet, highlights=[(0, 2), (30, 36)])
    out = io.StringIO()
    render_hits([hit], out, style)
    lines = out.getvalue().splitlines()
    assert len(lines) == 4  # narrower than 54 cells: the title has a line of its own
    plain = [re.sub("\x1b\\[[0-9;]*m", "", line) for line in lines]
    assert plain == [
        "a1b2c3d4e5f6  2023-09-17  美国之音",
        "很长的标题很长的标题很长的标题很长的标…",
        "    普京周三抵达平壤，开始对朝鲜进行为期",
        "    两天的国事访问。普京周三抵达平壤，…",
    ]
    assert lines[0] == "\x1b[33ma1b2c3d4e5f6\x1b[0m  \x1b[2m2023-09-17\x1b[0m  美国之音"
    assert lines[2].startswith("    \x1b[1;31m普京\x1b[0m")
    assert lines[3].endswith("\x1b[1;31m抵达平壤，\x1b[0m…")  # span cut with the line
    assert all(display_width(line) <= 40 for line in plain)


@pytest.mark.parametrize("width", [10, 20, 40, 51, 53, 54, 80, 120])
def test_every_hit_line_fits_the_width(width):
    hits = [
        make_hit(),
        make_hit(title="很长的标题" * 10, aliases=["普京", "普丁"], title_highlights=[(0, 2)],
                 source_name="自由亚洲电台粤语新闻部"),
        make_hit(title="Tu-160 bombers: a very long Latin title " * 3, snippet="x" * 300),
    ]
    for style in (Style(color=False, width=width), Style(color=True, width=width)):
        out = io.StringIO()
        render_hits(hits, out, style)
        for line in out.getvalue().splitlines():
            plain = re.sub("\x1b\\[[0-9;]*m", "", line)
            assert display_width(plain) <= width, (width, plain)
            assert "\x1b[" not in plain



def test_hits_plain_has_no_markers():
    hit = make_hit(title_highlights=[(0, 2)], highlights=[(0, 3)])
    output = render([hit])
    assert "\x1b" not in output and "[" not in output and "*" not in output
    assert "    俄罗斯总统普京周三抵达平壤。\n" in output


def test_render_hits_returns_count_and_empty_writes_nothing():
    out = io.StringIO()
    assert render_hits(iter([]), out, PLAIN) == 0
    assert out.getvalue() == ""
    assert render_hits([make_hit(), make_hit()], out, PLAIN) == 2


@pytest.mark.parametrize(
    ("total", "shown", "line"),
    [
        (23, (1, 23), "23 hits (0.04 s)\n"),
        (1, (1, 1), "1 hit (0.04 s)\n"),
        (0, (1, 0), "no hits (0.04 s)\n"),
        (23, (11, 20), "23 hits, showing 11–20 (0.04 s)\n"),
        (23, (31, 30), "23 hits, none shown from 31 (0.04 s)\n"),
    ],
)
def test_search_summary(total, shown, line):
    err = io.StringIO()
    render_search_summary(total, 0.041, shown[0], shown[1], err, PLAIN)
    assert err.getvalue() == line


# ---------------------------------------------------------------------------- JSON


def test_hits_json_is_valid_with_controls_and_lone_surrogates():
    hit = make_hit(title="坏\x1b[31m标题\x00\x9b\u202e\ud800end", snippet="x\udcffy")
    out = io.StringIO()
    assert render_hits_json([hit, make_hit()], out) == 2
    text = out.getvalue()
    text.encode("utf-8")  # must not raise
    for char in "\x1b\x00\x9b\u202e":
        assert char not in text
    lines = text.splitlines()
    assert len(lines) == 2
    record = json.loads(lines[0])
    assert record["title"] == "坏\x1b[31m标题\x00\x9b\u202e\ufffdend"
    assert record["snippet"] == "x\ufffdy"
    assert json.loads(lines[1]) == make_hit().to_dict()
    assert "普京访问朝鲜" in lines[1]  # ensure_ascii=False


def test_article_and_stats_json_are_one_line():
    out = io.StringIO()
    render_article_json(ARTICLE, out)
    assert out.getvalue().count("\n") == 1
    assert json.loads(out.getvalue()) == ARTICLE.to_dict()
    out = io.StringIO()
    render_stats_json(STATS, out)
    assert out.getvalue().count("\n") == 1
    assert json.loads(out.getvalue())["source_names"]["voa"] == "美国之音"


def test_records_jsonl():
    out = io.StringIO()
    records = [ARTICLE.to_dict(), {"id": "x", "title": "\u2066\ud800"}]
    assert render_records_jsonl(iter(records), out) == 2
    lines = out.getvalue().splitlines()
    assert [json.loads(line) for line in lines] == [
        ARTICLE.to_dict(),
        {"id": "x", "title": "\u2066\ufffd"},
    ]
    assert lines[1] == '{"id": "x", "title": "\\u2066\ufffd"}'


# ------------------------------------------------------------------------- article

ARTICLE = Article(
    id="a1b2c3d4e5f60718a1b2c3d4e5f60718",
    url="https://www.voachinese.com/a/x.html",
    title="普京訪問朝鮮\x1b[2J",
    source="voa",
    source_name="美國之音",
    published="2023-09-17T23:33:00+08:00",
    archived="2023-09-18T01:02:03+00:00",
    archived_ms=1695000123000,
    path="voa/x.html",
    authors=["張三", "李四"],
    text=(
        "俄羅斯總統普京週三抵達平壤，開始對朝鮮進行為期兩天的國事訪問。\n"
        "\n"
        "这是普京二十四年来首次访问朝鲜，Tu-160 轰炸机随行。\n"
        "\u202e反转\x1b[0m"
    ),
    captions=["普京與金正恩握手（美聯社照片）。", ""],
)


def test_render_article_exact():
    out = io.StringIO()
    render_article(ARTICLE, out, Style(color=False, width=40))
    assert out.getvalue() == (
        "普京訪問朝鮮\\x1b[2J\n"
        "\n"
        "Outlet     美國之音 (voa)\n"
        "Published  2023-09-17 23:33 (UTC+08:00)\n"  # values wrapped beside their label
        "           · 2023-09-17 15:33 UTC\n"
        "Archived   2023-09-18 01:02 UTC\n"
        "URL        https://www.voachinese.com/a/\n"
        "           x.html\n"
        "Authors    張三、李四\n"
        "ID         a1b2c3d4e5f60718a1b2c3d4e5f60\n"
        "           718\n"
        "\n"
        "俄羅斯總統普京週三抵達平壤，開始對朝鮮進\n"
        "行為期兩天的國事訪問。\n"
        "\n"
        "这是普京二十四年来首次访问朝鲜，Tu-160\n"
        "轰炸机随行。\n"
        "\n"
        "\\u202e反转\\x1b[0m\n"
        "\n"
        "Captions\n"
        "· 普京與金正恩握手（美聯社照片）。\n"
    )


def test_render_article_colour_local_tz_and_width_cap():
    article = Article(
        id="ab",
        url="u",
        title="标题",
        source="bbc",
        source_name="",
        published="2023-09-17T15:33:00Z",
        archived="2023-09-18T01:02:03+00:00",
        archived_ms=0,
        path="p",
        text="字" * 120,
        captions=["说明" * 60],
    )
    out = io.StringIO()
    render_article(
        article, out, Style(color=True, width=200), local_tz=timezone(timedelta(hours=-5))
    )
    lines = out.getvalue().splitlines()
    assert lines[0] == "\x1b[1m标题\x1b[0m"
    assert lines[2] == "\x1b[2mOutlet     \x1b[0mbbc"
    assert lines[3] == (
        "\x1b[2mPublished  \x1b[0m2023-09-17 10:33 (UTC-05:00) · 2023-09-17 15:33 UTC"
    )
    assert lines[5] == "\x1b[2mURL        \x1b[0mu"
    assert lines[6] == "\x1b[2mID         \x1b[0mab"  # no Authors line without authors
    assert lines[8:10] == ["字" * 50, "字" * 50]  # 100 cells at most
    assert lines[12] == "\x1b[1mCaptions\x1b[0m"
    assert lines[13] == "· " + "说明" * 24 + "说"
    assert lines[14].startswith("  明说明")


# --------------------------------------------------------------------------- stats

STATS = {
    "articles": 12345,
    "sources": {"rfa": 345, "voa": 10000, "bbc": 2000},
    "source_names": {"voa": "美国之音", "bbc": "BBC News 中文", "rfa": "自由亚洲电台"},
    "first_published": "2019-01-02T00:00:00+08:00",
    "last_published": "2024-05-06T12:00:00+08:00",
    "size_bytes": 432_345_678,
    "years": {2024: 12340, 2023: 5},
    "authors": [["张三", 12], ["Li Si", 3]],
}


def test_render_stats_exact_and_aligned():
    out = io.StringIO()
    render_stats(STATS, out, PLAIN)
    text = out.getvalue()
    assert text == (
        "Articles   12,345\n"
        "Outlets    3\n"
        "Published  2019-01-02 – 2024-05-06\n"
        "Size       412.3 MiB\n"
        "\n"
        "Key  Outlet         Articles\n"
        "voa  美国之音         10,000\n"
        "bbc  BBC News 中文     2,000\n"
        "rfa  自由亚洲电台        345\n"
        "\n"
        "Year  Articles\n"
        "2023         5\n"
        "2024    12,340\n"
        "\n"
        "Author  Articles\n"
        "张三          12\n"
        "Li Si          3\n"
    )
    table = text.splitlines()[5:9]
    assert len({display_width(line) for line in table}) == 1  # right edges line up
    assert len({display_width(line[: line.index(" ", 3) + 2]) for line in table}) == 1


def test_render_stats_minimal():
    out = io.StringIO()
    render_stats(
        {
            "articles": 0,
            "sources": {},
            "source_names": {},
            "first_published": None,
            "last_published": None,
            "size_bytes": 512,
        },
        out,
        PLAIN,
    )
    assert out.getvalue() == "Articles  0\nOutlets   0\nSize      512 B\n"


# -------------------------------------------------------------------- small bits


def test_ingest_summary():
    err = io.StringIO()
    summary = {"files": 3623, "added": 3600, "updated": 12, "unchanged": 5, "older": 0,
               "rejected": 6, "seconds": 8.787}  # fmt: skip
    render_ingest_summary(summary, err)
    assert err.getvalue() == (
        "ingested 3623 files: 3600 added, 12 updated, 5 unchanged, 6 rejected"
        " (411.1 articles/s, 8.8 s)\n"
    )
    err = io.StringIO()  # 5 articles among 20,000 rejected files: no rate
    render_ingest_summary({"files": 20005, "added": 5, "rejected": 20000, "seconds": 1.846}, err)
    assert err.getvalue() == "ingested 20005 files: 5 added, 0 updated, 0 unchanged, 20000 rejected (1.8 s)\n"
    err = io.StringIO()
    render_ingest_summary({"files": 1, "added": 0, "older": 1, "seconds": 0}, err)
    assert err.getvalue() == (
        "ingested 1 file: 0 added, 0 updated, 0 unchanged, 1 older, 0 rejected (0.0 s)\n"
    )


def test_candidates():
    out = io.StringIO()
    rows = [
        ("a1b2c3d4e5f6", "2023-09-17", "普京访问朝鲜"),
        ("a1b2c3d4e5f7", "2023-09-18", "标\x1b题" * 20),
    ]
    render_candidates(rows, out, Style(color=False, width=40))
    assert out.getvalue() == (
        "a1b2c3d4e5f6  2023-09-17  普京访问朝鲜\na1b2c3d4e5f7  2023-09-18  标\\x1b题标\\x1…\n"
    )


def test_timeline_and_keywords():
    out = io.StringIO()
    render_timeline([("2023-01", 5), ("2023-02", 10), ("2023-03", 0)], out, Style(width=40))
    assert out.getvalue() == (
        "2023-01   5  " + "█" * 14 + "\n2023-02  10  " + "█" * 27 + "\n2023-03   0\n"
    )
    out = io.StringIO()
    render_keywords([("普京", 0.5), ("North Korea", 0.12345), ("朝鲜", 12.0)], out, PLAIN)
    assert out.getvalue() == ("普京          0.500\nNorth Korea   0.123\n朝鲜         12.000\n")


# --------------------------------------------------------------------------- pager


class TTYFile(io.TextIOWrapper):
    def isatty(self) -> bool:
        return True


def test_page_writes_directly_when_not_a_tty(monkeypatch):
    monkeypatch.setenv("NEWSARC_PAGER", "definitely-not-a-pager-xyz")
    out = io.StringIO()
    page("text\n", out)
    assert out.getvalue() == "text\n"


@pytest.mark.parametrize("pager", ["", "definitely-not-a-pager-xyz", "'unbalanced"])
def test_page_falls_back_when_disabled_or_missing(monkeypatch, pager):
    monkeypatch.setenv("NEWSARC_PAGER", pager)
    out = FakeTTY()
    page("text\n", out)
    assert out.getvalue() == "text\n"


def test_page_runs_pager_and_survives_broken_pipe(monkeypatch, tmp_path):
    target = tmp_path / "paged.txt"
    with TTYFile(open(target, "wb"), encoding="utf-8") as out:  # noqa: SIM115
        monkeypatch.setenv("NEWSARC_PAGER", "cat")
        page("新闻\n", out)
        monkeypatch.delenv("NEWSARC_PAGER")
        monkeypatch.setenv("PAGER", "true")  # exits without reading: broken pipe
        page("x" * 1_000_000, out)
    assert target.read_text(encoding="utf-8") == "新闻\n"


def test_simple_width_agrees_with_wcwidth_or_defers_to_it() -> None:
    import wcwidth

    from newsarc.render import _simple_width

    agree = ["普京与金正恩会晤", "Tu-160 與 RIA Novosti", "（德国之声中文网）“俄罗斯崇拜之神”。", "ｆｕｌｌ－ｗｉｄｔｈ ＡＢＣ", "·—…€"]
    for text in agree:
        assert _simple_width(text) == wcwidth.wcswidth(text), text
    for text in ["e\u0301", "👍🏽", "\u1100\u1161", "a\u200bb", "\u00ad", "x\x1by"]:
        assert _simple_width(text) is None, text  # left to wcwidth


def test_simple_width_on_corpus_text() -> None:
    import wcwidth

    from conftest import corpus_dir
    from newsarc.render import _simple_width

    files = sorted(corpus_dir("feeds").iterdir())[::40] + sorted(corpus_dir("hkcnews").iterdir())[::120]
    checked = 0
    for path in files:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            for i in range(0, len(line), 40):
                piece = line[i : i + 40]
                width = _simple_width(piece)
                if width is not None:
                    assert width == wcwidth.wcswidth(piece), piece
                    checked += 1
    assert checked > 1000
