"""A damaged archive says so and is repairable; a crafted index runs no code (issue 11).

Every test attacks a copy of one archive of real corpus files through the CLI
and asserts exactly what the user is told, then (where there is one) that the
repair brings back exactly the answers of the undamaged archive.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from whoosh.filedb.structfile import StructFile

from conftest import SEEDS, corpus_dir, jsonl, run
from newsarc.index import index_dir

FILES = 60
QUERY = "美国"
REPAIRED = "run `newsarc reindex` to rebuild it from the store"


@pytest.fixture(scope="module")
def corpus_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive of the first files of the corpus's feeds (read-only: tests copy it)."""
    files = sorted(corpus_dir("feeds").glob("*.txt"))[:FILES]
    data = tmp_path_factory.mktemp("integrity") / "data"
    result = run("ingest", *map(str, files), data=data)
    assert result.exit_code == 0, result.stderr
    return data


@pytest.fixture
def data(corpus_archive: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(corpus_archive, target)
    return target


def hit_ids(data: Path, query: str = QUERY) -> list[str]:
    result = run("search", query, "--all", "--json", data=data)
    # exit 1 is also an error's: only "no hits" may say so
    assert result.exit_code == 0 or (result.exit_code == 1 and result.stderr.startswith("no hits")), result.stderr
    return [hit["id"] for hit in jsonl(result.stdout)]


def segment_file(data: Path, ext: str) -> Path:
    (path,) = index_dir(data).glob(f"*{ext}")
    return path


def flip(path: Path, at: int, count: int = 1) -> None:
    raw = bytearray(path.read_bytes())
    for i in range(at, at + count):
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))


def damaged(data: Path, problem: str) -> str:
    return f"newsarc: damaged search index in {index_dir(data)}: {problem}; {REPAIRED}\n"


def test_a_sound_archive_checks_clean(data: Path) -> None:
    result = run("check", "--json", data=data)
    assert result.exit_code == 0, result.stdout
    (report,) = jsonl(result.stdout)
    assert report["ok"] is True and report["problems"] == []
    assert report["articles"] == report["records"] == report["index_documents"] == FILES
    assert report["segments"] == 1


# --------------------------------------------------------------------------- a missing index


def test_a_removed_index_is_named_and_rebuilt_by_reindex(data: Path) -> None:
    truth = hit_ids(data)
    assert len(truth) > 5
    shutil.rmtree(index_dir(data))
    result = run("search", QUERY, data=data)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"newsarc: no search index in {index_dir(data)} (run `newsarc reindex` to rebuild it from the store)\n"
    check = run("check", data=data)
    assert check.exit_code == 1
    assert check.stdout == (
        f"index: no search index in {index_dir(data)} (run `newsarc reindex` to rebuild it from "
        "the store) (repair: newsarc reindex)\n"
    )
    assert run("reindex", data=data).exit_code == 0
    assert hit_ids(data) == truth
    assert run("check", data=data).exit_code == 0


def test_an_ingest_after_the_index_was_removed_indexes_every_stored_article(data: Path, seed_archive: Path) -> None:
    truth = set(hit_ids(data)) | set(hit_ids(seed_archive))
    shutil.rmtree(index_dir(data))
    result = run("ingest", str(SEEDS), data=data)
    assert result.exit_code == 0, result.stderr
    assert f"the search index lacks stored articles: re-indexing all {FILES}\n" in result.stderr
    assert set(hit_ids(data)) == truth
    assert run("check", data=data).exit_code == 0


def test_an_older_index_with_fewer_articles_than_the_store_is_damage(data: Path, tmp_path: Path) -> None:
    older = tmp_path / "older-index"
    shutil.copytree(index_dir(data), older)
    assert run("ingest", str(SEEDS), data=data).exit_code == 0
    shutil.rmtree(index_dir(data))
    shutil.copytree(older, index_dir(data))
    result = run("search", QUERY, data=data)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == damaged(data, f"it holds {FILES} articles, the store {FILES + 5} indexed ones")
    assert run("reindex", data=data).exit_code == 0
    assert run("check", data=data).exit_code == 0


