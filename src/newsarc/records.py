"""The records passed between newsarc's stages.

An :class:`Article` is what the parser makes of one archive file and what the
store keeps (all but its HTML); a :class:`Hit` is one ranked search result.
These are the only types that cross module boundaries, so every stage can be
tested on its own.
"""

from __future__ import annotations

import os
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
        return out
