"""The SQLite store's SLA report from columns held in memory (numpy), one slot per
conversation rowid, kept up to date from the `sla_log` table (schema 4) where the store logs
every conversation it writes. A report reads only the conversations written since the
previous one, then counts and sorts in numpy: at a million messages (over 600k care
conversations in 30 days) SQL needed a sort per group and column, seconds in all. The first
report of a process, or one further behind than the log keeps (sqlite_batch.LOG_KEEP
writes), loads every
conversation (about two seconds at that size). Slots are rowids: a VACUUM of the file
(which the product never runs) may renumber them, so run one only with the store stopped."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from inbox.model import ResolutionReport, SlaRow, channel_day, ts
from search.chains import Chains, resolution_report, resolution_slots
from search.percentiles import interpolate

PERCENTILES = (0.5, 0.9, 0.95)
# What the report reads of a conversation, by rowid (the values the SQL report compared).
_FIELDS = ("SELECT rowid, created_at, status NOT IN ('listening', 'merged'), channel, "
           "coalesce(assignee, 'unassigned'), first_response_seconds, "
           "coalesce(first_response_breached = 0, 0), previous_id IS NOT NULL, "
           "coalesce(switched_channel = 1, 0), "
           "resolution_seconds, "
           "resolved_at, "
           "coalesce((SELECT p.rowid FROM conversations p WHERE p.id = conversations.previous_id"
           "), 0), next_response_seconds, json_array_length(next_response_missed) "
           "FROM conversations")
_CHUNK = 500  # rowids per lookup of changed conversations
_LOAD = 20_000  # rows per step of a full load (bounded memory)

Floats = npt.NDArray[np.float64]
Codes = npt.NDArray[np.int32]
Flags = npt.NDArray[np.bool_]
Keys = npt.NDArray[np.integer[Any]]
# Bit number -> the flag combinations (0..7) that have it; None: all of them.
_BITS: dict[int | None, list[int]] = {
    None: list(range(8)), **{b: [c for c in range(8) if c >> b & 1] for b in range(3)}}


@dataclass
class _Names:
    """Group keys (channel, agent, day) as small integer codes."""

    names: list[str] = field(default_factory=list)
    codes: dict[str, int] = field(default_factory=dict)

    def encode(self, values: list[str]) -> list[int]:
        codes = self.codes
        for value in dict.fromkeys(values):
            if value not in codes:
                codes[value] = len(self.names)
                self.names.append(value)
        return list(map(codes.__getitem__, values))


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
        self.created_s: Floats = np.zeros(0)  # created_at, epoch seconds
        self.resolved_s: Floats = np.zeros(0)  # resolved_at, epoch seconds; NaN for NULL
        self.parent: npt.NDArray[np.int64] = np.zeros(0, np.int64)  # previous_id's rowid; 0
        # the responses after the first: how many, how many missed, and their seconds (a
        # list per conversation that has some, else 0)
        self.next_n: Codes = np.zeros(0, np.int32)
        self.next_missed: Codes = np.zeros(0, np.int32)
        self.nexts: npt.NDArray[np.object_] = np.zeros(0, object)

    def report(self, conn: sqlite3.Connection, since: datetime, until: datetime
               ) -> tuple[SlaRow, ...]:
        """The SLA rows of the care conversations created in [since, until), as of now."""
        with self._lock:
            self._snapshot(conn)
            return self._rows(ts(since).encode(), ts(until).encode())

    def chains(self, conn: sqlite3.Connection, since: datetime, until: datetime
               ) -> ResolutionReport:
        """First-contact resolution and journey times (search.chains), as of now."""

        with self._lock:
            self._snapshot(conn)
            return resolution_report(*self._chains(since, until))

    def resolution_rowids(self, conn: sqlite3.Connection, since: datetime, until: datetime,
                          what: str, group: str, key: str) -> list[int]:
        """The rowids behind one count of the resolution report (search.chains
        .resolution_slots), the newest first, as of now."""
        with self._lock:
            self._snapshot(conn)
            return [int(k) for k in resolution_slots(*self._chains(since, until), what, group,
                                                     key)]

    def _chains(self, since: datetime, until: datetime) -> tuple[Chains, Flags]:
        """The columns as chains (slots: rowids), and which were created in [since, until)."""
        n = self._size
        created = self.created[:n]
        in_range = (created >= ts(since).encode()) & (created < ts(until).encode())
        return Chains(
            created=self.created_s[:n], resolved=self.resolved_s[:n],
            parent=np.where(self.parent[:n] > 0, self.parent[:n], -1),
            repeat=self.repeat[:n], care=self.care[:n],
            channel=self.channel[:n], channels=self.channels.names,
            agent=self.agent[:n], agents=self.agents.names), in_range

    def _snapshot(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN")  # one snapshot for the log and the rows
        try:
            self._catch_up(conn)
        finally:
            conn.execute("COMMIT")

    def _catch_up(self, conn: sqlite3.Connection) -> None:
        cur = conn.cursor()
        cur.row_factory = None  # plain tuples, the fastest rows
        newest, oldest = cur.execute(
            "SELECT coalesce(max(seq), 0), coalesce(min(seq), 0) FROM sla_log").fetchone()
        seen = self._seen
        if seen is None or newest < seen or (newest > seen and oldest > seen + 1):
            self.care[:] = False  # first load, or changes were pruned from the log: read all
            last = cur.execute("SELECT coalesce(max(rowid), 0) FROM conversations").fetchone()
            self._grow(last[0] + 1, 0)  # all the room at once
            cur.execute(_FIELDS)
            while rows := cur.fetchmany(_LOAD):
                self._apply(rows, [])
        elif newest > seen:
            changed = [r[0] for r in cur.execute(
                "SELECT DISTINCT conversation FROM sla_log WHERE seq > ?", (seen,))]
            for start in range(0, len(changed), _CHUNK):
                part = changed[start:start + _CHUNK]
                cur.execute(f"{_FIELDS} WHERE rowid IN ({','.join('?' * len(part))})", part)
                self._apply(cur.fetchall(), part)  # a rowid without a row was deleted
        self._seen = newest

    def _apply(self, rows: list[Any], touched: list[int]) -> None:
        """Rows of _FIELDS into their slots; the touched rowids without a row are gone."""
        for gone in touched:
            if gone < self._size:
                self.care[gone] = False
        if not rows:
            return
        (rowids, created, care, channel, agent, first, met, repeat, switched, resolution,
         resolved, parent, nexts, next_missed) = (list(c) for c in zip(*rows, strict=True))
        ids = np.array(rowids, np.int64)
        encoded = [c.encode() for c in created]
        self._grow(int(ids.max()) + 1, max(map(len, encoded)))
        self.created[ids] = encoded
        self.care[ids] = care
        self.channel[ids] = self.channels.encode(channel)
        self.agent[ids] = self.agents.encode(agent)
        self.day[ids] = self.days.encode([c[:10] for c in created])
        self.first[ids] = np.array(first, np.float64)  # None -> NaN
        self.met[ids] = met
        self.repeat[ids] = repeat
        self.switched[ids] = switched
        self.resolution[ids] = np.array(resolution, np.float64)
        self.created_s[ids] = _epochs(created)
        self.resolved_s[ids] = _epochs(resolved)
        self.parent[ids] = parent
        self.nexts[ids] = 0
        self.next_n[ids] = 0
        for rowid, text in zip(rowids, nexts, strict=True):
            if text != "[]":  # a list (an object of its own, not numpy's to broadcast)
                seconds = orjson.loads(text)
                self.nexts[rowid], self.next_n[rowid] = seconds, len(seconds)
        self.next_missed[ids] = next_missed

    def _grow(self, size: int, width: int) -> None:
        """Room for rowids below `size` and created_at values of `width` bytes."""
        if self.created.dtype.itemsize < width:
            self.created = self.created.astype(f"S{width}")
        self._size = max(self._size, size)
        if size <= len(self.care):
            return
        capacity = max(size, len(self.care) * 3 // 2)
        for name in ("created", "care", "channel", "agent", "day", "first", "met", "repeat",
                     "switched", "resolution", "created_s", "resolved_s", "parent", "next_n",
                     "next_missed", "nexts"):
            old = getattr(self, name)
            new = np.zeros(capacity, old.dtype)
            new[:len(old)] = old
            setattr(self, name, new)

    def _rows(self, since: bytes, until: bytes) -> tuple[SlaRow, ...]:
        n = self._size
        created = self.created[:n]
        picked = np.flatnonzero(self.care[:n] & (created >= since) & (created < until))
        # The three flags of a row as bits: one bincount per grouping counts them all.
        bits = (self.met[picked] | self.repeat[picked] << 1 | self.switched[picked] << 2
                ).astype(np.intp)
        first = _Ordered(self.first[picked])
        resolution = _Ordered(self.resolution[picked])
        nexts = self._nexts(picked)
        rows: list[SlaRow] = []
        days = self.days.names
        per_day = self.channel * len(days) + self.day  # a code per channel and day
        both = [channel_day(day, channel) for channel in self.channels.names for day in days]
        for group, codes, names in (("all", None, ["all"]),
                                    ("channel", self.channel, self.channels.names),
                                    ("agent", self.agent, self.agents.names),
                                    ("day", self.day, days),
                                    ("channel_day", per_day, both)):
            keys: Keys = (np.zeros(len(picked), np.intp) if codes is None
                          else codes[picked].astype(np.intp))  # what bincount takes
            rows += _group_rows(group, names, keys, bits, first, resolution, nexts)
        return tuple(rows)

    def _nexts(self, picked: Keys) -> _Nexts:
        """The picked conversations' responses after the first, each with the position of
        its conversation among the picked ones."""
        counts = self.next_n[picked]
        some = np.flatnonzero(counts)
        total = int(counts.sum())
        values = np.fromiter(chain.from_iterable(self.nexts[picked[some]]), np.float64, total)
        return _Nexts(counts, self.next_missed[picked], np.repeat(some, counts[some]),
                      _Ordered(values))


@dataclass(frozen=True)
class _Nexts:
    """Responses after the first: per picked conversation how many and how many missed;
    per response its conversation's position (owner) and its seconds, sorted (ordered)."""

    counts: Codes
    missed: Codes
    owner: Keys
    ordered: _Ordered


