"""The speed work must not change results: a parallel ingest equals a single-process one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import newsarc.index
import newsarc.ingest
from conftest import CORPUS, SEED_IDS, SEEDS, jsonl, make_corpus, run
from newsarc.index import (
    APART_PREFIX,
    index_dir,
    index_writer,
    next_merge,
    open_index,
    open_reader,
    tiered_segments,
    write_merged,
)
from newsarc.ingest import ingest
from newsarc.search import SearchOptions, open_searcher

QUERIES = ["普京 朝鲜", "普京 朝鮮", "崔善姬", "香港", "习近平 -台湾", '"国家安全"', "美国 OR 美國", "title:中国", "的"]


def sample_files(tmp: Path) -> list[Path]:
    """The seeds and 100 corpus files (60 feeds, 40 hkcnews); without the corpus, the seeds and 100
    files made from them under ``tmp``."""
    corpus = [
        f for folder, n in (("feeds", 60), ("hkcnews", 40)) if (CORPUS / folder).is_dir()
        for f in sorted((CORPUS / folder).iterdir())[:n]
    ]
    if not corpus:
        make_corpus(tmp / "made", 100)
        corpus = sorted((tmp / "made").iterdir())
    return sorted(SEEDS.iterdir()) + corpus


def results(data: Path) -> dict[str, list[tuple[str, float]]]:
    with open_searcher(data) as s:
        return {
            q: [(h.id, round(h.score, 6)) for h in s.search(q, SearchOptions(limit=None)).hits]
            for q in QUERIES
        }


def test_parallel_ingest_equals_single_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = sample_files(tmp_path)
    ingest(files, tmp_path / "single", workers=1)
    monkeypatch.setattr(newsarc.ingest, "POOL_THRESHOLD", 1)
    monkeypatch.setenv("NEWSARC_BATCH_SIZE", "40")
    ingest(files, tmp_path / "parallel", workers=2)
    single = jsonl(run("export", data=tmp_path / "single").stdout)
    parallel = jsonl(run("export", data=tmp_path / "parallel").stdout)
    assert sorted(single, key=lambda r: r["id"]) == sorted(parallel, key=lambda r: r["id"])
    one, two = results(tmp_path / "single"), results(tmp_path / "parallel")
    assert {q: [i for i, _ in hits] for q, hits in one.items()} == {q: [i for i, _ in hits] for q, hits in two.items()}
    assert any(len(hits) > 3 for hits in one.values())


def test_merging_segments_changes_no_result_or_score(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = sample_files(tmp_path)
    monkeypatch.setenv("NEWSARC_BATCH_SIZE", "20")
    monkeypatch.setattr(newsarc.ingest, "merge_segments", lambda ix, **kw: 0)
    ingest(files, tmp_path / "many", workers=1)
    with open_index(tmp_path / "many").reader() as reader:
        assert len(reader.leaf_readers()) == -(-len(files) // 20)  # one segment per batch
    before = results(tmp_path / "many")
    assert newsarc.index.merge_segments(open_index(tmp_path / "many")) == len(reader.leaf_readers())
    with open_index(tmp_path / "many").reader() as reader:
        assert len(reader.leaf_readers()) == 1
        assert reader.doc_count_all() == reader.doc_count() == len(files)
    assert results(tmp_path / "many") == before  # same ids, same order, same scores


def test_a_long_ingest_keeps_its_segments_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Segments count like digits (here base 3, levels from 2 documents): a long ingest never holds
    more than two of a level, and they stay in order of size, the oldest the largest."""
    files = sample_files(tmp_path)[:40]
    monkeypatch.setenv("NEWSARC_BATCH_SIZE", "2")
    monkeypatch.setattr(newsarc.index, "MERGE_FACTOR", 3)
    monkeypatch.setattr(newsarc.index, "MERGE_FLOOR_DOCS", 2)
    counts: list[int] = []

    def segments(phase: str, done: int, total: int) -> None:
        if phase == "index":  # before each batch is committed: the segments the previous ones left
            with open_index(tmp_path / "data").reader() as reader:
                sizes = [leaf.doc_count_all() for leaf, _ in reader.leaf_readers()]
            levels = [newsarc.index.segment_level(n) for n in sizes]
            assert levels == sorted(levels, reverse=True), sizes
            assert all(levels.count(level) < 3 for level in levels), sizes
            counts.append(len(sizes))

    ingest(files, tmp_path / "data", workers=1, on_progress=segments)
    assert len(counts) == 20 and max(counts) <= 6
    with open_index(tmp_path / "data").reader() as reader:
        sizes = [leaf.doc_count_all() for leaf, _ in reader.leaf_readers()]
    assert sum(sizes) == 40 and sizes == [18, 18, 2, 2]  # 40 = 18 + 18 + 2 + 2: levels 3, 3, 1, 1


