"""An article's versions as the archive keeps them: ``history``, ``diff`` and ``changes``.

The store keeps every distinct version of a URL (see
:meth:`newsarc.store.Store.add_sighting`); this module numbers them (1 = the
oldest), describes what changed from one to the next with
:func:`newsarc.versions.compare`, and finds the articles that changed most.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from newsarc.errors import NewsarcError, QueryError
from newsarc.records import Change, Version
from newsarc.search import outlet_keys, parse_date_bound
from newsarc.store import Store, StoredVersion, open_store
from newsarc.versions import Comparison, compare

__all__ = ["changes", "changes_in", "diff", "history", "version_records", "versions_in"]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def _day(ms: int) -> int:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.year * 10000 + moment.month * 100 + moment.day


def _versions(article_id: str, stored: list[StoredVersion]) -> list[Version]:
    out: list[Version] = []
    previous: StoredVersion | None = None
    for number, version in enumerate(stored, 1):
        record = version.record
        if previous is None:
            summary, magnitude = "first version", 0.0
        else:
            comparison = compare(previous.record, record)
            summary, magnitude = comparison.summary(), comparison.magnitude
        out.append(
            Version(
                id=article_id,
                number=number,
                archived=_iso(version.first_ms),
                last_archived=_iso(version.last_ms),
                title=record.get("title", ""),
                text_length=len(record.get("text", "")),
                content=version.content,
                current=version.current,
                summary=summary,
                magnitude=magnitude,
                record=record,
            )
        )
        previous = version
    return out


def versions_in(store: Store, article_id: str) -> list[Version]:
    """Every version of the article with exactly this id, oldest first."""
    return _versions(article_id, store.versions_of(article_id))


def history(data_dir: str | Path, article_id: str) -> tuple[str, list[Version]]:
    """``(full id, versions)`` of the article with this id or unique id prefix."""
    with open_store(data_dir) as store:
        full = store.resolve(article_id)
        return full, versions_in(store, full)


def _pick(versions: list[Version], number: int | None, default: int, what: str) -> Version:
    if number is None:
        return versions[default]
    if not 1 <= number <= len(versions):
        raise QueryError(
            f"{what} {number}: article {versions[0].id} has versions 1 to {len(versions)}"
        )
    return versions[number - 1]


def diff(
    data_dir: str | Path, article_id: str, *, old: int | None = None, new: int | None = None
) -> tuple[Version, Version, Comparison]:
    """The two versions to compare (default: the two newest) and what changed between them.

    Raises :class:`NewsarcError` when the article has a single version and
    :class:`QueryError` for a version number it does not have.
    """
    _full, versions = history(data_dir, article_id)
    if len(versions) < 2 and old is None and new is None:
        raise NewsarcError(f"article {versions[0].id} has only one version: nothing to compare")
    before = _pick(versions, old, -2, "--from")
    after = _pick(versions, new, -1, "--to")
    return before, after, compare(before.record, after.record)


def _outlets(store: Store) -> dict[str, str]:
    """The archive's outlets: key → name (the outlet table's, else the key)."""
    from newsarc.sources import OUTLET_NAMES

    return {key: OUTLET_NAMES.get(key, key) for key in store.source_keys()}


def changes_in(
    store: Store,
    *,
    since: str | None = None,
    until: str | None = None,
    sources: Iterable[str] = (),
    headlines: bool = False,
) -> list[Change]:
    """The articles that changed between versions, biggest change first.

    A change counts when its later version was first archived between
    ``since`` and ``until`` (UTC dates, ``YYYY[-MM[-DD]]``); for each article
    the first version before the earliest such change is compared with the
    last version of the latest one.  ``headlines`` keeps only the articles
    whose headline changed; ``sources`` limits the outlets (keys or names,
    see :func:`newsarc.search.outlet_keys`).
    """
    start = parse_date_bound(since, end=False) if since else 0
    end = parse_date_bound(until, end=True) if until else 99_999_999
    if start > end:
        raise QueryError(f"--since {since} is after --until {until}")
    wanted = set(outlet_keys(_outlets(store), sources)) if sources else set()
    out: list[Change] = []
    for article_id in store.versioned_ids():
        change = _change(article_id, store.versions_of(article_id), start, end, wanted, headlines)
        if change is not None:
            out.append(change)
    out.sort(key=lambda c: (-c.magnitude, c.archived, c.id))
    return out


def _change(
    article_id: str, stored: list[StoredVersion], start: int, end: int, wanted: set[str], headlines: bool
) -> Change | None:
    current = stored[-1].record
    if wanted and current.get("source", "") not in wanted:
        return None
    steps = [i for i in range(1, len(stored)) if start <= _day(stored[i].first_ms) <= end]
    if not steps:
        return None
    first, last = steps[0] - 1, steps[-1]
    before, after = stored[first].record, stored[last].record
    comparison = compare(before, after)
    if not comparison.changed or (headlines and not comparison.headline_changed):
        return None
    return Change(
        id=article_id,
        source=after.get("source", ""),
        source_name=after.get("source_name", ""),
        url=after.get("url", ""),
        title=after.get("title", ""),
        old_title=before.get("title", ""),
        archived=_iso(stored[last].first_ms),
        from_version=first + 1,
        to_version=last + 1,
        versions=len(stored),
        headline_changed=comparison.headline_changed,
        summary=comparison.summary(),
        magnitude=comparison.magnitude,
    )


def changes(data_dir: str | Path, **options: object) -> list[Change]:
    """:func:`changes_in` on the archive at ``data_dir``."""
    with open_store(data_dir) as store:
        return changes_in(store, **options)  # type: ignore[arg-type]


def version_records(data_dir: str | Path, records: Iterable[dict]) -> Iterator[dict]:
    """Every version of each of ``records`` (``export --versions``), streamed.

    Each record gains ``version`` (1 = the oldest), ``versions`` (how many the
    article has), ``current`` (the version search and show see) and
    ``first_archived`` (when that version was first seen); an article's
    versions come oldest first, in the order of ``records``.
    """
    with open_store(data_dir) as store:
        firsts = store.version_firsts()
        for record in records:
            count, first_ms = firsts.get(record["id"], (1, None))
            if count == 1:
                archived = _iso(first_ms) if first_ms is not None else record["archived"]
                yield {**record, "version": 1, "versions": 1, "current": True, "first_archived": archived}
                continue
            stored = store.versions_of(record["id"])
            for number, version in enumerate(stored, 1):
                yield {
                    **version.record,
                    "version": number,
                    "versions": len(stored),
                    "current": version.current,
                    "first_archived": _iso(version.first_ms),
                }
