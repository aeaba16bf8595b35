"""Engines: what answers an archive's queries, chosen per archive directory.

newsarc has two seams, one inside the other (compare Whoosh's
``Codec``/``IndexReader`` split, and ripgrep's ``Matcher`` trait that every
regex engine implements for the one searcher):

*Query level* — :class:`Engine`, this module.  What the CLI and any other
front end use: run a parsed query (:mod:`newsarc.query`'s tree, the
engine-neutral input) with :class:`~newsarc.search.SearchOptions` and get a
:class:`~newsarc.search.SearchResult`; timeline counts; ``similar`` and
``keywords``; ``stats``; resolve an id prefix and fetch a record; ingest
files.  An engine that answers whole queries itself (a search cluster)
implements this level.

*Postings level* — :class:`~newsarc.index.IndexReader` and
:class:`~newsarc.index.IndexWriter` in ``index.py``: posting lists,
statistics, columns, character positions; add/delete/commit/merge.  The
embedded engine (:class:`EmbeddedEngine`: SQLite store plus Whoosh segments
in newsarc's codec) evaluates queries and ranks (BM25F) over that level in
``search.py`` and ``explore.py``, which import neither Whoosh nor the codec.

An archive directory names its engine in ``DATA/engine.json``
(``{"engine": "opensearch", ...}``, the rest being the engine's own
settings); without that file it is ``embedded``.  :data:`ENGINES` maps names
to ``module:Class`` paths, imported only when an archive uses them, so the
embedded engine never loads a cluster client and the reverse.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from newsarc.errors import ArchiveError

if TYPE_CHECKING:
    from newsarc.explore import Timeline
    from newsarc.query import Node
    from newsarc.records import Article, Hit, IngestSummary
    from newsarc.search import SearchOptions, SearchResult

#: The file of an archive directory that names its engine.
ENGINE_FILE = "engine.json"
#: Engine names and where their classes live (``module:Class``).
ENGINES: dict[str, str] = {
    "embedded": "newsarc.engine:EmbeddedEngine",
    "opensearch": "newsarc.opensearch:OpenSearchEngine",
}


@runtime_checkable
class Engine(Protocol):
    """What an archive engine answers.  Ids are full article ids unless said otherwise.

    Errors are :class:`~newsarc.errors.NewsarcError` subclasses (a bad query
    :class:`~newsarc.errors.QueryError`, an unknown id
    :class:`~newsarc.errors.UnknownArticle`, an unusable archive or an
    unreachable cluster :class:`~newsarc.errors.ArchiveError`), never
    anything else.
    """

    #: The engine's name in ``engine.json`` / :data:`ENGINES`.
    name: str

    def search(self, query: Node, options: SearchOptions | None = None, *,
               aliases: bool = True) -> SearchResult:
        """One page of hits of a parsed query and the number of matching articles."""
        ...

    def timeline(self, query: Node, by: str = "month", options: SearchOptions | None = None, *,
                 aliases: bool = True) -> Timeline:
        """Matching articles per ``year``/``month``/``day`` of local publication date."""
        ...

    def similar(self, article_id: str, limit: int = 10) -> tuple[str, list[Hit]]:
        """The full id of ``article_id`` (a unique prefix) and the articles most like it."""
        ...

    def keywords(self, article_id: str, limit: int = 20) -> tuple[str, list[tuple[str, float]]]:
        """The full id of ``article_id`` and its characteristic terms (best weight 1.0)."""
        ...

    def stats(self) -> dict[str, Any]:
        """``articles``, ``sources``, ``source_names``, ``years``, ``first_published``,
        ``last_published``, ``authors`` (as :meth:`newsarc.store.Store.stats`)."""
        ...

    def resolve(self, prefix: str) -> str:
        """The full id of the one article whose id starts with ``prefix``."""
        ...

    def get(self, article_id: str) -> Article:
        """The record of an article (no HTML)."""
        ...

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record as its JSON dict, oldest publication first (``export``)."""
        ...

    def ingest(self, paths: Iterable[str | Path], **options: Any) -> IngestSummary:
        """Ingest files and folders (the options of :func:`newsarc.ingest.ingest`)."""
        ...

    def close(self) -> None:
        """Release what the engine holds (files, connections)."""
        ...


