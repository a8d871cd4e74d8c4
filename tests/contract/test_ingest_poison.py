"""Poison isolation on every store: one bad item is normalised or dead-lettered with its
stage, the rest of its batch is stored, nothing is half-written or lost."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from inbox import deadletters
from inbox.enrich import Enrichment, no_enrichment
from inbox.errors import StoreMissing, StoreRefused, StoreUnavailable
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.model import IdentityRef, Inbound, message_id_for
from inbox.query import parse
from inbox.retry import Retry
from inbox.sla import SlaPolicy, Target
from inbox.store import DEAD_LETTERS, Store, WriteBatch
from search.elastic import ElasticStore
from search.sqlite import SqliteStore
from tests.factories import at, conversation, customer, identity, inbound, message


def ingestor(store: Store, enrich=no_enrichment) -> Ingestor:  # type: ignore[no-untyped-def]
    return Ingestor(store, enrich=enrich, sla=SlaPolicy(), events=EventBus(),
                    clock=lambda: at(22), store_retry=Retry(0))


def good(i: int) -> Inbound:
    return inbound(f"<good{i}@x>", f"a fine message {i}",
                   authors=(IdentityRef("email", f"good{i}@example.com"),), when=at(3, i))


async def assert_whole(store: Store) -> None:
    """No identity without its customer, no conversation without a message."""
    customers = {c.id for c in await store.export("customers", None, 1000)}
    identities = await store.export("identities", None, 1000)
    assert {i.customer_id for i in identities} <= customers
    messages = await store.export("messages", None, 1000)
    conversations = {c.id for c in await store.export("conversations", None, 1000)}
    assert conversations == {m.conversation_id for m in messages}
    assert customers == {m.customer_id for m in messages}


async def test_hostile_items_are_stored_normalised(store: Store) -> None:
    hostile = [
        inbound("<surrogate@x>", "utf-7 gone wrong \ud800 here", when=at(3, 1)),
        inbound("<y9999@x>", "from the far future", when=datetime(9999, 12, 31, tzinfo=UTC),
                authors=(IdentityRef("email", "future@example.com"),)),
        inbound("<subject@x>", "huge subject", subject="=?utf-8?q?a?= " * 400_000,
                authors=(IdentityRef("email", "subj@example.com"),), when=at(3, 2)),
        inbound("<ctrl@x>", "nul\x00 and \x1b[31mescapes\x07", author_name="Eve\u202eliam",
                authors=(IdentityRef("email", "ctrl@example.com", "\x00x"),), when=at(3, 3)),
    ]
    batch = [item for pair in zip(hostile, [good(i) for i in range(4)], strict=True)
             for item in pair]
    result = await ingestor(store).ingest(batch)

    assert len(result.stored) == 8 and result.dead == ()
    by_ext = {m.external_id: m for m in
              (await store.messages_by_ids([message_id_for("email", i.external_id)
                                            for i in batch])).values()}
    assert by_ext["<surrogate@x>"].text == "utf-7 gone wrong \ufffd here"
    assert by_ext["<y9999@x>"].created_at == at(22)
    assert by_ext["<y9999@x>"].meta["date_replaced"].startswith("9999-12-31")
    assert len(by_ext["<subject@x>"].subject or "") == 1000
    assert by_ext["<ctrl@x>"].text == "nul and [31mescapes"
    assert by_ext["<ctrl@x>"].author_label == "Eveliam"
    assert all(f"<good{i}@x>" in by_ext for i in range(4))
    await assert_whole(store)


def refusing_enrichment(text: str, lang: str | None = None) -> Enrichment:
    """An enrichment library gone wrong on one message: a language no store can hold."""
    if "POISON" in text:
        return Enrichment("\ud800", "neutral", 0.0)
    return Enrichment(lang, None, None)


async def test_a_refused_document_is_dead_lettered_alone(store: Store) -> None:
    batch = [good(0), good(1), inbound("<poison@x>", "POISON pill", when=at(3, 5),
                                       authors=(IdentityRef("email", "p@example.com"),)),
             good(2), good(3), good(4)]
    result = await ingestor(store, refusing_enrichment).ingest(batch)

    assert {m.external_id for m in result.stored} == {f"<good{i}@x>" for i in range(5)}
    assert [(d.external_id, d.stage) for d in result.dead] == [("<poison@x>", "store")]
    letter = await store.dead_letters.get(result.dead[0].key)
    assert letter is not None and letter["stage"] == "store" and "POISON pill" in letter["raw"]
    assert (await deadletters.counts(store))["email"]["stages"] == {"store": 1}
    await assert_whole(store)
    again = await ingestor(store, refusing_enrichment).ingest(batch[:2])
    assert again.duplicates == 2 and again.stored == ()  # the good ones, never twice


async def test_an_unknown_channel_direction_or_identity_kind_is_a_dead_letter(
        store: Store) -> None:
    batch = [good(0), inbound("<sms@x>", "from a channel we lack", channel="sms"),
             inbound("<dir@x>", "sideways", direction="sideways", when=at(3, 8)),
             inbound("<fax@x>", "by fax", authors=(IdentityRef("fax", "+1 555"),)), good(1)]
    result = await ingestor(store).ingest(batch)
    dead = {d.external_id: d for d in result.dead}
    assert sorted(dead) == ["<dir@x>", "<fax@x>", "<sms@x>"] and len(result.stored) == 2
    assert {d.stage for d in result.dead} == {"normalize"}
    assert "unknown channel 'sms'; expected one of email, x, webform" in dead["<sms@x>"].error
    assert "unknown identitykind 'fax'" in dead["<fax@x>"].error
    await assert_whole(store)


async def test_failing_enrichment_and_sla_arithmetic_are_stages(store: Store) -> None:
    def broken(text: str, lang: str | None = None) -> Enrichment:
        if "crash" in text:
            raise RuntimeError("model file corrupt")
        return Enrichment(lang, None, None)

    batch = [good(0), inbound("<crash@x>", "crash me", when=at(3, 7)), good(1)]
    result = await ingestor(store, broken).ingest(batch)
    assert [(d.external_id, d.stage) for d in result.dead] == [("<crash@x>", "enrich")]
    assert len(result.stored) == 2
    await assert_whole(store)


async def test_sla_arithmetic_that_overflows_is_a_stage(store: Store) -> None:
    endless = SlaPolicy(targets={"email": Target(timedelta.max, business_hours=False)})
    ing = Ingestor(store, enrich=no_enrichment, sla=endless, events=EventBus(),
                   clock=lambda: at(22), store_retry=Retry(0))
    result = await ing.ingest([inbound("<late@x>", "no deadline fits", when=at(3))])
    assert [(d.external_id, d.stage) for d in result.dead] == [("<late@x>", "sla")]
    assert "no deadline" in result.dead[0].error
    await assert_whole(store)


class OpaqueRefusals:
    """A store that refuses a document without saying which (as Elasticsearch answers 413
    for a request too large): the whole write fails while the batch holds "POISON"."""

    def __init__(self, store: Store) -> None:
        self.inner = store
        self.writes = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def write(self, batch: WriteBatch) -> None:
        self.writes += 1
        if any("POISON" in m.text for m in batch.messages):
            raise StoreRefused("request refused")
        await self.inner.write(batch)


async def test_an_unnamed_refusal_is_found_by_splitting_the_batch(store: Store) -> None:
    opaque = OpaqueRefusals(store)
    batch = [good(i) for i in range(6)]
    batch.insert(4, inbound("<poison@x>", "POISON", when=at(3, 4, 30),
                            authors=(IdentityRef("email", "p@example.com"),)))
    result = await ingestor(opaque).ingest(batch)  # type: ignore[arg-type]
    assert {m.external_id for m in result.stored} == {f"<good{i}@x>" for i in range(6)}
    assert [(d.external_id, d.stage) for d in result.dead] == [("<poison@x>", "store")]
    assert opaque.writes <= 2 * 3 + 1  # halving: a few writes per level, not one per item
    await assert_whole(store)


async def test_a_document_the_cluster_refuses_leaves_no_trace(store: Store) -> None:
    """Elasticsearch refuses a float it cannot parse (NaN) in the last bulk phase: the
    customers, identities and conversations of that write are undone, then the batch is
    split; the other messages are stored."""
    def nan_score(text: str, lang: str | None = None) -> Enrichment:
        return Enrichment("en", "neutral", math.nan if "NaN" in text else 0.1)

    batch = [good(0), inbound("<nan@x>", "score NaN", when=at(3, 8),
                              authors=(IdentityRef("email", "nan@example.com"),)), good(1)]
    result = await ingestor(store, nan_score).ingest(batch)
    stored = {m.external_id for m in result.stored}
    assert {"<good0@x>", "<good1@x>"} <= stored
    if isinstance(store, SqliteStore):  # SQLite keeps NaN as NULL: nothing to refuse
        assert "<nan@x>" in stored
    else:
        assert [(d.external_id, d.stage) for d in result.dead] == [("<nan@x>", "store")]
    await assert_whole(store)


async def test_same_message_id_distinct_content_is_stored_once_each(store: Store) -> None:
    def mail(digest: str, text: str) -> Inbound:
        return inbound("<shared@x>", text, meta={"digest": digest * 64}, when=at(4))

    ing = ingestor(store)
    first = await ing.ingest([mail("a", "first message")])
    second = await ing.ingest([mail("b", "another message, same Message-ID")])
    again = await ing.ingest([mail("a", "first message"), mail("b", "another message, "
                                                                 "same Message-ID")])
    both = await ing.ingest([mail("c", "third"), mail("c", "third")])
    assert len(first.stored) == 1 and len(second.stored) == 1
    assert second.stored[0].external_id == "<shared@x>#" + "b" * 16
    assert again.stored == () and again.duplicates == 2
    assert len(both.stored) == 1 and both.duplicates == 1
    assert (await store.counts())["messages"] == 3


async def test_messages_without_digest_keep_the_message_id_rule(store: Store) -> None:
    ing = ingestor(store)
    await ing.ingest([inbound("<m@x>", "one")])
    later = await ing.ingest([inbound("<m@x>", "different text, no digest")])
    assert later.stored == () and later.duplicates == 1


async def test_a_store_refusing_writes_is_down_not_poison(elastic_store: ElasticStore) -> None:
    """A read-only cluster (disk full) is StoreUnavailable: the caller keeps its cursor and
    nothing is dead-lettered; once writable, the same batch is stored."""
    es, customers = elastic_store.client, elastic_store.alias("customers")
    await es.indices.put_settings(index=customers, settings={"index.blocks.write": True})
    with pytest.raises(StoreUnavailable, match="refuses writes"):
        await ingestor(elastic_store).ingest([good(0), good(1)])
    assert (await elastic_store.counts())[DEAD_LETTERS] == 0
    await es.indices.put_settings(index=customers, settings={"index.blocks.write": False})
    result = await ingestor(elastic_store).ingest([good(0), good(1)])
    assert len(result.stored) == 2 and result.dead == ()
    await assert_whole(elastic_store)


async def test_a_store_back_within_the_retries_loses_nothing(
        elastic_store: ElasticStore) -> None:
    """Writes refused for a moment (the cluster is read-only, then writable again while
    ingest waits to retry): the batch is stored whole, once, after one jittered wait."""
    es, customers = elastic_store.client, elastic_store.alias("customers")
    await es.indices.put_settings(index=customers, settings={"index.blocks.write": True})
    waits: list[float] = []

    async def writable_again(seconds: float) -> None:
        waits.append(seconds)
        await es.indices.put_settings(index=customers, settings={"index.blocks.write": False})

    ing = Ingestor(elastic_store, enrich=no_enrichment, sla=SlaPolicy(), events=EventBus(),
                   clock=lambda: at(22), store_retry=Retry(2, first=0.5, cap=1.0),
                   rng=random.Random(5), sleep=writable_again)
    result = await ing.ingest([good(0), good(1)])
    assert len(result.stored) == 2 and result.dead == ()
    assert len(waits) == 1 and 0.25 <= waits[0] <= 0.5
    assert (await elastic_store.counts())[DEAD_LETTERS] == 0
    await assert_whole(elastic_store)


async def test_lost_indices_are_a_clear_error_and_never_recreated(
        elastic_store: ElasticStore) -> None:
    await elastic_store.delete_indices()
    with pytest.raises(StoreMissing, match="indices or aliases are gone.*inbox serve"):
        await ingestor(elastic_store).ingest([good(0)])
    with pytest.raises(StoreMissing, match="indices or aliases are gone"):
        await elastic_store.dead_letters.put("d1", {
            "source": "x", "stage": "parse", "error": "e", "at": "t", "raw": "x",
            "truncated": False})
    es = elastic_store.client
    for kind in ("messages", "customers", "kv"):
        assert not await es.indices.exists(index=elastic_store.alias(kind))


async def test_the_stores_reason_is_in_the_dead_letter_and_the_rest_is_searchable(
        store: Store) -> None:
    """One item of a batch holds a value this store refuses (Elasticsearch: a float that is
    not a number, refused by the cluster in the last bulk phase; SQLite: an integer over 64
    bits): it is dead-lettered with the store's own reason, the others are stored whole
    and found by search, and nothing of the refused item is left to read."""
    refused_value = math.nan if isinstance(store, ElasticStore) else 2**64

    def poisoned(text: str, lang: str | None = None) -> Enrichment:
        return Enrichment("en", "neutral", refused_value if "POISON" in text else 0.1)

    batch = [good(0), good(1), inbound("<poison@x>", "POISON value", when=at(3, 9),
                                       authors=(IdentityRef("email", "poison@example.com"),)),
             good(2), good(3)]
    result = await ingestor(store, poisoned).ingest(batch)
    assert {m.external_id for m in result.stored} == {f"<good{i}@x>" for i in range(4)}
    (dead,) = result.dead
    assert (dead.external_id, dead.stage) == ("<poison@x>", "store")
    reason = "mapper_parsing_exception" if isinstance(store, ElasticStore) else "too large"
    assert reason in dead.error
    letter = await store.dead_letters.get(dead.key)
    assert letter is not None and reason in letter["error"]
    found = await store.search(parse("fine message"), None, 10)
    assert {m.external_id for m in found.messages} == {f"<good{i}@x>" for i in range(4)}
    assert await store.identities_by_refs([("email", "poison@example.com")]) == {}
    assert (await store.search(parse("poison"), None, 10)).total == 0
    await assert_whole(store)


async def test_a_refused_conversation_writes_none_of_what_depends_on_it(
        elastic_store: ElasticStore) -> None:
    """The cluster refuses a conversation (second bulk phase): its customer, written in the
    first phase, is undone, and its identity, message and thread key are never written;
    StoreRefused names the conversation."""
    cust = customer("c-refused")
    conv = conversation("v-refused", cust.id, first_response_seconds=math.nan)
    msg = message("<m-refused@x>", conv.id, cust.id, "hello", at(2))
    batch = WriteBatch(customers=(cust,), identities=(identity("email", "r@example.com",
                                                                cust.id),),
                       conversations=(conv,), messages=(msg,),
                       thread_keys=(("<m-refused@x>", conv.id),))
    with pytest.raises(StoreRefused, match="first_response_seconds|mapper_parsing") as refused:
        await elastic_store.write(batch)
    assert refused.value.ids == (conv.id,)
    assert await elastic_store.customers_by_ids([cust.id]) == {}
    assert await elastic_store.identities_by_refs([("email", "r@example.com")]) == {}
    assert await elastic_store.conversations_by_ids([conv.id]) == {}
    assert await elastic_store.messages_by_ids([msg.id]) == {}
    assert await elastic_store.conversation_ids_by_thread_keys(["<m-refused@x>"]) == {}


async def test_dates_before_1970_or_after_2261_are_replaced_by_the_core(store: Store) -> None:
    """Elasticsearch's date_nanos refuses them (below); the core replaces them by the
    received time before any store sees them, the original kept in meta."""
    old = inbound("<1960@x>", "from a broken clock", when=datetime(1960, 1, 1, tzinfo=UTC))
    far = inbound("<2300@x>", "from the future", when=datetime(2300, 1, 1, tzinfo=UTC),
                  authors=(IdentityRef("email", "far@example.com"),))
    result = await ingestor(store).ingest([old, far, good(0)])
    assert result.dead == () and len(result.stored) == 3
    by_ext = {m.external_id: m for m in result.stored}
    assert by_ext["<1960@x>"].created_at == at(22) == by_ext["<2300@x>"].created_at
    assert by_ext["<1960@x>"].meta["date_replaced"].startswith("1960-01-01")
    await assert_whole(store)


async def test_the_cluster_refuses_dates_outside_date_nanos(elastic_store: ElasticStore
                                                             ) -> None:
    """Why the core bounds dates: a message dated 1960 written past it is refused."""
    msg = message("<raw1960@x>", "v-raw", None, "raw", datetime(1960, 1, 1, tzinfo=UTC))
    with pytest.raises(StoreRefused, match="created_at|1970|epoch") as refused:
        await elastic_store.restore(WriteBatch(messages=(msg,)))
    assert refused.value.ids == (msg.id,)
    assert await elastic_store.messages_by_ids([msg.id]) == {}
