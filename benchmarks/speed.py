"""Speed and footprint of newsarc on the real corpus, beside its baselines, in one script.

    .venv/bin/python benchmarks/speed.py ingest [--files 1000]   ingest: naive pipeline vs newsarc
    .venv/bin/python benchmarks/speed.py cold --data DIR         cold search / show vs rg
    .venv/bin/python benchmarks/speed.py footprint [--data DIR]  archive bytes vs input (ingests the corpus)
    .venv/bin/python benchmarks/speed.py scale [--articles 50000] cold search vs rg on a synthetic 50k archive
    .venv/bin/python benchmarks/speed.py memory                  peak RSS ingesting hkcnews (2,000 vs all)
    .venv/bin/python benchmarks/speed.py all                     footprint, cold, ingest, memory

*ingest*: the naive pipeline is what newsarc replaced — each file parsed, then indexed by Whoosh
through ``jieba.analyse.ChineseAnalyzer`` with title and body stored, in one process — against
``newsarc.ingest.ingest`` on the same files, in the same run.  Also checks that a single-process
newsarc ingest gives the same records and search results, and reports the archive's bytes on disk
against the input's.

*cold*: each search or show is a fresh process (``python -m newsarc``), median of N runs with min–max;
the baseline is ripgrep over the raw files (``rg -l 普京 | xargs rg -l 朝鲜``), if installed.

*memory*: peak resident memory of a whole ``newsarc ingest`` (the largest of its processes) on the first
2,000 hkcnews files and on all 9,700: flat means the two are close.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
CORPUS = ROOT.parent / "shared" / "corpus"
PY = sys.executable


def corpus_files(folder: str, limit: int | None = None) -> list[Path]:
    path = CORPUS / folder
    if not path.is_dir():
        sys.exit(f"corpus folder {path} not found")
    files = sorted(path.iterdir())
    return files[:limit] if limit else files


def distinct_copy(text: str, copy: int) -> str:
    """An archive file's text as copy number ``copy``: from the second copy on (``copy`` > 0) its
    title line's URL gains ``copy=N``, so that every copy is an article of its own."""
    if not copy:
        return text
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("[") and line.rstrip().endswith(")"):
            line = line.rstrip()
            sep = "&" if "?" in line[line.rfind("](") :] else "?"
            lines[i] = f"{line[:-1]}{sep}copy={copy})"
            break
    return "\n".join(lines)


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# --------------------------------------------------------------------------- ingest


def naive_ingest(files: list[Path], target: Path) -> float:
    """The naive pipeline: parse, then jieba.analyse.ChineseAnalyzer inside Whoosh, body stored."""
    from jieba.analyse import ChineseAnalyzer
    from whoosh import fields, index

    from newsarc.errors import RejectedFile
    from newsarc.parse import parse_file

    target.mkdir(parents=True)
    analyzer = ChineseAnalyzer()
    schema = fields.Schema(
        id=fields.ID(stored=True, unique=True),
        title=fields.TEXT(stored=True, analyzer=analyzer),
        body=fields.TEXT(stored=True, analyzer=analyzer),
    )
    ix = index.create_in(target, schema)
    started = time.perf_counter()
    writer = ix.writer()
    for path in files:
        try:
            article = parse_file(path)
        except RejectedFile:
            continue
        writer.update_document(id=article.id, title=article.title, body=article.text)
    writer.commit()
    return time.perf_counter() - started


def newsarc_ingest(files: list[Path], target: Path, workers: int | None = None) -> tuple[float, dict]:
    from newsarc.ingest import ingest

    started = time.perf_counter()
    summary = ingest(files, target, workers=workers)
    return time.perf_counter() - started, summary.as_dict()


def search_ids(data: Path, queries: list[str]) -> dict[str, list[str]]:
    from newsarc.search import SearchOptions, open_searcher

    with open_searcher(data) as s:
        return {q: [h.id for h in s.search(q, SearchOptions(limit=None)).hits] for q in queries}


