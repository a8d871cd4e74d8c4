"""Spike alerts of saved searches: a scheduled job (`check`) counts each subscribed search's
voice of the customer (inbox.usecases.search `voice`) in the last complete hour, judges it
against the same hour of the previous days (inbox.spikes) and tells the subscribers once per
spike: in the app (notifications), by webhook and by email. Each alert says why: the count
against the baseline, the top trending terms and three sample messages (contacts redacted).

Where each search stands is kept in the store (spike_states), so a restart neither alerts
again nor misses the end of a spike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from inbox import query as ql
from inbox import spikes
from inbox.collections import SavedSearchDoc, SpikeStateDoc
from inbox.errors import InboxError
from inbox.model import And, FieldTerm, Message, QueryNode, User, utcnow
from inbox.privacy import redact_message
from inbox.store import Store
from inbox.trending import Period, Sample, trending
from inbox.usecases.accounts import Accounts
from inbox.usecases.delivery import NO_SMTP, Alert, Delivery, Mailer
from inbox.usecases.notifications import Notifications
from inbox.usecases.saved_searches import MAX_SEARCHES
from inbox.usecases.search import CUSTOMERS, Search
from inbox.webhook import Webhook

__all__ = ["NO_SMTP", "AlertSettings", "Mailer", "SpikeAlerts"]

log = logging.getLogger(__name__)

PAGE = 500  # messages read per search page while counting an hour
MAX_SCAN = 20_000  # messages read per hour counted (beyond: the count stops there)
TREND_SAMPLE = 500  # messages of each hour kept for the trending terms
SAMPLES = 3
TOP_TERMS = 5


@dataclass(frozen=True, slots=True)
class AlertSettings:
    k: float = 3.0  # standard deviations above the mean
    minimum: int = 5  # an hour with fewer messages is never a spike
    history_days: int = 7  # previous days with customer messages a baseline needs
    webhook: Webhook | None = None


@dataclass(frozen=True, slots=True)
class HourCount:
    count: int
    newest: list[Message]  # the hour's newest matches (up to TREND_SAMPLE)


class SpikeAlerts:
    def __init__(self, store: Store, search: Search, accounts: Accounts,
                 notifications: Notifications, settings: AlertSettings,
                 mailer: Mailer | None = None, public_url: str | None = None) -> None:
        self.store, self.search, self.accounts = store, search, accounts
        self.settings, self.mailer = settings, mailer
        self.public_url = (public_url or "").rstrip("/")
        self.delivery = Delivery(notifications, accounts, settings.webhook, mailer)
        self.page = PAGE

    async def check(self, now: datetime | None = None) -> dict[str, spikes.Verdict]:
        """Judge the last complete hour of every subscribed saved search (once per hour per
        search); alerts go out in the background (`drain` waits for them)."""
        hour = spikes.last_complete_hour(now or utcnow())
        verdicts = {}
        for _, doc in await self.store.saved_searches.list(None, MAX_SEARCHES):
            if not doc["subscribers"]:
                continue
            try:
                verdict = await self.check_search(doc, hour)
            except InboxError as exc:
                log.warning("spike check failed", extra={"search": doc["id"], "error": str(exc)})
                continue
            if verdict is not None:
                verdicts[doc["id"]] = verdict
        return verdicts

    async def check_search(self, doc: SavedSearchDoc, hour: datetime) -> spikes.Verdict | None:
        """The verdict on this hour (None: judged already); alerts a new spike."""
        state = await self.store.spike_states.get(doc["id"])
        stamp = hour.isoformat()
        if state is not None and state["hour"] >= stamp:
            return None
        voice = self._voice(doc)
        now = await self.hour_count(voice, hour)
        history: list[int] | None = None
        before: list[Message] = []
        if await self._history_days(hour) >= self.settings.history_days:
            counts = [await self.hour_count(voice, h) for h in spikes.baseline_hours(hour)]
            history = [c.count for c in counts]
            before = [m for c in counts for m in c.newest]
        # a spike alerted lasts until an hour judged falls back (hours the worker missed
        # do not end it: a restart never alerts the same spike again)
        since = (datetime.fromisoformat(state["since"])
                 if state and state["spiking"] and state["since"] else None)
        verdict = spikes.judge(now.count, history, self.settings.k, self.settings.minimum,
                               hour, since)
        new: SpikeStateDoc = {"hour": stamp, "spiking": verdict.high,
                              "since": verdict.since.isoformat() if verdict.since else None}
        ended = _ended(state, verdict.high, stamp)
        if ended is not None:
            new["ended"] = ended  # the crisis view lists it for a while (inbox.usecases.crisis)
        if not await self.store.spike_states.swap(doc["id"], state, new):
            return None  # another worker judged it meanwhile
        if verdict.alert:
            payload = await self._payload(doc, hour, verdict, now, before)
            await self.store.spike_states.put(doc["id"], {
                **new, "delivery": await self._tell(doc, payload)})
        return verdict

    async def aclose(self) -> None:
        """Stop the deliveries under way (the process is stopping)."""
        await self.delivery.aclose()

    async def drain(self) -> None:
        """Wait for the webhook and email deliveries under way."""
        await self.delivery.drain()

    # --- counting ------------------------------------------------------------------------

    def _voice(self, doc: SavedSearchDoc) -> QueryNode:
        owner = User(id=doc["owner"], email=doc["owner_email"], role="admin", password_hash="")
        node = ql.resolve_me(ql.parse(doc["query"]), owner.id)
        return self.search.voice(owner, node)

    async def hour_count(self, voice: QueryNode, start: datetime) -> HourCount:
        """The voice's messages created in [start, start + 1 h): the day's matches, newest
        first, read until the hour's start (at most MAX_SCAN)."""
        day = start.date()
        node = And((*_parts(voice), FieldTerm("after", day.isoformat()),
                    FieldTerm("before", (day + timedelta(days=1)).isoformat())))
        end, count, read, cursor = start + spikes.HOUR, 0, 0, None
        newest: list[Message] = []
        while read < MAX_SCAN:
            page = await self.store.search(node, cursor, self.page)
            for m in page.messages:
                if m.created_at < start:
                    return HourCount(count, newest)
                if m.created_at < end:
                    count += 1
                    if len(newest) < TREND_SAMPLE:
                        newest.append(m)
            read += len(page.messages)
            cursor = page.next_cursor
            if not cursor or not page.messages:
                break
        return HourCount(count, newest)

    async def _history_days(self, hour: datetime) -> int:
        """Of the previous HISTORY_DAYS days, how many had customer messages at all."""
        first = hour.date() - timedelta(days=spikes.HISTORY_DAYS)
        node = And((*CUSTOMERS, FieldTerm("after", first.isoformat()),
                    FieldTerm("before", hour.date().isoformat())))
        return sum(1 for _, n in await self.store.volume(node, "day") if n)

    # --- telling -------------------------------------------------------------------------

    def _link(self, doc: SavedSearchDoc) -> str:
        return "/voc?" + urlencode({"q": doc["query"]})

    async def _payload(self, doc: SavedSearchDoc, hour: datetime, verdict: spikes.Verdict,
                       now: HourCount, before: list[Message]) -> dict[str, Any]:
        """What an alert says: the count against the baseline, the terms that rose against
        the baseline hours (the team's names left out) and the hour's newest messages."""
        assert verdict.baseline is not None
        team = [n for u in await self.accounts.users() for n in (u.name, u.email)]
        trend = trending(Period(hour.date(), hour.date() + timedelta(days=1)),
                         Sample(now.newest, now.count),
                         Sample(before, max(len(before), 1)), team, TOP_TERMS)
        samples = [redact_message(m) for m in now.newest[:SAMPLES]]
        return {
            "kind": "spike", "search": {"id": doc["id"], "name": doc["name"],
                                        "query": doc["query"]},
            "hour": hour.isoformat(), "since": verdict.since.isoformat()
            if verdict.since else None,
            "count": verdict.count, "baseline": {
                "mean": round(verdict.baseline.mean, 2),
                "stdev": round(verdict.baseline.stdev, 2),
                "threshold": round(verdict.baseline.threshold, 2),
                "k": self.settings.k, "minimum": self.settings.minimum},
            "terms": [{"term": t.term, "count": t.count, "previous": t.previous}
                      for t in trend.terms],
            "samples": [{"id": m.id, "link": self.public_url + f"/conversations/"
                         f"{m.conversation_id}", "text": m.text[:280]} for m in samples],
            "link": self.public_url + self._link(doc)}

    async def _tell(self, doc: SavedSearchDoc, payload: dict[str, Any]) -> dict[str, str]:
        """Tell the subscribers (inbox.usecases.delivery); what happened to each way."""
        return await self.delivery.tell(doc["subscribers"], Alert(
            kind="spike", by=doc["name"], link=self._link(doc), why=summary(payload),
            subject=f"Spike: {doc['name']}", text=email_text(payload), payload=payload),
            doc["id"])


def _ended(state: SpikeStateDoc | None, high: bool, stamp: str) -> dict[str, str] | None:
    """The last spike that fell back: this hour's, if it ends one, or the one kept."""
    if state is None:
        return None
    if state["spiking"] and state["since"] and not high:
        return {"since": state["since"], "until": stamp}
    return state.get("ended")


def _parts(node: QueryNode) -> tuple[QueryNode, ...]:
    return node.nodes if isinstance(node, And) else (node,)


def summary(payload: dict[str, Any]) -> str:
    """One line: the count against the baseline and the top terms."""
    base = payload["baseline"]
    terms = ", ".join(t["term"] for t in payload["terms"]) or "none"
    return (f"{payload['count']} messages in the hour from {payload['hour'][11:16]} UTC "
            f"against {base['mean']:g} usually (threshold {base['threshold']:g}); "
            f"top terms: {terms}")


def email_text(payload: dict[str, Any]) -> str:
    lines = [f"Saved search “{payload['search']['name']}” ({payload['search']['query']}) "
             "spiked.", "", summary(payload), "", "Sample messages:"]
    lines += [f"- {s['text']!s:.200} ({s['link']})" for s in payload["samples"]]
    lines += ["", f"See it: {payload['link']}"]
    return "\n".join(lines)
