"""The versions library: content digests, diffs, summaries and magnitudes on real edited articles."""

from __future__ import annotations

import pytest

from conftest import corpus_dir
from newsarc.parse import parse_file
from newsarc.records import Article
from newsarc.versions import align_paragraphs, compare, content_digest, diff_tokens, tokens


def older(name: str) -> Article:
    return parse_file(corpus_dir("feeds-older-versions") / name)


def newest(name: str) -> Article:
    """The version in feeds/ of the URL an older-versions file names (same sha1 prefix)."""
    (path,) = sorted(corpus_dir("feeds").glob(f"*_{name.split('_', 1)[1]}"))
    return parse_file(path)


def changed(ops: list) -> list[tuple[str, str, str]]:
    return [(e.field, e.op, e.text) for e in ops if e.op != "equal"]


def spell(ops: list[tuple[str, str]], side: str) -> str:
    return "".join(text for op, text in ops if op in ("equal", side))


def test_tokens_cjk_by_character_latin_by_word() -> None:
    assert tokens("普京访问Tu-160工厂") == ["普", "京", "访", "问", "Tu", "-", "160", "工", "厂"]
    assert tokens("習近平（Xi Jinping）說") == ["習", "近", "平", "（", "Xi", " ", "Jinping", "）", "說"]
    assert tokens("") == []


def test_diff_tokens_spells_both_sides_and_folds_noise() -> None:
    old, new = "美方电侦机逼近 距中国领海仅40多浬", "美方电侦机逼近 距中国领海仅四十多浬"
    ops = diff_tokens(old, new)
    assert ops == [("equal", "美方电侦机逼近 距中国领海仅"), ("delete", "40"),
                   ("insert", "四十"), ("equal", "多浬")]
    # a rewrite: a shared single character (中) is folded into the change
    ops = diff_tokens("中国否认新加坡男子被招募", "回应新加坡间谍案 中国外交部")
    assert spell(ops, "delete") == "中国否认新加坡男子被招募"
    assert spell(ops, "insert") == "回应新加坡间谍案 中国外交部"
    assert ("equal", "中") not in ops


def test_markup_only_change_is_not_a_new_version() -> None:
    # same URL, same archive time, different HTML, same headline/text/captions/authors
    name = "00000_00e13dbbb00ce361.txt"
    a, b = older(name), newest(name)
    assert a.html != b.html
    assert content_digest(a) == content_digest(b)
    assert not compare(a, b).changed
    assert compare(a, b).summary() == "no visible change"
    assert content_digest(a) == content_digest(a.to_dict())


def test_headline_rewrite_three_versions_same_archive_time() -> None:
    # 中国否认… → 中国驳斥… → 回应新加坡间谍案…: all three carry archive time 1595880300000
    v1, v2 = older("00091_31b22bacdfd67e18.txt"), older("00092_31b22bacdfd67e18.txt")
    v3 = newest("00091_31b22bacdfd67e18.txt")
    assert v1.archived_ms == v2.archived_ms == v3.archived_ms == 1595880300000
    assert len({content_digest(v) for v in (v1, v2, v3)}) == 3
    first = compare(v1, v2)
    assert first.summary() == "headline changed, 2 characters changed"
    assert changed(first.edit_ops()) == [
        ("title", "delete", "否认"), ("title", "insert", "驳斥"), ("text", "insert", "表示"),
    ]
    second = compare(v2, v3)
    assert second.summary() == "headline changed, 4 paragraphs added, 3 removed, 38 characters changed"
    assert changed(second.edit_ops())[:2] == [
        ("title", "delete", "中国驳斥新加坡男子被招募当间谍的指控"),
        ("title", "insert", "回应新加坡间谍案 中国外交部批美贼喊捉贼"),
    ]
    assert second.magnitude == 2.9
    assert second.magnitude > first.magnitude


