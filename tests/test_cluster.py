"""newsarc on a real OpenSearch cluster: the same answers as the embedded engine.

Runs against the cluster named by ``$NEWSARC_TEST_OPENSEARCH`` (``.ci/run`` starts
a local 3-node cluster with ``scripts/opensearch-cluster`` and exports it); skips
without it.  The kill test also needs ``$NEWSARC_TEST_CLUSTER_DIR`` (the
script's ``--dir``), to kill and restart a node.  Indexes have 3 shards and 1
replica and are deleted afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import CORPUS, ROOT, SEEDS, jsonl, run

CLUSTER_URL = os.environ.get("NEWSARC_TEST_OPENSEARCH", "")
CLUSTER_DIR = os.environ.get("NEWSARC_TEST_CLUSTER_DIR", "")

pytestmark = pytest.mark.skipif(not CLUSTER_URL, reason="no cluster: set NEWSARC_TEST_OPENSEARCH (see .ci/run)")

#: The sample: the first feeds, the newer versions of the first older-version files, the first hkcnews.
FEEDS, OLDER, HKCNEWS = 250, 40, 100
#: The queries compared on both engines (besides the golden cases and the recall terms).
EXTRA_QUERIES = (
    '"俄罗斯总统普京"', '"香港警察"', '"美国总统"', "title:香港", "title:Tu-160", "title:\"国家安全\"",
    "普京 OR 习近平 -乌克兰", "(普京 OR 普丁) title:金正恩", "NOT 香港 美国", "香港 AND 警察",
    "source:hkcnews 警察", "source:rfi OR source:dw", "author:林兰", "新冠 -疫苗 -武汉",
    "tu", "160", "ria", "AI", "G7", "5G", "嘅", "佢哋", "咗", "乜嘢", "北韩", "川普 OR 特朗普",
    "泽连斯基", "澤連斯基 乌克兰", "烏克蘭 OR 俄羅斯", "（香港 OR 台湾）", "“一国两制”", "美国　中国",
)
OPTION_CASES = (
    ("香港", {"sources": ("hkcnews",)}),
    ("美国", {"since": "2020-07", "until": "2020-07"}),
    ("中国", {"since": "2020-07-10"}),
    ("的", {"until": "2020-06-30", "sources": ("rfi", "voa")}),
)


def _names(folder: str) -> list[Path]:
    path = CORPUS / folder
    if not path.is_dir():
        pytest.skip(f"corpus folder {path} not present")
    return sorted(p for p in path.iterdir() if p.is_file())


def _sample() -> tuple[list[Path], list[Path]]:
    """``(sample files, older versions of some of them)``."""
    older = _names("feeds-older-versions")[:OLDER]
    feeds = _names("feeds")
    wanted = {p.stem.split("_")[1][:12] for p in older}
    newer = [p for p in feeds if p.stem.split("_")[1][:12] in wanted]
    files = sorted(set(feeds[:FEEDS]) | set(newer)) + _names("hkcnews")[:HKCNEWS]
    return files, older


def _client():  # type: ignore[no-untyped-def]
    from opensearchpy import OpenSearch

    return OpenSearch(hosts=CLUSTER_URL.split(","), timeout=120)


def _bind(data: Path, index: str, url: str = CLUSTER_URL) -> None:
    result = run("init", "--opensearch", url, "--index", index, "--shards", "3", "--replicas", "1", data=data)
    assert result.exit_code == 0, result.stderr
    assert f"created index {index}" in result.stderr


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, list[Path]]]:
    """``(embedded archive, cluster-bound archive, older versions)``, both holding the sample."""
    files, older = _sample()
    base = tmp_path_factory.mktemp("cluster")
    embedded, bound = base / "embedded", base / "bound"
    index = f"newsarc-test-{uuid.uuid4().hex[:8]}"
    result = run("ingest", *map(str, files), "--workers", "2", data=embedded)
    assert result.exit_code == 0, result.stderr
    _bind(bound, index)
    try:
        result = run("ingest", *map(str, files), "--workers", "2", "--json", data=bound)
        assert result.exit_code == 0, result.stderr
        summary = jsonl(result.stdout)[0]
        assert summary["added"] == len(files) and summary["failed"] == 0
        yield embedded, bound, older
    finally:
        _client().indices.delete(index=index, ignore_unavailable=True)


def _queries() -> list[tuple[str, dict]]:
    sys.path.insert(0, str(ROOT / "tests" / "golden"))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from cases import CASES

    from recall import TERMS

    out = [(c.query, dict(c.options)) for c in CASES]
    out += [(t, {}) for t in TERMS]
    out += [(q, {}) for q in EXTRA_QUERIES]
    out += list(OPTION_CASES)
    return out


def _embedded_ids(searcher, text: str, options: dict) -> set[str]:  # type: ignore[no-untyped-def]
    """Every id the embedded engine matches (its matching and filters, without building hits)."""
    from newsarc.query import parse_query
    from newsarc.search import SearchOptions

    docs = searcher.matching(parse_query(text))
    flt = searcher._filter(SearchOptions(**options))
    if flt is not None:
        docs &= flt
    reader = searcher.reader
    if hasattr(reader, "article_id"):
        return {reader.article_id(d) for d in docs}
    return {reader.stored_fields(d)["id"] for d in docs}


def test_same_hit_sets_totals_and_similar_ranking(engines: tuple[Path, Path, list[Path]]) -> None:
    from newsarc import opensearch
    from newsarc.search import SearchOptions, open_searcher

    embedded, bound, _older = engines
    queries = _queries()
    assert len(queries) >= 100
    differ: list[str] = []
    overlaps: list[float] = []
    with open_searcher(embedded) as local, opensearch.open_searcher(bound) as remote:
        for text, options in queries:
            sort = options.get("sort", "relevance")
            limit = None if sort != "relevance" else 10  # date orders are compared whole
            mine = local.search(text, SearchOptions(limit=limit, **options))
            theirs = remote.search(text, SearchOptions(limit=limit, **options))
            ids_mine, ids_theirs = _embedded_ids(local, text, options), remote.matching_ids(text, SearchOptions(**options))
            if (mine.total, ids_mine) != (theirs.total, ids_theirs) or len(ids_mine) != mine.total:
                differ.append(f"{text} {options}: embedded {mine.total}, cluster {theirs.total}, "
                              f"only embedded {sorted(ids_mine - ids_theirs)[:5]}, "
                              f"only cluster {sorted(ids_theirs - ids_mine)[:5]}")
            top_mine, top_theirs = [h.id for h in mine.hits], [h.id for h in theirs.hits]
            if sort != "relevance":
                assert top_mine == top_theirs or _same_times(mine, theirs), text
            elif mine.total:
                overlaps.append(len(set(top_mine) & set(top_theirs)) / len(top_mine))
    overlap = sum(overlaps) / len(overlaps)
    print(f"\n{len(queries)} queries: {len(queries) - len(differ)} identical hit sets and totals; "
          f"top-10 overlap {overlap:.3f} over {len(overlaps)} ranked queries")
    assert not differ, "\n".join(differ)
    assert overlap >= 0.8


def test_pages_and_all_hits(engines: tuple[Path, Path, list[Path]]) -> None:
    from newsarc import opensearch
    from newsarc.search import SearchOptions

    _embedded, bound, _older = engines
    with opensearch.open_searcher(bound) as remote:
        for text in ("香港", "美国 OR 中国", "的"):
            every = remote.search(text, SearchOptions(limit=None))
            assert len(every.hits) == every.total > 20
            ids = [h.id for h in every.hits]
            for page in (1, 2, 3):
                hits = remote.search(text, SearchOptions(limit=7, page=page)).hits
                assert [h.id for h in hits] == ids[(page - 1) * 7 : page * 7]
            newest = [h.published for h in remote.search(text, SearchOptions(limit=None, sort="newest")).hits]
            assert len(newest) == every.total and newest == sorted(newest, key=_epoch, reverse=True)


def _epoch(published: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(published).timestamp()


def _same_times(a, b) -> bool:  # type: ignore[no-untyped-def]
    """Date-sorted lists agree up to the order of articles published at the same second."""
    from datetime import datetime

    def key(hits):  # type: ignore[no-untyped-def]
        return [int(datetime.fromisoformat(h.published).timestamp()) for h in hits]

    return key(a.hits) == key(b.hits)


def test_cli_search_show_stats_timeline_export(engines: tuple[Path, Path, list[Path]]) -> None:
    embedded, bound, _older = engines
    for args in (("search", "香港", "警察", "--json", "--all"), ("search", "林鄭月娥", "--json", "--all"),
                 ("timeline", "香港", "--by", "month", "--json"), ("search", "川普", "--json", "--all")):
        mine, theirs = run(*args, data=embedded), run(*args, data=bound)
        assert theirs.exit_code == mine.exit_code == 0, (args, mine.stderr, theirs.stderr)
        a, b = jsonl(mine.stdout), jsonl(theirs.stdout)
        assert len(a) == len(b)
        if args[0] == "timeline":
            assert a == b
        else:
            assert {h["id"] for h in a} == {h["id"] for h in b}
            assert {h["id"]: h.get("aliases") for h in a} == {h["id"]: h.get("aliases") for h in b}
    aid = jsonl(run("search", "林鄭月娥", "--json", data=bound).stdout)[0]["id"]
    assert run("show", aid[:6], "--json", data=bound).stdout == run("show", aid[:6], "--json", data=embedded).stdout
    html = run("show", aid, "--html", data=bound)
    assert html.exit_code == 0 and html.stdout == run("show", aid, "--html", data=embedded).stdout
    mine, theirs = jsonl(run("stats", "--json", data=embedded).stdout)[0], jsonl(run("stats", "--json", data=bound).stdout)[0]
    for key in ("articles", "sources", "years", "first_published", "last_published", "authors"):
        assert theirs[key] == mine[key], key
    for hit in jsonl(run("search", "香港", "警察", "--json", "-n", "3", data=embedded).stdout):
        mine = jsonl(run("keywords", hit["id"], "--json", data=embedded).stdout)
        assert jsonl(run("keywords", hit["id"][:8], "--json", data=bound).stdout) == mine
        a = {h["id"] for h in jsonl(run("similar", hit["id"], "--json", data=embedded).stdout)}
        b = {h["id"] for h in jsonl(run("similar", hit["id"], "--json", data=bound).stdout)}
        assert hit["id"] not in b and len(a & b) >= 7  # the same keywords; BM25 variants rank alike
    exported = jsonl(run("export", data=bound).stdout)
    assert sorted(exported, key=lambda r: r["id"]) == sorted(jsonl(run("export", data=embedded).stdout), key=lambda r: r["id"])


def test_engine_interface(engines: tuple[Path, Path, list[Path]]) -> None:
    """The query-level interface of the engine seam answers as the commands do."""
    import json

    from newsarc.opensearch import OpenSearchEngine
    from newsarc.query import parse_query
    from newsarc.search import SearchOptions

    _embedded, bound, _older = engines
    settings = json.loads((bound / "engine.json").read_text())
    assert settings["engine"] == "opensearch"
    engine = OpenSearchEngine(bound, settings)
    try:
        result = engine.search(parse_query("香港 警察"), SearchOptions(limit=None))
        assert {h.id for h in result.hits} == {h["id"] for h in jsonl(run("search", "香港", "警察", "--all", "--json", data=bound).stdout)}
        assert engine.timeline(parse_query("香港"), "year").total == engine.search(parse_query("香港")).total
        full = engine.resolve(result.hits[0].id[:6])
        assert engine.get(full).id == full == engine.keywords(full, 3)[0] == engine.similar(full, 3)[0]
        assert engine.stats()["articles"] == sum(1 for _ in engine.records())
    finally:
        engine.close()


def test_reingest_and_older_versions_change_nothing(engines: tuple[Path, Path, list[Path]]) -> None:
    from newsarc import opensearch

    _embedded, bound, older = engines
    with opensearch.open_cluster(bound) as cluster:
        before = {r["id"]: r["archived"] for r in opensearch.iter_records(cluster)}
    result = run("ingest", *map(str, older), "--json", data=bound)
    summary = jsonl(result.stdout)[0]
    # most older copies carry the same archive time as the newest (unchanged), some an earlier one
    assert result.exit_code == 0 and summary["added"] == summary["updated"] == 0
    assert summary["older"] >= 5 and summary["unchanged"] + summary["older"] == len(older)
    files, _ = _sample()
    result = run("ingest", *map(str, files[:60]), "--json", data=bound)
    summary = jsonl(result.stdout)[0]
    assert result.exit_code == 0 and summary["unchanged"] == 60 and summary["added"] == summary["updated"] == 0
    with opensearch.open_cluster(bound) as cluster:
        after = {r["id"]: r["archived"] for r in opensearch.iter_records(cluster)}
    assert after == before


def test_copies_with_the_same_archive_time_keep_the_last_modified(tmp_path: Path) -> None:
    """Two different files of one URL and one archive time: both engines keep the file modified last
    (here the one met last, so neither keeps simply the first or the last it reads)."""
    seed = (SEEDS / "000_b78dc6da3a148a29.txt").read_text(encoding="utf-8")
    folder = tmp_path / "copies"
    folder.mkdir()
    for name, mark, mtime in (("a.txt", "甲版本标记", 1_700_000_000), ("b.txt", "乙版本标记", 1_700_000_100)):
        (folder / name).write_text(seed.rstrip("\n") + f"<p>{mark}</p>\n", encoding="utf-8")
        os.utime(folder / name, (mtime, mtime))
    embedded, bound = tmp_path / "embedded", tmp_path / "bound"
    index = f"newsarc-test-{uuid.uuid4().hex[:8]}"
    _bind(bound, index)
    try:
        for data in (embedded, bound):
            summary = jsonl(run("ingest", str(folder), "--json", data=data).stdout)[0]
            assert (summary["added"], summary["added"] + summary["unchanged"] + summary["older"]) == (1, 2)
            assert run("search", "乙版本标记", data=data).exit_code == 0
            assert run("search", "甲版本标记", data=data).exit_code == 1
    finally:
        _client().indices.delete(index=index, ignore_unavailable=True)


def test_push_copies_an_embedded_archive(engines: tuple[Path, Path, list[Path]], tmp_path: Path) -> None:
    embedded, _bound, _older = engines
    dest = tmp_path / "pushed"
    index = f"newsarc-test-{uuid.uuid4().hex[:8]}"
    _bind(dest, index)
    try:
        result = run("push", str(dest), "--json", data=embedded)
        assert result.exit_code == 0, result.stderr
        count = jsonl(run("stats", "--json", data=embedded).stdout)[0]["articles"]
        assert jsonl(result.stdout)[0]["added"] == count
        a = jsonl(run("search", "香港 OR 崔善姬", "--all", "--json", data=embedded).stdout)
        b = jsonl(run("search", "香港 OR 崔善姬", "--all", "--json", data=dest).stdout)
        assert {h["id"] for h in a} == {h["id"] for h in b}
    finally:
        _client().indices.delete(index=index, ignore_unavailable=True)


def test_errors_are_one_line(tmp_path: Path) -> None:
    unreachable = run("init", "--opensearch", "http://127.0.0.1:9", "--index", "x", data=tmp_path / "a")
    assert unreachable.exit_code == 1
    assert unreachable.stderr.startswith("newsarc: cannot reach the cluster at http://127.0.0.1:9")
    assert unreachable.stderr.count("\n") == 1

    bound = tmp_path / "b"
    index = f"newsarc-test-{uuid.uuid4().hex[:8]}"
    _bind(bound, index)
    _client().indices.delete(index=index)
    missing = run("search", "香港", data=bound)
    assert missing.exit_code == 1
    assert missing.stderr == (f"newsarc: index {index} does not exist on the cluster at {CLUSTER_URL} "
                              f"(create it with: newsarc init --opensearch URL --index {index})\n")
    gone = run("search", "香港", data=bound, env={"NEWSARC_OPENSEARCH_URL": "http://127.0.0.1:9"})
    assert gone.exit_code == 1 and gone.stderr.startswith("newsarc: cannot reach the cluster at http://127.0.0.1:9")
    assert gone.stderr.count("\n") == 1


def test_embedded_only_features_refuse_a_bound_archive(engines: tuple[Path, Path, list[Path]]) -> None:
    """What only the embedded engine offers says so in one line, exit 1, on a cluster-bound archive."""
    _embedded, bound, _older = engines
    some_id = jsonl(run("search", "香港", "--json", "-n", "1", data=bound).stdout)[0]["id"]
    cases = {
        ("search", "香港", "--facets"): "search --facets",
        ("search", "香港", "--all-versions"): "search --all-versions",
        ("timeline", "香港", "--split", "source"): "timeline --split source",
        ("show", some_id, "--query", "香港"): "show --query",
        ("export", "香港"): "export with a query, filters or --versions",
        ("export", "--versions"): "export with a query, filters or --versions",
        ("kwic", "香港"): "kwic",
        ("history", some_id): "history",
        ("diff", some_id): "diff",
        ("changes",): "changes",
        ("check",): "check",
        ("serve", "--port", "0"): "serve",
    }
    for args, feature in cases.items():
        result = run(*args, data=bound)
        assert (result.exit_code, result.stdout) == (1, ""), args
        assert result.stderr == f"newsarc: {feature} needs the embedded engine (this archive uses 'opensearch')\n"


def test_refused_documents_are_counted_and_fail_the_ingest(tmp_path: Path) -> None:
    """An index whose mapping cannot take newsarc's documents: every one is refused, counted, exit 1."""
    index = f"newsarc-test-{uuid.uuid4().hex[:8]}"
    client = _client()
    client.indices.create(index=index, body={"mappings": {"dynamic": "strict", "properties": {"id": {"type": "keyword"}}}})
    try:
        data = tmp_path / "refused"
        assert run("init", "--opensearch", CLUSTER_URL, "--index", index, data=data).exit_code == 0
        result = run("ingest", str(SEEDS), "--json", data=data)
        assert result.exit_code == 1
        summary = jsonl(result.stdout)[0]
        assert (summary["added"], summary["failed"]) == (0, 5)
        refusals = [line for line in result.stderr.splitlines() if line.startswith("newsarc: the cluster refused")]
        assert len(refusals) == 5 and all("strict_dynamic_mapping_exception" in line for line in refusals)
        assert "5 failed" in result.stderr
    finally:
        client.indices.delete(index=index, ignore_unavailable=True)


