"""Verbatim matching from the index's character positions equals a scan of the folded texts.

A corpus sample is ingested in small batches (many segments, merged as an
ingest merges them) and some articles are replaced by newer versions (merges
that drop deleted documents).  Then, for a seeded sample of substrings of the
articles' own folded texts (1–7 CJK characters, from titles and bodies) and
names jieba does not know, the index's answer must be exactly the set of
articles whose folded title/body (or title alone) contain the needle.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import newsarc.index
from conftest import corpus_dir, jsonl, run
from newsarc.analysis import CJK_RUN, fold
from newsarc.index import common, open_reader
from newsarc.search import open_searcher

NAMES = ["崔善姬", "李家超", "林郑月娥", "林鄭月娥", "嘅", "佢哋", "国家安全", "一国两制", "普京", "习近平"]
_SPACE = re.compile(r"\s+")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("substring-src")
    files = sorted(corpus_dir("feeds").iterdir())[:90] + sorted(corpus_dir("hkcnews").iterdir())[:60]
    for f in files:
        shutil.copy(f, src / f.name)
    data = tmp_path_factory.mktemp("substring") / "data"
    env = {"NEWSARC_BATCH_SIZE": "20"}
    assert run("ingest", str(src), data=data, env=env).exit_code == 0
    # newer versions of every fifth file: their old documents are deleted, and merged away
    newer = tmp_path_factory.mktemp("substring-newer")
    for f in files[::5]:
        text = f.read_text(encoding="utf-8")
        head, _, rest = text.partition("\n")
        stamp = int(re.search(r"\d+", head).group()) + 1000  # type: ignore[union-attr]
        (newer / f.name).write_text(f"<!--{stamp}-->\n{rest}", encoding="utf-8")
    result = run("ingest", str(newer), data=data, env=env)
    assert result.exit_code == 0 and "30 updated" in result.stderr, result.stderr
    return data


@pytest.fixture(scope="module")
def texts(archive: Path) -> dict[str, tuple[str, str]]:
    """``id → (collapsed folded title + body, folded title)``, from the store."""
    with open_searcher(archive) as searcher:
        ids = [row[0] for row in searcher.store.conn.execute("SELECT id FROM articles")]
        return {
            aid: (_SPACE.sub(" ", folded), _SPACE.sub(" ", folded.split("\n", 1)[0]))
            for aid, folded in searcher.store.folded_texts(ids)
        }


def needles(texts: dict[str, tuple[str, str]], n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = list(NAMES)
    ids = sorted(texts)
    while len(out) < n:
        whole, title = texts[rng.choice(ids)]
        runs = CJK_RUN.findall(title if rng.random() < 0.3 else whole)
        if not runs:
            continue
        run_ = rng.choice(runs)
        length = min(len(run_), rng.choice([1, 2, 2, 3, 3, 4, 5, 7]))
        at = rng.randrange(len(run_) - length + 1)
        out.append(run_[at : at + length])
    return out


@pytest.mark.parametrize(
    ("arrays", "merge_ratio"),
    [(False, None), (True, 0), (True, 10**9)],
    ids=["sets", "arrays-searched", "arrays-merged"],
)
def test_substring_docs_equal_a_scan_of_the_folded_texts(
    archive: Path, texts: dict[str, tuple[str, str]], arrays: bool, merge_ratio: int | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every way of intersecting positions (Python sets for short lists, numpy arrays for
    long ones: a binary search of each start, or a merge) gives exactly the articles a
    scan finds."""
    monkeypatch.setattr(newsarc.index, "arrays_pay", lambda _n, _t: arrays)
    if merge_ratio is not None:
        monkeypatch.setattr(newsarc.index, "MERGE_RATIO", merge_ratio)
    checked = 0
    with open_reader(archive) as reader:
        assert reader.doc_count() == len(texts) == 150
        for needle in needles(texts, 160, seed=12):
            folded = fold(needle)
            for title_only in (False, True):
                got = {reader.article_id(d) for d in reader.substring_docs(folded, title_only=title_only)}
                want = {aid for aid, (whole, title) in texts.items()
                        if folded in (title if title_only else whole)}
                assert got == want, (needle, title_only, sorted(got ^ want)[:5])
                checked += bool(want)
    assert checked > 150  # the sample is not trivially empty


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(-(2**31), 2**31 - 1), unique=True),
    st.lists(st.integers(-(2**31), 2**31 - 1), unique=True),
    st.sampled_from(["int32", "int64"]),
)
def test_common_values_are_those_of_both(keys: list[int], values: list[int], dtype: str) -> None:
    """:func:`~newsarc.index.common` (a merge or binary searches, by the lengths) is the
    intersection of two ascending arrays without repeats, in order."""
    import numpy as np

    got = common(np.array(sorted(keys), dtype), np.array(sorted(values), dtype))
    assert got.dtype == dtype
    assert got.tolist() == sorted(set(keys) & set(values))


def test_search_phrases_names_and_title_terms_are_exact(
    archive: Path, texts: dict[str, tuple[str, str]]
) -> None:
    """Through the CLI: unknown names, CJK phrases, title: words and a phrase with a space."""
    cases = {
        "崔善姬": lambda whole, title: "崔善姬" in whole,
        "林鄭月娥 OR 李家超": lambda whole, title: "林郑月娥" in whole or "李家超" in whole,
        '"国家安全"': lambda whole, title: "国家安全" in whole,
        '"香港政府"': lambda whole, title: "香港政府" in whole,
        "title:香港": lambda whole, title: "香港" in title,
        "title:嘅": lambda whole, title: "嘅" in title,
        "嘅 -香港": lambda whole, title: "嘅" in whole and "香港" not in whole,
        '"美国 总统"': lambda whole, title: "美国 总统" in whole,
    }
    for query, truth in cases.items():
        want = {aid for aid, (whole, title) in texts.items() if truth(whole, title)}
        result = run("search", query, "--all", "--json", "--no-aliases", data=archive)
        got = {hit["id"] for hit in jsonl(result.stdout)}
        assert got == want, (query, sorted(got ^ want)[:5])
        assert result.exit_code == (0 if want else 1)