@pytest.mark.parametrize("how", ["truncated", "deleted"])
def test_reindex_rebuilds_a_truncated_or_deleted_term_dictionary(data: Path, how: str) -> None:
    truth = hit_ids(data)
    terms = segment_file(data, ".ntd")
    written = terms.stat().st_size
    if how == "truncated":
        terms.write_bytes(terms.read_bytes()[:1000])
        problem = f"{terms.name} has 1000 bytes, {written} were written"
    else:
        terms.unlink()
        problem = f"{terms.name} is missing"
    result = run("search", QUERY, data=data)
    assert (result.exit_code, result.stderr) == (1, damaged(data, problem))
    check = run("check", data=data)
    assert (check.exit_code, check.stdout) == (1, f"index: {index_dir(data)}: {problem} (repair: newsarc reindex)\n")
    result = run("reindex", data=data)
    assert (result.exit_code, result.stderr) == (0, f"re-indexed {FILES} articles\n")
    assert hit_ids(data) == truth
    assert run("check", data=data).exit_code == 0


# --------------------------------------------------------------------------- silent corruption


def test_one_changed_byte_in_a_posting_list_is_damage_not_wrong_hits(data: Path) -> None:
    truth = hit_ids(data, "一批")
    postings = segment_file(data, ".npo")
    flip(postings, postings.stat().st_size // 2)
    result = run("search", "一批", data=data)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == damaged(data, f"{postings.name} fails its CRC32 checksum")
    check = run("check", "--json", data=data)
    assert check.exit_code == 1
    assert jsonl(check.stdout)[0]["problems"] == [
        {
            "part": "index",
            "problem": f"{index_dir(data)}: {postings.name} fails its CRC32 checksum",
            "repair": "newsarc reindex",
        }
    ]
    assert run("reindex", data=data).exit_code == 0
    assert hit_ids(data, "一批") == truth


def test_forty_flipped_bytes_in_the_key_column_are_damage(data: Path) -> None:
    keys = segment_file(data, ".key.col")
    flip(keys, 100, 40)
    result = run("search", QUERY, data=data)
    assert (result.exit_code, result.stderr) == (1, damaged(data, f"{keys.name} fails its CRC32 checksum"))


def _record_offset(db: Path, row: int) -> int:
    """Where in the database file a stored record's blob lies (after a checkpoint)."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    article_id, blob = conn.execute(
        "SELECT id, record FROM articles ORDER BY published_ts, id LIMIT 1 OFFSET ?", (row,)
    ).fetchone()
    conn.close()
    at = db.read_bytes().find(blob[8:40])
    assert at > 0
    return at


def test_export_skips_a_damaged_record_names_it_and_fails_at_the_end(data: Path) -> None:
    db = data / "articles.db"
    conn = sqlite3.connect(db)
    (article_id,) = conn.execute(
        "SELECT id FROM articles ORDER BY published_ts, id LIMIT 1 OFFSET 20"
    ).fetchone()
    conn.close()
    flip(db, _record_offset(db, 20), 200)
    integrity = sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0]
    assert integrity == "ok"  # SQLite cannot see it: only the record's own checksum can
    result = run("export", data=data)
    assert result.exit_code == 1
    assert len(jsonl(result.stdout)) == FILES - 1
    assert article_id not in result.stdout
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"newsarc: skipped damaged record {article_id}: ")
    assert lines[1:] == ["newsarc: 1 damaged records not exported (see `newsarc check`)"]
    check = run("check", data=data)
    assert check.exit_code == 1
    assert check.stdout.startswith(f"record: damaged record {article_id}: ")
    assert check.stderr == "newsarc: the archive is damaged: 1 problem\n"


def test_a_truncated_database_is_reported_damaged_not_foreign(data: Path) -> None:
    db = data / "articles.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with open(db, "r+b") as fh:
        fh.truncate(db.stat().st_size // 3)
    result = run("search", QUERY, data=data)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"newsarc: damaged archive {data}: articles.db is damaged (")
    assert "not a newsarc archive" not in result.stderr
    check = run("check", data=data)
    assert check.exit_code == 1
    assert check.stdout.startswith("store: articles.db: ")


# --------------------------------------------------------------------------- a crafted index


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def _craft_toc(toc: Path, *, schema: object | None = None, segments: object | None = None) -> None:
    """Replace the schema or the segment list pickled in a real table of contents."""
    src = StructFile(io.BytesIO(toc.read_bytes()))
    head = [src.read_varint() for _ in range(3)], src.read_int(), src.read_int(), [src.read_varint() for _ in range(3)]
    old_schema = src.read_string()
    gen, unused = src.read_int(), src.read_int()
    old_segments = src.read()
    out = io.BytesIO()
    dst = StructFile(out)
    for n in head[0]:
        dst.write_varint(n)
    dst.write_int(head[1])
    dst.write_int(head[2])
    for n in head[3]:
        dst.write_varint(n)
    dst.write_string(pickle.dumps(schema) if schema is not None else old_schema)
    dst.write_int(gen)
    dst.write_int(unused)
    dst.write(pickle.dumps(segments) if segments is not None else old_segments)
    toc.write_bytes(out.getvalue())


def test_a_toc_whose_segment_pickle_runs_code_is_refused(data: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (toc,) = index_dir(data).glob("_MAIN_*.toc")
    _craft_toc(toc, segments=[_RunsCode(marker)])
    result = run("search", QUERY, data=data)
    assert not marker.exists()
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"newsarc: damaged search index: {toc.name} is not a newsarc table of contents "
        f"(posix.system is not part of a newsarc index); {REPAIRED}\n"
    )
    assert run("check", data=data).exit_code == 1
    assert not marker.exists()
    assert run("reindex", data=data).exit_code == 0
    assert not marker.exists()
    assert run("check", data=data).exit_code == 0


def test_a_toc_naming_a_segment_outside_the_index_is_refused(data: Path) -> None:
    from whoosh.filedb.filestore import FileStorage

    from newsarc.index import make_schema
    from newsarc.integrity import read_toc

    (toc,) = index_dir(data).glob("_MAIN_*.toc")
    (segment,) = read_toc(FileStorage(str(index_dir(data))), "MAIN", make_schema()).segments
    segment.segid = "x/../../../elsewhere"
    _craft_toc(toc, segments=[segment])
    result = run("search", QUERY, data=data)
    assert (result.exit_code, result.stderr) == (
        1, f"newsarc: damaged search index: {toc.name} is not a newsarc table of contents; {REPAIRED}\n"
    )


def test_a_toc_whose_schema_pickle_runs_code_is_never_unpickled(data: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    truth = hit_ids(data)
    (toc,) = index_dir(data).glob("_MAIN_*.toc")
    _craft_toc(toc, schema=_RunsCode(marker))
    assert hit_ids(data) == truth  # the schema is newsarc's own, not the archive's
    assert run("ingest", str(SEEDS), data=data).exit_code == 0
    assert not marker.exists()


def _segment(data: Path):  # type: ignore[no-untyped-def]
    from whoosh.filedb.filestore import FileStorage

    from newsarc.index import make_schema
    from newsarc.integrity import read_toc

    storage = FileStorage(str(index_dir(data)))
    (segment,) = read_toc(storage, "MAIN", make_schema()).segments
    return storage, segment


def _stored_column(values: dict[int, object], doccount: int, prefix: bytes = b"") -> bytes:
    """A stored-fields column as Whoosh writes one (after ``prefix``): ``values`` by docnum."""
    from whoosh.codec.whoosh3 import STORED_COLUMN

    out = io.BytesIO()
    dbfile = StructFile(out)
    dbfile.write(prefix)
    writer = STORED_COLUMN.writer(dbfile)
    for docnum in sorted(values):
        writer.add(docnum, values[docnum])
    writer.finish(doccount)
    return out.getvalue()


def test_stored_fields_whose_pickle_runs_code_are_refused(data: Path, tmp_path: Path) -> None:
    """Searching, merging (an ingest) and checking read the stored fields without running any
    code (the code before this test ran it on each)."""
    from newsarc.integrity import write_segment_checksums

    marker = tmp_path / "pwned"
    before = hit_ids(data, "普京")
    storage, segment = _segment(data)
    n = segment.doc_count_all()
    crafted = _stored_column({d: {"id": _RunsCode(marker)} for d in range(n)}, n)
    segment_file(data, "._stored.col").write_bytes(crafted)
    write_segment_checksums(storage, segment)  # what someone crafting an archive would do too
    refusal = (
        "newsarc: damaged search index: unreadable stored fields "
        f"(posix.system is not a stored field of a newsarc index); {REPAIRED}\n"
    )
    result = run("search", QUERY, data=data)
    assert not marker.exists()
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", refusal)
    ingest = run("ingest", str(SEEDS), data=data)  # merges the crafted segment with the seeds'
    assert not marker.exists()
    assert (ingest.exit_code, ingest.stderr) == (1, refusal)
    check = run("check", data=data)
    assert not marker.exists()
    assert (check.exit_code, check.stdout, check.stderr) == (
        1,
        f"index: {index_dir(data)}: cannot read: {refusal.removeprefix('newsarc: ').rstrip()} "
        "(repair: newsarc reindex)\n",
        "newsarc: the archive is damaged: 1 problem\n",
    )
    assert run("reindex", data=data).exit_code == 0
    assert run("check", data=data).exit_code == 0
    assert not marker.exists()
    after = hit_ids(data, "普京")  # the seeds were stored by the ingest, and are indexed now
    assert set(before) < set(after) and len(after) == len(before) + 5


@pytest.mark.parametrize("doccount", [1_000, 40_000], ids=["lengths-only", "with-offsets"])
def test_stored_fields_are_read_as_whoosh_reads_them(doccount: int) -> None:
    """Both layouts of the column (Whoosh writes the offsets only above 32,768 documents), one
    document at a time or the whole table at once, anywhere in a file; empty documents too."""
    from whoosh.codec.whoosh3 import STORED_COLUMN

    from newsarc.index import _StoredColumn

    values: dict[int, object] = {d: {"id": f"{d * 7919:x}", "x": "國際" * (d % 5)} for d in range(doccount) if d % 13}
    prefix = b"\x00" * 37
    raw = _stored_column(values, doccount, prefix)
    dbfile = StructFile(io.BytesIO(raw))
    whoosh = STORED_COLUMN.reader(dbfile, len(prefix), len(raw) - len(prefix), doccount)
    assert whoosh._child.had_stored_offsets is (doccount > 2**15)
    for whole in (False, True):
        ours = _StoredColumn(dbfile, len(prefix), len(raw) - len(prefix), doccount, whole=whole)
        assert [ours[d] for d in range(doccount)] == [whoosh[d] or {} for d in range(doccount)]
        assert ours[doccount - 1] == values[doccount - 1] and ours[13] == {}


# --------------------------------------------------------------------------- a dictionary change


WORDS = ("美国总统", "新冠疫情", "国家安全法")


def substring_count(data: Path, word: str) -> int:
    """The truth: how many stored articles' folded title, text or captions contain ``word``."""
    from newsarc.analysis import fold

    records = jsonl(run("export", data=data).stdout)
    return sum(
        any(word in fold(part) for part in (r["title"], r["text"], *r["captions"])) for r in records
    )


def counts(data: Path) -> tuple[int, ...]:
    return tuple(len(hit_ids(data, word)) for word in WORDS)


def _newsarc(data: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "newsarc", "--data", str(data), *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "NEWSARC_BATCH_SIZE": "10", "NO_COLOR": "1"},
    )  # fmt: skip


