"""The Whoosh index: schema, and writing analysed articles and merged segments to it.

Analysis happens before the index (in worker processes during ingest), so the
text fields take *pre-counted terms* (:class:`CountedField`) instead of running
an analyzer inside Whoosh.  No term vectors are stored, and positions only
in the ``chars`` field (every CJK character's offsets), from which unknown
names, CJK phrases and ``title:`` words are matched verbatim
(:meth:`IndexReader.substring_docs`).  Segments are written with
:class:`~newsarc.codec.NewsarcCodec` (compact term dictionary and postings) by
:class:`BatchWriter`, which collects a batch's posting lists in memory and
writes each list whole; :func:`merge_segments` merges segments list by list,
and :func:`write_merged` does so apart, in an ingest's worker, for
:meth:`IndexWriter.replace` to commit.

Fields:

``id``        the article id (stored, unique)
``key``       the store's rowid, ``published`` epoch seconds, ``day`` the local
              publication date as YYYYMMDD: columns only (sorting, filters), not terms
``source``    outlet key; ``author`` folded author names and their words
``title``, ``body``   ranked word terms with frequencies (BM25F; title weighted above body)
``grams``     recall-only terms, no frequencies (see ``analysis.py``)
``chars``     every CJK character of the folded title + "\n" + body, with its
              occurrences as positions (:class:`PositionField`): verbatim
              matching (unknown names, phrases, ``title:``) is an intersection
              of position sets, never a read of the text
``clen``      column: the document's slot in the segment's position space (the
              length of its folded title + "\n" + body, plus one)
``tlen``      column: length of the folded title (its part of ``chars`` positions)
"""

from __future__ import annotations

import errno
import heapq
import sys
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain, groupby
from operator import itemgetter, sub
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whoosh import columns, fields, formats, index
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3Codec
from whoosh.system import pack_uint
from whoosh.util.numeric import byte_to_length
from whoosh.writing import SegmentWriter

from newsarc.analysis import CharPositions, Terms
from newsarc.codec import (
    CompactTermInfo,
    CompactTermsReader,
    KeyPlanes,
    NewsarcCodec,
    Row,
    decode_key_gaps,
    decode_postings,
    join_key_gaps,
    key_gap_type,
    row_lengths,
)
from newsarc.errors import ArchiveError, DamagedArchive
from newsarc.integrity import REPAIR, open_trusted, stored_fields, write_segment_checksums

if TYPE_CHECKING:  # imported where used: most commands never need it
    import numpy as np

INDEX_NAME = "MAIN"
#: How much a title word weighs against a body word in ranking (BM25F here, ``^3`` in OpenSearch).
TITLE_BOOST = 3


class CountedField(fields.FieldType):
    """A text field that indexes terms counted before they reach Whoosh.

    The value is a mapping ``term → count`` (or any iterable of distinct
    terms for a field without frequencies).
    """

    def __init__(self, *, frequencies: bool = True, field_boost: float = 1.0) -> None:
        self.format = (
            formats.Frequency(field_boost=field_boost)
            if frequencies
            else formats.Existence(field_boost=field_boost)
        )
        self.scorable = frequencies
        self.stored = False
        self.unique = False
        self.analyzer = None
        self.vector = None
        self.column_type = None
        self.frequencies = frequencies

    def index(self, value, **kwargs) -> Iterator[tuple[bytes, int, float, bytes]]:  # type: ignore[no-untyped-def]
        if self.frequencies and isinstance(value, Mapping):
            for term, count in value.items():
                yield term.encode("utf-8", "surrogatepass"), count, float(count), pack_uint(count)
        else:
            for term in value:
                yield term.encode("utf-8", "surrogatepass"), 1, 1.0, b""

    def add_postings(
        self, terms: dict[bytes, tuple[list[int], list[float]]], docnum: int, value
    ) -> int:  # type: ignore[no-untyped-def]
        """Add one document's terms to a batch's lists (:class:`BatchWriter`'s fast path); returns its length."""
        counted = self.frequencies and isinstance(value, Mapping)
        items = value.items() if counted else ((term, 1) for term in value)
        length = 0
        for term, count in items:
            tbytes = term.encode("utf-8", "surrogatepass")
            entry = terms.get(tbytes)
            if entry is None:
                terms[tbytes] = ([docnum], [float(count)])
            else:
                entry[0].append(docnum)
                entry[1].append(float(count))
            length += count
        return length if self.scorable else 0

    def process_text(self, qstring, mode="", **kwargs):  # type: ignore[no-untyped-def]
        yield qstring

    def self_parsing(self) -> bool:
        return False


class PositionField(CountedField):
    """A field of terms with positions: the value is a :class:`~newsarc.analysis.CharPositions`
    (or a mapping ``term → [offsets]``).

    Posting lists hold documents without weights, and the positions as keys:
    offsets in the segment's documents laid end to end, each document taking
    its ``clen`` slot (see ``codec.py``).  No part in ranking.
    """

    def __init__(self) -> None:
        super().__init__(frequencies=False)


def make_schema() -> fields.Schema:
    """The index schema (see the module docstring)."""
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        key=fields.COLUMN(columns.NumericColumn("Q")),
        published=fields.COLUMN(columns.NumericColumn("q")),
        day=fields.COLUMN(columns.NumericColumn("i")),
        source=fields.ID(),
        author=CountedField(frequencies=False),
        title=CountedField(),
        body=CountedField(),
        grams=CountedField(frequencies=False),
        chars=PositionField(),
        clen=fields.COLUMN(columns.NumericColumn("I")),
        tlen=fields.COLUMN(columns.NumericColumn("I")),
    )


@dataclass(slots=True)
class IndexDocument:
    """One article's analysed form, ready for the writer."""

    id: str
    key: int
    published: int
    source: str
    authors: list[str]
    title: Terms
    body: Terms
    day: int = 0
    #: every CJK character with its offsets in the folded ``title + "\n" + body``
    chars: CharPositions | None = None
    #: length of the folded title
    title_length: int = 0
    #: length of the folded ``title + "\n" + body``
    text_length: int = 0

    def fields(self) -> dict:
        """The keyword arguments of ``writer.add_document``."""
        words = self.title.words.keys() | self.body.words.keys()
        grams = (self.title.grams | self.body.grams) - words
        return {
            "id": self.id,
            "key": self.key,
            "published": self.published,
            "day": self.day,
            "source": self.source,
            "author": self.authors,
            "title": dict(self.title.words),
            "body": dict(self.body.words),
            "grams": grams,
            "chars": self.chars or {},
            "clen": self.text_length + 1,
            "tlen": self.title_length,
        }


_LITTLE = sys.byteorder == "little"

#: A posting list being built: ascending document numbers and their weights.
_Postings = tuple[list[int], list[float]]


