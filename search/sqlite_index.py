"""The SQLite store's index: searches and volume at a million messages (trending terms are
inbox.trending's, over two searches).

A search is planned once (`Plan`) and reads what answers it cheapest:
- counts, facets and volume of a query of channel, direction, sentiment, lang, after and
  before alone (or of everything) come from the per-day rollup, exactly;
- otherwise counts stop at TOTAL_CAP ("10,000+"), and facets and volume count every
  match through the narrow facts table when the matches are few or a word lookup bounds
  them (at most EXACT_LIMIT); else they count the SAMPLE newest matches and say so;
- the newest matches (a page, a sample) are read from the highest rowids down, one window
  at a time, until no lower block can hold a newer message (message_blocks).
"""

from __future__ import annotations

import json
import sqlite3
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Hashable, Sequence
from datetime import date, timedelta
from typing import Any

from inbox.model import (
    And,
    Facet,
    FieldTerm,
    Interval,
    Or,
    QueryNode,
    SearchResult,
)
from inbox.query import bucket_of
from inbox.shortcache import ShortCache
from inbox.store import TOTAL_CAP
from search.sqlite_db import Database
from search.sqlite_query import (
    FACTS,
    MESSAGES,
    ROLLUP,
    Source,
    Window,
    bounded_parts,
    compile_query,
    compiles,
    date_bounds,
    date_span,
    fts_match,
    fts_table,
    needs_conversation,
    words_only,
)
from search.sqlite_rows import decode_cursor, encode_cursor, to_message

PROBE = 4  # x the cap: the newest messages a conversation field is counted among first
SAMPLE = 10_000  # facets and volume of a query too costly to count exactly: the newest
# The most matches of a word lookup whose facets (and volume: a VoC page) are counted
# exactly: about 0.8 µs a match at a million messages, within the searches' 100 ms and
# the VoC page's 300 ms on two cores. A sampled volume would hide all but the last days.
EXACT_LIMIT = 100_000
EXACT_VOLUME_LIMIT = 250_000
BLOCK_BITS = 10  # message_blocks: 1024 rowids each (rowid >> 10 where the store writes them)
FIRST_WINDOW = 4096
RECENT_TTL = 2.0  # seconds the counts of one query are reused
FACET_COLUMNS = ("channel", "sentiment", "lang")


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


class Blocks:
    """message_blocks, read once per search: per block of 1024 rowids the newest and the
    oldest created_at of the messages written there. Only blocks that may hold a match
    count: a message no older than `lower` and no newer than `upper` (a later page's
    cursor, before:, after:)."""

    def __init__(self, conn: sqlite3.Connection, lower: str | None, upper: str | None
                 ) -> None:
        self.numbers: list[int] = []
        self.newest: list[str] = []  # of this block and every lower one that may match
        for block, newest, oldest in conn.execute(
                "SELECT block, newest, oldest FROM message_blocks ORDER BY block"):
            if (upper is None or oldest <= upper) and (lower is None or newest >= lower):
                self.numbers.append(block)
                self.newest.append(max(self.newest[-1], newest) if self.newest else newest)

    def newest_below(self, block: int) -> str | None:
        """The newest created_at of the blocks below that may match (None: none)."""
        i = bisect_left(self.numbers, block)
        return self.newest[i - 1] if i else None

    def start(self, hi: int | None = None) -> int:
        """The highest rowid, at most hi, of a block that may match (-1: none left)."""
        i = (len(self.numbers) if hi is None
             else bisect_right(self.numbers, hi >> BLOCK_BITS)) - 1
        if i < 0:
            return -1
        end = ((self.numbers[i] + 1) << BLOCK_BITS) - 1
        return end if hi is None else min(hi, end)


