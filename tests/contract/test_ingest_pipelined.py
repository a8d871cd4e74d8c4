"""Batches ingested at once on every store (a poller pipelining its batches, several
channels): each batch is planned while the one before is written, and the result is the
one the same batches give one after another: the same customers, threads, repeat contacts
and clocks, nothing lost or stored twice, also when a write goes wrong in the middle."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inbox.app.demo.generator import generate
from inbox.enrich import no_enrichment
from inbox.errors import ConflictError
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.model import IdentityRef, Inbound
from inbox.retry import Retry
from inbox.sla import SlaPolicy
from inbox.store import Store, WriteBatch
from search.sqlite import SqliteStore
from tests.contract.test_ingest_poison import OpaqueRefusals
from tests.factories import at, inbound

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def ingestor(store: Any) -> Ingestor:
    return Ingestor(store, enrich=no_enrichment, sla=SlaPolicy(), events=EventBus(),
                    clock=lambda: NOW, store_retry=Retry(0))


def batches(items: Sequence[Inbound], size: int) -> list[Sequence[Inbound]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


async def at_once(ingest: Ingestor, parts: Sequence[Sequence[Inbound]]) -> list[Any]:
    """Every batch handed in before the first is stored (as a pipelining poller does)."""
    return list(await asyncio.gather(*(ingest.ingest(part) for part in parts)))


async def shape(store: Store) -> dict[str, Any]:
    """What the store holds, without the random ids: each message's customer, thread and
    repeat link told by the messages they group, and each thread's state."""
    messages = await store.export("messages", None, 5_000)
    conversations = {c.id: c for c in await store.export("conversations", None, 5_000)}
    by_conv: dict[str, set[str]] = {}
    by_customer: dict[str, set[str]] = {}
    for m in messages:
        by_conv.setdefault(m.conversation_id, set()).add(m.external_id)
        by_customer.setdefault(m.customer_id, set()).add(m.external_id)

    def named(conv_id: str | None) -> frozenset[str] | None:
        return frozenset(by_conv[conv_id]) if conv_id else None

    threads = {named(c.id): (c.status, c.message_count, c.awaiting_since, c.due_at,
                             c.last_message_at, named(c.previous_id), c.switched_channel,
                             c.version)
               for c in conversations.values()}
    identities = sorted((i.kind, i.value, frozenset(by_customer[i.customer_id]))
                        for i in await store.export("identities", None, 5_000)
                        if i.customer_id in by_customer)
    return {"messages": sorted(m.id for m in messages), "threads": threads,
            "customers": sorted(map(sorted, by_customer.values())), "identities": identities}


async def one_by_one(path: Path, parts: Sequence[Sequence[Inbound]]) -> dict[str, Any]:
    """The shape these batches give one after another, on a store writing on its thread."""
    store = SqliteStore(path, writer_process=False)
    await store.open()
    try:
        alone = ingestor(store)
        for part in parts:
            await alone.ingest(part)
        return await shape(store)
    finally:
        await store.aclose()


async def test_batches_at_once_store_what_one_after_another_stores(store: Store,
                                                                   tmp_path: Any) -> None:
    corpus = [i.inbound for i in generate(NOW, days=10, customers=60)]
    parts = batches(corpus, 20)  # a customer's thread runs over many batches
    await at_once(ingestor(store), parts)
    expected = await one_by_one(tmp_path / "one-by-one.db", parts)
    got = await shape(store)
    assert got["messages"] == expected["messages"] and len(got["messages"]) == len(corpus)
    assert got["customers"] == expected["customers"]
    assert got["identities"] == expected["identities"]
    assert got["threads"] == expected["threads"]
    # replayed at once, the same batches add nothing
    again = await at_once(ingestor(store), parts)
    assert sum(len(r.stored) for r in again) == 0
    assert sum(r.duplicates for r in again) == len(corpus)


ANN = (IdentityRef("email", "ann@example.com"),)


async def test_a_refused_batch_ahead_leaves_the_next_batch_right(store: Store) -> None:
    await refused_ahead(ingestor(OpaqueRefusals(store)), store)


async def refused_ahead(ingest: Ingestor, store: Store) -> None:
    """The batch before is refused in part (its POISON message) while the next one, planned
    over it, waits: the next one is planned again and its reply joins the thread the first
    batch stored."""
    first = [inbound("<a1@x>", "my order is late", authors=ANN, when=at(3, 9),
                     thread_keys=("<a1@x>",)),
             inbound("<p@x>", "POISON", authors=(IdentityRef("email", "p@example.com"),),
                     when=at(3, 9, 5))]
    second = [inbound("<a2@x>", "still waiting", authors=ANN, when=at(3, 10),
                      parent_keys=("<a1@x>",)),
              inbound("<b1@x>", "hello", authors=(IdentityRef("email", "b@example.com"),),
                      when=at(3, 10, 5))]
    one, two = await at_once(ingest, [first, second])
    assert [d.external_id for d in one.dead] == ["<p@x>"]
    assert {m.external_id for m in one.stored} == {"<a1@x>"}
    assert {m.external_id for m in two.stored} == {"<a2@x>", "<b1@x>"}
    a1, a2 = one.stored[0], next(m for m in two.stored if m.external_id == "<a2@x>")
    assert a2.conversation_id == a1.conversation_id and a2.customer_id == a1.customer_id
    conv = await store.get_conversation(a1.conversation_id)
    assert conv.message_count == 2 and conv.awaiting_since == at(3, 9)


class ConflictOnce:
    """A store where an agent changes a conversation just before the first batch's write:
    that write conflicts once."""

    def __init__(self, store: Store) -> None:
        self.inner, self.conflicts = store, 1

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def write(self, batch: WriteBatch) -> None:
        if self.conflicts:
            self.conflicts -= 1
            raise ConflictError("changed by someone else")
        await self.inner.write(batch)


async def test_a_conflict_ahead_replans_the_batches_behind_it(store: Store) -> None:
    ingest = ingestor(ConflictOnce(store))
    parts = [[inbound(f"<c{n}@x>", f"message {n}", authors=ANN, when=at(3, 9 + n),
                      thread_keys=(f"<c{n}@x>",),
                      parent_keys=(f"<c{n - 1}@x>",) if n else ())] for n in range(4)]
    results = await at_once(ingest, parts)
    assert [len(r.stored) for r in results] == [1, 1, 1, 1]
    conversation_ids = {r.stored[0].conversation_id for r in results}
    assert len(conversation_ids) == 1
    conv = await store.get_conversation(conversation_ids.pop())
    assert conv.message_count == 4