class BatchWriter(SegmentWriter):
    """Whoosh's segment writer, writing a batch's posting lists whole.

    Whoosh's own writer sends every posting through an external sorting pool
    (pickled to temporary files, read back, handed one by one to the codec):
    about 12 ms per article, the bottleneck of ingest.  This writer keeps each
    term's list in memory while the batch is added — a batch is a few hundred
    articles — and writes the sorted terms with their lists at commit.  Stored
    fields, field lengths, columns, deletions and the table of contents are
    Whoosh's own.  Segments are written as separate files: a reader reads what
    a query touches instead of loading whole compound segments into memory.
    """

    def __init__(self, ix: index.Index, *, lock: bool = True) -> None:
        super().__init__(ix, codec=NewsarcCodec(), compound=False, limitmb=1, _lk=lock)
        self._postings: dict[str, dict[bytes, _Postings]] = {}
        # per positional field: (document number, its characters' offsets) of each document
        self._positions: dict[str, list[tuple[int, CharPositions]]] = {}
        # where each document's slot starts
        self._bases: list[int] = []
        self._end = 0
        # per field: the shortest and longest length in the batch, the bounds every term's info
        # records (Whoosh uses them only to skip blocks in top-N searches)
        self._lengths: dict[str, list[int]] = {}
        self._merged: list[tuple[object, int, dict[int, int] | None]] = []

    def cancel(self) -> None:
        """Drop the batch; nothing to drop once a commit has closed the writer (an interrupt in
        the last steps of a commit reaches the caller's clean-up, which cancels)."""
        if not self.is_closed:
            super().cancel()

    def add_document(self, **values) -> None:  # type: ignore[no-untyped-def]
        """Add one document (the keyword arguments of :meth:`IndexDocument.fields`)."""
        self._check_state()
        schema = self.schema
        docnum = self.docnum
        perdoc = self.perdocwriter
        perdoc.start_doc(docnum)
        self._bases.append(self._end)
        self._end += values.get("clen") or 0
        for fieldname in sorted(values):
            value = values[fieldname]
            if value is None:
                continue
            field = schema[fieldname]
            length = 0
            if isinstance(field, PositionField):
                self._add_positions(fieldname, docnum, value)
            elif field.indexed:
                terms = self._postings.setdefault(fieldname, {})
                if isinstance(field, CountedField):
                    length = field.add_postings(terms, docnum, value)
                else:
                    for tbytes, freq, weight, _vbytes in field.index(value):
                        entry = terms.get(tbytes)
                        if entry is None:
                            terms[tbytes] = ([docnum], [weight])
                        else:
                            entry[0].append(docnum)
                            entry[1].append(weight)
                        if field.scorable:
                            length += freq
                if length:
                    lengths = self._lengths.setdefault(fieldname, [length, length])
                    lengths[0] = min(lengths[0], length)
                    lengths[1] = max(lengths[1], length)
            perdoc.add_field(fieldname, field, value if field.stored else None, length)
            if field.column_type:
                perdoc.add_column_value(fieldname, field.column_type, field.to_column_value(value))
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def _add_positions(
        self, fieldname: str, docnum: int, value: CharPositions | Mapping[str, Sequence[int]]
    ) -> None:
        """One document's character offsets, kept as they came: the batch's lists are made of
        all of them at once (:func:`_position_lists`)."""
        if not isinstance(value, CharPositions):
            value = CharPositions(
                "".join(value), array("I", map(len, value.values())), array("I", chain(*value.values()))
            )
        if len(value.offsets):
            self._positions.setdefault(fieldname, []).append((docnum, value))

    def delete_ids(self, ids: Iterable[str]) -> int:
        """Mark the documents with these unique ``id`` values deleted (one reader for all)."""
        deleted = 0
        with self.reader() as reader:
            for aid in ids:
                if ("id", aid.encode("utf-8")) not in reader:
                    continue
                for docnum in reader.postings("id", aid).all_ids():
                    self.delete_document(docnum)
                    deleted += 1
        return deleted

    def add_reader(self, reader) -> None:  # type: ignore[no-untyped-def]
        """Copy a segment's live documents into this one (Whoosh's merge step)."""
        self._check_state()
        before = dict(self.perdocwriter._fieldlengths)
        basedoc = self.docnum
        names = set(self.schema.names()) | {
            n for n in reader.indexed_field_names() if n in self.schema
        }
        perdoc = reader._perdoc
        if reader.doc_count_all():  # what Whoosh's stored_fields reads: safely unpickled
            perdoc._readers["_stored"] = _stored_column(reader, whole=True)
        for name in names:  # a field without lengths: known once, not looked up on disk per document
            lengths = f"_{name}_len"
            if lengths not in perdoc._readers and not perdoc.has_column(lengths):
                perdoc._readers[lengths] = None
        docmap = self.write_per_doc(names, reader)
        slots = column_values(reader, "clen")
        for old in range(reader.doc_count_all()) if docmap is None else sorted(docmap):
            self._bases.append(self._end)
            self._end += slots[old]
        if docmap is None:
            # Whoosh re-adds byte-quantised lengths; without deletions the exact totals are known
            totals = self.perdocwriter._fieldlengths
            for name in names:
                if name in totals:
                    totals[name] = before.get(name, 0) + reader.field_length(name)
        self._merged.append((reader, basedoc, docmap))
        self._added = True

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        writer = self.fieldwriter
        names = set(self._postings) | set(self._positions)
        for reader, _base, _docmap in self._merged:
            names.update(n for n in reader.indexed_field_names() if n in self.schema)
        for fieldname in sorted(names):
            writer.start_field(fieldname, self.schema[fieldname])
            if not self._merged:
                self._write_batch_field(fieldname)
            else:
                self._write_merged_field(fieldname)
            writer.finish_field()
        writer.close()
        self._postings.clear()
        self._positions.clear()
        for reader, _base, _docmap in self._merged:
            reader.close()
        self._merged.clear()
        write_segment_checksums(self.storage, self.get_segment())

    def _write_batch_field(self, fieldname: str) -> None:
        """A batch's lists of one field, in term order."""
        shortest, longest = self._lengths.get(fieldname, (None, 0))
        add = self.fieldwriter.add_term
        if fieldname in self._positions:
            for tbytes, ids, gaps in _position_lists(self._positions[fieldname], self._bases):
                add(tbytes, ids, None, shortest, longest, gaps)
            return
        terms = self._postings[fieldname]
        for tbytes in sorted(terms):
            ids, weights = terms[tbytes]
            add(tbytes, ids, weights, shortest, longest)

    def _write_merged_field(self, fieldname: str) -> None:
        """Merged segments' (and any added documents') lists of one field, term by term.

        A term found in one segment without deletions keeps its encoded list as
        it is (lists do not depend on where the segment starts); the others are
        decoded, renumbered, joined and encoded again.
        """
        writer = self.fieldwriter
        sources: list[Iterator[tuple[bytes, int, object]]] = []
        for n, (reader, base, docmap) in enumerate(self._merged):
            sources.append(_segment_parts(n, reader, fieldname, base, docmap, self._bases))
        positional = isinstance(self.schema[fieldname], PositionField)
        shortest, longest = self._lengths.get(fieldname, (None, 0))
        if fieldname in self._positions:
            sources.append(
                (t, len(self._merged), _List(ids, None, shortest, longest, gaps))
                for t, ids, gaps in _position_lists(self._positions[fieldname], self._bases)
            )
        elif fieldname in self._postings:
            terms = self._postings[fieldname]
            sources.append(
                (t, len(self._merged), _List(*terms[t], shortest, longest)) for t in sorted(terms)
            )
        # items compare by term, then source number (unique): a list itself is never compared
        merged = heapq.merge(*sources)
        for tbytes, group in groupby(merged, key=itemgetter(0)):
            parts = [part for _t, _n, part in group]
            if len(parts) == 1 and isinstance(parts[0], _Encoded):
                part = parts[0]
                writer.add_encoded(tbytes, part.row, part.shift, part.data)
                continue
            encoded = [p for p in parts if isinstance(p, _Encoded)]
            if len(encoded) == len(parts):  # segments without deletions: joined still encoded
                encoded.sort(key=_Encoded.first)  # disjoint runs of documents, in order
                lengths = [row_lengths(p.row) for p in encoded]
                minimums = [shortest for shortest, _longest in lengths if shortest is not None]
                writer.add_joined(
                    tbytes,
                    [(p.data, p.first(), p.row[1], self._bases[p.first()]) for p in encoded],
                    min(minimums) if minimums else None,
                    max(longest for _shortest, longest in lengths),
                )
                continue
            lists = [p.decode() if isinstance(p, _Encoded) else p for p in parts]
            lists.sort(key=lambda p: p.ids[0])  # sources are disjoint runs of documents
            ids = [d for p in lists for d in p.ids]
            weights: list[float] | None = None
            if any(p.weights is not None for p in lists):
                weights = [
                    w
                    for p in lists
                    for w in (p.weights if p.weights is not None else [1.0] * len(p.ids))
                ]
            minimums = [p.minlength for p in lists if p.minlength is not None]
            maxlength = max(p.maxlength for p in lists)
            gaps = None
            if positional:
                gaps = join_key_gaps(
                    [(self._bases[p.ids[0]], p.key_gaps) for p in lists if p.key_gaps is not None]
                )
            del lists, parts  # the decoded parts, a common character's positions: not held while encoding
            writer.add_term(
                tbytes, ids, weights, min(minimums) if minimums else None, maxlength, gaps
            )


