"""The SQLite store's SLA report from columns held in memory (numpy), one slot per
conversation rowid, kept up to date from the `sla_log` table that triggers fill whenever a
field the report reads changes (schema 3). A report reads only the conversations changed
since the previous one, then counts and sorts in numpy: at a million messages (over 600k
care conversations in 30 days) SQL needed a sort per group and column, seconds in all. The
first report of a process, or one after more changes than the log keeps, loads every
conversation (about a second at that size)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from inbox.model import SlaRow, ts
from inbox.store import percentile_rank

PERCENTILES = (0.5, 0.9, 0.95)
# What the report reads of a conversation, by rowid (the values the SQL report compared).
_FIELDS = ("SELECT rowid, created_at, status != 'listening', channel, "
           "coalesce(assignee, 'unassigned'), first_response_seconds, "
           "first_response_breached = 0, previous_id IS NOT NULL, switched_channel = 1, "
           "resolution_seconds FROM conversations")
_CHUNK = 500  # rowids per lookup of changed conversations
_LOAD = 50_000  # rows per step of a full load (bounded memory)

Floats = npt.NDArray[np.float64]
Codes = npt.NDArray[np.int32]
Flags = npt.NDArray[np.bool_]


def interpolate(ordered: Sequence[float], p: float) -> float | None:
    """The p-quantile of sorted values by linear interpolation (inbox.store.percentile_rank)."""
    if not len(ordered):
        return None
    low, weight = percentile_rank(len(ordered), p)
    if low + 1 >= len(ordered):
        return float(ordered[low])
    below, above = float(ordered[low]), float(ordered[low + 1])
    return below + weight * (above - below)


@dataclass
class _Names:
    """Group keys (channel, agent, day) as small integer codes."""

    names: list[str] = field(default_factory=list)
    codes: dict[str, int] = field(default_factory=dict)

    def encode(self, values: Iterable[str]) -> list[int]:
        codes = self.codes
        out = []
        for value in values:
            code = codes.get(value)
            if code is None:
                code = codes[value] = len(self.names)
                self.names.append(value)
            out.append(code)
        return out


class SlaFacts:
    """The report's fields of every conversation, as columns indexed by rowid."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: int | None = None  # the last sla_log seq applied; None: nothing loaded
        self.channels, self.agents, self.days = _Names(), _Names(), _Names()
        self._size = 0
        self.created: npt.NDArray[np.bytes_] = np.zeros(0, "S27")  # created_at, UTF-8
        self.care: Flags = np.zeros(0, bool)  # a row, not listening
        self.channel: Codes = np.zeros(0, np.int32)
        self.agent: Codes = np.zeros(0, np.int32)
        self.day: Codes = np.zeros(0, np.int32)
        self.first: Floats = np.zeros(0)  # first_response_seconds, NaN for NULL
        self.met: Flags = np.zeros(0, bool)
        self.repeat: Flags = np.zeros(0, bool)
        self.switched: Flags = np.zeros(0, bool)
        self.resolution: Floats = np.zeros(0)

    def report(self, conn: sqlite3.Connection, since: datetime, until: datetime
               ) -> tuple[SlaRow, ...]:
        """The SLA rows of the care conversations created in [since, until), as of now."""
        with self._lock:
            conn.execute("BEGIN")  # one snapshot for the log and the rows
            try:
                self._catch_up(conn)
            finally:
                conn.execute("COMMIT")
            return self._rows(ts(since).encode(), ts(until).encode())

    def _catch_up(self, conn: sqlite3.Connection) -> None:
        newest, oldest = conn.execute(
            "SELECT coalesce(max(seq), 0), coalesce(min(seq), 0) FROM sla_log").fetchone()
        seen = self._seen
        if seen is None or newest < seen or (newest > seen and oldest > seen + 1):
            self.care[:] = False  # first load, or changes were pruned from the log: read all
            rows = conn.execute(_FIELDS)
            while part := rows.fetchmany(_LOAD):
                self._apply(part, [])
        elif newest > seen:
            changed = [r[0] for r in conn.execute(
                "SELECT DISTINCT conversation FROM sla_log WHERE seq > ?", (seen,))]
            for start in range(0, len(changed), _CHUNK):
                part = changed[start:start + _CHUNK]
                rows = conn.execute(f"{_FIELDS} WHERE rowid IN ({','.join('?' * len(part))})",
                                    part).fetchall()
                self._apply(rows, part)  # a rowid without a row was deleted
        self._seen = newest

    def _apply(self, rows: list[Any], touched: list[int]) -> None:
        for rowid in touched:
            if rowid < self._size:
                self.care[rowid] = False
        if not rows:
            return
        rowid, created, care, channel, agent, first, met, repeat, switched, resolution = (
            list(c) for c in zip(*rows, strict=True))
        ids = np.array(rowid, np.int64)
        encoded = [c.encode() for c in created]
        self._grow(int(ids.max()) + 1, max(len(c) for c in encoded))
        self.created[ids] = encoded
        self.care[ids] = np.array(care, bool)
        self.channel[ids] = self.channels.encode(channel)
        self.agent[ids] = self.agents.encode(agent)
        self.day[ids] = self.days.encode(c[:10] for c in created)
        self.first[ids] = np.array(first, np.float64)  # None -> NaN
        self.met[ids] = np.array([m == 1 for m in met], bool)
        self.repeat[ids] = np.array(repeat, bool)
        self.switched[ids] = np.array([s == 1 for s in switched], bool)
        self.resolution[ids] = np.array(resolution, np.float64)

    def _grow(self, size: int, width: int) -> None:
        if self.created.dtype.itemsize < width:
            self.created = self.created.astype(f"S{width}")
        if size <= len(self.care):
            self._size = max(self._size, size)
            return
        capacity = max(size, len(self.care) * 3 // 2)
        for name in ("created", "care", "channel", "agent", "day", "first", "met", "repeat",
                     "switched", "resolution"):
            old = getattr(self, name)
            new = np.zeros(capacity, old.dtype)
            new[:len(old)] = old
            setattr(self, name, new)
        self.care[self._size:] = False
        self._size = size

    def _rows(self, since: bytes, until: bytes) -> tuple[SlaRow, ...]:
        n = self._size
        created = self.created[:n]
        picked = np.flatnonzero(self.care[:n] & (created >= since) & (created < until))
        rows: list[SlaRow] = []
        first = _Ordered(self.first, picked)
        resolution = _Ordered(self.resolution, picked)
        for group, codes, names in (("all", None, ["all"]),
                                    ("channel", self.channel, self.channels.names),
                                    ("agent", self.agent, self.agents.names),
                                    ("day", self.day, self.days.names)):
            rows += self._group(group, codes, names, picked, first, resolution)
        return tuple(rows)

    def _group(self, group: str, codes: Codes | None, names: list[str],
               picked: npt.NDArray[np.intp], first: _Ordered, resolution: _Ordered
               ) -> list[SlaRow]:
        size = len(names)

        def count(flags: Flags | None = None) -> npt.NDArray[np.intp]:
            where = picked if flags is None else picked[flags[picked]]
            keys = np.zeros(len(where), np.int32) if codes is None else codes[where]
            return np.bincount(keys, minlength=size)

        total, met, repeat, switched = (count(), count(self.met), count(self.repeat),
                                        count(self.switched))
        firsts, resolutions = first.by(codes, size), resolution.by(codes, size)
        rows = []
        for code in sorted(np.flatnonzero(total).tolist(), key=names.__getitem__):
            ps = [interpolate(firsts[code], p) for p in PERCENTILES]
            rs = [interpolate(resolutions[code], p) for p in PERCENTILES]
            rows.append(SlaRow(group, names[code], int(total[code]), len(firsts[code]),
                               int(met[code]), p50=ps[0], p90=ps[1], p95=ps[2],
                               repeat=int(repeat[code]), switched=int(switched[code]),
                               resolved=len(resolutions[code]), resolution_p50=rs[0],
                               resolution_p90=rs[1]))
        return rows


class _Ordered:
    """The non-NULL values of one column among the picked rows, sorted once; by group."""

    def __init__(self, column: Floats, picked: npt.NDArray[np.intp]) -> None:
        values = column[picked]
        known = ~np.isnan(values)
        order = np.argsort(values[known], kind="stable")
        self.rows = picked[known][order]
        self.values = values[known][order]

    def by(self, codes: Codes | None, size: int) -> list[Floats]:
        """Each group's values, sorted (a stable sort by group keeps the value order)."""
        if codes is None:
            return [self.values]
        keys = codes[self.rows]
        grouped = self.values[np.argsort(keys, kind="stable")]
        ends = np.cumsum(np.bincount(keys, minlength=size))
        return np.split(grouped, ends[:-1])
