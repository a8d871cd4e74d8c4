"""The SQLite store's typed collections: JSON documents in one key-value table."""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from inbox.collections import Collection, CollectionAccessors, CollectionName
from search.sqlite_db import Database

K = TypeVar("K", bound=str)
D = TypeVar("D", bound=Mapping[str, Any])


def encoded(doc: Mapping[str, Any]) -> str:
    return json.dumps(dict(doc), default=str)


def put_doc(conn: sqlite3.Connection, collection: str, key: str, data: str) -> None:
    """Create or replace one encoded document (a collection's put, a WriteBatch's documents)."""
    conn.execute("INSERT OR REPLACE INTO kv (collection, key, value) VALUES (?, ?, ?)",
                 (collection, key, data))


class SqliteCollection(Generic[K, D]):
    """One collection: the rows of table kv with its name."""

    def __init__(self, db: Database, name: str) -> None:
        self._db, self.name = db, name

    async def get(self, key: K) -> D | None:
        def op(conn: sqlite3.Connection) -> D | None:
            row = conn.execute("SELECT value FROM kv WHERE collection=? AND key=?",
                               (self.name, key)).fetchone()
            return None if row is None else json.loads(row[0])

        return await self._db.read(op)

    async def put(self, key: K, doc: D) -> None:
        data = encoded(doc)
        await self._db.write(lambda conn: put_doc(conn, self.name, key, data))

    async def put_new(self, key: K, doc: D) -> bool:
        data = encoded(doc)

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("INSERT OR IGNORE INTO kv (collection, key, value) VALUES (?, ?, ?)",
                               (self.name, key, data))
            return cur.rowcount == 1

        return await self._db.write(op)

    async def swap(self, key: K, expected: D | None, doc: D) -> bool:
        data = encoded(doc)
        want = None if expected is None else json.loads(encoded(expected))

        def op(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT value FROM kv WHERE collection=? AND key=?",
                               (self.name, key)).fetchone()
            if (None if row is None else json.loads(row[0])) != want:
                return False
            put_doc(conn, self.name, key, data)
            return True

        return await self._db.write(op)

    async def delete(self, key: K) -> None:
        await self._db.write(lambda conn: conn.execute(
            "DELETE FROM kv WHERE collection=? AND key=?", (self.name, key)))

    async def list(self, after: K | None, limit: int) -> builtins.list[tuple[K, D]]:
        def op(conn: sqlite3.Connection) -> builtins.list[tuple[K, D]]:
            rows = conn.execute("SELECT key, value FROM kv WHERE collection=? AND key > ? "
                                "ORDER BY key LIMIT ?", (self.name, after or "", limit))
            return [(r[0], json.loads(r[1])) for r in rows]

        return await self._db.read(op)


class SqliteCollections(CollectionAccessors):
    """Collections part of SqliteStore."""

    _db: Database

    def collection(self, name: CollectionName[K, D]) -> Collection[K, D]:
        return SqliteCollection[K, D](self._db, name)