@dataclass(slots=True)
class _List:
    """A posting list in the making (document numbers of the new segment)."""

    ids: Sequence[int]
    weights: Sequence[float] | None
    minlength: int | None
    maxlength: int
    #: key gaps of a positional list, the first from the base of document ``ids[0]``
    key_gaps: array | None = None


def _key_gaps(base: int, keys: list[int]) -> array:
    """Gaps of ascending position keys, the first from ``base`` (its first document's)."""
    return array("Q", map(sub, keys, chain((base,), keys)))


def _position_lists(
    docs: list[tuple[int, CharPositions]], bases: list[int]
) -> Iterator[tuple[bytes, list[int], array]]:
    """A batch's positional lists, in term order: ``(term, document numbers, key gaps)``.

    ``docs`` are each document's number and character offsets, in order;
    ``bases`` where each document's slot starts.  Every position of the batch
    is laid out at once (numpy): the characters' codes sorted stably, so that
    each character's keys stay ascending, then cut at each character's first.
    """
    import numpy as np

    codes = np.concatenate([
        np.repeat(
            np.frombuffer(cp.chars.encode("utf-32-le", "surrogatepass"), "<u4"),
            np.frombuffer(cp.counts, np.uintc),
        )
        for _docnum, cp in docs
    ])
    keys = np.concatenate(
        [np.frombuffer(cp.offsets, np.uintc).astype(np.int64) + bases[docnum] for docnum, cp in docs]
    )
    owners = np.repeat(
        np.array([docnum for docnum, _cp in docs], np.int64), [len(cp.offsets) for _docnum, cp in docs]
    )
    order = np.argsort(codes, kind="stable")
    codes, keys, owners = codes[order], keys[order], owners[order]
    firsts = np.flatnonzero(np.concatenate(([True], codes[1:] != codes[:-1])))
    gaps = np.empty_like(keys)
    gaps[0] = 0
    np.subtract(keys[1:], keys[:-1], out=gaps[1:])
    gaps[firsts] = keys[firsts] - np.array(bases, np.int64)[owners[firsts]]
    new_doc = np.concatenate(([True], owners[1:] != owners[:-1]))
    new_doc[firsts] = True
    doc_at = np.flatnonzero(new_doc)
    ids = owners[doc_at].tolist()
    cuts = np.searchsorted(doc_at, firsts).tolist() + [len(doc_at)]
    ends = firsts.tolist()[1:] + [len(keys)]
    tops = np.maximum.reduceat(gaps, firsts).tolist()
    for n, (code, start, end) in enumerate(zip(codes[firsts].tolist(), firsts.tolist(), ends, strict=True)):
        typecode = key_gap_type(tops[n])
        run = array(typecode)
        run.frombytes(gaps[start:end].astype(typecode).tobytes())  # numpy knows array's codes
        yield chr(code).encode("utf-8", "surrogatepass"), ids[cuts[n] : cuts[n + 1]], run


@dataclass(slots=True)
class _Encoded:
    """A posting list of a merged segment, still encoded."""

    row: Row
    shift: int
    data: bytes

    def first(self) -> int:
        """Its first document's number in the new segment."""
        return self.row[5] + self.shift

    def decode(self) -> _List:
        row = self.row
        ids, weights = decode_postings(self.data, row[5] + self.shift, row[1])
        gaps = decode_key_gaps(self.data, row[1])
        return _List(ids, weights, *row_lengths(row), gaps if len(gaps) else None)


def _segment_parts(n: int, reader, fieldname: str, base: int, docmap: dict[int, int] | None,  # type: ignore[no-untyped-def]
                   bases: list[int]):
    """``(term, n, list)`` of a segment's field, renumbered for the merged segment, deleted documents dropped.

    ``bases`` are the new segment's document bases (positions of documents that
    move are recomputed only when the segment has deletions).
    """
    terms = reader._terms
    old_bases: list[int] | None = None
    if not isinstance(terms, CompactTermsReader):
        raise ArchiveError(
            "cannot merge a segment not written by newsarc's codec (run `newsarc reindex`)"
        )
    for tbytes, row, data in terms.field_postings(fieldname):
        part = _Encoded(row, base, data)
        if docmap is None:
            yield tbytes, n, part
            continue
        whole = _Encoded(row, 0, part.data).decode()
        keep = [i for i, d in enumerate(whole.ids) if d in docmap]
        if keep:
            weights = whole.weights
            ids = [docmap[whole.ids[i]] for i in keep]
            gaps = None
            if whole.key_gaps is not None:
                if old_bases is None:
                    old_bases = list(accumulate(column_values(reader, "clen"), initial=0))
                keys = []
                for key in _keys_after(whole, old_bases[whole.ids[0]]):
                    old = bisect_right(old_bases, key) - 1
                    new = docmap.get(old)
                    if new is not None:
                        keys.append(bases[new] + key - old_bases[old])
                gaps = _key_gaps(bases[ids[0]], keys)
            yield (
                tbytes,
                n,
                _List(
                    ids,
                    [weights[i] for i in keep] if weights is not None else None,
                    whole.minlength,
                    whole.maxlength,
                    gaps,
                ),
            )


def _keys_after(part: _List, base: int) -> Iterator[int]:
    """The position keys of a decoded positional list whose first document's base is ``base``."""
    gaps = part.key_gaps
    assert gaps is not None
    return accumulate(chain((base + gaps[0],), gaps[1:]))


