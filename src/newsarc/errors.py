"""newsarc's exceptions.  The library raises only these; the CLI turns them into one-line messages."""

from __future__ import annotations


class NewsarcError(Exception):
    """Base class of every error newsarc reports to a user."""


class RejectedFile(NewsarcError):
    """An input file is not a usable archive file; ``reason`` says why in a few words."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ArchiveError(NewsarcError):
    """The archive directory is missing, unreadable, foreign, or of another format version."""


class NoArchive(ArchiveError):
    """The directory holds no archive (yet): nothing has been ingested into it."""


class DamagedArchive(ArchiveError):
    """A file of the archive is not what newsarc wrote (truncated, overwritten, corrupted)."""


class ArchiveChanged(Exception):
    """The archive changed under an open searcher in a way it cannot follow (its query dictionary
    was switched).  Not a user's error: the search starts again on a newly opened searcher
    (:func:`newsarc.search.searching`), and only a search that keeps meeting it is reported."""


class ArchiveLocked(ArchiveError):
    """Another process is writing to the archive."""


class QueryError(NewsarcError):
    """A search query is malformed; the message says where and why."""


class UnknownSource(QueryError):
    """A ``--source`` value names no outlet of the archive; ``outlets`` maps its keys to names."""

    def __init__(self, value: str, outlets: dict[str, str]) -> None:
        listing = ", ".join(key if name == key else f"{key} ({name})" for key, name in sorted(outlets.items()))
        super().__init__(f"unknown outlet {value!r}; the archive has: {listing or 'no articles'}")
        self.value = value
        self.outlets = outlets


class UnknownArticle(NewsarcError):
    """No article has the given id or id prefix."""


class AmbiguousArticle(NewsarcError):
    """An id prefix matches more than one article; ``candidates`` lists them."""

    def __init__(self, prefix: str, candidates: list[str]) -> None:
        super().__init__(f"id prefix {prefix!r} is ambiguous: {len(candidates)} articles match")
        self.prefix = prefix
        self.candidates = candidates


class WorkerDied(NewsarcError):
    """A worker process ended before it finished its work (killed, e.g. by the out-of-memory
    killer): the work stops, keeping what it committed."""
