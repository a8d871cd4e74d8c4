"""The SQLite store's reports: first-response and resolution SLAs (search.sqlite_sla)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from inbox.model import Channel, Message, Page, ResolutionReport, SlaRow, ts
from search.sqlite_db import Database
from search.sqlite_rows import decode_cursor, encode_cursor, to_message

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

    async def resolution_ids(self, since: datetime, until: datetime, what: str, group: str,
                             key: str) -> list[str]:
        def op(conn: sqlite3.Connection) -> list[str]:
            rowids = self._sla_facts().resolution_rowids(conn, since, until, what, group, key)
            ids: dict[int, str] = {}
            for start in range(0, len(rowids), 500):
                part = rowids[start:start + 500]
                ids.update(conn.execute("SELECT rowid, id FROM conversations WHERE rowid IN "
                                        f"({','.join('?' * len(part))})", part).fetchall())
            return [ids[k] for k in rowids if k in ids]

        return await self._db.read(op)

    async def inbound_hours(self, since: datetime, until: datetime) -> list[tuple[datetime, int]]:
        # the hours are counted by the writer (schema 13, message_hours): 24 rows a day
        def op(conn: sqlite3.Connection) -> list[tuple[datetime, int]]:
            rows = conn.execute(
                "SELECT hour, n FROM message_hours WHERE hour >= ? AND hour < ? AND n > 0 "
                "ORDER BY hour", (ts(since)[:13], ts(until)[:13])).fetchall()
            return [(datetime.fromisoformat(f"{hour}:00:00+00:00"), int(n)) for hour, n in rows]

        return await self._db.read(op)

    async def hour_messages(self, hours: Sequence[datetime], cursor: str | None, limit: int
                            ) -> Page[Message]:
        # what message_hours counts (schema 13: inbound, not automated), an hour at a time,
        # the newest first, each read in the order of the messages_recent index: a page
        # reads about its own rows, not every message of the cell's hours (0.24 s at 1M)
        after = decode_cursor(cursor, 2) if cursor else None
        sql = ("SELECT * FROM messages WHERE created_at >= ? AND created_at < ? "
               "AND (created_at, id) < (?, ?) AND direction = 'inbound' AND automated = 0 "
               "ORDER BY created_at DESC, id DESC LIMIT ?")

        def op(conn: sqlite3.Connection) -> Page[Message]:
            rows: list[sqlite3.Row] = []
            for hour in sorted(hours, reverse=True):
                start, end = ts(hour), ts(hour + timedelta(hours=1))
                if after and after[0] < start:
                    continue  # the cursor is in an older hour
                below = after or [end, ""]
                rows += conn.execute(sql, (start, end, *below, limit + 1 - len(rows)))
                if len(rows) > limit:
                    break
            last = rows[limit - 1] if len(rows) > limit else None
            return Page(tuple(to_message(r) for r in rows[:limit]),
                        encode_cursor([last["created_at"], last["id"]]) if last else None)

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
