"""`newsarc serve` at the HTTP level: every route through Starlette's test client, over real archives.

The JSON pages are compared with the CLI's ``--json`` output for the same
archive, so the web and the terminal never disagree.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import HOSTILE_TITLE, SEED_IDS, SEEDS, corpus_dir, jsonl, run, write_hostile_files

pytest.importorskip("httpx", reason="starlette's TestClient needs httpx (pip install -e '.[test]')")
from starlette.testclient import TestClient  # noqa: E402

from newsarc.web import create_app  # noqa: E402

HOSTILE_ID = "fd721cd6e16a"
JSURL_ID = "7ed3161a8383"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HIT_FIELDS = ["id", "title", "source", "published", "url", "score", "snippet", "source_name"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five seeds and the two hostile files."""
    root = tmp_path_factory.mktemp("web")
    write_hostile_files(root / "hostile")
    data = root / "data"
    result = run("ingest", str(SEEDS), str(root / "hostile"), data=data)
    assert result.exit_code == 0, result.stderr
    return data


@pytest.fixture(scope="module")
def client(archive: Path) -> TestClient:
    return TestClient(create_app(archive), base_url="http://127.0.0.1", raise_server_exceptions=False)


def cli_json(archive: Path, *args: str) -> list[dict]:
    result = run(*args, "--json", data=archive)
    return jsonl(result.stdout)


# ----------------------------------------------------------------------------- search


