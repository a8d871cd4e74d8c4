"""Conversation merges and splits on every store: messages move with their derived fields
recounted, the merged one leaves the queues and leads to the survivor (customer answers
threading into it too), and undo puts back exactly what was there, or says why it cannot."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from inbox import merge as merge_module
from inbox.conversation_merge import fields
from inbox.enrich import no_enrichment
from inbox.errors import NotFound, Refused, StaleVersion
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.model import (
    Conversation,
    ConversationFilter,
    Delivery,
    Direction,
    IdentityRef,
    Status,
    User,
)
from inbox.sla import Calendar, SlaPolicy
from inbox.store import Store, WriteBatch
from inbox.usecases.conversations import Conversations, agent_message
from search.sqlite import SqliteStore
from tests.factories import inbound
from tests.schema_history import TO_SCHEMA_8, reopened_at

DANA = User("u-dana", "dana@example.com", "agent", "-", name="Dana")
ANN = (IdentityRef("email", "ann@example.com", "Ann"),)
BOB = (IdentityRef("email", "bob@example.com", "Bob"),)
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday, in business hours
POLICY = SlaPolicy()


def service(store: Store) -> tuple[Conversations, EventBus]:
    events = EventBus()
    return Conversations(store, events, POLICY, clock=lambda: NOW), events


async def wrote(store: Store, ext: str, text: str, hours_ago: float, keys: tuple[str, ...] = (),
                parents: tuple[str, ...] = (), channel: str = "email",
                authors: tuple[IdentityRef, ...] = ANN, lang: str | None = None) -> Conversation:
    """A customer message (its own thread unless `parents` names one); its conversation."""
    ingest = Ingestor(store, enrich=no_enrichment, sla=POLICY, events=EventBus())
    result = await ingest.ingest([inbound(ext, text, channel=channel, authors=authors,
                                          when=NOW - timedelta(hours=hours_ago),
                                          thread_keys=keys or (f"mid:{ext}",),
                                          parent_keys=parents, lang=lang)])
    return await store.get_conversation(result.stored[0].conversation_id)


async def answered(store: Store, conv: Conversation, hours_ago: float) -> Conversation:
    """An agent reply, sent, as the reply use case writes it."""
    at = NOW - timedelta(hours=hours_ago)
    msg = replace(agent_message(conv, Direction.OUTBOUND, "we are on it", DANA, "out", at),
                  delivery=Delivery.SENT)
    after = replace(POLICY.answered(replace(conv, message_count=conv.message_count + 1,
                                            last_message_at=max(conv.last_message_at, at)),
                                    at), version=conv.version + 1)
    await store.write(WriteBatch(conversations=(after,), messages=(msg,)))
    return after


async def open_ids(store: Store) -> list[str]:
    page = await store.list_conversations(ConversationFilter(status=Status.OPEN), None, 50)
    return [c.id for c in page.items]


async def two(store: Store) -> tuple[Conversation, Conversation]:
    """Ann's email thread (asked 5 h ago, answered 4 h ago) and her web form (2 h ago)."""
    a = await wrote(store, "<a1@x>", "my bill is wrong", 5)
    a = await answered(store, a, 4)
    b = await wrote(store, "<b1@x>", "still about my bill", 2, channel="webform")
    return await store.get_conversation(a.id), b


