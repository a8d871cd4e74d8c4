"""The SQLite store's reports: first-response and resolution SLAs (search.sqlite_sla)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from inbox.model import Channel, ResolutionReport, SlaRow, ts
from search.sqlite_db import Database

if TYPE_CHECKING:
    from search.sqlite_sla import SlaFacts


class SqliteReports:
    """Reports part of SqliteStore."""

    _db: Database
    _sla: SlaFacts | None = None
    _sla_made = threading.Lock()

    async def sla_report(self, since: datetime, until: datetime) -> tuple[SlaRow, ...]:
        def op(conn: sqlite3.Connection) -> tuple[SlaRow, ...]:
            return self._sla_facts().report(conn, since, until)

        return await self._db.read(op)

    async def resolution_report(self, since: datetime, until: datetime) -> ResolutionReport:
        def op(conn: sqlite3.Connection) -> ResolutionReport:
            return self._sla_facts().chains(conn, since, until)

        return await self._db.read(op)

    async def inbound_hours(self, since: datetime, until: datetime) -> list[tuple[datetime, int]]:
        # the hours are counted by the writer (schema 13, message_hours): 24 rows a day
        def op(conn: sqlite3.Connection) -> list[tuple[datetime, int]]:
            rows = conn.execute(
                "SELECT hour, n FROM message_hours WHERE hour >= ? AND hour < ? AND n > 0 "
                "ORDER BY hour", (ts(since)[:13], ts(until)[:13])).fetchall()
            return [(datetime.fromisoformat(f"{hour}:00:00+00:00"), int(n)) for hour, n in rows]

        return await self._db.read(op)

    async def backlog(self, cutoffs: Sequence[datetime]) -> dict[tuple[str, int], int]:
        # bucket k holds the waits that started before k cutoffs: [s_k, s_k-1) of the
        # cutoffs newest first. One range count per channel and bucket over the backlog
        # index (schema 15), the index alone: 30 ms at 612k waiting, where one grouped
        # read of the rows took 0.5-0.7 s.
        bounds = [ts(c) for c in sorted(cutoffs, reverse=True)]
        sql = ("SELECT count(*) FROM conversations WHERE channel = ? AND status = 'open' "
               "AND awaiting_since IS NOT NULL AND awaiting_since >= ? AND awaiting_since < ?")

        def op(conn: sqlite3.Connection) -> dict[tuple[str, int], int]:
            found: dict[tuple[str, int], int] = {}
            for channel in Channel:
                upper = "~"  # after every time
                for bucket, lower in enumerate([*bounds, ""]):
                    n = conn.execute(sql, (channel.value, lower, upper)).fetchone()[0]
                    if n:
                        found[(channel.value, bucket)] = int(n)
                    upper = lower
            return found

        return await self._db.read(op)

    def _sla_facts(self) -> SlaFacts:
        """The report's columns, made by the first report: numpy (15 MB) is loaded only in
        the processes that make reports, never in a poller."""
        with self._sla_made:
            if self._sla is None:
                from search.sqlite_sla import SlaFacts  # noqa: PLC0415 - see above

                self._sla = SlaFacts()
            return self._sla
