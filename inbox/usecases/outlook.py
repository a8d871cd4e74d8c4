"""When a customer can expect an answer: the later of their conversation's deadline (the live
SLA calendar) and the time the team reaches them at the pace it answered lately (the queue).

The pace, conversations answered per hour of each channel's counted time (business hours or
24/7, as its target counts) over the last week, comes from the SLA report. A worker job
refreshes it every few minutes and keeps it in the store: a report is too heavy to make for
every acknowledgement, and pollers never load the report's numpy. The queue, how many of the
channel's conversations wait for an answer now, is counted live (the store's backlog)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from inbox.collections import QUEUE_PACE
from inbox.errors import ConfigError
from inbox.model import parse_ts, utcnow
from inbox.sla import SlaPolicy, add_business_time
from inbox.store import Store

log = logging.getLogger(__name__)
WINDOW = timedelta(days=7)  # the pace is of the answers in this last stretch
MIN_ANSWERS = 20  # fewer answers than this in the window: no pace, the deadline alone
STALE = timedelta(days=1)  # a pace older than this (no worker lately) is not used
KEY = "pace"


@dataclass(frozen=True, slots=True)
class Estimate:
    """A channel's queue now: how many wait, the recent pace and when a newcomer is reached."""

    channel: str
    waiting: int
    per_hour: float | None  # answers per hour of the channel's counted time
    reached_at: datetime | None  # None: no pace known


class Outlook:
    """The expected answer time told to customers, over the store and the SLA policy."""

    def __init__(self, store: Store, sla: SlaPolicy,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store, self.sla, self.clock = store, sla, clock

    async def refresh(self, now: datetime | None = None) -> dict[str, float]:
        """Measure each channel's pace over the last week and keep it (a worker job)."""
        now = now or self.clock()
        since = now - WINDOW
        pace: dict[str, float] = {}
        for row in await self.store.sla_report(since, now):
            hours = self.sla.elapsed(row.key, since, now) / 3600 if row.group == "channel" else 0
            if hours > 0 and row.answered >= MIN_ANSWERS:
                pace[row.key] = row.answered / hours
        await self.store.collection(QUEUE_PACE).put(KEY, {"at": now.isoformat(),
                                                          "per_hour": pace})
        return pace

    async def estimate(self, channel: str, now: datetime | None = None) -> Estimate:
        """How the channel's queue stands now (everyone waiting, the newcomer included)."""
        now = now or self.clock()
        backlog = await self.store.backlog(())
        waiting = sum(n for (ch, _), n in backlog.items() if ch == channel)
        doc = await self.store.collection(QUEUE_PACE).get(KEY)
        per_hour = None
        if doc is not None and now - parse_ts(doc["at"]) <= STALE:
            per_hour = doc["per_hour"].get(channel)
        if not per_hour or not waiting:
            return Estimate(channel, waiting, per_hour, None)
        return Estimate(channel, waiting, per_hour,
                        self._after(channel, now, timedelta(hours=waiting / per_hour)))

    async def expected(self, channel: str, due_at: datetime | None,
                       now: datetime | None = None) -> datetime | None:
        """When to tell the customer to expect an answer: their deadline, or later when the
        queue at the recent pace reaches them only after it (never earlier: a promise)."""
        reached = (await self.estimate(channel, now)).reached_at
        if reached is None:
            return due_at
        return reached if due_at is None or reached > due_at else due_at

    def _after(self, channel: str, start: datetime, wait: timedelta) -> datetime | None:
        """`wait` of the channel's counted time after `start` (None: beyond the calendar)."""
        target = self.sla.target(channel)
        try:
            if target is not None and target.business_hours:
                return add_business_time(start, wait, self.sla.calendar)
            return start + wait
        except (ValueError, OverflowError, ConfigError):
            log.info("queue estimate beyond the calendar", extra={"channel": channel})
            return None

