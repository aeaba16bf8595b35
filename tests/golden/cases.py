"""The golden search cases: what is ingested, which queries run, and how results are compared.

Shared by ``make_golden.py`` (which records ``search_results.json`` from a source
tree, normally the code before the speed work) and ``tests/test_golden_results.py``
(which checks the current code against it).  ``newsarc`` is imported inside the
functions, so the generator can choose the source tree first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from conftest import CORPUS, SEEDS

GOLDEN_FILE = Path(__file__).with_name("search_results.json")
#: The corpus sample: the first files (sorted by name) of these corpus folders.
SAMPLE = (("feeds", 150), ("hkcnews", 100))
#: Decimal places of a score that count when deciding that two hits tie.
SCORE_PLACES = 6


@dataclass(frozen=True)
class Case:
    """One search: an ASCII name (the pytest id), the query string and its options."""

    name: str
    query: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The case's key in the golden file: the query, then any options."""
        extras = [
            f"{k}={','.join(v) if isinstance(v, tuple) else v}" for k, v in self.options.items()
        ]
        return " | ".join([self.query, *extras])


CASES = (
    # plain words, both scripts
    Case("putin-nk", "普京 朝鲜"),
    Case("putin-nk-trad", "普京 朝鮮"),
    Case("hongkong", "香港"),
    Case("xi-trad", "習近平"),
    Case("covid-cn", "疫情"),
    # names jieba does not know (verified against the text)
    Case("choe-son-hui", "崔善姬"),
    Case("john-lee", "李家超"),
    Case("carrie-lam-trad", "林鄭月娥"),
    Case("joshua-wong-trad", "黃之鋒"),
    # phrases
    Case("phrase-national-security", '"国家安全"'),
    Case("phrase-one-country", '"一国两制"'),
    # OR / NOT / -word
    Case("or-us-china", "美国 OR 中国"),
    Case("or-nsl-phrase", '國安法 OR "国家安全"'),
    Case("minus-police", "香港 -警察"),
    Case("not-hongkong", "疫情 NOT 香港"),
    Case("minus-two", "的 -美国 -香港"),
    # fields
    Case("title-putin", "title:普京"),
    Case("title-or", "title:中国 OR title:美国"),
    Case("source-voa", "source:voa"),
    Case("author-seed", "author:黄晓恩"),
    Case("author-hkcnews", "author:眾新聞記者"),
    # Latin and mixed
    Case("tu-160", "Tu-160"),
    Case("ria-novosti", "RIA Novosti"),
    Case("covid-19", "COVID-19"),
    Case("covid-19-mixed", "COVID-19 疫情"),
    # alias variants
    Case("alias-putin", "普丁"),
    Case("alias-trump", "川普"),
    # a single common character
    Case("de", "的"),
    # order by date
    Case("newest", "美国 OR 中国", {"sort": "newest"}),
    Case("oldest", "的", {"sort": "oldest"}),
    # date and source filters
    Case("since-until", "香港", {"since": "2020-07-01", "until": "2020-07-31"}),
    Case("since", "的", {"since": "2021-01-01"}),
    Case("until", "普京 朝鲜", {"until": "2023-12-31"}),
    Case("until-month", "美国 OR 中国", {"until": "2020-06"}),
    Case("sources-voa", "美国", {"sources": ("voa",)}),
)


def seed_files() -> list[Path]:
    """The five seed articles."""
    return sorted(p for p in SEEDS.iterdir() if p.is_file())


def sample_files() -> list[Path] | None:
    """The corpus sample, or ``None`` when the corpus (or one of its folders) is absent."""
    files: list[Path] = []
    for folder, n in SAMPLE:
        path = CORPUS / folder
        if not path.is_dir():
            return None
        files += sorted(p for p in path.iterdir() if p.is_file())[:n]
    return files


def sample_names(files: list[Path]) -> list[str]:
    """The sample's files relative to the corpus (recorded in the golden file)."""
    return [p.relative_to(CORPUS).as_posix() for p in files]


def _epoch(published: str) -> float | str:
    """A hit's publication time as the index orders it (the ISO string if unparsable)."""
    try:
        return datetime.fromisoformat(published).timestamp()
    except (ValueError, OverflowError, OSError):
        return published


def canonical_ids(hits: list[Any]) -> list[str]:
    """Hit ids in result order, each run of ties (equal rounded score and time) sorted by id.

    Tied hits are ordered by Whoosh docnum, which depends on the index's segment
    layout; a different (but correct) index writer may order them differently.
    """
    out: list[str] = []
    run: list[str] = []
    last: tuple[float, float | str] | None = None
    for hit in hits:
        key = (round(hit.score, SCORE_PLACES), _epoch(hit.published))
        if run and key != last:
            out += sorted(run)
            run = []
        run.append(hit.id)
        last = key
    return out + sorted(run)


def ingest_files(files: list[Path], data: Path) -> None:
    """Ingest ``files`` into a new archive at ``data``, in one process."""
    from newsarc.ingest import ingest

    summary = ingest(files, data, workers=1)
    if summary.rejected or summary.added != len(files):
        raise RuntimeError(f"ingest of {len(files)} files: {summary}")


def run_cases(data: Path) -> dict[str, dict[str, Any]]:
    """``{case key: {"total": n, "ids": [...]}}`` for every case, on the archive at ``data``."""
    from newsarc.search import SearchOptions, open_searcher

    out: dict[str, dict[str, Any]] = {}
    with open_searcher(data) as searcher:
        for case in CASES:
            result = searcher.search(case.query, SearchOptions(limit=None, **case.options))
            out[case.key] = {"total": result.total, "ids": canonical_ids(result.hits)}
    return out


def load_golden() -> dict[str, Any]:
    """The recorded results."""
    return json.loads(GOLDEN_FILE.read_text(encoding="utf-8"))
