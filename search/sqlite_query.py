"""The search language as SQL conditions for the SQLite store, over one of three sources:
the messages (m, joined with their conversation c where a conversation field is queried),
the narrow per-message facts (f: day, channel, direction, sentiment, lang, automated) or the per-day
rollup of the messages' counts (r: the same columns, no words)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from inbox.analysis import query_match
from inbox.errors import QueryError
from inbox.model import AUTOMATED, And, FieldTerm, Not, Or, Phrase, QueryNode, Term
from inbox.query import day_start, fields_used

FACT_FIELDS = frozenset({"channel", "direction", "sentiment", "lang"})
CONVERSATION_FIELDS = frozenset({"status", "assignee", "tag"})


class Unsupported(Exception):
    """The query uses something the source does not hold."""


@dataclass(frozen=True, slots=True)
class Source:
    alias: str
    words: bool  # holds the messages' rowids: words and from: match
    days: bool  # after:/before: compare days, not timestamps


MESSAGES = Source("m", words=True, days=False)
FACTS = Source("f", words=True, days=True)
ROLLUP = Source("r", words=False, days=True)

Window = tuple[int, int]  # rowids lo..hi, both included


def needs_conversation(node: QueryNode | None) -> bool:
    return bool(fields_used(node) & CONVERSATION_FIELDS)


def _quoted(words: tuple[str, ...]) -> str:
    return '"' + " ".join(words) + '"'  # analysed words hold no quote


def fts_string(node: Term | Phrase) -> str | None:
    """A word or phrase in FTS5's syntax, as inbox.analysis matches it (None: no word)."""
    match = query_match(node.text, phrase=isinstance(node, Phrase))
    if match is None:
        return None
    if match.prefix:
        return _quoted(match.alternatives[0]) + " *"
    return " OR ".join(map(_quoted, match.alternatives))


def words_only(node: QueryNode) -> bool:
    """Words and phrases combined by AND and OR alone."""
    if isinstance(node, Term | Phrase):
        return True
    return isinstance(node, And | Or) and all(words_only(n) for n in node.nodes)


def fts_match(node: QueryNode) -> str | None:
    """A words_only node in FTS5's query syntax; None when it can match nothing."""
    if isinstance(node, Term | Phrase):
        return fts_string(node)
    assert isinstance(node, And | Or)
    parts = [fts_match(n) for n in node.nodes]
    if isinstance(node, And):
        return None if None in parts else " AND ".join(f"({p})" for p in parts)
    found = [f"({p})" for p in parts if p is not None]
    return " OR ".join(found) if found else None


def fts_table(public: bool) -> str:
    return "messages_public" if public else "messages_fts"


def compile_query(node: QueryNode | None, public: bool = False, source: Source = MESSAGES,
                  window: Window | None = None) -> tuple[str, list[Any]]:
    """The condition and its parameters; public: words match the public copy of the text
    (without contacts); window: the word lookups read only those rowids. Unsupported when
    the source does not hold a field of the query."""
    if node is None:
        return "1", []
    if words_only(node):  # one lookup of the word index, which ANDs and ORs them itself
        if not source.words:
            raise Unsupported("words")
        fts, match = fts_table(public), fts_match(node)
        if match is None:
            return "0", []
        within = " AND rowid BETWEEN ? AND ?" if window else ""
        return (f"{source.alias}.rowid IN (SELECT rowid FROM {fts} WHERE {fts} MATCH ?{within})",
                [match, *(window or ())])
    if isinstance(node, Not):
        sql, params = compile_query(node.node, public, source, window)
        return f"NOT ({sql})", params
    if isinstance(node, And | Or):
        parts = [compile_query(n, public, source, window) for n in node.nodes]
        joiner = " AND " if isinstance(node, And) else " OR "
        return (joiner.join(f"({s})" for s, _ in parts), [p for _, ps in parts for p in ps])
    if isinstance(node, FieldTerm):
        return _compile_field(node, source)
    raise TypeError(f"not a query node: {node!r}")


def _compile_field(node: FieldTerm, source: Source) -> tuple[str, list[Any]]:
    name, value, a = node.name, node.value, source.alias
    if name == AUTOMATED:  # not in the language: the voice of the customer's own scope
        return f"{a}.automated IS ?", [int(value == "true")]
    if name in FACT_FIELDS:  # IS, not =: a negated field must keep rows where it is empty
        return f"{a}.{name} IS ?", [value.lower()]
    if name in ("after", "before"):
        op = ">=" if name == "after" else "<"
        if source.days:
            day_start(value)  # the same error for a wrong date
            return f"{a}.day {op} ?", [datetime.strptime(value, "%Y-%m-%d").date().isoformat()]
        return f"{a}.created_at {op} ?", [day_start(value)]
    if name == "from":
        if not source.words:
            raise Unsupported(name)
        return (f"{a}.rowid IN (SELECT message_rowid FROM message_keys WHERE key = ?)",
                [value.lower().removeprefix("@")])
    if name not in CONVERSATION_FIELDS:
        raise QueryError(f"unknown field '{name}'", 0)
    if source is not MESSAGES:
        raise Unsupported(name)
    if name == "status":
        return "c.status IS ?", [value.lower()]
    if name == "assignee":
        if value.lower() == "none":
            return "c.assignee IS NULL", []
        return "c.assignee IS ?", [value]
    return "EXISTS (SELECT 1 FROM json_each(c.tags) WHERE value = ?)", [value.lower()]


def date_bounds(node: QueryNode | None) -> tuple[str | None, str | None]:
    """The oldest and newest created_at (as store timestamps) every match may have, from
    the after: and before: the query requires (the newest is a bound, not included)."""
    parts = node.nodes if isinstance(node, And) else (node,) if node is not None else ()
    afters = [day_start(p.value) for p in parts
              if isinstance(p, FieldTerm) and p.name == "after"]
    befores = [day_start(p.value) for p in parts
               if isinstance(p, FieldTerm) and p.name == "before"]
    return max(afters, default=None), min(befores, default=None)


def date_span(node: QueryNode | None) -> tuple[str, list[str]]:
    """date_bounds as a condition on created_at (unqualified)."""
    lower, upper = date_bounds(node)
    parts = [("created_at >= ?", lower), ("created_at < ?", upper)]
    return (" AND ".join(sql for sql, v in parts if v is not None) or "1",
            [v for _, v in parts if v is not None])


def compiles(node: QueryNode | None, source: Source) -> bool:
    try:
        compile_query(node, False, source)
    except Unsupported:
        return False
    return True


def bounded_parts(node: QueryNode | None) -> list[QueryNode]:
    """The parts every match must match that are word lookups or from: (an upper bound on
    the matches is cheap to count from them): the query itself, or its AND's parts."""
    parts = node.nodes if isinstance(node, And) else (node,) if node is not None else ()
    return [p for p in parts if _is_lookup(p)]


def _is_lookup(node: QueryNode) -> bool:
    if isinstance(node, Term | Phrase):
        return True
    if isinstance(node, FieldTerm):
        return node.name == "from"
    if isinstance(node, Or):
        return all(_is_lookup(n) for n in node.nodes)
    if isinstance(node, And):
        return any(_is_lookup(n) for n in node.nodes)
    return False