def _pin_columns(reader) -> str | None:  # type: ignore[no-untyped-def]
    """Open every column file of one segment (a Whoosh ``SegmentReader``) now, as Whoosh would on
    first use: columns read later come from these files even once a merge has deleted them.
    Returns the name of a column file that is not there (see :func:`_pin_file`)."""
    absent = None
    for name, field in reader.schema.items():
        if field.column_type:
            absent = _pin_file(reader, name) or absent
        if field.scorable:
            absent = _pin_file(reader, f"_{name}_len") or absent
    return absent


def _pin_file(reader, colname: str) -> str | None:  # type: ignore[no-untyped-def]
    """Open one column file of a segment (``_stored``: its stored fields); its name when there is
    none — a column no document of the segment filled, or a file a merge has deleted."""
    perdoc = reader._perdoc
    if colname in perdoc._colfiles:
        return None
    try:
        perdoc._colfiles[colname] = perdoc._get_column_file(colname)  # where column_reader looks
    except FileNotFoundError:
        return W3Codec.column_filename(reader.segment(), colname)
    return None


class _StoredColumn:
    """A segment's stored fields (its ``_stored`` column), one document's at a time, each
    unpickled without building any class (:func:`~newsarc.integrity.stored_fields`).

    Whoosh's reader of that column unpickles with ``pickle.loads`` — code an
    archive from someone else could name would run — and first reads the
    column's whole table of offsets, or in a segment of 32,768 documents or
    fewer derives it from the lengths in a Python loop: 20 ms of every search
    of a 400,000-article archive, which shows ten hits.  The tables are arrays
    of fixed-width big-endian numbers at the column's end (``lengths [offsets]
    code [code X]``), so unless ``whole`` (a merge, which reads every document)
    one document's length and offset are read where they lie; a small segment,
    which has no offsets, has its lengths summed once.
    """

    __slots__ = ("_file", "_base", "_lengths_at", "_length_size", "_offsets_at", "_offset_size",
                 "_lengths", "_offsets")  # fmt: skip

    def __init__(self, colfile, basepos: int, length: int, doccount: int, *, whole: bool = False) -> None:  # type: ignore[no-untyped-def]
        self._file = colfile
        self._base = basepos  # where the values start: their offsets count from here
        end = basepos + length - 1  # the lengths' type code, or "X" after the offsets' and it
        code = chr(colfile.get_byte(end))
        offsets_code = None
        self._offsets_at = self._offset_size = 0
        if code == "X":
            offsets_code = chr(colfile.get_byte(end - 1))
            self._offset_size = array(offsets_code).itemsize
            code = chr(colfile.get_byte(end - 2))
            end = self._offsets_at = end - 2 - doccount * self._offset_size
        self._length_size = array(code).itemsize
        self._lengths_at = end - doccount * self._length_size
        self._lengths: array | None = None
        self._offsets: array | None = None
        if whole or offsets_code is None:
            self._lengths = colfile.get_array(self._lengths_at, code, doccount)
            self._offsets = (
                array("q", accumulate(self._lengths, initial=0))
                if offsets_code is None
                else colfile.get_array(self._offsets_at, offsets_code, doccount)
            )

    def __getitem__(self, docnum: int) -> dict:  # type: ignore[type-arg]
        get = self._file.get
        if self._lengths is not None and self._offsets is not None:
            length, offset = self._lengths[docnum], self._offsets[docnum]
        else:
            size = self._length_size
            length = int.from_bytes(get(self._lengths_at + docnum * size, size), "big")
            size = self._offset_size
            offset = int.from_bytes(get(self._offsets_at + docnum * size, size), "big")
        return stored_fields(get(self._base + offset, length)) if length else {}


def _stored_column(reader, *, whole: bool = False) -> _StoredColumn:  # type: ignore[no-untyped-def]
    """The stored fields of one segment (a Whoosh ``SegmentReader`` with documents), from the
    file :func:`_pin_file` opened (opened now if it was not)."""
    absent = _pin_file(reader, "_stored")
    if absent is not None:
        raise DamagedArchive(f"damaged search index: {absent} is missing; {REPAIR}")
    colfile, basepos, length = reader._perdoc._colfiles["_stored"]
    return _StoredColumn(colfile, basepos, length, reader.doc_count_all(), whole=whole)


def column_values(reader, name: str) -> array:  # type: ignore[no-untyped-def]
    """A numeric column of one segment (a Whoosh ``SegmentReader``) read whole: one value per
    document, indexed by its number in the segment (C-level: the file's big-endian values).
    A column file opened before (see :func:`_pin_columns`) is read even if it was deleted since."""
    if name.endswith("_len"):
        colname, coltype = f"_{name}", LENGTHS_COLUMN
    else:
        colname, coltype = name, reader.schema[name].column_type
    count = reader.doc_count_all()
    values = array(coltype._typecode)
    perdoc = reader._perdoc
    if colname in perdoc._colfiles or perdoc.has_column(colname):
        column = perdoc.column_reader(colname, coltype)
        stored = min(column._count, count)
        values.frombytes(column._dbfile.get(column._basepos, stored * values.itemsize))
        if _LITTLE and values.itemsize > 1:
            values.byteswap()
    values.extend([coltype._default] * (count - len(values)))
    return values


def index_writer(ix: index.Index) -> IndexWriter:
    """A writer for one batch of documents (see :class:`IndexWriter`)."""
    return IndexWriter(ix)


def segment_readers(reader) -> list[tuple[Any, int]]:  # type: ignore[no-untyped-def]
    """``(segment reader, first document number)`` of each segment an index reader spans.

    An index without segments (a new archive before its first index commit, or
    after one that was killed or ran out of disk) has none: Whoosh then hands
    out an empty reader, which belongs to no segment.
    """
    return [(leaf, offset) for leaf, offset in reader.leaf_readers() if leaf.segment() is not None]


#: Segments of fewer live documents than this are level 0: an ingest ends by merging them into one.
MERGE_FLOOR_DOCS = 1_000
#: How many segments of one size level merge into one of the next (and the size ratio of the levels).
MERGE_FACTOR = 8


def segment_level(size: int) -> int:
    """The size level of a segment of ``size`` live documents: 0 under :data:`MERGE_FLOOR_DOCS`,
    then one more for each :data:`MERGE_FACTOR`-fold."""
    level, bound = 0, MERGE_FLOOR_DOCS
    while size >= bound:
        level += 1
        bound *= MERGE_FACTOR
    return level


def tiered_segments(segments: Sequence, *, final: bool = False) -> tuple[list, list]:  # type: ignore[type-arg]
    """Split a table of contents (oldest segment first) into ``(kept, to merge)``.

    Only the newest segments ever merge, so documents keep their order.  They
    merge when the newest :data:`MERGE_FACTOR` segments are all of one size
    level (:func:`segment_level`): segments then count like the digits of a
    number in base :data:`MERGE_FACTOR`, and an article is rewritten once per
    level — about log₈(articles / 1,000) times — however the archive
    grew, instead of twice as often with a binary merge.  With ``final`` (the
    end of an ingest) the newest segments under the floor also merge, whatever
    their number, and a newest segment a tenth of whose documents were replaced
    is rewritten alone.
    """
    if not segments:
        return [], []
    levels = [segment_level(seg.doc_count()) for seg in segments]
    cut = len(segments)
    while cut and levels[cut - 1] == levels[-1]:
        cut -= 1
    run = len(segments) - cut
    if run >= MERGE_FACTOR or (final and levels[-1] == 0 and run >= 2):
        return list(segments[:cut]), list(segments[cut:])
    if final and _mostly_deleted(segments[-1]):
        return list(segments[:-1]), list(segments[-1:])
    return list(segments), []


