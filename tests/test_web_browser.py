"""`newsarc serve` end to end: a real `newsarc serve` process driven by a real headless Chromium.

Needs Debian's ``chromium`` (``/usr/bin/chromium``; ``.ci/run`` installs it) and
Playwright for Python (the test extras; its own browser downloads are never
used).  Skips, saying why, when either is missing.

Screenshots of every page, at desktop width and at a 390-pixel phone width,
go to ``tests/screenshots/`` (or ``$NEWSARC_SCREENSHOTS``) for a person to
look at.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import CORPUS, SEED_IDS, SEEDS, jsonl, run, write_hostile_files
from newsarc.render import sanitize_line

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (test extras)")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
SCREENSHOTS = Path(os.environ.get("NEWSARC_SCREENSHOTS", Path(__file__).parent / "screenshots"))
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
HOSTILE_ID = "fd721cd6e16a"
#: The hostile title as a page must show it: markup as text, every control character as a visible escape.
HOSTILE_SHOWN = (
    '<script>alert("t")</script>\\x1b[31m红色\\x1b[0m \\u202e普京朝鲜\\u202c <img src=x onerror=alert(1)>'
)
#: Corpus files added to the browser tests' archive (when the corpus is present): real pages to look at.
CORPUS_SAMPLE = 300
#: The name the walk through the pages searches for, and the forms its hits mark: one with dozens of
#: hits in the corpus sample, else one the seeds hold.
NAME, NAME_FORMS = ("习近平", {"习近平", "習近平"}) if (CORPUS / "feeds").is_dir() else ("普京", {"普京"})
#: A 1×1 PNG, served in place of the hostile article's remote image.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seeds, the hostile files and, when present, the first corpus feeds."""
    root = tmp_path_factory.mktemp("browser")
    write_hostile_files(root / "hostile")
    paths = [str(SEEDS), str(root / "hostile")]
    feeds = CORPUS / "feeds"
    if feeds.is_dir():
        sample = root / "sample"
        sample.mkdir()
        for f in sorted(feeds.iterdir())[:CORPUS_SAMPLE]:
            (sample / f.name).symlink_to(f)
        paths.append(str(sample))
    data = root / "data"
    result = run("ingest", *paths, data=data)
    assert result.exit_code == 0, result.stderr
    return data


