"""The records passed between newsarc's stages.

An :class:`Article` is what the parser makes of one archive file and what the
store keeps (all but its HTML); a :class:`Hit` is one ranked search result.
These are the only types that cross module boundaries, so every stage can be
tested on its own.
"""

from __future__ import annotations

import os
import stat
from dataclasses import asdict, dataclass, field
from typing import Any

#: The fields of an article's JSON form, in output order (part of the interface).
ARTICLE_FIELDS = (
    "id",
    "url",
    "title",
    "source",
    "source_name",
    "published",
    "archived",
    "authors",
    "text",
    "captions",
    "images",
    "tags",
    "path",
)


def printable_path(path: str) -> str:
    """A file path as records and messages show it: a name that is not valid UTF-8 (a GBK or
    Big5 name unpacked on Linux: ``os`` gives its bytes as lone surrogates) shows each
    undecodable byte as ``\\xff``.  The archive's ledger keeps the exact bytes."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
    return path


@dataclass(slots=True)
class Article:
    """One archived news article, normalized.

    ``published`` and ``archived`` are ISO 8601 strings with an offset
    (``archived`` always UTC).  ``text`` holds the clean paragraphs, one per
    line.  ``html`` is the original article body as the parser found it; it is
    not part of the JSON record and the store does not keep it (``show --html``
    parses the source file again), so an article read from the store has ``""``.
    """

    id: str
    url: str
    title: str
    source: str
    source_name: str
    published: str
    archived: str
    archived_ms: int
    path: str
    authors: list[str] = field(default_factory=list)
    text: str = ""
    captions: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    html: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The article as its documented JSON object (without the HTML body)."""
        data = asdict(self)
        return {name: data[name] for name in ARTICLE_FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, html: str = "", archived_ms: int | None = None) -> Article:
        """Rebuild an article from :meth:`to_dict` output."""
        kwargs = {name: data[name] for name in ARTICLE_FIELDS if name in data}
        if archived_ms is None:
            archived_ms = int(data.get("archived_ms", 0))
        return cls(**kwargs, archived_ms=archived_ms, html=html)


@dataclass(slots=True)
class Hit:
    """One search result: the article's summary fields, score and snippet.

    ``snippet`` is plain text; ``highlights`` are ``(start, end)`` character
    spans inside it that matched the query, for renderers that mark them.
    ``aliases`` names query terms that matched through an alias (e.g. 普丁 for 普京).
    With ``search --all-versions``, ``versions`` lists the numbers of the
    article's versions that match (1 = the oldest) and ``version_count`` how
    many it has; the title and snippet are those of the newest matching one.
    """

    id: str
    title: str
    source: str
    source_name: str
    published: str
    url: str
    score: float
    snippet: str = ""
    highlights: list[tuple[int, int]] = field(default_factory=list)
    title_highlights: list[tuple[int, int]] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    version_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The hit as its documented JSON Lines object."""
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "published": self.published,
            "url": self.url,
            "score": round(self.score, 4),
            "snippet": self.snippet,
        }
        if self.aliases:
            out["aliases"] = list(self.aliases)
        if self.version_count:
            out["versions"] = list(self.versions)
            out["version_count"] = self.version_count
        return out


@dataclass(slots=True)
class EditOp:
    """One step of the edit script between two versions of one field of an article.

    ``field`` is ``title``, ``text``, ``captions`` or ``authors``; ``op`` is
    ``equal``, ``delete`` or ``insert``.  A field's steps in order, equal and
    delete texts concatenated, spell its old value; equal and insert, its new.
    """

    field: str
    op: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        """The step as its documented JSON Lines object."""
        return {"field": self.field, "op": self.op, "text": self.text}


@dataclass(slots=True)
class Version:
    """One distinct version of an article, as ``newsarc history`` lists it.

    ``number`` counts from 1 (the oldest); ``archived`` is the archive time
    (ISO 8601 UTC) the version was first seen at, ``last_archived`` the last;
    ``summary`` and ``magnitude`` say what changed from the previous version
    (``first version``, 0 for number 1); ``record`` is the version's JSON
    record (not part of :meth:`to_dict`).
    """

    id: str
    number: int
    archived: str
    last_archived: str
    title: str
    text_length: int
    content: str
    current: bool
    summary: str
    magnitude: float
    record: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The version as its documented JSON Lines object."""
        return {
            "id": self.id,
            "version": self.number,
            "archived": self.archived,
            "last_archived": self.last_archived,
            "title": self.title,
            "text_length": self.text_length,
            "content": self.content,
            "current": self.current,
            "summary": self.summary,
            "magnitude": self.magnitude,
        }


