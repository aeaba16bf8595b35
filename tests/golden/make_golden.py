"""Record the golden search results (``search_results.json``) from a newsarc source tree.

    .venv/bin/python tests/golden/make_golden.py --src /path/to/old/src

Ingests the seeds and the corpus sample (``cases.py``) into temporary archives
with the ``newsarc`` package found in ``--src`` (default: this repository's
``src``), runs every case and writes the ids and totals.  Record from the code
*before* a change that must not alter results; ``tests/test_golden_results.py``
then checks the current code against the file.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--src",
        type=Path,
        default=TESTS.parent / "src",
        help="the source tree to import newsarc from",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write (default: tests/golden/search_results.json)",
    )
    args = parser.parse_args()
    src = args.src.resolve()
    sys.path[:0] = [str(src), str(TESTS)]

    import newsarc
    from golden.cases import (
        CASES,
        GOLDEN_FILE,
        ingest_files,
        run_cases,
        sample_files,
        sample_names,
        seed_files,
    )

    if not Path(newsarc.__file__).resolve().is_relative_to(src):
        sys.exit(f"newsarc was imported from {newsarc.__file__}, not from {src}")
    sample = sample_files()
    if sample is None:
        sys.exit("the corpus is not present: the golden file needs the corpus sample")
    golden: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="newsarc-golden-") as tmp:
        for part, files in (("seeds", seed_files()), ("corpus", sample)):
            started = time.perf_counter()
            ingest_files(files, Path(tmp) / part)
            golden[part] = results = run_cases(Path(tmp) / part)
            print(f"{part}: {len(files)} files, {time.perf_counter() - started:.1f} s")
            for case in CASES:
                print(f"  {results[case.key]['total']:5d}  {case.key}")
    golden["sample"] = sample_names(sample)
    out = args.out or GOLDEN_FILE
    out.write_text(json.dumps(golden, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out} (newsarc from {Path(newsarc.__file__).parent})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
