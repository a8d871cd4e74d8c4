"""The customer journey on every store: the two-way history and the human reference."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from inbox.model import Message
from inbox.store import REF_START, Store, WriteBatch
from search.sqlite import SqliteStore
from tests.factories import at, conversation, customer, message
from tests.schema_history import TO_SCHEMA_5, reopened_at


async def _journey(store: Store) -> dict[str, Message]:
    """Ann: an email conversation (her mail, our reply, a note) and an X one (her post, our
    reply); she also joined Bob's X thread. Bob's own posts are his, not hers."""
    msgs = {
        "ann_mail": message("e1", "vA", "cA", "My invoice is wrong", at(2)),
        "our_reply": message("o1", "vA", None, "We fixed it", at(3), direction="outbound",
                             agent="u1", delivery="sent"),
        "note": message("n1", "vA", None, "Refund approved by finance", at(3, 13),
                        direction="note", agent="u1"),
        "ann_post": message("x1", "vX", "cA", "Still no signal", at(5), channel="x"),
        "our_post": message("x2", "vX", None, "Sorry! DM us", at(6), channel="x",
                            direction="outbound", agent="u2", delivery="sent"),
        "bob_post": message("x3", "vB", "cB", "Outage here too", at(7), channel="x"),
        "ann_in_bobs": message("x4", "vB", "cA", "Same for me", at(8), channel="x"),
    }
    await store.write(WriteBatch(
        customers=(customer("cA", "Ann"), customer("cB", "Bob")),
        conversations=(conversation("vA", "cA", "email", 2), conversation("vX", "cA", "x", 5),
                       conversation("vB", "cB", "x", 7)),
        messages=tuple(msgs.values())))
    return msgs


async def test_history_has_both_directions_across_conversations(store: Store) -> None:
    msgs = await _journey(store)
    seen: list[str] = []
    cursor = None
    while True:  # in pages of two: the order holds across pages
        page = await store.customer_history("cA", cursor, 2)
        seen += [m.id for m in page.items]
        if (cursor := page.next_cursor) is None:
            break
    expected = ["ann_in_bobs", "our_post", "ann_post", "note", "our_reply", "ann_mail"]
    assert seen == [msgs[k].id for k in expected]  # newest first, replies and notes too


async def test_history_of_someone_else_is_theirs_alone(store: Store) -> None:
    msgs = await _journey(store)
    bob = [m.id for m in (await store.customer_history("cB", None, 50)).items]
    # Bob's conversation, Ann's post in it included; nothing of Ann's own conversations
    assert bob == [msgs["ann_in_bobs"].id, msgs["bob_post"].id]
    assert (await store.customer_history("nobody", None, 50)).items == ()


@pytest.mark.parametrize("limit", [1, 50])
async def test_what_the_customer_wrote_stays_one_sided(store: Store, limit: int) -> None:
    """customer_messages (merges move these) is still only what the customer wrote."""
    msgs = await _journey(store)
    page = await store.customer_messages("cA", None, limit)
    assert page.items[0].id == msgs["ann_in_bobs"].id
    assert all(m.customer_id == "cA" for m in page.items)


async def test_each_conversation_gets_a_short_unique_reference_that_finds_it(
        store: Store) -> None:
    await store.write(WriteBatch(customers=(customer("cA"),), conversations=(
        conversation("v1", "cA"), conversation("v2", "cA"))))
    # five writers at once: never the same number twice
    await asyncio.gather(*(store.write(WriteBatch(conversations=(conversation(f"w{n}", "cA"),)))
                           for n in range(5)))
    ids = ["v1", "v2", *(f"w{n}" for n in range(5))]
    convs = await store.conversations_by_ids(ids)
    refs = [convs[i].ref for i in ids]
    assert all(isinstance(r, int) and REF_START <= r < REF_START + 1000 for r in refs), refs
    assert len(set(refs)) == len(refs)
    assert len(str(refs[0])) == 5  # short enough to read out on the phone
    found = await store.conversations_by_refs([r for r in refs if r is not None] + [99])
    assert {r: c.id for r, c in found.items()} == dict(zip(refs, ids, strict=True))


async def test_the_reference_stays_through_changes_and_copies(store: Store) -> None:
    await store.write(WriteBatch(customers=(customer("cA"),),
                                 conversations=(conversation("v1", "cA"),)))
    first = await store.get_conversation("v1")
    # a later version written without it (a caller that built it anew) keeps it
    await store.write(WriteBatch(conversations=(replace(
        conversation("v1", "cA", status="resolved"), version=2),)))
    assert (await store.get_conversation("v1")).ref == first.ref
    await store.restore(WriteBatch(conversations=(conversation("v9", "cA", ref=77777),)))
    assert (await store.get_conversation("v9")).ref == 77777  # a copy keeps its numbers
    await store.write(WriteBatch(conversations=(conversation("v10", "cA"),)))
    newest = (await store.get_conversation("v10")).ref
    assert newest is not None and newest not in (first.ref, 77777)


async def test_a_store_from_before_references_gives_them_in_the_order_they_came(
        tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "inbox.db")
    await store.open()
    await store.write(WriteBatch(customers=(customer("cA"),), conversations=(
        conversation("v1", "cA"), conversation("v2", "cA"))))
    store = await reopened_at(store, TO_SCHEMA_5)  # as a store of schema 5 is, migrated
    try:
        await store.write(WriteBatch(conversations=(conversation("v3", "cA"),)))
        convs = await store.conversations_by_ids(["v1", "v2", "v3"])
        assert [convs[v].ref for v in ("v1", "v2", "v3")] == [
            REF_START, REF_START + 1, REF_START + 2]
    finally:
        await store.aclose()
