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
    terms.write_bytes(terms.read_bytes()[: terms.stat().st_size // 2])
    result = run("search", "普京", data=data)
    assert (result.exit_code, result.stdout) == (1, "")
    assert "changed" not in result.stderr
    assert result.stderr == f"newsarc: damaged search index: {terms.name} is not a newsarc term dictionary\n"


def test_a_vanished_segment_file_is_retried_then_reported(seed_archive: Path, tmp_path: Path) -> None:
    data = _copy(seed_archive, tmp_path)
    (terms,) = index_dir(data).glob("*.ntd")
    terms.unlink()  # as a concurrent ingest's merge removes it
    result = run("search", "普京", data=data)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "newsarc: the index changed while it was opened; try again\n"