def _words_file(tmp_path: Path) -> Path:
    words = tmp_path / "words.txt"
    words.write_text("".join(f"{w} 100 n\n" for w in WORDS), encoding="utf-8")
    return words


def test_searches_during_a_dictionary_change_are_never_a_mix(data: Path, tmp_path: Path) -> None:
    before = counts(data)
    truth = tuple(substring_count(data, w) for w in WORDS)
    assert before != truth and all(truth)  # the dictionary changes the answers: 美国总统 as one word
    one_file = sorted(corpus_dir("feeds").glob("*.txt"))[0]
    proc = _newsarc(data, "ingest", "--dict", str(_words_file(tmp_path)), str(one_file))
    seen = []
    while proc.poll() is None:
        seen.append(counts(data))
    assert proc.wait() == 0, proc.stderr.read() if proc.stderr else ""
    seen.append(counts(data))
    assert set(seen) <= {before, truth}, seen
    assert seen[-1] == truth and seen == sorted(seen, key=lambda c: c == truth)  # old, then new, once


def test_a_kill_right_after_the_dictionary_commit_leaves_searches_right(data: Path, tmp_path: Path) -> None:
    before = counts(data)
    truth = tuple(substring_count(data, w) for w in WORDS)
    one_file = sorted(corpus_dir("feeds").glob("*.txt"))[0]
    proc = _newsarc(data, "ingest", "--dict", str(_words_file(tmp_path)), str(one_file))
    db = f"file:{data / 'articles.db'}?mode=ro"
    try:
        while proc.poll() is None:
            with contextlib.closing(sqlite3.connect(db, uri=True)) as conn:
                try:
                    # the dictionary commit marks every article for re-indexing
                    if conn.execute("SELECT 1 FROM articles WHERE indexed = 0 LIMIT 1").fetchone():
                        proc.send_signal(signal.SIGKILL)
                        break
                except sqlite3.OperationalError:  # busy: try again
                    pass
            time.sleep(0.005)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the ingest ended before its dictionary commit was seen"
    assert counts(data) == before  # cut with the dictionary the index was built with
    assert run("check", data=data).exit_code == 0
    result = run("ingest", str(one_file), data=data)
    assert result.exit_code == 0, result.stderr
    assert counts(data) == truth


