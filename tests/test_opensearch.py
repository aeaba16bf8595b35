"""`newsarc export --format opensearch` and `--mapping`: stream structure and token identity."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from conftest import SEED_IDS, run
from newsarc.analysis import analyze, fold
from newsarc.ingest import archive_segmenter
from newsarc.opensearch import index_mapping
from newsarc.store import open_store
from test_explore import build_seed_archive


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_seed_archive(tmp_path_factory)


@pytest.fixture(scope="module")
def bulk(archive: Path) -> list[str]:
    result = run("export", "--format", "opensearch", data=archive)
    assert result.exit_code == 0, result.stderr
    return result.stdout.splitlines()


def test_bulk_stream_is_pairs_of_action_and_document(bulk: list[str]) -> None:
    assert len(bulk) == 2 * len(SEED_IDS)
    ids = []
    for action_line, doc_line in zip(bulk[::2], bulk[1::2], strict=True):
        action, doc = json.loads(action_line), json.loads(doc_line)
        assert list(action) == ["index"]
        assert action["index"]["_index"] == "newsarc"
        assert action["index"]["_id"] == doc["id"]
        # newest version wins on the cluster: the archive time in ms is the document's external version
        assert action["index"]["version_type"] == "external"
        assert action["index"]["version"] == doc["archived_ms"] > 1_600_000_000_000
        ids.append(doc["id"])
    assert set(ids) == set(SEED_IDS.values())


def test_documents_fit_the_mapping(bulk: list[str]) -> None:
    properties = index_mapping()["mappings"]["properties"]
    for line in bulk[1::2]:
        doc = json.loads(line)
        assert set(doc) <= set(properties)
        assert {"title", "text", "url", "source", "published", "authors"} <= set(doc)
        assert {"title_tokens", "body_tokens", "recall_tokens"} <= set(doc)


def test_tokens_are_newsarcs_own_analysis(archive: Path, bulk: list[str]) -> None:
    segmenter = archive_segmenter(archive)  # the archive's dictionary: jieba's + alias names
    docs = {json.loads(line)["id"]: json.loads(line) for line in bulk[1::2]}
    with open_store(archive) as store:
        for aid, doc in docs.items():
            article = store.get(aid)
            title = analyze(fold(article.title), segmenter)
            body = analyze(fold("\n".join([article.text, *article.captions])), segmenter)
            assert Counter(doc["title_tokens"].split()) == title.words
            assert Counter(doc["body_tokens"].split()) == body.words
            recall = set(doc["recall_tokens"].split())
            assert recall == set(title.words) | set(body.words) | title.grams | body.grams
            assert doc["title"] == article.title and doc["url"] == article.url


def test_putin_north_korea_tokens_present_where_newsarc_finds_them(bulk: list[str]) -> None:
    for line in bulk[1::2]:
        recall = set(json.loads(line)["recall_tokens"].split())
        assert {"普京", "朝鲜"} <= recall  # newsarc search 普京 朝鲜 finds all five


def test_index_name_option(archive: Path) -> None:
    result = run("export", "--format", "opensearch", "--index", "news2", data=archive)
    first = json.loads(result.stdout.splitlines()[0])
    assert first["index"]["_index"] == "news2"


def test_mapping_output(archive: Path) -> None:
    result = run("export", "--mapping", data=archive)
    assert result.exit_code == 0
    mapping = json.loads(result.stdout)
    props = mapping["mappings"]["properties"]
    assert props["title_tokens"]["analyzer"] == "whitespace"
    assert props["body_tokens"]["analyzer"] == "whitespace"
    assert props["recall_tokens"]["analyzer"] == "whitespace"
    assert props["published"]["type"] == "date"
    assert props["authors"]["type"] == "keyword"


def test_plain_export_unchanged(archive: Path) -> None:
    lines = run("export", data=archive).stdout.splitlines()
    assert len(lines) == len(SEED_IDS)
    assert "title_tokens" not in json.loads(lines[0])


def test_cluster_urls_lose_their_credentials() -> None:
    from newsarc.binding import split_credentials
    from newsarc.errors import NewsarcError

    assert split_credentials("https://alice:p%40ss@search.example.org:9200/") == (
        "https://search.example.org:9200", "alice", "p@ss")
    assert split_credentials("http://127.0.0.1:9250, http://127.0.0.1:9251") == (
        "http://127.0.0.1:9250,http://127.0.0.1:9251", None, None)
    with pytest.raises(NewsarcError, match="not an http"):
        split_credentials("ftp://user:secret@host")


def test_cluster_commands_without_a_cluster(tmp_path: Path) -> None:
    unbound = run("push", str(tmp_path / "nowhere"), data=tmp_path / "none")
    assert unbound.exit_code == 1 and unbound.stderr.startswith("newsarc: ")
    bad = run("init", "--opensearch", "ftp://user:secret@host", data=tmp_path / "x")
    assert bad.exit_code == 1
    assert bad.stderr == "newsarc: not an http(s) URL of a cluster: 'ftp://***@host'\n"
