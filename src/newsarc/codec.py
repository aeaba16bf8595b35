"""A compact Whoosh codec: small term dictionaries and array-packed postings.

Whoosh's default codec (``W3Codec``) spends about 180 bytes on every term of
every segment before the first posting: a hash-table entry with a 35-byte
term info in the ``.trm`` file, and in the ``.pst`` file a header and a
pickled, zlib-compressed block even for a term found in one document.  Chinese
news has a long tail of rare words (most of the 370,000 distinct terms of the
corpus occur in one or two articles), so that overhead made the index four
times the size of the text.

:class:`NewsarcCodec` keeps Whoosh's per-document files (stored fields, field
lengths, columns) and replaces the two term files:

``.ntd`` *term dictionary*
    Terms sorted by (field, text) in blocks of :data:`BLOCK_TERMS`; each block
    is front-coded and zstd-compressed, an entry holding the term's statistics
    (document frequency, total and maximum weight, shortest and longest field
    length, first and last document) and the byte length of its posting list
    in a fixed-width record.  A block index at the end of the file (first term
    of each block, as arrays) opens in a millisecond and finds a term with one
    bisection and one block read.
``.npo`` *postings*
    Per term, its document numbers delta-encoded into the narrowest array type
    that holds them, then the weights the same way (nothing when all are 1),
    then — for a positional field — its occurrences, zstd-compressed when that
    is smaller.  One read and a C-level decode give the whole list, which
    Whoosh's :class:`~whoosh.matching.ListMatcher` serves.

*Positions* (newsarc's ``chars`` field) are kept as *keys*: offsets in the
segment's texts laid end to end (a document's *base* is where its text
starts), ascending, stored as gaps — the first one after the base of the
list's first document — in the narrowest array type, its bytes split into
planes (all low bytes, then the next …) so that zstd squeezes the mostly-zero
high bytes: about 1.6 bytes an occurrence.  The gaps do not change when a
merge moves a segment's documents (only where two lists meet), a whole list
decodes at C speed (``itertools.accumulate``, or into a numpy array with one
cumulative sum), and a phrase is an intersection of the keys of its
characters, each shifted by its place in it.

Postings can be added one by one (Whoosh's ``FieldWriter`` protocol, so any
Whoosh writer can use the codec) or a whole list at a time
(:meth:`CompactFieldWriter.add_term`), which is what newsarc's writer and
merger do; a merge joins a term's lists from segments without deletions
still encoded (:meth:`CompactFieldWriter.add_joined`: document gaps, weights
and key gaps are copied as arrays, only the gaps where two lists meet are
new).  Segments name their codec in the index's table of contents, so an
index written with it opens with plain ``whoosh.index.open_dir``.
"""

from __future__ import annotations

import struct
import sys
import threading
import zlib
from array import array
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from itertools import accumulate, chain, islice
from operator import sub
from typing import TYPE_CHECKING

from whoosh.codec import base
from whoosh.codec.whoosh3 import W3Codec
from whoosh.matching import ListMatcher
from whoosh.reading import TermInfo, TermNotFound
from whoosh.system import emptybytes
from whoosh.util.numeric import byte_to_length, length_to_byte

from newsarc.errors import DamagedArchive
from newsarc.integrity import REPAIR

if TYPE_CHECKING:  # imported where used: most commands never need it
    import numpy as np

#: Terms per block of the term dictionary (a lookup decompresses one block).
BLOCK_TERMS = 64
#: Posting lists shorter than this many bytes are not worth compressing.
COMPRESS_MIN_BYTES = 48
_MAGIC = b"NXT1"
_TRAILER = struct.Struct("<QQ4s")  # block index offset, its length, magic
_LITTLE = sys.byteorder == "little"
_ID_TYPES = "BHI"
_WEIGHT_KINDS = (None, "B", "H", "f")  # None: every weight is 1.0
_KEY_TYPES = "BHIQ"
_HAS_KEYS = 0x40


#: zstd level of posting lists and term-dictionary blocks.  On the corpus's lists level 3
#: packs within 1 % of zlib's level 6, five times faster, and unpacks twice as fast.
PACK_LEVEL = 3
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # never the start of a zlib stream (its header check fails)


class _Zstd(threading.local):
    """One compression and one decompression context per thread (neither may be shared)."""

    def __init__(self) -> None:
        import zstandard  # imported on first use, as the store does

        self.compressor = zstandard.ZstdCompressor(level=PACK_LEVEL)
        self.decompressor = zstandard.ZstdDecompressor()
        self.error = zstandard.ZstdError


_contexts: _Zstd | None = None


def _zstd() -> _Zstd:
    global _contexts
    if _contexts is None:
        _contexts = _Zstd()
    return _contexts


