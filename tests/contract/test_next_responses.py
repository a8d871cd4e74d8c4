"""Next-response figures and resolution paused while waiting on the customer, on every
store: the SLA report's next responses against a hand-computed fixture, and the pause kept
through the real status changes (agent sets pending, the customer writes back, resolve)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from inbox.enrich import no_enrichment
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.model import Conversation, IdentityRef, SlaRow, Status, User
from inbox.sla import Calendar, SlaPolicy
from inbox.store import Store, WriteBatch
from inbox.usecases.conversations import Conversations
from inbox.usecases.reports import drill_filter
from search.sqlite import SqliteStore
from tests.factories import at, conversation, customer, inbound
from tests.schema_history import TO_SCHEMA_13, reopened_at


def _next(vid: str, channel: str, day: int, seconds: tuple[float, ...], missed: int,
          assignee: str | None = None, **kw: Any) -> Conversation:
    """A conversation answered at first, then `seconds` later responses, the first
    `missed` of them after their deadline."""
    given = tuple(at(day, 13, n) for n in range(len(seconds)))
    return conversation(vid, "c1", channel, day, assignee=assignee,
                        first_response_seconds=60.0, first_response_breached=False,
                        first_response_at=at(day, 12, 30), next_response_at=given,
                        next_response_seconds=seconds, next_response_missed=given[:missed],
                        **kw)


FIXTURE = (
    _next("e0", "email", 3, (600.0, 1800.0), 1, "u1"),
    _next("e1", "email", 3, (1200.0,), 0, "u1"),
    _next("e2", "email", 3, (2400.0, 3000.0, 4200.0), 1, "u2"),
    _next("e3", "email", 3, (), 0, "u2"),  # answered once only
    _next("x1", "x", 4, (60.0,), 0),
    _next("x2", "x", 4, (90.0,), 1, status="listening"),  # not care: left out
    _next("x3", "x", 30, (5.0,), 0),  # outside the range
)


async def test_the_report_counts_next_responses_and_their_percentiles(store: Store) -> None:
    await store.write(WriteBatch(customers=(customer("c1"),), conversations=FIXTURE))
    rows = {(r.group, r.key): r for r in await store.sla_report(at(1), at(20))}
    # email: 600 1200 1800 2400 3000 4200; p50 at rank 2.5, p90 at rank 4.5
    email = rows[("channel", "email")]
    assert (email.next_answered, email.next_met) == (6, 4)
    assert email.next_compliance == pytest.approx(4 / 6)
    assert (email.next_p50, email.next_p90) == (pytest.approx(2100.0), pytest.approx(3600.0))
    # all: 60 and the email ones; p50 at rank 3, p90 at rank 5.4
    overall = rows[("all", "all")]
    assert (overall.next_answered, overall.next_met) == (7, 5)
    assert (overall.next_p50, overall.next_p90) == (pytest.approx(1800.0),
                                                    pytest.approx(3480.0))
    xs = rows[("channel", "x")]
    assert (xs.next_answered, xs.next_met, xs.next_p50, xs.next_p90) == (1, 1, 60.0, 60.0)
    u1, u2 = rows[("agent", "u1")], rows[("agent", "u2")]
    assert (u1.next_answered, u1.next_met, u1.next_p50) == (3, 2, pytest.approx(1200.0))
    assert (u2.next_answered, u2.next_met, u2.next_p90) == (3, 2, pytest.approx(3960.0))
    assert rows[("day", "2026-11-04")].next_answered == 1
    assert rows[("day", "2026-11-03")].next_answered == 6


async def test_the_report_follows_a_next_response_undone(store: Store) -> None:
    """A rejected reply's next response leaves the report (the store keeps up)."""
    await store.write(WriteBatch(customers=(customer("c1"),), conversations=FIXTURE))
    assert _all(await store.sla_report(at(1), at(20))).next_answered == 7
    e2 = await store.get_conversation("e2")
    undone = SlaPolicy().reply_rejected(e2, at(3, 12, 45), e2.next_response_at[0])
    assert undone.next_response_seconds == (3000.0, 4200.0) and not undone.next_response_missed
    await store.write(WriteBatch(conversations=(replace(undone, version=e2.version + 1),)))
    overall = _all(await store.sla_report(at(1), at(20)))
    assert (overall.next_answered, overall.next_met) == (6, 5)


