"""Collection documents in a WriteBatch: written with the rest of the batch or not at all."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from inbox.collections import AUDIT, CHANGES
from inbox.errors import ConflictError
from inbox.store import Store, WriteBatch
from tests.factories import at, conversation, customer, message


def audit(n: int) -> dict[str, str]:
    return {"at": at(n).isoformat(), "actor": "dana@example.com", "action": "reply",
            "target": "v1"}


async def seeded(store: Store) -> None:
    await store.write(WriteBatch(customers=(customer("c1"),),
                                 conversations=(conversation("v1", "c1"),)))


async def test_a_batch_creates_and_replaces_collection_documents(store: Store) -> None:
    await seeded(store)
    await store.audit.put("a1", audit(1))
    v2 = replace(await store.get_conversation("v1"), version=2, status="pending")
    await store.write(WriteBatch(conversations=(v2,), documents=(
        (AUDIT, "a1", audit(2)), (AUDIT, "a2", audit(3)),
        (CHANGES, "v1/0000000002/w1", {"at": at(3).isoformat(), "version": 2,
                                       "actor_id": "u1", "actor": "Dana", "action": "status",
                                       "status": "pending"}))))
    assert await store.audit.list(None, 10) == [("a1", audit(2)), ("a2", audit(3))]
    assert (await store.changes.get("v1/0000000002/w1") or {}).get("status") == "pending"
    assert (await store.get_conversation("v1")).version == 2


async def test_a_conflicting_version_writes_no_document(store: Store) -> None:
    await seeded(store)
    await store.audit.put("a1", audit(1))
    stale = replace(await store.get_conversation("v1"), version=5)
    msg = message("lost?", "v1", "c1", "should not be stored", at(3))
    with pytest.raises(ConflictError):
        await store.write(WriteBatch(conversations=(stale,), messages=(msg,), documents=(
            (AUDIT, "a1", audit(9)), (CHANGES, "v1/0000000005/w1", {"version": 5}))))
    assert await store.audit.list(None, 10) == [("a1", audit(1))]  # not replaced either
    assert await store.changes.list(None, 10) == []
    assert await store.messages_by_ids(["lost?"]) == {}


async def test_of_two_writers_of_one_version_only_the_winner_leaves_its_record(
        store: Store) -> None:
    await seeded(store)
    v1 = await store.get_conversation("v1")

    async def write(writer: str) -> str:
        batch = WriteBatch(conversations=(replace(v1, version=2, assignee=writer),),
                           documents=((CHANGES, f"v1/0000000002/{writer}",
                                       {"version": 2, "actor_id": writer}),))
        try:
            await store.write(batch)
        except ConflictError:
            return "lost"
        return writer

    outcomes = await asyncio.gather(write("w1"), write("w2"))
    assert sorted(outcomes) in (["lost", "w1"], ["lost", "w2"])
    [winner] = [o for o in outcomes if o != "lost"]
    assert (await store.get_conversation("v1")).assignee == winner
    assert await store.changes.list(None, 10) == [
        (f"v1/0000000002/{winner}", {"version": 2, "actor_id": winner})]


async def test_restore_writes_collection_documents_too(store: Store) -> None:
    await store.restore(WriteBatch(documents=((AUDIT, "a1", audit(1)),)))
    assert await store.audit.get("a1") == audit(1)
