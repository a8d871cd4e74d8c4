"""The SQLite store's repository: versioned writes, documents by id, keyset lists."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from inbox.errors import NotFound
from inbox.model import (
    RECENT_FIELDS,
    Conversation,
    ConversationFilter,
    Customer,
    Identity,
    Message,
    Order,
    Page,
    RecentConversation,
    Response,
    Status,
    ts,
)
from inbox.store import Submitted, WriteBatch
from search.sqlite_batch import write_batch
from search.sqlite_db import Database
from search.sqlite_rows import (
    decode_cursor,
    dumps,
    encode_cursor,
    message_page,
    to_conversation,
    to_customer,
    to_identity,
    to_message,
    to_recent,
)

T = TypeVar("T")
_RECENT = ", ".join(f"conversations.{c}" for c in RECENT_FIELDS)
_CARE = "last_message_at >= ?2 AND status NOT IN ('listening', 'merged') "  # care_conversations
# the column of each ascending conversation order; only rows that have it are listed
_ASCENDING: dict[Order, str] = {"due": "due_at", "waiting": "awaiting_since",
                                "wake": "snoozed_until"}
# A first response as the SLA report counts it (search/sqlite_sla.py).
_RESPONSES: dict[Response, str] = {
    "answered": "first_response_seconds IS NOT NULL",
    "met": "first_response_seconds IS NOT NULL AND first_response_breached = 0",
    "missed": "first_response_seconds IS NOT NULL AND first_response_breached = 1",
    "unanswered": "first_response_seconds IS NULL",
    "resolved": "resolved_at IS NOT NULL",
    "next": "next_response_at != '[]'",
    "next_missed": "next_response_missed != '[]'",
    "repeat": "previous_id IS NOT NULL",
    "switched": "switched_channel = 1"}


class BatchWriter(Protocol):
    """Takes batches ahead of their turn (search.sqlite_writer.WriterProcess)."""

    def submit(self, batch: WriteBatch, after: int | None = None) -> Submitted | None: ...


class SqliteRepository:
    """Repository part of SqliteStore."""

    _db: Database
    writer: BatchWriter | None = None

    async def write(self, batch: WriteBatch) -> None:
        await self._db.write(write_batch(batch, checked=True))

    @property
    def chains_writes(self) -> bool:
        return self.writer is not None

    def submit_write(self, batch: WriteBatch, after: int | None) -> Submitted | None:
        return None if self.writer is None else self.writer.submit(batch, after)

    async def messages_by_ids(self, ids: Sequence[str]) -> dict[str, Message]:
        return await self._lookup("SELECT id, * FROM messages WHERE id IN {keys}", ids,
                                  lambda _, row: to_message(row))

    async def identities_by_refs(self, refs: Sequence[tuple[str, str]]
                                 ) -> dict[tuple[str, str], Identity]:
        by_kind: dict[str, list[str]] = {}
        for kind, value in refs:
            by_kind.setdefault(str(kind), []).append(value)
        found: dict[tuple[str, str], Identity] = {}
        for kind, values in by_kind.items():  # a few kinds: one primary key lookup each
            by_value = await self._lookup(
                "SELECT value, * FROM identities WHERE kind = ?1 AND value IN {keys}", values,
                lambda _, row: to_identity(row), (kind,))
            found.update(((kind, value), ident) for value, ident in by_value.items())
        return found

    async def conversation_ids_by_thread_keys(self, keys: Sequence[str]) -> dict[str, str]:
        return await self._lookup(
            "SELECT key, conversation_id FROM thread_keys WHERE key IN {keys}", keys,
            lambda _, row: str(row[1]))

    async def conversations_by_ids(self, ids: Sequence[str]) -> dict[str, Conversation]:
        return await self._lookup("SELECT * FROM conversations WHERE id IN {keys}", ids,
                                  lambda _, row: to_conversation(row))

    async def conversations_by_refs(self, refs: Sequence[int]) -> dict[int, Conversation]:
        found = await self._lookup("SELECT ref, * FROM conversations WHERE ref IN {keys}",
                                   refs, lambda _, row: to_conversation(row))  # type: ignore[arg-type]
        return {int(ref): conv for ref, conv in found.items()}

    async def customers_by_ids(self, ids: Sequence[str]) -> dict[str, Customer]:
        return await self._lookup("SELECT * FROM customers WHERE id IN {keys}", ids, to_customer)

    async def _lookup(self, sql: str, keys: Sequence[str],
                      convert: Callable[[sqlite3.Connection, sqlite3.Row], T],
                      params: tuple[Any, ...] = ()) -> dict[str, T]:
        """Rows whose first column is among the keys, converted, by key: `sql` has the keys
        where it says {keys} (once or more), one JSON array numbered after `params` (?1,
        ?2 ...). One statement text whatever the number of keys: prepared once per
        connection (a list of placeholders made a statement of each length, prepared again
        for nearly every batch: a fifth of a batch's reads). A key SQLite's JSON cannot
        carry (a NUL, a lone surrogate) is not found: normalising keeps both out of keys."""
        if not keys:
            return {}
        keys_sql = f"(SELECT value FROM json_each(?{len(params) + 1}))"

        def op(conn: sqlite3.Connection) -> dict[str, T]:
            rows = conn.execute(sql.replace("{keys}", keys_sql), (*params, dumps(list(keys))))
            return {row[0]: convert(conn, row) for row in rows}

        return self._db.lookup(op)

    async def get_conversation(self, conversation_id: str) -> Conversation:
        found = await self.conversations_by_ids([conversation_id])
        if conversation_id not in found:
            raise NotFound(f"no conversation {conversation_id}")
        return found[conversation_id]

    async def list_conversations(
        self, flt: ConversationFilter, cursor: str | None, limit: int
    ) -> Page[Conversation]:
        where, params = [], []
        # the clocks run on open conversations: sorted by one, walk the order's own index
        # (under 1 ms) rather than sort every open conversation found by status (0.6 s at
        # 670k); "+status" keeps SQLite from choosing the status index
        clocked = flt.status == Status.OPEN and flt.order in ("due", "waiting")
        for column in ("status", "channel", "customer_id", "priority", "sentiment", "lang"):
            if getattr(flt, column):
                where.append(f"{'+' if clocked and column == 'status' else ''}{column} = ?")
                params.append(getattr(flt, column))
        if flt.assignee == "none":
            where.append("assignee IS NULL")
        elif flt.assignee:
            where.append("assignee = ?")
            params.append(flt.assignee)
        if flt.tag:
            where.append("EXISTS (SELECT 1 FROM json_each(conversations.tags) WHERE value = ?)")
            params.append(flt.tag)
        for column, compare, value in (("created_at", ">=", flt.created_since),
                                       ("created_at", "<", flt.created_until),
                                       ("awaiting_since", ">=", flt.awaiting_after),
                                       ("awaiting_since", "<", flt.awaiting_before)):
            if value is not None:
                where.append(f"{column} {compare} ?")
                params.append(ts(value))
        if flt.care:
            where.append("status NOT IN ('listening', 'merged')")
        if flt.response is not None:
            where.append(_RESPONSES[flt.response])
        sort, compare, order = ("last_message_at", "<", "DESC")
        if flt.order == "created":
            sort = "created_at"
        elif flt.order != "recent":
            sort, compare, order = (_ASCENDING[flt.order], ">", "ASC")
            where.append(f"{sort} IS NOT NULL")
        if cursor:
            where.append(f"({sort}, id) {compare} (?, ?)")
            params.extend(decode_cursor(cursor, 2))
        sql = ("SELECT * FROM conversations" + (" WHERE " + " AND ".join(where) if where else "")
               + f" ORDER BY {sort} {order}, id {order} LIMIT ?")

        def op(conn: sqlite3.Connection) -> Page[Conversation]:
            rows = conn.execute(sql, [*params, limit + 1]).fetchall()
            items = tuple(to_conversation(r) for r in rows[:limit])
            more = len(rows) > limit
            return Page(items, encode_cursor([rows[limit - 1][sort],
                                              rows[limit - 1]["id"]]) if more else None)

        return await self._db.read(op)

    async def care_conversations(self, customer_ids: Sequence[str], active_since: datetime,
                                 created_by: datetime) -> list[RecentConversation]:
        # each customer's newest activity among those created by `created_by`, and the
        # conversations active since (one with that very activity too: ties are kept);
        # 40% quicker than a window function numbering them in order
        found = await self._lookup(
            "WITH cut AS (SELECT customer_id, max(last_message_at) AS newest FROM "
            f"conversations WHERE customer_id IN {{keys}} AND created_at <= ?1 AND {_CARE}"
            f"GROUP BY customer_id) SELECT {_RECENT} FROM conversations LEFT JOIN cut "
            f"USING (customer_id) WHERE customer_id IN {{keys}} AND {_CARE}"
            "AND last_message_at >= coalesce(newest, '')",
            customer_ids, lambda _, row: to_recent(row), (ts(created_by), ts(active_since)))
        return list(found.values())

    async def conversation_messages(self, conversation_id: str) -> tuple[Message, ...]:
        def op(conn: sqlite3.Connection) -> tuple[Message, ...]:
            rows = conn.execute("SELECT * FROM messages WHERE conversation_id=? "
                                "ORDER BY created_at, id", (conversation_id,))
            return tuple(to_message(r) for r in rows)

        return await self._db.read(op)

    async def get_customer(self, customer_id: str) -> Customer:
        found = await self.customers_by_ids([customer_id])
        if customer_id not in found:
            raise NotFound(f"no customer {customer_id}")
        return found[customer_id]

    async def customer_messages(
        self, customer_id: str, cursor: str | None, limit: int
    ) -> Page[Message]:
        return await self._db.read(message_page("m.customer_id = ?", [customer_id], cursor,
                                                limit))

    async def customer_history(
        self, customer_id: str, cursor: str | None, limit: int
    ) -> Page[Message]:
        # two index lookups (messages_customer, conversations_customer + messages_conversation)
        return await self._db.read(message_page(
            "m.customer_id = ? OR m.conversation_id IN "
            "(SELECT id FROM conversations WHERE customer_id = ?)",
            [customer_id, customer_id], cursor, limit))

    async def pending_outbound(self, limit: int) -> tuple[Message, ...]:
        def op(conn: sqlite3.Connection) -> tuple[Message, ...]:
            rows = conn.execute("SELECT * FROM messages WHERE delivery IN ('pending', 'failed') "
                                "ORDER BY created_at LIMIT ?", (limit,))
            return tuple(to_message(r) for r in rows)

        return await self._db.read(op)