def _inflate(data: bytes) -> bytes:
    """Unpack a compressed list or block: a zstd frame, or a zlib stream (written before
    newsarc packed with zstd; a merge copies a list found in one segment as it is)."""
    try:
        if data[:4] == _ZSTD_MAGIC:
            return _zstd().decompressor.decompress(data)
        return zlib.decompress(data)
    except (zlib.error, _zstd().error) as exc:
        raise DamagedArchive(f"damaged search index: a compressed block does not unpack ({exc}); {REPAIR}") from exc


# --------------------------------------------------------------------------- postings


def key_gap_type(top: int) -> str:
    """The array type code in which :func:`encode_postings` stores key gaps up to ``top``."""
    return _narrowest(top, _KEY_TYPES)


def _narrowest(top: int, types: str) -> str:
    for code in types:
        if top < 1 << (8 * array(code).itemsize):
            return code
    raise ValueError(f"value {top} too large for a posting list")


#: Arrays at least this long are searched and summed by numpy (one C loop), shorter ones by Python.
_C_LOOP_MIN = 256


def _top(a: array) -> int | float:
    """The largest value of a non-empty array."""
    if len(a) < _C_LOOP_MIN:
        return max(a)
    import numpy as np

    return np.frombuffer(a, a.typecode).max().item()  # type: ignore[no-any-return]


def _total(a: array) -> int:
    """The sum of an array of unsigned integers (exact)."""
    if len(a) < _C_LOOP_MIN:
        return sum(a)
    import numpy as np

    return int(np.frombuffer(a, a.typecode).sum(dtype=np.uint64))


def _retyped(a: array, code: str) -> array:
    """``a`` as an array of type ``code``, whose values it holds."""
    if a.typecode == code:
        return a
    if len(a) < _C_LOOP_MIN:
        return array(code, a)
    import numpy as np

    out = array(code)
    out.frombytes(np.frombuffer(a, a.typecode).astype(code).tobytes())
    return out


def _le_bytes(a: array) -> bytes:
    if not _LITTLE:
        a = array(a.typecode, a)
        a.byteswap()
    return a.tobytes()


def _from_le(code: str, data: bytes) -> array:
    a = array(code)
    a.frombytes(data)
    if not _LITTLE:
        a.byteswap()
    return a


def encode_postings(
    ids: Sequence[int], weights: Sequence[float] | None, key_gaps: Sequence[int] | None = None
) -> bytes:
    """Bytes of one posting list: ascending document numbers, their weights, and key gaps.

    Document numbers are stored as gaps after the first, which the term's
    info holds: the bytes do not change when a merge renumbers the segment.
    ``key_gaps`` (positional fields) are the gaps between consecutive position
    keys, the first one taken from the base of document ``ids[0]``.
    """
    if len(ids) == 1 and key_gaps is None:  # most terms: one document, weight 1 or a small count
        w = 1.0 if weights is None else weights[0]
        if w == 1.0:
            return b"\x00"
        if 0 < w < 256 and float(w).is_integer():
            return bytes((1 << 2, int(w)))
    kind = 0
    if weights is not None and weights.count(1.0) != len(weights):
        if all(map(float.is_integer, map(float, weights))) and min(weights) >= 0:
            top = int(max(weights))
            kind = 1 if top < 256 else 2 if top < 65536 else 3
        else:
            kind = 3
    stored = None
    if kind:
        code = _WEIGHT_KINDS[kind]
        assert code is not None and weights is not None
        stored = array(code, map(int, weights)) if kind < 3 else array(code, weights)
    return _pack(array("I", map(sub, islice(ids, 1, None), ids)), kind, stored, key_gaps)


def _pack(
    id_gaps: array, kind: int, weights: array | None, key_gaps: Sequence[int] | None
) -> bytes:
    """:func:`encode_postings`'s bytes of any list but its one-document shortcuts (a document
    with keys, or with a weight that is not a count below 256, comes here too): its document
    gaps, its weights' kind (0: all 1) and their array (of that kind's type), its key gaps."""
    id_code = _narrowest(_top(id_gaps) if id_gaps else 0, _ID_TYPES)
    parts = [_le_bytes(_retyped(id_gaps, id_code))]
    if kind:
        assert weights is not None
        parts.append(_le_bytes(weights))
    flags = _ID_TYPES.index(id_code) | (kind << 2)
    if key_gaps is not None:
        key_code = key_gap_type(_top(key_gaps) if isinstance(key_gaps, array) else max(key_gaps))
        flags |= _HAS_KEYS | (_KEY_TYPES.index(key_code) << 4)
        gaps_array = _retyped(key_gaps, key_code) if isinstance(key_gaps, array) else array(key_code, key_gaps)
        if not _LITTLE:
            gaps_array = array(key_code, gaps_array)
            gaps_array.byteswap()
        parts.extend(_planes(gaps_array))
    size = sum(map(len, parts))
    if size >= COMPRESS_MIN_BYTES:
        packer = _zstd().compressor.compressobj(size=size)
        packed = b"".join([bytes((flags | 0x80,)), *map(packer.compress, parts), packer.flush()])
        if len(packed) <= size:  # the flag byte joined in at once: no second copy of a long list
            return packed
    return bytes([flags]) + b"".join(parts)


