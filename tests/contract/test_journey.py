"""The customer journey on every store: the two-way history and the human reference."""

from __future__ import annotations

import pytest

from inbox.model import Message
from inbox.store import Store, WriteBatch
from tests.factories import at, conversation, customer, message


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