@dataclass(slots=True)
class Change:
    """An article whose headline or text changed between two of its versions (``newsarc changes``)."""

    id: str
    source: str
    source_name: str
    url: str
    title: str
    old_title: str
    archived: str
    from_version: int
    to_version: int
    versions: int
    headline_changed: bool
    summary: str
    magnitude: float

    def to_dict(self) -> dict[str, Any]:
        """The change as its documented JSON Lines object."""
        return {
            "id": self.id,
            "source": self.source,
            "url": self.url,
            "title": self.title,
            "old_title": self.old_title,
            "archived": self.archived,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "versions": self.versions,
            "headline_changed": self.headline_changed,
            "summary": self.summary,
            "magnitude": self.magnitude,
        }


#: The fields of a concordance line's CSV and JSON forms, in output order (part of the interface).
KWIC_FIELDS = ("id", "published", "source", "title", "left", "match", "right", "url")


@dataclass(slots=True)
class KwicLine:
    """One occurrence of a query word in an article's text, with its context (``newsarc kwic``).

    ``match`` is the original text of the occurrence (as written, in its own
    script); ``left`` and ``right`` are up to the requested number of characters
    before and after it.  ``paragraph`` and ``offset`` say where it is: the
    paragraph's number (text paragraphs first, then captions, from 0) and the
    character offset of ``match`` in it.
    """

    id: str
    published: str
    source: str
    source_name: str
    title: str
    url: str
    left: str
    match: str
    right: str
    paragraph: int = 0
    offset: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The line as its documented CSV/JSON object (:data:`KWIC_FIELDS`)."""
        return {name: getattr(self, name) for name in KWIC_FIELDS}


@dataclass(slots=True)
class Facets:
    """Hit counts of a whole result set per outlet and per year of publication.

    ``sources`` holds ``(key, name, count)``, most hits first; ``years`` holds
    ``(year, count)`` in order (the outlet's local publication year).  Both sum
    to ``total``.
    """

    total: int
    sources: list[tuple[str, str, int]] = field(default_factory=list)
    years: list[tuple[str, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """``{"total": …, "source": {key: count}, "year": {year: count}}`` (``search --facets --json``)."""
        return {
            "total": self.total,
            "source": {key: count for key, _name, count in self.sources},
            "year": dict(self.years),
        }


@dataclass(slots=True)
class ArticleMarks:
    """Where a query matches in an article: spans in its title, in each line of its text, in each caption."""

    title: list[tuple[int, int]] = field(default_factory=list)
    text: list[list[tuple[int, int]]] = field(default_factory=list)
    captions: list[list[tuple[int, int]]] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many matches there are in all."""
        return len(self.title) + sum(map(len, self.text)) + sum(map(len, self.captions))

    def to_dict(self) -> dict[str, Any]:
        """``{"title": [[start, end] …], "text": [[[start, end] …] per line], "captions": […]}``."""
        return {
            "title": [list(span) for span in self.title],
            "text": [[list(span) for span in line] for line in self.text],
            "captions": [[list(span) for span in caption] for caption in self.captions],
        }


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, for messages (``a named pipe (FIFO)``)."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


@dataclass
class IngestSummary:
    """What an ingest did.  ``rejected`` lists ``(path, reason)``."""

    files: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    older: int = 0
    versions: int = 0
    commits: int = 0
    reindexed: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        """The summary as plain data (for JSON and the renderer)."""
        return {
            "files": self.files,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "older": self.older,
            "versions": self.versions,
            "commits": self.commits,
            "reindexed": self.reindexed,
            "rejected": len(self.rejected),
            "seconds": round(self.seconds, 3),
        }
