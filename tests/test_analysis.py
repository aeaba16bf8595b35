"""Folding and segmentation: token lists, as Whoosh's docstrings show them."""

from __future__ import annotations

import pickle
import re

import pytest

from conftest import SEEDS, corpus_dir
from newsarc.analysis import (
    CJK_RUN,
    Segmenter,
    analyze,
    char_positions,
    fold,
    jieba_dictionary_path,
    latin_tokens,
    read_dictionary,
    search_tokens,
    segment_query,
)
from newsarc.parse import parse_file


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    return Segmenter()


@pytest.fixture(scope="module")
def lookup():  # type: ignore[no-untyped-def]
    words = {w: f for w, f in read_dictionary(jieba_dictionary_path()) if f}
    total = sum(words.values())
    return (lambda cands: {w: words[w] for w in cands if w in words}), total


def test_fold_scripts_width_and_case() -> None:
    assert fold("朝鮮 習近平 台灣") == "朝鲜 习近平 台湾"
    assert fold("ＲＩＡ Ｎｏｖｏｓｔｉ，Ｔｕ－１６０") == "ria novosti,tu-160"
    assert fold("") == ""


def test_latin_tokens() -> None:
    assert list(latin_tokens("tu-160 ria novosti g7 covid-19 2024")) == [
        "tu-160", "tu", "160", "ria", "novosti", "g7", "covid-19", "covid", "19", "2024",
    ]


def test_analyze_words_and_grams(segmenter: Segmenter) -> None:
    terms = analyze(fold("北京和普京在北朝鮮會晤崔善姬，Tu-160"), segmenter)
    assert list(terms.words) == [
        "北京", "普京", "和普京", "在", "北朝", "朝鲜", "北朝鲜", "会晤", "崔善", "姬", "tu-160", "tu", "160",
    ]
    # every dictionary word that search mode did not emit (here: none)
    assert terms.grams == set()
    assert analyze(fold("中朝鲜明对比"), segmenter).grams >= {"朝鲜"}


def test_char_positions_are_offsets_of_every_cjk_character() -> None:
    text = fold("崔善姬說：嘅 Tu-160\n善")
    positions = char_positions(text)
    assert {ch: list(at) for ch, at in positions.items()} == {"崔": [0], "善": [1, 14], "姬": [2], "说": [3], "嘅": [5]}
    for ch, offsets in positions.items():
        assert all(text[at] == ch for at in offsets)
    # what a worker sends the writer: three objects, whatever the text
    assert (positions.chars, list(positions.counts), list(positions.offsets)) == ("善嘅姬崔说", [2, 1, 1, 1, 1], [1, 14, 5, 2, 0, 3])
    wide = "𠮷野家，吉野家\ud800𠮷"  # beyond the 16-bit plane; a lone surrogate is no character
    assert {ch: list(at) for ch, at in char_positions(wide).items()} == {"吉": [4], "家": [2, 6], "野": [1, 5], "𠮷": [0, 8]}
    assert pickle.loads(pickle.dumps(positions)) == positions
    assert list(char_positions(fold("Tu-160 ，")).items()) == []


def test_segment_query_splits_dictionary_words_and_keeps_unknown_names(lookup) -> None:  # type: ignore[no-untyped-def]
    look, total = lookup

    def pieces(q: str) -> list[tuple[str, str]]:
        return [(p.text, p.kind) for p in segment_query(fold(q), look, total)]

    assert pieces("普京朝鲜") == [("普京", "word"), ("朝鲜", "word")]
    assert pieces("崔善姬") == [("崔善姬", "chars")]
    assert pieces("李家超") == [("李家超", "chars")]
    assert pieces("泽连斯基") == [("泽连斯基", "chars")]
    assert pieces("北朝鮮") == [("北朝鲜", "word")]
    assert pieces("俄罗斯总统普京") == [("俄罗斯", "word"), ("总统", "word"), ("普京", "word")]
    assert pieces("Tu-160轰炸机") == [("tu-160", "latin"), ("轰炸机", "word")]
    (north,) = segment_query("北朝鲜", look, total)
    assert search_tokens(north, look) == ["北朝", "朝鲜", "北朝鲜"]


def test_query_route_agrees_with_jieba_without_hmm(lookup) -> None:  # type: ignore[no-untyped-def]
    import jieba

    from newsarc.analysis import _route

    look, total = lookup
    text = parse_file(next(SEEDS.iterdir())).text
    for run in CJK_RUN.findall(text)[:200]:
        assert _route(run, look, total) == list(jieba.cut(run, HMM=False))


def _corpus_runs(limit_files: int) -> list[str]:
    runs: list[str] = []
    for folder in ("feeds", "hkcnews"):
        path = corpus_dir(folder)
        for file in sorted(path.iterdir())[:limit_files]:
            runs.extend(CJK_RUN.findall(fold(parse_file(file).text)))
    return runs


def test_rjieba_tokens_identical_to_jieba_on_corpus_text(segmenter: Segmenter) -> None:
    """rjieba is used for speed; jieba stays the reference: same tokens on real text."""
    import jieba

    # jieba segments only U+4E00–U+9FD5 as Han; newsarc's runs also take extension A (Cantonese
    # 㗎, 㖞), where the two may differ — newsarc uses rjieba consistently on both sides there.
    runs = [r for r in _corpus_runs(60) if re.fullmatch("[\u4e00-\u9fd5]+", r)]
    assert len(runs) > 2000
    for run in runs:
        assert segmenter.cut_for_search(run) == list(jieba.cut_for_search(run)), run
        assert segmenter._jieba.cut(run) == list(jieba.cut(run)), run


def test_full_mode_covers_every_dictionary_word(segmenter: Segmenter) -> None:
    """grams ∪ words hold every dictionary word occurring in the text (what exact matching relies on)."""
    words = {w for w, f in read_dictionary(jieba_dictionary_path()) if f and len(w) <= 6}
    text = fold(parse_file(SEEDS / "004_b5702a1fdfafb872.txt").text)
    terms = analyze(text, segmenter)
    indexed = set(terms.words) | terms.grams | set(char_positions(text))
    for run in CJK_RUN.findall(text):
        for i in range(len(run)):
            for j in range(i + 1, min(len(run), i + 6) + 1):
                if run[i:j] in words:
                    assert run[i:j] in indexed, run[i:j]
    assert re.search("崔善姬", text)


def test_a_segmenter_loads_one_dictionary_not_rjiebas_default_too() -> None:
    """Importing the rjieba package builds a default instance (a whole dictionary load) that
    newsarc never uses: a segmenter loads the extension alone, and the package still imports."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from newsarc.analysis import Segmenter\n"
        "s = Segmenter(extra_words=('泽连斯基',))\n"
        "print('rjieba' in sys.modules, s.cut_for_search('泽连斯基访问香港'))\n"
        "import rjieba\n"
        "print(type(s._jieba) is rjieba.Jieba, rjieba.cut_for_search('泽连斯基访问香港', True))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [
        "False ['连斯基', '泽连斯基', '访问', '香港']",
        "True ['泽', '连斯基', '访问', '香港']",  # the package's own instance, without newsarc's words
    ]
