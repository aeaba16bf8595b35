"""What newsarc checksums in an index, and what it trusts when it opens one.

*Segment checksums.*  Whoosh segment files carry no checksum: a changed byte
in a posting list gives wrong hits, not an error.  When a segment is written,
:func:`write_segment_checksums` records the size and CRC32 of each of its
files in a ``MAIN_<segment>.sum`` file beside them (Whoosh deletes it with
the segment).  :class:`TrustedIndex` verifies a segment before reading it
(:func:`verify_segment`): sizes always, CRC32s while the index is no larger
than :data:`VERIFY_ON_OPEN_BYTES` (``newsarc check`` verifies every CRC32).

*The table of contents.*  Whoosh keeps an index's schema and segment list as
pickles in its ``_MAIN_<generation>.toc`` file, and unpickling runs whatever
code the pickle names.  :class:`TrustedIndex` never unpickles the schema (it
is newsarc's own, :func:`~newsarc.index.make_schema`) and reads the segment
list with an unpickler that builds only the classes a newsarc segment list
holds (:class:`_SegmentUnpickler`), and a document's stored fields with one that
builds no class at all (:func:`stored_fields`): an archive from someone else
cannot run code when it is opened or searched.
"""

from __future__ import annotations

import io
import json
import pickle
import re
import struct
import time
import zlib
from collections.abc import Iterable
from pathlib import Path

from whoosh import index
from whoosh.codec.base import Codec
from whoosh.codec.whoosh3 import W3Segment
from whoosh.filedb.filestore import FileStorage, Storage

from newsarc.errors import DamagedArchive

#: Suffix of a segment's checksum file.
CHECKSUM_EXT = ".sum"
#: Above this many bytes of segment files, opening an index checks their sizes only.
VERIFY_ON_OPEN_BYTES = 64 * 1024 * 1024
#: What every problem with the index tells the user to run.
REPAIR = "run `newsarc reindex` to rebuild it from the store"


# --------------------------------------------------------------------------- checksums


def _crc32(storage: Storage, name: str) -> int:
    crc = 0
    with storage.open_file(name) as fh:
        while chunk := fh.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def segment_files(storage: Storage, segment) -> list[str]:  # type: ignore[no-untyped-def]
    """The names of a segment's files (its checksum file excepted), sorted."""
    prefix = segment.make_filename("")
    own = segment.make_filename(CHECKSUM_EXT)
    return sorted(n for n in storage.list() if n.startswith(prefix) and n != own)


def write_segment_checksums(storage: Storage, segment) -> None:  # type: ignore[no-untyped-def]
    """Record the size and CRC32 of each file of a just-written segment (before its commit)."""
    sums = {
        name: [storage.file_length(name), _crc32(storage, name)]
        for name in segment_files(storage, segment)
    }
    with storage.create_file(segment.make_filename(CHECKSUM_EXT)) as fh:
        fh.write(json.dumps({"crc32": sums}, sort_keys=True).encode("ascii"))


def verify_segment(storage: Storage, segment, *, crc: bool = True) -> list[str]:  # type: ignore[no-untyped-def]
    """What is wrong with a segment's files (empty: nothing): each problem a short phrase
    naming the file.  With ``crc`` False only the sizes are compared."""
    name = segment.make_filename(CHECKSUM_EXT)
    try:
        with storage.open_file(name) as fh:
            sums = json.loads(fh.read().decode("ascii"))["crc32"]
        expected = {str(k): (int(v[0]), int(v[1])) for k, v in sums.items()}
    except FileNotFoundError:
        return [f"{name} is missing (the segment's checksums)"]
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return [f"{name} is damaged (the segment's checksums)"]
    if any(not fname.startswith(segment.make_filename("")) or "/" in fname for fname in expected):
        return [f"{name} is damaged (names files of another segment)"]
    problems = []
    for fname, (size, crc32) in sorted(expected.items()):
        if not storage.file_exists(fname):
            problems.append(f"{fname} is missing")
        elif storage.file_length(fname) != size:
            problems.append(f"{fname} has {storage.file_length(fname)} bytes, {size} were written")
        elif crc and _crc32(storage, fname) != crc32:
            problems.append(f"{fname} fails its CRC32 checksum")
    return problems


