"""Snooze on every store: a snoozed conversation leaves the open views, shows in the snoozed
one with its wake time, and opens again at that time (the sweep) or when the customer
writes (ingest), its response clock as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from inbox.enrich import no_enrichment
from inbox.errors import StaleVersion, ValidationError
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.model import Conversation, ConversationFilter, IdentityRef, Status, User
from inbox.query import parse
from inbox.sla import SlaPolicy
from inbox.store import Store, WriteBatch
from inbox.usecases.conversations import Conversations
from search.sqlite import SqliteStore
from tests.factories import conversation, customer, inbound
from tests.schema_history import TO_SCHEMA_6, reopened_at

DANA = User("u-dana", "dana@example.com", "agent", "-", name="Dana")
ANN = (IdentityRef("email", "ann@example.com", "Ann"),)
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def service(store: Store, clock: Clock) -> tuple[Conversations, EventBus]:
    events = EventBus()
    return Conversations(store, events, SlaPolicy(), clock=clock), events


async def asked(store: Store, text: str = "my bill is wrong") -> Conversation:
    """A conversation Ann started an hour ago (its response clock running)."""
    ingest = Ingestor(store, enrich=no_enrichment, sla=SlaPolicy(), events=EventBus())
    result = await ingest.ingest([inbound("<q1@x>", text, authors=ANN,
                                          when=NOW - timedelta(hours=1),
                                          thread_keys=("mid:<q1@x>",))])
    return await store.get_conversation(result.stored[0].conversation_id)


async def ids(store: Store, status: Status, order: str = "recent") -> list[str]:
    flt = ConversationFilter(status=status, order=order)  # type: ignore[arg-type]
    page = await store.list_conversations(flt, None, 50)
    return [c.id for c in page.items]


async def test_a_snoozed_conversation_leaves_the_open_views_until_it_wakes(store: Store
                                                                          ) -> None:
    clock = Clock()
    convs, _ = service(store, clock)
    conv = await asked(store)
    until = NOW + timedelta(hours=3)
    snoozed = await convs.snooze(conv.id, until, DANA, conv.version)
    stored = await store.get_conversation(conv.id)
    assert stored == snoozed and stored.status == Status.SNOOZED
    assert stored.snoozed_until == until and stored.version == conv.version + 1
    assert (stored.due_at, stored.awaiting_since) == (conv.due_at, conv.awaiting_since)
    assert await ids(store, Status.OPEN) == []
    assert await ids(store, Status.SNOOZED) == [conv.id]

    clock.now = until - timedelta(seconds=1)
    assert await convs.sweep_snoozed() == 0
    clock.now = until
    assert await convs.sweep_snoozed() == 1
    woken = await store.get_conversation(conv.id)
    assert woken.status == Status.OPEN and woken.snoozed_until is None
    assert (woken.due_at, woken.awaiting_since) == (conv.due_at, conv.awaiting_since)
    assert await ids(store, Status.OPEN) == [conv.id]
    assert await convs.sweep_snoozed() == 0


async def test_the_customer_writing_wakes_it_at_once(store: Store) -> None:
    convs, _ = service(store, Clock())
    conv = await asked(store)
    await convs.snooze(conv.id, NOW + timedelta(days=2), DANA, conv.version)
    ingest = Ingestor(store, enrich=no_enrichment, sla=SlaPolicy(), events=EventBus())
    await ingest.ingest([inbound("<q2@x>", "any news?", authors=ANN, when=NOW,
                                 parent_keys=("mid:<q1@x>",))])
    woken = await store.get_conversation(conv.id)
    assert woken.status == Status.OPEN and woken.snoozed_until is None
    assert woken.message_count == 2
    assert woken.awaiting_since == conv.awaiting_since  # the clock still counts from the first


async def test_the_sweep_wakes_the_first_due_first_and_no_later_one(store: Store) -> None:
    clock = Clock()
    convs, events = service(store, clock)
    before = events.last_id
    wake = {f"s{i}": NOW + timedelta(hours=5 - i) for i in range(5)}
    await store.write(WriteBatch(customers=(customer("c1"),), conversations=tuple(
        conversation(vid, "c1", status=Status.SNOOZED, snoozed_until=until)
        for vid, until in wake.items())))
    assert await ids(store, Status.SNOOZED, "wake") == ["s4", "s3", "s2", "s1", "s0"]
    clock.now = NOW + timedelta(hours=3)
    assert await convs.sweep_snoozed() == 3
    assert sorted(await ids(store, Status.OPEN)) == ["s2", "s3", "s4"]
    assert await ids(store, Status.SNOOZED, "wake") == ["s1", "s0"]
    published = [n.event for n in events.missed(before) or []]
    assert sorted(e.conversation_id or "" for e in published
                  if e.kind == "conversation.updated") == ["s2", "s3", "s4"]


async def test_a_snooze_on_a_stale_version_says_what_changed(store: Store) -> None:
    convs, _ = service(store, Clock())
    conv = await asked(store)
    await convs.assign(conv.id, DANA.id, DANA, conv.version)
    with pytest.raises(StaleVersion) as stale:
        await convs.snooze(conv.id, NOW + timedelta(hours=1), User(
            "u-sam", "sam@example.com", "agent", "-", name="Sam"), conv.version)
    assert "Dana assigned it" in " ".join(stale.value.changes)
    assert (await store.get_conversation(conv.id)).status == Status.OPEN
    await convs.snooze(conv.id, NOW + timedelta(hours=1), DANA, conv.version + 1)
    with pytest.raises(StaleVersion) as stale:
        await convs.set_status(conv.id, Status.PENDING, DANA, conv.version + 1)
    assert any("you snoozed it" in c.lower() for c in stale.value.changes)


@pytest.mark.parametrize("until", [NOW - timedelta(minutes=1), NOW,
                                   NOW + timedelta(days=366), datetime(2026, 12, 1, 9)])
async def test_a_time_past_beyond_a_year_or_without_zone_is_refused(store: Store,
                                                                    until: datetime) -> None:
    convs, _ = service(store, Clock())
    conv = await asked(store)
    with pytest.raises(ValidationError):
        await convs.snooze(conv.id, until, DANA, conv.version)
    assert await store.get_conversation(conv.id) == conv


async def test_other_statuses_end_a_snooze_and_none_snoozes_without_a_time(store: Store
                                                                           ) -> None:
    convs, _ = service(store, Clock())
    conv = await asked(store)
    with pytest.raises(ValidationError):
        await convs.set_status(conv.id, Status.SNOOZED, DANA)
    snoozed = await convs.snooze(conv.id, NOW + timedelta(hours=1), DANA)
    pending = await convs.set_status(conv.id, Status.PENDING, DANA, snoozed.version)
    assert pending.status == Status.PENDING and pending.snoozed_until is None
    assert await store.get_conversation(conv.id) == pending
    resolved = await convs.set_status(conv.id, Status.RESOLVED, DANA)
    with pytest.raises(ValidationError):  # a resolved case is not snoozed
        await convs.snooze(conv.id, NOW + timedelta(hours=1), DANA, resolved.version)


async def test_an_older_sqlite_file_gains_the_wake_time(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "inbox.db")
    await store.open()
    conv = await asked(store)
    store = await reopened_at(store, TO_SCHEMA_6)  # a store of schema 6, migrated on open
    try:
        assert (await store.get_conversation(conv.id)).snoozed_until is None
        convs, _ = service(store, Clock())
        await convs.snooze(conv.id, NOW + timedelta(hours=1), DANA, conv.version)
        assert await ids(store, Status.SNOOZED, "wake") == [conv.id]
    finally:
        await store.aclose()


async def test_a_snoozed_clock_alerts_only_once_it_woke(store: Store) -> None:
    clock = Clock()
    convs, _ = service(store, clock)
    conv = await asked(store)
    assert conv.due_at is not None
    await convs.snooze(conv.id, conv.due_at + timedelta(hours=1), DANA, conv.version)
    clock.now = conv.due_at + timedelta(minutes=30)  # breached while snoozed: no alert
    assert await convs.sweep_sla() == {"at_risk": 0, "breached": 0}
    clock.now = conv.due_at + timedelta(hours=1)  # it wakes, breached: one alert
    assert await convs.sweep_snoozed() == 1
    assert await convs.sweep_sla() == {"at_risk": 0, "breached": 1}


async def test_search_finds_what_is_snoozed_and_what_woke(store: Store) -> None:
    clock = Clock()
    convs, _ = service(store, clock)
    conv = await asked(store, "my router blinks red")
    await convs.snooze(conv.id, NOW + timedelta(hours=1), DANA, conv.version)

    async def found(query: str) -> int:
        return (await store.search(parse(query), None, 10)).total

    assert (await found("router status:snoozed"), await found("router status:open")) == (1, 0)
    clock.now = NOW + timedelta(hours=1)
    assert await convs.sweep_snoozed() == 1
    assert (await found("router status:snoozed"), await found("router status:open")) == (0, 1)
