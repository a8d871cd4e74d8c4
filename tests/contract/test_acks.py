"""Acknowledgements on every store: claimed once per conversation and period even by two
workers at once, sent as automated outbound messages that stop no clock, in the customer's
language; the templates kept, listed and reset by key."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from inbox.config import AckSettings
from inbox.enrich import no_enrichment
from inbox.errors import ValidationError
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.model import Direction, IdentityRef, Status, User, utcnow
from inbox.sla import SlaPolicy
from inbox.store import Store
from inbox.usecases.acks import Acknowledgements
from inbox.usecases.conversations import Conversations
from inbox.usecases.replies import Replies
from tests.contract.test_races import Outbox
from tests.factories import inbound

MANAGER = User("u-mia", "mia@example.com", "manager", "-", name="Mia")
ANN = (IdentityRef("email", "ann@example.com", "Ann Lee"),)



class Desk:
    """One worker: its clock, ingest and acknowledgements over a shared store and outbox."""

    def __init__(self, store: Store, outbox: Outbox, now: list[datetime]) -> None:
        conversations = Conversations(store, EventBus(), SlaPolicy(), clock=lambda: now[0])
        self.acks = Acknowledgements(Replies(conversations, {"email": outbox}),
                                     AckSettings(period_hours=24))
        self.ingest = Ingestor(store, enrich=no_enrichment, sla=SlaPolicy(), events=EventBus(),
                               clock=lambda: now[0])
        self.ingest.on_opened = self.acks.opened


async def test_one_acknowledgement_per_conversation_and_period(store: Store) -> None:
    outbox, now = Outbox(), [utcnow()]
    one, two = Desk(store, outbox, now), Desk(store, outbox, now)
    first = await one.ingest.ingest([inbound("m1", "Where is my parcel?", authors=ANN,
                                             when=now[0], lang="nl",
                                             thread_keys=("mid:m1",))])
    (conv_id,) = {m.conversation_id for m in first.stored}
    assert len(outbox.sent) == 1 and "Hallo Ann" in outbox.sent[0]  # her language
    conv = await store.get_conversation(conv_id)
    assert conv.first_response_at is None and conv.due_at is not None
    assert f"#{conv.ref}" in outbox.sent[0]

    # both workers handed the same batch again (a replay, a restart): nothing more
    assert await asyncio.gather(one.acks.opened(first), two.acks.opened(first)) == [0, 0]
    (auto,) = [m for m in await store.conversation_messages(conv_id)
               if m.direction == Direction.OUTBOUND]
    assert auto.automated and auto.meta["auto"] == "ack" and auto.delivery == "sent"

    # resolved and written to again: within the period nothing, after it one more
    await one.acks.replies.conversations.set_status(conv_id, Status.RESOLVED, MANAGER)
    again = await one.ingest.ingest([inbound("m2", "Still waiting", authors=ANN,
                                             when=now[0] + timedelta(hours=1),
                                             thread_keys=("mid:m2",),
                                             parent_keys=("mid:m1",))])
    assert again.opened and len(outbox.sent) == 1
    await one.acks.replies.conversations.set_status(conv_id, Status.RESOLVED, MANAGER)
    now[0] += timedelta(hours=25)
    quiet = Desk(store, outbox, now)  # ingests, acknowledges nothing itself
    quiet.ingest.on_opened = None
    later = await quiet.ingest.ingest([inbound("m3", "And again", authors=ANN, when=now[0],
                                               parent_keys=("mid:m1",))])
    assert later.opened and len(outbox.sent) == 1
    # two workers at once: one claims it, one sends
    assert sorted(await asyncio.gather(one.acks.opened(later), two.acks.opened(later))) == [0, 1]
    assert len(outbox.sent) == 2


async def test_templates_are_kept_listed_and_reset(store: Store) -> None:
    acks = Desk(store, Outbox(), [utcnow()]).acks
    before = await acks.templates()
    assert len(before) == 3 * 3 * 5 and not any(t["custom"] for t in before)  # kind, channel, lang
    text = "Danke {customer_first_name}! Antwort {expected_answer_time}."
    await acks.save_template(MANAGER, "ack", "email", "de", text)
    saved = {(t["kind"], t["channel"], t["lang"]): t for t in await acks.templates()}
    assert saved["ack", "email", "de"]["custom"]
    assert saved["ack", "email", "de"]["by"] == MANAGER.email
    assert await acks.template("ack", "email", "de") == text
    assert acks.preview("ack", "email", "de", text).startswith("Danke Ann! Antwort bis ")
    await acks.reset_template(MANAGER, "ack", "email", "de")
    assert "Hallo" in await acks.template("ack", "email", "de")
    with pytest.raises(ValidationError) as refused:
        await acks.save_template(MANAGER, "ack", "fax", "xx", "hi")
    assert set(refused.value.errors) == {"channel", "lang"}
    with pytest.raises(ValidationError):
        await acks.save_template(MANAGER, "ack", "email", "de", " \x00 ")


async def test_old_mail_read_for_the_first_time_is_not_acknowledged(store: Store) -> None:
    outbox, now = Outbox(), [utcnow()]
    desk = Desk(store, outbox, now)
    old = await desk.ingest.ingest([inbound("m-old", "From last week", authors=ANN,
                                            when=now[0] - timedelta(days=3))])
    assert old.opened and outbox.sent == []
