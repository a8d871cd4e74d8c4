"""The SQLite store's reports: first-response and resolution SLAs, computed in SQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime

from inbox.model import SlaRow, ts
from inbox.store import percentile_rank
from search.sqlite_db import Database

PERCENTILES = (0.5, 0.9, 0.95)
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



class SqliteReports:
    """Reports part of SqliteStore."""

    _db: Database

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
