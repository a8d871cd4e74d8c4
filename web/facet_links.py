"""Facet links of the search pages: a clicked value is in the query once, and each active
facet is a chip whose link takes it out again (the query printed by inbox.query)."""

from __future__ import annotations

from typing import NamedTuple

from inbox import query as ql
from inbox.errors import QueryError
from inbox.model import FACETS, And, FieldTerm, Phrase, QueryNode, Term


class Chip(NamedTuple):
    name: str
    value: str
    without: str  # the query without it


def _parts(text: str) -> list[QueryNode] | None:
    """The query's top-level AND parts (None: it does not parse)."""
    try:
        node = ql.parse(text)
    except QueryError:
        return None
    return list(node.nodes) if isinstance(node, And) else [node] if node is not None else []


def _text(parts: list[QueryNode]) -> str:
    return ql.to_text(None if not parts else parts[0] if len(parts) == 1 else And(tuple(parts)))


def chips(text: str) -> list[Chip]:
    """The facet values the query requires (channel:x ...), each with the query without it."""
    parts = _parts(text) or []
    return [Chip(p.name, p.value, _text([o for o in parts if o != p])) for p in parts
            if isinstance(p, FieldTerm) and p.name in FACETS]


def with_facet(text: str, name: str, value: str) -> str:
    """The query requiring name:value once: another value of the same facet is replaced."""
    addition = ql.to_text(FieldTerm(name, value))
    parts = _parts(text)
    if parts is None:
        return ql.narrow(text, addition)
    kept = [p for p in parts if not (isinstance(p, FieldTerm) and p.name == name)]
    return ql.narrow(_text(kept), addition)


def with_term(text: str, term: str) -> str:
    """The query requiring a trending word or phrase (once)."""
    return ql.narrow(text, ql.to_text(Phrase(term) if " " in term else Term(term)))
