"""Grouping a customer's two-way history by conversation (usecases.customers)."""

from __future__ import annotations

from inbox.usecases.customers import group_journey
from tests.factories import at, conversation, message


def test_groups_read_as_conversations_went_and_the_other_open_case_is_theirs() -> None:
    convs = [conversation("vA", "cA", "email", 2, last_message_at=at(3)),
             conversation("vX", "cA", "x", 5, last_message_at=at(6), status="resolved"),
             conversation("vB", "cB", "x", 7, last_message_at=at(8)),  # Bob's; Ann joined
             conversation("vOld", "cA", "webform", 1, status="pending")]  # nothing read
    history = [  # newest first, as the store reads it
        message("x4", "vB", "cA", "Same for me", at(8), channel="x"),
        message("x2", "vX", None, "Sorry! DM us", at(6), channel="x", direction="outbound"),
        message("x1", "vX", "cA", "Still no signal", at(5), channel="x"),
        message("o1", "vA", None, "We fixed it", at(3), direction="outbound"),
        message("e1", "vA", "cA", "My invoice is wrong", at(2)),
    ]
    journey = group_journey("cA", history, convs, current_id="vA")
    assert [g.conversation.id for g in journey.groups] == ["vB", "vX", "vA", "vOld"]
    assert [m.text for m in journey.groups[1].messages] == ["Still no signal", "Sorry! DM us"]
    assert [g.current for g in journey.groups] == [False, False, True, False]
    assert journey.groups[3].messages == ()  # older: a link, no messages
    # resolved vX is no open case; Bob's vB is not Ann's case
    assert [c.id for c in journey.other_open] == ["vOld"]