def test_binding_keeps_no_password_unless_asked(tmp_path: Path) -> None:
    from newsarc.binding import load_config

    url = CLUSTER_URL.replace("http://", "http://reader:s3cret@", 1)
    index = f"newsarc-test-{uuid.uuid4().hex[:8]}"
    try:
        data = tmp_path / "plain"
        assert run("init", "--opensearch", url, "--index", index, data=data).exit_code == 0
        assert "s3cret" not in (data / "engine.json").read_text()
        assert not (data / "opensearch.secret").exists()
        assert load_config(data).username == "reader" and load_config(data).password is None
        kept = tmp_path / "kept"
        assert run("init", "--opensearch", url, "--index", index, "--save-password", data=kept).exit_code == 0
        assert (kept / "opensearch.secret").stat().st_mode & 0o077 == 0
        assert load_config(kept).password == "s3cret"
    finally:
        _client().indices.delete(index=index, ignore_unavailable=True)


@pytest.mark.skipif(not CLUSTER_DIR, reason="the kill test needs NEWSARC_TEST_CLUSTER_DIR")
def test_a_node_killed_during_an_ingest(tmp_path: Path) -> None:
    """kill -9 a node while an ingest runs: it finishes, searches answer, every article is there once."""
    files = _names("feeds")[:900]
    data = tmp_path / "kill"
    index = f"newsarc-test-{uuid.uuid4().hex[:8]}"
    _bind(data, index)
    client = _client()
    script = str(ROOT / "scripts" / "opensearch-cluster")
    victim = "2"
    env = {**os.environ, "NO_COLOR": "1"}
    try:
        ingest = subprocess.Popen(
            [sys.executable, "-m", "newsarc", "--data", str(data), "ingest", "--workers", "2", "--json", *map(str, files)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and ingest.poll() is None:
            client.indices.refresh(index=index)
            if client.count(index=index)["count"] >= 100:
                break
            time.sleep(0.2)
        assert ingest.poll() is None, "the ingest finished before a node could be killed"
        subprocess.run([script, "kill-node", victim, "--dir", CLUSTER_DIR], check=True)
        answers = run("search", "的", "--json", data=data)  # answered while the cluster reacts
        assert answers.exit_code == 0, answers.stderr
        out, err = ingest.communicate(timeout=600)
        assert ingest.returncode == 0, err
        summary = jsonl(out)[0]
        assert summary["failed"] == 0 and summary["added"] + summary["older"] + summary["unchanged"] == len(files), summary
        # the node is still down: every article is found, from the copies on the other two
        stats = run("stats", "--json", data=data)
        assert stats.exit_code == 0 and jsonl(stats.stdout)[0]["articles"] == len(files), stats.stderr
        assert subprocess.run([script, "status", "--dir", CLUSTER_DIR], capture_output=True, text=True).stdout.count(
            "running") == 2
    finally:
        subprocess.run([script, "start-node", victim, "--dir", CLUSTER_DIR], check=True)
    try:
        deadline = time.monotonic() + 180
        while client.cluster.health(index=index, wait_for_status="green")["status"] != "green":
            assert time.monotonic() < deadline, "the index did not turn green after the node returned"
        client.indices.refresh(index=index)
        ids = [h["_id"] for h in _all_hits(client, index)]
        # (a bulk request the client re-sent after the node died may count as "unchanged":
        # its documents had landed the first time)
        assert len(ids) == len(set(ids)) == len(files)
        assert client.count(index=index)["count"] == len(files)
    finally:
        client.indices.delete(index=index, ignore_unavailable=True)


def _all_hits(client, index: str) -> list[dict]:  # type: ignore[no-untyped-def]
    out: list[dict] = []
    after = None
    while True:
        body = {"size": 1000, "sort": [{"id": "asc"}], "_source": False}
        if after:
            body["search_after"] = after
        hits = client.search(index=index, body=body)["hits"]["hits"]
        if not hits:
            return out
        out += hits
        after = hits[-1]["sort"]


def test_seed_ingest_on_cluster_is_idempotent(tmp_path: Path) -> None:
    data = tmp_path / "seeds"
    index = f"newsarc-test-{uuid.uuid4().hex[:8]}"
    _bind(data, index)
    try:
        first = jsonl(run("ingest", str(SEEDS), "--json", data=data).stdout)[0]
        again = jsonl(run("ingest", str(SEEDS), "--json", data=data).stdout)[0]
        assert (first["added"], again["added"], again["unchanged"]) == (5, 0, 5)
        assert run("search", "普京", "朝鲜", data=data).stderr.startswith("5 hits")
    finally:
        _client().indices.delete(index=index, ignore_unavailable=True)