# --------------------------------------------------------------------------- the TOC


#: The classes a newsarc segment list may hold (besides newsarc's codecs).
_SEGMENT_CLASSES = {
    ("whoosh.codec.whoosh3", "W3Segment"),
    ("collections", "defaultdict"),
    ("builtins", "int"),
    ("builtins", "float"),
    ("builtins", "str"),
    ("builtins", "bytes"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
}


class _SegmentUnpickler(pickle.Unpickler):
    """Unpickles a segment list, building nothing but :data:`_SEGMENT_CLASSES` and codecs."""

    def find_class(self, module: str, name: str):  # type: ignore[no-untyped-def]
        if (module, name) in _SEGMENT_CLASSES:
            return super().find_class(module, name)
        if module == "newsarc.codec":
            import newsarc.codec

            obj = getattr(newsarc.codec, name, None)
            if isinstance(obj, type) and issubclass(obj, Codec):
                return obj
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a newsarc index")


class _ValuesUnpickler(pickle.Unpickler):
    """Unpickles plain values (dicts, lists, strings, numbers), building no class at all."""

    def find_class(self, module: str, name: str):  # type: ignore[no-untyped-def]
        raise pickle.UnpicklingError(f"{module}.{name} is not a stored field of a newsarc index")


def stored_fields(data: bytes) -> dict:  # type: ignore[type-arg]
    """A document's stored fields as a segment's ``_stored`` column keeps them (zlib-compressed
    pickle, Whoosh's ``STORED_COLUMN``), unpickled without building any class; raises
    :class:`DamagedArchive` for anything else."""
    try:
        fields = _ValuesUnpickler(io.BytesIO(zlib.decompress(data))).load()
    except (zlib.error, ValueError, EOFError, pickle.UnpicklingError, IndexError, KeyError) as exc:
        raise DamagedArchive(f"damaged search index: unreadable stored fields ({exc}); {REPAIR}") from None
    if not isinstance(fields, dict):
        raise DamagedArchive(f"damaged search index: unreadable stored fields; {REPAIR}")
    return fields


def read_toc(storage: Storage, indexname: str, schema) -> index.TOC:  # type: ignore[no-untyped-def]
    """The latest table of contents of an index, read without trusting its pickles
    (``schema`` replaces the pickled one); raises :class:`DamagedArchive`."""
    for _attempt in range(10):
        gen = index.TOC._latest_generation(storage, indexname)
        if gen < 0:
            raise index.EmptyIndexError(f"no index {indexname} in {storage}")
        name = index.TOC._filename(indexname, gen)
        try:
            stream = storage.open_file(name)
            break
        except FileNotFoundError:
            # an ingest committed a newer table of contents and removed this one since the listing
            if index.TOC._latest_generation(storage, indexname) == gen:
                raise
    else:
        raise DamagedArchive(f"the search index in {storage} kept changing while it was opened; try again")
    try:
        sizes = [stream.read_varint() for _ in range(3)]
        if sizes != [index._INT_SIZE, index._LONG_SIZE, index._FLOAT_SIZE] or stream.read_int() != -12345:
            raise ValueError("not a table of contents of this architecture")
        version = stream.read_int()
        release = tuple(stream.read_varint() for _ in range(3))
        if version != index._CURRENT_TOC_VERSION:
            raise ValueError(f"table of contents format {version}")
        stream.skip_string()  # the pickled schema: never unpickled
        if stream.read_int() != gen:
            raise ValueError("generation mismatch")
        stream.read_int()
        segments = _SegmentUnpickler(io.BytesIO(stream.read())).load()
    except (ValueError, EOFError, pickle.UnpicklingError, struct.error, AttributeError, TypeError,
            IndexError, KeyError) as exc:  # fmt: skip
        raise DamagedArchive(
            f"damaged search index: {name} is not a newsarc table of contents ({exc}); {REPAIR}"
        ) from None
    finally:
        stream.close()
    if not isinstance(segments, list) or not all(_sound_segment(s, indexname) for s in segments):
        raise DamagedArchive(f"damaged search index: {name} is not a newsarc table of contents; {REPAIR}")
    return index.TOC(schema, segments, gen, version=version, release=release)


_SEGMENT_ID = re.compile(r"[0-9a-z]{1,64}")


def _sound_segment(segment: object, indexname: str) -> bool:
    """Whether a segment read from a table of contents names files inside the index only."""
    return (
        isinstance(segment, W3Segment)
        and segment.indexname == indexname
        and isinstance(segment.segid, str)
        and _SEGMENT_ID.fullmatch(segment.segid) is not None
    )


class TrustedIndex(index.FileIndex):
    """Whoosh's on-disk index, reading its table of contents with :func:`read_toc` and
    verifying each segment (:func:`verify_segment`) before a reader opens it."""

    def __init__(self, storage: Storage, schema, indexname: str) -> None:  # type: ignore[no-untyped-def]
        # not FileIndex.__init__: it reads the table of contents with Whoosh's own unpickling
        self.storage = storage
        self._schema = schema
        self.indexname = indexname
        self._verified: set[str] = set()
        self._read_toc()

    def _read_toc(self) -> index.TOC:
        return read_toc(self.storage, self.indexname, self._schema)

    def reader(self, reuse=None):  # type: ignore[no-untyped-def]
        for _attempt in range(10):
            toc = self._read_toc()
            problem = self._verify(toc.segments)
            if problem is None:
                return self._reader(self.storage, toc.schema, toc.segments, toc.generation, reuse=reuse)
            if self.latest_generation() == toc.generation:
                break
            time.sleep(0.05)  # a concurrent ingest merged a segment away: read its new commit
        where = getattr(self.storage, "folder", "")
        raise DamagedArchive(f"damaged search index in {where}: {problem}; {REPAIR}")

    def _verify(self, segments: Iterable) -> str | None:  # type: ignore[type-arg]
        """The first problem of the segments not verified yet (None: they are sound)."""
        fresh = [s for s in segments if s.segment_id() not in self._verified]
        try:
            total = sum(
                self.storage.file_length(n) for s in fresh for n in segment_files(self.storage, s)
            )
            for seg in fresh:
                problems = verify_segment(self.storage, seg, crc=total <= VERIFY_ON_OPEN_BYTES)
                if problems:
                    return problems[0]
                self._verified.add(seg.segment_id())
        except FileNotFoundError as exc:
            return f"{Path(exc.filename or '?').name} is missing"
        return None


def open_trusted(path: str | Path, schema, indexname: str) -> TrustedIndex | None:  # type: ignore[no-untyped-def]
    """The index in folder ``path``, or None when it holds none."""
    if not Path(path).is_dir():
        return None
    storage = FileStorage(str(path))
    if index.TOC._latest_generation(storage, indexname) < 0:
        return None
    return TrustedIndex(storage, schema, indexname)


def check_doc_count(where: str | Path, docs: int, indexed: int) -> None:
    """Raise :class:`DamagedArchive` when an index holds fewer live documents (``docs``) than
    the store says it committed (``indexed``, counted *before* the index was opened: an
    ingest only adds to both, so a reader never sees fewer unless articles were lost)."""
    if docs < indexed:
        raise DamagedArchive(
            f"damaged search index in {where}: it holds {docs} articles, the store "
            f"{indexed} indexed ones; {REPAIR}"
        )


def verify_all(ix: TrustedIndex) -> list[str]:
    """Every problem of every segment of an index (all CRC32s read, whatever its size)."""
    toc = ix._read_toc()
    return [p for seg in toc.segments for p in verify_segment(ix.storage, seg)]