def test_search_json_is_the_cli_json(client: TestClient, archive: Path) -> None:
    r = client.get("/search.json", params={"q": "普京 朝鲜"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert list(body) == ["query", "sources", "since", "until", "sort", "page", "limit", "total",
                          "elapsed", "first", "last", "pages", "hits", "facets"]
    expected = cli_json(archive, "search", "普京", "朝鲜", "-n", "20")
    assert body["total"] == len(expected) == 7
    assert [{k: v for k, v in h.items() if k != "source_name"} for h in body["hits"]] == expected
    assert list(body["hits"][0]) == HIT_FIELDS
    assert (body["first"], body["last"], body["pages"], body["page"], body["limit"]) == (1, 7, 1, 1, 20)
    assert body["elapsed"] >= 0


def test_accept_header_gives_json(client: TestClient) -> None:
    r = client.get("/search", params={"q": "金正恩"}, headers={"accept": "application/json"})
    assert r.headers["content-type"] == "application/json"
    assert r.json()["total"] == 5
    browser = client.get("/search", params={"q": "金正恩"},
                         headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.headers["content-type"] == "text/html; charset=utf-8"
    assert browser.headers["link"] == '</search.json?q=%E9%87%91%E6%AD%A3%E6%81%A9>; rel="alternate"; type="application/json"'


def test_search_filters_sort_and_pages_match_the_cli(client: TestClient, archive: Path) -> None:
    def ids(*cli_args: str, **params: object) -> tuple[list[str], list[str]]:
        web = [h["id"] for h in client.get("/search.json", params=params).json()["hits"]]
        return web, [h["id"] for h in cli_json(archive, "search", *cli_args)]

    web, cli = ids("普京", "--source", "voa", q="普京", source="voa")
    assert web == cli == [SEED_IDS["voa_2024"], HOSTILE_ID, SEED_IDS["voa_2023"]]
    web, cli = ids("普京", "--since", "2024", "--sort", "oldest", q="普京", since="2024", sort="oldest")
    assert web == cli == [SEED_IDS["dw"], SEED_IDS["voa_2024"]]
    web, cli = ids("普京", "-n", "2", "--page", "2", q="普京", n=2, page=2)
    assert web == cli and len(web) == 2
    page2 = client.get("/search.json", params={"q": "普京", "n": 2, "page": 2}).json()
    assert (page2["first"], page2["last"], page2["pages"]) == (3, 4, 4)
    both = client.get("/search.json", params=[("q", "普京"), ("source", "voa"), ("source", "dw")]).json()
    assert {h["source"] for h in both["hits"]} == {"voa", "dw"} and both["total"] == 4


def test_search_page_html(client: TestClient) -> None:
    r = client.get("/search", params={"q": "朝鮮 普京", "n": 2})
    assert r.status_code == 200
    html = r.text
    assert "<strong>7</strong> hits, 1–2 shown" in html
    assert html.count('<li class="hit">') == 2
    assert "<mark>普京</mark>" in html and "<mark>朝鲜</mark>" in html  # traditional query, simplified text
    assert 'href="/article/16c90d67d6f0?q=%E6%9C%9D%E9%AE%AE+%E6%99%AE%E4%BA%AC"' in html
    assert '<a href="/search?q=%E6%9C%9D%E9%AE%AE+%E6%99%AE%E4%BA%AC&amp;n=2&amp;page=2" rel="next">' in html
    assert 'All hits:' in html and "BBC中文 <b>1</b>" in html
    assert '<option value="voa" lang="zh">美国之音 (voa) · 3</option>' in html
    assert '<script src="/static/newsarc.js" defer></script>' in html
    assert html.count("<script") == 1  # ours, from /static
    assert not re.search(r"<[^>]*\son\w+=", html)  # no event-handler attributes


def test_alias_note(client: TestClient, archive: Path) -> None:
    body = client.get("/search.json", params={"q": "普丁"}).json()
    assert [h.get("aliases") for h in body["hits"]] == [h.get("aliases") for h in cli_json(archive, "search", "普丁")]
    assert body["hits"][0]["aliases"] == ["普京"]
    assert '<span class="alias" lang="en">via alias 普京</span>' in client.get("/search", params={"q": "普丁"}).text


def test_empty_query_shows_the_form(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert "Search 7 archived articles." in r.text
    assert client.get("/search.json").json()["hits"] == []


def test_no_hits(client: TestClient) -> None:
    r = client.get("/search", params={"q": "不存在的词语组合xyzzy"})
    assert r.status_code == 200 and "No hits" in r.text
    assert client.get("/search.json", params={"q": "xyzzy"}).json()["total"] == 0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "(普京"}, "unbalanced parenthesis"),
        ({"q": '"普京'}, "unbalanced quote"),
        ({"q": "普京", "since": "2023-13"}, "not a date: &#39;2023-13&#39;"),
        ({"q": "普京", "page": "two"}, "page must be a whole number, not &#39;two&#39;"),
        ({"q": "普京", "n": "1000"}, "n must be between 1 and 100, not 1000"),
        ({"q": "普京", "sort": "random"}, "unknown sort &#39;random&#39;"),
    ],
)
def test_bad_requests_are_400_with_one_line(client: TestClient, params: dict, message: str) -> None:
    r = client.get("/search", params=params)
    assert r.status_code == 400
    assert "400 · Bad request" in r.text
    assert message in r.text
    assert "Traceback" not in r.text
    j = client.get("/search.json", params=params)
    assert j.status_code == 400 and j.json()["status"] == 400
    assert "\n" not in j.json()["error"]


# ----------------------------------------------------------------------------- article


def test_article_json_is_show_json_with_similar_and_keywords(client: TestClient, archive: Path) -> None:
    aid = SEED_IDS["voa_2023"]
    body = client.get(f"/article/{aid}.json").json()
    record = cli_json(archive, "show", aid)[0]
    similar = cli_json(archive, "similar", aid, "-n", "8")
    keywords = cli_json(archive, "keywords", aid, "-n", "15")
    assert {k: v for k, v in body.items() if k not in ("similar", "keywords")} == record
    assert [{k: v for k, v in h.items() if k != "source_name"} for h in body["similar"]] == similar
    assert body["keywords"] == keywords
    assert client.get(f"/article/{aid[:6]}", headers={"accept": "application/json"}).json()["id"] == aid


