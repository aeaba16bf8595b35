"""The speed work must not change results: a parallel ingest equals a single-process one."""

from __future__ import annotations

from pathlib import Path

import pytest

import newsarc.index
import newsarc.ingest
from conftest import CORPUS, SEEDS, jsonl, run
from newsarc.ingest import ingest
from newsarc.search import SearchOptions, open_searcher

QUERIES = ["普京 朝鲜", "普京 朝鮮", "崔善姬", "香港", "习近平 -台湾", '"国家安全"', "美国 OR 美國", "title:中国", "的"]


def sample_files() -> list[Path]:
    files = sorted(SEEDS.iterdir())
    for folder, n in (("feeds", 60), ("hkcnews", 40)):
        path = CORPUS / folder
        if path.is_dir():
            files += sorted(path.iterdir())[:n]
    return files


def results(data: Path) -> dict[str, list[tuple[str, float]]]:
    with open_searcher(data) as s:
        return {
            q: [(h.id, round(h.score, 6)) for h in s.search(q, SearchOptions(limit=None)).hits]
            for q in QUERIES
        }


def test_parallel_ingest_equals_single_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = sample_files()
    ingest(files, tmp_path / "single", workers=1)
    monkeypatch.setattr(newsarc.ingest, "POOL_THRESHOLD", 1)
    monkeypatch.setattr(newsarc.index, "PARALLEL_WRITE_MIN_DOCS", 1)
    monkeypatch.setenv("NEWSARC_BATCH_SIZE", "40")
    ingest(files, tmp_path / "parallel", workers=2)
    single = jsonl(run("export", data=tmp_path / "single").stdout)
    parallel = jsonl(run("export", data=tmp_path / "parallel").stdout)
    assert sorted(single, key=lambda r: r["id"]) == sorted(parallel, key=lambda r: r["id"])
    one, two = results(tmp_path / "single"), results(tmp_path / "parallel")
    assert {q: [i for i, _ in hits] for q, hits in one.items()} == {q: [i for i, _ in hits] for q, hits in two.items()}
    assert any(len(hits) > 3 for hits in one.values())


def test_small_segments_are_merged_past_the_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = sorted(SEEDS.iterdir())
    monkeypatch.setenv("NEWSARC_BATCH_SIZE", "1")
    ingest(files, tmp_path / "many", workers=1)
    from newsarc.index import open_index

    with open_index(tmp_path / "many").reader() as reader:
        assert len(reader.leaf_readers()) == 5  # one segment per batch, none merged
    before = results(tmp_path / "many")
    monkeypatch.setattr(newsarc.ingest, "MAX_SEGMENTS", 2)
    newsarc.ingest.merge_segments(open_index(tmp_path / "many"))
    with open_index(tmp_path / "many").reader() as reader:
        assert len(reader.leaf_readers()) == 1
    after = results(tmp_path / "many")  # scores move in the 4th digit (Whoosh's lossy length bytes)
    assert {q: [i for i, _ in hits] for q, hits in after.items()} == {q: [i for i, _ in hits] for q, hits in before.items()}
