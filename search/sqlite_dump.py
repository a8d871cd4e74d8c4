"""The SQLite store's dump and restore, for `inbox migrate`."""

from __future__ import annotations

import sqlite3
from typing import Any

from inbox.collections import COLLECTIONS
from inbox.store import EXPORT_KINDS, WriteBatch
from search.sqlite_batch import write_batch
from search.sqlite_db import Database
from search.sqlite_rows import to_conversation, to_customer, to_identity, to_message

_EXPORT_KEY = {"customers": "id", "conversations": "id", "messages": "id",
               "identities": "kind || ':' || value", "thread_keys": "key"}


class SqliteDump:
    """Dump part of SqliteStore."""

    _db: Database

    async def restore(self, batch: WriteBatch) -> None:
        await self._db.write(write_batch(batch, checked=False))

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
        if kind not in _EXPORT_KEY:
            raise ValueError(f"unknown export kind {kind!r}")
        sql = (f"SELECT * FROM {kind} WHERE {_EXPORT_KEY[kind]} > ? "
               f"ORDER BY {_EXPORT_KEY[kind]} LIMIT ?")

        def op(conn: sqlite3.Connection) -> list[Any]:
            rows = conn.execute(sql, (after or "", limit)).fetchall()
            if kind == "customers":
                return [to_customer(conn, r) for r in rows]
            if kind == "conversations":
                return [to_conversation(r) for r in rows]
            if kind == "messages":
                return [to_message(r) for r in rows]
            if kind == "identities":
                return [to_identity(r) for r in rows]
            return [(r["key"], r["conversation_id"]) for r in rows]

        return await self._db.read(op)