#: A segment is rewritten on its own once this share of its documents is deleted (replaced).
EXPUNGE_SHARE = 0.1


def _mostly_deleted(segment) -> bool:  # type: ignore[no-untyped-def]
    return segment.deleted_count() > EXPUNGE_SHARE * segment.doc_count_all()


def merge_segments(ix: index.Index, *, final: bool = True) -> int:
    """Merge what :func:`tiered_segments` picks, again and again while it picks something (a merge
    can complete a run of the next level); returns how many segments were merged.

    An ingest calls it with ``final=False`` after each batch and with
    ``final=True`` (the default) at its end.
    """
    from whoosh.reading import SegmentReader

    picked: list = []  # type: ignore[type-arg]

    def policy(writer, segments):  # type: ignore[no-untyped-def]
        kept, merge = tiered_segments(segments, final=final)
        for seg in merge:
            writer.add_reader(SegmentReader(writer.storage, writer.schema, seg))
        picked.extend(merge)
        return kept

    while True:
        with ix.reader() as reader:
            segments = [leaf.segment() for leaf, _offset in segment_readers(reader)]
        if not tiered_segments(segments, final=final)[1]:
            return len(picked)
        before = len(picked)
        writer = BatchWriter(ix)
        try:
            writer.commit(mergetype=policy)
        except BaseException:
            writer.cancel()
            raise
        if len(picked) == before:
            return len(picked)


def index_folder(ix: index.Index) -> Path:
    """The folder of an open on-disk index."""
    return Path(ix.storage.folder)


def index_dir(data_dir: str | Path) -> Path:
    """Where an archive keeps its Whoosh index."""
    return Path(data_dir) / "index"


def empty_index() -> index.Index:
    """An index without documents, in memory: what readers search before an archive's index exists."""
    from whoosh.filedb.filestore import RamStorage

    return RamStorage().create_index(make_schema(), indexname=INDEX_NAME)


def open_index(data_dir: str | Path, *, create: bool = False) -> index.Index:
    """Open (or with ``create`` make) the archive's Whoosh index (see ``integrity.py``: its
    table of contents is read without trusting its pickles, its segments are verified)."""
    path = index_dir(data_dir)
    try:
        ix = open_trusted(path, make_schema(), INDEX_NAME)
        if ix is not None:
            return ix
        if not create:
            raise ArchiveError(
                f"no search index in {path} (run `newsarc reindex` to rebuild it from the store)"
            )
        path.mkdir(parents=True, exist_ok=True)
        index.create_in(path, make_schema(), indexname=INDEX_NAME)
        ix = open_trusted(path, make_schema(), INDEX_NAME)
        assert ix is not None
        return ix
    except ArchiveError:
        raise
    except Exception as exc:  # whoosh raises many types for a damaged index
        raise DamagedArchive(f"cannot open search index {path}: {exc}") from None


# --------------------------------------------------------------------------- the seam
#
# Everything above this line is Whoosh- and codec-specific.  What follows is the
# embedded engine's postings-level interface: search.py and explore.py see only
# IndexReader and IndexWriter (see /README.md "Engines" and engine.py).


@dataclass(frozen=True, slots=True)
class TermStats:
    """What the term dictionary knows of a term in one field, summed over segments.

    ``doc_frequency`` counts deleted documents too (as Whoosh's idf does);
    ``max_weight`` is the largest within-document frequency and
    ``min_length`` the shortest field length among its documents (both
    bound the term's BM25 contribution without reading its list).
    """

    doc_frequency: int
    max_weight: float
    min_length: int


#: A segment holding a term: its document offset, its deleted documents, the term's info there,
#: and the segment's terms reader.
_Found = tuple[int, frozenset[int], CompactTermInfo, CompactTermsReader]
#: A character of a needle in one segment: its number of positions, the character, its info
#: and its key gaps not yet decoded.
_Keys = tuple[int, str, CompactTermInfo, KeyPlanes]
#: Term lookups an :class:`IndexReader` remembers (all forgotten at once past this many).
TERM_CACHE_SIZE = 4096
#: From how many positions of its characters a phrase or name is matched over numpy arrays
#: (:meth:`IndexReader.substring_docs`): below it, unless numpy is loaded already, importing
#: it (about 45 ms) costs more than it saves (Python sets cost 0.05–0.3 µs more a position,
#: measured on the 400k archive).
VECTOR_KEYS = 300_000