def test_article_page(client: TestClient) -> None:
    r = client.get(f"/article/{SEED_IDS['rfi']}", params={"q": "普京 朝鲜"})
    assert r.status_code == 200
    html = r.text
    assert "<h1>朝俄关系“更进一步” <mark>普京</mark>接受金正恩访朝邀请 - 要闻解说</h1>" in html
    assert "2023-09-14 13:00 (UTC+02:00)" in html and "2023-09-14 11:00 UTC" in html  # RFI: Paris time
    assert "法广 <span class=\"key\">(rfi)</span>" in html
    assert 'rel="noreferrer noopener"' in html and 'href="https://www.rfi.fr/cn/' in html
    assert "paragraphs with matches" in html and html.count("<mark>") > 5
    assert "Similar articles" in html and "Keywords" in html
    assert '<a href="/search?q=%E6%99%AE%E4%BA%AC+%E6%9C%9D%E9%B2%9C">‹ search “普京 朝鲜”</a>' in html


def test_article_authors_and_captions(client: TestClient) -> None:
    html = client.get(f"/article/{SEED_IDS['bbc']}").text
    body = client.get(f"/article/{SEED_IDS['bbc']}.json").json()
    assert body["authors"] and f"<dd>{'、'.join(body['authors'])}</dd>" in html
    assert body["captions"] and html.count("<li>", html.index("Captions")) >= len(body["captions"])


