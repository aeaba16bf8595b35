"""Every version of an article: what the corpus holds, and what keeping the older versions costs.

    .venv/bin/python benchmarks/versions.py corpus [--keep DIR]   feeds + feeds-older-versions, both orders
    .venv/bin/python benchmarks/versions.py mirror REPO [--data DIR]  ingest a git mirror, twice

*corpus*: ingests ``feeds/`` alone, then ``feeds-older-versions/`` on top (and the other order into a
second archive); reports the archive's bytes without and with the older versions, the bytes of the
older versions' deltas against what the same records cost as ordinary compressed records, the
versions, headline and text changes; and checks that both orders keep the same versions.

*mirror*: ``newsarc ingest REPO`` into a new archive, then again (only new commits are read): commits,
files, versions, headline and text changes, seconds, archive bytes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
CORPUS = ROOT.parent / "shared" / "corpus"
PY = sys.executable


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def ingest(data: Path, *paths: Path) -> tuple[dict, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [PY, "-m", "newsarc", "--data", str(data), "ingest", "--json", *map(str, paths)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode not in (0, 1):
        sys.exit(done.stderr)
    return json.loads(done.stdout.splitlines()[-1]), time.perf_counter() - started


def census(data: Path) -> dict:
    """Versions, headline and text changes (between consecutive versions), and delta bytes."""
    from newsarc.store import _version_json, open_store
    from newsarc.versions import compare

    with open_store(data) as store:
        ids = store.versioned_ids()
        versions = headline = text = 0
        delta_bytes = plain_bytes = 0
        for article_id in ids:
            stored = store.versions_of(article_id)
            versions += len(stored)
            for before, after in zip(stored, stored[1:], strict=False):
                comparison = compare(before.record, after.record)
                headline += comparison.headline_changed
                text += bool(comparison.paragraphs_added or comparison.paragraphs_removed
                             or comparison.paragraphs_edited or comparison.paragraphs_moved)
        for (blob,) in store.conn.execute("SELECT record FROM versions WHERE record IS NOT NULL"):
            delta_bytes += len(blob)
        for article_id in ids:
            for version in store.versions_of(article_id):
                if not version.current:
                    plain_bytes += len(store.codec.compress(_version_json(version.record)))
        articles = store.count()
        all_versions = store.version_counts()["versions"]
    return {
        "articles": articles, "versions": all_versions, "articles_with_versions": len(ids),
        "versions_of_those": versions, "headline_changes": headline, "text_changes": text,
        "older_version_bytes_as_deltas": delta_bytes, "older_version_bytes_as_records": plain_bytes,
    }


def export_versions(data: Path) -> list[str]:
    done = subprocess.run([PY, "-m", "newsarc", "--data", str(data), "export", "--versions"],
                          capture_output=True, text=True, check=True)
    return sorted(done.stdout.splitlines())


def corpus(keep: Path | None) -> None:
    feeds, older = CORPUS / "feeds", CORPUS / "feeds-older-versions"
    for folder in (feeds, older):
        if not folder.is_dir():
            sys.exit(f"corpus folder {folder} not found")
    with tempfile.TemporaryDirectory() as tmp:
        base = keep or Path(tmp)
        a, b = base / "feeds-first", base / "older-first"
        ingest(a, feeds)
        without = dir_bytes(a)
        summary, seconds = ingest(a, older)
        with_older = dir_bytes(a)
        ingest(b, older)
        ingest(b, feeds)
        again, _ = ingest(a, feeds, older)
        same = export_versions(a) == export_versions(b)
        print(json.dumps({
            "archive_bytes_without_older_versions": without,
            "archive_bytes_with_older_versions": with_older,
            "older_ingest": summary, "older_ingest_seconds": round(seconds, 1),
            "reingest_added": again["added"] + again["updated"] + again["versions"],
            "both_orders_same_versions": same,
            **census(a),
        }, indent=2))


def mirror(repo: Path, data: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        target = data or Path(tmp) / "mirror"
        first, seconds = ingest(target, repo)
        second, seconds2 = ingest(target, repo)
        print(json.dumps({
            "first": first, "first_seconds": round(seconds, 1),
            "second": second, "second_seconds": round(seconds2, 1),
            "archive_bytes": dir_bytes(target), **census(target),
        }, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    c = sub.add_parser("corpus")
    c.add_argument("--keep", type=Path, help="keep the two archives in this folder")
    m = sub.add_parser("mirror")
    m.add_argument("repo", type=Path)
    m.add_argument("--data", type=Path)
    args = parser.parse_args()
    if args.what == "corpus":
        corpus(args.keep)
    else:
        mirror(args.repo, args.data)


if __name__ == "__main__":
    main()