class IndexReader:
    """A point-in-time view of the embedded index: posting lists, statistics and columns.

    Document numbers (``docnum``) are only meaningful within one reader.  Open
    with :func:`open_reader`; close when done (or use as a context manager).
    """

    def __init__(self, ix: index.Index) -> None:
        self._reader = ix.reader()
        try:
            # Whoosh opens stored-fields and column files lazily; an ingest that merges
            # segments deletes their files.  A file opened now stays readable after deletion.
            self._segments: list[tuple[object, int, frozenset[int], CompactTermsReader]] = []
            absent: str | None = None
            for leaf, offset in segment_readers(self._reader):
                if leaf.doc_count_all():
                    absent = _pin_file(leaf, "_stored") or absent
                absent = _pin_columns(leaf) or absent
                terms = leaf._terms
                if not isinstance(terms, CompactTermsReader):
                    raise ArchiveError(
                        "the search index was not written by this newsarc (run `newsarc reindex`)"
                    )
                self._segments.append(
                    (leaf, offset, frozenset(leaf.segment().deleted_docs()), terms)
                )
            if absent is not None and ix.latest_generation() != self._reader.generation():
                # a file missing from a segment of a table of contents no longer the newest:
                # merged away before it could be opened (Whoosh would read it as empty)
                raise FileNotFoundError(errno.ENOENT, "merged away by an ingest", absent)
        except BaseException:
            self._reader.close()
            raise
        self._doc_count_all = self._reader.doc_count_all()
        self._lengths: dict[str, float] = {}
        self._columns: dict[str, array] = {}
        self._norms: dict[tuple[str, float, float], list[float]] = {}
        self._segment_bases: dict[int, list[int]] = {}
        self._segment_base_arrays: dict[int, np.ndarray] = {}
        self._term_cache: dict[tuple[str, str], list[_Found]] = {}
        self._offsets = [offset for _leaf, offset, _deleted, _terms in self._segments]
        self._stored: dict[int, _StoredColumn] = {}

    def close(self) -> None:
        """Release the index files."""
        self._reader.close()

    def __enter__(self) -> IndexReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # documents ---------------------------------------------------------------------

    def doc_count(self) -> int:
        """Live (not deleted) documents."""
        return int(self._reader.doc_count())

    def doc_count_all(self) -> int:
        """Documents including deleted ones (BM25's N, as Whoosh counts it)."""
        return int(self._doc_count_all)

    def live_docs(self) -> set[int]:
        """Every live document number."""
        return set(self._reader.all_doc_ids())

    def article_id(self, docnum: int) -> str:
        """The article id of a document."""
        if not 0 <= docnum < self._doc_count_all:
            raise IndexError(f"no document {docnum} in the index")
        n = bisect_right(self._offsets, docnum) - 1  # an empty segment is never the last ≤ docnum
        stored = self._stored.get(n)
        if stored is None:
            stored = self._stored[n] = _stored_column(self._segments[n][0])
        return str(stored[docnum - self._offsets[n]]["id"])

    def live_article_ids(self) -> Iterator[str]:
        """The article id of every live document, in document order (each segment's
        stored-fields tables read whole: for reading them all, as ``newsarc check`` does)."""
        for leaf, _offset, deleted, _terms in self._segments:
            count = leaf.doc_count_all()  # type: ignore[attr-defined]
            if count:
                stored = _stored_column(leaf, whole=True)
                yield from (str(stored[d]["id"]) for d in range(count) if d not in deleted)

    def terms(self, field: str) -> list[str]:
        """Every term of a field (of live and deleted documents), in order: ``source`` gives
        the outlet keys."""
        return [term.decode("utf-8") for term in self._reader.lexicon(field)]

    def docnum(self, article_id: str) -> int | None:
        """The live document of an article id, if indexed."""
        ids = self.postings("id", article_id)[0]
        return ids[0] if ids else None

    def column(self, name: str) -> array:
        """A whole per-document column as an array indexed by docnum: ``key`` (the store's
        rowid), ``published`` (epoch seconds, 0: unknown), ``day`` (local date as YYYYMMDD,
        0: unknown), ``tlen`` (folded title length), or a field's length bytes
        (``title_len``, ``body_len``: Whoosh's byte-quantised lengths)."""
        found = self._columns.get(name)
        if found is None:
            found = self._columns[name] = self._load_column(name)
        return found

    def _load_column(self, name: str) -> array:
        """Every segment's column read whole, joined (C-level)."""
        parts = [column_values(leaf, name) for leaf, _offset, _deleted, _terms in self._segments]
        out = parts[0] if len(parts) == 1 else array(parts[0].typecode if parts else "q")
        if len(parts) > 1:
            for part in parts:
                out.extend(part)
        return out

    def key(self, docnum: int) -> int:
        """The store's rowid of a document."""
        return int(self.column("key")[docnum])

    def published(self, docnum: int) -> int:
        """Publication time of a document, epoch seconds (0: unknown)."""
        return int(self.column("published")[docnum])

    def day(self, docnum: int) -> int:
        """Local publication date of a document as YYYYMMDD (0: unknown)."""
        return int(self.column("day")[docnum])

    # terms -------------------------------------------------------------------------

    def _found(self, field: str, term: str) -> list[_Found]:
        """Where each segment holding ``term`` in ``field`` has it; remembered, for a query
        (and ``similar``) asks for a term's statistics and then for its postings."""
        cached = self._term_cache.get((field, term))
        if cached is not None:
            return cached
        tbytes = term.encode("utf-8", "surrogatepass")
        found = []
        for _leaf, offset, deleted, terms in self._segments:
            info = terms.lookup(field, tbytes)
            if info is not None:
                found.append((offset, deleted, info, terms))
        if len(self._term_cache) >= TERM_CACHE_SIZE:
            self._term_cache.clear()
        self._term_cache[(field, term)] = found
        return found

    def postings(self, field: str, term: str) -> tuple[list[int], list[float] | None]:
        """``(docnums, weights)`` of the live documents holding ``term`` in ``field``, ascending.

        ``weights`` (within-document frequencies) is None when every weight is 1.
        """
        ids: list[int] = []
        weights: list[float] | None = None
        for offset, deleted, info, terms in self._found(field, term):
            seg_ids, seg_weights = terms.postings_of(info, offset)  # numbered in the whole reader
            if deleted:
                keep = [i for i, d in enumerate(seg_ids) if d - offset not in deleted]
                seg_ids = [seg_ids[i] for i in keep]
                if seg_weights is not None:
                    seg_weights = [seg_weights[i] for i in keep]
            if seg_weights is not None and weights is None:
                weights = [1.0] * len(ids)
            if weights is not None:
                weights.extend(seg_weights if seg_weights is not None else [1.0] * len(seg_ids))
            ids.extend(seg_ids)
        return ids, weights

    def posting_arrays(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`postings` as numpy arrays — ``int64`` docnums, ``float64`` weights or
        None — decoded without a Python object per posting (for long lists)."""
        import numpy as np

        id_parts: list[np.ndarray] = []
        weight_parts: list[np.ndarray | None] = []
        for offset, deleted, info, terms in self._found(field, term):
            ids, weights = terms.posting_arrays(info)
            if deleted:
                live = ~np.isin(ids, np.fromiter(deleted, np.int64, len(deleted)))
                ids = ids[live]
                weights = None if weights is None else weights[live]
            id_parts.append(ids + offset if offset else ids)
            weight_parts.append(weights)
        if not id_parts:
            return np.empty(0, np.int64), None
        ids = np.concatenate(id_parts)
        if all(w is None for w in weight_parts):
            return ids, None
        return ids, np.concatenate(
            [np.ones(len(i)) if w is None else w for i, w in zip(id_parts, weight_parts, strict=True)]
        )

    def doc_ids(self, field: str, term: str) -> list[int]:
        """The live documents holding ``term`` in ``field``, ascending."""
        return self.postings(field, term)[0]

    def term_stats(self, field: str, term: str) -> TermStats | None:
        """Dictionary statistics of a term (None when no segment holds it)."""
        found = self._found(field, term)
        if not found:
            return None
        return TermStats(
            doc_frequency=sum(info.doc_frequency() for _o, _d, info, _t in found),
            max_weight=max(info.max_weight() for _o, _d, info, _t in found),
            min_length=min((info.min_length() or 1) for _o, _d, info, _t in found),
        )

    def doc_frequency(self, field: str, term: str) -> int:
        """Documents holding the term, deleted ones included (0 when none)."""
        stats = self.term_stats(field, term)
        return stats.doc_frequency if stats else 0

    def avg_field_length(self, field: str) -> float:
        """Average length of a field over all documents (deleted included; 1 when empty)."""
        avg = self._lengths.get(field)
        if avg is None:
            avg = self._reader.field_length(field) / (self._doc_count_all or 1) or 1
            self._lengths[field] = avg
        return avg

    def doc_field_length(self, docnum: int, field: str) -> int:
        """A document's length in a field (byte-quantised, as Whoosh stores it; at least 1)."""
        lbyte = self.column(f"{field}_len")[docnum]
        return byte_to_length(lbyte) if lbyte else 1

    def length_norms(self, field: str, k1: float, b: float) -> list[float]:
        """BM25's ``k1 × ((1 − b) + b × length / average length)`` for each length byte (256).

        Index it with ``column(field + "_len")[docnum]``: one lookup per posting.
        """
        key = (field, k1, b)
        norms = self._norms.get(key)
        if norms is None:
            avgfl = self.avg_field_length(field)
            lengths = [byte_to_length(i) if i else 1 for i in range(256)]
            norms = self._norms[key] = [k1 * ((1 - b) + b * fl / avgfl) for fl in lengths]
        return norms

    # verbatim ----------------------------------------------------------------------

    def substring_docs(self, needle: str, *, title_only: bool = False) -> set[int]:
        """The live documents whose folded title and body (or title alone) contain ``needle``.

        ``needle`` is a run of CJK characters (``analysis.is_cjk``), folded.
        Answered from the ``chars`` positions: per segment, the keys of each
        character shifted back by its place in the needle, the rarest first,
        intersected, so the cost is that of decoding the characters' lists —
        as Python sets (C-level set operations on the decoder's output), or,
        for :data:`VECTOR_KEYS` positions or more in all, as numpy arrays
        (the candidate starts found in each next array: :func:`common`).
        A match never spans title and body (a newline lies between them).
        """
        if not needle:
            return set()
        if len(needle) == 1 and not title_only:
            return set(self.doc_ids("chars", needle))
        places: dict[str, list[int]] = {}
        for k, ch in enumerate(needle):
            places.setdefault(ch, []).append(k)
        plans: list[tuple[int, list[_Keys]]] = []
        for n, (_leaf, _offset, _deleted, terms) in enumerate(self._segments):
            found: list[_Keys] = []
            for ch in places:
                info = terms.lookup("chars", ch.encode("utf-8", "surrogatepass"))
                planes = None if info is None else terms.key_planes(info)
                if info is None or planes is None:
                    break
                found.append((planes.count, ch, info, planes))
            else:  # the fewest positions first
                plans.append((n, sorted(found, key=lambda x: x[0])))
        size = sum(count for _n, found in plans for count, _ch, _info, _planes in found)
        matches = self._array_matches if arrays_pay(size, VECTOR_KEYS) else self._set_matches
        out: set[int] = set()
        for n, infos in plans:
            out.update(matches(n, infos, places, len(needle) if title_only else None))
        return out

    def _set_matches(
        self, n: int, found: list[_Keys], places: dict[str, list[int]], title_length: int | None
    ) -> Iterable[int]:
        """:meth:`substring_docs` in segment ``n`` with Python sets: the matching docnums."""
        _leaf, offset, deleted, _terms = self._segments[n]
        bases = self._bases(n)
        starts: set[int] | None = None
        for _count, ch, info, planes in found:
            for k in places[ch]:
                # the character's keys shifted to where the needle would start (by the
                # decoder: no Python-level pass over them), intersected with the others'
                keys = planes.keys(bases[info._minid] - k)
                starts = set(keys) if starts is None else starts.intersection(keys)
                if not starts:
                    return ()
        tlen = self.column("tlen") if title_length is not None else None
        out = set()
        for start in starts or ():
            docnum = bisect_right(bases, start) - 1
            if docnum in deleted:
                continue
            if tlen is not None and start - bases[docnum] + title_length > tlen[docnum + offset]:
                continue
            out.add(docnum + offset)
        return out

    def _array_matches(
        self, n: int, found: list[_Keys], places: dict[str, list[int]], title_length: int | None
    ) -> Iterable[int]:
        """:meth:`substring_docs` in segment ``n`` with numpy arrays: the matching docnums."""
        import numpy as np

        _leaf, offset, deleted, _terms = self._segments[n]
        bases = self._base_array(n)
        narrow = int(bases[-1]) < 2**31 - len(places)  # every key, and a start shifted by less
        starts: np.ndarray | None = None
        for _count, ch, info, planes in found:
            keys = planes.key_array(int(bases[info._minid]), narrow=narrow)
            for k in places[ch]:
                starts = keys - k if starts is None else common(keys, starts + k) - k
                if not len(starts):
                    return ()
        assert starts is not None
        docnums = np.searchsorted(bases, starts, side="right") - 1
        if title_length is not None:
            tlen = np.asarray(self.column("tlen"))[offset : offset + len(bases) - 1]
            docnums = docnums[starts - bases[docnums] + title_length <= tlen[docnums]]
        if len(docnums) > 1:  # ascending, as the starts are: keep each document once
            docnums = docnums[np.concatenate(([True], docnums[1:] != docnums[:-1]))]
        if deleted:
            docnums = docnums[~locate(np.array(sorted(deleted), np.int64), docnums)[1]]
        return (docnums + offset).tolist()

    def _bases(self, n: int) -> list[int]:
        """Where each document of segment ``n`` starts in its position space, and where
        the last one ends."""
        found = self._segment_bases.get(n)
        if found is None:
            found = self._segment_bases[n] = list(
                accumulate(column_values(self._segments[n][0], "clen"), initial=0)
            )
        return found

    def _base_array(self, n: int) -> np.ndarray:
        """:meth:`_bases` as an ``int64`` numpy array."""
        found = self._segment_base_arrays.get(n)
        if found is None:
            import numpy as np

            lengths = np.asarray(column_values(self._segments[n][0], "clen"), np.int64)
            found = self._segment_base_arrays[n] = np.concatenate(([0], np.cumsum(lengths)))
        return found


def arrays_pay(postings: int, threshold: int) -> bool:
    """Whether work over ``postings`` postings is done over numpy arrays: from ``threshold``
    on (below it, importing numpy — about 50 ms — costs more than it saves), or whenever
    numpy is loaded already (a server, say)."""
    return postings >= threshold or "numpy" in sys.modules


def locate(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``values`` is in the ascending array ``keys``, and whether it is there
    (a boolean mask; the position of a value not there means nothing)."""
    at = keys.searchsorted(values)
    if not len(keys):
        return at, values != values
    at[at == len(keys)] = 0
    return at, keys[at] == values


#: :func:`common` merges two arrays rather than search one for each value of the other when
#: the array searched is shorter than this many times the values (measured on the 400k
#: archive: a binary search costs about nine times a value's share of a merge).
MERGE_RATIO = 8


def common(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The ``values`` that ``keys`` holds (both ascending, without repeats), ascending.

    Two lists of similar length are merged (joined and sorted stably: numpy's
    sort of two sorted runs is one linear merge); a few values are looked up by
    binary search instead of reading the whole of a long ``keys``.
    """
    import numpy as np

    if len(keys) < MERGE_RATIO * len(values):
        joined = np.concatenate((keys, values))
        joined.sort(kind="stable")
        same = joined[1:] == joined[:-1]
        return joined[1:][same]
    return values[locate(keys, values)[1]]


#: How the folder of a segment written apart (:func:`write_segment`) begins: Whoosh's clean-up
#: after a commit, which removes every file of the index folder no segment holds, passes over
#: names that start with a dot.
APART_PREFIX = ".apart-"


class _FolderIndex:
    """What Whoosh's segment writer reads of an index, for a segment written in a folder of its
    own: the folder's storage, the index name, and a table of contents without segments."""

    def __init__(self, folder: Path) -> None:
        from whoosh.filedb.filestore import FileStorage

        self.storage = FileStorage(str(folder))
        self.indexname = INDEX_NAME

    def _read_toc(self) -> index.TOC:
        return index.TOC(make_schema(), [], 0)


@dataclass(frozen=True)
class WrittenSegment:
    """A segment :func:`write_segment` wrote apart: no part of the index until a commit adopts
    it (:meth:`IndexWriter.adopt`)."""

    folder: str
    segment: Any  # Whoosh's segment object (what a table of contents lists)


def write_segment(index_folder: str | Path, docs: Iterable[IndexDocument]) -> WrittenSegment:
    """Write ``docs`` as one segment, apart: in a new folder inside ``index_folder`` (see
    :data:`APART_PREFIX`), without the index's lock and without a commit, so that any process
    can — an ingest's workers write the segments its main process commits.  No reader and no
    commit sees the segment until :meth:`IndexWriter.adopt`; a folder left by a killed
    process is removed by the next ingest."""

    def fill(writer: BatchWriter) -> None:
        for doc in docs:
            writer.add_document(**doc.fields())

    return _write_apart(index_folder, fill)


def _write_apart(index_folder: str | Path, fill: Callable[[BatchWriter], None]) -> WrittenSegment:
    """A segment written apart (see :func:`write_segment`) by ``fill(writer)``."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix=APART_PREFIX, dir=index_folder))
    try:
        writer = BatchWriter(_FolderIndex(folder), lock=False)  # type: ignore[arg-type]
        try:
            fill(writer)
            segment = writer._finalize_segment()
        finally:
            writer._finish()  # its temporary folder (no lock to release)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return WrittenSegment(str(folder), segment)


@dataclass(frozen=True)
class Merge:
    """Consecutive segments picked to merge apart (:func:`next_merge`), as the table of contents
    listed them when picked, their deletions included.  A worker merges them
    (:func:`write_merged`) while the ingest goes on; a commit puts the merged segment in their
    place (:meth:`IndexWriter.replace`), deleting in it what was deleted from them meanwhile.
    """

    segments: tuple[Any, ...]  # Whoosh's segment objects, copies no writer changes

    def ids(self) -> set[str]:
        """The picked segments' ids."""
        return {seg.segment_id() for seg in self.segments}

    def deleted_since(self, current: Sequence[Any]) -> list[int]:
        """Document numbers, in the merged segment, of the documents deleted from the picked
        segments since they were picked (``current``: the index's segments now)."""
        now = {seg.segment_id(): seg for seg in current}
        out: list[int] = []
        base = 0
        for picked in self.segments:
            before = sorted(picked.deleted_docs())
            for docnum in sorted(set(now[picked.segment_id()].deleted_docs()).difference(before)):
                out.append(base + docnum - bisect_right(before, docnum))
            base += picked.doc_count()
        return out

    def put_in(self, segments: list[Any], merged: Any) -> list[Any]:
        """``segments`` (a table of contents) with ``merged`` in the place of the picked ones,
        the documents deleted from them since deleted in it."""
        ids = self.ids()
        at = [i for i, seg in enumerate(segments) if seg.segment_id() in ids]
        if len(at) != len(ids) or at[-1] - at[0] + 1 != len(at):
            raise ArchiveError("segments merged apart are no longer together in the search index")
        for docnum in self.deleted_since(segments):
            merged.delete_document(docnum)
        return [*segments[: at[0]], merged, *segments[at[-1] + 1 :]]


def next_merge(ix: index.Index, running: Iterable[Merge] = ()) -> Merge | None:
    """A merge to run apart (:func:`write_merged`) while an ingest goes on, or None: the oldest
    run of at least :data:`MERGE_FACTOR` consecutive segments of one size level
    (:func:`segment_level`) none of the ``running`` merges holds.

    Unlike :func:`tiered_segments`, the run need not be the newest segments: the
    merged segment takes the run's place (:meth:`Merge.put_in`), so documents
    keep their order, and segments committed while a merge runs do not stop the
    run it completes from merging.
    """
    with ix.reader() as reader:  # the table of contents read anew (objects no writer holds), verified
        segments = [leaf.segment() for leaf, _offset in segment_readers(reader)]
    busy = set().union(*(merge.ids() for merge in running))
    levels = [None if seg.segment_id() in busy else segment_level(seg.doc_count()) for seg in segments]
    start = 0
    while start < len(segments):
        end = start + 1
        while end < len(segments) and levels[end] == levels[start]:
            end += 1
        if levels[start] is not None and end - start >= MERGE_FACTOR:
            return Merge(tuple(segments[start:end]))
        start = end
    return None


def write_merged(index_folder: str | Path, merge: Merge) -> WrittenSegment:
    """Merge the segments of ``merge`` (files of the index in ``index_folder``) into one segment
    written apart, as :func:`write_segment` writes one: any process can, while the index's
    writer goes on committing — the picked segments stay in the index until
    :meth:`IndexWriter.replace` commits the merged one in their place."""
    from whoosh.filedb.filestore import FileStorage
    from whoosh.reading import SegmentReader

    storage = FileStorage(str(index_folder))
    schema = make_schema()

    def fill(writer: BatchWriter) -> None:
        for seg in merge.segments:
            writer.add_reader(SegmentReader(storage, schema, seg))

    return _write_apart(index_folder, fill)


class IndexWriter:
    """Writes one batch of documents as a new segment of the embedded index.

    ``add`` and ``delete`` (replaced articles) collect the batch, or ``adopt``
    takes a segment written apart and ``replace`` one merged apart; ``commit``
    writes it (never merging: see :func:`merge_segments`); ``cancel`` drops it.
    """

    def __init__(self, ix: index.Index) -> None:
        self._writer = BatchWriter(ix)
        self._adopted: list[WrittenSegment] = []
        self._replacing: list[tuple[Merge, WrittenSegment]] = []

    def add(self, doc: IndexDocument) -> None:
        """Add an analysed article."""
        if self._adopted or self._replacing:
            raise ValueError("a writer that took segments written apart takes no documents")
        self._writer.add_document(**doc.fields())

    def adopt(self, written: WrittenSegment) -> None:
        """Make a segment :func:`write_segment` wrote part of this commit, after the index's
        other segments (its documents come after theirs)."""
        if self._writer._added:
            raise ValueError("a writer that took documents adopts no segment")
        self._adopted.append(written)

    def replace(self, merge: Merge, written: WrittenSegment) -> None:
        """Make the segment :func:`write_merged` made of ``merge`` take the place of its
        segments at this commit (see :meth:`Merge.put_in`)."""
        if self._writer._added:
            raise ValueError("a writer that took documents takes no merged segment")
        self._replacing.append((merge, written))

    def delete(self, ids: Iterable[str]) -> int:
        """Delete the documents of these article ids; returns how many were live."""
        return self._writer.delete_ids(ids)

    def commit(self) -> None:
        """Write the batch as a segment (readers opened from now on see it), or move segments
        written apart into the index and list them in its table of contents."""
        apart = [*self._adopted, *(written for _merge, written in self._replacing)]
        if not apart:
            self._writer.commit(merge=False)
            return
        import shutil

        storage = self._writer.storage
        for written in apart:
            folder = Path(written.folder)
            prefix = written.segment.make_filename("")
            for path in folder.iterdir():
                if path.name.startswith(prefix):  # until the commit, no more than orphans
                    path.replace(Path(storage.folder) / path.name)

        def listed(_writer, segments):  # type: ignore[no-untyped-def]
            for merge, written in self._replacing:
                segments = merge.put_in(segments, written.segment)
            return [*segments, *(written.segment for written in self._adopted)]

        self._writer.commit(mergetype=listed)
        for written in apart:
            shutil.rmtree(written.folder, ignore_errors=True)

    def cancel(self) -> None:
        """Drop the batch (segments written apart and not committed are removed)."""
        import shutil

        self._writer.cancel()
        for written in [*self._adopted, *(written for _merge, written in self._replacing)]:
            shutil.rmtree(written.folder, ignore_errors=True)


def open_reader(data_dir: str | Path) -> IndexReader:
    """A reader of the archive's index (raises :class:`ArchiveError` when there is none)."""
    return IndexReader(open_index(data_dir))