def _planes(a: array) -> Iterator[bytes]:
    """The byte planes of a little-endian array: all low bytes, then the next … (each copied
    straight out of the array: a long list is held twice at most)."""
    width = a.itemsize
    if len(a) < _C_LOOP_MIN:
        raw = memoryview(a).cast("B")
        yield from (raw[i::width].tobytes() for i in range(width))
        raw.release()
        return
    import numpy as np

    table = np.frombuffer(a, np.uint8).reshape(-1, width)
    yield from (table[:, i].tobytes() for i in range(width))


def join_postings(parts: Sequence[tuple[bytes, int, int, int]]) -> tuple[bytes, int, float, float]:
    """Encode posting lists of consecutive runs of documents as one list, without turning their
    gaps into document numbers and back (what a merge does with a term most segments hold).

    ``parts`` are, in document order, each list's bytes, its first document
    number in the joined list, its number of documents, and (positional
    lists) the position base of that first document.  Returns the joined
    list's bytes — the very bytes :func:`encode_postings` makes of the decoded
    and joined list —, its last document number, and its weights' total and
    largest value.
    """
    id_gaps = array("I")
    kind = 0
    weighted: list[tuple[int, array | None]] = []
    keyed: list[tuple[int, array]] = []
    last: int | None = None
    for data, first, count, start in parts:
        flags = data[0]
        body, id_code, width, weight_code = _layout(data, count)
        if last is not None:
            id_gaps.append(first - last)
        gaps = _from_le(id_code, body[:width])
        id_gaps.extend(_retyped(gaps, "I"))
        last = first + _total(gaps)
        weights = None
        if weight_code is not None:
            end = width + array(weight_code).itemsize * count
            weights = _from_le(weight_code, body[width:end])
            width = end
        kind = max(kind, (flags >> 2) & 0x3)
        weighted.append((count, weights))
        if flags & _HAS_KEYS:
            keyed.append((start, _plane_gaps(_KEY_TYPES[(flags >> 4) & 0x3], memoryview(body)[width:])))
    assert last is not None
    stored = None
    if kind:
        code = _WEIGHT_KINDS[kind]
        assert code is not None
        stored = array(code)
        for count, weights in weighted:
            if weights is None:
                stored.extend(array(code, (1,)) * count)
            else:
                stored.extend(_retyped(weights, code))
        total = float(sum(stored) if kind == 3 else _total(stored))  # floats summed in order, as encode does
        top = float(_top(stored))
    else:
        total, top = float(len(id_gaps) + 1), 1.0
    data = _pack(id_gaps, kind, stored, join_key_gaps(keyed) if keyed else None)
    return data, last, total, top


def join_key_gaps(parts: Sequence[tuple[int, array]]) -> array:
    """The key gaps of positional lists of consecutive document runs joined into one (C-level
    copies), in the narrowest array type that holds them (a common character's list is the
    largest thing a merge holds: it is built once, at the width it is stored in).

    ``parts`` are each list's key gaps with the position base of its first
    document in the joined list; only where two lists meet is a gap computed
    anew.
    """
    firsts: list[tuple[int, array]] = []
    top = 0
    last = None
    for start, gaps in parts:
        if not len(gaps):
            continue
        first = gaps[0] if last is None else start + gaps[0] - last
        top = max(top, first, _top(gaps))
        firsts.append((first, gaps))
        last = start + _total(gaps)
    code = key_gap_type(top)
    out = array(code, (0,)) * sum(len(gaps) for _first, gaps in firsts)  # allocated once, not grown
    view = memoryview(out)
    at = 0
    for first, gaps in firsts:
        out[at] = first
        rest = memoryview(gaps)[1:] if gaps.typecode == code else array(code, islice(gaps, 1, None))
        view[at + 1 : at + len(gaps)] = rest
        at += len(gaps)
    view.release()
    return out


