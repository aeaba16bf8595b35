"""The store's versions: whatever order the sightings of a URL arrive in, the same versions are kept."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SEEDS
from newsarc.parse import parse_file
from newsarc.records import Article
from newsarc.store import CONTENT_BYTES, Store, open_store
from newsarc.versions import content_digest

BASE = parse_file(next(iter(sorted(SEEDS.glob("*")))))
TITLES = ["普京會見金正恩", "普京会见金正恩", "普京與金正恩會面", "Putin meets Kim Jong-un (Tu-160)"]


def sighting(moment: int, seq: int, content: int) -> tuple[Article, str, int]:
    """One file's version: content number → headline; the path names the whole sighting."""
    article = Article.from_dict(
        {**BASE.to_dict(), "title": TITLES[content], "path": f"/in/{moment}-{seq}-{content}.txt",
         "archived": f"2023-09-17T00:00:0{moment}+00:00"},
        archived_ms=1694908800000 + moment * 1000,
    )
    return article, content_digest(article), seq


def replay(data: Path, sightings: list[tuple[int, int, int]]) -> tuple[list, dict]:
    with open_store(data, create=True) as store:
        for moment, seq, content in sightings:
            article, digest, seq_ = sighting(moment, seq, content)
            store.conn.execute("BEGIN IMMEDIATE")
            store.add_sighting(article, digest, seq_)
            store.conn.execute("COMMIT")
        return _state(store)


def _state(store: Store) -> tuple[list, dict]:
    versions = [
        (v.content, v.first_ms, v.last_ms, v.last_seq, v.current, v.record)
        for v in store.versions_of(BASE.id)
    ]
    return versions, store.get(BASE.id).to_dict()


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(0, 3)), min_size=1, max_size=8),
    st.randoms(use_true_random=False),
)
def test_any_arrival_order_keeps_the_same_versions(sightings: list, rnd: random.Random) -> None:
    shuffled = list(sightings)
    rnd.shuffle(shuffled)
    with tempfile.TemporaryDirectory() as tmp:
        first = replay(Path(tmp) / "a", sightings)
        second = replay(Path(tmp) / "b", shuffled)
    assert first == second
    versions, article = first
    # one version per distinct content; the newest sighting (time, then seq, then content) is the article
    digests = {c: content_digest(sighting(0, 0, c)[0]) for c in range(4)}
    assert len(versions) == len({c for _m, _s, c in sightings})
    newest = max(sightings, key=lambda s: (s[0], s[1], bytes.fromhex(digests[s[2]])[:CONTENT_BYTES]))
    assert article["title"] == TITLES[newest[2]]
    assert article["path"] == f"/in/{newest[0]}-{newest[1]}-{newest[2]}.txt"
    assert [v[4] for v in versions] == [False] * (len(versions) - 1) + [True]
    for content, first_ms, last_ms, _seq, _current, record in versions:
        seen = [m for m, _s, c in sightings if digests[c][: 2 * CONTENT_BYTES] == content]
        assert (first_ms, last_ms) == (1694908800000 + min(seen) * 1000, 1694908800000 + max(seen) * 1000)
        assert record["title"] == TITLES[next(c for c in range(4) if digests[c].startswith(content))]