def test_edges_of_verbatim_matching(tmp_path: Path) -> None:
    """A match never joins title and body; repeated characters; a title: match must end in the title;
    characters beyond the 16-bit plane."""
    src = tmp_path / "src"
    src.mkdir()
    bodies = {
        "a": ("特首訪問香", "<p>港島居民說哈哈，不是哈哈哈。</p>"),
        "b": ("哈哈哈大笑", "<p>本文與標題無關：訪問</p>"),
        "c": ("訪問香港", "<p>崔善姬與崔善見面</p><p>姬</p>"),
        "d": ("𠮷野家開店", "<p>𠮷𠮷與吉野</p>"),  # 𠮷: beyond the 16-bit plane (CJK extension B)
    }
    for name, (title, body) in bodies.items():
        (src / f"{name}.txt").write_text(
            f"<!--1694965143000-->\n[{title}](https://www.voachinese.com/a/edge-{name}.html)\n------\n\n"
            f"<div><i>Sun, 17 Sep 2023 15:33:48 GMT</i></div>{body}\n",
            encoding="utf-8",
        )
    data = tmp_path / "data"
    assert run("ingest", str(src), data=data).exit_code == 0

    def titles(*query: str) -> list[str]:
        return sorted(h["title"] for h in jsonl(run("search", *query, "--json", "--no-aliases", data=data).stdout))

    assert titles("香港") == ["訪問香港"]  # 香 ends a title, 港 starts its body: no match
    assert titles('"香港島"') == []
    assert titles("title:香") == ["特首訪問香", "訪問香港"]
    assert titles("title:香港") == ["訪問香港"]
    assert titles("哈哈哈") == ["哈哈哈大笑", "特首訪問香"]
    assert titles("title:哈哈哈") == ["哈哈哈大笑"]
    assert titles("title:哈哈哈大笑") == ["哈哈哈大笑"]
    assert titles("title:哈哈哈大笑了") == []
    assert titles("崔善姬") == ["訪問香港"]
    assert titles('"崔善见"') == ["訪問香港"]
    assert titles('"崔善姬 姬"') == []  # paragraphs are joined by a newline, seen as a space
    assert titles('"崔善见面 姬"') == ["訪問香港"]
    assert titles("𠮷野") == ["𠮷野家開店"]
    assert titles('"𠮷𠮷"') == ["𠮷野家開店"]
    assert titles("title:𠮷𠮷") == []
    assert titles("title:𠮷野家") == ["𠮷野家開店"]


def test_arrays_are_chosen_by_the_positions_to_decode(
    archive: Path, texts: dict[str, tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What decides between sets and arrays is how many positions the needle's characters have
    (what decoding costs), not how many documents: a common character has dozens a document."""
    asked: list[int] = []
    monkeypatch.setattr(newsarc.index, "arrays_pay", lambda n, _t: asked.append(n) or False)
    with open_reader(archive) as reader:
        assert reader.doc_count_all() == reader.doc_count()  # the replaced versions merged away
        for needle in ("国家安全", "林郑月娥", "香港"):
            reader.substring_docs(needle)
            positions = sum(whole.count(ch) for whole, _title in texts.values() for ch in set(needle))
            assert asked[-1] == positions, needle
            assert positions > 3 * sum(bool(set(needle) & set(whole)) for whole, _t in texts.values())


def fresh_python(code: str) -> list[str]:
    """What ``code`` prints, run in a fresh interpreter (what a command has imported)."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_short_lists_are_matched_without_loading_numpy(archive: Path) -> None:
    """numpy's import (about 50 ms) is paid only where long lists repay it: an unknown name, a
    phrase or a title: word in a small archive, and its ranking, never load it."""
    code = (
        "import sys\n"
        "from newsarc.search import search\n"
        "for query in ('李家超', '\"国家安全\"', 'title:香港', '林郑月娥 OR 普京'):\n"
        f"    assert search({str(archive)!r}, query).total > 0, query\n"
        "print('numpy' in sys.modules)\n"
    )
    assert fresh_python(code) == ["False"]


def test_a_search_never_imports_urllib_request_yet_whooshs_urlretrieve_works(archive: Path, tmp_path: Path) -> None:
    """Whoosh's compat module would import urllib.request (about 20 ms of every command) only to
    re-export urlretrieve: importing newsarc loads no Whoosh, a search leaves urllib.request
    unloaded, and the stand-in still retrieves."""
    source = tmp_path / "source.txt"
    source.write_text("朝鮮 Tu-160", encoding="utf-8")
    code = (
        "import sys, newsarc\n"
        "print('whoosh.compat' in sys.modules)\n"
        "from newsarc.search import search\n"
        f"assert search({str(archive)!r}, '香港').total > 0\n"
        "print('urllib.request' in sys.modules)\n"
        "from whoosh.compat import urlretrieve\n"
        f"urlretrieve({source.as_uri()!r}, {str(tmp_path / 'copy.txt')!r})\n"
        "print('urllib.request' in sys.modules)\n"
    )
    assert fresh_python(code) == ["False", "False", "True"]
    assert (tmp_path / "copy.txt").read_text(encoding="utf-8") == "朝鮮 Tu-160"
