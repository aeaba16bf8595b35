"""Load test of `newsarc serve`: concurrent clients in a second process, over loopback.

    .venv/bin/python benchmarks/web_load.py [--data DIR] [--clients 20] [--seconds 30]

Starts ``newsarc serve`` (its own process, a free loopback port) on an archive
of the whole corpus (``--data``; by default ``benchmarks/out/web-data``, made
once by ingesting ``../shared/corpus``), then from this process runs
``--clients`` clients, each sending its next request as soon as the last one
is answered, for ``--seconds`` seconds per scenario:

* ``search page``: ``/search?q=…``, the HTML page (queries taken in turn from :data:`QUERIES`);
* ``search JSON``: ``/search.json?q=…``, the same queries;
* ``article page`` (with ``--articles``): ``/article/ID`` of the queries' hits, similar articles and
  keywords included.  Opt-in: ``explore.similar_in`` through Whoosh's searcher takes seconds for some
  corpus articles (Whoosh's ``ListMatcher.block_max_weight`` takes ``max`` of a whole posting list on
  every call), which is the library's cost, not the server's.

Every response must be a 200 with the expected content type; any other answer,
or a connection error, is counted and makes the exit code 1.  Reports
requests/s and latency percentiles per scenario (with 20 closed-loop clients a
request waits for the others: p50 is about 20 / requests/s).  The baseline, measured in
the same run: the same searches through the library (:func:`newsarc.search.search`),
one at a time in this process — what a request costs before HTTP, templates and
contention.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
CORPUS = ROOT.parent / "shared" / "corpus"

#: Queries of the kinds people type: dictionary words, unknown names, both scripts, OR, NOT,
#: phrases, field prefixes, mixed Latin.
QUERIES = [
    "普京 朝鲜", "习近平", "香港 选举", "台灣", "拜登 OR 特朗普", "乌克兰 -俄罗斯", "崔善姬",
    '"一国两制"', "title:香港", "新冠 疫苗", "Tu-160", "李家超", "國家安全法", "source:bbc 中国",
    "经济 增长", "美国 关税", "朝鮮 導彈", "人权 author:林兰", "台湾 海峡", "气候变化",
]


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0–1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def ensure_archive(data: Path) -> None:
    if (data / "articles.db").exists():
        return
    if not CORPUS.is_dir():
        sys.exit(f"corpus {CORPUS} not found and no archive in {data}")
    print(f"ingesting {CORPUS} into {data} (once) …", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "newsarc", "--data", str(data), "ingest", str(CORPUS)],
                   check=False)
    if not (data / "articles.db").exists():
        sys.exit("ingest failed")


def start_server(data: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsarc", "--data", str(data), "serve", "--port", "0"],
        stderr=subprocess.PIPE, text=True,
    )
    line = proc.stderr.readline() if proc.stderr else ""
    m = re.search(r"at (http://127\.0\.0\.1:\d+)/", line)
    if not m:
        proc.kill()
        sys.exit(f"newsarc serve did not start: {line.strip()}")
    return proc, m[1]


async def scenario(base: str, paths: list[str], content_type: str, clients: int, seconds: float) -> dict:
    """``clients`` closed-loop clients requesting ``paths`` in turn for ``seconds``."""
    latencies: list[float] = []
    errors: list[str] = []
    counter = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def one_client() -> None:
            nonlocal counter
            while time.perf_counter() < deadline:
                path = paths[counter % len(paths)]
                counter += 1
                started = time.perf_counter()
                try:
                    r = await client.get(path)
                    if r.status_code != 200 or not r.headers.get("content-type", "").startswith(content_type):
                        errors.append(f"{r.status_code} {path}")
                except httpx.HTTPError as exc:
                    errors.append(f"{type(exc).__name__} {path}")
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": percentile(latencies, 0.50),
        "p90": percentile(latencies, 0.90),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies),
        "errors": errors,
    }


def library_baseline(data: Path, rounds: int = 3) -> float:
    """Median seconds of one search through the library, one at a time, page of 20."""
    from newsarc.search import SearchOptions, search

    times = []
    for _ in range(rounds):
        for q in QUERIES:
            started = time.perf_counter()
            search(data, q, SearchOptions(limit=20))
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "benchmarks" / "out" / "web-data")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--articles", action="store_true", help="also load article pages")
    args = parser.parse_args()
    ensure_archive(args.data)

    from newsarc.search import SearchOptions, search
    from newsarc.store import open_store

    with open_store(args.data) as store:
        articles = store.count()
    ids = []
    for q in QUERIES:
        ids += [h.id for h in search(args.data, q, SearchOptions(limit=3)).hits]
    baseline = library_baseline(args.data)

    proc, base = start_server(args.data)
    try:
        quoted = [httpx.URL("/search", params={"q": q}) for q in QUERIES]
        runs = {
            "search page": ([str(u) for u in quoted], "text/html"),
            "search JSON": ([str(u).replace("/search?", "/search.json?") for u in quoted], "application/json"),
        }
        if args.articles:
            runs["article page"] = ([f"/article/{i}" for i in ids], "text/html")
        results = {}
        for name, (paths, ctype) in runs.items():
            print(f"{name}: {args.clients} clients, {args.seconds:g} s …", file=sys.stderr)
            cpu = time.process_time()
            results[name] = asyncio.run(scenario(base, paths, ctype, args.clients, args.seconds))
            results[name]["client_cpu"] = time.process_time() - cpu
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            sys.exit("newsarc serve did not stop within 30 s of SIGTERM")

    print(f"\narchive: {articles:,} articles ({args.data}); {args.clients} concurrent clients, "
          f"{args.seconds:g} s per scenario; server: one newsarc serve process")
    print(f"baseline: library search, one at a time, median {baseline * 1000:.1f} ms; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    print(f"{'scenario':<14}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
          f"{'max ms':>9}{'errors':>8}{'vs lib':>8}{'client CPU':>12}")
    failed = False
    for name, r in results.items():
        failed |= bool(r["errors"])
        ratio = f"{r['rps'] * baseline:.2f}×" if name != "article page" else "–"
        print(f"{name:<14}{r['requests']:>9}{r['rps']:>8.1f}{r['p50'] * 1000:>9.0f}{r['p90'] * 1000:>9.0f}"
              f"{r['p99'] * 1000:>9.0f}{r['max'] * 1000:>9.0f}{len(r['errors']):>8}{ratio:>8}"
              f"{r['client_cpu']:>10.1f} s")
        for e in r["errors"][:5]:
            print(f"  error: {e}")
    print("\nvs lib: requests/s over the library's one-at-a-time searches/s (1 / baseline); "
          "client CPU: this process's CPU time in the scenario (it shares the machine with the server)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
