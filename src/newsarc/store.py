"""The article store: one SQLite database in the archive directory.

SQLite holds what ``show``, ``stats`` and ``export`` need (the records,
zstd-compressed, see :class:`RecordCodec`), the ledger of ingested files (so
unchanged files are skipped on a stat, and ``show --html`` can re-read an
article's source file), the counts ``stats`` reports (per outlet, per year,
per author: kept up to date by :meth:`Store.put`, so ``stats`` reads no
record), and jieba's dictionary in a table that opens instantly (the query
segmenter looks up only the few substrings of a query).

Neither the original HTML nor the folded text is stored: ``show --html``
re-parses the source file (if it still has the digest it was ingested with),
and ``keywords`` folds the stored record again
(:func:`newsarc.analysis.fold_article`, the function the ingest folds with).

Every distinct version of an article is kept (:meth:`Store.add_sighting`):
the ``articles`` row holds the newest, which is all that search, show and
stats see; ``versions`` has a row per version (its content digest and when it
was seen), and for each older one its record as a zstd delta against the
article row.

The database runs in WAL mode: readers see the last commit while an ingest
writes.  Every article row carries ``indexed``: 0 until the Whoosh index has
committed it, so an interrupted ingest can finish the job.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from newsarc.errors import (
    AmbiguousArticle,
    ArchiveChanged,
    ArchiveError,
    DamagedArchive,
    NewsarcError,
    NoArchive,
    RejectedFile,
    UnknownArticle,
)
from newsarc.records import ARTICLE_FIELDS, Article, printable_path

#: Bump when the on-disk layout changes incompatibly.
FORMAT_VERSION = 7
DB_NAME = "articles.db"
#: SQLite page size of a new archive.  Records are 1-4 KB: 4 KB pages hold one or
#: two and leave a quarter of each page empty; 16 KB pages pack them (−12 % on the corpus).
PAGE_SIZE = 16384
USER_DICT_NAME = "userdict.txt"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    source_name TEXT NOT NULL,
    published TEXT NOT NULL,
    published_ts INTEGER NOT NULL,
    archived_ms INTEGER NOT NULL,
    record BLOB NOT NULL,
    file INTEGER,
    digest BLOB,
    indexed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS articles_unindexed ON articles(indexed) WHERE indexed = 0;
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    digest BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS record_dicts (id INTEGER PRIMARY KEY, dict BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS articles_published_ts ON articles(published_ts);
CREATE TABLE IF NOT EXISTS source_counts (
    source TEXT PRIMARY KEY, name TEXT NOT NULL, n INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS year_counts (year TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS author_counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS author_counts_n ON author_counts(n);
CREATE TABLE IF NOT EXISTS dictionary (word TEXT PRIMARY KEY, freq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS versions (
    article TEXT NOT NULL,
    content BLOB NOT NULL,
    first_ms INTEGER NOT NULL,
    last_ms INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    record BLOB,
    PRIMARY KEY (article, content)
) WITHOUT ROWID;
"""


#: The record fields that are columns of ``articles`` (the blob holds the others).
COLUMN_FIELDS = ("id", "url", "title", "source", "source_name", "published")
#: The record fields kept in the compressed blob.
BLOB_FIELDS = tuple(f for f in ARTICLE_FIELDS if f not in COLUMN_FIELDS)
#: zstd level of the records (decompression speed does not depend on it).  With the
#: dictionary, level 9 gives 27.5 MB of records for the corpus against 25.7 MB at level 17,
#: at a quarter of the CPU (0.28 against 1.18 ms a record, on the ingest's main process).
RECORD_LEVEL = 9
#: Records stored before an archive trains its compression dictionary on them.
RECORD_DICT_AFTER = 1000
#: Size of that dictionary in bytes.
RECORD_DICT_BYTES = 256 * 1024


def _zstd():  # type: ignore[no-untyped-def]
    import zstandard  # imported on first use: commands that read no record never load it

    return zstandard


