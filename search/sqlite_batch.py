"""The SQLite store's batch writes, in two steps: a WriteBatch made into rows (`batch_rows`:
every value as its column holds it), then the rows written in one transaction
(`write_rows`), each new message with its public copy and index terms.

The rows are made in the process that plans ingest, before the batch is handed to the
writer process (search.sqlite_writer), so that the two sides of the pipeline share the
work (the text analysis stays with the writer), and plain rows pickle in less time than
the objects. A document whose values SQLite cannot hold is refused by name (StoreRefused),
when its rows are made (a meta that is not JSON) or written (a lone surrogate, an integer
over 64 bits)."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, NamedTuple

from inbox.analysis import message_terms
from inbox.errors import ConflictError, StoreRefused
from inbox.model import ts
from inbox.privacy import public_copy
from inbox.store import REF_START, WriteBatch
from search.sqlite_collections import encoded, put_doc
from search.sqlite_rows import CONVERSATION_COLUMNS, MESSAGE_COLUMNS, placeholders, row_values

LOG_KEEP = 100_000  # the newest writes kept in sla_log
CUSTOMER_COLUMNS = ("id", "name", "created_at", "merged_into", "version")

# A value SQLite cannot hold (a lone surrogate, an integer over 64 bits, a circular or
# unserialisable meta, a blob over the size limit): the document is refused, not the store.
_REFUSED = (ValueError, OverflowError, TypeError, RecursionError, sqlite3.InterfaceError,
            sqlite3.DataError, sqlite3.ProgrammingError)

Terms = tuple[str, str, str]  # a message's text words, subject words, and extras of both


class MessageRow(NamedTuple):
    values: list[Any]  # _MESSAGE_NAMES (the index terms are made on write)
    author_keys: tuple[str, ...]


class BatchRows(NamedTuple):
    """A WriteBatch as its statements take it."""

    customers: list[list[Any]]  # CUSTOMER_COLUMNS
    identities: list[tuple[Any, ...]]  # kind, value, customer_id, label, created_at
    conversations: list[list[Any]]  # CONVERSATION_COLUMNS (a new one's ref given on write)
    messages: list[MessageRow]
    thread_keys: tuple[tuple[str, str], ...]
    documents: list[tuple[str, str, str]]  # collection, key, encoded document


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


def _differing_public_copy(text: str | None) -> str | None:
    """The public copy where it differs from the text (the row keeps NULL otherwise)."""
    public = public_copy(text)
    return None if public == text else public


# the messages of a thread share their subject ("Re: ..."; at most 1,000 characters each)
_public_subject = functools.lru_cache(maxsize=2048)(_differing_public_copy)
_MESSAGE_NAMES = (*MESSAGE_COLUMNS, "public_text", "public_subject")
_TEXT, _SUBJECT, _LANG, _PUBLIC_TEXT, _PUBLIC_SUBJECT = (_MESSAGE_NAMES.index(c) for c in (
    "text", "subject", "lang", "public_text", "public_subject"))
_CONV_REF, _CONV_VERSION = CONVERSATION_COLUMNS.index("ref"), CONVERSATION_COLUMNS.index("version")


def batch_rows(batch: WriteBatch) -> BatchRows:
    """The batch's rows (StoreRefused naming a document whose values cannot be stored)."""
    customers, conversations, messages = [], [], []
    for customer in batch.customers:
        with _refusing(customer.id):
            customers.append(row_values(customer, CUSTOMER_COLUMNS))
    identities = []
    for ident in batch.identities:
        with _refusing(ident.customer_id):
            identities.append((str(ident.kind), ident.value, ident.customer_id, ident.label,
                               ts(ident.created_at)))
    for conv in batch.conversations:
        with _refusing(conv.id):
            conversations.append(row_values(conv, CONVERSATION_COLUMNS))
    for msg in batch.messages:
        with _refusing(msg.id):
            values = row_values(msg, MESSAGE_COLUMNS)
            values += (_differing_public_copy(msg.text), _public_subject(msg.subject))
            messages.append(MessageRow(values, msg.author_keys))
    documents = []
    for collection, key, doc in batch.documents:
        with _refusing(key):
            documents.append((str(collection), key, encoded(doc)))
    return BatchRows(customers, identities, conversations, messages, batch.thread_keys,
                     documents)