def test_merge_drops_replaced_versions(tmp_path: Path) -> None:
    seed = sorted(SEEDS.iterdir())[0]
    text = seed.read_text(encoding="utf-8")
    ms = int(text[4 : text.index("-->")])
    newer = tmp_path / "newer.md"
    newer.write_text(text.replace(str(ms), str(ms + 1000), 1).replace("</p>", "</p><p>补充报道。</p>", 1), encoding="utf-8")
    data = tmp_path / "data"
    ingest([seed], data, workers=1)
    ingest([newer], data, workers=1)  # replaces the article: its old document is deleted, then merged away
    with open_index(data).reader() as reader:
        assert reader.doc_count_all() == reader.doc_count() == 1
    with open_searcher(data) as s:
        assert [h.id for h in s.search("补充报道").hits] == [SEED_IDS["voa_2023"]]


class _Seg:
    def __init__(self, n: int, deleted: int = 0) -> None:
        self.n, self.deleted = n, deleted

    def doc_count(self) -> int:
        return self.n - self.deleted

    def doc_count_all(self) -> int:
        return self.n

    def deleted_count(self) -> int:
        return self.deleted


@pytest.mark.parametrize(
    ("sizes", "final", "kept"),
    [
        ([500] * 8, False, 0),  # eight batches of one level: merged into one of the next
        ([13_000, 500, 500, 500], False, 4),  # during an ingest, three small ones wait
        ([13_000, 500, 500, 500], True, 1),  # at its end, the small ones merge; the big segment stays
        ([13_000, 9_000, 500], True, 3),  # one small segment: nothing to merge
        ([13_000, *[2_000] * 8], False, 1),  # eight of a level, whatever is older
        ([13_000, *[2_000] * 7], True, 8),  # seven of a level wait, even at the end
        ([5, 3, 1], True, 0),  # under the floor: everything merges at the end
        ([20_000], True, 1),
    ],
)
def test_tiered_merge_policy(sizes: list[int], final: bool, kept: int) -> None:
    segments = [_Seg(n) for n in sizes]
    keep, merge = tiered_segments(segments, final=final)
    assert keep == segments[:kept] and merge == segments[kept:]


def test_a_newest_segment_a_tenth_replaced_is_rewritten_alone_at_the_end() -> None:
    segments = [_Seg(20_000), _Seg(3_000, deleted=400)]
    assert tiered_segments(segments, final=True) == (segments[:1], segments[1:])
    assert tiered_segments(segments, final=False) == (segments, [])
    assert tiered_segments([_Seg(20_000), _Seg(3_000, deleted=200)], final=True)[1] == []