class RecordCodec:
    """Packs records: compact JSON of :data:`BLOB_FIELDS`, one zstd frame per record.

    Records are short (a few KB of Chinese text), so a general-purpose
    compressor finds little to reuse inside one.  Once an archive holds
    :data:`RECORD_DICT_AFTER` records, a zstd dictionary is trained on them,
    kept in ``record_dicts`` and used for every record from then on (those
    already stored are recompressed with it): on the corpus a quarter smaller
    than zlib.  A frame names the dictionary it needs in its header (id 0: none),
    so a record never depends on anything but a row of ``record_dicts``,
    which is never changed once written.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._decompressors: dict[int, object] = {}
        self._compressor = None
        self._dict_id: int | None = None
        self._dict_known = False

    @property
    def dict_id(self) -> int | None:
        """The id of the dictionary new records are compressed with (None before training)."""
        if not self._dict_known:
            row = self.conn.execute("SELECT max(id) FROM record_dicts").fetchone()
            self._dict_id = row[0] if row else None
            self._dict_known = True
        return self._dict_id

    def _dictionary(self, dict_id: int):  # type: ignore[no-untyped-def]
        row = self.conn.execute("SELECT dict FROM record_dicts WHERE id = ?", (dict_id,)).fetchone()
        if row is None:
            raise ArchiveError(f"damaged archive: record dictionary {dict_id} is missing")
        return _zstd().ZstdCompressionDict(row[0])

    def compress(self, raw: bytes) -> bytes:
        """One record's JSON bytes as a zstd frame (with the archive's dictionary, if any)."""
        if self._compressor is None:
            zstd = _zstd()
            dict_id = self.dict_id
            self._compressor = zstd.ZstdCompressor(
                level=RECORD_LEVEL,
                dict_data=self._dictionary(dict_id) if dict_id else None,
                write_checksum=True,
            )
        return self._compressor.compress(raw)  # type: ignore[attr-defined]

    def decompress(self, blob: bytes) -> bytes:
        """The JSON bytes of a stored record."""
        zstd = _zstd()
        dict_id = zstd.get_frame_parameters(blob).dict_id
        decompressor = self._decompressors.get(dict_id)
        if decompressor is None:
            decompressor = zstd.ZstdDecompressor(
                dict_data=self._dictionary(dict_id) if dict_id else None
            )
            self._decompressors[dict_id] = decompressor
        return decompressor.decompress(blob)  # type: ignore[attr-defined]

    def pack(self, record: dict) -> bytes:
        """The blob of a record (a :meth:`Article.to_dict`; only :data:`BLOB_FIELDS` are kept)."""
        fields = {name: record[name] for name in BLOB_FIELDS}
        text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
        return self.compress(text.encode("utf-8", "surrogatepass"))

    def unpack(self, blob: bytes) -> dict:
        """The :data:`BLOB_FIELDS` of a stored record."""
        return json.loads(self.decompress(blob).decode("utf-8", "surrogatepass"))

    def train(self, samples: list[bytes]) -> bool:
        """Train a new dictionary on ``samples`` and compress with it from now on.

        Returns False (and changes nothing) when zstd cannot train on them
        (too few or too small samples).
        """
        zstd = _zstd()
        new_id = (self.dict_id or 0) + 1
        try:
            # fixed cover parameters: letting zstd search for them takes 7 s on 1,000
            # records for 1 % less (the level tunes the dictionary's entropy tables)
            trained = zstd.train_dictionary(
                RECORD_DICT_BYTES, samples, k=512, d=6, dict_id=new_id, level=RECORD_LEVEL
            )
        except zstd.ZstdError:
            return False
        self.conn.execute(
            "INSERT INTO record_dicts(id, dict) VALUES(?, ?)", (new_id, trained.as_bytes())
        )
        self._dict_id = new_id
        self._compressor = None
        return True


#: The columns :meth:`Store._article` and :meth:`Store.iter_records` read, in this order.
_ARTICLE_COLUMNS = ", ".join([*COLUMN_FIELDS, "archived_ms", "record"])


def _make_article(columns: tuple, fields: dict, archived_ms: int) -> Article:
    """An :class:`Article` from its :data:`COLUMN_FIELDS` values and its blob's fields."""
    return Article.from_dict({**dict(zip(COLUMN_FIELDS, columns, strict=True)), **fields},
                             archived_ms=archived_ms)


def _record(columns: tuple, fields: dict) -> dict:
    """The documented JSON record (:data:`ARTICLE_FIELDS` order) from columns and blob fields."""
    merged = {**dict(zip(COLUMN_FIELDS, columns, strict=True)), **fields}
    return {name: merged[name] for name in ARTICLE_FIELDS if name in merged}


#: Bytes of the content digest that identify a version among an article's versions.
CONTENT_BYTES = 8
#: zstd level of older versions (deltas are small: the highest level costs little).
DELTA_LEVEL = 19


