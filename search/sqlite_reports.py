"""The SQLite store's reports: first-response and resolution SLAs (search.sqlite_sla)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from inbox.model import SlaRow
from search.sqlite_db import Database
from search.sqlite_sla import SlaFacts


class SqliteReports:
    """Reports part of SqliteStore."""

    _db: Database
    _sla: SlaFacts

    async def sla_report(self, since: datetime, until: datetime) -> tuple[SlaRow, ...]:
        def op(conn: sqlite3.Connection) -> tuple[SlaRow, ...]:
            return self._sla.report(conn, since, until)

        return await self._db.read(op)
