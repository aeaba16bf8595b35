"""The Whoosh index: schema, and writing analysed articles and merged segments to it.

Analysis happens before the index (in worker processes during ingest), so the
text fields take *pre-counted terms* (:class:`CountedField`) instead of running
an analyzer inside Whoosh.  No positions or term vectors are stored: phrases
and unknown names are verified against the stored text (see ``search.py``),
so nothing on disk is kept that no query reads.  Segments are written with
:class:`~newsarc.codec.NewsarcCodec` (compact term dictionary and postings) by
:class:`BatchWriter`, which collects a batch's posting lists in memory and
writes each list whole; :func:`merge_segments` merges segments list by list.

Fields:

``id``        the article id (stored, unique)
``key``       the store's rowid, ``published`` epoch seconds, ``day`` the local
              publication date as YYYYMMDD: columns only (sorting, filters), not terms
``source``    outlet key; ``author`` folded author names and their words
``title``, ``body``   ranked word terms with frequencies (BM25F; title weighted above body)
``grams``     recall-only terms, no frequencies (see ``analysis.py``)
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

from whoosh import columns, fields, formats, index
from whoosh.system import pack_uint
from whoosh.writing import SegmentWriter

from newsarc.analysis import Terms
from newsarc.codec import CompactTermsReader, NewsarcCodec, Row, decode_postings, row_lengths
from newsarc.errors import ArchiveError, DamagedArchive
from newsarc.integrity import open_trusted, write_segment_checksums

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
        }


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

    def __init__(self, ix: index.Index) -> None:
        super().__init__(ix, codec=NewsarcCodec(), compound=False, limitmb=1)
        self._postings: dict[str, dict[bytes, _Postings]] = {}
        # per field: the shortest and longest length in the batch, the bounds every term's info
        # records (Whoosh uses them only to skip blocks in top-N searches)
        self._lengths: dict[str, list[int]] = {}
        self._merged: list[tuple[object, int, dict[int, int] | None]] = []

    def add_document(self, **values) -> None:  # type: ignore[no-untyped-def]
        """Add one document (the keyword arguments of :meth:`IndexDocument.fields`)."""
        self._check_state()
        schema = self.schema
        docnum = self.docnum
        perdoc = self.perdocwriter
        perdoc.start_doc(docnum)
        for fieldname in sorted(values):
            value = values[fieldname]
            if value is None:
                continue
            field = schema[fieldname]
            length = 0
            if field.indexed:
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
        docmap = self.write_per_doc(names, reader)
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
        names = set(self._postings)
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
        for reader, _base, _docmap in self._merged:
            reader.close()
        self._merged.clear()
        write_segment_checksums(self.storage, self.get_segment())

    def _write_batch_field(self, fieldname: str) -> None:
        """A batch's lists of one field, in term order."""
        terms = self._postings[fieldname]
        shortest, longest = self._lengths.get(fieldname, (None, 0))
        add = self.fieldwriter.add_term
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
            sources.append(_segment_parts(n, reader, fieldname, base, docmap))
        if fieldname in self._postings:
            shortest, longest = self._lengths.get(fieldname, (None, 0))
            terms = self._postings[fieldname]
            sources.append(
                (t, len(self._merged), _List(*terms[t], shortest, longest)) for t in sorted(terms)
            )
        merged = heapq.merge(*sources, key=lambda item: (item[0], item[1]))
        for tbytes, group in groupby(merged, key=lambda item: item[0]):
            parts = [part for _t, _n, part in group]
            if len(parts) == 1 and isinstance(parts[0], _Encoded):
                part = parts[0]
                writer.add_encoded(tbytes, part.row, part.shift, part.data)
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
            writer.add_term(tbytes, ids, weights, min(minimums) if minimums else None, maxlength)


@dataclass(slots=True)
class _List:
    """A posting list in the making (document numbers of the new segment)."""

    ids: Sequence[int]
    weights: Sequence[float] | None
    minlength: int | None
    maxlength: int


@dataclass(slots=True)
class _Encoded:
    """A posting list of a merged segment, still encoded."""

    row: Row
    shift: int
    data: bytes

    def decode(self) -> _List:
        row = self.row
        ids, weights = decode_postings(self.data, row[5] + self.shift, row[1])
        return _List(ids, weights, *row_lengths(row))


