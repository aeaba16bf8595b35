"""The engine seam on a real corpus sample: engine choice per archive, the embedded engine's
answers through the seam equal the library's, paging finds the head of an order without
sorting the rest, ``similar``'s pruned ranking equals the exhaustive one, stats from counts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import corpus_dir, jsonl, run
from newsarc.engine import ENGINE_FILE, EmbeddedEngine, Engine, open_engine
from newsarc.explore import keywords_in
from newsarc.index import open_reader
from newsarc.query import parse_query
from newsarc.search import SearchOptions, bm25f, open_searcher, search, top_bm25f


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("engine-src")
    for f in sorted(corpus_dir("feeds").iterdir())[:120] + sorted(corpus_dir("hkcnews").iterdir())[:80]:
        shutil.copy(f, src / f.name)
    data = tmp_path_factory.mktemp("engine") / "data"
    assert run("ingest", str(src), data=data, env={"NEWSARC_BATCH_SIZE": "40"}).exit_code == 0
    return data


def test_an_archive_without_engine_file_is_embedded(archive: Path) -> None:
    engine = open_engine(archive)
    assert isinstance(engine, EmbeddedEngine) and isinstance(engine, Engine)
    node = parse_query("香港 OR 普京")
    options = SearchOptions(limit=5, page=2)
    through = engine.search(node, options)
    direct = search(archive, "香港 OR 普京", options)
    assert [h.id for h in through.hits] == [h.id for h in direct.hits]
    assert through.total == direct.total > 10
    full, _hits = engine.similar(through.hits[0].id[:8], 3)
    assert full == through.hits[0].id


def test_unknown_or_broken_engine_file_is_one_line(archive: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(archive, data)
    (data / ENGINE_FILE).write_text(json.dumps({"engine": "carrier-pigeon"}), encoding="utf-8")
    result = run("search", "香港", data=data)
    assert result.exit_code == 1
    assert result.stderr.startswith("newsarc: ") and "unknown engine 'carrier-pigeon'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    (data / ENGINE_FILE).write_text("{not json", encoding="utf-8")
    result = run("stats", data=data)
    assert result.exit_code == 1 and "is not valid JSON" in result.stderr
    (data / ENGINE_FILE).write_text(json.dumps({"engine": "embedded"}), encoding="utf-8")
    assert run("search", "香港", data=data).exit_code == 0


@pytest.mark.parametrize("sort", ["relevance", "newest", "oldest"])
@pytest.mark.parametrize("query", ["香港", "美国 OR 中国", "的 -香港", "source:hkcnews"])
def test_pages_are_slices_of_the_whole_order(archive: Path, query: str, sort: str) -> None:
    whole = [h["id"] for h in jsonl(run("search", query, "--all", "--sort", sort, "--json", data=archive).stdout)]
    assert len(whole) > 25
    for page, limit in ((1, 10), (2, 10), (3, 7), (1, 1)):
        result = run("search", query, "--sort", sort, "-n", str(limit), "--page", str(page), "--json",
                     data=archive)
        got = [h["id"] for h in jsonl(result.stdout)]
        assert got == whole[(page - 1) * limit : page * limit], (query, sort, page, limit)


def test_pruned_similar_ranking_equals_the_exhaustive_one(archive: Path) -> None:
    with open_searcher(archive, aliases=False) as searcher:
        reader = searcher.reader
        for docnum in sorted(reader.live_docs())[::25]:
            aid = reader.article_id(docnum)
            terms = keywords_in(searcher, aid, 25)
            everyone = bm25f(reader, terms, reader.live_docs() - {docnum})
            want = sorted(everyone.items(), key=lambda x: (-x[1], x[0]))[:30]
            got = top_bm25f(reader, terms, 30, (docnum,))
            assert [d for d, _ in got] == [d for d, _ in want]
            assert [round(s, 9) for _, s in got] == [round(s, 9) for _, s in want]


@pytest.mark.parametrize(
    "query", ["香港", "香港 警察", "美国 OR 中国", "的 -香港", '"国家安全"', "title:香港", "林郑月娥 OR 普京", "source:hkcnews"]
)
def test_the_array_ranking_equals_the_per_posting_one(
    archive: Path, query: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rankings over numpy arrays (for many postings) give the same hits and the same
    scores, to the bit, as the per-posting one, for every page size."""
    import newsarc.search

    monkeypatch.setattr(newsarc.search, "RERANK_DEPTH", 3)  # heads smaller than the sample's hits
    calls: list[int] = []
    head_bm25f = newsarc.search.head_bm25f
    monkeypatch.setattr(newsarc.search, "head_bm25f", lambda *a: calls.append(a[3]) or head_bm25f(*a))
    with open_searcher(archive, aliases=False) as searcher:
        for limit in (1, 5, 150):
            pages = []
            for arrays in (False, True):
                monkeypatch.setattr(newsarc.search, "arrays_pay", lambda _n, _t, arrays=arrays: arrays)
                result = searcher.search(query, SearchOptions(limit=limit, snippets=False))
                pages.append([(h.id, h.score) for h in result.hits])
            assert pages[0] == pages[1], (query, limit)
            assert len(pages[0]) == min(limit, result.total)
    assert calls[:2] == [3, 5], f"the array ranking was not used ({calls})"


def test_stats_counts_follow_replacements(archive: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(archive, data)
    before = json.loads(run("stats", "--json", data=data).stdout)
    with open_reader(data) as reader:
        assert before["articles"] == reader.doc_count() == 200
    assert sum(before["sources"].values()) == sum(before["years"].values()) == 200
    # a newer version of an article: counted once, its old version uncounted
    f = sorted(corpus_dir("hkcnews").iterdir())[0]
    head, _, rest = f.read_text(encoding="utf-8").partition("\n")
    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / f.name).write_text(f"<!--{int(head[4:-3]) + 1}-->\n{rest}", encoding="utf-8")
    assert "1 updated" in run("ingest", str(newer), data=data).stderr
    after = json.loads(run("stats", "--json", data=data).stdout)
    assert {k: v for k, v in after.items() if k != "size_bytes"} == {
        k: v for k, v in before.items() if k != "size_bytes"
    }
