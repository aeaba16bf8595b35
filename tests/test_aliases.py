"""Aliases: the alias file format, the curated groups, and alias matching in search."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import SEED_IDS, jsonl, run
from newsarc.aliases import Aliases, builtin_alias_lines, load_aliases, parse_alias_lines
from newsarc.analysis import fold
from test_explore import build_seed_archive

V = SEED_IDS
ALL = set(V.values())


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_seed_archive(tmp_path_factory)


# --------------------------------------------------------------------------- the format


def test_parse_lines_fold_split_and_skip() -> None:
    lines = [
        "# a comment",
        "",
        "普京 普丁   # trailing comment",
        "北约 | 北大西洋公约组织",
        "蓬佩奧 蓬佩奥",  # folds to one string: no group
        "  习近平  ",  # one variant: no group
        "Facebook 脸书",
    ]
    assert list(parse_alias_lines(lines)) == [
        ["普京", "普丁"],
        ["北约", "北大西洋公约组织"],
        ["facebook", "脸书"],
    ]


def test_groups_sharing_a_variant_merge() -> None:
    table = Aliases()
    table.add(["朝鲜", "北韩"])
    table.add(["北朝鲜", "北韩"])
    table.add(["韩国", "南韩"])
    assert len(table) == 2
    assert set(table.group("朝鲜")) == {"朝鲜", "北韩", "北朝鲜"}
    assert table.group("北朝鲜")[0] == "北朝鲜"
    assert table.group("普京") == ()


def test_builtin_file_has_many_groups_and_no_overlaps() -> None:
    groups = list(parse_alias_lines(builtin_alias_lines()))
    assert len(groups) >= 100
    variants = [v for g in groups for v in g]
    assert len(variants) == len(set(variants)), "a variant is listed in two groups"
    table = load_aliases()
    assert len(table) == len(groups)
    for required in (("普京", "普丁"), ("朝鲜", "北韩"), ("特朗普", "川普"), ("新西兰", "纽西兰")):
        assert set(required) <= set(table.group(required[0]))
    assert set(table.group(fold("蓬皮歐"))) >= {"蓬佩奥", "蓬皮欧"}
    assert set(table.group(fold("澤倫斯基"))) >= {"泽连斯基", "泽伦斯基"}


def test_user_aliases_are_merged(tmp_path: Path) -> None:
    (tmp_path / "aliases.txt").write_text("崔善姬 崔善喜\n普丁 蒲亭\n", encoding="utf-8")
    table = load_aliases(tmp_path)
    assert table.group("崔善喜") == ("崔善喜", "崔善姬")
    assert set(table.group("蒲亭")) >= {"普京", "普丁", "蒲亭"}
    assert not load_aliases(tmp_path, builtin=False).group("朝鲜")


# --------------------------------------------------------------------------- in search


def _hits(data: Path, *args: str) -> list[dict]:
    result = run("search", "--json", "--all", *args, data=data)
    assert result.exit_code == 0 or (result.exit_code == 1 and result.stderr.startswith("no hits")), result.stderr
    return jsonl(result.stdout)


def test_alias_finds_the_putin_seeds_and_says_so(archive: Path) -> None:
    hits = _hits(archive, "普丁")
    assert {h["id"] for h in hits} == ALL
    assert all(h["aliases"] == ["普京"] for h in hits)
    assert {h["id"] for h in _hits(archive, "普京")} == ALL
    assert all("aliases" not in h for h in _hits(archive, "普京", "--no-aliases"))


def test_no_aliases_turns_it_off(archive: Path) -> None:
    result = run("search", "普丁", "--no-aliases", data=archive)
    assert result.exit_code == 1
    assert result.stdout == ""


def test_alias_shown_in_human_output_and_highlighted(archive: Path) -> None:
    out = run("search", "普丁", "-n", "1", data=archive).stdout
    assert "(via alias: 普京)" in out.splitlines()[0]
    hit = _hits(archive, "普丁")[0]
    assert "普京" in hit["snippet"]


def test_alias_in_title_field_and_not_in_phrases(archive: Path) -> None:
    titled = {h["id"] for h in _hits(archive, "title:普丁")}
    assert titled == {V["bbc"], V["voa_2024"], V["rfi"], V["dw"]}
    assert _hits(archive, '"普丁"') == []
    assert _hits(archive, "author:普丁") == []


def test_typed_variant_found_in_text_is_not_reported(archive: Path) -> None:
    # the BBC and DW seeds write both 朝鲜 and 北韩: they matched 北韩 as typed, so no alias
    # is reported; the others only say 朝鲜 and report it
    hits = {h["id"]: h for h in _hits(archive, "北韩")}
    assert set(hits) == ALL
    direct = {V["bbc"], V["dw"]}
    assert all("aliases" not in hits[aid] for aid in direct)
    assert all(h["aliases"] == ["朝鲜"] for aid, h in hits.items() if aid not in direct)


def test_alias_ranking_matches_the_typed_variant(archive: Path) -> None:
    via_alias = [h["id"] for h in _hits(archive, "普丁")]
    direct = [h["id"] for h in _hits(archive, "普京")]
    assert via_alias == direct


def test_user_alias_file_in_archive(archive: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(archive, data)
    assert _hits(data, "崔善喜") == []
    (data / "aliases.txt").write_text("崔善姬 | 崔善喜\n", encoding="utf-8")
    hits = _hits(data, "崔善喜")
    assert [h["id"] for h in hits] == [V["dw"]]
    assert hits[0]["aliases"] == ["崔善姬"]
