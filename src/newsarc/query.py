"""The query language: a string → a small syntax tree.

Grammar (words are ANDed; ``OR`` binds looser than the implicit AND)::

    query   := or_expr
    or_expr := and_expr ("OR" and_expr)*
    and_expr:= unary+                       (AND between items is optional)
    unary   := ("NOT" | "-") unary | primary
    primary := "(" or_expr ")" | [field ":"] (WORD | "\\"" PHRASE "\\"")
    field   := title | source | author

Full-width forms are accepted (（ ） ： “ ” 「 」), since Chinese input methods
produce them.  Every malformed query raises :class:`~newsarc.errors.QueryError`
with a one-line explanation.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from newsarc.errors import QueryError

FIELDS = ("title", "source", "author")
_QUOTES = {"“": '"', "”": '"', "„": '"', "「": '"', "」": '"', "『": '"', "』": '"', "＂": '"'}
_TOKEN = re.compile(r'\s+|"[^"]*"|"|\(|\)|[^\s"()]+')
_MAX_QUERY_CHARS = 2000
_MAX_DEPTH = 50


@dataclass(frozen=True, slots=True)
class Term:
    """A word (or with ``phrase``, an exact phrase), optionally limited to a field."""

    text: str
    field: str | None = None
    phrase: bool = False


@dataclass(frozen=True, slots=True)
class And:
    """All children match."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Any child matches."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The child does not match."""

    child: Node


Node = Term | And | Or | Not


def normalize_query(text: str) -> str:
    """NFKC plus Chinese quotation marks as ASCII quotes; control characters become spaces."""
    text = "".join(_QUOTES.get(c, c) for c in text)
    text = unicodedata.normalize("NFKC", text)
    return "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") else c for c in text)


def parse_query(text: str) -> Node:
    """Parse a query string (see the module docstring)."""
    if len(text) > _MAX_QUERY_CHARS:
        raise QueryError(f"query is too long ({len(text)} characters; the limit is {_MAX_QUERY_CHARS})")
    norm = normalize_query(text)
    if norm.count('"') % 2:
        raise QueryError('unbalanced quote: a phrase opened with " is never closed')
    tokens = [t for t in _TOKEN.findall(norm) if not t.isspace()]
    if not tokens:
        raise QueryError("empty query: give at least one word")
    parser = _Parser(tokens)
    node = parser.parse_or(0)
    if parser.pos < len(tokens):
        tok = tokens[parser.pos]
        if tok == ")":
            raise QueryError("unbalanced parenthesis: ')' without a matching '('")
        raise QueryError(f"unexpected {tok!r}")
    if not has_positive(node):
        raise QueryError("the query only excludes: add a word that results must contain")
    return node


def has_positive(node: Node) -> bool:
    """Whether a node can match without relying on negation alone."""
    if isinstance(node, Term):
        return True
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(has_positive(c) for c in node.children)
    return all(has_positive(c) for c in node.children)


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse_or(self, depth: int) -> Node:
        if depth > _MAX_DEPTH:
            raise QueryError("query is nested too deeply")
        items = [self.parse_and(depth)]
        while self.peek() == "OR":
            self.pos += 1
            if self.peek() in (None, ")", "OR"):
                raise QueryError("OR needs a word on both sides")
            items.append(self.parse_and(depth))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self, depth: int) -> Node:
        items: list[Node] = []
        while True:
            tok = self.peek()
            if tok is None or tok == ")" or tok == "OR":
                break
            if tok == "AND":
                self.pos += 1
                if not items or self.peek() in (None, ")", "OR", "AND"):
                    raise QueryError("AND needs a word on both sides")
                continue
            items.append(self.parse_unary(depth))
        if not items:
            tok = self.peek()
            if tok == "OR":
                raise QueryError("OR needs a word on both sides")
            if tok == ")":
                raise QueryError("empty parentheses or a ')' without a matching '('")
            raise QueryError("empty query: give at least one word")
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_unary(self, depth: int) -> Node:
        if depth > _MAX_DEPTH:  # a chain of NOT / - is nesting too (---…---word)
            raise QueryError("query is nested too deeply")
        tok = self.peek()
        if tok == "NOT":
            self.pos += 1
            if self.peek() in (None, ")", "OR", "AND"):
                raise QueryError("NOT needs a word after it")
            return Not(self.parse_unary(depth + 1))
        if tok is not None and tok.startswith("-") and len(tok) > 1:
            self.tokens[self.pos] = tok[1:]
            return Not(self.parse_unary(depth + 1))
        if tok == "-":
            nxt = self.tokens[self.pos + 1] if self.pos + 1 < len(self.tokens) else None
            if nxt is None or not (nxt.startswith('"') or nxt == "("):
                raise QueryError("'-' needs a word right after it (-word)")
            self.pos += 1
            return Not(self.parse_unary(depth + 1))
        return self.parse_primary(depth)

    def parse_primary(self, depth: int) -> Node:
        tok = self.peek()
        assert tok is not None
        self.pos += 1
        if tok == "(":
            node = self.parse_or(depth + 1)
            if self.peek() != ")":
                raise QueryError("unbalanced parenthesis: '(' is never closed")
            self.pos += 1
            return node
        if tok.startswith('"'):
            return _phrase(tok[1:-1], None)
        field, sep, rest = tok.partition(":")
        if sep and field.lower() in FIELDS:
            field = field.lower()
            if rest:
                return Term(rest, field)
            nxt = self.peek()
            if nxt is not None and nxt.startswith('"'):
                self.pos += 1
                return _phrase(nxt[1:-1], field)
            raise QueryError(f"{field}: needs a value right after it ({field}:word)")
        return Term(tok)


def _phrase(text: str, field: str | None) -> Term:
    text = " ".join(text.split())
    if not text:
        raise QueryError('empty phrase ""')
    return Term(text, field, phrase=True)