def _terms(row: list[Any]) -> tuple[Terms, Terms]:
    """A new message's index terms, and those of its public copy."""
    text, subject, lang = row[_TEXT], row[_SUBJECT], row[_LANG]
    terms = message_terms(text, subject, lang)
    public_text, public_subject = row[_PUBLIC_TEXT], row[_PUBLIC_SUBJECT]
    if public_text is None and public_subject is None:
        return terms, terms
    return terms, message_terms(text if public_text is None else public_text,
                                subject if public_subject is None else public_subject, lang)


def write_batch(batch: WriteBatch, checked: bool) -> Callable[[sqlite3.Connection], None]:
    """The op that applies a batch (its rows made now)."""
    return write_rows(batch_rows(batch), checked)


def write_rows(rows: BatchRows, checked: bool) -> Callable[[sqlite3.Connection], None]:
    """The op that applies a batch's rows: versions and identities checked, or (restore)
    not."""

    def op(conn: sqlite3.Connection) -> None:
        for values in rows.customers:
            with _refusing(values[0]):
                _versioned(conn, "customers", CUSTOMER_COLUMNS, values, checked)
        verb = "INSERT" if checked else "INSERT OR REPLACE"
        for ident in rows.identities:
            with _refusing(ident[2]):
                conn.execute(f"{verb} INTO identities (kind, value, customer_id, label, "
                             "created_at) VALUES (?, ?, ?, ?, ?)", ident)
        refs = _Refs(conn)
        for values in rows.conversations:
            with _refusing(values[0]):
                _versioned(conn, "conversations", CONVERSATION_COLUMNS,
                           refs.given(values, checked), checked)
        if rows.conversations:
            log_written(conn, [values[0] for values in rows.conversations])
        new = _NewMessages(conn)
        keys: list[tuple[str, int]] = []
        owners: list[str] = []
        for message in rows.messages:
            with _refusing(message.values[0]):
                _write_message(conn, message, new, keys)
            owners += [message.values[0]] * (len(keys) - len(owners))
        new.flush()
        _insert_all(conn, "INSERT OR IGNORE INTO message_keys (key, message_rowid) "
                    "VALUES (?, ?)", keys, owners)
        _insert_all(conn, "INSERT OR IGNORE INTO thread_keys (key, conversation_id) "
                    "VALUES (?, ?)", rows.thread_keys, [c for _, c in rows.thread_keys])
        for collection, key, data in rows.documents:
            with _refusing(key):
                put_doc(conn, collection, key, data)

    return op