async def test_merge_moves_the_messages_and_recounts_the_survivor(store: Store) -> None:
    convs, events = service(store)
    a, b = await two(store)
    assert a.awaiting_since is None and b.awaiting_since is not None
    before = events.last_id
    done = await convs.merges.merge(b.id, a.id, DANA, b.version, a.version)

    kept = await store.get_conversation(a.id)
    assert kept == done.survivor and kept.version == a.version + 1
    assert kept.channel == a.channel  # the survivor keeps its channel: replies go there
    texts = [m.text for m in await store.conversation_messages(a.id)]
    assert texts == ["my bill is wrong", "we are on it", "still about my bill"]
    assert kept.message_count == 3 and kept.last_message_at == b.last_message_at
    assert kept.status == Status.OPEN
    assert kept.first_response_at == a.first_response_at  # its answer, kept
    assert kept.awaiting_since == b.awaiting_since  # Ann's unanswered message waits
    due = POLICY.due(a.channel, b.last_message_at, later=True)  # a next response
    assert due is not None and (kept.due_at, kept.due_basis) == due  # on the survivor's clock

    gone = await store.get_conversation(b.id)
    assert gone.status == Status.MERGED and gone.merged_into == a.id
    assert gone.ref == b.ref  # "#ref" still names it, and leads to the survivor
    assert (await store.conversations_by_refs([b.ref or 0]))[b.ref or 0].merged_into == a.id
    assert await store.conversation_messages(b.id) == ()
    assert await open_ids(store) == [a.id]

    audit = [doc for _, doc in await store.audit.list(None, 50)]
    assert [d["action"] for d in audit] == ["merge conversation"]
    moved = (await store.conversation_messages(a.id))[-1]
    assert audit[0]["target"].startswith(f"#{b.ref} into #{a.ref}: 1 message ({moved.id})")
    assert audit[0]["actor"] == DANA.email
    assert [r["id"] for r in await convs.merges.history(a.id)] == [done.record["id"]]
    (everyone,) = [r for r in await store.sla_report(NOW - timedelta(days=1), NOW)
                   if r.group == "all"]
    assert everyone.conversations == 1  # the merged one is counted in the survivor
    live = [(n.event.conversation_id, n.event.data["action"]) for n in events.missed(before) or []]
    assert live == [(a.id, "merge"), (b.id, "merged")]  # open queues and threads update


async def test_the_survivor_speaks_the_language_of_the_latest_customer_message(
        store: Store) -> None:
    convs, _ = service(store)
    a = await wrote(store, "<l1@x>", "mijn rekening klopt niet", 3, lang="nl")
    b = await wrote(store, "<l2@x>", "ma facture est fausse", 1, lang="fr")
    assert (a.lang, b.lang) == ("nl", "fr")
    done = await convs.merges.merge(b.id, a.id, DANA, b.version)
    assert (await store.get_conversation(a.id)).lang == "fr"  # the queue's language filter
    await convs.merges.undo(a.id, done.record["id"], DANA)
    assert (await store.get_conversation(a.id)).lang == "nl"


async def test_customer_answers_threading_into_the_merged_one_land_in_the_survivor(
        store: Store) -> None:
    convs, _ = service(store)
    a, b = await two(store)
    await convs.merges.merge(b.id, a.id, DANA, b.version)
    later = await wrote(store, "<b2@x>", "hello?", 1, parents=("mid:<b1@x>",))
    assert later.id == a.id and later.message_count == 4
    by_ref = await wrote(store, "<b3@x>", "again", 0.5, keys=(f"conv:{b.ref}",))
    assert by_ref.id == a.id  # "[#ref]" of the merged one in a subject
    gone = await store.get_conversation(b.id)
    assert gone.status == Status.MERGED and await open_ids(store) == [a.id]


async def test_undo_puts_back_exactly_what_was_there(store: Store) -> None:
    convs, _ = service(store)
    a, b = await two(store)
    done = await convs.merges.merge(b.id, a.id, DANA, b.version, a.version)
    undone = await convs.merges.undo(a.id, done.record["id"], DANA, done.survivor.version)
    again = await convs.merges.undo(a.id, done.record["id"], DANA, done.survivor.version)
    assert again.repeated and again.record["undone_at"] == undone.record["undone_at"]

    back_a, back_b = await store.get_conversation(a.id), await store.get_conversation(b.id)
    assert fields(back_a) == fields(a) and fields(back_b) == fields(b)
    assert (back_a.ref, back_b.ref) == (a.ref, b.ref)
    assert [m.text for m in await store.conversation_messages(b.id)] == ["still about my bill"]
    assert len(await store.conversation_messages(a.id)) == 2
    assert sorted(await open_ids(store)) == sorted([a.id, b.id])
    actions = sorted(d["action"] for _, d in await store.audit.list(None, 50))
    assert actions == ["merge conversation", "unmerge conversation"]
    later = await wrote(store, "<b2@x>", "hello?", 1, parents=("mid:<b1@x>",))
    assert later.id == b.id  # B is live again: its thread is its own


