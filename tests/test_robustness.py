"""Hostile input: random and mutated archive files, random queries, pathological files."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsarc import ingest as ingest_mod
from newsarc.errors import NewsarcError, RejectedFile
from newsarc.parse import parse_bytes
from newsarc.query import parse_query
from newsarc.search import SearchOptions, open_searcher

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SEED_BYTES = [p.read_bytes() for p in sorted(SEEDS.glob("*.txt"))]
FUZZ_FILES = int(os.environ.get("NEWSARC_FUZZ_FILES", "150"))
FUZZ_QUERIES = int(os.environ.get("NEWSARC_FUZZ_QUERIES", "300"))
COUNTS = {"files": 0, "queries": 0, "searches": 0}


def _parse_ok(data: bytes) -> None:
    try:
        article = parse_bytes(data, "fuzz.txt")
    except RejectedFile as exc:
        assert exc.reason and "\n" not in exc.reason
    else:
        assert article.id and article.url
    COUNTS["files"] += 1


@st.composite
def mutated_seed(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEED_BYTES)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "cut", "dup"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(max_size=40)) or b"\x00"
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 200))]
        elif op == "cut":
            del data[pos:]
        else:
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 300))]
    return bytes(data)


@settings(max_examples=FUZZ_FILES, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated_seed())
def test_parser_on_mutated_seeds(data: bytes) -> None:
    _parse_ok(data)


@settings(max_examples=FUZZ_FILES // 2, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.binary(max_size=2000), st.text(max_size=500).map(lambda t: t.encode("utf-8", "surrogatepass")),
                 st.text(max_size=300).map(lambda t: ("<!--1694965143000-->\n[t](https://x.org/a)\n\n" + t).encode(
                     "utf-8", "surrogatepass"))))
def test_parser_on_random_bytes(data: bytes) -> None:
    _parse_ok(data)


QUERY_ALPHABET = st.sampled_from(list('普京朝鲜金正恩 "()-:“”「」（）：ORANDNOTtitlesourceauthor\x00\x1b\u202e\t\n\ud800'))
QUERIES = st.one_of(st.text(max_size=60), st.text(QUERY_ALPHABET, max_size=40))


@settings(max_examples=FUZZ_QUERIES, deadline=None, suppress_health_check=list(HealthCheck))
@given(QUERIES)
def test_query_parser_raises_only_newsarc_errors(text: str) -> None:
    COUNTS["queries"] += 1
    with contextlib.suppress(NewsarcError):
        parse_query(text)


@pytest.fixture(scope="module")
def seed_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp() / "newsarc-template"
    if not (base / "articles.db").exists():
        ingest_mod.ingest([SEEDS / sorted(os.listdir(SEEDS))[0]], base, workers=1)
    data = tmp_path_factory.mktemp("seedarc") / "data"
    shutil.copytree(base, data)
    ingest_mod.ingest([SEEDS], data, workers=1)
    return data


def test_searcher_on_random_queries(seed_archive: Path) -> None:
    with open_searcher(seed_archive) as searcher:

        @settings(max_examples=FUZZ_QUERIES // 2, deadline=None, suppress_health_check=list(HealthCheck))
        @given(QUERIES, st.sampled_from(["relevance", "newest", "oldest"]))
        def run(text: str, sort: str) -> None:
            COUNTS["searches"] += 1
            try:
                result = searcher.search(text, SearchOptions(sort=sort, limit=5))
            except NewsarcError:
                return
            assert result.total >= len(result.hits)

        run()
    print(f"\nfuzz counts: {COUNTS}")


# ----------------------------------------------------------------------------- pathological files

HEADER = b"<!--1694965143000-->\n[\xe6\xa0\x87\xe9\xa2\x98](https://example.com/a)\n------\n\n"


@pytest.mark.parametrize(
    "name, make, limit_s",
    [
        ("nested divs", lambda: HEADER + b"<div>" * 100_000 + "正文".encode() + b"</div>" * 100_000, 20),
        ("html bomb", lambda: HEADER + b"<p>\xe6\x96\x87</p>" + b"<b></b>" * 300_000, 10),
        ("nul bytes", lambda: HEADER + b"<p>\xe6\x96\x87\x00\x00\xe5\xad\x97</p>" * 100, 5),
        ("invalid utf-8", lambda: HEADER + b"<p>" + "正文".encode() * 50 + b"\xff\xfe\xc3" + "后".encode() * 50 + b"</p>", 5),
        ("100 KB title", lambda: b"<!--1694965143000-->\n[" + "标".encode() * 34_000 + b"](https://e.com/a)\n\n<p>x</p>", 5),
        ("one long line", lambda: HEADER + b"<p>" + "字".encode() * 3_000_000 + b"</p>", 30),
    ],
)
def test_pathological_files(name: str, make, limit_s: float) -> None:  # type: ignore[no-untyped-def]
    data = make()
    started = time.perf_counter()
    try:
        article = parse_bytes(data, name)
        outcome = f"parsed ({len(article.text)} chars)"
    except RejectedFile as exc:
        outcome = f"rejected: {exc.reason}"
        assert "\n" not in exc.reason
    took = time.perf_counter() - started
    print(f"\n{name}: {len(data)} bytes, {outcome}, {took:.2f} s")
    assert took < limit_s


def test_oversized_file_is_rejected_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.txt"
    with open(big, "wb") as fh:  # 50 MB, sparse: one line
        fh.truncate(50 * 1024 * 1024)
    opened: list[str] = []
    real_open = open

    def spy(file, *a, **k):  # type: ignore[no-untyped-def]
        opened.append(str(file))
        return real_open(file, *a, **k)

    monkeypatch.setattr("builtins.open", spy)
    ingest_mod._init_worker(())
    started = time.perf_counter()
    task = ingest_mod.FileTask(str(big), str(big), None)
    result = ingest_mod._work(task)
    assert (result.analysed, result.rejected) == (None, "file too large: 50.0 MB > 20 MB")
    assert str(big) not in opened and time.perf_counter() - started < 1