@pytest.mark.parametrize(
    ("name", "summary", "magnitude"),
    [
        ("00117_40740219ff658c9c.txt", "9 paragraphs added", 0.5645),
        ("00057_22496e6b485ec773.txt", "1 paragraph added, 1 paragraph moved, 29 characters changed", 0.0348),
        ("00004_02f5e6a3711e9478.txt", "headline changed, 1 paragraph added", 0.2344),
        ("00159_5a9e3fd39c6cbaf6.txt", "headline changed", 0.56),
        ("00145_51dbd99db1d4fc48.txt", "captions changed", 0.25),
        ("00180_64122c4e7c1064f0.txt", "3 characters changed in 2 paragraphs", 0.0024),
        ("00109_3b216f36319e5d6c.txt",
         "headline changed, 7 paragraphs added, 5 removed, 138 characters changed in 5 paragraphs", 2.4646),
    ],
)
def test_summary_and_magnitude_of_real_edits(name: str, summary: str, magnitude: float) -> None:
    comparison = compare(older(name), newest(name))
    assert comparison.summary() == summary
    assert comparison.magnitude == magnitude


def test_edit_ops_spell_old_and_new_of_every_field() -> None:
    for name in ("00109_3b216f36319e5d6c.txt", "00077_29b1214fa30c0934.txt", "00057_22496e6b485ec773.txt"):
        old, new = older(name), newest(name)
        comparison = compare(old, new)
        by_field: dict[str, list[tuple[str, str]]] = {}
        for e in comparison.edit_ops():
            by_field.setdefault(e.field, []).append((e.op, e.text))
        assert spell(by_field["text"], "delete") == old.text
        assert spell(by_field["text"], "insert") == new.text
        if "captions" in by_field:
            assert spell(by_field["captions"], "delete") == "\n".join(old.captions)
            assert spell(by_field["captions"], "insert") == "\n".join(new.captions)


def test_added_paragraph_alignment() -> None:
    name = "00004_02f5e6a3711e9478.txt"
    steps = align_paragraphs(older(name).text, newest(name).text)
    assert [s.kind for s in steps].count("insert") == 1
    (added,) = [s.new for s in steps if s.kind == "insert"]
    assert added == "视频【中国运砂船澎湖外海翻覆】【9坠海1获救4死4失踪】"


def test_ranking_headline_rewrite_above_typo_fix() -> None:
    rewrite = compare(older("00092_31b22bacdfd67e18.txt"), newest("00092_31b22bacdfd67e18.txt"))
    typo = compare(older("00180_64122c4e7c1064f0.txt"), newest("00180_64122c4e7c1064f0.txt"))
    headline_word = compare(older("00120_43755d30316f00d8.txt"), newest("00120_43755d30316f00d8.txt"))
    assert rewrite.magnitude > headline_word.magnitude > typo.magnitude


def test_text_edge_cases_paragraphs_removed_added_everything() -> None:
    base = {"title": "普京會見金正恩", "captions": [], "authors": []}
    cases = [("", "第一段\n第二段"), ("第一段\n第二段", ""), ("甲\n乙\n丙", "乙"), ("乙", "甲\n乙\n丙"),
             ("Tu-160轟炸機", "Tu-160M轟炸機"), ("粵語：佢哋話唔得", "粵語：佢哋話得")]
    for old_text, new_text in cases:
        comparison = compare({**base, "text": old_text}, {**base, "text": new_text})
        ops = [(e.op, e.text) for e in comparison.edit_ops() if e.field == "text"]
        assert spell(ops, "delete") == old_text
        assert spell(ops, "insert") == new_text
    latin = compare({**base, "text": "Tu-160轟炸機"}, {**base, "text": "Tu-160M轟炸機"})
    assert changed(latin.edit_ops()) == [("text", "delete", "160"), ("text", "insert", "160M")]
    cantonese = compare({**base, "text": "粵語：佢哋話唔得"}, {**base, "text": "粵語：佢哋話得"})
    assert changed(cantonese.edit_ops()) == [("text", "delete", "唔")]
    assert cantonese.summary() == "1 character changed"
