"""`newsarc similar`, `timeline`, `keywords` and the grown `stats`, on a seed archive."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from conftest import SEED_IDS, SEEDS, jsonl, run
from newsarc.explore import (
    STOPWORDS,
    is_stopword,
    keywords,
    period_axis,
    period_label,
    similar,
    timeline,
)
from newsarc.ingest import ingest
from newsarc.search import SearchOptions

V = SEED_IDS
ALL = set(V.values())


def build_seed_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five seeds ingested once per test session (shared by the explore test files)."""
    data = tmp_path_factory.getbasetemp() / "explore-seeds" / "data"
    done = data / ".ready"
    if not done.exists():
        summary = ingest([SEEDS], data)
        assert summary.added == 5 and not summary.rejected
        done.touch()
    return data


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_seed_archive(tmp_path_factory)


# --------------------------------------------------------------------------- similar


def test_similar_ranks_the_other_putin_kim_seeds_and_excludes_itself(archive: Path) -> None:
    full, hits = similar(archive, V["dw"][:6], limit=10)
    assert full == V["dw"]
    ids = [h.id for h in hits]
    assert V["dw"] not in ids
    assert set(ids) == ALL - {V["dw"]}
    assert all(a.score >= b.score > 0 for a, b in zip(hits, hits[1:], strict=False))
    assert all(h.snippet for h in hits)


def test_similar_cli_json_is_search_output(archive: Path) -> None:
    result = run("similar", V["voa_2023"], "-n", "2", "--json", data=archive)
    assert result.exit_code == 0, result.stderr
    rows = jsonl(result.stdout)
    assert len(rows) == 2
    assert {"id", "title", "source", "published", "url", "score", "snippet"} <= set(rows[0])
    assert V["voa_2023"] not in {r["id"] for r in rows}
    human = run("similar", V["voa_2023"][:5], "-n", "1", data=archive)
    assert human.exit_code == 0
    assert human.stdout.split()[0] == rows[0]["id"]


def test_similar_unknown_and_bad_ids_exit_1(archive: Path) -> None:
    assert run("similar", "ffffffff", data=archive).exit_code == 1
    result = run("similar", "xyz", data=archive)
    assert result.exit_code == 1
    assert "not an article id" in result.stderr


# --------------------------------------------------------------------------- timeline


PUTIN_BY_MONTH = [
    ("2023-09", 3),
    ("2023-10", 0),
    ("2023-11", 0),
    ("2023-12", 0),
    ("2024-01", 1),
    ("2024-02", 0),
    ("2024-03", 0),
    ("2024-04", 0),
    ("2024-05", 0),
    ("2024-06", 1),
]


def test_timeline_by_month_is_continuous_and_exact(archive: Path) -> None:
    result = timeline(archive, "普京")
    assert result.rows == PUTIN_BY_MONTH
    assert result.total == 5 and result.undated == 0


def test_timeline_cli_json_and_chart(archive: Path) -> None:
    result = run("timeline", "普京", "--json", data=archive)
    assert result.exit_code == 0
    assert [(r["period"], r["count"]) for r in jsonl(result.stdout)] == PUTIN_BY_MONTH
    assert result.stdout.splitlines()[0] == '{"period": "2023-09", "count": 3}'
    chart = run("timeline", "普京", data=archive)
    lines = chart.stdout.splitlines()
    assert len(lines) == 10
    assert lines[0].startswith("2023-09  3  █") and lines[1] == "2023-10  0"


def test_timeline_by_year_and_day(archive: Path) -> None:
    assert timeline(archive, "普京", "year").rows == [("2023", 3), ("2024", 2)]
    days = timeline(archive, "普京", "day", SearchOptions(until="2023-09-30")).rows
    assert days[0] == ("2023-09-14", 2)
    assert days[3] == ("2023-09-17", 1)
    assert days[-1] == ("2023-09-30", 0)  # the axis ends at --until, not at the last hit
    assert len(days) == 17


def test_timeline_takes_search_filters(archive: Path) -> None:
    voa = timeline(archive, "普京", options=SearchOptions(sources=("voa",))).rows
    assert voa[0] == ("2023-09", 1) and voa[-1] == ("2024-06", 1) and len(voa) == 10
    assert sum(c for _, c in voa) == 2
    since = run("timeline", "普京", "--since", "2024", "--json", data=archive)
    assert [(r["period"], r["count"]) for r in jsonl(since.stdout)][::5] == [
        ("2024-01", 1),
        ("2024-06", 1),
    ]