def bench_ingest(n: int) -> None:
    files = corpus_files("feeds", n)
    inbytes = sum(f.stat().st_size for f in files)
    tmp = Path(tempfile.mkdtemp(prefix="newsarc-bench-"))
    try:
        naive_s = naive_ingest(files, tmp / "naive")
        ours_s, summary = newsarc_ingest(files, tmp / "ours")
        single_s, _ = newsarc_ingest(files, tmp / "single", workers=1)
        naive_bytes = dir_bytes(tmp / "naive")
        ours_bytes = dir_bytes(tmp / "ours")
        index_bytes = dir_bytes(tmp / "ours" / "index")
        print(f"ingest of {len(files)} feeds files ({inbytes / 1e6:.1f} MB), {os.cpu_count()} cores:")
        print(f"  naive (ChineseAnalyzer + Whoosh, stored): {len(files) / naive_s:7.1f} articles/s  {naive_s:6.1f} s")
        print(f"  newsarc (workers + batch writer):         {len(files) / ours_s:7.1f} articles/s  {ours_s:6.1f} s"
              f"   ratio {naive_s / ours_s:.2f}x")
        print(f"  newsarc single process:                   {len(files) / single_s:7.1f} articles/s  {single_s:6.1f} s")
        print(f"  on disk: naive {naive_bytes / 1e6:.1f} MB ({naive_bytes / inbytes:.2f}x input); newsarc "
              f"{ours_bytes / 1e6:.1f} MB ({ours_bytes / inbytes:.2f}x), of which Whoosh index "
              f"{index_bytes / 1e6:.1f} MB ({index_bytes / inbytes:.2f}x)")
        queries = ["普京 朝鲜", "香港", "崔善姬", "习近平 -台湾", '"国家安全"', "特朗普 OR 川普"]
        same = search_ids(tmp / "ours", queries) == search_ids(tmp / "single", queries)
        exports = []
        for d in ("ours", "single"):
            out = subprocess.run([PY, "-m", "newsarc", "--data", str(tmp / d), "export"],
                                 capture_output=True, text=True, check=True).stdout
            exports.append(sorted(json.loads(line)["id"] + line for line in out.splitlines()))
        print(f"  parallel vs single-process: search results identical: {same}; records identical: "
              f"{exports[0] == exports[1]}  (summary {summary})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- cold start


def timed(cmd: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - started)
    return times


def fmt(times: list[float]) -> str:
    return f"median {statistics.median(times):.3f} s (min {min(times):.3f}, max {max(times):.3f}, n={len(times)})"


def interleaved(commands: dict[str, list[str]], runs: int) -> dict[str, list[float]]:
    """Time each command ``runs`` times, taking them in turn, so a noisy machine slows all alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, cmd in commands.items():
            times[name].extend(timed(cmd, 1))
    return times


def bench_cold(data: Path, runs: int) -> None:
    # as an installed package is: byte-compiled (an editable install under PYTHONDONTWRITEBYTECODE=1
    # would otherwise recompile newsarc's modules in every process, ~60 ms)
    import compileall

    compileall.compile_dir(ROOT / "src", quiet=1)
    print(f"cold start on {data} ({dir_bytes(data) / 1e6:.0f} MB archive), {runs} fresh processes each, "
          "taken in turn:")
    base = [PY, "-m", "newsarc", "--data", str(data)]
    commands = {"search": base + ["search", "普京", "朝鲜"], "python": [PY, "-c", "pass"]}
    idx = subprocess.run(base + ["search", "普京", "--json", "-n", "1"], capture_output=True, text=True).stdout
    aid = json.loads(idx.splitlines()[0])["id"] if idx.strip() else None
    if aid:
        commands["show"] = base + ["show", aid[:8], "--json"]
    rg = shutil.which("rg")
    if rg:
        folders = " ".join(str(CORPUS / f) for f in ("feeds", "feeds-older-versions", "feeds-jekyll", "hkcnews"))
        commands["rg"] = ["sh", "-c", f"{rg} -l 普京 {folders} | xargs -r {rg} -l 朝鲜"]
    times = interleaved(commands, runs)
    print(f"  newsarc search 普京 朝鲜: {fmt(times['search'])}")
    if aid:
        print(f"  newsarc show {aid[:8]} --json: {fmt(times['show'])}")
    print(f"  (python -c pass:        {fmt(times['python'])})")
    if rg:
        ratios = [a / b for a, b in zip(times["search"], times["rg"], strict=True)]
        print(f"  rg -l 普京 | xargs rg -l 朝鲜 over the raw files: {fmt(times['rg'])}; newsarc/rg = "
              f"{statistics.median(times['search']) / statistics.median(times['rg']):.2f} "
              f"(median of per-round ratios {statistics.median(ratios):.2f})")
    else:
        print("  rg not installed (apt-get install ripgrep) — baseline skipped")


# --------------------------------------------------------------------------- footprint

FOLDERS = ("feeds", "feeds-older-versions", "feeds-jekyll", "hkcnews")


def bench_footprint(data: Path | None) -> Path:
    """Ingest the whole corpus (or measure ``data``) and compare its bytes on disk with the input's."""
    inputs = [CORPUS / f for f in FOLDERS if (CORPUS / f).is_dir()]
    inbytes = sum(dir_bytes(f) for f in inputs)
    if data is None:
        data = Path(tempfile.mkdtemp(prefix="newsarc-footprint-")) / "data"
        took, summary = newsarc_ingest(inputs, data)
        print(f"ingest of the whole corpus: {took:.1f} s ({summary['added'] / took:.1f} articles/s)")
    total = dir_bytes(data)
    index_bytes = dir_bytes(data / "index")
    print(f"archive {data}: {total / 1e6:.1f} MB for {inbytes / 1e6:.1f} MB of input files "
          f"= {total / inbytes:.2f}x (target <= 1.00x)")
    segments = len(list((data / "index").glob("*.ntd")))
    print(f"  Whoosh index {index_bytes / 1e6:.1f} MB ({index_bytes / inbytes:.2f}x) in {segments} segment(s)")
    db = data / "articles.db"
    try:
        import sqlite3

        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        rows = conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
        conn.close()
        print(f"  store {db.stat().st_size / 1e6:.1f} MB: " + ", ".join(f"{n} {b / 1e6:.1f}" for n, b in rows[:6]))
    except Exception as exc:  # dbstat is optional in SQLite builds
        print(f"  store {db.stat().st_size / 1e6:.1f} MB (no per-table figures: {exc})")
    return data


# --------------------------------------------------------------------------- scale

def bench_scale(target_articles: int, runs: int) -> None:
    """Cold search vs rg on a synthetic archive of ``target_articles``: corpus files copied under new URLs."""
    sources = [f for folder in ("feeds", "hkcnews") for f in corpus_files(folder)]
    tmp = Path(tempfile.mkdtemp(prefix="newsarc-scale-"))
    raw = tmp / "raw"
    raw.mkdir()
    copies = 0
    while copies < target_articles:
        for f in sources:
            if copies >= target_articles:
                break
            text = f.read_text(encoding="utf-8", errors="surrogateescape")
            text = distinct_copy(text, copies // len(sources))
            (raw / f"{copies:06d}.md").write_text(text, encoding="utf-8", errors="surrogateescape")
            copies += 1
    rawbytes = dir_bytes(raw)
    took, summary = newsarc_ingest([raw], tmp / "data")
    print(f"synthetic archive: {copies:,} files ({rawbytes / 1e6:.0f} MB), {summary['added']:,} articles, "
          f"ingested in {took:.0f} s ({summary['added'] / took:.1f} articles/s)")
    base = [PY, "-m", "newsarc", "--data", str(tmp / "data")]
    search = timed(base + ["search", "普京", "朝鲜"], runs)
    print(f"  newsarc search 普京 朝鲜: {fmt(search)}")
    rg = shutil.which("rg")
    if rg:
        rgt = timed(["sh", "-c", f"{rg} -l 普京 {raw} | xargs -r {rg} -l 朝鲜"], runs)
        print(f"  rg -l 普京 | xargs rg -l 朝鲜: {fmt(rgt)}; newsarc/rg = "
              f"{statistics.median(search) / statistics.median(rgt):.2f}")
    footprint = dir_bytes(tmp / "data")
    print(f"  archive {footprint / 1e6:.0f} MB = {footprint / rawbytes:.2f}x the input")
    shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- memory


def peak_rss_of_ingest(files: list[Path]) -> tuple[float, float]:
    tmp = Path(tempfile.mkdtemp(prefix="newsarc-mem-"))
    listing = tmp / "files"
    listing.mkdir()
    for f in files:
        (listing / f.name).symlink_to(f)
    started = time.perf_counter()
    # The ingest's own peak is read from /proc (VmHWM of its address space): getrusage's
    # RUSAGE_SELF would include the peak of the *forking* process (Linux keeps it across
    # exec), so a benchmark that had grown itself would be charged for it.
    code = (
        "import resource, sys; from newsarc.ingest import ingest; "
        f"ingest([{str(listing)!r}], {str(tmp / 'data')!r}); "
        "me = next((int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM')), None) "
        "if sys.platform.startswith('linux') else None; "
        "me = me or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
        "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; print(max(me, kids))"
    )
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True).stdout
    elapsed = time.perf_counter() - started
    shutil.rmtree(tmp, ignore_errors=True)
    return int(out.strip().splitlines()[-1]) / 1024, elapsed


def bench_memory() -> None:
    files = corpus_files("hkcnews")
    small, small_s = peak_rss_of_ingest(files[:2000])
    full, full_s = peak_rss_of_ingest(files)
    print("peak RSS of one ingest (largest process):")
    print(f"  hkcnews first 2,000 files: {small:.0f} MB ({2000 / small_s:.0f} articles/s)")
    print(f"  hkcnews all {len(files):,} files: {full:.0f} MB ({len(files) / full_s:.0f} articles/s); "
          f"ratio {full / small:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["ingest", "cold", "footprint", "scale", "memory", "all"])
    ap.add_argument("--articles", type=int, default=50_000, help="scale: size of the synthetic archive")
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--data", type=Path, help="an archive of the whole corpus (see benchmarks/recall.py)")
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"load {os.getloadavg()[0]:.2f}; max RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} KB")
    if args.what in ("ingest", "all"):
        bench_ingest(args.files)
    if args.what in ("footprint", "all"):
        args.data = bench_footprint(args.data)
    if args.what in ("cold", "all"):
        if args.data is None:
            sys.exit("cold needs --data DIR (an archive of ../shared/corpus; `footprint` builds one)")
        bench_cold(args.data, args.runs)
    if args.what == "scale":
        bench_scale(args.articles, args.runs)
    if args.what in ("memory", "all"):
        bench_memory()


if __name__ == "__main__":
    main()