class _Refs:
    """Human references for the conversations of one write, in the writer's transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.last: int | None = None

    def given(self, values: list[Any], checked: bool) -> list[Any]:
        """The conversation's values with its stored reference, or (new) the next free one.
        A checked first version is new (its insert fails if the id is taken): nothing to
        look up."""
        if values[_CONV_REF] is not None:
            return values
        if values[_CONV_VERSION] != 1 or not checked:
            row = self.conn.execute("SELECT ref FROM conversations WHERE id = ?",
                                    (values[0],)).fetchone()
            if row is not None and row[0] is not None:
                return _with_ref(values, row[0])
        if self.last is None:
            self.last = self.conn.execute("SELECT max(ref) FROM conversations").fetchone()[0]
        self.last = max(self.last or 0, REF_START - 1) + 1
        return _with_ref(values, self.last)


def _with_ref(values: list[Any], ref: int) -> list[Any]:
    values = list(values)
    values[_CONV_REF] = ref
    return values


@functools.cache
def _versioned_sql(table: str, columns: tuple[str, ...], checked: bool
                   ) -> tuple[str, str, int]:
    """The INSERT of a first version and the UPDATE of a later one (checked), or the upsert
    of any version (a restore); and where the version is among the columns."""
    names, marks = ",".join(columns), placeholders(len(columns))
    version = columns.index("version")
    if not checked:
        sets = ",".join(f"{c}=excluded.{c}" for c in columns[1:])
        upsert = (f"INSERT INTO {table} ({names}) VALUES ({marks}) "
                  f"ON CONFLICT(id) DO UPDATE SET {sets}")
        return upsert, upsert, version
    sets = ",".join(f"{c}=?" for c in columns[1:])
    return (f"INSERT INTO {table} ({names}) VALUES ({marks})",
            f"UPDATE {table} SET {sets} WHERE id=? AND version=?", version)


def _versioned(conn: sqlite3.Connection, table: str, columns: tuple[str, ...],
               values: list[Any], checked: bool) -> None:
    """Write a customer's or conversation's row: a first version inserted, a later one
    updating the version before it (ConflictError when another write changed it); not
    checked (a restore), whatever is there replaced."""
    insert, update, at = _versioned_sql(table, columns, checked)
    version = values[at]
    if version == 1 or not checked:
        conn.execute(insert, values)
        return
    cur = conn.execute(update, [*values[1:], values[0], version - 1])
    if cur.rowcount != 1:
        raise ConflictError(f"{table[:-1]} {values[0]} was changed by someone else; reload it")


_INSERT_MESSAGE = (f"INSERT INTO messages ({','.join(_MESSAGE_NAMES)}) "
                   f"VALUES ({placeholders(len(_MESSAGE_NAMES))}) ON CONFLICT(id) DO NOTHING")
_UPDATE_MESSAGE = (f"UPDATE messages SET {','.join(f'{c}=?' for c in _MESSAGE_NAMES[1:])} "
                   "WHERE id=? RETURNING rowid")
# What the store keeps for the new messages of rowids ?1 to ?2 (schema 5: no insert
# triggers), made in SQL from their rows: each one's facts, and the day rollup, rowid blocks
# and the customers' own messages per UTC hour that searches and reports count from
# (search/sqlite_index.py). The triggers of updates and deletes keep them after.
COUNTS = (
    "INSERT INTO message_facts SELECT rowid, substr(created_at, 1, 10), channel, direction, "
    "sentiment, lang, automated FROM messages WHERE rowid BETWEEN ?1 AND ?2",
    "INSERT INTO message_rollup SELECT day, channel, direction, ifnull(sentiment, ''), "
    "ifnull(lang, ''), automated, count(*) FROM message_facts WHERE rowid BETWEEN ?1 AND ?2 "
    "GROUP BY 1, 2, 3, 4, 5, 6 ON CONFLICT DO UPDATE SET n = n + excluded.n",
    "INSERT INTO message_blocks SELECT rowid >> 10, max(created_at), min(created_at) FROM "
    "messages WHERE rowid BETWEEN ?1 AND ?2 GROUP BY 1 ON CONFLICT DO UPDATE SET "
    "newest = max(newest, excluded.newest), oldest = min(oldest, excluded.oldest)",
    "INSERT INTO message_hours SELECT substr(created_at, 1, 13), count(*) FROM messages "
    "WHERE rowid BETWEEN ?1 AND ?2 AND direction = 'inbound' AND NOT automated GROUP BY 1 "
    "ON CONFLICT DO UPDATE SET n = n + excluded.n")


class _NewMessages:
    """What a batch's new messages add besides their rows, written at the end of the batch,
    a statement per table (schema 5: no insert triggers): the two FTS5 indexes, and their
    COUNTS, a statement for each run of rowids (new messages written one after another have
    rowids one after another: each the largest plus one). A trigger's statement made FTS5
    write a segment of its own per message: 70% of a message write; the facts trigger cost
    40% of what remained."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.full: list[tuple[int, str, str, str]] = []
        self.public: list[tuple[int, str, str, str]] = []

    def add(self, rowid: int, row: list[Any]) -> None:
        terms, public_terms = _terms(row)
        self.full.append((rowid, *terms))
        self.public.append((rowid, *public_terms))

    def flush(self) -> None:
        """Write what was collected (before any update: its triggers read what this writes)."""
        if not self.full:
            return
        many = self.conn.executemany
        many("INSERT INTO messages_fts (rowid, text, subject, extra) VALUES (?, ?, ?, ?)",
             self.full)
        many("INSERT INTO messages_public (rowid, text, subject, extra) VALUES (?, ?, ?, ?)",
             self.public)
        rowids = [row[0] for row in self.full]
        start = 0
        for end in range(1, len(rowids) + 1):  # each run of rowids one after another
            if end == len(rowids) or rowids[end] != rowids[end - 1] + 1:
                for sql in COUNTS:
                    self.conn.execute(sql, (rowids[start], rowids[end - 1]))
                start = end
        self.full, self.public = [], []


def _write_message(conn: sqlite3.Connection, message: MessageRow, new: _NewMessages,
                   keys: list[tuple[str, int]]) -> None:
    """Insert a new message (indexed and counted with the batch), or replace a stored one's
    fields (its triggers index and count it again); its author keys added to `keys`."""
    values = message.values
    cur = conn.execute(_INSERT_MESSAGE, values)
    if cur.rowcount == 1:
        rowid = cur.lastrowid
        assert rowid is not None
        new.add(rowid, values)
    else:
        new.flush()
        rowid = conn.execute(_UPDATE_MESSAGE, [*values[1:], values[0]]).fetchone()[0]
        conn.execute("DELETE FROM message_keys WHERE message_rowid=?", (rowid,))
    keys += [(k, rowid) for k in message.author_keys]


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