def test_versions_of_an_article_in_later_batches_of_a_parallel_ingest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers write the segments; each batch's is committed before the next batch's replaces
    what it holds: every article is indexed once, as its newest version, as in one process."""
    corpus = tmp_path / "corpus"
    urls = make_corpus(corpus, 30)
    for i in range(0, 30, 3):  # newer versions, ingested after the older ones (their names sort last)
        text = (corpus / f"{i:04d}.txt").read_text(encoding="utf-8")
        ms = int(text[4 : text.index("-->")])
        newer = text.replace(str(ms), str(ms + 1000), 1).replace("</p>", f"</p><p>补充报道{i}。</p>", 1)
        (corpus / f"z{i:04d}.txt").write_text(newer, encoding="utf-8")
    monkeypatch.setenv("NEWSARC_BATCH_SIZE", "4")
    ingest([corpus], tmp_path / "single", workers=1)
    monkeypatch.setattr(newsarc.ingest, "POOL_THRESHOLD", 1)
    summary = ingest([corpus], tmp_path / "parallel", workers=2)
    assert (summary.added, summary.updated) == (30, 10)
    with open_index(tmp_path / "parallel").reader() as reader:
        assert reader.doc_count() == len(urls) == 30
    for data in (tmp_path / "single", tmp_path / "parallel"):
        with open_searcher(data) as s:
            found = s.search('"补充报道"', SearchOptions(limit=None)).hits
            assert len(found) == 10 and all("补充报道" in h.snippet for h in found)
    assert results(tmp_path / "single") == results(tmp_path / "parallel")
    assert [n for n in os.listdir(index_dir(tmp_path / "parallel")) if n.startswith(APART_PREFIX)] == []


def test_a_segment_written_apart_and_never_committed_is_removed(tmp_path: Path) -> None:
    """What a killed ingest's worker wrote is never read, and the next ingest removes it."""
    data = tmp_path / "data"
    assert run("ingest", str(SEEDS), data=data).exit_code == 0
    before = results(data)
    apart = index_dir(data) / f"{APART_PREFIX}killed"
    shutil.copytree(index_dir(data), apart, ignore=shutil.ignore_patterns("*WRITELOCK"))
    assert results(data) == before
    result = run("ingest", str(SEEDS), data=data)
    assert result.exit_code == 0 and result.stderr.startswith("ingested 5 files: 0 added"), result.stderr
    assert not apart.exists()
    assert results(data) == before
    assert run("check", data=data).exit_code == 0



def _newer_version(src: Path, dst: Path, tag: str) -> None:
    """Write a newer version of archive file ``src`` (a later time, a paragraph more) to ``dst``."""
    text = src.read_text(encoding="utf-8")
    ms = int(text[4 : text.index("-->")])
    dst.write_text(text.replace(str(ms), str(ms + 1000), 1).replace("</p>", f"</p><p>补充报道{tag}。</p>", 1),
                   encoding="utf-8")


