"""The SQLite store's repository: versioned writes, documents by id, keyset lists."""

from __future__ import annotations

import functools
import sqlite3
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, TypeVar

from inbox.analysis import message_terms
from inbox.errors import ConflictError, NotFound, StoreRefused
from inbox.model import (
    Conversation,
    ConversationFilter,
    Customer,
    Identity,
    Message,
    Order,
    Page,
    Response,
    Status,
    evolve,
    ts,
)
from inbox.privacy import public_copy
from inbox.store import REF_START, Submitted, WriteBatch
from search.sqlite_collections import encoded, put_doc
from search.sqlite_db import Database
from search.sqlite_rows import (
    CONVERSATION_COLUMNS,
    MESSAGE_COLUMNS,
    decode_cursor,
    encode_cursor,
    message_page,
    placeholders,
    row_values,
    to_conversation,
    to_customer,
    to_identity,
    to_message,
)

T = TypeVar("T")
LOG_KEEP = 100_000  # the newest writes kept in sla_log
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


class _Refs:
    """Human references for the conversations of one write, in the writer's transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.last: int | None = None

    def given(self, conv: Conversation, checked: bool) -> Conversation:
        """The conversation with its stored reference, or (new) the next free one. A checked
        first version is new (its insert fails if the id is taken): nothing to look up."""
        if conv.ref is not None:
            return conv
        if conv.version != 1 or not checked:
            row = self.conn.execute("SELECT ref FROM conversations WHERE id = ?",
                                    (conv.id,)).fetchone()
            if row is not None and row[0] is not None:
                return evolve(conv, ref=row[0])
        if self.last is None:
            self.last = self.conn.execute("SELECT max(ref) FROM conversations").fetchone()[0]
        self.last = max(self.last or 0, REF_START - 1) + 1
        return evolve(conv, ref=self.last)


@functools.cache
def _versioned_sql(table: str, columns: tuple[str, ...]) -> tuple[str, str]:
    """The INSERT of a first version and the UPDATE of a later one."""
    sets = ",".join(f"{c}=?" for c in columns[1:])
    return (f"INSERT INTO {table} ({','.join(columns)}) VALUES ({placeholders(len(columns))})",
            f"UPDATE {table} SET {sets} WHERE id=? AND version=?")


def _versioned(conn: sqlite3.Connection, table: str, columns: tuple[str, ...], obj: Any) -> None:
    values = row_values(obj, columns)
    insert, update = _versioned_sql(table, columns)
    if obj.version == 1:
        conn.execute(insert, values)
        return
    cur = conn.execute(update, [*values[1:], obj.id, obj.version - 1])
    if cur.rowcount != 1:
        raise ConflictError(f"{table[:-1]} {obj.id} was changed by someone else; reload it")


def _upsert(conn: sqlite3.Connection, table: str, columns: Sequence[str], obj: Any,
            extra: Mapping[str, Any] | None = None) -> None:
    """Insert or replace a row from the object's `columns`, plus `extra` column values."""
    extra = extra or {}
    names = [*columns, *extra]
    sets = ",".join(f"{c}=excluded.{c}" for c in names[1:])
    conn.execute(f"INSERT INTO {table} ({','.join(names)}) "
                 f"VALUES ({placeholders(len(names))}) ON CONFLICT(id) DO UPDATE SET {sets}",
                 [*row_values(obj, columns), *extra.values()])


def _differing_public_copy(text: str | None) -> str | None:
    """The public copy where it differs from the text (the row keeps NULL otherwise)."""
    public = public_copy(text)
    return None if public == text else public


_MESSAGE_NAMES = (*MESSAGE_COLUMNS, "public_text", "public_subject")
_INSERT_MESSAGE = (f"INSERT INTO messages ({','.join(_MESSAGE_NAMES)}) "
                   f"VALUES ({placeholders(len(_MESSAGE_NAMES))}) ON CONFLICT(id) DO NOTHING")