class EmbeddedEngine:
    """The engine in the archive directory itself: SQLite store plus a Whoosh index.

    Each call opens what it needs and closes it again (a reader sees the last
    commit), so one instance may outlive ingests by other processes.
    """

    name = "embedded"

    def __init__(self, data_dir: str | Path, settings: dict[str, Any] | None = None) -> None:
        self.data_dir = Path(data_dir)

    def search(self, query: Node, options: SearchOptions | None = None, *,
               aliases: bool = True) -> SearchResult:
        from newsarc.search import run_query

        return run_query(self.data_dir, query, options, aliases=aliases)

    def timeline(self, query: Node, by: str = "month", options: SearchOptions | None = None, *,
                 aliases: bool = True) -> Timeline:
        from newsarc.explore import timeline

        return timeline(self.data_dir, query, by, options, aliases=aliases)

    def similar(self, article_id: str, limit: int = 10) -> tuple[str, list[Hit]]:
        from newsarc.explore import similar

        return similar(self.data_dir, article_id, limit)

    def keywords(self, article_id: str, limit: int = 20) -> tuple[str, list[tuple[str, float]]]:
        from newsarc.explore import keywords

        return keywords(self.data_dir, article_id, limit)

    def stats(self) -> dict[str, Any]:
        return self._with_store(lambda store: store.stats())

    def resolve(self, prefix: str) -> str:
        return self._with_store(lambda store: store.resolve(prefix))

    def get(self, article_id: str) -> Article:
        return self._with_store(lambda store: store.get(article_id))

    def records(self) -> Iterator[dict[str, Any]]:
        from newsarc.store import open_store

        with open_store(self.data_dir) as store:
            yield from store.iter_records()

    def ingest(self, paths: Iterable[str | Path], **options: Any) -> IngestSummary:
        from newsarc.ingest import ingest

        return ingest(paths, self.data_dir, **options)

    def close(self) -> None:
        """Nothing is held between calls."""

    def _with_store(self, func: Callable[[Any], Any]) -> Any:
        from newsarc.store import open_store

        with open_store(self.data_dir) as store:
            return func(store)


def embedded_dir(engine: Engine, feature: str) -> Path:
    """The archive directory of an embedded engine, for a ``feature`` that only it offers
    (``search --facets``, ``timeline --split source``); another engine raises
    :class:`~newsarc.errors.ArchiveError` naming the feature."""
    if isinstance(engine, EmbeddedEngine):
        return engine.data_dir
    raise ArchiveError(f"{feature} needs the embedded engine (this archive uses {engine.name!r})")


def engine_settings(data_dir: str | Path) -> dict[str, Any]:
    """The archive's ``engine.json`` (``{"engine": "embedded"}`` when it has none)."""
    path = Path(data_dir) / ENGINE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"engine": "embedded"}
    except OSError as exc:
        raise ArchiveError(f"cannot read {path}: {exc.strerror}") from None
    try:
        settings = json.loads(text)
    except ValueError as exc:
        raise ArchiveError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(settings, dict) or not isinstance(settings.get("engine"), str):
        raise ArchiveError(f'{path} must be a JSON object with an "engine" name')
    return settings


def open_engine(data_dir: str | Path) -> Engine:
    """The engine of the archive at ``data_dir`` (see :func:`engine_settings`)."""
    settings = engine_settings(data_dir)
    name = settings["engine"]
    where = ENGINES.get(name)
    if where is None:
        raise ArchiveError(
            f"{Path(data_dir) / ENGINE_FILE}: unknown engine {name!r} (known: {', '.join(ENGINES)})"
        )
    module, _, cls = where.partition(":")
    try:
        factory = getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as exc:
        raise ArchiveError(f"engine {name!r} is not available: {exc}") from None
    return factory(data_dir, settings)  # type: ignore[no-any-return]
