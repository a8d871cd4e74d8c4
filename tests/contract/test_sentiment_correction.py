"""An agent corrects a customer message's sentiment on every store: the agent's label is what
the voice of the customer, its facets, searches, the queue's filter and the conversation's
latest-sentiment field count; the model's label is kept; an edit enriched again never
overwrites it; the correction is versioned, audited, announced and exported for training."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.sentiment_eval import read_labelled
from inbox import corrections
from inbox.enrich import Enricher
from inbox.errors import NotFound, StaleVersion, ValidationError
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.model import FACETS, ConversationFilter, IdentityRef, Message, User
from inbox.passwords import Passwords
from inbox.sla import SlaPolicy
from inbox.store import Store
from inbox.usecases.accounts import Accounts
from inbox.usecases.conversations import Conversations
from inbox.usecases.search import Search
from tests.factories import inbound

DANA = User("u-dana", "dana@example.com", "agent", "-", name="Dana")
MEG = User("u-meg", "meg@example.com", "manager", "-", name="Meg")
ANN = (IdentityRef("email", "ann@example.com", "Ann"),)
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
CHEAP = Passwords(time_cost=1, memory_kib=8, parallelism=1)
HAPPY = "Thank you so much, the engineer fixed it, great service from the team!"
ANGRY = "Still waiting for my refund, charged twice and no reply at all. Terrible."


@pytest.fixture(scope="module")
def enrich() -> Enricher:
    return Enricher()


def _ingestor(store: Store, enrich: Enricher) -> Ingestor:
    return Ingestor(store, enrich=enrich, sla=SlaPolicy(), events=EventBus())


async def _thread(store: Store, enrich: Enricher) -> tuple[Message, Message]:
    """Ann's mail and her angrier answer an hour later, one conversation (the model's labels:
    positive, then negative)."""
    ingest = _ingestor(store, enrich)
    (first,) = (await ingest.ingest([inbound("<a@x>", HAPPY, authors=ANN,
                                             when=NOW - timedelta(hours=3),
                                             thread_keys=("mid:a",))])).stored
    (second,) = (await ingest.ingest([inbound("<b@x>", ANGRY, authors=ANN,
                                              when=NOW - timedelta(hours=2),
                                              thread_keys=("mid:b",),
                                              parent_keys=("mid:a",))])).stored
    assert second.conversation_id == first.conversation_id
    assert (first.sentiment, second.sentiment) == ("positive", "negative")
    return first, second


async def _sentiment_facet(store: Store, query: str = "") -> dict[str, int]:
    search = Search(store, Accounts(store, CHEAP))
    voc = await search.voc(MEG, await search.parse(query, MEG), "day", FACETS)
    return dict(voc.result.facets["sentiment"])


async def test_the_agents_label_is_what_every_count_follows(store: Store,
                                                            enrich: Enricher) -> None:
    first, second = await _thread(store, enrich)
    events = EventBus()
    conversations = Conversations(store, events, clock=lambda: NOW)
    seen = events.last_id
    before = await store.get_conversation(second.conversation_id)
    assert before.sentiment == "negative"

    fixed = await conversations.correct_sentiment(second.conversation_id, second.id,
                                                  "Neutral ", DANA, before.version)

    stored = (await store.messages_by_ids([second.id]))[second.id]
    assert stored == fixed
    assert stored.sentiment == "neutral"
    assert stored.meta["model_sentiment"] == "negative"
    assert stored.meta["model_score"] == second.sentiment_score
    assert stored.meta["corrected_by"] == "Dana"
    assert stored.meta["corrected_at"] == NOW.isoformat()
    assert stored.text == ANGRY
    conv = await store.get_conversation(second.conversation_id)
    assert (conv.sentiment, conv.version) == ("neutral", before.version + 1)
    assert await _sentiment_facet(store) == {"positive": 1, "neutral": 1}
    assert await _sentiment_facet(store, "sentiment:negative") == {}
    assert await _sentiment_facet(store, "refund") == {"neutral": 1}
    listed = await store.list_conversations(ConversationFilter(sentiment="neutral"), None, 10)
    assert [c.id for c in listed.items] == [conv.id]
    assert not (await store.list_conversations(ConversationFilter(sentiment="negative"),
                                               None, 10)).items
    audited = [doc for _, doc in await store.audit.list(None, 50)]
    assert {"actor": "dana@example.com", "action": "sentiment:neutral",
            "target": conv.id} in [{k: d[k] for k in ("actor", "action", "target")}
                                   for d in audited]
    (said,) = (await conversations.stale(conv, before.version, MEG, "")).changes
    assert said.startswith("Dana marked a message neutral ")
    announced = [(n.event.kind, n.event.message_id) for n in events.missed(seen) or []]
    assert ("message.updated", second.id) in announced
    assert ("conversation.updated", None) in announced

    # the earlier message is not the customer's latest: the conversation keeps its label
    await conversations.correct_sentiment(first.conversation_id, first.id, "negative", DANA)
    conv = await store.get_conversation(first.conversation_id)
    assert conv.sentiment == "neutral"
    assert await _sentiment_facet(store) == {"negative": 1, "neutral": 1}

    # a second correction keeps what the model first said
    again = await conversations.correct_sentiment(first.conversation_id, first.id,
                                                  "positive", MEG)
    assert again.meta["model_sentiment"] == "positive"
    assert again.meta["corrected_by"] == "Meg"


async def test_an_edit_enriched_again_keeps_the_agents_label(store: Store,
                                                             enrich: Enricher) -> None:
    ingest = _ingestor(store, enrich)
    post = inbound("100", HAPPY, channel="x", authors=(IdentityRef("x", "200"),),
                   when=NOW - timedelta(hours=1), revision="100")
    (msg,) = (await ingest.ingest([post])).stored
    conversations = Conversations(store, EventBus(), clock=lambda: NOW)
    await conversations.correct_sentiment(msg.conversation_id, msg.id, "negative", DANA)

    edit = replace(post, text=ANGRY.replace("Terrible", "Awful"), revision="101")
    (edited,) = (await ingest.ingest([edit])).updated

    stored = (await store.messages_by_ids([msg.id]))[msg.id]
    assert stored == edited
    assert stored.text.endswith("Awful.")
    assert stored.sentiment == "negative"  # the agent's, over the model's new label
    assert stored.meta["model_sentiment"] == "negative"  # what the model says of the edit
    assert stored.meta["corrected_by"] == "Dana"
    assert (await store.get_conversation(msg.conversation_id)).sentiment == "negative"
    assert await _sentiment_facet(store) == {"negative": 1}


async def test_wrong_corrections_are_refused_and_change_nothing(store: Store,
                                                                enrich: Enricher) -> None:
    first, second = await _thread(store, enrich)
    conversations = Conversations(store, EventBus(), clock=lambda: NOW)
    conv_id = first.conversation_id
    version = (await store.get_conversation(conv_id)).version
    note = await conversations.add_note(conv_id, "looking into it", DANA)
    for label in ("angry", "", "positive\x00", "x" * 100_000, "<script>"):
        with pytest.raises(ValidationError):
            await conversations.correct_sentiment(conv_id, second.id, label, DANA)
    with pytest.raises(ValidationError):
        await conversations.correct_sentiment(conv_id, note.id, "negative", DANA)
    for mid in ("m-nope", "\ud800", "x" * 10_000):
        with pytest.raises(NotFound):
            await conversations.correct_sentiment(conv_id, mid, "negative", DANA)
    with pytest.raises(NotFound):
        await conversations.correct_sentiment("v-nope", second.id, "negative", DANA)
    with pytest.raises(StaleVersion):
        await conversations.correct_sentiment(conv_id, second.id, "neutral", DANA, version - 1)
    assert (await store.get_conversation(conv_id)).version == version
    stored = await store.messages_by_ids([first.id, second.id])
    assert [stored[m.id].sentiment for m in (first, second)] == ["positive", "negative"]
    assert not any(corrections.is_corrected(m) for m in stored.values())


async def test_corrections_export_as_training_rows(store: Store, enrich: Enricher,
                                                   tmp_path: Path) -> None:
    first, second = await _thread(store, enrich)
    conversations = Conversations(store, EventBus(), clock=lambda: NOW)
    await conversations.correct_sentiment(second.conversation_id, second.id, "neutral", DANA)
    found = [m async for m in corrections.corrected_messages(store, page=1)]
    assert [m.id for m in found] == [second.id]
    path = tmp_path / "corrections.tsv"
    path.write_text("".join(corrections.tsv_rows([*found, first])), encoding="utf-8")
    rows = read_labelled(path)
    assert [(r.lang, r.label, r.channel, r.text) for r in rows] == [
        ("en", "neutral", "email", ANGRY)]