def test_a_search_opened_before_a_dictionary_switch_starts_again_after_it(data: Path, tmp_path: Path) -> None:
    """The race behind a search that found nothing mid-switch: a searcher opened its index while
    the re-index was under way, and cut the query with the dictionary switched in after that."""
    from newsarc.errors import ArchiveChanged
    from newsarc.search import SearchOptions, open_searcher, searching

    word = WORDS[1]  # 新冠疫情: cut as characters before the change, one word after
    truth = substring_count(data, word)
    stale = open_searcher(data)
    one_file = sorted(corpus_dir("feeds").glob("*.txt"))[0]
    result = run("ingest", "--dict", str(_words_file(tmp_path)), str(one_file), data=data)
    assert result.exit_code == 0, result.stderr
    with stale, pytest.raises(ArchiveChanged):  # its index may predate the re-index
        stale.search(word)
    opened = []

    def work(searcher):  # type: ignore[no-untyped-def]
        opened.append(searcher)
        if len(opened) == 1:
            raise ArchiveChanged("switched")
        return searcher.search(word, SearchOptions(limit=100)).total

    assert searching(data, work) == truth and len(opened) == 2 and opened[0] is not opened[1]


# --------------------------------------------------------------------------- a commit while opening


def test_a_table_of_contents_removed_after_the_listing_is_read_from_the_newer_one(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from whoosh import index as whoosh_index
    from whoosh.filedb.filestore import FileStorage

    from newsarc.index import INDEX_NAME, make_schema
    from newsarc.integrity import read_toc

    storage = FileStorage(str(index_dir(data)))
    real = whoosh_index.TOC._latest_generation
    newest = real(storage, INDEX_NAME)
    listings = [newest - 1]  # the listing named a table of contents a newer commit has removed since

    def listing(cls, storage, indexname):  # type: ignore[no-untyped-def]
        return listings.pop() if listings else real(storage, indexname)

    monkeypatch.setattr(whoosh_index.TOC, "_latest_generation", classmethod(listing))
    assert not (index_dir(data) / f"_{INDEX_NAME}_{newest - 1}.toc").exists()
    assert read_toc(storage, INDEX_NAME, make_schema()).generation == newest


@pytest.mark.parametrize("ext", ["._stored.col", ".key.col"])
def test_a_segment_merged_away_before_the_reader_opened_its_files_is_opened_again(
    data: Path, monkeypatch: pytest.MonkeyPatch, ext: str
) -> None:
    """Whoosh reads a column whose file is gone as empty (stored fields: a TypeError; keys: all 0):
    the reader must see that the file was merged away, and the search start again."""
    from newsarc.index import IndexReader, open_index
    from newsarc.integrity import TrustedIndex
    from newsarc.search import segment_vanished

    truth = hit_ids(data)
    column = segment_file(data, ext)
    real_reader = TrustedIndex.reader

    def reader_then_merge(self, reuse=None):  # type: ignore[no-untyped-def]
        reader = real_reader(self, reuse)
        if column.exists():
            column.unlink()  # what a merge removes once its newer commit is written
        return reader

    monkeypatch.setattr(TrustedIndex, "reader", reader_then_merge)
    monkeypatch.setattr(TrustedIndex, "latest_generation", lambda self: 10**6)
    with pytest.raises(FileNotFoundError) as caught:
        IndexReader(open_index(data))
    assert segment_vanished(caught.value)
    monkeypatch.undo()
    assert run("reindex", data=data).exit_code == 0
    assert hit_ids(data) == truth