def test_timeline_exit_codes(archive: Path) -> None:
    none = run("timeline", "斯拉维安卡", "--source", "bbc", data=archive)
    assert none.exit_code == 1 and none.stdout == ""
    assert run("timeline", "(普京", data=archive).exit_code == 2
    assert run("timeline", "普京", "--by", "week", data=archive).exit_code == 2
    assert (
        run("timeline", "普京", "--since", "2024", "--until", "2023", data=archive).exit_code == 2
    )


def test_timeline_uses_aliases_unless_turned_off(archive: Path) -> None:
    assert timeline(archive, "普丁").rows == PUTIN_BY_MONTH
    assert timeline(archive, "普丁", aliases=False).rows == []
    assert run("timeline", "普丁", "--no-aliases", data=archive).exit_code == 1


def test_periods_helpers() -> None:
    assert period_label(0, "year") == "1970"
    assert period_axis("2023-11-14", "2023-11-17", "day") == [
        "2023-11-14",
        "2023-11-15",
        "2023-11-16",
        "2023-11-17",
    ]
    assert period_axis("2024-02-28", "2024-03-01", "day") == ["2024-02-28", "2024-02-29", "2024-03-01"]
    assert period_axis("2023-11", "2024-01", "month") == ["2023-11", "2023-12", "2024-01"]
    assert period_axis("0001", "0003", "year") == ["0001", "0002", "0003"]


# --------------------------------------------------------------------------- keywords


def test_keywords_are_characteristic_terms(archive: Path) -> None:
    full, rows = keywords(archive, V["voa_2023"], limit=20)
    assert full == V["voa_2023"]
    terms = [t for t, _ in rows]
    assert "金正恩" in terms
    assert rows[0][1] == 1.0
    assert all(a[1] >= b[1] > 0 for a, b in zip(rows, rows[1:], strict=False))
    assert not [t for t in terms if is_stopword(t)]
    assert "罗斯" not in terms  # only ever inside 俄罗斯


def test_keywords_of_the_bbc_seed_name_putin(archive: Path) -> None:
    _full, rows = keywords(archive, V["bbc"], limit=30)
    assert {"普京", "金正恩"} & {t for t, _ in rows}


def test_keywords_cli(archive: Path) -> None:
    result = run("keywords", V["dw"][:6], "-n", "5", "--json", data=archive)
    assert result.exit_code == 0
    rows = jsonl(result.stdout)
    assert len(rows) == 5 and set(rows[0]) == {"term", "weight"}
    assert rows[0]["weight"] == 1.0
    human = run("keywords", V["dw"], "-n", "5", data=archive)
    assert [line.split()[0] for line in human.stdout.splitlines()] == [r["term"] for r in rows]
    assert run("keywords", "0000", data=archive).exit_code == 1


def test_stopword_rules() -> None:
    assert {"的", "表示", "我们"} <= STOPWORDS
    for term in ("的", "表示", "2023", "3.5", "——", "tu", "金"):
        assert is_stopword(term), term
    for term in ("金正恩", "普京", "tu-160", "novosti"):
        assert not is_stopword(term), term


# --------------------------------------------------------------------------- stats


def test_stats_json_has_years_and_authors(archive: Path) -> None:
    result = run("stats", "--json", data=archive)
    assert result.exit_code == 0
    stats = json.loads(result.stdout)
    assert stats["years"] == {"2023": 3, "2024": 2}
    assert stats["sources"] == {"voa": 2, "bbc": 1, "dw": 1, "rfi": 1}
    assert stats["authors"] == [["林兰", 1], ["黄晓恩", 1]]


def test_stats_table_shows_years_and_authors(archive: Path) -> None:
    out = run("stats", data=archive).stdout
    assert "Year" in out and "Author" in out
    assert any(line.split() == ["2023", "3"] for line in out.splitlines())
    assert any(line.split() == ["林兰", "1"] for line in out.splitlines())


def test_keyword_weights_are_finite(archive: Path) -> None:
    for aid in ALL:
        _full, rows = keywords(archive, aid)
        assert rows and all(math.isfinite(w) for _, w in rows)