@pytest.mark.parametrize("path", ["/article/ffffffffffff", "/article/zz", "/article/ffffffffffff.json"])
def test_unknown_article_is_404(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert ("404 · Not found" in r.text) != path.endswith(".json")


def test_unknown_path_and_writes(client: TestClient) -> None:
    r = client.get("/admin")
    assert r.status_code == 404 and "no page at /admin" in r.text
    assert r.headers["content-security-policy"] == CSP
    post = client.post("/search", data={"q": "x"})
    assert post.status_code == 405 and "this server is read-only" in post.text


# ----------------------------------------------------------------------------- timeline and stats


def test_timeline(client: TestClient, archive: Path) -> None:
    body = client.get("/timeline.json", params={"q": "普京", "by": "month"}).json()
    cli = cli_json(archive, "timeline", "普京", "--by", "month")
    assert body["rows"] == cli
    assert body["rows"][0] == {"period": "2023-09", "count": 5} and len(body["rows"]) == 10
    assert (body["total"], body["undated"], body["by"]) == (7, 0, "month")
    html = client.get("/timeline", params={"q": "普京"}).text
    assert html.count('<rect class="bar"') == 10
    assert "<title>2023-09: 5</title>" in html
    assert 'href="/search?q=%E6%99%AE%E4%BA%AC&amp;since=2023-09&amp;until=2023-09"' in html
    by_year = client.get("/timeline.json", params={"q": "普京", "by": "year", "source": "voa"}).json()
    assert by_year["rows"] == cli_json(archive, "timeline", "普京", "--by", "year", "--source", "voa")
    assert client.get("/timeline", params={"q": "普京", "by": "week"}).status_code == 400


def test_stats(client: TestClient, archive: Path) -> None:
    body = client.get("/stats.json").json()
    assert body == cli_json(archive, "stats")[0]
    assert body["articles"] == 7
    html = client.get("/stats").text
    assert "<strong>7</strong>" in html and '<a href="/search?source=voa">美国之音</a>' in html


def test_static_files(client: TestClient) -> None:
    js = client.get("/static/newsarc.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert js.headers["x-content-type-options"] == "nosniff"
    assert client.get("/static/favicon.svg").status_code == 200
    assert client.get("/static/../web.py").status_code == 404


# ----------------------------------------------------------------------------- safety


def test_security_headers_on_every_page(client: TestClient) -> None:
    for path in ["/", "/search?q=普京", f"/article/{HOSTILE_ID}", "/timeline?q=普京", "/stats",
                 "/stats.json", "/article/0000", "/search?q=(", "/static/newsarc.css"]:
        r = client.get(path)
        assert r.headers["content-security-policy"] == CSP, path
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-frame-options"] == "DENY"


def test_hostile_article_is_escaped(client: TestClient) -> None:
    html = client.get(f"/article/{HOSTILE_ID}", params={"q": "红色"}).text
    assert "\x1b" not in html and "\u202e" not in html and "\u202c" not in html
    assert "<script>alert" not in html and "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "")
    assert "javascript:" not in html
    assert ("<h1>&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;<span class=\"ctl\">\\x1b</span>[31m"
            "<mark>红色</mark><span class=\"ctl\">\\x1b</span>[0m <span class=\"ctl\">\\u202e</span>"
            "普京朝鲜<span class=\"ctl\">\\u202c</span> &lt;img src=x onerror=alert(1)&gt;</h1>") in html
    assert "<p>&lt;script&gt;alert(&#34;escaped&#34;)&lt;/script&gt; 和</p>" in html
    assert '<li>图说 <span class="ctl">\\u202e</span>反向</li>' in html
    assert "<title>&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;\\x1b[31m红色" in html
    body = client.get(f"/article/{HOSTILE_ID}.json").json()
    assert body["title"] == HOSTILE_TITLE  # JSON carries the data as it is (escaped by JSON itself)


def test_hostile_url_is_not_a_link(client: TestClient) -> None:
    html = client.get(f"/article/{JSURL_ID}").text
    assert "javascript:alert(8) <span class=\"note\" lang=\"en\">(not a web address: not linked)</span>" in html
    assert 'href="javascript' not in html
    search = client.get("/search", params={"q": "坏链接"}).text
    assert 'href="javascript' not in search and f'href="/article/{JSURL_ID}?q=' in search


def test_remote_images_load_only_on_request(client: TestClient) -> None:
    r = client.get(f"/article/{HOSTILE_ID}")
    assert "<img" not in r.text
    assert "1 image not loaded: loading them would tell images.evil.example" in r.text
    assert f'href="/article/{HOSTILE_ID}?images=1"' in r.text
    loaded = client.get(f"/article/{HOSTILE_ID}", params={"images": "1"})
    assert ('<img src="https://images.evil.example/track.png" alt="" loading="lazy" '
            'referrerpolicy="no-referrer">') in loaded.text
    assert loaded.headers["content-security-policy"] == CSP.replace(
        "img-src 'self'", "img-src 'self' https://images.evil.example")
    # the next page is strict again
    assert client.get("/stats").headers["content-security-policy"] == CSP


def test_other_host_names_are_refused(archive: Path) -> None:
    """DNS rebinding: a page on evil.example that resolves to 127.0.0.1 cannot read the archive."""
    app = create_app(archive)
    for base in ("http://localhost:8000", "http://[::1]:8000", "http://127.0.0.1"):
        assert TestClient(app, base_url=base).get("/stats.json").status_code == 200, base
    r = TestClient(app, base_url="http://evil.example:8000").get("/stats.json")
    assert r.status_code == 400 and "Invalid host header" in r.text
    open_app = create_app(archive, allowed_hosts=None)
    assert TestClient(open_app, base_url="http://evil.example").get("/stats.json").status_code == 200


# ----------------------------------------------------------------------------- the archive changes


def test_broken_archive_gives_503_with_one_line(archive: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(archive, data)
    client = TestClient(create_app(data), base_url="http://127.0.0.1", raise_server_exceptions=False)
    assert client.get("/search", params={"q": "普京"}).status_code == 200
    for name in ("articles.db-wal", "articles.db-shm"):
        (data / name).unlink(missing_ok=True)
    (data / "articles.db").write_bytes(b"this is not a database" * 200)
    for path in ["/search?q=普京", f"/article/{SEED_IDS['bbc']}", "/timeline?q=普京", "/stats"]:
        r = client.get(path)
        assert r.status_code == 503, path
        assert "503 · Archive unavailable" in r.text and "Traceback" not in r.text
        assert "is not a newsarc archive" in r.text
    shutil.rmtree(data)
    r = client.get("/search.json", params={"q": "普京"})
    assert r.status_code == 503
    assert r.json() == {"error": f"no archive in {data} (run `newsarc ingest PATH` first)", "status": 503}


def test_damaged_index_gives_503_with_one_line(archive: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(archive, data)
    client = TestClient(create_app(data), base_url="http://127.0.0.1", raise_server_exceptions=False)
    assert client.get("/search.json", params={"q": "普京"}).status_code == 200
    for posting_file in (data / "index").glob("*.n*"):  # term dictionary and posting lists
        posting_file.write_bytes(b"\xffgarbage" * 3)
    for path in ["/search.json?q=普京", f"/article/{SEED_IDS['bbc']}.json", "/timeline.json?q=普京",
                 "/stats.json"]:
        r = client.get(path)
        assert r.status_code == 503, path
        assert r.json()["status"] == 503 and "\n" not in r.json()["error"]
    page = client.get("/search", params={"q": "普京"})
    assert page.status_code == 503 and "Traceback" not in page.text


def test_new_articles_appear_without_a_restart(archive: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = run("ingest", str(SEEDS / "000_b78dc6da3a148a29.txt"), data=data)
    assert result.exit_code == 0
    client = TestClient(create_app(data), base_url="http://127.0.0.1")
    assert client.get("/search.json", params={"q": "普京"}).json()["total"] == 1
    assert client.get(f"/article/{SEED_IDS['dw']}").status_code == 404
    assert run("ingest", str(SEEDS), data=data).exit_code == 0
    assert client.get("/search.json", params={"q": "普京"}).json()["total"] == 5
    assert client.get(f"/article/{SEED_IDS['dw']}").status_code == 200
    assert client.get("/stats.json").json()["articles"] == 5


def test_pages_answer_during_an_ingest(tmp_path: Path) -> None:
    """A real ingest of corpus files in another process; every request meanwhile is a 200."""
    feeds = corpus_dir("feeds")
    files = sorted(feeds.iterdir())[:600]
    batch_dir = tmp_path / "batch"
    batch_dir.mkdir()
    for f in files:
        (batch_dir / f.name).symlink_to(f)
    data = tmp_path / "data"
    assert run("ingest", str(SEEDS), data=data).exit_code == 0
    client = TestClient(create_app(data), base_url="http://127.0.0.1")
    env = {**os.environ, "NEWSARC_BATCH_SIZE": "100"}
    ingest = subprocess.Popen([sys.executable, "-m", "newsarc", "--data", str(data), "ingest",
                               "--workers", "1", str(batch_dir)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    totals, statuses = [], []
    try:
        while ingest.poll() is None:
            r = client.get("/search.json", params={"q": "中国"})
            statuses.append(r.status_code)
            totals.append(r.json().get("total"))
            statuses.append(client.get("/stats.json").status_code)
            time.sleep(0.05)
    finally:
        ingest.wait(timeout=300)
    assert ingest.returncode == 0
    assert set(statuses) == {200}, statuses
    assert len(statuses) >= 10
    assert totals == sorted(totals)  # commits only ever add articles here
    final = client.get("/search.json", params={"q": "中国"}).json()["total"]
    assert final == len(cli_json(data, "search", "中国", "--all")) > totals[0]


# ----------------------------------------------------------------------------- the serve command


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_refuses_a_missing_archive(tmp_path: Path) -> None:
    result = run("serve", "--port", "0", data=tmp_path / "none")
    assert result.exit_code == 1
    assert result.stderr == f"newsarc: no archive in {tmp_path / 'none'} (run `newsarc ingest PATH` first)\n"


def test_serve_reports_a_port_in_use(archive: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = run("serve", "--port", str(port), data=archive)
    assert result.exit_code == 1
    assert result.stderr == f"newsarc: cannot listen on 127.0.0.1:{port}: Address already in use\n"


def test_serve_warns_when_not_on_loopback(archive: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "newsarc", "--data", str(archive), "serve",
                             "--host", "0.0.0.0", "--port", str(port)],
                            stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stderr.readline(), proc.stderr.readline()]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert lines[0] == ("newsarc: warning: listening on 0.0.0.0: anyone who can reach this machine "
                        "can read the archive (no login, no TLS)\n")
    assert lines[1] == f"newsarc: serving {archive} at http://0.0.0.0:{port}/ (Ctrl-C to stop)\n"
