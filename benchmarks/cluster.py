"""The whole corpus in the embedded engine and in a 3-node OpenSearch cluster: ingest and query speed.

    .venv/bin/python benchmarks/cluster.py                  # starts a local cluster, stops it after
    .venv/bin/python benchmarks/cluster.py --url http://127.0.0.1:9250,http://127.0.0.1:9251
    .venv/bin/python benchmarks/cluster.py --files 2000     # the first N corpus files only

Ingests ``../shared/corpus`` (feeds, feeds-older-versions, feeds-jekyll, hkcnews)
into a new embedded archive and into a new index (3 shards, 1 replica) on the
cluster, both with the default worker count, and prints for each engine:
articles/s, warm query medians (in-process, 5 runs after three warm-ups) and cold
ones (a new ``newsarc`` process per run, 3 runs) for the query forms of the
scale benchmark, and whether every query's hit set and total are identical.
Targets: cluster ingest ≥ embedded ingest; warm cluster queries ≤ 0.1 s median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
FOLDERS = ("feeds", "feeds-older-versions", "feeds-jekyll", "hkcnews")
SCRIPT = ROOT / "scripts" / "opensearch-cluster"
QUERIES = (
    ("word pair", ["普京", "朝鲜"]),
    ("common word", ["香港"]),
    ("phrase", ['"国家安全"']),
    ("OR of names", ["林郑月娥", "OR", "李家超"]),
    ("unknown name", ["崔善姬"]),
    ("NOT", ["香港", "-警察"]),
    ("single character", ["嘅"]),
)


def corpus_files(limit: int | None) -> list[Path]:
    files: list[Path] = []
    for name in FOLDERS:
        folder = CORPUS / name
        if not folder.is_dir():
            sys.exit(f"corpus folder {folder} not present")
        files += sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    return files[:limit] if limit else files


def newsarc(data: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsarc", "--data", str(data), *args],
        capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"},
    )


def ingest(data: Path, paths: list[str], count: int) -> float:
    """Ingest through the CLI (as a user would); returns articles/s (files per second, as the summary)."""
    started = time.perf_counter()
    result = newsarc(data, "ingest", *paths)
    seconds = time.perf_counter() - started
    print(f"  {result.stderr.strip().splitlines()[-1]}")
    return count / seconds


def warm_medians(searcher, runs: int = 5) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from newsarc.search import SearchOptions

    out = {}
    for label, words in QUERIES:
        text = " ".join(words)
        for _ in range(3):
            searcher.search(text, SearchOptions(limit=10))
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            searcher.search(text, SearchOptions(limit=10))
            times.append(time.perf_counter() - t)
        out[label] = statistics.median(times)
    return out


def cold_medians(data: Path, runs: int = 3) -> dict[str, float]:
    out = {}
    for label, words in QUERIES:
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            newsarc(data, "search", *words)
            times.append(time.perf_counter() - t)
        out[label] = statistics.median(times)
    for label, args in (("timeline 香港 --by year", ["timeline", "香港", "--by", "year"]), ("stats", ["stats"])):
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            newsarc(data, *args)
            times.append(time.perf_counter() - t)
        out[label] = statistics.median(times)
    return out


def identity(embedded: Path, bound: Path) -> tuple[int, int]:
    """``(queries, identical hit sets and totals)`` over the query forms and the recall terms."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from newsarc import opensearch
    from newsarc.query import parse_query
    from newsarc.search import SearchOptions, open_searcher
    from recall import TERMS

    queries = [" ".join(w) for _, w in QUERIES] + list(TERMS)
    same = 0
    with open_searcher(embedded) as local, opensearch.open_searcher(bound) as remote:
        for text in queries:
            docs = local.matching(parse_query(text))
            mine = {local.reader.article_id(d) for d in docs}
            theirs = remote.matching_ids(text, SearchOptions())
            total = remote.search(text, SearchOptions(limit=1)).total
            if mine == theirs and total == len(mine):
                same += 1
            else:
                print(f"  differs: {text}: embedded {len(mine)}, cluster {len(theirs)} (total {total})")
    return len(queries), same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("NEWSARC_TEST_OPENSEARCH"),
                        help="the cluster (default: $NEWSARC_TEST_OPENSEARCH, else start a local one)")
    parser.add_argument("--files", type=int, default=None, help="only the first N corpus files")
    args = parser.parse_args()
    files = corpus_files(args.files)
    paths = list(map(str, files)) if args.files else [str(CORPUS / f) for f in FOLDERS]
    work = Path(tempfile.mkdtemp(prefix="newsarc-cluster-bench-"))
    started_here = None
    url = args.url
    if not url:
        started_here = work / "cluster"
        print("starting a local 3-node cluster …", file=sys.stderr)
        url = subprocess.run([str(SCRIPT), "start", "--dir", str(started_here)], check=True,
                             capture_output=True, text=True).stdout.strip()
    index = f"newsarc-bench-{uuid.uuid4().hex[:8]}"
    embedded, bound = work / "embedded", work / "bound"
    try:
        print(f"{len(files)} files; cluster {url}, index {index} (3 shards, 1 replica)")
        print("embedded ingest:")
        rate_embedded = ingest(embedded, paths, len(files))
        result = newsarc(bound, "init", "--opensearch", url, "--index", index, "--shards", "3", "--replicas", "1")
        if result.returncode:
            sys.exit(result.stderr)
        print("cluster ingest:")
        rate_cluster = ingest(bound, paths, len(files))

        from newsarc import opensearch
        from newsarc.search import open_searcher

        with open_searcher(embedded) as local:
            warm_embedded = warm_medians(local)
        with opensearch.open_searcher(bound) as remote:
            warm_cluster = warm_medians(remote)
        cold_embedded, cold_cluster = cold_medians(embedded), cold_medians(bound)
        queries, same = identity(embedded, bound)

        print(f"\ningest: embedded {rate_embedded:.1f} articles/s, cluster {rate_cluster:.1f} articles/s "
              f"(cluster/embedded {rate_cluster / rate_embedded:.2f})")
        print(f"{'query':28} {'warm emb':>9} {'warm clu':>9} {'cold emb':>9} {'cold clu':>9}")
        for label in cold_embedded:
            we, wc = warm_embedded.get(label), warm_cluster.get(label)
            print(f"{label:28} {f'{we:.3f}' if we is not None else '':>9} {f'{wc:.3f}' if wc is not None else '':>9} "
                  f"{cold_embedded[label]:9.3f} {cold_cluster[label]:9.3f}")
        print(f"warm cluster median over the query forms: {statistics.median(warm_cluster.values()):.3f} s "
              f"(target ≤ 0.1 s)")
        print(f"hit-set identity: {same} of {queries} queries identical (sets and totals)")
    finally:
        from opensearchpy import OpenSearch

        OpenSearch(hosts=url.split(",")).indices.delete(index=index, ignore_unavailable=True)
        if started_here is not None:
            subprocess.run([str(SCRIPT), "stop", "--dir", str(started_here)], check=False)


if __name__ == "__main__":
    main()