async def test_undo_is_refused_once_a_message_arrived_since(store: Store) -> None:
    convs, _ = service(store)
    a, b = await two(store)
    done = await convs.merges.merge(b.id, a.id, DANA, b.version, a.version)
    await wrote(store, "<a2@x>", "any news?", 1, parents=("mid:<a1@x>",))
    with pytest.raises(Refused, match="changed since the merge"):
        await convs.merges.undo(a.id, done.record["id"], DANA)
    assert (await store.get_conversation(b.id)).status == Status.MERGED


async def test_refusals_stale_versions_and_a_double_click(store: Store) -> None:
    convs, _ = service(store)
    a, b = await two(store)
    other = await wrote(store, "<c1@x>", "hi from Bob", 1, authors=BOB)
    with pytest.raises(Refused, match="merge the customers first"):
        await convs.merges.merge(other.id, a.id, DANA, other.version)
    with pytest.raises(Refused, match="itself"):
        await convs.merges.merge(a.id, a.id, DANA, a.version)
    with pytest.raises(StaleVersion):
        await convs.merges.merge(b.id, a.id, DANA, b.version - 1 or 99)
    with pytest.raises(StaleVersion):
        await convs.merges.merge(b.id, a.id, DANA, b.version, a.version - 1)
    first = await convs.merges.merge(b.id, a.id, DANA, b.version, a.version)
    second = await convs.merges.merge(b.id, a.id, DANA, b.version, a.version)
    assert second.repeated and second.record["id"] == first.record["id"]
    assert len(await store.conversation_messages(a.id)) == 3
    with pytest.raises(Refused, match="merged into another"):  # no work on the merged one
        await convs.set_status(b.id, Status.RESOLVED, DANA)
    with pytest.raises(NotFound):
        await convs.merges.undo(a.id, "g-none", DANA)


async def test_split_moves_a_message_and_the_later_ones_into_a_new_conversation(
        store: Store) -> None:
    convs, _ = service(store)
    a = await wrote(store, "<a1@x>", "my bill is wrong", 5)
    a = await answered(store, a, 4)
    a = await wrote(store, "<a2@x>", "and my address changed", 3, parents=("mid:<a1@x>",))
    await convs.add_note(a.id, "address: see CRM", DANA)
    messages = await store.conversation_messages(a.id)
    second = next(m for m in messages if m.text == "and my address changed")

    done = await convs.merges.split(a.id, second.id, DANA, a.version, later=True)
    again = await convs.merges.split(a.id, second.id, DANA, a.version, later=True)
    assert again.repeated and again.other.id == done.other.id

    new, left = done.other, await store.get_conversation(a.id)
    assert new.ref is not None and new.ref != a.ref
    assert (new.customer_id, new.channel, new.status) == (a.customer_id, a.channel, Status.OPEN)
    assert [m.text for m in await store.conversation_messages(new.id)] == [
        "and my address changed", "address: see CRM"]
    assert new.message_count == 1 and new.awaiting_since == second.created_at
    assert left.message_count == 2 and left.awaiting_since is None and left.due_at is None
    assert left.last_message_at == a.first_response_at
    assert sorted(await open_ids(store)) == sorted([a.id, new.id])

    await convs.merges.undo(a.id, done.record["id"], DANA, left.version)
    back = await store.get_conversation(a.id)
    assert fields(back) == fields(a)
    assert len(await store.conversation_messages(a.id)) == 4
    folded = await store.get_conversation(new.id)
    assert folded.status == Status.MERGED and folded.merged_into == a.id
    assert await open_ids(store) == [a.id]


