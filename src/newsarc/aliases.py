"""Aliases: names that mean the same entity in different communities.

Mainland, Taiwan, Hong Kong and overseas outlets name many people, places and
organisations differently (普京/普丁, 朝鲜/北韩, 特朗普/川普, 悉尼/雪梨).
Script folding (:func:`newsarc.analysis.fold`) already makes 蓬佩奧 and 蓬佩奥
the same string; an alias group makes *different* strings match each other.

The curated groups ship in ``newsarc/data/aliases.txt``; an archive may add its
own in ``DATA/aliases.txt``.  Format, for both files::

    # comment
    普京 普丁 蒲亭           # variants separated by whitespace
    北约 | 北大西洋公约组织    # or by |

Variants are folded when loaded, so they may be written in either script.  A
variant listed in two groups joins them into one.  A group whose variants all
fold to the same string is dropped (folding already matches them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from newsarc.analysis import fold

#: The user's alias file inside an archive directory.
USER_ALIASES_NAME = "aliases.txt"
_SEPARATORS = re.compile(r"[\s|]+")


def parse_alias_lines(lines: Iterable[str]) -> Iterator[list[str]]:
    """The groups of an alias file: each a list of folded, distinct variants (two or more).

    The file is folded in one call (OpenCC once, not once per variant: this runs
    at the start of every search).
    """
    stripped = [line.split("#", 1)[0].strip() for line in lines]
    for line in fold("\n".join(stripped)).split("\n"):
        variants = [v for v in _SEPARATORS.split(line) if v]
        unique = list(dict.fromkeys(variants))
        if len(unique) >= 2:
            yield unique


@dataclass
class Aliases:
    """A table of alias groups, looked up by folded variant."""

    groups: list[tuple[str, ...]] = field(default_factory=list)
    _by_variant: dict[str, int] = field(default_factory=dict, repr=False)

    def add(self, variants: Iterable[str]) -> None:
        """Add a group of folded variants, merging it with any group that shares a variant."""
        members = list(dict.fromkeys(variants))
        joined = sorted({self._by_variant[v] for v in members if v in self._by_variant})
        for index in joined:
            members.extend(v for v in self.groups[index] if v not in members)
        if len(members) < 2:
            return
        if joined:
            target = joined[0]
            for index in joined[1:]:
                self.groups[index] = ()
        else:
            target = len(self.groups)
            self.groups.append(())
        self.groups[target] = tuple(members)
        for v in members:
            self._by_variant[v] = target

    def group(self, folded: str) -> tuple[str, ...]:
        """All variants of the group ``folded`` belongs to (itself first), or ``()``."""
        index = self._by_variant.get(folded)
        if index is None:
            return ()
        return (folded, *(v for v in self.groups[index] if v != folded))

    def __len__(self) -> int:
        return sum(1 for g in self.groups if g)

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        return (g for g in self.groups if g)

    def __bool__(self) -> bool:
        return bool(self._by_variant)


def builtin_alias_lines() -> list[str]:
    """The lines of the curated alias file shipped with newsarc."""
    return (Path(__file__).parent / "data" / "aliases.txt").read_text("utf-8").splitlines()


def load_aliases(data_dir: str | Path | None = None, *, builtin: bool = True) -> Aliases:
    """The alias table: the curated groups (with ``builtin``) merged with ``DATA/aliases.txt``."""
    table = Aliases()
    if builtin:
        for variants in parse_alias_lines(builtin_alias_lines()):
            table.add(variants)
    if data_dir is not None:
        path = Path(data_dir) / USER_ALIASES_NAME
        if path.is_file():
            text = path.read_text(encoding="utf-8-sig", errors="replace")
            for variants in parse_alias_lines(text.splitlines()):
                table.add(variants)
    return table