def test_a_merge_apart_carries_over_what_was_deleted_while_it_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker merges segments while the ingest replaces documents in them: the merged segment
    takes their place with those documents deleted, and searches find each article once."""
    corpus = tmp_path / "corpus"
    make_corpus(corpus, 12)
    monkeypatch.setenv("NEWSARC_BATCH_SIZE", "3")
    monkeypatch.setattr(newsarc.ingest, "merge_segments", lambda ix, **kw: 0)
    monkeypatch.setattr(newsarc.index, "MERGE_FACTOR", 4)
    monkeypatch.setattr(newsarc.index, "MERGE_FLOOR_DOCS", 2)
    data = tmp_path / "data"
    ingest([corpus], data, workers=1)  # four segments of three
    with open_reader(data) as reader:
        ids = [reader.article_id(n) for n in range(reader.doc_count_all())]
    assert len(set(ids)) == 12

    def replace(*numbers: int) -> None:
        newer = tmp_path / f"newer{numbers}"
        newer.mkdir()
        for n in numbers:
            _newer_version(corpus / f"{n:04d}.txt", newer / f"{n:04d}.txt", str(n))
        assert ingest([newer], data, workers=1).updated == len(numbers)

    replace(1)  # before the merge is picked
    ix = open_index(data)
    merge = next_merge(ix)
    assert merge is not None and [seg.doc_count() for seg in merge.segments] == [2, 3, 3, 3]
    assert next_merge(ix, [merge]) is None  # what a running merge holds is not picked again
    replace(4, 10)  # while it runs
    written = write_merged(index_dir(data), merge)
    writer = index_writer(ix)
    writer.replace(merge, written)
    writer.commit()
    with open_index(data).reader() as reader:
        assert [leaf.doc_count() for leaf, _ in reader.leaf_readers()] == [9, 1, 2]
        assert [leaf.doc_count_all() for leaf, _ in reader.leaf_readers()] == [11, 1, 2]
    with open_reader(data) as reader:
        order = [n for n in range(12) if n not in (1, 4, 10)] + [1, 4, 10]
        assert [reader.article_id(n) for n in sorted(reader.live_docs())] == [ids[n] for n in order]
    with open_searcher(data) as s:
        assert {h.id for h in s.search("的", SearchOptions(limit=None)).hits} == set(ids)
        found = s.search('"补充报道"', SearchOptions(limit=None)).hits
        assert sorted(h.id for h in found) == sorted(ids[n] for n in (1, 4, 10))
    assert [n for n in os.listdir(index_dir(data)) if n.startswith(APART_PREFIX)] == []
    assert run("check", data=data).exit_code == 0


def test_a_parallel_ingest_merges_apart_and_finds_what_one_process_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With small merge levels, a parallel ingest's workers merge segments while it commits the
    next ones (some replacing articles the merges hold): every article is indexed once, as its
    newest version, and searches find what a one-process ingest finds."""
    corpus = tmp_path / "corpus"
    make_corpus(corpus, 40)
    for i in range(0, 40, 4):  # newer versions, in later batches (their names sort last)
        _newer_version(corpus / f"{i:04d}.txt", corpus / f"z{i:04d}.txt", str(i))
    monkeypatch.setenv("NEWSARC_BATCH_SIZE", "2")
    monkeypatch.setattr(newsarc.index, "MERGE_FACTOR", 3)
    monkeypatch.setattr(newsarc.index, "MERGE_FLOOR_DOCS", 2)
    ingest([corpus], tmp_path / "single", workers=1)
    started: list[int] = []
    write_merged = newsarc.ingest._Workers.write_merged

    def counted(self, folder, merge):  # type: ignore[no-untyped-def]
        started.append(len(merge.segments))
        return write_merged(self, folder, merge)

    monkeypatch.setattr(newsarc.ingest._Workers, "write_merged", counted)
    monkeypatch.setattr(newsarc.ingest, "POOL_THRESHOLD", 1)
    summary = ingest([corpus], tmp_path / "parallel", workers=2)
    assert (summary.added, summary.updated) == (40, 10)
    assert len(started) >= 5 and min(started) >= 3
    with open_index(tmp_path / "parallel").reader() as reader:
        assert reader.doc_count() == 40
        levels = [newsarc.index.segment_level(leaf.doc_count_all()) for leaf, _ in reader.leaf_readers()]
        assert all(levels.count(level) < 3 for level in levels), levels
    one, two = results(tmp_path / "single"), results(tmp_path / "parallel")
    assert {q: sorted(i for i, _ in hits) for q, hits in one.items()} == {
        q: sorted(i for i, _ in hits) for q, hits in two.items()
    }
    with open_searcher(tmp_path / "parallel") as s:
        assert len(s.search('"补充报道"', SearchOptions(limit=None)).hits) == 10
    assert [n for n in os.listdir(index_dir(tmp_path / "parallel")) if n.startswith(APART_PREFIX)] == []
    assert run("check", data=tmp_path / "parallel").exit_code == 0


def test_segment_documents_reach_a_worker_in_a_file_not_its_pipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task larger than a worker's pipe holds waits until a worker is idle, holding up those
    behind it: every task an ingest gives its workers stays small (a segment's documents go in a
    file), and the files of documents are gone when it ends."""
    from newsarc.workers import Workers

    sizes: list[int] = []
    submit = Workers.submit

    def measured(self, fn, *args, **kw):  # type: ignore[no-untyped-def]
        job = submit(self, fn, *args, **kw)
        sizes.append(len(job.message))
        return job

    monkeypatch.setattr(Workers, "submit", measured)
    monkeypatch.setattr(newsarc.ingest, "POOL_THRESHOLD", 1)
    files = sample_files(tmp_path)
    summary = ingest(files, tmp_path / "data", workers=2, batch_size=100)
    assert summary.added == len(files)
    assert len(sizes) > 10 and max(sizes) < 8192, sorted(sizes)[-5:]
    assert [n for n in os.listdir(index_dir(tmp_path / "data")) if n.startswith(APART_PREFIX)] == []
