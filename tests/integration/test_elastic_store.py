"""What only the Elasticsearch store has: denormalized fields, reindex, VoC aggregations."""

from __future__ import annotations

import socket
from dataclasses import replace
from datetime import timedelta

import pytest

from inbox.errors import ConflictError, StoreUnavailable
from inbox.model import And, FieldTerm, Term
from inbox.store import WriteBatch
from search.elastic import ElasticStore, reindex
from tests.factories import at, conversation, customer, message
from tests.servers.osmem import es_store_factory

pytestmark = pytest.mark.integration


def _batch(n: int = 5) -> WriteBatch:
    conv = conversation("v1", "c1", tags=("billing",))
    msgs = tuple(message(f"e{i}", "v1", "c1", f"refund outage number{i}", at(1, 9) +
                         timedelta(hours=i)) for i in range(n))
    return WriteBatch(customers=(customer("c1"),), conversations=(conv,), messages=msgs)


async def test_conversation_changes_reach_its_messages(elastic_store: ElasticStore) -> None:
    batch = _batch()
    await elastic_store.write(batch)
    moved = replace(batch.conversations[0], status="resolved", assignee="u7", tags=("vip",),
                    version=2)
    await elastic_store.write(WriteBatch(conversations=(moved,)))
    query = And((FieldTerm("status", "resolved"), FieldTerm("assignee", "u7"),
                 FieldTerm("tag", "vip")))
    found = await elastic_store.search(query, None, 50)
    assert found.total == len(batch.messages)


async def test_a_refused_batch_writes_nothing(elastic_store: ElasticStore) -> None:
    batch = _batch()
    await elastic_store.write(batch)
    late = message("late", "v1", "c1", "late one", at(2))
    with pytest.raises(ConflictError):
        await elastic_store.write(WriteBatch(conversations=batch.conversations, messages=(late,)))
    assert await elastic_store.messages_by_ids([late.id]) == {}


async def test_pages_cover_every_message_once(elastic_store: ElasticStore) -> None:
    batch = _batch(11)
    await elastic_store.write(batch)
    seen, cursor = [], None
    while True:
        page = await elastic_store.search(None, cursor, 3)
        seen += [m.id for m in page.messages]
        if not (cursor := page.next_cursor):
            break
    expected = sorted(batch.messages, key=lambda m: (m.created_at, m.id), reverse=True)
    assert seen == [m.id for m in expected]


async def test_reindex_swaps_the_alias_and_keeps_documents(ops_store: ElasticStore) -> None:
    batch = _batch()
    await ops_store.write(batch)
    moved = await reindex(ops_store, ("messages", "conversations"), delete_old=True)
    assert moved["messages"].endswith("-messages-000002")
    assert await ops_store.conversation_messages("v1") == batch.messages
    kept = await ops_store.get_conversation("v1")
    assert kept == replace(batch.conversations[0], ref=kept.ref) and kept.ref  # numbered


async def test_volume(elastic_store: ElasticStore) -> None:
    await elastic_store.write(_batch())
    assert await elastic_store.volume(Term("refund")) == [("2026-11-01", 5)]


async def test_an_unreachable_cluster_is_store_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = es_store_factory(f"http://127.0.0.1:{port}", client_kwargs={"max_retries": 0})
    with pytest.raises(StoreUnavailable):
        await store.open()
