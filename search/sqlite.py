"""The embedded default Store: SQLite in WAL mode with FTS5 for message text.

One class composed of the parts, each a role of the port: sqlite_repository,
sqlite_index, sqlite_reports, sqlite_collections and sqlite_dump (schema in sqlite_schema, rows in
sqlite_rows, the writer thread in sqlite_db).
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

from inbox.errors import ConfigError
from inbox.shortcache import ShortCache
from search.sqlite_collections import SqliteCollections
from search.sqlite_db import Database
from search.sqlite_dump import SqliteDump
from search.sqlite_index import RECENT_TTL, SqliteIndex
from search.sqlite_reports import SqliteReports
from search.sqlite_repository import SqliteRepository
from search.sqlite_schema import migrate
from search.sqlite_writer import WriterProcess


class SqliteStore(SqliteRepository, SqliteIndex, SqliteReports, SqliteCollections, SqliteDump):
    """Store on one SQLite file: WAL, a writer thread (and a writer process for ingest's
    batches), FTS5, keyset pagination."""

    def __init__(self, path: str | Path, durable: bool = True,
                 writer_process: bool | None = None) -> None:
        """`writer_process`: ingest's batches handed in ahead of their turn are written by a
        process of its own (search.sqlite_writer), while the next is planned; by default
        for a store on a file."""
        self.path = str(path)
        self.recent: ShortCache[Hashable, Any] = ShortCache(RECENT_TTL, size=256)
        self._db = Database(self.path, durable=durable, committed=self.recent.clear)
        if writer_process is None:
            writer_process = self.path != ":memory:"
        self.writer: WriterProcess | None = (
            WriterProcess(self.path, durable, self.recent.clear) if writer_process else None)

    @classmethod
    def from_url(cls, url: str) -> SqliteStore:
        """`sqlite:///relative/path.db` or `sqlite:////absolute/path.db` (SQLAlchemy style);
        `?writer=thread`: every write on the writer thread, no writer process."""
        path, _, query = url.removeprefix("sqlite:///").partition("?")
        if query not in ("", "writer=thread", "writer=process"):
            raise ConfigError("store.url", f"unknown SQLite store option '{query}'; the one "
                              "option is ?writer=thread")
        return cls(path or "inbox.db", writer_process=query != "writer=thread")

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db.start(migrate)

    async def aclose(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self._db.close()
