"""The embedded default Store: SQLite in WAL mode with FTS5 for message text."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from inbox.errors import ConflictError, NotFound, QueryError, StoreRefused
from inbox.model import (
    And,
    Attachment,
    Conversation,
    ConversationFilter,
    Customer,
    FieldTerm,
    Identity,
    Message,
    Not,
    Or,
    Page,
    Phrase,
    QueryNode,
    SearchResult,
    SlaRow,
    Term,
    parse_ts,
    ts,
)
from inbox.privacy import public_copy
from inbox.query import day_start
from inbox.store import COLLECTIONS, EXPORT_KINDS, FACETS, WriteBatch, percentile_rank
from search.sqlite_db import Database, fold

SCHEMA_VERSION = 2
T = TypeVar("T")

SCHEMA = """
CREATE TABLE customers (
    id TEXT PRIMARY KEY, name TEXT, created_at TEXT NOT NULL, merged_into TEXT,
    version INTEGER NOT NULL);
CREATE TABLE identities (
    kind TEXT NOT NULL, value TEXT NOT NULL, customer_id TEXT NOT NULL, label TEXT,
    created_at TEXT NOT NULL, PRIMARY KEY (kind, value)) WITHOUT ROWID;
CREATE INDEX identities_customer ON identities (customer_id);
CREATE TABLE conversations (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, channel TEXT NOT NULL, status TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, last_message_at TEXT NOT NULL,
    subject TEXT, assignee TEXT, tags TEXT NOT NULL, priority TEXT NOT NULL,
    message_count INTEGER NOT NULL, awaiting_since TEXT, first_response_at TEXT, due_at TEXT,
    due_basis TEXT, first_response_seconds REAL, first_response_breached INTEGER,
    resolved_at TEXT, resolution_seconds REAL, previous_id TEXT, switched_channel INTEGER,
    version INTEGER NOT NULL);
CREATE INDEX conversations_recent ON conversations (last_message_at DESC, id DESC);
CREATE INDEX conversations_status ON conversations (status, last_message_at DESC, id DESC);
CREATE INDEX conversations_assignee ON conversations (assignee, last_message_at DESC, id DESC);
CREATE INDEX conversations_customer ON conversations (customer_id, last_message_at DESC);
CREATE INDEX conversations_due ON conversations (due_at, id) WHERE due_at IS NOT NULL;
CREATE INDEX conversations_created ON conversations (created_at);
CREATE TABLE messages (
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, conversation_id TEXT NOT NULL,
    channel TEXT NOT NULL, external_id TEXT NOT NULL, direction TEXT NOT NULL, text TEXT NOT NULL,
    created_at TEXT NOT NULL, received_at TEXT NOT NULL, customer_id TEXT, author_label TEXT,
    author_keys TEXT NOT NULL, subject TEXT, html TEXT, quoted TEXT, lang TEXT, sentiment TEXT,
    sentiment_score REAL, automated INTEGER NOT NULL, revision TEXT, agent TEXT, delivery TEXT,
    attachments TEXT NOT NULL, meta TEXT NOT NULL);
CREATE UNIQUE INDEX messages_external ON messages (channel, external_id);
CREATE INDEX messages_conversation ON messages (conversation_id, created_at, id);
CREATE INDEX messages_customer ON messages (customer_id, created_at DESC, id DESC);
CREATE INDEX messages_recent ON messages (created_at DESC, id DESC);
CREATE INDEX messages_outbox ON messages (delivery) WHERE delivery IN ('pending', 'failed');
CREATE TABLE message_keys (
    key TEXT NOT NULL, message_rowid INTEGER NOT NULL, PRIMARY KEY (key, message_rowid))
    WITHOUT ROWID;
CREATE INDEX message_keys_message ON message_keys (message_rowid);
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    text, subject, content='messages', content_rowid='rowid',
    tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text, subject)
    VALUES (new.rowid, fold(new.text), fold(new.subject));
END;
CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text, subject)
    VALUES ('delete', old.rowid, fold(old.text), fold(old.subject));
    DELETE FROM message_keys WHERE message_rowid = old.rowid;
END;
CREATE TRIGGER messages_au AFTER UPDATE OF text, subject ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text, subject)
    VALUES ('delete', old.rowid, fold(old.text), fold(old.subject));
    INSERT INTO messages_fts (rowid, text, subject)
    VALUES (new.rowid, fold(new.text), fold(new.subject));
