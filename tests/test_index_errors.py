"""A search retries only when a segment file vanished (a concurrent merge); any other failure is reported as it is."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import run
from newsarc.index import index_dir


def _copy(seed_archive: Path, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(seed_archive, data)
    return data


def test_a_damaged_segment_is_not_reported_as_a_changed_index(seed_archive: Path, tmp_path: Path) -> None:
    data = _copy(seed_archive, tmp_path)
    (terms,) = index_dir(data).glob("*.ntd")
    written = terms.stat().st_size
    terms.write_bytes(terms.read_bytes()[: written // 2])
    result = run("search", "普京", data=data)
    assert (result.exit_code, result.stdout) == (1, "")
    assert "changed" not in result.stderr
    assert result.stderr == (
        f"newsarc: damaged search index in {index_dir(data)}: {terms.name} has "
        f"{written // 2} bytes, {written} were written; "
        "run `newsarc reindex` to rebuild it from the store\n"
    )


def test_a_segment_file_missing_from_the_current_commit_is_damage(seed_archive: Path, tmp_path: Path) -> None:
    data = _copy(seed_archive, tmp_path)
    (terms,) = index_dir(data).glob("*.ntd")
    terms.unlink()  # not by a merge: the commit that lists it is still the latest
    result = run("search", "普京", data=data)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"newsarc: damaged search index in {index_dir(data)}: {terms.name} is missing; "
        "run `newsarc reindex` to rebuild it from the store\n"
    )
