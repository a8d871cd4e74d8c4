"""The queue's filters on every store: each conversation shows the sentiment and language of
its customer's latest message (kept by ingest, also when enrichment runs apart, and filled
in for older stores), and the queue filters on them with the other filters and the sorts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from inbox.enrich import Enrichment
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.model import ConversationFilter, Direction, IdentityRef
from inbox.sla import SlaPolicy
from inbox.store import Store, WriteBatch
from search.elastic import ElasticStore, reindex
from search.elastic_docs import to_doc
from search.sqlite import SqliteStore
from tests.factories import at, conversation, customer, inbound, message
from tests.schema_history import TO_SCHEMA_7, reopened_at

ANN = (IdentityRef("email", "ann@example.com", "Ann"),)
BEN = (IdentityRef("email", "ben@example.com", "Ben"),)
# what the enrichment says of each text: its language and sentiment
MOODS = {"Where is my refund?!": ("en", "negative"), "Merci beaucoup": ("fr", "positive"),
         "Auto-reply: out of office": ("en", "neutral"), "Wo ist meine Rechnung": ("de", "neutral"),
         "Thanks, all good now": ("en", "positive")}


def enrich(text: str, lang: str | None) -> Enrichment:
    found_lang, sentiment = MOODS.get(text, (None, None))
    return Enrichment(lang or found_lang, sentiment, 0.0 if sentiment else None)


async def enrich_apart(items: Sequence[tuple[str, str | None]]) -> list[Enrichment | Exception]:
    """As the enrichment workers answer: after the batch was planned."""
    return [enrich(text, lang) for text, lang in items]


def ingestor(store: Store, apart: bool = False) -> Ingestor:
    return Ingestor(store, enrich=enrich, sla=SlaPolicy(), events=EventBus(),
                    enrich_many=enrich_apart if apart else None)


async def filtered(store: Store, **kw: Any) -> list[str]:
    page = await store.list_conversations(ConversationFilter(**kw), None, 50)
    return [c.id for c in page.items]


async def test_a_conversation_shows_its_customers_latest_sentiment_and_language(
        store: Store) -> None:
    for apart in (False, True):  # enriched in this process, then by the workers
        ingest = ingestor(store, apart)
        first = f"<first-{apart}@x>"
        one = (await ingest.ingest([inbound(first, "Where is my refund?!", authors=ANN,
                                            when=at(3, 9), thread_keys=(f"mid:{first}",))]))
        conv_id = one.stored[0].conversation_id
        conv = await store.get_conversation(conv_id)
        assert (conv.sentiment, conv.lang) == ("negative", "en")
        # the customer again, in French; an automatic reply and an older message arriving
        # late do not speak for them
        await ingest.ingest([
            inbound(f"<fr-{apart}@x>", "Merci beaucoup", authors=ANN, when=at(3, 10),
                    parent_keys=(f"mid:{first}",)),
            inbound(f"<auto-{apart}@x>", "Auto-reply: out of office", authors=ANN,
                    when=at(3, 11), parent_keys=(f"mid:{first}",), automated=True)])
        await ingest.ingest([inbound(f"<late-{apart}@x>", "Wo ist meine Rechnung",
                                     authors=ANN, when=at(3, 9, 30),
                                     parent_keys=(f"mid:{first}",))])
        conv = await store.get_conversation(conv_id)
        assert conv.message_count == 4 and (conv.sentiment, conv.lang) == ("positive", "fr")


async def test_the_queue_filters_on_sentiment_language_and_priority_with_any_sort(
        store: Store) -> None:
    convs = [conversation("q1", "c1", sentiment="negative", lang="en", priority="urgent",
                          due_at=at(10, 9), awaiting_since=at(9, 12), last_message_at=at(9)),
             conversation("q2", "c1", sentiment="negative", lang="de", due_at=at(10, 8),
                          awaiting_since=at(9, 13), last_message_at=at(8)),
             conversation("q3", "c1", sentiment="positive", lang="de", priority="high",
                          tags=("vip",), due_at=at(10, 7), awaiting_since=at(9, 11),
                          last_message_at=at(7)),
             conversation("q4", "c1", sentiment="negative", lang="en", status="pending",
                          last_message_at=at(6)),
             conversation("q5", "c1", channel="x", last_message_at=at(5))]  # no enrichment
    await store.write(WriteBatch(customers=(customer("c1"),), conversations=tuple(convs)))

    assert await filtered(store, sentiment="negative") == ["q1", "q2", "q4"]
    assert await filtered(store, status="open", sentiment="negative") == ["q1", "q2"]
    assert await filtered(store, lang="de") == ["q2", "q3"]
    assert await filtered(store, lang="de", order="due") == ["q3", "q2"]
    assert await filtered(store, lang="de", sentiment="negative", order="waiting") == ["q2"]
    assert await filtered(store, sentiment="negative", order="waiting") == ["q1", "q2"]
    assert await filtered(store, priority="urgent") == ["q1"]
    assert await filtered(store, priority="normal", channel="x") == ["q5"]
    assert await filtered(store, tag="vip", lang="de", priority="high") == ["q3"]
    assert await filtered(store, lang="fr") == []
    # paging through a filtered queue keeps the filter
    first = await store.list_conversations(ConversationFilter(sentiment="negative"), None, 2)
    rest = await store.list_conversations(ConversationFilter(sentiment="negative"),
                                          first.next_cursor, 2)
    assert [c.id for c in (*first.items, *rest.items)] == ["q1", "q2", "q4"]


# An older store's conversations (without sentiment and language) and messages: va, the
# customer wrote twice, then an agent replied; vb, the latest is automatic; vc, only an
# agent's note.
OLDER = WriteBatch(
    customers=(customer("c1"),),
    conversations=tuple(conversation(v, "c1", last_message_at=at(4)) for v in ("va", "vb", "vc")),
    messages=(message("a1", "va", "c1", "old", at(3, 9), sentiment="negative", lang="en"),
              message("a2", "va", "c1", "new", at(3, 10), sentiment="positive", lang="fr"),
              message("a3", "va", None, "reply", at(3, 11), direction=Direction.OUTBOUND,
                      sentiment="neutral", lang="de"),
              message("b1", "vb", "c1", "hi", at(3, 9), sentiment="negative", lang="es"),
              message("b2", "vb", "c1", "ooo", at(3, 12), automated=True, sentiment="neutral",
                      lang="en"),
              message("c1", "vc", None, "note", at(3, 9), direction=Direction.NOTE,
                      sentiment="neutral", lang="en")))


async def assert_latest_moods_filled(store: Store, versions: dict[str, int]) -> None:
    found = await store.conversations_by_ids(["va", "vb", "vc"])
    assert (found["va"].sentiment, found["va"].lang) == ("positive", "fr")
    assert (found["vb"].sentiment, found["vb"].lang) == ("negative", "es")
    assert (found["vc"].sentiment, found["vc"].lang) == (None, None)
    assert {c.id: c.version for c in found.values()} == versions  # filled in, not changed
    assert await filtered(store, lang="es") == ["vb"]
    assert await filtered(store, sentiment="positive") == ["va"]


async def test_an_older_sqlite_file_gets_each_conversations_latest_mood(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "inbox.db")
    await store.open()
    await store.write(OLDER)
    versions = {c.id: c.version for c in (
        await store.conversations_by_ids(["va", "vb", "vc"])).values()}
    store = await reopened_at(store, TO_SCHEMA_7)  # schema 7, migrated on open
    try:
        await assert_latest_moods_filled(store, versions)
    finally:
        await store.aclose()


async def test_an_older_elastic_index_gets_each_conversations_latest_mood_on_reindex(
        ops_store: ElasticStore) -> None:
    await ops_store.write(replace(OLDER, conversations=()))
    for conv in OLDER.conversations:  # as an older version indexed them: no such fields
        doc = {k: v for k, v in to_doc(conv).items() if k not in ("sentiment", "lang")}
        await ops_store.client.index(index=ops_store.alias("conversations"),
                                         id=conv.id, document=doc, refresh=True)
    versions = {c.id: c.version for c in OLDER.conversations}
    await reindex(ops_store, ("conversations",))  # `inbox migrate --reindex`
    await assert_latest_moods_filled(ops_store, versions)