def _layout(data: bytes, count: int) -> tuple[bytes, str, int, str | None]:
    """An encoded list's body, the type of its document gaps, their byte length and the
    type of its weights (None: every weight is 1)."""
    flags = data[0]
    body = _inflate(data[1:]) if flags & 0x80 else data[1:]
    id_code = _ID_TYPES[flags & 0x3]
    return body, id_code, array(id_code).itemsize * (count - 1), _WEIGHT_KINDS[(flags >> 2) & 0x3]


def decode_postings(data: bytes, first: int, count: int) -> tuple[list[int], array | None]:
    """``(document numbers, weights or None for all 1.0)`` of :func:`encode_postings` bytes."""
    body, id_code, width, weight_code = _layout(data, count)
    ids = list(accumulate(_from_le(id_code, body[:width]), initial=first))
    if weight_code is None:
        return ids, None
    weights = _from_le(weight_code, body[width : width + array(weight_code).itemsize * count])
    return ids, weights if weight_code == "f" else array("f", weights)


def decode_posting_arrays(data: bytes, first: int, count: int) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`decode_postings` as numpy arrays: ``int64`` document numbers, ``float64``
    weights (the same values) or None."""
    import numpy as np

    body, id_code, width, weight_code = _layout(data, count)
    ids = np.empty(count, np.int64)
    ids[0] = first
    gaps = np.frombuffer(body, f"<u{array(id_code).itemsize}", count - 1)
    np.cumsum(gaps, dtype=np.int64, out=ids[1:])
    ids[1:] += first
    if weight_code is None:
        return ids, None
    dtype = "<f4" if weight_code == "f" else f"<u{array(weight_code).itemsize}"
    return ids, np.frombuffer(body, dtype, count, width).astype(np.float64)


def _key_planes(data: bytes, count: int) -> tuple[str, memoryview] | None:
    """The key gaps' array type and their byte planes in a positional list (None: no keys)."""
    flags = data[0]
    if not flags & _HAS_KEYS:
        return None
    body, _id_code, start, weight_code = _layout(data, count)
    if weight_code is not None:
        start += array(weight_code).itemsize * count
    return _KEY_TYPES[(flags >> 4) & 0x3], memoryview(body)[start:]


def decode_key_gaps(data: bytes, count: int) -> array:
    """The key gaps of a positional list (:func:`encode_postings`); empty when it has none."""
    found = _key_planes(data, count)
    if found is None:
        return array("Q")
    return _plane_gaps(*found)


def _plane_gaps(code: str, planes: bytes | memoryview) -> array:
    """Key gaps of type ``code`` from their byte planes (all low bytes, then the next …)."""
    width = array(code).itemsize
    if width > 1:
        joined = bytearray(len(planes))
        size = len(planes) // width
        for i in range(width):
            joined[i::width] = planes[i * size : (i + 1) * size]
        planes = bytes(joined)
    return _from_le(code, planes)


class KeyPlanes:
    """The key gaps of a positional list, unpacked but not yet decoded: :attr:`count` (how many
    positions) tells what decoding them will cost before it is paid."""

    __slots__ = ("code", "planes", "count")

    def __init__(self, code: str, planes: memoryview) -> None:
        self.code = code
        self.planes = planes
        self.count = len(planes) // array(code).itemsize

    def keys(self, base: int) -> Iterator[int]:
        """The position keys, ascending, the first document's base being ``base``."""
        gaps = _plane_gaps(self.code, self.planes)
        if not gaps:
            return iter(())
        return accumulate(chain((base + gaps[0],), islice(gaps, 1, None)))

    def key_array(self, base: int, *, narrow: bool = False) -> np.ndarray:
        """:meth:`keys` as an ascending ``int64`` array, decoded without a Python-level step per
        key — a common character has millions.  With ``narrow`` (the caller knows every key
        is below 2³¹) an ``int32`` array: half the memory to write and to search."""
        import numpy as np

        width = array(self.code).itemsize
        gaps = np.frombuffer(self.planes, np.uint8)
        if width > 1:  # planes (all low bytes, then the next …) back to little-endian values
            interleaved = np.empty((self.count, width), np.uint8)
            for i in range(width):
                interleaved[:, i] = gaps[i * self.count : (i + 1) * self.count]
            gaps = interleaved.view(f"<u{width}").reshape(self.count)
        keys = np.cumsum(gaps, dtype=np.int32 if narrow else np.int64)  # widened as it sums: no copy
        keys += base
        return keys


def key_planes(data: bytes, count: int) -> KeyPlanes | None:
    """The key gaps of a positional list of ``count`` documents (None: it has none)."""
    found = _key_planes(data, count)
    return None if found is None else KeyPlanes(*found)


# --------------------------------------------------------------------------- term info