class Plan:
    """One query against one connection: what to read for its count, page and facets."""

    def __init__(self, conn: sqlite3.Connection, node: QueryNode | None, public: bool,
                 cap: int = TOTAL_CAP, sample: int = SAMPLE, window: int = FIRST_WINDOW
                 ) -> None:
        self.conn, self.node, self.public, self.cap = conn, node, public, cap
        self.sample, self.window = sample, window
        self.rollup = compiles(node, ROLLUP)
        self.facts = compiles(node, FACTS)
        self.join = ("JOIN conversations c ON c.id = m.conversation_id"
                     if needs_conversation(node) else "")
        self.total: int | None = None  # count(), once known
        self._bounds: dict[QueryNode, int] = {}

    def _where(self, source: Source, window: Window | None = None) -> tuple[str, list[Any]]:
        return compile_query(self.node, self.public, source, window)

    # -- counting ------------------------------------------------------------------------

    def count(self) -> int:
        """Exact up to cap + 1 (more: capped), exact everywhere for a rollup query or one
        of words alone."""
        if self.total is None:
            if self.rollup:
                where, params = self._where(ROLLUP)
                row = self.conn.execute(
                    f"SELECT sum(n) FROM message_rollup r WHERE {where}", params).fetchone()
                self.total = int(row[0] or 0)
            elif self.node is not None and words_only(self.node):
                self.total = self._bound(self.node)
            elif not self.facts:
                self.total = self._count_messages()
            else:
                matching, params = self._matching_facts()
                self.total = self.conn.execute(
                    f"SELECT count(*) FROM (SELECT 1 {matching} LIMIT ?)",
                    [*params, self.cap + 1]).fetchone()[0]
        return self.total

    def _count_messages(self) -> int:
        """Counted first among the newest messages (PROBE x the cap, in the query's dates):
        a field most conversations have is counted there at once. Only a rarer one is
        left to the planner, which finds it from the conversations' indexes."""
        where, params = self._where(MESSAGES)
        span, span_params = date_span(self.node)
        edge = self.conn.execute(  # the PROBE x cap-th newest message's time
            f"SELECT min(created_at) FROM (SELECT created_at FROM messages INDEXED BY "
            f"messages_recent WHERE {span} ORDER BY created_at DESC, id DESC LIMIT ?)",
            [*span_params, PROBE * self.cap]).fetchone()[0]
        found = self.conn.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM messages m INDEXED BY messages_recent "
            f"LEFT {self.join} WHERE ({where}) AND m.created_at >= ? LIMIT ?)",
            [*params, edge or "", self.cap + 1]).fetchone()[0]
        if found > self.cap:
            return int(found)
        return int(self.conn.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM messages m {self.join} WHERE ({where}) "
            f"LIMIT ?)", [*params, self.cap + 1]).fetchone()[0])

    def _bound(self, node: QueryNode) -> int:
        """At most how many messages match a lookup part (bounded_parts)."""
        if node not in self._bounds:
            self._bounds[node] = self._lookups(node)
        return self._bounds[node]

    def _lookups(self, node: QueryNode) -> int:
        if words_only(node):
            fts, match = fts_table(self.public), fts_match(node)
            if match is None:
                return 0
            return int(self.conn.execute(f"SELECT count(*) FROM {fts} WHERE {fts} MATCH ?",
                                         [match]).fetchone()[0])
        if isinstance(node, FieldTerm):
            return int(self.conn.execute("SELECT count(*) FROM message_keys WHERE key = ?",
                                         [node.value.lower().removeprefix("@")]).fetchone()[0])
        if isinstance(node, Or):
            return sum(self._bound(n) for n in node.nodes)
        assert isinstance(node, And)
        return min(self._bound(n) for n in bounded_parts(node))

    def _least_bound(self) -> int | None:
        """The fewest matches a lookup part allows (None: no lookup part)."""
        parts = bounded_parts(self.node)
        return min(self._bound(p) for p in parts) if parts else None

    def exact(self, limit: int) -> bool:
        """Whether facets and volume count every match at a bounded cost: a rollup query,
        one whose word lookups bound it to `limit` matches, or one of few matches."""
        if self.rollup:
            return True
        least = self._least_bound()
        if self.facts and least is not None and least <= limit:
            return True
        return self.count() <= self.cap

    # -- the newest matches --------------------------------------------------------------

    def newest(self, k: int, cursor: str | None = None) -> list[int]:
        """The rowids of the k newest matches (created_at desc, id desc), after a cursor."""
        if k <= 0 or self.count() == 0:
            return []
        after, after_params = "", []
        if cursor:
            after, after_params = " AND (m.created_at, m.id) < (?, ?)", decode_cursor(cursor, 2)
        if not self.rollup and self.count() <= self.cap:  # few: all of them, sorted
            found = self._ranked(None, after, after_params, k)
        elif self.facts:
            found = self._windows(k, after, after_params)
        else:  # a conversation field: newest first through the date index, both tables
            found = self._in_order(after, after_params, k)
        return [rowid for _, _, rowid in found]

    def _ranked(self, window: Window | None, after: str, after_params: list[Any], k: int
                ) -> list[tuple[str, str, int]]:
        """(created_at, id, rowid) of the k newest matches, within a window of rowids."""
        order = "ORDER BY m.created_at DESC, m.id DESC LIMIT ?"
        within = " AND {}.rowid BETWEEN ? AND ?" if window else ""
        if self.facts:
            where, params = self._where(FACTS, window)
            sql = (f"SELECT m.created_at, m.id, m.rowid FROM messages m WHERE m.rowid IN "
                   f"(SELECT f.rowid FROM message_facts f WHERE ({where})"
                   f"{within.format('f')}){after} {order}")
        else:
            where, params = self._where(MESSAGES, window)
            sql = (f"SELECT m.created_at, m.id, m.rowid FROM messages m {self.join} "
                   f"WHERE ({where}){within.format('m')}{after} {order}")
        args = [*params, *(window or ()), *after_params, k]
        return [(r[0], r[1], r[2]) for r in self.conn.execute(sql, args)]

    def _in_order(self, after: str, after_params: list[Any], k: int
                  ) -> list[tuple[str, str, int]]:
        """The k newest matches of many, reading messages newest first (the date index)
        and each one's conversation: the planner would read every conversation with the
        field's value first (600k open ones) and sort all their messages, or first read
        every conversation into a Bloom filter (which a LEFT JOIN does not do)."""
        where, params = self._where(MESSAGES)
        sql = (f"SELECT m.created_at, m.id, m.rowid FROM messages m INDEXED BY "
               f"messages_recent LEFT {self.join} WHERE ({where}){after} "
               f"ORDER BY m.created_at DESC, m.id DESC LIMIT ?")
        return [(r[0], r[1], r[2]) for r in self.conn.execute(sql, [*params, *after_params, k])]

    def _windows(self, k: int, after: str, after_params: list[Any]
                 ) -> list[tuple[str, str, int]]:
        """From the highest rowids down, windows doubling in size, until the k-th newest
        found is newer than anything a lower block holds."""
        lower, upper = date_bounds(self.node)
        if after_params:
            upper = min(upper or after_params[0], after_params[0])
        blocks = Blocks(self.conn, lower, upper)
        found: list[tuple[str, str, int]] = []
        hi, size = blocks.start(), self._first_window(k)
        while hi >= 0:
            lo = max(hi - size + 1, 0) >> BLOCK_BITS << BLOCK_BITS
            found = sorted([*found, *self._ranked((lo, hi), after, after_params, k)],
                           reverse=True)[:k]
            bound = blocks.newest_below(lo >> BLOCK_BITS)
            if bound is None or (len(found) == k and found[-1][0] > bound):
                break
            hi, size = blocks.start(lo - 1), size * 2
        return found

    def _first_window(self, k: int) -> int:
        """Rowids likely to hold k matches: from how many the lookups allow (a window of
        words reads their index again, so fewer and larger windows cost less)."""
        least = self._least_bound() if self.facts else None
        if not least:
            return self.window
        top = self.conn.execute("SELECT max(rowid) FROM messages").fetchone()[0] or 0
        return max(self.window, 2 * k * top // least)

    # -- facets and volume ---------------------------------------------------------------

    def counts(self, columns: Sequence[str], volume: bool = False
               ) -> tuple[list[tuple[Any, ...]], int]:
        """(values of columns..., count) over the matches, and the sample size (0: all);
        volume: the counts are drawn over time, which a sample would distort most."""
        group = ", ".join(columns) or "'all'"
        if not self.facts and self.count() == 0:  # nothing: no pass over the messages
            return [], 0
        if self.rollup:
            where, params = self._where(ROLLUP)
            # (a row whose messages all changed facet, e.g. a corrected sentiment, is kept at 0)
            sql = (f"SELECT {group}, sum(n) FROM message_rollup r WHERE {where} "
                   f"GROUP BY {group} HAVING sum(n) > 0")
            return self.conn.execute(sql, params).fetchall(), 0
        if self.exact(EXACT_VOLUME_LIMIT if volume else EXACT_LIMIT):
            matching, params = self._matching_facts()
            sql = f"SELECT {group}, count(*) {matching} GROUP BY {group}"
            rows = self.conn.execute(sql, params).fetchall()
            self.total = sum(r[-1] for r in rows)  # every match, counted once
            return rows, 0
        sample = self.newest(self.sample)
        sql = (f"SELECT {group}, count(*) FROM message_facts f WHERE f.rowid IN "
               f"(SELECT value FROM json_each(?)) GROUP BY {group}")
        rows = self.conn.execute(sql, [json.dumps(sample)]).fetchall()
        return rows, (len(sample) if len(sample) == self.sample else 0)  # short: all

    def _matching_facts(self) -> tuple[str, list[Any]]:
        """FROM the facts of every match, and its parameters."""
        if self.facts:
            where, params = self._where(FACTS)
            return f"FROM message_facts f WHERE {where}", params
        where, params = self._where(MESSAGES)
        return (f"FROM message_facts f WHERE f.rowid IN (SELECT m.rowid FROM messages m "
                f"{self.join} WHERE {where})", params)


COUNTED = ("day", *FACET_COLUMNS)  # what a search counts its matches by


_SENTIMENT = COUNTED.index("sentiment")


def _summarize(rows: list[tuple[Any, ...]], facets: Sequence[Facet], volume: Interval | None
               ) -> tuple[dict[str, tuple[tuple[str, int], ...]], tuple[tuple[str, int], ...],
                          tuple[tuple[str, str, int], ...]]:
    """Facet counts (most first), volume buckets and (day, sentiment, n) from (COUNTED
    values..., n) rows."""
    tallies: dict[str, Counter[str]] = {name: Counter() for name in facets}
    buckets: Counter[str] = Counter()
    moods: Counter[tuple[str, str]] = Counter()
    for row in rows:
        n = int(row[-1])
        if volume:
            buckets[bucket_of(row[0], volume)] += n
            moods[(row[0], row[_SENTIMENT] or "")] += n
        for name in facets:
            value = row[COUNTED.index(name)]
            if value:
                tallies[name][value] += n
    found = {name: tuple(sorted(t.items(), key=lambda p: (-p[1], p[0])))
             for name, t in tallies.items()}
    days = fill_buckets(sorted(buckets.items()), volume) if volume else []
    return found, tuple(days), tuple((d, m, n) for (d, m), n in sorted(moods.items()))


class SqliteIndex:
    """Index part of SqliteStore."""

    _db: Database
    # Counts of a query reused for RECENT_TTL seconds, forgotten at this
    # process's next commit; another process's commits show after at most that (as
    # Elasticsearch's request cache after its refresh). Counting every match of a common
    # word costs tens of milliseconds; a dashboard, or many people, asking the same again
    # within seconds costs nothing.
    recent: ShortCache[Hashable, Any]
    total_cap = TOTAL_CAP
    facet_sample = SAMPLE
    search_window = FIRST_WINDOW

    async def search(
        self,
        query: QueryNode | None,
        cursor: str | None,
        limit: int,
        facets: Sequence[Facet] = (),
        public: bool = False,
        volume: Interval | None = None,
    ) -> SearchResult:
        # every search of a query counts the same columns, so that the VoC page, its chart
        # and the search page share the counts; volume: exact for more matches. Facets,
        # volume and moods are counted with the first page only (a cursor counts none).
        if cursor:
            facets, volume = (), None
        counting = bool(facets or volume)
        key = ("counts", query, public, counting, volume is not None, self.total_cap,
               self.facet_sample)

        def op(conn: sqlite3.Connection) -> SearchResult:
            plan = self._plan(conn, query, public)
            generation = self.recent.generation
            kept = self.recent.get(key)
            if kept is None:  # first: counting every match counts the total too
                counted, sampled = (plan.counts(COUNTED, volume is not None) if counting
                                    else ([], 0))
                kept = (counted, sampled, plan.count())
                self.recent.put(key, kept, generation)
            counted, sampled, plan.total = kept
            found, days, moods = _summarize(counted, facets, volume)
            rowids = plan.newest(limit + 1, cursor)
            rows = {r["rowid"]: r for r in conn.execute(
                "SELECT rowid, * FROM messages WHERE rowid IN (SELECT value FROM json_each(?))",
                [json.dumps(rowids[:limit])])}
            messages = tuple(to_message(rows[r]) for r in rowids[:limit])
            last = rows[rowids[limit - 1]] if limit and len(rowids) > limit else None
            total = plan.count()
            return SearchResult(
                messages, encode_cursor([last["created_at"], last["id"]]) if last else None,
                min(total, self.total_cap), found, total_capped=total > self.total_cap,
                volume=days, sampled=sampled, moods=moods)

        return await self._db.read(op)

    def _plan(self, conn: sqlite3.Connection, query: QueryNode | None, public: bool) -> Plan:
        return Plan(conn, query, public, self.total_cap, self.facet_sample, self.search_window)

    async def volume(self, query: QueryNode | None, interval: Interval = "day",
                     public: bool = False) -> list[tuple[str, int]]:
        return list((await self.search(query, None, 0, (), public, interval)).volume)