def _segment_parts(n: int, reader, fieldname: str, base: int, docmap: dict[int, int] | None):  # type: ignore[no-untyped-def]
    """``(term, n, list)`` of a segment's field, renumbered for the merged segment, deleted documents dropped."""
    terms = reader._terms
    if not isinstance(terms, CompactTermsReader):
        raise ArchiveError(
            "cannot merge a segment not written by newsarc's codec (run `newsarc reindex`)"
        )
    for tbytes, row in terms.field_rows(fieldname):
        part = _Encoded(row, base, terms.raw_postings(row[7], row[8]))
        if docmap is None:
            yield tbytes, n, part
            continue
        whole = _Encoded(row, 0, part.data).decode()
        keep = [i for i, d in enumerate(whole.ids) if d in docmap]
        if keep:
            weights = whole.weights
            yield (
                tbytes,
                n,
                _List(
                    [docmap[whole.ids[i]] for i in keep],
                    [weights[i] for i in keep] if weights is not None else None,
                    whole.minlength,
                    whole.maxlength,
                ),
            )


def index_writer(ix: index.Index) -> BatchWriter:
    """A writer for one batch of documents (see :class:`BatchWriter`)."""
    return BatchWriter(ix)


def segment_readers(reader) -> list[tuple[Any, int]]:  # type: ignore[no-untyped-def]
    """``(segment reader, first document number)`` of each segment an index reader spans.

    An index without segments (a new archive before its first index commit, or
    after one that was killed or ran out of disk) has none: Whoosh then hands
    out an empty reader, which belongs to no segment.
    """
    return [(leaf, offset) for leaf, offset in reader.leaf_readers() if leaf.segment() is not None]


#: Segments of fewer live documents than this are always worth merging.
MERGE_FLOOR_DOCS = 1_000


def tiered_segments(segments: Sequence) -> tuple[list, list]:  # type: ignore[type-arg]
    """Split a table of contents into ``(kept, to merge)``.

    The newest segments are merged together, absorbing older ones while each
    is no larger than twice what has been gathered so far (or under
    :data:`MERGE_FLOOR_DOCS`).  Segment sizes then grow geometrically, so an
    archive keeps a handful of segments and every article is rewritten a
    logarithmic number of times however it was ingested.
    """
    gathered = 0
    cut = len(segments)
    for seg in reversed(segments):
        size = seg.doc_count()
        if cut < len(segments) and size > max(2 * gathered, MERGE_FLOOR_DOCS):
            break
        gathered += size
        cut -= 1
    return list(segments[:cut]), list(segments[cut:])


#: A segment is rewritten on its own once this share of its documents is deleted (replaced).
EXPUNGE_SHARE = 0.1


def _mostly_deleted(segment) -> bool:  # type: ignore[no-untyped-def]
    return segment.deleted_count() > EXPUNGE_SHARE * segment.doc_count_all()


def _worth_merging(merge: Sequence) -> bool:  # type: ignore[type-arg]
    """Two segments or more, or one that would shed its replaced documents."""
    return len(merge) >= 2 or any(_mostly_deleted(seg) for seg in merge)


#: During a long ingest, segments are merged (tiered) whenever there are more than this many.
MAX_SEGMENTS = 12


def merge_segments(
    ix: index.Index,
    *,
    above: int = 1,
    choose: Callable[[Sequence], tuple[list, list]] = tiered_segments,  # type: ignore[type-arg]
) -> int:
    """Merge the segments ``choose`` picks (by default :func:`tiered_segments`) when there are
    more than ``above``; returns how many were merged.

    An ingest calls it with ``above=MAX_SEGMENTS`` after each batch (so a long
    ingest never holds hundreds of segments, each with open files and a block
    cache, and never merges more than a dozen at once) and with the default at
    the end.
    """
    from whoosh.reading import SegmentReader

    picked: list = []  # type: ignore[type-arg]

    def policy(writer, segments):  # type: ignore[no-untyped-def]
        kept, merge = choose(segments)
        if not _worth_merging(merge):
            return list(segments)
        for seg in merge:
            writer.add_reader(SegmentReader(writer.storage, writer.schema, seg))
        picked.extend(merge)
        return kept

    with ix.reader() as reader:
        segments = [leaf.segment() for leaf, _offset in segment_readers(reader)]
    if len(segments) <= above and not (
        above <= 1 and any(_mostly_deleted(seg) for seg in segments)
    ):
        return 0
    if not _worth_merging(choose(segments)[1]):
        return 0
    writer = BatchWriter(ix)
    try:
        writer.commit(mergetype=policy)
    except BaseException:
        writer.cancel()
        raise
    return len(picked)


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
