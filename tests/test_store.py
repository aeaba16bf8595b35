"""The compact store: compressed records, no stored HTML or folded text, exact character postings."""

from __future__ import annotations

import shutil
import sqlite3
import unicodedata
from pathlib import Path

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SEEDS, jsonl, run
from newsarc import store as store_mod
from newsarc.analysis import Segmenter, fold_article, nfkc
from newsarc.ingest import analyse_article
from newsarc.parse import parse_file
from newsarc.store import open_store

BODY = (
    "<div><i>Sun, 17 Sep 2023 15:33:48 GMT</i></div>"
    "<p>朝鲜领导人金正恩星期天从俄罗斯启程回国，结束为期六天的访问。第{n}篇。</p>"
    "<p>俄罗斯总统普京与金正恩在东方航天发射场举行会晤，双方讨论了军事合作与卫星技术。</p>"
    "<figure><img src=\"https://e.com/{n}.jpg\"><figcaption>資料照：海參崴火車站第{n}號</figcaption></figure>"
)


def write_article(folder: Path, n: int, body: str = BODY, *, ms: int = 1694965143000,
                  url: str | None = None) -> Path:
    path = folder / f"{n:03d}.txt"
    url = url or f"https://www.voachinese.com/a/test-{n}.html"
    path.write_text(f"<!--{ms}-->\n[測試標題{n}]({url})\n------\n\n{body.format(n=n)}\n",
                    encoding="utf-8")
    return path


def test_folded_text_is_the_ingests(seed_archive: Path) -> None:
    """Search verifies against the record folded again, exactly as the ingest folded it."""
    segmenter = Segmenter()
    with open_store(seed_archive) as store:
        for path in sorted(SEEDS.iterdir()):
            article = parse_file(path)
            ingest_folded, _doc = analyse_article(article, segmenter)
            (stored,) = store.folded_texts([article.id])
            assert stored == (article.id, ingest_folded)
            assert ingest_folded == "\n".join(fold_article(article.title, article.text, article.captions))
            (title,) = store.folded_texts([article.id], title_only=True)
            assert title == (article.id, ingest_folded.split("\n", 1)[0])
            assert store.get(article.id).html == ""  # the HTML is not stored


def test_schema_keeps_no_html_or_folded_text(seed_archive: Path) -> None:
    conn = sqlite3.connect(f"file:{seed_archive / 'articles.db'}?mode=ro", uri=True)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(articles)")}
    conn.close()
    assert not columns & {"html", "folded"}
    assert {"record", "file", "digest"} <= columns


def test_records_use_a_dictionary_trained_on_the_first_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_mod, "RECORD_DICT_AFTER", 30)
    monkeypatch.setattr(store_mod, "RECORD_DICT_BYTES", 16 * 1024)
    src = tmp_path / "src"
    src.mkdir()
    for n in range(20):
        write_article(src, n)
    data = tmp_path / "data"
    assert run("ingest", str(src), data=data, env={"NEWSARC_BATCH_SIZE": "7"}).exit_code == 0
    with open_store(data) as store:  # 20 records: no dictionary yet
        assert store.conn.execute("SELECT count(*) FROM record_dicts").fetchone()[0] == 0
    for n in range(20, 45):
        write_article(src, n)
    assert run("ingest", str(src), data=data, env={"NEWSARC_BATCH_SIZE": "7"}).exit_code == 0
    with open_store(data) as store:
        assert store.conn.execute("SELECT id FROM record_dicts").fetchall() == [(1,)]
        blobs = [row[0] for row in store.conn.execute("SELECT record FROM articles")]
        # every record, those stored before the training too, is compressed with it
        assert {zstandard.get_frame_parameters(b).dict_id for b in blobs} == {1}
    records = {r["id"]: r for r in jsonl(run("export", data=data).stdout)}
    assert len(records) == 45
    for path in sorted(src.iterdir()):
        article = parse_file(path)
        expected = article.to_dict()
        assert records[article.id] == expected
        assert jsonl(run("show", article.id, "--json", data=data).stdout) == [expected]
    assert run("search", "資料照", "--all", data=data).stderr.startswith("45 hits")
    assert run("search", "第33號", data=data).stderr.startswith("1 hit")