#: One term-dictionary entry, followed by its key: key length, then the term info
#: (document frequency, total weight, maximum weight, shortest and longest field
#: length bytes, first and last document, posting-list bytes).  Keys are stored
#: whole: zstd, compressing the block, takes out what consecutive keys share.
_ENTRY = struct.Struct("<HIdfBBIII")


#: A decoded entry: weight, df, min and max length bytes, max weight, min id, max id, offset, length.
Row = tuple[float, int, int, int, float, int, int, int, int]


def row_lengths(row: Row) -> tuple[int | None, int]:
    """The shortest (None if unknown) and longest field lengths an entry records."""
    minbyte, maxbyte = row[2], row[3]
    return (byte_to_length(minbyte) if minbyte else None), byte_to_length(maxbyte)


class _Block:
    """One decoded block of the term dictionary: its keys, their raw :data:`_ENTRY` fields, and
    where the first entry's posting list starts (each list follows the one before)."""

    __slots__ = ("keys", "entries", "posts_offset")

    def __init__(self, keys: list[bytes], entries: list[tuple], posts_offset: int) -> None:
        self.keys = keys
        self.entries = entries
        self.posts_offset = posts_offset

    def row(self, j: int) -> Row:
        """Entry ``j`` as a :data:`Row`."""
        _keylen, df, weight, maxweight, minbyte, maxbyte, minid, maxid, length = self.entries[j]
        offset = self.posts_offset + sum(entry[8] for entry in islice(self.entries, j))
        return (weight, df, minbyte, maxbyte, maxweight, minid, maxid, offset, length)

    def rows(self) -> Iterator[Row]:
        """Every entry as a :data:`Row`, in order."""
        offset = self.posts_offset
        for _keylen, df, weight, maxweight, minbyte, maxbyte, minid, maxid, length in self.entries:
            yield (weight, df, minbyte, maxbyte, maxweight, minid, maxid, offset, length)
            offset += length


def _info(row: Row) -> CompactTermInfo:
    """A fresh info object for an entry (Whoosh's MultiReader changes the ones it is given)."""
    weight, df, _minbyte, _maxbyte, maxweight, minid, maxid, offset, length = row
    minlength, maxlength = row_lengths(row)
    return CompactTermInfo(
        weight, df, minlength, maxlength, maxweight, minid, maxid, offset=offset, length=length
    )


