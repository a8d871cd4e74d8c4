"""When a customer can expect an answer: the later of their conversation's deadline (the live
SLA calendar) and the time within which the team answered nine in ten of the channel's
customers lately (the queue as customers lived it).

Why the recent p90 and not the backlog over a pace: teams do not answer in arrival order (a
social team answers new posts first and leaves a pile), so the number waiting over the rate
of answers told customers days where they were in fact answered within hours. The recent
first responses, counted in the channel's time (business hours or 24/7), say what the queue
does. A worker job measures them every few minutes from the SLA report and keeps them in the
store: a report is too heavy for every acknowledgement, and pollers never load numpy."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from inbox.collections import QUEUE_PACE
from inbox.errors import ConfigError
from inbox.model import parse_ts, utcnow
from inbox.sla import SlaPolicy
from inbox.store import Store

log = logging.getLogger(__name__)
WINDOW = timedelta(days=7)  # the first responses of conversations created this recently
MIN_ANSWERS = 20  # fewer answered than this in the window: the deadline alone
STALE = timedelta(days=1)  # measured longer ago (no worker lately): not used
KEY = "pace"


class Outlook:
    """The expected answer time told to customers, over the store and the SLA policy."""

    def __init__(self, store: Store, sla: SlaPolicy,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store, self.sla, self.clock = store, sla, clock

    async def refresh(self, now: datetime | None = None) -> dict[str, float]:
        """Measure each channel's recent p90 first response (seconds of its counted time)
        and keep it (a worker job)."""
        now = now or self.clock()
        p90 = {row.key: row.p90 for row in await self.store.sla_report(now - WINDOW, now)
               if row.group == "channel" and row.p90 is not None
               and row.answered >= MIN_ANSWERS}
        await self.store.collection(QUEUE_PACE).put(KEY, {"at": now.isoformat(), "p90": p90})
        return p90

    async def recent(self, channel: str, now: datetime | None = None) -> float | None:
        """The channel's recent p90 first response in seconds; None when not known."""
        now = now or self.clock()
        doc = await self.store.collection(QUEUE_PACE).get(KEY)
        if doc is None or now - parse_ts(doc["at"]) > STALE:
            return None
        return doc["p90"].get(channel)

    async def expected(self, channel: str, due_at: datetime | None,
                       now: datetime | None = None) -> datetime | None:
        """When to tell the customer to expect an answer: their deadline, or later when the
        team lately took longer than that for one in ten (never earlier: a promise)."""
        now = now or self.clock()
        return self.told(channel, due_at, await self.recent(channel, now), now)

    def told(self, channel: str, due_at: datetime | None, recent: float | None,
             now: datetime) -> datetime | None:
        """`expected` for a recent p90 already read (seconds; None: not known)."""
        if recent is None:
            return due_at
        try:
            reached = self.sla.after(channel, now, timedelta(seconds=recent))
        except (ValueError, ConfigError):
            log.info("expected answer time beyond the calendar", extra={"channel": channel})
            return due_at
        return reached if due_at is None or reached > due_at else due_at
