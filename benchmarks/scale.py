"""How newsarc grows: synthetic archives of 25k → 400k articles, ingested step by step into one archive.

    .venv/bin/python benchmarks/scale.py [--steps 25000,50000,100000,200000,400000] [--runs 5]
                                         [--work DIR] [--keep]

The articles are the real corpus files (``../shared/corpus/feeds`` and ``hkcnews``) copied under new
URLs (``?copy=N``, so every copy is a distinct article with the real vocabulary): posting lists grow
as they would in a bigger archive of the same outlets.  Each step writes the copies it adds to a
folder of its own and ingests that folder into the same archive (a fresh ``python`` process, all
cores), then prints:

* (first) how long 10⁷ additions in a Python loop take: the machine's single-core speed, which
  start-up and every query scale with, so that runs on different machines can be compared;
* the ingest rate of the step (articles/s) and its peak RSS (the largest process, from ``VmHWM``);
* the archive's bytes on disk against the input files' bytes (all steps so far);
* cold medians (fresh ``python -m newsarc`` processes, taken in turn so that a noisy machine slows
  all alike) of each query form of issue 12 plus ``show``, ``keywords``, ``similar``, ``timeline``
  and ``stats``, and the growth of each since the first step.

A Markdown table of every step is printed at the end (the README's scale table).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from speed import distinct_copy  # benchmarks/ is the script's folder, first on sys.path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
PY = sys.executable

#: name → CLI arguments after ``newsarc --data DIR``; ``{id}`` is an article id of the archive.
QUERIES: dict[str, list[str]] = {
    "search 普京 朝鲜": ["search", "普京", "朝鲜"],
    "search 香港": ["search", "香港", "-n", "10"],
    'search "国家安全"': ["search", '"国家安全"'],
    "search 崔善姬": ["search", "崔善姬"],
    "search 林郑月娥 OR 李家超": ["search", "林郑月娥 OR 李家超"],
    "search 香港 -警察": ["search", "香港", "--", "-警察"],
    "search 嘅": ["search", "嘅"],
    "search title:习近平": ["search", "title:习近平"],
    "show": ["show", "{id}", "--json"],
    "keywords": ["keywords", "{id}"],
    "similar": ["similar", "{id}"],
    "timeline 香港 --by year": ["timeline", "香港", "--by", "year"],
    "stats": ["stats"],
}


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def source_files(corpus: Path) -> list[Path]:
    files = []
    for folder in ("feeds", "hkcnews"):
        path = corpus / folder
        if not path.is_dir():
            sys.exit(f"corpus folder {path} not found")
        files += sorted(p for p in path.iterdir() if p.is_file())
    return files


def write_copies(sources: list[Path], start: int, stop: int, folder: Path) -> int:
    """Write copies number ``start`` … ``stop - 1`` (cycling through ``sources``); returns their bytes."""
    folder.mkdir(parents=True)
    total = 0
    for n in range(start, stop):
        src = sources[n % len(sources)]
        text = distinct_copy(src.read_text(encoding="utf-8", errors="surrogateescape"), n // len(sources))
        data = text.encode("utf-8", errors="surrogateescape")
        (folder / f"{n:07d}.md").write_bytes(data)
        total += len(data)
    return total


def ingest_step(folder: Path, data: Path, env: dict[str, str]) -> tuple[dict, float, float]:
    """Ingest ``folder`` into ``data`` in a fresh process: (summary, seconds, peak RSS in MB)."""
    code = (
        "import json, resource, sys; from newsarc.ingest import ingest; "
        f"s = ingest([{str(folder)!r}], {str(data)!r}); "
        "me = next((int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')), 0); "
        "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; "
        "print(json.dumps({'summary': s.as_dict(), 'rss_kb': max(me, kids)}))"
    )
    started = time.perf_counter()
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, env=env, check=False)
    took = time.perf_counter() - started
    if out.returncode:
        sys.exit(f"ingest failed: {out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["summary"], took, result["rss_kb"] / 1024


def python_speed() -> float:
    """Seconds a fresh ``python`` takes for 10⁷ additions in a loop (median of 3): this machine's
    single-core speed, to compare runs made on different machines."""
    code = "import time; t = time.perf_counter(); s = 0\nfor i in range(10**7): s += i\nprint(time.perf_counter() - t)"
    return statistics.median(
        float(subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(3)
    )


def cold_medians(data: Path, runs: int, env: dict[str, str]) -> dict[str, float]:
    base = [PY, "-m", "newsarc", "--data", str(data)]
    found = subprocess.run(base + ["search", "普京 OR 香港", "--json", "-n", "1"],
                           capture_output=True, text=True, env=env, check=False).stdout
    aid = json.loads(found.splitlines()[0])["id"][:10] if found.strip() else None
    commands = {
        name: base + [a.replace("{id}", aid or "") for a in args]
        for name, args in QUERIES.items()
        if aid or "{id}" not in args
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, cmd in commands.items():
            started = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", default="25000,50000,100000,200000,400000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--work", type=Path, help="working folder (default: a new temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the input copies and the archive")
    ap.add_argument("--corpus", type=Path, default=CORPUS, help=f"the corpus (default {CORPUS})")
    args = ap.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    work = args.work or Path(tempfile.mkdtemp(prefix="newsarc-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    env = {**os.environ, "NO_COLOR": "1"}
    # byte-compiled, as an installed package is (else every cold process compiles newsarc again)
    subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "src")], check=False)
    sources = source_files(args.corpus)
    print(f"scale benchmark in {work}: {len(sources):,} corpus files, steps {steps}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}; 10**7 Python additions take {python_speed():.2f} s", flush=True)
    rows = []
    have = 0
    inbytes = 0
    first: dict[str, float] = {}
    try:
        for target in steps:
            folder = work / f"raw-{target}"
            inbytes += write_copies(sources, have, target, folder)
            summary, took, rss = ingest_step(folder, data, env)
            rate = summary["added"] / took
            size = dir_bytes(data)
            if not args.keep:
                shutil.rmtree(folder)
            have = target
            medians = cold_medians(data, args.runs, env)
            for name, median in medians.items():
                first.setdefault(name, median)
            row = {"articles": target, "rate": rate, "rss": rss, "size": size, "ratio": size / inbytes,
                   "medians": medians}
            rows.append(row)
            print(f"\n{target:,} articles (+{summary['added']:,} in {took:.0f} s: {rate:.0f} articles/s, "
                  f"peak RSS {rss:.0f} MB); archive {size / 1e6:.0f} MB = {size / inbytes:.2f}x the input "
                  f"({inbytes / 1e6:.0f} MB); load {os.getloadavg()[0]:.1f}", flush=True)
            for name, median in medians.items():
                print(f"  {name:<28} {median:6.3f} s   x{median / first[name]:.2f} since {steps[0]:,}",
                      flush=True)
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    if rows:
        print("\n| command | " + " | ".join(f"{r['articles'] // 1000}k" for r in rows) + " |")
        print("|---|" + "---|" * len(rows))
        for name in rows[0]["medians"]:
            print(f"| `{name}` | " + " | ".join(f"{r['medians'].get(name, float('nan')):.2f} s" for r in rows) + " |")
        print("| ingest rate of the step | " + " | ".join(f"{r['rate']:.0f} art/s" for r in rows) + " |")
        print("| peak RSS of the step | " + " | ".join(f"{r['rss']:.0f} MB" for r in rows) + " |")
        print("| archive / input | " + " | ".join(f"{r['ratio']:.2f}x" for r in rows) + " |")


if __name__ == "__main__":
    main()