class CompactTermInfo(TermInfo):
    """Statistics of a term plus where its posting list lies in the ``.npo`` file."""

    __slots__ = ("offset", "length")

    def __init__(self, *args, offset: int = 0, length: int = 0, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.offset = offset
        self.length = length


# --------------------------------------------------------------------------- writing


class CompactFieldWriter(base.FieldWriter):
    """Writes a segment's term dictionary and postings (see the module docstring)."""

    def __init__(self, storage, segment) -> None:  # type: ignore[no-untyped-def]
        self._terms = segment.create_file(storage, NewsarcCodec.TERMS_EXT)
        self._posts = segment.create_file(storage, NewsarcCodec.POSTS_EXT)
        self._terms.write(_MAGIC)
        self._posts_offset = 0
        self._fieldmap: dict[str, int] = {}
        self._field_prefix = b""  # the current field's number, the first two bytes of its keys
        self._block = bytearray()
        self._block_count = 0
        self._block_first: bytes | None = None
        self._block_posts_offset = 0
        self._index: list[tuple[bytes, int, int]] = []  # (first key, file offset, postings offset)
        # one-by-one protocol
        self._btext: bytes | None = None
        self._ids: list[int] = []
        self._weights: list[float] = []
        self._lengths: list[int] = []
        self.is_closed = False

    # Whoosh's protocol ------------------------------------------------------------

    def start_field(self, fieldname, fieldobj) -> None:  # type: ignore[no-untyped-def]
        number = self._fieldmap.setdefault(fieldname, len(self._fieldmap))
        self._field_prefix = struct.pack(">H", number)

    def start_term(self, btext: bytes) -> None:
        self._btext = btext
        self._ids, self._weights, self._lengths = [], [], []

    def add(self, docnum: int, weight: float, vbytes: bytes, length: int | None) -> None:
        self._ids.append(docnum)
        self._weights.append(weight)
        if length:
            self._lengths.append(length)

    def finish_term(self) -> None:
        assert self._btext is not None
        lengths = self._lengths
        self.add_term(
            self._btext,
            self._ids,
            self._weights,
            min(lengths, default=None),
            max(lengths, default=0),
        )
        self._btext = None

    def finish_field(self) -> None:
        self._field_prefix = b""

    # whole lists -------------------------------------------------------------------

    def add_term(
        self,
        btext: bytes,
        ids: Sequence[int],
        weights: Sequence[float] | None,
        minlength: int | None,
        maxlength: int,
        key_gaps: Sequence[int] | None = None,
    ) -> None:
        """Add one term of the current field with its whole posting list (ascending ids)."""
        if not len(ids):
            return
        if weights is None:
            total, maxweight = float(len(ids)), 1.0
        else:
            total, maxweight = float(sum(weights)), float(max(weights))
        minbyte = length_to_byte(minlength) if minlength is not None else 0
        self._add(btext, len(ids), total, maxweight, minbyte, length_to_byte(maxlength or 0), ids[0], ids[-1],
                  encode_postings(ids, weights, key_gaps))  # fmt: skip

    def add_joined(
        self, btext: bytes, parts: Sequence[tuple[bytes, int, int, int]], minlength: int | None,
        maxlength: int,
    ) -> None:
        """Add one term whose posting list is lists of consecutive document runs joined (see
        :func:`join_postings`, which says what ``parts`` are)."""
        data, last, total, maxweight = join_postings(parts)
        minbyte = length_to_byte(minlength) if minlength is not None else 0
        self._add(btext, sum(part[2] for part in parts), total, maxweight, minbyte,
                  length_to_byte(maxlength or 0), parts[0][1], last, data)  # fmt: skip

    def add_encoded(self, btext: bytes, row: Row, shift: int, data: bytes) -> None:
        """Add a term of another segment whose list moves ``shift`` documents, copied as it is."""
        weight, df, minbyte, maxbyte, maxweight, minid, maxid, _offset, _length = row
        self._add(
            btext, df, weight, maxweight, minbyte, maxbyte, minid + shift, maxid + shift, data
        )

    def _add(self, btext: bytes, df: int, weight: float, maxweight: float, minbyte: int, maxbyte: int,
             minid: int, maxid: int, data: bytes) -> None:  # fmt: skip
        if self._block_count == BLOCK_TERMS:
            self._flush_block()
        key = self._field_prefix + btext
        if self._block_count == 0:
            self._block_first = key
            self._block_posts_offset = self._posts_offset
        if len(key) > 0xFFFF:
            raise ValueError(f"term too long for the index: {len(btext)} bytes")
        self._block += _ENTRY.pack(
            len(key), df, weight, maxweight, minbyte, maxbyte, minid, maxid, len(data)
        )
        self._block += key
        self._block_count += 1
        self._posts.write(data)
        self._posts_offset += len(data)

    def _flush_block(self) -> None:
        if not self._block_count:
            return
        assert self._block_first is not None
        offset = self._terms.tell()
        packed = _zstd().compressor.compress(self._block)
        self._terms.write(struct.pack("<I", len(packed)))
        self._terms.write(packed)
        self._index.append((self._block_first, offset, self._block_posts_offset))
        self._block = bytearray()
        self._block_count = 0

    def close(self) -> None:
        self._flush_block()
        names = "\n".join(sorted(self._fieldmap, key=self._fieldmap.__getitem__)).encode("utf-8")
        firsts = b"".join(first for first, _offset, _posts in self._index)
        ends = array("Q", accumulate(len(first) for first, _offset, _posts in self._index))
        offsets = array("Q", (offset for _first, offset, _posts in self._index))
        posts = array("Q", (posts for _first, _offset, posts in self._index))
        out = bytearray(struct.pack("<II", len(names), len(self._index)))
        out += names
        out += _le_bytes(ends) + _le_bytes(offsets) + _le_bytes(posts) + firsts
        packed = _zstd().compressor.compress(out)
        index_offset = self._terms.tell()
        self._terms.write(packed)
        self._terms.write(_TRAILER.pack(index_offset, len(packed), _MAGIC))
        self._terms.close()
        self._posts.close()
        self.is_closed = True


# --------------------------------------------------------------------------- reading


class _Firsts(Sequence[bytes]):
    """The first key of each block of a term dictionary, sliced out of their joined bytes when
    asked for: a lookup's binary search reads a few of them, and a segment of a large archive
    has tens of thousands of blocks (making them all costs more than the lookup)."""

    __slots__ = ("_joined", "_ends")

    def __init__(self, joined: bytes, ends: array) -> None:
        self._joined = joined
        self._ends = ends

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, i: int) -> bytes:  # type: ignore[override]  # no slices: not needed
        if i < 0:
            i += len(self._ends)
        return self._joined[self._ends[i - 1] if i else 0 : self._ends[i]]


#: How many bytes of posting lists a merge reads at once (:meth:`CompactTermsReader.field_postings`).
READ_WINDOW = 1 << 20


