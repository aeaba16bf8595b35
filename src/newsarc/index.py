"""The Whoosh index: schema, and adding analysed articles to it.

Analysis happens before the index (in worker processes during ingest), so the
text fields take *pre-counted terms* (:class:`CountedField`) instead of running
an analyzer inside Whoosh's single writer.  No positions or term vectors are
stored: phrases and unknown names are verified against the stored folded text
(see ``search.py``), so nothing on disk is kept that no query reads.

Fields:

``id``        the article id (stored, unique)
``key``       the store's rowid (column), ``published`` epoch seconds (column, for sorting)
``day``       the local publication date as YYYYMMDD (for --since/--until)
``source``    outlet key; ``author`` folded author names and their words
``title``, ``body``   ranked word terms with frequencies (BM25F; title weighted above body)
``grams``     recall-only terms, no frequencies (see ``analysis.py``)
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from whoosh import fields, formats, index
from whoosh.system import pack_uint

from newsarc.analysis import Terms
from newsarc.errors import ArchiveError

INDEX_NAME = "MAIN"


class CountedField(fields.FieldType):
    """A text field that indexes terms counted before they reach Whoosh.

    The value is a mapping ``term → count`` (or any iterable of distinct
    terms for a field without frequencies).
    """

    def __init__(self, *, frequencies: bool = True, field_boost: float = 1.0) -> None:
        self.format = formats.Frequency(field_boost=field_boost) if frequencies else formats.Existence(field_boost=field_boost)
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

    def process_text(self, qstring, mode="", **kwargs):  # type: ignore[no-untyped-def]
        yield qstring

    def self_parsing(self) -> bool:
        return False


def make_schema() -> fields.Schema:
    """The index schema (see the module docstring)."""
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        key=fields.NUMERIC(int, bits=64, stored=False, sortable=True, signed=False),
        published=fields.NUMERIC(int, bits=64, stored=False, sortable=True, signed=True),
        day=fields.NUMERIC(int, bits=64, stored=False, signed=True),
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


#: Batches at least this large are written by several processes (one segment each).
PARALLEL_WRITE_MIN_DOCS = 200


def index_writer(ix: index.Index, n_docs: int):  # type: ignore[no-untyped-def]
    """A Whoosh writer for a batch of ``n_docs`` documents.

    Whoosh's writer is pure Python and was the bottleneck of ingest, so a large
    batch is split across processes (``procs``), each writing its own segment
    (``multisegment``); Whoosh's merge policy folds small segments together on
    later commits.  Segments are written as separate files, not one compound
    file: a reader then reads what a query touches instead of loading whole
    segments into memory.
    """
    procs = min(os.cpu_count() or 1, 4)
    if procs > 1 and n_docs >= PARALLEL_WRITE_MIN_DOCS:
        return ix.writer(procs=procs, multisegment=True, limitmb=64, compound=False, batchsize=50)
    return ix.writer(limitmb=128, compound=False)


def index_dir(data_dir: str | Path) -> Path:
    """Where an archive keeps its Whoosh index."""
    return Path(data_dir) / "index"


def open_index(data_dir: str | Path, *, create: bool = False) -> index.Index:
    """Open (or with ``create`` make) the archive's Whoosh index."""
    path = index_dir(data_dir)
    try:
        if index.exists_in(path, indexname=INDEX_NAME):
            return index.open_dir(path, indexname=INDEX_NAME)
        if not create:
            raise ArchiveError(f"no search index in {path} (run `newsarc ingest PATH` first)")
        path.mkdir(parents=True, exist_ok=True)
        return index.create_in(path, make_schema(), indexname=INDEX_NAME)
    except ArchiveError:
        raise
    except Exception as exc:  # whoosh raises many types for a damaged index
        raise ArchiveError(f"cannot open search index {path}: {exc}") from None