END;
CREATE VIRTUAL TABLE messages_vocab USING fts5vocab (messages_fts, 'row');
CREATE VIRTUAL TABLE messages_words USING fts5vocab (messages_fts, 'instance');
CREATE TABLE thread_keys (key TEXT PRIMARY KEY, conversation_id TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE kv (
    collection TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (collection, key)) WITHOUT ROWID;
"""

# Schema 2: the public copy of text and subject (inbox.privacy.public_copy: contacts gone),
# indexed apart for who may not see contacts, and the source of trending words. Kept in
# the row only where it differs from the text (NULL otherwise), so the index removes
# exactly what it added even if public_copy changes in a later version (which recomputes
# the old rows in a migration of its own, as this one does).
PUBLIC_INDEX = """
ALTER TABLE messages ADD COLUMN public_text TEXT;
ALTER TABLE messages ADD COLUMN public_subject TEXT;
UPDATE messages SET public_text = nullif(public_copy(text), text),
                    public_subject = nullif(public_copy(subject), subject);
CREATE VIRTUAL TABLE messages_public USING fts5 (
    text, subject, content='', tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER messages_public_ai AFTER INSERT ON messages BEGIN
    INSERT INTO messages_public (rowid, text, subject) VALUES (new.rowid,
        fold(coalesce(new.public_text, new.text)), fold(coalesce(new.public_subject, new.subject)));
END;
CREATE TRIGGER messages_public_ad AFTER DELETE ON messages BEGIN
    INSERT INTO messages_public (messages_public, rowid, text, subject) VALUES ('delete',
        old.rowid, fold(coalesce(old.public_text, old.text)),
        fold(coalesce(old.public_subject, old.subject)));
END;
CREATE TRIGGER messages_public_au
AFTER UPDATE OF text, subject, public_text, public_subject ON messages BEGIN
    INSERT INTO messages_public (messages_public, rowid, text, subject) VALUES ('delete',
        old.rowid, fold(coalesce(old.public_text, old.text)),
        fold(coalesce(old.public_subject, old.subject)));
    INSERT INTO messages_public (rowid, text, subject) VALUES (new.rowid,
        fold(coalesce(new.public_text, new.text)), fold(coalesce(new.public_subject, new.subject)));
END;
INSERT INTO messages_public (rowid, text, subject)
    SELECT rowid, fold(coalesce(public_text, text)), fold(coalesce(public_subject, subject))
    FROM messages;
DROP TABLE messages_vocab;
DROP TABLE messages_words;
CREATE VIRTUAL TABLE public_vocab USING fts5vocab (messages_public, 'row');
CREATE VIRTUAL TABLE public_words USING fts5vocab (messages_public, 'instance');
"""
# Schema version -> the script that brings the previous one to it (a new store runs all).
MIGRATIONS = {1: SCHEMA, 2: PUBLIC_INDEX}

CONVERSATION_COLUMNS = (
    "id", "customer_id", "channel", "status", "created_at", "updated_at", "last_message_at",
    "subject", "assignee", "tags", "priority", "message_count", "awaiting_since",
    "first_response_at", "due_at", "due_basis", "first_response_seconds",
    "first_response_breached", "resolved_at", "resolution_seconds", "previous_id",
    "switched_channel", "version",
)
MESSAGE_COLUMNS = (
    "id", "conversation_id", "channel", "external_id", "direction", "text", "created_at",
    "received_at", "customer_id", "author_label", "author_keys", "subject", "html", "quoted",
    "lang", "sentiment", "sentiment_score", "automated", "revision", "agent", "delivery",
    "attachments", "meta",
)
_BOOL_FIELDS = frozenset({"automated", "first_response_breached", "switched_channel"})
_TIME_FIELDS = frozenset({"created_at", "updated_at", "last_message_at", "received_at",
                          "awaiting_since", "first_response_at", "due_at", "resolved_at"})



def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode()


MAX_CURSOR = 1000  # characters; ours are about 100


def decode_cursor(cursor: str, size: int) -> list[str]:
    """The `size` sort values (timestamps and ids, all text) of a cursor we made; QueryError
    ("invalid cursor", a 400) for anything else."""
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError("too long")
        values = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (ValueError, TypeError, RecursionError) as exc:
        raise QueryError("invalid cursor", 0, cursor) from exc
    if (not isinstance(values, list) or len(values) != size
            or not all(isinstance(v, str) and v.isascii() and v.isprintable() for v in values)):
        raise QueryError("invalid cursor", 0, cursor)
    return values


def _db_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _TIME_FIELDS:
        return ts(value)
    if name in ("tags", "author_keys"):
        return json.dumps(list(value))
    if name == "attachments":
        return json.dumps([[a.name, a.content_type, a.size, a.ref] for a in value])
    if name == "meta":
        return json.dumps(dict(value), default=str)
    if name in _BOOL_FIELDS:
        return int(value)
    return value


def _py_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _TIME_FIELDS:
        return parse_ts(value)
    if name in ("tags", "author_keys"):
        return tuple(json.loads(value))
    if name == "attachments":
        return tuple(Attachment(*a) for a in json.loads(value))
    if name == "meta":
        return json.loads(value)
    if name in _BOOL_FIELDS:
        return bool(value)
    return value


def _row_values(obj: Any, columns: Sequence[str]) -> list[Any]:
    return [_db_value(c, getattr(obj, c)) for c in columns]


def _conversation(row: sqlite3.Row) -> Conversation:
    return Conversation(**{c: _py_value(c, row[c]) for c in CONVERSATION_COLUMNS})


def _message(row: sqlite3.Row) -> Message:
    return Message(**{c: _py_value(c, row[c]) for c in MESSAGE_COLUMNS})


def _identity(row: sqlite3.Row) -> Identity:
    return Identity(kind=row["kind"], value=row["value"], customer_id=row["customer_id"],
                    label=row["label"], created_at=parse_ts(row["created_at"]))


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


# --- writes -------------------------------------------------------------------------------


def _versioned(conn: sqlite3.Connection, table: str, columns: Sequence[str], obj: Any) -> None:
    values = _row_values(obj, columns)
    if obj.version == 1:
        conn.execute(f"INSERT INTO {table} ({','.join(columns)}) "
                     f"VALUES ({_placeholders(len(columns))})", values)
        return
    sets = ",".join(f"{c}=?" for c in columns[1:])
    cur = conn.execute(f"UPDATE {table} SET {sets} WHERE id=? AND version=?",
                       [*values[1:], obj.id, obj.version - 1])
    if cur.rowcount != 1:
        raise ConflictError(f"{table[:-1]} {obj.id} was changed by someone else; reload it")


def _upsert(conn: sqlite3.Connection, table: str, columns: Sequence[str], obj: Any,
            extra: Mapping[str, Any] | None = None) -> None:
    """Insert or replace a row from the object's `columns`, plus `extra` column values."""
    extra = extra or {}
    names = [*columns, *extra]
    sets = ",".join(f"{c}=excluded.{c}" for c in names[1:])
    conn.execute(f"INSERT INTO {table} ({','.join(names)}) "
                 f"VALUES ({_placeholders(len(names))}) ON CONFLICT(id) DO UPDATE SET {sets}",
                 [*_row_values(obj, columns), *extra.values()])


def _differing_public_copy(text: str | None) -> str | None:
    """The public copy where it differs from the text (the row keeps NULL otherwise)."""
    public = public_copy(text)
    return None if public == text else public


def _write_message(conn: sqlite3.Connection, msg: Message) -> None:
    _upsert(conn, "messages", MESSAGE_COLUMNS, msg,
            {"public_text": _differing_public_copy(msg.text),
             "public_subject": _differing_public_copy(msg.subject)})
    rowid = conn.execute("SELECT rowid FROM messages WHERE id=?", (msg.id,)).fetchone()[0]
    conn.execute("DELETE FROM message_keys WHERE message_rowid=?", (rowid,))
    conn.executemany("INSERT OR IGNORE INTO message_keys (key, message_rowid) VALUES (?, ?)",
                     [(k, rowid) for k in msg.author_keys])


# A value SQLite cannot hold (a lone surrogate, an integer over 64 bits, a circular or
# unserialisable meta, a blob over the size limit): the document is refused, not the store.
_REFUSED = (ValueError, OverflowError, TypeError, RecursionError, sqlite3.InterfaceError,
            sqlite3.DataError, sqlite3.ProgrammingError)


@contextmanager
def _refusing(doc_id: str) -> Iterator[None]:
    """Name the document whose value SQLite refused (StoreRefused, distinct from down)."""
    try:
        yield
    except _REFUSED as exc:
        raise StoreRefused(f"SQLite refused {doc_id}: {type(exc).__name__}: {exc}",
                           (doc_id,)) from exc


def _write_batch(batch: WriteBatch, checked: bool) -> Any:
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
        for conv in batch.conversations:
            with _refusing(conv.id):
                if checked:
                    _versioned(conn, "conversations", CONVERSATION_COLUMNS, conv)
                else:
                    _upsert(conn, "conversations", CONVERSATION_COLUMNS, conv)
        for msg in batch.messages:
            with _refusing(msg.id):
                _write_message(conn, msg)
        for key, conversation_id in batch.thread_keys:
            with _refusing(conversation_id):
                conn.execute("INSERT OR IGNORE INTO thread_keys (key, conversation_id) "
                             "VALUES (?, ?)", (key, conversation_id))

    return op


# --- search compilation -----------------------------------------------------------------


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


PERCENTILES = (0.5, 0.9, 0.95)
TREND_SAMPLE = 2000  # the most recent matches, as Elasticsearch's sampler does


def jlh(fg: float, bg: float) -> float:
    """How much more often a word occurs in the matches than overall (Elasticsearch's JLH)."""
    return (fg - bg) * (fg / bg) if fg > bg > 0 else 0.0


def fill_buckets(counts: list[tuple[str, int]], interval: str) -> list[tuple[str, int]]:
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


NO_PERCENTILES: tuple[float | None, ...] = (None,) * len(PERCENTILES)


def _percentiles(conn: sqlite3.Connection, expr: str, base: str, window: list[str],
                 column: str) -> dict[str, tuple[float | None, ...]]:
    """PERCENTILES of a column per group; only the rows next to each rank leave SQLite."""
    ranked = conn.execute(
        f"WITH r AS (SELECT {expr} AS k, {column} AS s, row_number() OVER (PARTITION BY "
        f"{expr} ORDER BY {column}) - 1 AS i, count(*) OVER (PARTITION BY {expr}) AS n "
        f"{base} AND {column} IS NOT NULL) SELECT k, i, n, s FROM r WHERE " + " OR ".join(
            f"i IN (CAST({p} * (n - 1) AS INTEGER), CAST({p} * (n - 1) AS INTEGER) + 1)"
            for p in PERCENTILES), window)
    near: dict[str, dict[int, float]] = {}
    sizes: dict[str, int] = {}
    for k, i, n, value in ranked:
        near.setdefault(k, {})[i] = value
        sizes[k] = n
    return {k: tuple(interpolate(values, sizes[k], p) for p in PERCENTILES)
            for k, values in near.items()}


def interpolate(values: Mapping[int, float], n: int, p: float) -> float | None:
    """The p-quantile of n sorted values by linear interpolation, from the two neighbours."""
    if n == 0:
        return None
    low, weight = percentile_rank(n, p)
    if low + 1 >= n:
        return values[low]
    return values[low] + weight * (values[low + 1] - values[low])


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


class SqliteStore:
    """Store on one SQLite file: WAL, one writer thread, FTS5, keyset pagination."""

    def __init__(self, path: str | Path, durable: bool = True) -> None:
        self.path = str(path)
        self._db = Database(self.path, durable=durable)

    @classmethod
    def from_url(cls, url: str) -> SqliteStore:
        """`sqlite:///relative/path.db` or `sqlite:////absolute/path.db` (SQLAlchemy style)."""
        return cls(url.removeprefix("sqlite:///") or "inbox.db")

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db.start(_migrate)

    async def aclose(self) -> None:
        self._db.close()

    async def write(self, batch: WriteBatch) -> None:
        await self._db.write(_write_batch(batch, checked=True))

    async def restore(self, batch: WriteBatch) -> None:
        await self._db.write(_write_batch(batch, checked=False))

    async def messages_by_ids(self, ids: Sequence[str]) -> dict[str, Message]:
        return await self._lookup("SELECT id, * FROM messages WHERE id IN", ids,
                                  lambda _, row: _message(row))

    async def identities(self, refs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Identity]:
        if not refs:
            return {}

        def op(conn: sqlite3.Connection) -> dict[tuple[str, str], Identity]:
            found = {}
            for kind, value in refs:
                row = conn.execute("SELECT * FROM identities WHERE kind=? AND value=?",
                                   (kind, value)).fetchone()
                if row is not None:
                    found[(kind, value)] = _identity(row)
            return found

        return await self._db.read(op)

    async def thread_keys(self, keys: Sequence[str]) -> dict[str, str]:
        return await self._lookup("SELECT key, conversation_id FROM thread_keys WHERE key IN",
                                  keys, lambda _, row: str(row[1]))

    async def conversations_by_ids(self, ids: Sequence[str]) -> dict[str, Conversation]:
        return await self._lookup("SELECT * FROM conversations WHERE id IN", ids,
                                  lambda _, row: _conversation(row))

    async def customers_by_ids(self, ids: Sequence[str]) -> dict[str, Customer]:
        return await self._lookup("SELECT * FROM customers WHERE id IN", ids, _customer)

    async def _lookup(self, sql: str, keys: Sequence[str],
                      convert: Callable[[sqlite3.Connection, sqlite3.Row], T]) -> dict[str, T]:
        """Rows whose first column is among the keys, converted, by key (in chunks)."""
        unique = list(dict.fromkeys(keys))

        def op(conn: sqlite3.Connection) -> dict[str, T]:
            found = {}
            for start in range(0, len(unique), 500):
                chunk = unique[start:start + 500]
                for row in conn.execute(f"{sql} ({_placeholders(len(chunk))})", chunk):
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
        for column in ("status", "channel", "customer_id"):
            if getattr(flt, column):
                where.append(f"{column} = ?")
                params.append(getattr(flt, column))
        if flt.assignee == "none":
            where.append("assignee IS NULL")
        elif flt.assignee:
            where.append("assignee = ?")
            params.append(flt.assignee)
        sort, compare, order = ("last_message_at", "<", "DESC")
        if flt.order == "due":
            sort, compare, order = ("due_at", ">", "ASC")
            where.append("due_at IS NOT NULL")
        elif flt.order != "recent":
            raise QueryError(f"unknown order '{flt.order}' (known: recent, due)", 0)
        if cursor:
            where.append(f"({sort}, id) {compare} (?, ?)")
            params.extend(decode_cursor(cursor, 2))
        sql = ("SELECT * FROM conversations" + (" WHERE " + " AND ".join(where) if where else "")
               + f" ORDER BY {sort} {order}, id {order} LIMIT ?")

        def op(conn: sqlite3.Connection) -> Page[Conversation]:
            rows = conn.execute(sql, [*params, limit + 1]).fetchall()
            items = tuple(_conversation(r) for r in rows[:limit])
            more = len(rows) > limit
            return Page(items, encode_cursor([rows[limit - 1][sort],
                                              rows[limit - 1]["id"]]) if more else None)

        return await self._db.read(op)

    async def active_conversations(self, customer_ids: Sequence[str], since: datetime
                                   ) -> list[Conversation]:
        found = await self._lookup(
            f"SELECT id, * FROM conversations WHERE last_message_at >= '{ts(since)}' "
            "AND customer_id IN", customer_ids, lambda _, row: _conversation(row))
        return list(found.values())

    async def conversation_messages(self, conversation_id: str) -> tuple[Message, ...]:
        def op(conn: sqlite3.Connection) -> tuple[Message, ...]:
            rows = conn.execute("SELECT * FROM messages WHERE conversation_id=? "
                                "ORDER BY created_at, id", (conversation_id,))
            return tuple(_message(r) for r in rows)

        return await self._db.read(op)

    async def get_customer(self, customer_id: str) -> Customer:
        found = await self.customers_by_ids([customer_id])
        if customer_id not in found:
            raise NotFound(f"no customer {customer_id}")
        return found[customer_id]

    async def customer_messages(
        self, customer_id: str, cursor: str | None, limit: int
    ) -> Page[Message]:
        return await self._message_page("m.customer_id = ?", [customer_id], cursor, limit)

    async def _message_page(
        self, where: str, params: list[Any], cursor: str | None, limit: int
    ) -> Page[Message]:
        if cursor:
            where = f"({where}) AND (m.created_at, m.id) < (?, ?)"
            params = [*params, *decode_cursor(cursor, 2)]
        sql = (f"SELECT m.* FROM messages m JOIN conversations c ON c.id = m.conversation_id "
               f"WHERE {where} ORDER BY m.created_at DESC, m.id DESC LIMIT ?")

        def op(conn: sqlite3.Connection) -> Page[Message]:
            rows = conn.execute(sql, [*params, limit + 1]).fetchall()
            more = len(rows) > limit
            last = rows[limit - 1] if more else None
            return Page(tuple(_message(r) for r in rows[:limit]),
                        encode_cursor([last["created_at"], last["id"]]) if last else None)

        return await self._db.read(op)

    async def search(
        self,
        query: QueryNode | None,
        cursor: str | None,
        limit: int,
        facets: Sequence[str] = (),
        public: bool = False,
    ) -> SearchResult:
        where, params = compile_query(query, public) if query is not None else ("1", [])
        page = await self._message_page(where, params, cursor, limit)
        base = f"FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE ({where})"

        def op(conn: sqlite3.Connection) -> tuple[int, dict[str, tuple[tuple[str, int], ...]]]:
            total = conn.execute(f"SELECT count(*) {base}", params).fetchone()[0]  # noqa: S608
            found = {}
            for name in facets:
                if name not in FACETS:
                    raise QueryError(f"unknown facet '{name}' (known: {', '.join(FACETS)})", 0)
                rows = conn.execute(f"SELECT m.{name}, count(*) {base} AND m.{name} IS NOT NULL "
                                    f"GROUP BY 1 ORDER BY 2 DESC, 1 ASC", params)
                found[name] = tuple((r[0], r[1]) for r in rows)
            return total, found

        total, found = await self._db.read(op)
        return SearchResult(page.items, page.next_cursor, total, found)

    async def sla_report(self, since: datetime, until: datetime) -> tuple[SlaRow, ...]:
        groups = {"all": "'all'", "channel": "channel",
                  "agent": "coalesce(assignee, 'unassigned')", "day": "substr(created_at, 1, 10)"}
        base = ("FROM conversations WHERE created_at >= ? AND created_at < ? "
                "AND status != 'listening'")
        window = [ts(since), ts(until)]

        def op(conn: sqlite3.Connection) -> tuple[SlaRow, ...]:
            rows = []
            for group, expr in groups.items():
                counts = conn.execute(
                    f"SELECT {expr} AS k, count(*), count(first_response_seconds), "
                    f"sum(first_response_breached = 0), count(previous_id), "
                    f"sum(switched_channel = 1), count(resolution_seconds) {base} "
                    f"GROUP BY k ORDER BY k", window)
                first = _percentiles(conn, expr, base, window, "first_response_seconds")
                resolution = _percentiles(conn, expr, base, window, "resolution_seconds")
                for k, total, answered, met, repeat, switched, resolved in counts:
                    ps, rs = first.get(k, NO_PERCENTILES), resolution.get(k, NO_PERCENTILES)
                    rows.append(SlaRow(group, str(k), total, answered, met or 0, p50=ps[0],
                                       p90=ps[1], p95=ps[2], repeat=repeat,
                                       switched=switched or 0, resolved=resolved,
                                       resolution_p50=rs[0], resolution_p90=rs[1]))
            return tuple(rows)

        return await self._db.read(op)

    async def volume(self, query: QueryNode | None, interval: str = "day",
                     public: bool = False) -> list[tuple[str, int]]:
        bucket = {"day": "date(m.created_at)",
                  "week": "date(m.created_at, '-6 days', 'weekday 1')",
                  "month": "strftime('%Y-%m-01', m.created_at)"}.get(interval)
        if bucket is None:
            raise QueryError(f"unknown interval '{interval}' (known: day, week, month)", 0)
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

    async def pending_outbound(self, limit: int) -> tuple[Message, ...]:
        def op(conn: sqlite3.Connection) -> tuple[Message, ...]:
            rows = conn.execute("SELECT * FROM messages WHERE delivery IN ('pending', 'failed') "
                                "ORDER BY created_at LIMIT ?", (limit,))
            return tuple(_message(r) for r in rows)

        return await self._db.read(op)

    async def kv_get(self, collection: str, key: str) -> dict[str, Any] | None:
        def op(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute("SELECT value FROM kv WHERE collection=? AND key=?",
                               (collection, key)).fetchone()
            return None if row is None else json.loads(row[0])

        return await self._db.read(op)

    async def kv_put(self, collection: str, key: str, value: Mapping[str, Any]) -> None:
        data = json.dumps(dict(value), default=str)
        await self._db.write(lambda conn: conn.execute(
            "INSERT OR REPLACE INTO kv (collection, key, value) VALUES (?, ?, ?)",
            (collection, key, data)))

    async def kv_put_new(self, collection: str, key: str, value: Mapping[str, Any]) -> bool:
        data = json.dumps(dict(value), default=str)

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("INSERT OR IGNORE INTO kv (collection, key, value) VALUES (?, ?, ?)",
                               (collection, key, data))
            return cur.rowcount == 1

        return await self._db.write(op)

    async def kv_swap(self, collection: str, key: str, expected: Mapping[str, Any] | None,
                      value: Mapping[str, Any]) -> bool:
        data = json.dumps(dict(value), default=str)
        want = None if expected is None else json.loads(json.dumps(dict(expected), default=str))

        def op(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT value FROM kv WHERE collection=? AND key=?",
                               (collection, key)).fetchone()
            if (None if row is None else json.loads(row[0])) != want:
                return False
            conn.execute("INSERT OR REPLACE INTO kv (collection, key, value) VALUES (?, ?, ?)",
                         (collection, key, data))
            return True

        return await self._db.write(op)

    async def kv_delete(self, collection: str, key: str) -> None:
        await self._db.write(lambda conn: conn.execute(
            "DELETE FROM kv WHERE collection=? AND key=?", (collection, key)))

    async def kv_list(
        self, collection: str, after: str | None, limit: int
    ) -> list[tuple[str, dict[str, Any]]]:
        def op(conn: sqlite3.Connection) -> list[tuple[str, dict[str, Any]]]:
            rows = conn.execute("SELECT key, value FROM kv WHERE collection=? AND key > ? "
                                "ORDER BY key LIMIT ?", (collection, after or "", limit))
            return [(r[0], json.loads(r[1])) for r in rows]

        return await self._db.read(op)

    async def counts(self) -> dict[str, int]:
        def op(conn: sqlite3.Connection) -> dict[str, int]:
            found = {kind: conn.execute(f"SELECT count(*) FROM {kind}").fetchone()[0]
                     for kind in EXPORT_KINDS}
            for collection in COLLECTIONS:
                found[collection] = conn.execute("SELECT count(*) FROM kv WHERE collection=?",
                                                 (collection,)).fetchone()[0]
            return found

        return await self._db.read(op)

    async def export(self, kind: str, after: str | None, limit: int) -> list[Any]:
        key_sql = {"customers": "id", "conversations": "id", "messages": "id",
                   "identities": "kind || ':' || value", "thread_keys": "key"}
        if kind not in key_sql:
            raise ValueError(f"unknown export kind {kind!r}")
        sql = (f"SELECT * FROM {kind} WHERE {key_sql[kind]} > ? "
               f"ORDER BY {key_sql[kind]} LIMIT ?")

        def op(conn: sqlite3.Connection) -> list[Any]:
            rows = conn.execute(sql, (after or "", limit)).fetchall()
            if kind == "customers":
                return [_customer(conn, r) for r in rows]
            if kind == "conversations":
                return [_conversation(r) for r in rows]
            if kind == "messages":
                return [_message(r) for r in rows]
            if kind == "identities":
                return [_identity(r) for r in rows]
            return [(r["key"], r["conversation_id"]) for r in rows]

        return await self._db.read(op)


def _customer(conn: sqlite3.Connection, row: sqlite3.Row) -> Customer:
    idents = conn.execute("SELECT * FROM identities WHERE customer_id=? ORDER BY created_at, kind",
                          (row["id"],))
    return Customer(id=row["id"], name=row["name"], created_at=parse_ts(row["created_at"]),
                    merged_into=row["merged_into"],
                    identities=tuple(_identity(i) for i in idents), version=row["version"])


def _migrate(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise ConflictError(f"the store was written by a newer version (schema {version}); "
                            "upgrade unified-inbox")
    conn.create_function("public_copy", 1, public_copy, deterministic=True)
    for target in range(version + 1, SCHEMA_VERSION + 1):
        try:
            conn.executescript(f"BEGIN; {MIGRATIONS[target]} PRAGMA user_version={target}; "
                               "COMMIT;")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