async def test_the_drill_down_lists_the_conversations_behind_next_responses(
        store: Store) -> None:
    await store.write(WriteBatch(customers=(customer("c1"),), conversations=FIXTURE))

    async def listed(response: str, group: str = "all", key: str = "all") -> list[str]:
        page = await store.list_conversations(
            drill_filter(at(1), at(20), group, key, response), None, 50)
        return [c.id for c in page.items]

    assert await listed("next") == ["x1", "e2", "e1", "e0"]  # the newest first
    assert await listed("next_missed") == ["e2", "e0"]
    assert await listed("next", "agent", "u2") == ["e2"]
    assert await listed("next_missed", "channel", "x") == []


def _all(rows: tuple[SlaRow, ...]) -> SlaRow:
    return next(r for r in rows if r.group == "all")


async def test_a_store_of_schema_13_gains_pauses_and_next_responses(
        sqlite_store: SqliteStore) -> None:
    await sqlite_store.write(WriteBatch(customers=(customer("c1"),), conversations=(
        conversation("old", "c1", "email", 3, first_response_seconds=60.0,
                     first_response_breached=False),)))
    store = await reopened_at(sqlite_store, TO_SCHEMA_13)
    try:
        old = await store.get_conversation("old")
        assert (old.pending_since, old.paused_seconds, old.next_response_seconds) == (
            None, 0.0, ())
        await store.write(WriteBatch(conversations=FIXTURE))
        assert _all(await store.sla_report(at(1), at(20))).next_answered == 7
        again = replace(old, version=2, pending_since=at(3, 14), paused_seconds=30.0)
        await store.write(WriteBatch(conversations=(again,)))
        assert await store.get_conversation("old") == again
    finally:
        await store.aclose()


# --- resolution paused while pending, through the use cases ---------------------------

DANA = User("u-dana", "dana@example.com", "agent", "-", name="Dana")
ANN = (IdentityRef("email", "ann@example.com", "Ann"),)
MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # business hours Mon-Fri 09:00-17:00 UTC


class Clock:
    def __init__(self) -> None:
        self.now = MONDAY

    def __call__(self) -> datetime:
        return self.now


async def test_time_pending_does_not_count_toward_resolution(store: Store) -> None:
    policy = SlaPolicy(Calendar())
    clock = Clock()
    convs = Conversations(store, EventBus(), policy, clock=clock)
    ingest = Ingestor(store, enrich=no_enrichment, sla=policy, events=EventBus())
    found = await ingest.ingest([inbound("<q1@x>", "my bill is wrong", authors=ANN,
                                         when=MONDAY, thread_keys=("mid:<q1@x>",))])
    vid = found.stored[0].conversation_id

    clock.now = MONDAY + timedelta(hours=2)  # 11:00: waiting on Ann
    pending = await convs.set_status(vid, Status.PENDING, DANA)
    assert pending.pending_since == clock.now and pending.paused_seconds == 0.0

    # Ann answers on Tuesday 10:00: 6 + 1 business hours paused (Monday 11-17, Tuesday 9-10)
    await ingest.ingest([inbound("<q2@x>", "here is the invoice", authors=ANN,
                                 when=MONDAY + timedelta(days=1, hours=1),
                                 thread_keys=("mid:<q1@x>",))])
    reopened = await store.get_conversation(vid)
    assert reopened.status == Status.OPEN and reopened.pending_since is None
    assert reopened.paused_seconds == 7 * 3600

    clock.now = MONDAY + timedelta(days=1, hours=3)  # Tuesday 12:00: pending again
    await convs.set_status(vid, Status.PENDING, DANA)
    clock.now = MONDAY + timedelta(days=1, hours=5)  # 14:00: resolved while pending
    done = await convs.set_status(vid, Status.RESOLVED, DANA)
    # created Monday 09:00, resolved Tuesday 14:00: 8 + 5 business hours, 7 + 2 paused
    assert done.pending_since is None and done.paused_seconds == 9 * 3600
    assert done.resolution_seconds == 4 * 3600
    report = _all(await store.sla_report(MONDAY - timedelta(days=1), MONDAY + timedelta(days=1)))
    assert (report.resolved, report.resolution_p50) == (1, 4 * 3600)
