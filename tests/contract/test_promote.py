"""A listening hit made a care conversation, on every store: open in the queue with a
response deadline from the promotion, counted in the SLA report from then on; anything
else is refused, and so is a stale version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inbox.enrich import no_enrichment
from inbox.errors import Refused, StaleVersion
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.model import Conversation, ConversationFilter, IdentityRef, Status, User
from inbox.sla import SlaPolicy
from inbox.store import Store
from inbox.usecases.conversations import Conversations
from tests.factories import inbound

DANA = User("u-dana", "dana@example.com", "agent", "-", name="Dana")
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
HIT_AT = NOW - timedelta(days=2)  # the post was found two days ago


async def hit(store: Store, listening: bool = True) -> Conversation:
    """A post found by a listening rule (or, listening=False, one mentioning the brand)."""
    ingest = Ingestor(store, enrich=no_enrichment, sla=SlaPolicy(), events=EventBus())
    result = await ingest.ingest([inbound("100", "my broadband is down again", channel="x",
                                          authors=(IdentityRef("x", "200", "ann_x"),),
                                          when=HIT_AT, listening=listening)])
    return await store.get_conversation(result.stored[0].conversation_id)


async def queue(store: Store, status: Status | None = Status.OPEN) -> list[str]:
    page = await store.list_conversations(ConversationFilter(status=status), None, 50)
    return [c.id for c in page.items]


async def test_a_promoted_hit_is_open_in_the_queue_with_a_deadline(store: Store) -> None:
    conv = await hit(store)
    assert conv.status == Status.LISTENING and conv.due_at is None
    assert conv.id not in await queue(store)
    sla = await store.sla_report(HIT_AT - timedelta(days=1), NOW)
    assert not any(r.group == "all" for r in sla)  # a hit is not care

    events = EventBus()
    async with events.subscribe() as seen:
        promoted = await Conversations(store, events, SlaPolicy(), clock=lambda: NOW
                                       ).promote(conv.id, DANA, conv.version)
        event = seen.get_nowait()
    assert (event.kind, event.conversation_id) == ("conversation.updated", conv.id)

    stored = await store.get_conversation(conv.id)
    assert stored == promoted and stored.status == Status.OPEN
    assert stored.version == conv.version + 1
    # X is answered round the clock within the hour, counted from the promotion
    assert stored.awaiting_since == NOW and stored.due_at == NOW + timedelta(hours=1)
    assert stored.due_basis and "from 2026-11-30 09:00" in stored.due_basis
    assert conv.id in await queue(store)
    due = await store.list_conversations(ConversationFilter(order="due"), None, 50)
    assert [c.id for c in due.items] == [conv.id]
    overall = {(r.group, r.key): r for r in await store.sla_report(
        HIT_AT - timedelta(days=1), NOW)}[("all", "all")]
    assert (overall.conversations, overall.answered) == (1, 0)  # care now, not answered yet
    changes = await store.changes.list(f"{conv.id}/", 10)
    assert [doc["action"] for _, doc in changes] == ["promote"]
    assert any((doc["action"], doc["actor"], doc["target"]) == ("promote", DANA.email, conv.id)
               for _, doc in await store.audit.list(None, 50))


async def test_only_a_listening_hit_is_promoted(store: Store) -> None:
    care = await hit(store, listening=False)  # a mention: already in the care queue
    service = Conversations(store, EventBus(), SlaPolicy(), clock=lambda: NOW)
    with pytest.raises(Refused, match="not a listening hit"):
        await service.promote(care.id, DANA, care.version)
    assert await store.get_conversation(care.id) == care  # untouched


async def test_a_stale_version_is_not_promoted(store: Store) -> None:
    conv = await hit(store)
    service = Conversations(store, EventBus(), SlaPolicy(), clock=lambda: NOW)
    await service.set_priority(conv.id, "high", DANA, conv.version)
    with pytest.raises(StaleVersion) as stale:
        await service.promote(conv.id, DANA, conv.version)
    assert any("priority" in line for line in stale.value.changes)
    assert (await store.get_conversation(conv.id)).status == Status.LISTENING


async def test_opening_a_hit_by_its_status_starts_the_clock_too(store: Store) -> None:
    conv = await hit(store)
    service = Conversations(store, EventBus(), SlaPolicy(), clock=lambda: NOW)
    opened = await service.set_status(conv.id, Status.OPEN, DANA, conv.version)
    assert opened.awaiting_since == NOW and opened.due_at == NOW + timedelta(hours=1)