@pytest.fixture(scope="module")
def server(archive: Path) -> Iterator[str]:
    """A `newsarc serve` process on a free loopback port; yields its base URL (no trailing slash)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsarc", "--data", str(archive), "serve", "--port", "0"],
        stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stderr.readline()
        m = re.fullmatch(r"newsarc: serving .* at (http://127\.0\.0\.1:\d+)/ \(Ctrl-C to stop\)\n", line)
        assert m, line
        yield m[1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode in (0, -15)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Watch:
    """A page and everything it should never do: dialogs, console errors, page errors, remote requests."""

    def __init__(self, browser, base: str, viewport: dict, *, javascript: bool = True) -> None:  # type: ignore[no-untyped-def]
        self.base = base
        self.context = browser.new_context(
            viewport=viewport, device_scale_factor=2 if viewport is PHONE else 1,
            java_script_enabled=javascript, locale="zh-CN",
        )
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.remote: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: r.url.startswith(base) or self.remote.append(r.url))
        self.viewport = viewport

    def goto(self, path: str) -> None:
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == 200, path

    def shot(self, name: str) -> None:
        """Save a full-page screenshot as ``NAME-desktop.png`` or ``NAME-phone.png``.

        On a phone also ``NAME-phone-top.png``: the first screen, what a reader sees first.
        """
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        kind = "phone" if self.viewport is PHONE else "desktop"
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}-{kind}.png"), full_page=True)
        if self.viewport is PHONE:
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}-phone-top.png"))

    def fits(self) -> None:
        """Nothing sticks out sideways: the page needs no horizontal scrolling."""
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= self.viewport["width"], f"page is {width}px wide"

    def close(self) -> None:
        self.context.close()
        assert self.dialogs == [] and self.errors == []


def cli_json(archive: Path, *args: str) -> list[dict]:
    return jsonl(run(*args, "--json", data=archive).stdout)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_search_filter_article_similar_timeline(browser, server: str, archive: Path, viewport: dict) -> None:  # type: ignore[no-untyped-def]
    w = Watch(browser, server, viewport)
    page = w.page
    w.goto("/")
    w.shot("home")
    # type a query
    page.fill("#q", NAME)
    page.press("#q", "Enter")
    page.wait_for_url("**/search?q=*")
    expected = cli_json(archive, "search", NAME, "-n", "20")
    total = len(cli_json(archive, "search", NAME, "--all"))
    assert page.locator(".hit").count() == len(expected)
    assert page.locator(".summary strong").inner_text() == f"{total:,}"
    titles = page.locator(".hit .title").all_inner_texts()
    assert titles == [sanitize_line(h["title"]) for h in expected]
    marks = set(page.locator(".hit mark").all_inner_texts())
    assert marks and marks <= NAME_FORMS, marks
    w.fits()
    w.shot("search")
    # filter by outlet: the menu submits the form (JavaScript)
    page.select_option("select[name=source]", "voa")
    page.wait_for_url("**source=voa**")
    voa = cli_json(archive, "search", NAME, "--source", "voa", "-n", "20")
    assert page.locator(".hit .title").all_inner_texts() == [sanitize_line(h["title"]) for h in voa]
    assert set(page.locator(".hit .outlet").all_inner_texts()) == {"美国之音"}
    w.shot("search-voa")
    # open an article
    first = voa[0]
    page.locator(".hit .title").first.click()
    page.wait_for_url(f"**/article/{first['id']}?q=*")
    assert page.locator("h1").inner_text() == sanitize_line(first["title"])
    assert page.locator(".text mark").count() > 0
    assert page.locator("dl.meta").inner_text().count("UTC") >= 2
    w.fits()
    w.shot("article")
    # follow a similar article
    similar = cli_json(archive, "similar", first["id"], "-n", "8")
    assert page.locator(".similar .title").all_inner_texts() == [sanitize_line(h["title"]) for h in similar]
    page.locator(".similar .title").first.click()
    page.wait_for_url(f"**/article/{similar[0]['id']}")
    assert page.locator("h1").inner_text() == sanitize_line(similar[0]["title"])
    w.shot("article-similar")
    # the timeline of the query
    page.go_back()
    page.go_back()
    page.wait_for_url("**source=voa**")
    page.click(".summary a:text-is(\"timeline\")")
    page.wait_for_url("**/timeline?q=*")
    rows = cli_json(archive, "timeline", NAME, "--source", "voa")
    assert page.locator("svg rect.bar").count() == len(rows)
    w.fits()
    w.shot("timeline")
    page.locator("svg a").first.click()
    page.wait_for_url(f"**since={rows[0]['period']}&until={rows[0]['period']}")
    assert page.locator(".hit").count() == rows[0]["count"]
    w.goto("/stats")
    assert page.locator(".stats strong").first.inner_text() == f"{cli_json(archive, 'stats')[0]['articles']:,}"
    w.fits()
    w.shot("stats")
    assert w.remote == []
    w.close()


def test_pages_work_without_javascript(browser, server: str, archive: Path) -> None:  # type: ignore[no-untyped-def]
    w = Watch(browser, server, DESKTOP, javascript=False)
    page = w.page
    w.goto("/")
    page.fill("#q", "金正恩")
    page.select_option("select[name=source]", "voa")  # no script: nothing happens until Search
    assert "/search" not in page.url
    page.click("button[type=submit]")
    page.wait_for_url("**/search?q=*")
    expected = cli_json(archive, "search", "金正恩", "--source", "voa", "-n", "20")
    assert page.locator(".hit .title").all_inner_texts() == [sanitize_line(h["title"]) for h in expected]
    w.close()


def test_bad_query_and_unknown_article(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    w = Watch(browser, server, DESKTOP)
    page = w.page
    response = page.goto(server + "/search?q=%28%E6%99%AE%E4%BA%AC")
    assert response is not None and response.status == 400
    assert page.locator(".message").inner_text().startswith("unbalanced parenthesis")
    assert page.locator("#q").input_value() == "(普京"
    w.shot("error-400")
    response = page.goto(server + "/article/ffffffffffff")
    assert response is not None and response.status == 404
    assert page.locator(".message").inner_text() == "no article with id ffffffffffff"
    w.errors = [e for e in w.errors if "status of 40" not in e]  # Chromium logs the 400/404 itself
    w.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_hostile_article_runs_no_script(browser, server: str, viewport: dict) -> None:  # type: ignore[no-untyped-def]
    w = Watch(browser, server, viewport)
    page = w.page
    w.page.route("https://images.evil.example/**",
                 lambda route: route.fulfill(status=200, content_type="image/png", body=PIXEL))
    w.goto("/search?q=%E7%BA%A2%E8%89%B2")  # 红色, in the hostile title
    hit = page.locator(".hit .title").first
    assert hit.inner_text() == HOSTILE_SHOWN
    w.shot("hostile-search")
    hit.click()
    page.wait_for_url(f"**/article/{HOSTILE_ID}?q=*")
    assert page.locator("h1").inner_text() == HOSTILE_SHOWN
    text = page.locator(".text").inner_text()
    assert '<script>alert("escaped")</script> 和' in text
    assert "点我" in text and page.locator(".text a").count() == 0
    assert page.locator(".captions li").inner_text() == "图说 \\u202e反向"
    assert page.locator("img").count() == 0
    assert page.locator(".images").inner_text().startswith(
        "1 image not loaded: loading them would tell images.evil.example")
    page.mouse.move(200, 300)
    page.locator(".text p").nth(1).hover()
    w.shot("hostile-article")
    assert w.remote == []
    # one click loads the images of this article, and only then does the browser contact their host
    page.click("text=Load images")
    page.wait_for_url("**images=1")
    page.wait_for_function("() => document.querySelector('.images img').complete")  # a function: CSP forbids eval
    assert page.evaluate("document.querySelector('.images img').naturalWidth") == 1
    assert w.remote == ["https://images.evil.example/track.png"]
    w.fits()
    w.close()


def test_seed_article_reads_well(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    """A traditional-script query highlights simplified text and aliases; CJK text is drawn with Noto CJK."""
    w = Watch(browser, server, PHONE)
    page = w.page
    w.goto(f"/article/{SEED_IDS['bbc']}?q=%E9%87%91%E6%AD%A3%E6%81%A9+%E6%9C%9D%E9%AE%AE")  # 金正恩 朝鮮
    assert set(page.locator(".text mark").all_inner_texts()) == {"金正恩", "朝鲜", "北韩"}  # 北韩: alias
    # the paragraphs are drawn with the Noto CJK fonts (fonts-noto-cjk), not a fallback's boxes
    cdp = w.context.new_cdp_session(page)
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": ".text p"})["nodeId"]
    cdp.send("CSS.enable")
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cjk = [f for f in fonts if f["familyName"].startswith("Noto Sans CJK")]
    assert cjk and max(f["glyphCount"] for f in fonts) == cjk[0]["glyphCount"], fonts
    w.fits()
    w.shot("article-traditional-query")
    w.close()