def test_training_is_retried_when_zstd_cannot_train(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_mod, "RECORD_DICT_AFTER", 2)
    src = tmp_path / "src"
    src.mkdir()
    for n in range(3):
        write_article(src, n, "<p>短文{n}</p>")
    data = tmp_path / "data"
    assert run("ingest", str(src), data=data).exit_code == 0
    with open_store(data) as store:  # three tiny records are too little to train on
        assert store.conn.execute("SELECT count(*) FROM record_dicts").fetchone()[0] == 0
        assert store.meta("record_dict_due") == "4"
    assert sorted(r["text"] for r in jsonl(run("export", data=data).stdout)) == ["短文0", "短文1", "短文2"]


def test_a_replaced_article_leaves_no_stale_character_match(tmp_path: Path) -> None:
    """Single characters are not verified against the text: their postings must be exact."""
    url = "https://www.voachinese.com/a/replaced.html"
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    write_article(old, 1, "<p>舊版提到鑫字與崔善姬。</p>", url=url)
    write_article(new, 1, "<p>新版沒有那個字。</p>", ms=1694965999000, url=url)
    data = tmp_path / "data"
    run("ingest", str(old), data=data)
    assert run("search", "鑫", data=data).exit_code == 0
    with open_store(data) as store:
        (first,) = store.conn.execute("SELECT rowid FROM articles").fetchone()
    assert "1 updated" in run("ingest", str(new), data=data).stderr
    with open_store(data) as store:
        (second,) = store.conn.execute("SELECT rowid FROM articles").fetchone()
    assert second != first  # a replaced article gets a new rowid; the old one is never reused
    for query in ("鑫", "崔善姬", "舊"):
        assert run("search", query, data=data).exit_code == 1, query
    assert run("search", "新", data=data).exit_code == 0


def test_characters_outside_the_dictionary_are_found(tmp_path: Path) -> None:
    """jieba's full mode leaves out characters it does not know (Cantonese 嘅 佢 哋 咗)."""
    src = tmp_path / "src"
    src.mkdir()
    write_article(src, 1, "<p>佢哋嘅年代已經過去，講咗好多嘢。</p>")
    shutil.copy(sorted(SEEDS.iterdir())[0], src)
    data = tmp_path / "data"
    run("ingest", str(src), data=data)
    for query in ("佢哋", "嘅", "講咗", "嘢", '"咗好多"', "title:測試"):
        result = run("search", query, "--json", data=data)
        assert result.exit_code == 0, query
        assert [hit["title"] for hit in jsonl(result.stdout)] == ["測試標題1"], query
    assert run("search", "title:嘅", data=data).exit_code == 1


_NFKC_ALPHABET = st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0x24F),  # Latin, with NBSP and the like
    st.characters(min_codepoint=0x300, max_codepoint=0x36F),  # combining marks
    st.characters(min_codepoint=0x1100, max_codepoint=0x11FF),  # Hangul jamo (they compose)
    st.characters(min_codepoint=0x2000, max_codepoint=0x2070),  # general punctuation
    st.characters(min_codepoint=0x3000, max_codepoint=0x303F),  # CJK punctuation
    st.characters(min_codepoint=0x4E00, max_codepoint=0x4E40),  # ideographs
    st.characters(min_codepoint=0xAC00, max_codepoint=0xAC40),  # Hangul syllables
    st.characters(min_codepoint=0xF900, max_codepoint=0xF920),  # compatibility ideographs
    st.characters(min_codepoint=0xFE30, max_codepoint=0xFFEF),  # full-width and small forms
)


@settings(max_examples=300, deadline=None)
@given(st.text(_NFKC_ALPHABET, min_size=200, max_size=400))
def test_fast_nfkc_is_nfkc(text: str) -> None:
    """fold's NFKC shortcut for long texts (search folds every candidate record again)."""
    assert nfkc(text) == unicodedata.normalize("NFKC", text)
