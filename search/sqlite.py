"""The embedded default Store: SQLite in WAL mode with FTS5 for message text.

One class composed of the parts, each a role of the port: sqlite_repository,
sqlite_index, sqlite_reports, sqlite_collections and sqlite_dump (schema in sqlite_schema, rows in
sqlite_rows, the writer thread in sqlite_db).
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

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
    """Store on one SQLite file: WAL, one writer thread, FTS5, keyset pagination."""

    def __init__(self, path: str | Path, durable: bool = True,
                 writer_process: bool = False) -> None:
        self.path = str(path)
        self.recent: ShortCache[Hashable, Any] = ShortCache(RECENT_TTL, size=256)
        self._db = Database(self.path, durable=durable, committed=self.recent.clear)
        # PROTOTYPE (issue 11): batch writes in a process of their own (search.sqlite_writer)
        self._writer: WriterProcess | None = (
            WriterProcess(self.path, durable, self.recent.clear) if writer_process else None)

    @classmethod
    def from_url(cls, url: str) -> SqliteStore:
        """`sqlite:///relative/path.db` or `sqlite:////absolute/path.db` (SQLAlchemy style);
        `?writer=process` (PROTOTYPE, issue 11): batch writes in a process of their own."""
        path, _, query = url.removeprefix("sqlite:///").partition("?")
        return cls(path or "inbox.db", writer_process=query == "writer=process")

    @property
    def chains_writes(self) -> bool:
        """PROTOTYPE (issue 11): batch writes go to a writer process (submit_write)."""
        return self._writer is not None

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db.start(migrate)
        if self._writer is not None:
            self._writer.start()

    async def aclose(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._db.close()