def _epochs(stamps: list[str | None]) -> Floats:
    """Timestamps (inbox.model.ts, or None) as epoch seconds (NaN), parsed by numpy."""
    times = np.array([s and s[:26] for s in stamps], "datetime64[us]")
    return np.where(np.isnat(times), np.nan, times.astype(np.int64) / 1e6)


def _group_rows(group: str, names: list[str], keys: Keys, bits: Keys, first: _Ordered,
                resolution: _Ordered, nexts: _Nexts) -> list[SlaRow]:
    """One grouping's rows, by key: the picked rows' group codes (keys) and flags (bits)."""
    cells = np.bincount(keys << 3 | bits, minlength=len(names) << 3).reshape(-1, 8)
    total, met, repeat, switched = (cells[:, _BITS[bit]].sum(axis=1) for bit in (None, 0, 1, 2))
    keys = _small(keys, len(names))
    firsts, resolutions = first.by(keys, len(names)), resolution.by(keys, len(names))
    answered = np.bincount(keys, weights=nexts.counts, minlength=len(names))
    missed = np.bincount(keys, weights=nexts.missed, minlength=len(names))
    later = nexts.ordered.by(keys[nexts.owner], len(names))
    rows = []
    for code in sorted(np.flatnonzero(total).tolist(), key=names.__getitem__):
        ps = [interpolate(firsts[code], p) for p in PERCENTILES]
        rs = [interpolate(resolutions[code], p) for p in PERCENTILES]
        rows.append(SlaRow(group, names[code], int(total[code]), len(firsts[code]),
                           int(met[code]), p50=ps[0], p90=ps[1], p95=ps[2],
                           repeat=int(repeat[code]), switched=int(switched[code]),
                           resolved=len(resolutions[code]), resolution_p50=rs[0],
                           resolution_p90=rs[1], next_answered=int(answered[code]),
                           next_met=int(answered[code] - missed[code]),
                           next_p50=interpolate(later[code], 0.5),
                           next_p90=interpolate(later[code], 0.9)))
    return rows


def _small(codes: Keys, size: int) -> Keys:
    """Group codes in the smallest type: numpy sorts 16-bit integers by radix, fast."""
    return codes.astype(np.uint16) if size <= 1 << 16 else codes


class _Ordered:
    """The non-NULL values of one column among the picked rows, sorted once; by group."""

    def __init__(self, values: Floats) -> None:
        known = np.flatnonzero(~np.isnan(values))
        order = np.argsort(values[known])
        self.rows, self.values = known[order], values[known][order]

    def by(self, keys: Keys, size: int) -> list[Floats]:
        """Each group's values, sorted (a stable sort by group keeps the value order)."""
        if size == 1:
            return [self.values]
        ranked = keys[self.rows]
        grouped = self.values[np.argsort(ranked, kind="stable")]
        ends = np.cumsum(np.bincount(ranked.astype(np.intp), minlength=size))
        return np.split(grouped, ends[:-1])
