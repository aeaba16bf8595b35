"""Search results are identical to those recorded before the speed work.

``golden/search_results.json`` holds the ids (in order) and totals of the cases
in ``golden/cases.py`` on the seeds and on a corpus sample, recorded with the
code before the speed work (``golden/make_golden.py --src``).  Ties (equal
score and publication time) are compared as sets: their order is the index's
docnum order, which a different segment layout may change.
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import corpus_dir
from golden.cases import (
    CASES,
    Case,
    ingest_files,
    load_golden,
    run_cases,
    sample_files,
    sample_names,
    seed_files,
)

GOLDEN = load_golden()
PARAMS = [pytest.param(case, id=case.name) for case in CASES]


def describe(case: Case, part: str, want: dict[str, Any], got: dict[str, Any]) -> str:
    """What differs between the recorded and the current results of one case."""
    lines = [f"{part}: results of {case.key!r} differ from the recorded ones"]
    if want["total"] != got["total"]:
        lines.append(f"  total: recorded {want['total']}, now {got['total']}")
    wanted, found = set(want["ids"]), set(got["ids"])
    missing = [i for i in want["ids"] if i not in found]
    extra = [i for i in got["ids"] if i not in wanted]
    if missing:
        lines.append(f"  no longer found ({len(missing)}): {missing[:10]}")
    if extra:
        lines.append(f"  newly found ({len(extra)}): {extra[:10]}")
    if not missing and not extra:
        pairs = enumerate(zip(want["ids"], got["ids"], strict=False))
        at = next((n for n, (a, b) in pairs if a != b), min(len(want["ids"]), len(got["ids"])))
        lines.append(f"  same hits, order differs from rank {at + 1}:")
        lines.append(f"    recorded {want['ids'][at : at + 5]}")
        lines.append(f"    now      {got['ids'][at : at + 5]}")
    lines.append(
        "  (regenerate only from the code before the change: tests/golden/make_golden.py --src OLD/src)"
    )
    return "\n".join(lines)


def check(case: Case, part: str, results: dict[str, dict[str, Any]]) -> None:
    want, got = GOLDEN[part].get(case.key), results[case.key]
    assert want is not None, (
        f"{case.key!r} is not in the golden file: regenerate it (see make_golden.py)"
    )
    assert got == want, describe(case, part, want, got)


@pytest.fixture(scope="module")
def seed_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    data = tmp_path_factory.mktemp("golden-seeds") / "data"
    ingest_files(seed_files(), data)
    return run_cases(data)


@pytest.fixture(scope="module")
def corpus_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    for folder in ("feeds", "hkcnews"):
        corpus_dir(folder)  # skips when absent
    files = sample_files()
    assert files is not None
    assert sample_names(files) == GOLDEN["sample"], (
        "the corpus sample is not the one the golden file was recorded on"
    )
    data = tmp_path_factory.mktemp("golden-corpus") / "data"
    ingest_files(files, data)
    return run_cases(data)


def test_golden_file_covers_the_cases() -> None:
    keys = [case.key for case in CASES]
    assert len(set(keys)) == len(keys)
    for part in ("seeds", "corpus"):
        assert list(GOLDEN[part]) == keys, f"golden {part} does not match cases.py: regenerate it"


@pytest.mark.parametrize("case", PARAMS)
def test_seed_results_unchanged(case: Case, seed_results: dict[str, dict[str, Any]]) -> None:
    check(case, "seeds", seed_results)


@pytest.mark.parametrize("case", PARAMS)
def test_corpus_results_unchanged(case: Case, corpus_results: dict[str, dict[str, Any]]) -> None:
    check(case, "corpus", corpus_results)
