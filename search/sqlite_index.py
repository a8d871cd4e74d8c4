"""The SQLite store's index: the search AST as SQL over FTS5, reports in SQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from inbox.errors import QueryError
from inbox.model import (
    And,
    Facet,
    FieldTerm,
    Interval,
    Not,
    Or,
    Phrase,
    QueryNode,
    SearchResult,
    Term,
)
from inbox.query import day_start
from search.sqlite_db import Database, fold
from search.sqlite_rows import message_page


def _fts_string(text: str) -> str:
    words = fold(text[:-1] if text.endswith("*") else text)
    quoted = '"' + words.replace('"', '""') + '"'
    return quoted + " *" if text.endswith("*") else quoted


def compile_query(node: QueryNode, public: bool = False) -> tuple[str, list[Any]]:
    """The AST as a SQL condition over messages m joined with conversations c; public:
    words match the public copy of the text (without contacts)."""
    if isinstance(node, Term | Phrase):
        fts = "messages_public" if public else "messages_fts"
        return (f"m.rowid IN (SELECT rowid FROM {fts} WHERE {fts} MATCH ?)",
                [_fts_string(node.text)])
    if isinstance(node, Not):
        sql, params = compile_query(node.node, public)
        return f"NOT ({sql})", params
    if isinstance(node, And | Or):
        parts = [compile_query(n, public) for n in node.nodes]
        joiner = " AND " if isinstance(node, And) else " OR "
        return (joiner.join(f"({s})" for s, _ in parts), [p for _, ps in parts for p in ps])
    if isinstance(node, FieldTerm):
        return _compile_field(node)
    raise TypeError(f"not a query node: {node!r}")


FACET_COLUMNS: dict[Facet, str] = {"channel": "m.channel", "sentiment": "m.sentiment",
                                   "lang": "m.lang"}
BUCKETS: dict[Interval, str] = {"day": "date(m.created_at)",
                                "week": "date(m.created_at, '-6 days', 'weekday 1')",
                                "month": "strftime('%Y-%m-01', m.created_at)"}
TREND_SAMPLE = 2000  # the most recent matches, as Elasticsearch's sampler does


def jlh(fg: float, bg: float) -> float:
    """How much more often a word occurs in the matches than overall (Elasticsearch's JLH)."""
    return (fg - bg) * (fg / bg) if fg > bg > 0 else 0.0


def fill_buckets(counts: list[tuple[str, int]], interval: Interval) -> list[tuple[str, int]]:
    """Empty buckets between the first and the last, as a date histogram has them."""
    if not counts:
        return []
    found = dict(counts)
    day = date.fromisoformat(counts[0][0])
    last = date.fromisoformat(counts[-1][0])
    out = []
    while day <= last:
        out.append((day.isoformat(), found.get(day.isoformat(), 0)))
        if interval == "day":
            day += timedelta(days=1)
        elif interval == "week":
            day += timedelta(days=7)
        else:
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return out


def _compile_field(node: FieldTerm) -> tuple[str, list[Any]]:
    name, value = node.name, node.value
    simple = {"channel": "m.channel", "sentiment": "m.sentiment", "lang": "m.lang",
              "status": "c.status", "direction": "m.direction"}
    if name in simple:  # IS, not =: a negated field must keep rows where it is empty
        return f"{simple[name]} IS ?", [value.lower()]
    if name == "from":
        return ("m.rowid IN (SELECT message_rowid FROM message_keys WHERE key = ?)",
                [value.lower().removeprefix("@")])
    if name == "assignee":
        if value.lower() == "none":
            return "c.assignee IS NULL", []
        return "c.assignee IS ?", [value]
    if name == "tag":
        return "EXISTS (SELECT 1 FROM json_each(c.tags) WHERE value = ?)", [value.lower()]
    if name == "after":
        return "m.created_at >= ?", [day_start(value)]
    if name == "before":
        return "m.created_at < ?", [day_start(value)]
    raise QueryError(f"unknown field '{name}'", 0)


class SqliteIndex:
    """Index part of SqliteStore."""

    _db: Database

    async def search(
        self,
        query: QueryNode | None,
        cursor: str | None,
        limit: int,
        facets: Sequence[Facet] = (),
        public: bool = False,
    ) -> SearchResult:
        where, params = compile_query(query, public) if query is not None else ("1", [])
        page = await self._db.read(message_page(where, params, cursor, limit))
        base = f"FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE ({where})"

        def op(conn: sqlite3.Connection) -> tuple[int, dict[str, tuple[tuple[str, int], ...]]]:
            total = conn.execute(f"SELECT count(*) {base}", params).fetchone()[0]  # noqa: S608
            found: dict[str, tuple[tuple[str, int], ...]] = {}
            for name in facets:
                column = FACET_COLUMNS[name]
                rows = conn.execute(f"SELECT {column}, count(*) {base} AND {column} IS NOT NULL "
                                    f"GROUP BY 1 ORDER BY 2 DESC, 1 ASC", params)
                found[name] = tuple((r[0], r[1]) for r in rows)
            return total, found

        total, found = await self._db.read(op)
        return SearchResult(page.items, page.next_cursor, total, found)

    async def volume(self, query: QueryNode | None, interval: Interval = "day",
                     public: bool = False) -> list[tuple[str, int]]:
        bucket = BUCKETS[interval]
        where, params = compile_query(query, public) if query is not None else ("1", [])
        sql = (f"SELECT {bucket} AS b, count(*) FROM messages m JOIN conversations c "
               f"ON c.id = m.conversation_id WHERE ({where}) GROUP BY b ORDER BY b")

        def op(conn: sqlite3.Connection) -> list[tuple[str, int]]:
            return [(str(r[0]), int(r[1])) for r in conn.execute(sql, params)]

        return fill_buckets(await self._db.read(op), interval)

    async def trending(self, query: QueryNode | None, size: int = 10, public: bool = False
                       ) -> list[tuple[str, float]]:
        where, params = compile_query(query, public) if query is not None else ("1", [])
        sample = (f"SELECT m.rowid FROM messages m JOIN conversations c ON "
                  f"c.id = m.conversation_id WHERE ({where}) "
                  f"ORDER BY m.created_at DESC LIMIT {TREND_SAMPLE}")

        def op(conn: sqlite3.Connection) -> list[tuple[str, float]]:
            fg_n = conn.execute(f"SELECT count(*) FROM ({sample})", params).fetchone()[0]
            bg_n = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
            if not fg_n or not bg_n:
                return []
            rows = conn.execute(
                f"WITH fg AS (SELECT term, count(DISTINCT doc) AS n FROM public_words "
                f"WHERE doc IN ({sample}) GROUP BY term HAVING n >= 3) "
                f"SELECT fg.term, fg.n, v.doc FROM fg JOIN public_vocab v USING (term)",
                params)
            scored = [(term, jlh(n / fg_n, bg / bg_n)) for term, n, bg in rows]
            scored = [(t, score) for t, score in scored if score > 0]
            return sorted(scored, key=lambda p: (-p[1], p[0]))[:size]

        return await self._db.read(op)