_UPDATE_MESSAGE = (f"UPDATE messages SET {','.join(f'{c}=?' for c in _MESSAGE_NAMES[1:])} "
                   "WHERE id=? RETURNING rowid")
_TEXT, _SUBJECT, _CREATED, _CHANNEL, _DIRECTION, _SENTIMENT, _LANG, _AUTOMATED, \
    _PUBLIC_TEXT, _PUBLIC_SUBJECT = (_MESSAGE_NAMES.index(c) for c in (
        "text", "subject", "created_at", "channel", "direction", "sentiment", "lang",
        "automated", "public_text", "public_subject"))
_ROLLUP = ("INSERT INTO message_rollup VALUES (?, ?, ?, ?, ?, ?, ?) "
           "ON CONFLICT DO UPDATE SET n = n + excluded.n")
_HOURS = ("INSERT INTO message_hours VALUES (?, ?) "
          "ON CONFLICT DO UPDATE SET n = n + excluded.n")
_BLOCKS = ("INSERT INTO message_blocks VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET "
           "newest = max(newest, excluded.newest), oldest = min(oldest, excluded.oldest)")


class _NewMessages:
    """What a batch's new messages add besides their rows, written at the end of the batch,
    a statement per table (schema 5: no insert triggers): the two FTS5 indexes, and the
    facts, day rollup and rowid blocks searches count from (search/sqlite_index.py). A
    trigger's statement made FTS5 write a segment of its own per message: 70% of a
    message write; the facts trigger cost 40% of what remained."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.full: list[tuple[int, str, str, str]] = []
        self.public: list[tuple[int, str, str, str]] = []
        self.facts: list[tuple[Any, ...]] = []
        self.rollup: Counter[tuple[Any, ...]] = Counter()
        self.blocks: dict[int, tuple[str, str]] = {}
        self.hours: Counter[str] = Counter()  # the customers' own messages per UTC hour

    def add(self, rowid: int, row: Sequence[Any]) -> None:
        channel, direction, sentiment, lang = (row[_CHANNEL], row[_DIRECTION], row[_SENTIMENT],
                                               row[_LANG])
        text, subject = row[_TEXT], row[_SUBJECT]
        self.full.append((rowid, *message_terms(text, subject, lang)))
        public_text, public_subject = row[_PUBLIC_TEXT], row[_PUBLIC_SUBJECT]
        if public_text is None and public_subject is None:
            self.public.append(self.full[-1])
        else:
            text = text if public_text is None else public_text
            subject = subject if public_subject is None else public_subject
            self.public.append((rowid, *message_terms(text, subject, lang)))
        created, day = row[_CREATED], row[_CREATED][:10]
        automated = int(bool(row[_AUTOMATED]))
        self.facts.append((rowid, day, channel, direction, sentiment, lang, automated))
        self.rollup[(day, channel, direction, sentiment or "", lang or "", automated)] += 1
        if direction == "inbound" and not automated:
            self.hours[created[:13]] += 1
        block = rowid >> 10
        newest, oldest = self.blocks.get(block, (created, created))
        self.blocks[block] = (max(newest, created), min(oldest, created))

    def flush(self) -> None:
        """Write what was collected (before any update: its triggers read what this writes)."""
        if not self.full:
            return
        many = self.conn.executemany
        many("INSERT INTO messages_fts (rowid, text, subject, extra) VALUES (?, ?, ?, ?)",
             self.full)
        many("INSERT INTO messages_public (rowid, text, subject, extra) VALUES (?, ?, ?, ?)",
             self.public)
        many("INSERT INTO message_facts VALUES (?, ?, ?, ?, ?, ?, ?)", self.facts)
        many(_ROLLUP, [(*key, n) for key, n in self.rollup.items()])
        many(_BLOCKS, [(block, *span) for block, span in self.blocks.items()])
        many(_HOURS, list(self.hours.items()))
        self.full, self.public, self.facts = [], [], []
        self.rollup, self.blocks, self.hours = Counter(), {}, Counter()


def _write_message(conn: sqlite3.Connection, msg: Message, new: _NewMessages,
                   keys: list[tuple[str, int]]) -> None:
    """Insert a new message (indexed and counted with the batch), or replace a stored one's
    fields (its triggers index and count it again); its author keys added to `keys`."""
    values = [*row_values(msg, MESSAGE_COLUMNS), _differing_public_copy(msg.text),
              _differing_public_copy(msg.subject)]
    cur = conn.execute(_INSERT_MESSAGE, values)
    if cur.rowcount == 1:
        rowid = cur.lastrowid
        assert rowid is not None
        new.add(rowid, values)
    else:
        new.flush()
        rowid = conn.execute(_UPDATE_MESSAGE, [*values[1:], msg.id]).fetchone()[0]
        conn.execute("DELETE FROM message_keys WHERE message_rowid=?", (rowid,))
    keys += [(k, rowid) for k in msg.author_keys]


def _insert_all(conn: sqlite3.Connection, sql: str, rows: Sequence[tuple[Any, ...]],
                owners: Sequence[str]) -> None:
    """Rows in one statement; when SQLite refuses one, row by row to name its document
    (`owners`: each row's document id)."""
    try:
        conn.executemany(sql, rows)
    except _REFUSED:
        for row, owner in zip(rows, owners, strict=True):
            with _refusing(owner):
                conn.execute(sql, row)
        raise


def log_written(conn: sqlite3.Connection, ids: Sequence[str]) -> None:
    """Log the conversations just written (in the writer's transaction) for the SLA report;
    the oldest entries beyond LOG_KEEP go."""
    conn.executemany("INSERT INTO sla_log (conversation) SELECT rowid FROM conversations "
                     "WHERE id = ?", [(i,) for i in ids])
    conn.execute("DELETE FROM sla_log WHERE seq <= (SELECT max(seq) FROM sla_log) - ?",
                 (LOG_KEEP,))


# A value SQLite cannot hold (a lone surrogate, an integer over 64 bits, a circular or
# unserialisable meta, a blob over the size limit): the document is refused, not the store.
_REFUSED = (ValueError, OverflowError, TypeError, RecursionError, sqlite3.InterfaceError,
            sqlite3.DataError, sqlite3.ProgrammingError)


class _refusing:  # noqa: N801 - used as a function; a class is cheaper per document
    """Name the document whose value SQLite refused (StoreRefused, distinct from down)."""

    __slots__ = ("doc_id",)

    def __init__(self, doc_id: str) -> None:
        self.doc_id = doc_id

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is not None and isinstance(exc, _REFUSED):
            raise StoreRefused(f"SQLite refused {self.doc_id}: {type(exc).__name__}: {exc}",
                               (self.doc_id,)) from exc


def write_batch(batch: WriteBatch, checked: bool) -> Callable[[sqlite3.Connection], None]:
    """The op that applies a batch: versions and identities checked, or (restore) not."""
    customer_cols = ("id", "name", "created_at", "merged_into", "version")

    def op(conn: sqlite3.Connection) -> None:
        for customer in batch.customers:
            with _refusing(customer.id):
                if checked:
                    _versioned(conn, "customers", customer_cols, customer)
                else:
                    _upsert(conn, "customers", customer_cols, customer)
        verb = "INSERT" if checked else "INSERT OR REPLACE"
        for ident in batch.identities:
            with _refusing(ident.customer_id):
                conn.execute(f"{verb} INTO identities (kind, value, customer_id, label, "
                             "created_at) VALUES (?, ?, ?, ?, ?)",
                             (ident.kind, ident.value, ident.customer_id, ident.label,
                              ts(ident.created_at)))
        refs = _Refs(conn)
        for conv in batch.conversations:
            conv = refs.given(conv, checked)
            with _refusing(conv.id):
                if checked:
                    _versioned(conn, "conversations", CONVERSATION_COLUMNS, conv)
                else:
                    _upsert(conn, "conversations", CONVERSATION_COLUMNS, conv)
        if batch.conversations:
            log_written(conn, [conv.id for conv in batch.conversations])
        new = _NewMessages(conn)
        keys: list[tuple[str, int]] = []
        owners: list[str] = []
        for msg in batch.messages:
            with _refusing(msg.id):
                _write_message(conn, msg, new, keys)
            owners += [msg.id] * (len(keys) - len(owners))
        new.flush()
        _insert_all(conn, "INSERT OR IGNORE INTO message_keys (key, message_rowid) "
                    "VALUES (?, ?)", keys, owners)
        _insert_all(conn, "INSERT OR IGNORE INTO thread_keys (key, conversation_id) "
                    "VALUES (?, ?)", batch.thread_keys, [c for _, c in batch.thread_keys])
        for collection, key, doc in batch.documents:
            with _refusing(key):
                put_doc(conn, collection, key, encoded(doc))

    return op


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
        return await self._lookup("SELECT id, * FROM messages WHERE id IN", ids,
                                  lambda _, row: to_message(row))

    async def identities_by_refs(self, refs: Sequence[tuple[str, str]]
                                 ) -> dict[tuple[str, str], Identity]:
        if not refs:
            return {}

        by_kind: dict[str, list[str]] = {}
        for kind, value in dict.fromkeys(refs):
            by_kind.setdefault(kind, []).append(value)

        def op(conn: sqlite3.Connection) -> dict[tuple[str, str], Identity]:
            found = {}
            for kind, values in by_kind.items():  # a few kinds: one primary key lookup each
                for start in range(0, len(values), 500):
                    chunk = values[start:start + 500]
                    for row in conn.execute("SELECT * FROM identities WHERE kind=? AND value "
                                            f"IN ({placeholders(len(chunk))})", [kind, *chunk]):
                        found[(row["kind"], row["value"])] = to_identity(row)
            return found

        return await self._db.read(op)

    async def conversation_ids_by_thread_keys(self, keys: Sequence[str]) -> dict[str, str]:
        return await self._lookup("SELECT key, conversation_id FROM thread_keys WHERE key IN",
                                  keys, lambda _, row: str(row[1]))

    async def conversations_by_ids(self, ids: Sequence[str]) -> dict[str, Conversation]:
        return await self._lookup("SELECT * FROM conversations WHERE id IN", ids,
                                  lambda _, row: to_conversation(row))

    async def conversations_by_refs(self, refs: Sequence[int]) -> dict[int, Conversation]:
        found = await self._lookup("SELECT ref, * FROM conversations WHERE ref IN",
                                   refs, lambda _, row: to_conversation(row))  # type: ignore[arg-type]
        return {int(ref): conv for ref, conv in found.items()}

    async def customers_by_ids(self, ids: Sequence[str]) -> dict[str, Customer]:
        return await self._lookup("SELECT * FROM customers WHERE id IN", ids, to_customer)

    async def _lookup(self, sql: str, keys: Sequence[str],
                      convert: Callable[[sqlite3.Connection, sqlite3.Row], T]) -> dict[str, T]:
        """Rows whose first column is among the keys, converted, by key (in chunks)."""
        unique = list(dict.fromkeys(keys))

        def op(conn: sqlite3.Connection) -> dict[str, T]:
            found = {}
            for start in range(0, len(unique), 500):
                chunk = unique[start:start + 500]
                for row in conn.execute(f"{sql} ({placeholders(len(chunk))})", chunk):
                    found[row[0]] = convert(conn, row)
            return found

        return await self._db.read(op) if unique else {}

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

    async def active_conversations(self, customer_ids: Sequence[str], since: datetime
                                   ) -> list[Conversation]:
        found = await self._lookup(
            f"SELECT id, * FROM conversations WHERE last_message_at >= '{ts(since)}' "
            "AND customer_id IN", customer_ids, lambda _, row: to_conversation(row))
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
