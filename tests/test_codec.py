"""The posting-list codec: what is encoded decodes to the same values by every decoder.

Lists are packed with zstd (zlib before: such segments stay readable) and
decoded two ways — into Python lists (merges, short lists) and into numpy arrays (phrases, rankings over common words) — and both must give back
exactly what was written, for every gap width, weight kind and key width.  A merge
joins encoded lists without decoding them: the bytes must be those of the joined list.
"""

from __future__ import annotations

import random
import zlib
from array import array
from itertools import accumulate

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from newsarc.codec import (
    decode_key_gaps,
    decode_posting_arrays,
    decode_postings,
    encode_postings,
    join_postings,
    key_planes,
)
from newsarc.errors import DamagedArchive

GAPS = st.sampled_from([1, 2, 255, 256, 70_000, 2**31])
WEIGHTS = st.sampled_from([None, "one", "byte", "short", "float"])


@st.composite
def posting_lists(draw):  # type: ignore[no-untyped-def]
    """``(ids, weights or None, key gaps or None)`` over the codec's widths."""
    top = draw(GAPS)
    first = draw(st.integers(0, 1000))
    repeat = draw(st.sampled_from([1, 1, 9]))  # 9: lists long enough for the codec's C loops
    gaps = draw(st.lists(st.integers(1, top), min_size=0, max_size=60)) * repeat
    ids = list(accumulate(gaps, initial=first))
    kind = draw(WEIGHTS)
    weights: list[float] | None
    if kind is None:
        weights = None
    elif kind == "one":
        weights = [1.0] * len(ids)
    elif kind == "float":
        weights = [draw(st.sampled_from([0.5, 1.25, 3.0, 1e6])) for _ in ids]
    else:
        bound = 255 if kind == "byte" else 65_535
        weights = [float(draw(st.integers(1, bound))) for _ in ids]
    key_gaps = None
    if draw(st.booleans()):
        key_top = draw(st.sampled_from([255, 65_535, 2**32 - 1, 2**40]))
        key_gaps = draw(st.lists(st.integers(0, key_top), min_size=len(ids) // repeat + 1,
                                 max_size=len(ids) // repeat + 40)) * repeat
    return ids, weights, key_gaps


@settings(max_examples=300, deadline=None)
@given(posting_lists(), st.integers(0, 10**9))
def test_every_decoder_gives_back_what_was_encoded(lists, base: int) -> None:  # type: ignore[no-untyped-def]
    ids, weights, key_gaps = lists
    data = encode_postings(ids, weights, key_gaps)
    got_ids, got_weights = decode_postings(data, ids[0], len(ids))
    arr_ids, arr_weights = decode_posting_arrays(data, ids[0], len(ids))
    assert got_ids == ids == arr_ids.tolist()
    if weights is None or weights == [1.0] * len(ids):
        assert got_weights is None and arr_weights is None
    else:
        assert list(got_weights) == weights == arr_weights.tolist()
    planes = key_planes(data, len(ids))
    if key_gaps is None:
        assert len(decode_key_gaps(data, len(ids))) == 0
        assert planes is None
    else:
        assert list(decode_key_gaps(data, len(ids))) == key_gaps
        assert encode_postings(ids, weights, array("Q", key_gaps)) == data  # a wide array is narrowed
        keys = list(accumulate(key_gaps, initial=base))[1:]
        assert planes is not None and planes.count == len(keys)
        assert list(planes.keys(base)) == keys
        assert planes.key_array(base).tolist() == keys
        if keys[-1] < 2**31:
            narrow = planes.key_array(base, narrow=True)
            assert narrow.dtype == "int32" and narrow.tolist() == keys


@settings(max_examples=300, deadline=None)
@given(st.lists(posting_lists(), min_size=2, max_size=4), st.booleans(), st.data())
def test_joining_encoded_lists_gives_the_bytes_of_the_joined_list(parts, keyed: bool, data) -> None:  # type: ignore[no-untyped-def]
    """A merge joins lists of consecutive document runs without decoding them to numbers: the
    bytes, last document and weight figures are exactly those of the decoded list joined."""
    ids: list[int] = []
    weights: list[float] = []
    key_gaps: list[int] = []
    joined = []
    any_weights = False
    last_key = 0
    for part_ids, part_weights, part_keys in parts:
        first = (ids[-1] if ids else 0) + data.draw(st.integers(0 if not ids else 1, 70_000))
        shifted = [first + d - part_ids[0] for d in part_ids]
        part_keys = (part_keys or [0] * len(part_ids)) if keyed else None
        start = last_key + data.draw(st.integers(0, 300))  # the first document's position base
        encoded = encode_postings(shifted, part_weights, part_keys)
        joined.append((encoded, first, len(shifted), start))
        if part_keys is not None:
            key_gaps.append(start + part_keys[0] - last_key if ids else part_keys[0])
            key_gaps.extend(part_keys[1:])
            last_key = start + sum(part_keys)
        ids.extend(shifted)
        any_weights = any_weights or part_weights is not None
        weights.extend(part_weights if part_weights is not None else [1.0] * len(shifted))
    expected = encode_postings(ids, weights if any_weights else None, key_gaps if keyed else None)
    got, last, total, top = join_postings(joined)
    assert got == expected
    assert last == ids[-1]
    assert (total, top) == (float(sum(weights)), float(max(weights)))


def test_lists_packed_by_zlib_before_zstd_still_decode() -> None:
    """Segments written before posting lists were packed with zstd stay readable."""
    ids = list(range(0, 3000, 3))
    key_gaps = [7] * 5000
    data = encode_postings(ids, None, key_gaps)
    assert data[0] & 0x80 and data[1:5] == b"\x28\xb5\x2f\xfd"  # a zstd frame
    old = bytes([data[0]]) + zlib.compress(zstandard.ZstdDecompressor().decompress(data[1:]), 6)
    assert decode_postings(old, 0, len(ids)) == decode_postings(data, 0, len(ids))
    old_planes, planes = key_planes(old, len(ids)), key_planes(data, len(ids))
    assert old_planes is not None and planes is not None
    assert old_planes.key_array(5).tolist() == planes.key_array(5).tolist()


def test_a_list_that_does_not_unpack_is_damage() -> None:
    rng = random.Random(12)
    data = encode_postings(list(range(0, 3000, 3)), None, [rng.randrange(1000) for _ in range(5000)])
    assert len(data) > 1000
    for broken in (data[: len(data) // 2], data[:5] + bytes(len(data) - 5)):
        with pytest.raises(DamagedArchive, match="damaged search index: a compressed block"):
            decode_postings(broken, 0, 1000)
