"""Tests of newsarc.parse and newsarc.sources: seeds, per-outlet fixtures, encodings, broken files, corpus."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsarc.errors import RejectedFile
from newsarc.parse import parse_bytes, parse_file
from newsarc.sources import registered_domain, source_of

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CORPUS = Path(__file__).parents[1] / ".." / "shared" / "corpus"

BOILERPLATE = re.compile(
    r"你的器材不支持播放多媒体材料|下载BBC中文|版权所有|版权声明|All rights reserved|图像来源|图片来源|"
    r"获取更多RSS|feedx\.net|我們的標準|我们的标准|請加入成為眾新聞的月費訂戶|点击此处订阅|^©",
    re.M,
)


def seed(name: str) -> Path:
    return next(SEEDS.glob(f"{name}_*.txt"))


# --------------------------------------------------------------------------- seeds


SEED_EXPECT = {
    "000": ("voa", "美国之音", "2023-09-17T15:33:48+00:00", []),
    "001": ("bbc", "BBC中文", "2023-09-14T00:00:00+00:00", ["黄晓恩"]),
    "002": ("voa", "美国之音", "2024-06-17T16:53:29+00:00", []),
    "003": ("rfi", "法广", "2023-09-14T13:00:00+02:00", ["林兰"]),
    "004": ("dw", "德国之声", "2024-01-21T10:34:44+00:00", []),
}


@pytest.mark.parametrize("name", sorted(SEED_EXPECT))
def test_seed_fields(name: str) -> None:
    path = seed(name)
    art = parse_file(path)
    source, source_name, published, authors = SEED_EXPECT[name]
    assert art.source == source
    assert art.source_name == source_name
    assert art.published == published
    assert art.authors == authors
    assert art.path == str(path)
    first = path.read_text(encoding="utf-8").split("\n")
    assert art.archived_ms == int(first[0][4:-3])
    assert art.archived == datetime.fromtimestamp(art.archived_ms / 1000, UTC).isoformat(timespec="seconds")
    assert art.id == hashlib.sha1(art.url.encode()).hexdigest()[:12]
    assert first[1] == f"[{art.title}]({art.url})"
    assert art.text and "\n\n" not in art.text
    assert not BOILERPLATE.search(art.text), BOILERPLATE.search(art.text)
    assert art.html.startswith("<")
    assert art.tags == []


def test_seed_captions_and_images() -> None:
    voa = parse_file(seed("000"))
    assert voa.captions == ["资料照 -2019年4月26日， 朝鲜安保人员正在海参崴火车站主门口守候金正恩返回朝鲜。"]
    assert voa.images == ["https://gdb.voanews.com/01000000-0aff-0242-b01d-08dbb630f48f_r1_s_w900.jpg"]
    assert voa.text.startswith("朝鲜领导人金正恩星期天（9月17日）从俄罗斯启程回国")
    assert "Sun, 17 Sep 2023" not in voa.text

    bbc = parse_file(seed("001"))
    assert bbc.captions == [
        "金正恩会晤普京时称“将优先考虑朝俄关係”。",
        "周三下午，两国领导人在宴会上互相敬酒。",
        "朝鲜领导人金正恩外访看点：装甲专列、防弹座驾和贴身护卫",
    ]
    assert bbc.text.startswith("在与俄罗斯总统普京（Vladimir Putin）就可能的武器交易进行会谈后")
    for caption in bbc.captions:
        assert caption not in bbc.text.split("\n")
    assert "BBC亚洲数字记者" not in bbc.text and "黄晓恩" not in bbc.text
    assert "10 分钟前" not in bbc.text
    assert len(bbc.images) == len(set(bbc.images)) == 4

    rfi = parse_file(seed("003"))
    assert "作者" not in rfi.text and "14/09/2023" not in rfi.text
    assert rfi.text.startswith("在朝鲜领导人金正恩与俄罗斯总统普京")

    dw = parse_file(seed("004"))
    assert dw.captions[0] == "金正恩和普京已经于2023年9月中旬在俄罗斯会面"
    assert dw.text.startswith("（德国之声中文网）朝鲜官方媒体周日报道称")
    assert "德国之声版权声明" not in dw.text
    assert "2024-01-21T10:34:44.196Z" not in dw.text


def test_parse_bytes_matches_parse_file() -> None:
    path = seed("002")
    assert parse_bytes(path.read_bytes(), str(path)) == parse_file(path)


# --------------------------------------------------------------------------- outlet fixtures


FIXTURE_EXPECT = {
    "bbc_new": dict(source="bbc", published="2023-09-14T00:00:00+00:00", authors=["王小明"],
                    text="第一段正文。\n第二段正文。\n第三段正文。", captions=["视频说明文字在这里。", "图片说明文字。"]),
    "bbc_old": dict(source="bbc", published="2020-07-17T00:00:00+00:00", authors=[],
                    text="导语段落。\n正文段落。\n结尾段落。", captions=["旧版图片说明"]),
    "rfi_winter": dict(source="rfi", published="2024-01-14T13:00:00+01:00", authors=["张三"], text="导语。\n正文。", captions=[]),
    "dw_author": dict(source="dw", published="2020-06-30T11:23:30+00:00", authors=["William Yang"],
                      text="（德国之声中文网）正文第一段。", captions=["图片说明：测试"]),
    "nyt": dict(source="nyt", published="2020-07-29T10:47:16+08:00", authors=["DAMIEN CAVE"], text="正文段落。",
                captions=["纽时图片说明。"]),
    "reuters": dict(source="reuters", published="2020-07-01T04:01:10+00:00", authors=[], text="路透伦敦6月30日 - 正文。",
                    captions=[]),
    "rfa": dict(source="rfa", published="2020-06-30T16:35:37+00:00", authors=["高锋"], text="正文第一段。\n正文第二段。",
                captions=["自由亚洲图片说明（路透社图片）"]),
    "hkcnews": dict(source="hkcnews", published="2019-07-18T00:00:00+08:00", authors=["林勵"], text="正文第一段。",
                    captions=["眾新聞圖片說明。"]),
}


@pytest.mark.parametrize("name", sorted(FIXTURE_EXPECT))
def test_outlet_fixture(name: str) -> None:
    art = parse_file(FIXTURES / f"{name}.txt")
    for key, value in FIXTURE_EXPECT[name].items():
        assert getattr(art, key) == value, key


def test_front_matter_fills_gaps_only() -> None:
    art = parse_file(FIXTURES / "frontmatter.txt")
    # the file's own title line wins over the front matter's title
    assert art.title == "A (Parenthesised) Title [with brackets]"
    assert art.url == "https://www.chinafile.com/reporting-opinion/viewpoint/test_(draft)?a=1&b=2"
    assert art.id == hashlib.sha1(art.url.encode()).hexdigest()[:12]
    assert art.source == "chinafile"
    assert art.authors == ["Martin Lavička"]
    assert art.tags == ["中参馆", "xinjiang"]
    assert art.published == "2024-04-19T09:06:00+00:00"
    assert art.text == "Body paragraph one.\nBody paragraph two."  # related-article box dropped


def test_front_matter_supplies_missing_title_and_date(tmp_path: Path) -> None:
    data = (
        "---\ntitle: \"Only in front matter\"\ndate: 2021-01-06T00:08:21.000Z\nauthor: 學界野武士\n"
        "from: https://matters.news/@someone/abc\ntags: [ matters ]\n---\n"
        "<!--1609891701000-->\n[](https://matters.news/@someone/abc)\n------\n\n<div><p>正文。</p></div>\n"
    ).encode()
    art = parse_bytes(data, "x.txt")
    assert art.title == "Only in front matter"
    assert art.authors == ["學界野武士"]
    assert art.tags == ["matters"]
    assert art.published == "2021-01-06T00:08:21+00:00"
    assert art.source == "matters"


def test_body_date_beats_front_matter_date() -> None:
    text = seed("000").read_text(encoding="utf-8")
    data = ("---\ntitle: x\ndate: 2020-01-01T00:00:00Z\nauthor: FM Author\n---\n" + text).encode()
    art = parse_bytes(data, "p")
    assert art.published == "2023-09-17T15:33:48+00:00"
    assert art.title == "结束四年半以来首次出访 金正恩离开俄罗斯回国"


def test_implausible_body_date_falls_back_to_archived() -> None:
    html = '<div><i>Sun, 17 Sep 2045 15:33:48 GMT</i></div><p>正文。</p>'
    data = f"<!--1694965143000-->\n[t](https://www.voachinese.com/a/1.html)\n------\n\n{html}".encode()
    art = parse_bytes(data, "p")
    assert art.published == art.archived == "2023-09-17T15:39:03+00:00"
    old = html.replace("2045", "1985")
    data = f"<!--1694965143000-->\n[t](https://www.voachinese.com/a/1.html)\n------\n\n{old}".encode()
    assert parse_bytes(data, "p").published == "2023-09-17T15:39:03+00:00"


# --------------------------------------------------------------------------- title line


@pytest.mark.parametrize(
    ("line", "title", "url"),
    [
        ("[[生活] 標題](https://www.rti.org.tw/news/view/id/2073681)", "[生活] 標題", "https://www.rti.org.tw/news/view/id/2073681"),
        (r"[a \[b\] c](http://x.com/a)", "a [b] c", "http://x.com/a"),
        ("[Tom &amp; Jerry  (2)](https://en.wikipedia.org/wiki/Foo_(bar))", "Tom & Jerry (2)", "https://en.wikipedia.org/wiki/Foo_(bar)"),
        ("[t](https://medium.com/p/abc?source=rss-7e0de79fece------2)", "t", "https://medium.com/p/abc?source=rss-7e0de79fece------2"),
        ("[x](y) more](https://a.com/%E4%B8%AD)  ", "x](y) more", "https://a.com/%E4%B8%AD"),
    ],
)
def test_title_line(line: str, title: str, url: str) -> None:
    art = parse_bytes(f"<!--1694965143000-->\n{line}\n------\n\n<p>body</p>".encode(), "p")
    assert (art.title, art.url) == (title, url)
    assert art.id == hashlib.sha1(url.encode()).hexdigest()[:12]


# --------------------------------------------------------------------------- encodings


TRAD = "<!--1595849408000-->\n[[國際] 臺灣測試標題](https://www.rti.org.tw/news/view/id/1)\n------\n\n<div><p>中央廣播電臺國家廣播文物館日前主辦兒童廣播夏令營，認識廣播、愛上廣播。</p></div>\n"
SIMP = "<!--1694965143000-->\n[简体测试标题](https://www.voachinese.com/a/1.html)\n------\n\n<div><i>Sun, 17 Sep 2023 15:33:48 GMT</i></div><p>朝鲜领导人金正恩星期天从俄罗斯启程回国，结束为期六天的访问。</p>\n"


@pytest.mark.parametrize(
    ("text", "encoding"),
    [(SIMP, "utf-8-sig"), (SIMP, "gb18030"), (TRAD, "big5"), (TRAD, "utf-8-sig"), (SIMP, "utf-16")],
)
def test_encodings(tmp_path: Path, text: str, encoding: str) -> None:
    path = tmp_path / f"x.{encoding}.txt"
    path.write_bytes(text.encode(encoding))
    art = parse_file(path)
    reference = parse_bytes(text.encode("utf-8"), str(path))
    assert art == reference
    assert art.title in ("简体测试标题", "[國際] 臺灣測試標題")


def test_crlf(tmp_path: Path) -> None:
    raw = seed("003").read_bytes()
    path = tmp_path / "crlf.txt"
    path.write_bytes(raw.replace(b"\n", b"\r\n"))
    art = parse_file(path)
    ref = parse_file(seed("003"))
    assert (art.title, art.url, art.published, art.authors, art.text) == (ref.title, ref.url, ref.published, ref.authors, ref.text)
    assert "\r" not in art.text


def test_nul_bytes_are_dropped() -> None:
    raw = seed("000").read_bytes()
    art = parse_bytes(raw[:2000] + b"\x00" + raw[2000:], "p")
    assert "\x00" not in art.text and "\x00" not in art.html
    assert art.published == "2023-09-17T15:33:48+00:00"


def test_truncated_utf8_keeps_prefix() -> None:
    raw = seed("000").read_bytes()
    cut = 3001  # inside a 3-byte character
    with pytest.raises(UnicodeDecodeError):
        raw[:cut].decode("utf-8")
    art = parse_bytes(raw[:cut], "p")
    assert art.source == "voa" and art.text


# --------------------------------------------------------------------------- broken files

HEAD = b"<!--1694965143000-->\n[T](https://example.co.uk/a)\n------\n\n"


def _seed_bytes() -> bytes:
    return seed("000").read_bytes()


BROKEN = {
    "empty": (lambda: b"", "empty file"),
    "whitespace": (lambda: b" \n\r\n\t", "empty file"),
    "header only": (lambda: b"<!--1694965143000-->\n", "no title line"),
    "no title line": (lambda: b"<!--1694965143000-->\nhello\n------\n\n<p>x</p>", "no title line"),
    "no header": (lambda: b"[t](http://x.com)\n------\n\n<p>x</p>", "not an archive file: missing <!--timestamp--> header"),
    "bad header": (lambda: b"<!--abc-->\n[t](http://x.com)\n------\n\n<p>x</p>", "not an archive file: bad timestamp in header"),
    "binary": (lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 20, "binary file"),
    "nul only": (lambda: b"\x00" * 5000, "binary file"),
    "undecodable": (lambda: HEAD + b"\x80\xff" * 800, "undecodable text"),
    "truncated title": (lambda: _seed_bytes()[:100], "malformed title line"),
    "truncated after separator": (lambda: _seed_bytes()[: _seed_bytes().index(b"------") + 8], "truncated: no article body"),
    "title line only": (lambda: b"<!--1694965143000-->\n[t](http://x.com)\n", "truncated: no article body"),
    "title line 100 KB": (lambda: b"<!--1694965143000-->\n[" + b"a" * 100_000 + b"](https://x.com)\n------\n\n<p>x</p>", "title line too long"),
    "too large": (lambda: b" " * (21 * 1024 * 1024), "file too large: 21.0 MB > 20 MB"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_files(tmp_path: Path, name: str) -> None:
    make, reason = BROKEN[name]
    path = tmp_path / "broken.txt"
    path.write_bytes(make())
    with pytest.raises(RejectedFile) as info:
        parse_file(path)
    assert info.value.reason == reason
    assert info.value.path == str(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(RejectedFile) as info:
        parse_file(tmp_path / "nope.txt")
    assert info.value.reason == "unreadable file: not found"
    with pytest.raises(RejectedFile) as info:
        parse_file(tmp_path)
    assert info.value.reason == "not a regular file: a directory"


@pytest.mark.parametrize(
    "body",
    [b"<div>" * 200_000 + b"deep text" + b"</div>" * 200_000, b"<b><i>" * 100_000 + b"deep text", b"<p>a</p>" + b"<" * 5000],
)
def test_pathological_html(body: bytes) -> None:
    art = parse_bytes(HEAD + body, "p")
    assert art.source == "example.co.uk"
    if b"deep" in body:
        assert "deep text" in art.text


def test_fuzz_never_raises_anything_else() -> None:
    import random

    rng = random.Random(7)
    base = _seed_bytes()
    for _ in range(300):
        data = bytearray(base[: rng.randint(0, len(base))])
        for _ in range(rng.randint(0, 20)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            art = parse_bytes(bytes(data), "fuzz")
        except RejectedFile as exc:
            assert exc.reason and exc.reason == exc.reason.lower() or "MB" in exc.reason
        else:
            assert art.published and art.archived and art.url


# --------------------------------------------------------------------------- sources


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.voachinese.com/a/x.html", ("voa", "美国之音")),
        ("http://www.bbc.com/zhongwen/simp/x", ("bbc", "BBC中文")),
        ("http://www.rfi.fr/cn/x", ("rfi", "法广")),
        ("https://www.dw.com/zh/x", ("dw", "德国之声")),
        ("https://cn.reuters.com/article/x", ("reuters", "路透社")),
        ("https://www.rti.org.tw/news/view/id/1", ("rti", "中央广播电台")),
        ("https://www.zaobao.com/realtime/x", ("zaobao", "联合早报")),
        ("https://cn.ft.com/story/001?full=y", ("ft", "FT中文网")),
        ("https://cn.nytimes.com/asia-pacific/x/", ("nyt", "纽约时报中文网")),
        ("https://www.rfa.org/mandarin/x.html", ("rfa", "自由亚洲电台")),
        ("https://chinadigitaltimes.net/chinese/x", ("cdt", "中国数字时代")),
        ("https://www.chinafile.com/x", ("chinafile", "ChinaFile")),
        ("https://matters.news/@a/x", ("matters", "Matters")),
        ("https://theinitium.com/project/x", ("initium", "端传媒")),
        ("https://hkcnews.com/article/1", ("hkcnews", "眾新聞")),
        ("https://www.youtube.com/watch?v=x", ("youtube", "YouTube")),
        ("https://hulitw.medium.com/x", ("medium", "Medium")),
        ("https://www.example.co.uk/news/1", ("example.co.uk", "example.co.uk")),
        ("https://news.example.com.tw/x", ("example.com.tw", "example.com.tw")),
        ("https://verbalflystep.com/x", ("verbalflystep.com", "verbalflystep.com")),
        ("not a url", ("unknown", "unknown")),
    ],
)
def test_source_of(url: str, expected: tuple[str, str]) -> None:
    assert source_of(url) == expected


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("x.github.io", "x.github.io"),  # github.io is a (private) public suffix
        ("news.bbc.co.uk", "bbc.co.uk"),
        ("www.rfa.org", "rfa.org"),
        ("news.mingpao.com.hk", "mingpao.com.hk"),
        ("www.hk01.com", "hk01.com"),
        ("blog.example.org.tw", "example.org.tw"),
        ("a.b.example.ac.jp", "example.ac.jp"),
        ("someone.blogspot.com", "someone.blogspot.com"),
        ("例子.中国", "例子.中国"),
        ("127.0.0.1", "127.0.0.1"),
        ("203.0.113.7", "203.0.113.7"),
        ("com.hk", "com.hk"),  # itself a public suffix
        ("localhost", "localhost"),
        ("", ""),
    ],
)
def test_registered_domain_follows_the_public_suffix_list(host: str, domain: str) -> None:
    assert registered_domain(host) == domain


def test_unknown_hosts_are_keyed_by_their_registered_domain() -> None:
    assert source_of("https://x.github.io/post/1") == ("x.github.io", "x.github.io")
    assert source_of("http://203.0.113.7:8080/a") == ("203.0.113.7", "203.0.113.7")
    assert source_of("https://news.mingpao.com.hk/pns/x") == ("mingpao.com.hk", "mingpao.com.hk")


# --------------------------------------------------------------------------- real corpus


def _corpus_by_outlet(per_outlet: int = 4) -> dict[str, list[Path]]:
    feeds = CORPUS / "feeds"
    if not feeds.is_dir():
        return {}
    out: dict[str, list[Path]] = {}
    for path in sorted(feeds.glob("*.txt")):
        head = path.read_bytes()[:4000].decode("utf-8", "replace")
        m = re.search(r"^\[.*\]\((https?://[^)\s]+)", head, re.M)
        if not m:
            continue
        key = source_of(m.group(1))[0]
        files = out.setdefault(key, [])
        if len(files) < per_outlet:
            files.append(path)
    return out


@pytest.fixture(scope="module")
def corpus() -> dict[str, list[Path]]:
    found = _corpus_by_outlet()
    if not found:
        pytest.skip("shared corpus not available")
    return found


# outlets whose bodies carry a date line (a few DW/BBC items are galleries or videos without one)
DATED = {"voa", "rfi", "reuters", "nyt", "economist"}
DATE_PATTERNS = {
    "voa": r"\+00:00$",
    "rfi": r"\+0[12]:00$",
    "reuters": r"\+00:00$",
    "nyt": r"\+08:00$",
}


@pytest.mark.parametrize(
    "outlet", ["voa", "bbc", "rfi", "dw", "reuters", "rti", "zaobao", "ft", "nyt", "rfa", "cdt", "chinafile", "matters", "medium"]
)
def test_corpus_outlet(corpus: dict[str, list[Path]], outlet: str) -> None:
    paths = corpus.get(outlet)
    if not paths:
        pytest.skip(f"no {outlet} files in corpus")
    for path in paths:
        art = parse_file(path)
        assert art.source == outlet
        lines = path.read_text(encoding="utf-8").split("\n")
        assert f"]({art.url})" in lines[1]
        assert datetime.fromisoformat(art.published).tzinfo is not None
        if outlet in DATED:
            assert art.published != art.archived, path
            pub = datetime.fromisoformat(art.published)
            arch = datetime.fromisoformat(art.archived)
            assert abs((arch - pub).total_seconds()) < 40 * 86400, path
        if outlet in DATE_PATTERNS:
            assert re.search(DATE_PATTERNS[outlet], art.published), (path, art.published)
        if outlet in ("nyt", "rfa"):
            assert art.authors, path
        assert not BOILERPLATE.search(art.text), (path, BOILERPLATE.search(art.text))


def test_corpus_hkcnews_bylines() -> None:
    folder = CORPUS / "hkcnews"
    if not folder.is_dir():
        pytest.skip("shared corpus not available")
    for path in sorted(folder.glob("*.txt"))[:20]:
        art = parse_file(path)
        assert art.source == "hkcnews"
        assert art.authors, path
        assert art.published.endswith("+08:00")
        assert "月費訂戶" not in art.text


def test_corpus_jekyll_front_matter() -> None:
    folder = CORPUS / "feeds-jekyll"
    if not folder.is_dir():
        pytest.skip("shared corpus not available")
    checked = 0
    for path in sorted(folder.glob("*.txt"))[:40]:
        raw = path.read_text(encoding="utf-8")
        if not raw.startswith("---"):
            continue
        art = parse_file(path)
        m = re.search(r"^tags: \[(.*)\]$", raw, re.M)
        if m:
            assert art.tags == [t.strip() for t in m.group(1).split(",") if t.strip()]
        assert art.authors, path
        checked += 1
    assert checked