def _version_json(record: dict) -> bytes:
    """A record as the compact JSON bytes versions are stored and diffed as."""
    ordered = {name: record[name] for name in ARTICLE_FIELDS if name in record}
    return json.dumps(ordered, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def _delta_compress(raw: bytes, base: bytes) -> bytes:
    """``raw`` compressed with ``base`` as zstd's dictionary: what differs is all it costs."""
    zstd = _zstd()
    dictionary = zstd.ZstdCompressionDict(base, dict_type=zstd.DICT_TYPE_RAWCONTENT)
    compressor = zstd.ZstdCompressor(
        level=DELTA_LEVEL, dict_data=dictionary, write_checksum=True, write_dict_id=False
    )
    return compressor.compress(raw)


def _delta_decompress(blob: bytes, base: bytes) -> bytes:
    zstd = _zstd()
    dictionary = zstd.ZstdCompressionDict(base, dict_type=zstd.DICT_TYPE_RAWCONTENT)
    try:
        return zstd.ZstdDecompressor(dict_data=dictionary).decompress(blob)
    except zstd.ZstdError as exc:
        raise ArchiveError(f"damaged archive: an older version cannot be decoded ({exc})") from None


@dataclass(slots=True)
class StoredVersion:
    """One distinct version of an article as the store keeps it.

    ``content`` is the first 16 hex digits of its content digest; ``first_ms``
    and ``last_ms`` the first and last archive times it was seen at;
    ``last_seq`` orders versions last seen at the same time; ``current`` marks
    the version the article row holds; ``record`` is its JSON record (the
    record of the latest file that held it).
    """

    content: str
    first_ms: int
    last_ms: int
    last_seq: int
    current: bool
    record: dict


def published_timestamp(published: str) -> int:
    """Epoch seconds of an ISO 8601 ``published`` value (0 when unparsable)."""
    try:
        return int(datetime.fromisoformat(published).timestamp())
    except (ValueError, OverflowError, OSError):
        return 0


@dataclass(slots=True)
class StoredSummary:
    """The columns search results need, without decompressing the record."""

    rowid: int
    id: str
    url: str
    title: str
    source: str
    source_name: str
    published: str


class Store:
    """An archive's SQLite database.  Use :func:`open_store`."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self.codec = RecordCodec(conn)
        #: records this store counts towards its dictionary training (None: not counted yet)
        self._stored: int | None = None

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Store]:
        """One write transaction: everything written inside the block is committed together,
        or, if the block raises (an error, an interrupt), not at all."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # a full disk may refuse even that
                    conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def meta(self, key: str, default: str | None = None) -> str | None:
        """A value from the ``meta`` table."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        """Set a ``meta`` value (inside the caller's transaction)."""
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # ------------------------------------------------------------------ files ledger

    def file_state(self, path: str) -> tuple[int, int, str] | None:
        """``(size, mtime_ns, digest)`` recorded for ``path`` at its last ingest (digest: sha1 hex)."""
        row = self.conn.execute(
            "SELECT size, mtime_ns, digest FROM files WHERE path = ?", (_path_value(path),)
        ).fetchone()
        return (row[0], row[1], bytes(row[2]).hex()) if row else None

    def record_file(self, path: str, size: int, mtime_ns: int, digest: str) -> None:
        """Remember that ``path`` was ingested in this state (``digest``: the sha1 in hex)."""
        self.conn.execute(
            "INSERT INTO files(path, size, mtime_ns, digest) VALUES(?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
            "digest = excluded.digest",
            (_path_value(path), size, mtime_ns, bytes.fromhex(digest)),
        )

    def _file_id(self, path: str, digest: bytes) -> int:
        """The ledger row of ``path``, made now if the file is not recorded yet.

        A new row gets size -1 (it never matches a stat) until :meth:`record_file`
        fills it in, in the same transaction.
        """
        row = self.conn.execute("SELECT id FROM files WHERE path = ?", (_path_value(path),)).fetchone()
        if row is None:
            row = self.conn.execute(
                "INSERT INTO files(path, size, mtime_ns, digest) VALUES(?, -1, -1, ?) RETURNING id",
                (_path_value(path), digest),
            ).fetchone()
        return int(row[0])

    # ------------------------------------------------------------------ articles

    def archived_ms(self, article_id: str) -> int | None:
        """The archive time of the stored version of ``article_id``, if any."""
        row = self.conn.execute(
            "SELECT archived_ms FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        return row[0] if row else None

    def _put(self, article: Article, *, file: str | None = None, digest: str | None = None) -> int:
        """Write the article row (marked not yet indexed), replacing the stored one; returns its rowid.

        Only :meth:`add_sighting` calls this: it keeps the ``versions`` rows in
        step with the article row.  ``file`` is the ledger path of the source file and ``digest`` its sha1
        (hex), for ``show --html``.  Call inside a transaction.  A replaced
        article gets a new rowid (rowids are never reused).  The counts of
        ``stats`` (outlet, year, authors) follow.  The HTML is not stored.
        """
        conn = self.conn
        digest_bytes = bytes.fromhex(digest) if digest else None
        file_id = self._file_id(file, digest_bytes or b"") if file else None
        old = conn.execute(
            "SELECT source, published, record FROM articles WHERE id = ?", (article.id,)
        ).fetchone()
        if old is not None:
            conn.execute("DELETE FROM articles WHERE id = ?", (article.id,))
            self._count(old[0], "", old[1], _author_names(self.codec.unpack(old[2])), -1)
        self._count(
            article.source, article.source_name, article.published, _author_names(article.to_dict()), 1
        )
        row = conn.execute(
            "INSERT INTO articles(id, url, title, source, source_name, published, published_ts, "
            "archived_ms, record, file, digest, indexed) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0) "
            "RETURNING rowid",
            (
                article.id,
                article.url,
                article.title,
                article.source,
                article.source_name,
                article.published,
                published_timestamp(article.published),
                article.archived_ms,
                self.codec.pack(article.to_dict()),
                file_id,
                digest_bytes,
            ),
        ).fetchone()
        self._train_when_due()
        return int(row[0])

    def _count(self, source: str, name: str, published: str, authors: set[str], step: int) -> None:
        """Add ``step`` (1 or -1) to the counts of an article's outlet, year and authors."""
        conn = self.conn
        conn.execute(
            "INSERT INTO source_counts(source, name, n) VALUES(?, ?, ?) ON CONFLICT(source) "
            "DO UPDATE SET n = n + excluded.n, name = max(name, excluded.name)",
            (source, name, step),
        )
        conn.execute(
            "INSERT INTO year_counts(year, n) VALUES(?, ?) ON CONFLICT(year) "
            "DO UPDATE SET n = n + excluded.n",
            (published[:4], step),
        )
        conn.executemany(
            "INSERT INTO author_counts(name, n) VALUES(?, ?) ON CONFLICT(name) "
            "DO UPDATE SET n = n + excluded.n",
            ((author, step) for author in sorted(authors)),
        )

    def _train_when_due(self) -> None:
        """Once :data:`RECORD_DICT_AFTER` records are stored, train the record dictionary on them.

        The records stored so far are recompressed with it, in the caller's
        transaction.  If zstd cannot train on them, training is tried again
        when the archive has doubled.
        """
        if self.codec.dict_id is not None:
            return
        if self._stored is None:
            self._stored = self.count()
        else:
            self._stored += 1  # a replacement counts too: training comes a little early, no harm
        due = int(self.meta("record_dict_due", str(RECORD_DICT_AFTER)) or RECORD_DICT_AFTER)
        if self._stored < due:
            return
        rows = self.conn.execute("SELECT rowid, record FROM articles").fetchall()
        raw = [self.codec.decompress(blob) for _rowid, blob in rows]
        if not self.codec.train(raw):
            self.set_meta("record_dict_due", str(2 * len(rows)))
            return
        self.conn.executemany(
            "UPDATE articles SET record = ? WHERE rowid = ?",
            ((self.codec.compress(data), rowid) for (rowid, _blob), data in zip(rows, raw, strict=True)),
        )

    def mark_indexed(self, rowids: Iterable[int]) -> None:
        """Record that the index has committed these articles (inside the caller's transaction)."""
        self.conn.executemany("UPDATE articles SET indexed = 1 WHERE rowid = ?", ((r,) for r in rowids))

    def mark_all_unindexed(self) -> None:
        """Mark every article for re-indexing (inside the caller's transaction)."""
        self.conn.execute("UPDATE articles SET indexed = 0")

    def unindexed(self) -> list[int]:
        """Rowids of articles stored but not yet committed to the index."""
        return [r[0] for r in self.conn.execute("SELECT rowid FROM articles WHERE indexed = 0")]

    def indexed_count(self) -> int:
        """Number of stored articles the index has committed (see :meth:`mark_indexed`).

        All articles less the unindexed ones: both counts come from indexes (a
        ``WHERE indexed = 1`` count scanned the whole table — 0.27 s at 400,000
        articles, on every search).
        """
        row = self.conn.execute(
            "SELECT (SELECT count(*) FROM articles) - (SELECT count(*) FROM articles WHERE indexed = 0)"
        ).fetchone()  # one statement: one snapshot of both counts
        return int(row[0])

    def count(self) -> int:
        """Number of stored articles."""
        return int(self.conn.execute("SELECT count(*) FROM articles").fetchone()[0])

    def resolve(self, prefix: str) -> str:
        """The full id of the one article whose id starts with ``prefix``.

        Raises :class:`UnknownArticle` or :class:`AmbiguousArticle`.
        """
        prefix = prefix.strip().lower()
        if len(prefix) < 4 or any(c not in "0123456789abcdef" for c in prefix):
            raise UnknownArticle(f"not an article id: {prefix!r} (give at least 4 hex digits)")
        rows = self.conn.execute(
            "SELECT id FROM articles WHERE id >= ? AND id < ? ORDER BY id LIMIT 21",
            (prefix, prefix + "g"),
        ).fetchall()
        if not rows:
            raise UnknownArticle(f"no article with id {prefix}")
        if len(rows) > 1:
            raise AmbiguousArticle(prefix, [r[0] for r in rows])
        return str(rows[0][0])

    def get(self, article_id: str) -> Article:
        """The stored article with exactly this id (raises :class:`UnknownArticle`); no HTML."""
        row = self.conn.execute(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        if row is None:
            raise UnknownArticle(f"no article with id {article_id}")
        return self._article(row)

    def get_by_rowid(self, rowid: int) -> Article:
        """The stored article at ``rowid`` (no HTML)."""
        row = self.conn.execute(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE rowid = ?", (rowid,)
        ).fetchone()
        if row is None:
            raise UnknownArticle(f"no article at row {rowid}")
        return self._article(row)

    def _article(self, row: tuple) -> Article:
        """An :class:`Article` from a row of :data:`_ARTICLE_COLUMNS`."""
        n = len(COLUMN_FIELDS)
        return _make_article(row[:n], self.read_record(row[0], row[n + 1]), archived_ms=row[n])

    def original_html(self, article_id: str) -> str:
        """The article's original HTML, parsed again from its source file.

        The HTML is not stored: the file recorded for the article is read and
        parsed again, if it still has the sha1 it was ingested with.  Raises
        :class:`NewsarcError` naming the file when it is gone or has changed.
        """
        row = self.conn.execute(
            "SELECT a.digest, f.path FROM articles a LEFT JOIN files f ON f.id = a.file "
            "WHERE a.id = ?",
            (article_id,),
        ).fetchone()
        if row is None:
            raise UnknownArticle(f"no article with id {article_id}")
        digest, path = row
        what = f"cannot show the original HTML of {article_id}"
        if path is None or digest is None:
            raise NewsarcError(f"{what}: its source file is not recorded")
        path = _path_from(path)
        from newsarc.parse import parse_bytes, read_regular_file  # the parser only for --html

        shown = shown_path(path)
        try:  # non-blocking and checked after opening: a FIFO or a device put there is refused
            data, _st = read_regular_file(path)  # a larger file cannot be the one ingested
        except RejectedFile as exc:
            raise NewsarcError(f"{what}: its source file {shown} cannot be read ({exc.reason})") from None
        except FileNotFoundError:
            raise NewsarcError(
                f"{what}: its source file {shown} is gone (moved or deleted since it was ingested)"
            ) from None
        except OSError as exc:
            raise NewsarcError(f"{what}: cannot read its source file {shown}: {exc.strerror}") from None
        if hashlib.sha1(data).digest() != bytes(digest):
            raise NewsarcError(f"{what}: its source file {shown} has changed since it was ingested")
        try:
            article = parse_bytes(data, path)
        except RejectedFile as exc:
            raise NewsarcError(f"{what}: {shown} no longer parses ({exc.reason})") from None
        return article.html

    def summaries(self, ids: list[str]) -> dict[str, StoredSummary]:
        """Summary columns of the given ids."""
        sql = "SELECT rowid, id, url, title, source, source_name, published FROM articles WHERE id IN ({})"
        return {row[1]: StoredSummary(*row) for row in self._select_in(sql, ids)}

    def texts(self, ids: list[str]) -> dict[str, tuple[str, list[str]]]:
        """``id → (text, captions)`` for snippets."""
        out: dict[str, tuple[str, list[str]]] = {}
        for aid, blob in self._select_in("SELECT id, record FROM articles WHERE id IN ({})", ids):
            rec = self.codec.unpack(blob)
            out[aid] = (rec.get("text", ""), rec.get("captions", []))
        return out

    def folded_texts(self, ids: Iterable[str], *, title_only: bool = False) -> Iterator[tuple[str, str]]:
        """``(id, folded title + "\\n" + folded body)`` for verbatim verification and keywords.

        Folded from the stored record by :func:`~newsarc.analysis.fold_article`,
        exactly as the ingest folded the article; with ``title_only`` just the
        folded title (from its column: no record is decompressed).
        """
        from newsarc.analysis import fold_article

        if title_only:
            for aid, title in self._select_in("SELECT id, title FROM articles WHERE id IN ({})", ids):
                yield aid, fold_article(title)[0]
            return
        sql = "SELECT id, title, record FROM articles WHERE id IN ({})"
        for aid, title, blob in self._select_in(sql, ids):
            rec = self.codec.unpack(blob)
            folded_title, body = fold_article(title, rec.get("text", ""), rec.get("captions", []))
            yield aid, folded_title + "\n" + body

    def _select_in(self, sql: str, values: Iterable[str]) -> Iterator[tuple]:
        """Rows of ``sql``, whose ``{}`` is an ``IN`` list, for any number of values (500 a query)."""
        values = list(values)
        for i in range(0, len(values), 500):
            chunk = values[i : i + 500]
            yield from self.conn.execute(sql.format(",".join("?" * len(chunk))), chunk)

    def iter_records(self, on_damage: Callable[[str, str], None] | None = None) -> Iterator[dict]:
        """Every stored record as its JSON dict, oldest publication first (no HTML).

        A record that cannot be read (see :meth:`read_record`) raises
        :class:`DamagedArchive`, or with ``on_damage`` is skipped after
        ``on_damage(article id, reason)``.
        """
        sql = f"SELECT {_ARTICLE_COLUMNS} FROM articles ORDER BY published_ts, id"
        n = len(COLUMN_FIELDS)
        for row in self.conn.execute(sql):
            try:
                yield _record(row[:n], self.read_record(row[0], row[n + 1]))
            except DamagedArchive as exc:
                if on_damage is None:
                    raise
                on_damage(row[0], str(exc))

    def read_record(self, article_id: str, blob: bytes) -> dict:
        """The fields of a stored record blob; :class:`DamagedArchive` when it does not
        decompress (its zstd frame's checksum fails) or is not a record."""
        try:
            fields = self.codec.unpack(blob)
        except (_zstd().ZstdError, ValueError, TypeError) as exc:  # UnicodeDecodeError, JSON errors
            raise DamagedArchive(f"damaged record {article_id}: {exc}") from None
        if not isinstance(fields, dict) or not all(name in fields for name in BLOB_FIELDS):
            raise DamagedArchive(f"damaged record {article_id}: fields are missing")
        return fields

    # ------------------------------------------------------------------ versions

    def _current_json(self, article_id: str) -> bytes:
        """The stored record of an article as the JSON bytes its older versions are deltas against."""
        row = self.conn.execute(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        n = len(COLUMN_FIELDS)
        return _version_json(_record(row[:n], self.codec.unpack(row[n + 1])))

    def add_sighting(
        self,
        article: Article,
        content: str,
        seq: int,
        *,
        file: str | None = None,
        digest: str | None = None,
    ) -> tuple[str, int | None]:
        """Record one version of an article, as one file (or one git blob) holds it.

        ``content`` is the article's content digest (what a reader sees, see
        :func:`newsarc.versions.content_digest`) and ``seq`` orders versions
        archived at the same time (a file's mtime in ns; a git commit's place
        in history).  The article row is always the latest sighting of the
        newest version; every other distinct version is kept in ``versions``
        as a zstd delta against it.  Call inside a transaction.

        Returns ``(outcome, rowid)``: outcome ``added`` (a new article),
        ``updated`` (the article row was rewritten: a newer version, or a newer
        file of the same one), ``version`` (an older version, kept), ``older``
        (an older sighting of a version already kept) or ``unchanged``; rowid
        is the article row written (to be indexed), else None.
        """
        key = bytes.fromhex(content)[:CONTENT_BYTES]
        moment = article.archived_ms
        rows = {
            bytes(c): [first, last, last_seq, current]
            for c, first, last, last_seq, current in self.conn.execute(
                "SELECT content, first_ms, last_ms, last_seq, record IS NULL FROM versions "
                "WHERE article = ?",
                (article.id,),
            )
        }
        if not rows:
            rowid = self._put(article, file=file, digest=digest)
            self.conn.execute(
                "INSERT INTO versions(article, content, first_ms, last_ms, last_seq, record) "
                "VALUES(?, ?, ?, ?, ?, NULL)",
                (article.id, key, moment, moment, seq),
            )
            return "added", rowid
        current = next(c for c, row in rows.items() if row[3])
        newest = (rows[current][1], rows[current][2], current)
        row = rows.get(key)
        if row is not None and key == current:
            row[0] = min(row[0], moment)
            if (moment, seq) > (row[1], row[2]):  # a later file of the newest version: it is the article row
                row[1], row[2] = moment, seq
                self._set_version_times(article.id, key, row)
                return "updated", self._promote(article, key, file=file, digest=digest)
            self._set_version_times(article.id, key, row)
            return ("unchanged" if moment == row[1] else "older"), None
        if (moment, seq, key) > newest:  # a newer version than the article row (same order as versions_of)
            if row is None:
                row = [moment, moment, seq, False]
            row[0], row[1], row[2] = min(row[0], moment), moment, seq
            self.conn.execute(
                "INSERT INTO versions(article, content, first_ms, last_ms, last_seq, record) "
                "VALUES(?, ?, ?, ?, ?, NULL) ON CONFLICT(article, content) DO UPDATE SET "
                "first_ms = excluded.first_ms, last_ms = excluded.last_ms, last_seq = excluded.last_seq",
                (article.id, key, *row[:3]),
            )
            return "updated", self._promote(article, key, file=file, digest=digest, demote=current)
        if row is None:
            self.conn.execute(
                "INSERT INTO versions(article, content, first_ms, last_ms, last_seq, record) "
                "VALUES(?, ?, ?, ?, ?, ?)",
                (article.id, key, moment, moment, seq, self._delta(article.to_dict(), article.id)),
            )
            return "version", None
        later = (moment, seq) > (row[1], row[2])
        row[0] = min(row[0], moment)
        if later:  # the latest sighting of a version is the record it keeps
            row[1], row[2] = moment, seq
            self.conn.execute(
                "UPDATE versions SET record = ? WHERE article = ? AND content = ?",
                (self._delta(article.to_dict(), article.id), article.id, key),
            )
        self._set_version_times(article.id, key, row)
        return "older", None

    def _set_version_times(self, article_id: str, key: bytes, row: list) -> None:
        self.conn.execute(
            "UPDATE versions SET first_ms = ?, last_ms = ?, last_seq = ? WHERE article = ? AND content = ?",
            (row[0], row[1], row[2], article_id, key),
        )

    def _delta(self, record: dict, article_id: str, base: bytes | None = None) -> bytes:
        """``record`` as a zstd frame whose dictionary is the article's stored record (a delta)."""
        base = base if base is not None else self._current_json(article_id)
        return _delta_compress(_version_json(record), base)

    def _promote(
        self, article: Article, key: bytes, *, file: str | None, digest: str | None, demote: bytes | None = None
    ) -> int:
        """Make ``article`` the article row (version ``key``), re-encoding the older versions' deltas.

        With ``demote``, the version the article row held until now becomes an
        older version (its record kept as a delta).
        """
        base = self._current_json(article.id)
        older = {
            bytes(c): _delta_decompress(blob, base)
            for c, blob in self.conn.execute(
                "SELECT content, record FROM versions WHERE article = ? AND record IS NOT NULL",
                (article.id,),
            )
            if bytes(c) != key
        }
        if demote is not None:
            older[demote] = base
        rowid = self._put(article, file=file, digest=digest)
        new_base = self._current_json(article.id)
        self.conn.execute(
            "UPDATE versions SET record = NULL WHERE article = ? AND content = ?", (article.id, key)
        )
        self.conn.executemany(
            "UPDATE versions SET record = ? WHERE article = ? AND content = ?",
            ((_delta_compress(raw, new_base), article.id, c) for c, raw in older.items()),
        )
        return rowid

    def versions_of(self, article_id: str) -> list[StoredVersion]:
        """Every version of an article, oldest first (see :class:`StoredVersion`).

        Raises :class:`UnknownArticle` when the id is not stored.
        """
        base = self._current_json(article_id) if self.archived_ms(article_id) is not None else None
        if base is None:
            raise UnknownArticle(f"no article with id {article_id}")
        rows = self.conn.execute(
            "SELECT content, first_ms, last_ms, last_seq, record FROM versions WHERE article = ? "
            "ORDER BY last_ms, last_seq, content",
            (article_id,),
        ).fetchall()
        out = []
        for content, first, last, last_seq, blob in rows:
            raw = base if blob is None else _delta_decompress(blob, base)
            out.append(
                StoredVersion(bytes(content).hex(), first, last, last_seq, blob is None, json.loads(raw))
            )
        return out

    def source_keys(self) -> list[str]:
        """The outlet keys of the stored articles."""
        return [r[0] for r in self.conn.execute("SELECT DISTINCT source FROM articles ORDER BY source")]

    def versioned_ids(self) -> list[str]:
        """Ids of the articles that have more than one version."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT article FROM versions GROUP BY article HAVING count(*) > 1 ORDER BY article"
            )
        ]

    def version_firsts(self) -> dict[str, tuple[int, int]]:
        """``id → (number of versions, earliest archive time of any)`` for every article."""
        return {
            aid: (n, first)
            for aid, n, first in self.conn.execute(
                "SELECT article, count(*), min(first_ms) FROM versions GROUP BY article"
            )
        }

    def version_counts(self) -> dict[str, int]:
        """``{"articles": …, "versions": …}``: stored articles and their versions in all."""
        versions = self.conn.execute("SELECT count(*) FROM versions").fetchone()[0]
        return {"articles": self.count(), "versions": int(versions)}

    # ------------------------------------------------------------------ dictionary

    def dictionary_state(self) -> tuple[str, int]:
        """The query dictionary's signature ("" before any) and the sum of its frequencies (jieba's
        ``total``), read together."""
        rows = dict(self.conn.execute("SELECT key, value FROM meta WHERE key IN ('dict_signature', 'dict_total')"))
        return rows.get("dict_signature", ""), int(rows.get("dict_total") or 0)

    def lookup_words(self, words: Iterable[str], *, expect: str | None = None) -> dict[str, int]:
        """The given strings that are words of the query dictionary, with their frequencies.

        With ``expect`` (a signature of :meth:`dictionary_state`), raises
        :class:`~newsarc.errors.ArchiveChanged` when the query dictionary is no
        longer that one: a re-index switched it (:meth:`switch_dictionary`)
        since the caller read the state.  Each statement reads the words and
        the signature in one snapshot.
        """
        sql = ("SELECT word, freq FROM dictionary WHERE word IN ({}) AND freq > 0 "
               "UNION ALL SELECT NULL, coalesce((SELECT value FROM meta WHERE key = 'dict_signature'), '')")
        found = {}
        for word, freq in self._select_in(sql, words):
            if word is not None:
                found[word] = freq
            elif expect is not None and freq != expect:
                raise ArchiveChanged("the query dictionary was switched by a re-index")
        return found

    def load_dictionary(self, base: Path, user_words: dict[str, int], signature: str, *, pending: bool) -> None:
        """Load the prepared ``base`` database plus ``user_words`` as the query dictionary.

        One transaction.  With ``pending`` (a changed dictionary of an archive
        whose index was built with the old one) it is loaded *beside* the
        query dictionary, as ``dictionary_next``, and every article is marked
        for re-indexing: queries keep being cut with the dictionary the index
        was built with until :meth:`switch_dictionary`, once the re-index is
        complete; a crash before that is finished by the next ingest.
        """
        table = "dictionary_next" if pending else "dictionary"
        conn = self.conn
        conn.execute("ATTACH DATABASE ? AS base", (str(base),))
        try:
            with self.transaction():
                conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (word TEXT PRIMARY KEY, freq INTEGER NOT NULL) WITHOUT ROWID")
                conn.execute(f"DELETE FROM {table}")
                conn.execute(f"INSERT INTO {table}(word, freq) SELECT word, freq FROM base.dictionary")
                conn.executemany(
                    f"INSERT OR REPLACE INTO {table}(word, freq) VALUES(?, ?)", sorted(user_words.items())
                )
                total = conn.execute(f"SELECT coalesce(sum(freq), 0) FROM {table}").fetchone()[0]
                if pending:
                    self.set_meta("dict_next", f"{signature} {total}")
                    self.mark_all_unindexed()
                else:
                    self.set_meta("dict_total", str(total))
                    self.set_meta("dict_signature", signature)
        finally:
            conn.execute("DETACH DATABASE base")

    def next_dictionary(self) -> str | None:
        """The signature of a dictionary loaded beside the query dictionary (see
        :meth:`load_dictionary`), waiting for its re-index to complete; None when there is none."""
        value = self.meta("dict_next")
        return value.split()[0] if value else None

    def switch_dictionary(self) -> None:
        """Make the dictionary loaded beside the query dictionary the query dictionary, in one
        transaction (call once every article is indexed with it); nothing when there is none."""
        value = self.meta("dict_next")
        if not value:
            return
        signature, total = value.split()
        with self.transaction():
            self.conn.execute("DROP TABLE dictionary")
            self.conn.execute("ALTER TABLE dictionary_next RENAME TO dictionary")
            self.conn.execute("DELETE FROM meta WHERE key = 'dict_next'")
            self.set_meta("dict_total", total)
            self.set_meta("dict_signature", signature)

    def discard_next_dictionary(self) -> None:
        """Forget a dictionary loaded beside the query dictionary (the change was undone)."""
        with self.transaction():
            self.conn.execute("DROP TABLE IF EXISTS dictionary_next")
            self.conn.execute("DELETE FROM meta WHERE key = 'dict_next'")

    # ------------------------------------------------------------------ stats

    def stats(self) -> dict:
        """Counts per outlet and per year, date range, top authors.

        From the counts :meth:`_put` keeps and the ``published_ts`` index: no
        record is read, whatever the size of the archive.
        """
        conn = self.conn
        sources: dict[str, int] = {}
        names: dict[str, str] = {}
        for source, name, n in conn.execute(
            "SELECT source, name, n FROM source_counts WHERE n > 0 ORDER BY n DESC, source"
        ):
            sources[source] = n
            names[source] = name
        years = {
            str(y): n
            for y, n in conn.execute("SELECT year, n FROM year_counts WHERE n > 0 ORDER BY year")
        }
        first_pub = conn.execute(
            "SELECT published FROM articles ORDER BY published_ts LIMIT 1"
        ).fetchone()
        last_pub = conn.execute(
            "SELECT published FROM articles ORDER BY published_ts DESC LIMIT 1"
        ).fetchone()
        return {
            "articles": sum(sources.values()),
            "sources": sources,
            "source_names": names,
            "years": years,
            "first_published": first_pub[0] if first_pub else None,
            "last_published": last_pub[0] if last_pub else None,
            "authors": self.top_authors(),
        }

    def top_authors(self, limit: int = 10) -> list[list[str | int]]:
        """The ``limit`` most frequent bylines as ``[name, articles]``, most first.

        A name counts once per article (see :meth:`put`).
        """
        rows = self.conn.execute(
            "SELECT name, n FROM author_counts WHERE n > 0 ORDER BY n DESC, name LIMIT ?", (limit,)
        )
        return [[name, n] for name, n in rows]


def _author_names(record: dict) -> set[str]:
    """The distinct bylines of a record, as ``stats`` counts them."""
    return {name for n in record.get("authors") or [] if (name := str(n).strip())}


@contextlib.contextmanager
def dictionary_cache(source: Path, entries: Callable[[], Iterable[tuple[str, int | None]]]) -> Iterator[Path]:
    """A prepared SQLite copy of jieba's dictionary (a context manager yielding its path).

    Loading 350,000 words into a new archive costs seconds when parsed from text,
    a fraction of a second when copied table to table, so the parsed form is kept
    in ``$XDG_CACHE_HOME/newsarc`` (else ``~/.cache/newsarc``, else
    ``$TMPDIR/newsarc-UID`` where those cannot be made), named by the SHA-256
    of the source file, which the copy also records.

    A cache is trusted only in a folder that is the user's own, not a symbolic
    link, and writable by nobody else (a new folder is made ``0700``), only if
    the file is the user's, writable by nobody else, and records the digest of
    the dictionary it is used for: a file another user planted in a shared
    temporary directory is never read.  Without a trustworthy folder the copy
    is built in a private temporary one, used and removed.
    """
    import tempfile  # here: only a first ingest on a machine needs it

    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    name = f"jieba-dict-{digest[:24]}.db"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    candidates = [
        (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "newsarc",
        Path(tempfile.gettempdir()) / f"newsarc-{os.geteuid()}",
    ]
    for folder in candidates:
        if not _private_folder(folder):
            continue
        path = folder / name
        if not _cache_matches(path, digest):
            tmp = folder / f".{name}.{os.getpid()}"
            try:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(tmp)  # left by a killed process that had our PID
                _build_dictionary(tmp, entries, digest)
                os.replace(tmp, path)
            except (OSError, sqlite3.Error):
                with contextlib.suppress(OSError):
                    os.remove(tmp)
                continue
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="newsarc-") as private:  # mode 0700
        path = Path(private) / name
        _build_dictionary(path, entries, digest)
        yield path


def _trusted(st: os.stat_result) -> bool:
    """The user's own, and writable by nobody else."""
    return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _private_folder(folder: Path) -> bool:
    """Make ``folder`` (mode 0700) if it is missing; whether it is a folder fit to hold a cache."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and _trusted(st)


def _cache_matches(path: Path, digest: str) -> bool:
    """Whether ``path`` is a dictionary cache of the user's, built from the source with this digest."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or not _trusted(st):
        return False
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'source_sha256'").fetchone()
            rows = conn.execute("SELECT value FROM meta WHERE key = 'rows'").fetchone()
            count = conn.execute("SELECT count(*) FROM dictionary").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == digest and rows is not None and rows[0] == str(count)


def _build_dictionary(path: Path, entries: Callable[[], Iterable[tuple[str, int | None]]], digest: str) -> None:
    """Write the dictionary table (and the source's digest, and its row count) to a new database."""
    merged: dict[str, int] = {}
    for word, freq in entries():
        merged[word] = freq or 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)  # a new file, ours
    os.close(fd)
    conn = sqlite3.connect(path)
    try:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("CREATE TABLE dictionary (word TEXT PRIMARY KEY, freq INTEGER NOT NULL) WITHOUT ROWID")
        conn.executemany("INSERT INTO dictionary VALUES(?, ?)", sorted(merged.items()))
        conn.executemany("INSERT INTO meta VALUES(?, ?)", [("source_sha256", digest), ("rows", str(len(merged)))])
        conn.commit()
    finally:
        conn.close()


def shown_path(path: str) -> str:
    """A recorded (absolute) file path as messages show it: relative to the current directory
    when the file is inside it, else as recorded; undecodable bytes as ``\\xff``."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        relative = os.pardir
    return printable_path(path if relative.startswith(os.pardir) else relative)


def _path_value(path: str) -> str | bytes:
    """How the ledger keeps a file path: as text, or, when the name is not valid UTF-8
    (its undecodable bytes are lone surrogates in ``path``), as its exact bytes."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


def _path_from(value: str | bytes) -> str:
    """A ledger path as the ``os`` functions take it (the inverse of :func:`_path_value`)."""
    return os.fsdecode(value) if isinstance(value, bytes) else value


def archive_size(data_dir: str | Path) -> int:
    """Bytes on disk of everything in the archive directory."""
    total = 0
    for root, _dirs, files in os.walk(data_dir):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(root, name))
    return total


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as exc:
            # A WAL database in a directory we cannot write (no -shm file can be
            # made) is readable only as immutable: nobody can be writing it there.
            if "readonly" not in str(exc) and "unable to open" not in str(exc):
                raise
            conn.close()
            conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, timeout=30)
    else:
        # WAL mode is set by open_store once the file is known to be an archive.
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


#: Files newsarc may put in an archive directory before the database exists.
_PRE_DB_NAMES = frozenset({"lock", USER_DICT_NAME})


def prepare_archive_dir(data_dir: str | Path) -> Path:
    """Make sure ``data_dir`` can hold an archive: an archive already, or empty (created if missing).

    Raises :class:`ArchiveError` for a path that is not a directory, a
    directory holding something else, or one that cannot be created.  Touches
    nothing that is already there.
    """
    data = Path(data_dir)
    if (data / DB_NAME).exists():
        return data
    if data.exists() and not data.is_dir():
        raise ArchiveError(f"{data} is not a directory")
    try:
        names = [p.name for p in data.iterdir()] if data.exists() else []
    except OSError as exc:
        raise ArchiveError(f"cannot read archive directory {data}: {exc.strerror}") from None
    foreign = [n for n in names if not n.startswith(".") and n not in _PRE_DB_NAMES]
    # (a database there now: another newsarc made the archive between the first look and the listing)
    if foreign and not (data / DB_NAME).is_file():
        raise ArchiveError(
            f"{data} is not a newsarc archive and not empty ({', '.join(sorted(foreign)[:3])}…); "
            "choose another --data directory"
        )
    try:
        data.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchiveError(f"cannot create archive directory {data}: {exc.strerror}") from None
    return data


def _is_archive_database(db: Path) -> bool:
    """Whether ``db`` starts as an SQLite database does (a newsarc archive's, then, if it is
    named so in an archive directory), however damaged the rest."""
    try:
        with open(db, "rb") as fh:
            return fh.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def database_error(data: Path, db: Path, exc: sqlite3.Error) -> ArchiveError:
    """An :class:`ArchiveError` that says what an SQLite error means for the archive."""
    text = str(exc)
    if "malformed" in text or ("not a database" in text and _is_archive_database(db)):
        return DamagedArchive(
            f"damaged archive {data}: {DB_NAME} is damaged ({text}); restore it from a backup, "
            "or ingest the source files again into a new --data directory"
        )
    if "not a database" in text or "no such table" in text:
        return ArchiveError(f"{data} is not a newsarc archive ({DB_NAME} is not an archive database: {text})")
    if "readonly" in text or "read-only" in text:
        return ArchiveError(f"archive {data} is read-only: cannot write to it ({text})")
    if "disk is full" in text or "disk I/O" in text:
        return ArchiveError(f"cannot write to archive {data}: {text}; nothing committed was lost")
    if "locked" in text or "busy" in text:
        return ArchiveError(f"archive {data} is busy: {text}")
    return ArchiveError(f"cannot open archive {db}: {text}")


def open_store(data_dir: str | Path, *, create: bool = False) -> Store:
    """Open the archive's store; with ``create``, make the archive if it does not exist.

    Raises :class:`ArchiveError` for a missing archive (without ``create``), a
    directory that holds something else, a read-only directory (with
    ``create``), or an archive of another format version; an existing archive
    is never modified before its format version has been checked.
    """
    data = Path(data_dir)
    db = data / DB_NAME
    if data.exists() and not data.is_dir():
        raise ArchiveError(f"{data} is not a directory")
    if not db.exists():
        if not create:
            raise NoArchive(f"no archive in {data} (run `newsarc ingest PATH` first)")
        prepare_archive_dir(data)
    elif not db.is_file():
        raise ArchiveError(f"{data} is not a newsarc archive ({DB_NAME} is not a file)")
    conn = None
    try:
        conn = _connect(db, readonly=not create)
        has_meta = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        has_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if has_meta is None and has_tables:
            conn.close()
            raise ArchiveError(f"{data} is not a newsarc archive ({DB_NAME} has no newsarc tables)")
        if has_meta is None and not create:  # an archive being created right now
            conn.close()
            raise NoArchive(f"no archive in {data} (run `newsarc ingest PATH` first)")
        version = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone() if has_meta else None
        if create and (version is None or version[0] == str(FORMAT_VERSION)):
            # (another format version is reported below, before anything is written)
            if not has_tables:  # a new database: fixed before WAL mode, which cannot change it
                conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            # one transaction: a reader sees no tables or every table and the format version
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{SCHEMA}\n"
                f"INSERT OR IGNORE INTO meta(key, value) VALUES('format', '{FORMAT_VERSION}');\nCOMMIT;"
            )
            version = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise database_error(data, db, exc) from None
    if version is None or version[0] != str(FORMAT_VERSION):
        conn.close()
        found = version[0] if version else "none"
        raise ArchiveError(
            f"archive {data} has format version {found}, this newsarc reads version {FORMAT_VERSION}; "
            "re-ingest into a new --data directory"
        )
    return Store(conn, data)
