"""Corpus sweep of the parser: acceptance, rejections, date/author coverage, speed.

Usage::

    python benchmarks/parse_corpus.py [CORPUS_DIR] [--folders feeds,hkcnews] [--lines N] [--limit N]

CORPUS_DIR defaults to ``../shared/corpus`` next to the project.  Prints the
number of files, accepted and rejected (by reason, with examples), per-outlet
counts of dates found in the body versus fallback (front matter / archive
time) and of articles with authors, checks that every title line re-renders
from the parsed title and URL, and reports the time and files/s.  ``--lines N``
also prints each outlet's N most frequent text lines (boilerplate hunting).
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from newsarc.errors import RejectedFile  # noqa: E402
from newsarc.parse import _clean_title, parse_bytes  # noqa: E402

FOLDERS = ("feeds", "feeds-older-versions", "feeds-jekyll", "hkcnews")


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _title_line(text: str) -> str | None:
    for line in text.replace("\r\n", "\n").split("\n")[:60]:
        if line.startswith("["):
            return line.strip()
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", nargs="?", default=str(Path(__file__).resolve().parents[2] / "shared" / "corpus"))
    ap.add_argument("--folders", default=",".join(FOLDERS))
    ap.add_argument("--lines", type=int, default=0, help="print the N most frequent text lines per outlet")
    ap.add_argument("--limit", type=int, default=0, help="parse at most N files per folder")
    args = ap.parse_args(argv)

    root = Path(args.corpus)
    if not root.is_dir():
        print(f"corpus not found: {root}", file=sys.stderr)
        return 2
    files: list[Path] = []
    for folder in args.folders.split(","):
        found = sorted((root / folder).glob("*.txt")) if (root / folder).is_dir() else []
        files.extend(found[: args.limit] if args.limit else found)

    blobs = [(p, p.read_bytes()) for p in files]  # read first: time the parser, not the disk
    rejected: dict[str, list[str]] = collections.defaultdict(list)
    per_outlet: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    line_freq: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    title_mismatch: list[str] = []
    slowest: list[tuple[float, str]] = []

    t0 = time.perf_counter()
    articles = []
    for p, data in blobs:
        t1 = time.perf_counter()
        try:
            art = parse_bytes(data, str(p))
        except RejectedFile as exc:
            rejected[exc.reason].append(str(p))
            continue
        dt = time.perf_counter() - t1
        slowest.append((dt, str(p)))
        articles.append((art, data))
    elapsed = time.perf_counter() - t0

    for art, data in articles:
        c = per_outlet[art.source]
        c["files"] += 1
        pub = datetime.fromisoformat(art.published)
        arch = datetime.fromisoformat(art.archived)
        if pub == arch:
            c["date_fallback"] += 1
        else:
            c["date_body"] += 1
        if not art.published:
            c["no_date"] += 1
        if art.authors:
            c["authors"] += 1
        if art.captions:
            c["captions"] += 1
        if not art.text.strip():
            c["empty_text"] += 1
        line = _title_line(data.decode("utf-8", "replace"))
        suffix = f"]({art.url})"
        if line is None or not line.endswith(suffix) or _clean_title(line[1 : -len(suffix)]) != art.title:
            title_mismatch.append(art.path)
        if args.lines:
            line_freq[art.source].update(set(art.text.split("\n")))

    n = len(files)
    acc = len(articles)
    print(f"corpus: {root}")
    print(f"files: {n}  accepted: {acc}  rejected: {n - acc} ({(n - acc) / max(n, 1):.2%})")
    for reason, paths in sorted(rejected.items(), key=lambda kv: -len(kv[1])):
        print(f"  {len(paths):5d}  {reason}   e.g. {', '.join(paths[:3])}")
    print(f"title/url re-render mismatches: {len(title_mismatch)}  {title_mismatch[:5]}")
    print()
    print(f"{'outlet':22s} {'files':>6s} {'date:body':>9s} {'fallback':>8s} {'authors':>8s} {'captions':>8s} {'empty':>6s}")
    for source, c in sorted(per_outlet.items(), key=lambda kv: -kv[1]["files"]):
        print(
            f"{source:22s} {c['files']:6d} {c['date_body']:9d} {c['date_fallback']:8d} {c['authors']:8d} "
            f"{c['captions']:8d} {c['empty_text']:6d}"
        )
    print()
    slowest.sort(reverse=True)
    per = [t for t, _ in slowest]
    per.sort()
    if per:
        print(
            f"time: {elapsed:.2f} s  {n / elapsed:.0f} files/s  median {per[len(per) // 2] * 1000:.2f} ms  "
            f"p99 {per[int(len(per) * 0.99)] * 1000:.1f} ms  max {per[-1] * 1000:.1f} ms ({slowest[0][1]})"
        )
    if args.lines:
        for source, counter in sorted(line_freq.items(), key=lambda kv: -per_outlet[kv[0]]["files"]):
            total = per_outlet[source]["files"]
            common = [(k, v) for k, v in counter.most_common(args.lines) if v > 1 and k]
            if not common:
                continue
            print(f"\n== {source} ({total} files)")
            for k, v in common:
                print(f"  {v:5d}  {_squash(k)[:150]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
