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
from pathlib import Path

import pytest

from conftest import corpus_dir, jsonl, run
from newsarc.analysis import CJK_RUN, fold
from newsarc.index import open_reader
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


def test_substring_docs_equal_a_scan_of_the_folded_texts(
    archive: Path, texts: dict[str, tuple[str, str]]
) -> None:
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