class CompactTermsReader(base.TermsReader):
    """Reads a segment written by :class:`CompactFieldWriter`."""

    #: Decoded blocks kept per reader.
    CACHED_BLOCKS = 64

    def __init__(self, storage, segment) -> None:  # type: ignore[no-untyped-def]
        self._terms = segment.open_file(storage, NewsarcCodec.TERMS_EXT)
        self._posts = segment.open_file(storage, NewsarcCodec.POSTS_EXT)
        size = storage.file_length(segment.make_filename(NewsarcCodec.TERMS_EXT))
        self._terms.seek(size - _TRAILER.size)
        index_offset, index_length, magic = _TRAILER.unpack(self._terms.read(_TRAILER.size))
        if magic != _MAGIC:
            raise DamagedArchive(
                f"damaged search index: {segment.make_filename(NewsarcCodec.TERMS_EXT)} "
                "is not a newsarc term dictionary"
            )
        self._terms.seek(index_offset)
        raw = _inflate(self._terms.read(index_length))
        names_length, blocks = struct.unpack_from("<II", raw)
        pos = 8 + names_length
        names = raw[8:pos].decode("utf-8")
        self._fieldnames: list[str] = names.split("\n") if names else []
        self._fieldmap: dict[str, int] = {name: i for i, name in enumerate(self._fieldnames)}
        width = 8 * blocks
        ends = _from_le("Q", raw[pos : pos + width])
        self._offsets = _from_le("Q", raw[pos + width : pos + 2 * width])
        self._posts_offsets = _from_le("Q", raw[pos + 2 * width : pos + 3 * width])
        self._firsts = _Firsts(raw[pos + 3 * width :], ends)
        self._cache: dict[int, _Block] = {}

    # blocks ------------------------------------------------------------------------

    def _block(self, i: int) -> _Block:
        cached = self._cache.get(i)
        if cached is not None:
            return cached
        self._terms.seek(self._offsets[i])
        (length,) = struct.unpack("<I", self._terms.read(4))
        data = _inflate(self._terms.read(length))
        # only the entries' fields and keys here: a lookup wants one row of the block
        # (_Block.row), a merge all of them in order (_Block.rows)
        keys: list[bytes] = []
        entries: list[tuple] = []
        pos = 0
        unpack = _ENTRY.unpack_from
        size = _ENTRY.size
        end = len(data)
        while pos < end:
            entry = unpack(data, pos)
            pos += size
            keys.append(data[pos : pos + entry[0]])
            pos += entry[0]
            entries.append(entry)
        block = _Block(keys, entries, self._posts_offsets[i])
        if len(self._cache) >= self.CACHED_BLOCKS:
            self._cache.pop(next(iter(self._cache)))
        self._cache[i] = block
        return block

    def _key(self, fieldname: str, tbytes: bytes) -> bytes | None:
        num = self._fieldmap.get(fieldname)
        return None if num is None else struct.pack(">H", num) + tbytes

    def _find(self, key: bytes | None) -> CompactTermInfo | None:
        if key is None:
            return None
        i = bisect_right(self._firsts, key) - 1
        if i < 0:
            return None
        block = self._block(i)
        j = bisect_right(block.keys, key) - 1
        return _info(block.row(j)) if j >= 0 and block.keys[j] == key else None

    def lookup(self, fieldname: str, tbytes: bytes) -> CompactTermInfo | None:
        """The info of a term, or None when this segment does not hold it."""
        return self._find(self._key(fieldname, tbytes))

    def _items_from(self, key: bytes) -> Iterator[tuple[tuple[str, bytes], CompactTermInfo]]:
        i = max(bisect_right(self._firsts, key) - 1, 0)
        names = self._fieldnames
        for b in range(i, len(self._firsts)):
            block = self._block(b)
            for k, row in zip(block.keys, block.rows(), strict=True):
                if k >= key:
                    yield (names[struct.unpack(">H", k[:2])[0]], k[2:]), _info(row)

    # Whoosh's TermsReader ------------------------------------------------------------

    def __contains__(self, term) -> bool:  # type: ignore[no-untyped-def]
        fieldname, tbytes = term
        return self.lookup(fieldname, tbytes) is not None

    def indexed_field_names(self):  # type: ignore[no-untyped-def]
        return self._fieldmap.keys()

    def terms(self):  # type: ignore[no-untyped-def]
        return (term for term, _info in self._items_from(b""))

    def terms_from(self, fieldname, prefix):  # type: ignore[no-untyped-def]
        return (term for term, _info in self.items_from(fieldname, prefix))

    def items(self):  # type: ignore[no-untyped-def]
        return self._items_from(b"")

    def items_from(self, fieldname, prefix):  # type: ignore[no-untyped-def]
        key = self._key(fieldname, prefix)
        if key is None:
            return iter(())
        return self._items_from(key)

    def term_info(self, fieldname, tbytes):  # type: ignore[no-untyped-def]
        info = self.lookup(fieldname, tbytes)
        if info is None:
            raise TermNotFound(f"no term {fieldname}:{tbytes!r}")
        return info

    # Whoosh's readers expect KeyError from these two for a missing term (as W3's hash table raises)

    def frequency(self, fieldname, tbytes):  # type: ignore[no-untyped-def]
        info = self.lookup(fieldname, tbytes)
        if info is None:
            raise KeyError((fieldname, tbytes))
        return info.weight()

    def doc_frequency(self, fieldname, tbytes):  # type: ignore[no-untyped-def]
        info = self.lookup(fieldname, tbytes)
        if info is None:
            raise KeyError((fieldname, tbytes))
        return info.doc_frequency()

    def postings_of(self, info: CompactTermInfo, offset: int = 0) -> tuple[list[int], array | None]:
        """The decoded posting list of a term: ``(document numbers + offset, weights or None)``."""
        data = self.raw_postings(info.offset, info.length)
        return decode_postings(data, info._minid + offset, info._df)

    def posting_arrays(self, info: CompactTermInfo) -> tuple[np.ndarray, np.ndarray | None]:
        """The decoded posting list of a term as numpy arrays (see :func:`decode_posting_arrays`)."""
        return decode_posting_arrays(self.raw_postings(info.offset, info.length), info._minid, info._df)

    def key_planes(self, info: CompactTermInfo) -> KeyPlanes | None:
        """The key gaps of a term of a positional field, not yet decoded (see :class:`KeyPlanes`)."""
        return key_planes(self.raw_postings(info.offset, info.length), info._df)

    def raw_postings(self, offset: int, length: int) -> bytes:
        """An encoded posting list, as :func:`encode_postings` made it (a :data:`Row` ends with both)."""
        self._posts.seek(offset)
        return self._posts.read(length)

    def field_postings(self, fieldname: str) -> Iterator[tuple[bytes, Row, bytes]]:
        """``(term bytes, raw entry, encoded list)`` of one field, in order (for merging): the
        lists, which lie in term order, read in windows of :data:`READ_WINDOW` bytes or more
        rather than one by one."""
        window, start = b"", 0
        for tbytes, row in self.field_rows(fieldname):
            offset, length = row[7], row[8]
            if offset < start or offset + length > start + len(window):
                self._posts.seek(offset)
                window, start = self._posts.read(max(length, READ_WINDOW)), offset
            yield tbytes, row, window[offset - start : offset - start + length]

    def field_rows(self, fieldname: str) -> Iterator[tuple[bytes, Row]]:
        """``(term bytes, raw entry)`` of one field, in order (for merging)."""
        prefix = self._key(fieldname, emptybytes)
        if prefix is None:
            return
        for b in range(max(bisect_right(self._firsts, prefix) - 1, 0), len(self._firsts)):
            block = self._block(b)
            for k, row in zip(block.keys, block.rows(), strict=True):
                if k[:2] == prefix:
                    yield k[2:], row
                elif k > prefix:
                    return

    def matcher(self, fieldname, tbytes, format_, scorer=None):  # type: ignore[no-untyped-def]
        info = self.term_info(fieldname, tbytes)
        ids, weights = self.postings_of(info)
        return ListMatcher(
            ids, weights, None, format_, scorer=scorer, term=(fieldname, tbytes), terminfo=info
        )

    def cursor(self, fieldname, fieldobj):  # type: ignore[no-untyped-def]
        raise NotImplementedError(
            "term cursors (fuzzy/automata queries) are not supported by NewsarcCodec"
        )

    def close(self) -> None:
        self._terms.close()
        self._posts.close()


class NewsarcCodec(W3Codec):
    """Whoosh's W3 codec with :class:`CompactFieldWriter` / :class:`CompactTermsReader` term files."""

    TERMS_EXT = ".ntd"
    POSTS_EXT = ".npo"

    def field_writer(self, storage, segment):  # type: ignore[no-untyped-def]
        return CompactFieldWriter(storage, segment)

    def terms_reader(self, storage, segment):  # type: ignore[no-untyped-def]
        return CompactTermsReader(storage, segment)

    def postings_reader(self, dbfile, terminfo, format_, term=None, scorer=None):  # type: ignore[no-untyped-def]
        raise NotImplementedError("NewsarcCodec reads postings through its terms reader")

    def automata(self, storage, segment):  # type: ignore[no-untyped-def]
        raise NotImplementedError("NewsarcCodec keeps no term automata")