async def test_split_refuses_to_empty_a_conversation(store: Store) -> None:
    convs, _ = service(store)
    a = await wrote(store, "<a1@x>", "my bill is wrong", 5)
    (only,) = await store.conversation_messages(a.id)
    with pytest.raises(Refused, match="nothing would be left"):
        await convs.merges.split(a.id, only.id, DANA, a.version)
    with pytest.raises(NotFound):
        await convs.merges.split(a.id, "m-none", DANA, a.version)
    note = await convs.add_note(a.id, "just a note", DANA)
    with pytest.raises(Refused, match="a note alone"):
        await convs.merges.split(a.id, note.id, DANA, a.version)


async def test_an_older_sqlite_file_gains_merged_into(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "inbox.db")
    await store.open()
    a, b = await two(store)
    store = await reopened_at(store, TO_SCHEMA_8)
    try:
        assert (await store.get_conversation(b.id)).merged_into is None
        convs, _ = service(store)
        await convs.merges.merge(b.id, a.id, DANA, b.version)
        assert (await store.get_conversation(b.id)).merged_into == a.id
    finally:
        await store.aclose()


async def test_customers_merged_then_their_conversations_come_apart_in_that_order(
        store: Store) -> None:
    convs, _ = service(store)
    a = await wrote(store, "<a1@x>", "my bill is wrong", 5)
    other = await wrote(store, "<c1@x>", "hi, Bob here: same bill", 1, authors=BOB)
    bob = other.customer_id
    record = await merge_module.merge(store, a.customer_id, bob, DANA)
    other = await store.get_conversation(other.id)
    done = await convs.merges.merge(other.id, a.id, DANA, other.version)
    with pytest.raises(Refused, match="undo that conversation merge first"):
        await merge_module.undo(store, a.customer_id, record["id"], DANA)
    await convs.merges.undo(a.id, done.record["id"], DANA)
    await merge_module.undo(store, a.customer_id, record["id"], DANA)
    assert (await store.get_conversation(other.id)).customer_id == bob
    assert [m.text for m in await store.conversation_messages(other.id)] == [
        "hi, Bob here: same bill"]


async def test_undo_with_deadlines_in_the_calendars_own_zone(store: Store) -> None:
    berlin = SlaPolicy(calendar=Calendar(timezone="Europe/Berlin"))
    convs = Conversations(store, EventBus(), berlin, clock=lambda: NOW)
    ingest = Ingestor(store, enrich=no_enrichment, sla=berlin, events=EventBus())
    made = []
    for ext in ("<a1@x>", "<b1@x>"):
        result = await ingest.ingest([inbound(ext, "help", authors=ANN, when=NOW,
                                              thread_keys=(f"mid:{ext}",))])
        made.append(await store.get_conversation(result.stored[0].conversation_id))
    a, b = made
    done = await convs.merges.merge(b.id, a.id, DANA, b.version)
    assert done.survivor.due_at is not None
    await convs.merges.undo(a.id, done.record["id"], DANA)
    assert fields(await store.get_conversation(a.id)) == fields(a)


async def test_a_merge_out_of_pending_ends_the_resolution_pause(store: Store) -> None:
    """The survivor takes the more active status (open, from the other): its wait on the
    customer ends at the merge, counted 24/7 on X; undo puts the pause back."""
    x = (IdentityRef("x", "42", "@ann"),)
    a = await wrote(store, "x1", "my bill is wrong", 5, channel="x", authors=x)
    earlier = Conversations(store, EventBus(), POLICY, clock=lambda: NOW - timedelta(hours=3))
    a = await earlier.set_status(a.id, Status.PENDING, DANA)
    assert a.pending_since == NOW - timedelta(hours=3)
    b = await wrote(store, "x2", "still about my bill", 2, channel="x", authors=x)
    convs, _ = service(store)
    done = await convs.merges.merge(b.id, a.id, DANA, b.version, a.version)
    assert done.survivor.status == Status.OPEN and done.survivor.pending_since is None
    assert done.survivor.paused_seconds == 3 * 3600
    assert (await store.get_conversation(b.id)).status == Status.MERGED
    await convs.merges.undo(a.id, done.record["id"], DANA)
    back = await store.get_conversation(a.id)
    assert (back.status, back.pending_since, back.paused_seconds) == (
        Status.PENDING, NOW - timedelta(hours=3), 0.0)
