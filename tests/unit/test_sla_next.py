"""Next-response targets and the resolution clock paused while waiting on the customer
(SlaPolicy's transitions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inbox.errors import ConfigError
from inbox.model import Conversation, Status
from inbox.sla import SlaPolicy, policy_from_config
from tests.factories import conversation

HOUR = 3600.0
POLICY = policy_from_config({"targets": {"email": "8h", "email.urgent": "2h"},
                             "next_targets": {"email": "4h", "x": "30m"}})


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    """A day of December 2026 (Friday the 4th, Monday the 7th), business hours 09-17 UTC."""
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def asked(policy: SlaPolicy, channel: str = "email", priority: str = "normal") -> Conversation:
    """Asked Monday 7th 09:00, answered 10:00, and asked again at 11:00."""
    conv = conversation("v1", "c1", channel, priority=priority, created_at=utc(7, 9))
    conv = policy.answered(policy.customer_wrote(conv, utc(7, 9)), utc(7, 10))
    return policy.customer_wrote(conv, utc(7, 11))


def test_a_clock_after_the_first_response_is_due_by_the_next_response_target() -> None:
    conv = asked(POLICY)
    assert conv.first_response_seconds == HOUR
    assert conv.due_at == utc(7, 15)  # 4 h, not the first response's 8 h
    assert conv.due_basis is not None
    assert conv.due_basis.startswith("Email next replies are due within 4h, counted business")
    x = asked(POLICY, "x")
    assert x.due_at == utc(7, 11, 30)
    assert x.due_basis is not None and "round the clock" in x.due_basis


def test_without_a_next_target_the_first_response_target_applies() -> None:
    plain = policy_from_config({"targets": {"email": "8h"}})
    conv = asked(plain)
    assert conv.due_at == utc(8, 11)  # 8 business hours, as a first response
    assert conv.due_basis is not None
    assert conv.due_basis.startswith("Email next replies are due within 8h")
    assert plain.target("email", later=True) == plain.target("email")


def test_a_priority_with_its_own_target_keeps_it_for_next_responses() -> None:
    urgent = asked(POLICY, priority="urgent")  # email.urgent = 2h, no next one of its own
    assert urgent.due_at == utc(7, 13)
    assert urgent.due_basis is not None
    assert urgent.due_basis.startswith("Email urgent-priority next replies are due within 2h")
    own = policy_from_config({"targets": {"email.urgent": "2h"},
                              "next_targets": {"email.urgent": "1h", "email": "4h"}})
    assert asked(own, priority="urgent").due_at == utc(7, 12)
    assert asked(own, priority="high").due_at == utc(7, 15)  # the channel's next target


def test_next_responses_are_recorded_and_a_rejected_one_is_undone() -> None:
    conv = asked(POLICY)
    on_time = POLICY.answered(conv, utc(7, 13))
    assert on_time.next_response_seconds == (2 * HOUR,) and not on_time.next_response_missed
    assert on_time.first_response_seconds == HOUR  # the first response is kept as it was
    again = POLICY.customer_wrote(on_time, utc(7, 14))  # due 4 business hours later: 10:00
    late = POLICY.answered(again, utc(8, 11))
    assert late.next_response_seconds == (2 * HOUR, 5 * HOUR)
    assert late.next_response_at == (utc(7, 13), utc(8, 11))
    assert late.next_response_missed == (utc(8, 11),)
    assert POLICY.answered(late, utc(8, 12)) == late  # no clock running: nothing to record
    undone = POLICY.reply_rejected(late, utc(7, 14), utc(8, 11))
    assert undone.next_response_seconds == (2 * HOUR,) and not undone.next_response_missed
    assert (undone.awaiting_since, undone.due_at) == (utc(7, 14), utc(8, 10))


def test_pending_pauses_resolution_in_business_hours() -> None:
    conv = conversation("v1", "c1", "email", created_at=utc(4, 9))  # Friday 09:00
    pending = POLICY.moved(conv, Status.PENDING, utc(4, 16))
    assert pending.pending_since == utc(4, 16)
    assert POLICY.moved(pending, Status.PENDING, utc(4, 16, 30)) == pending  # still since 16:00
    # the customer writes back Monday 10:00: Friday 16-17 and Monday 9-10 were paused
    back = POLICY.customer_wrote(pending, utc(7, 10), status=Status.OPEN)
    assert (back.status, back.pending_since, back.paused_seconds) == (Status.OPEN, None,
                                                                      2 * HOUR)
    assert back.awaiting_since == utc(7, 10)  # and their clock runs
    done = POLICY.resolved(back, utc(7, 12))
    assert done.resolution_seconds == (8 + 3 - 2) * HOUR  # Friday 9-17, Monday 9-12, less 2 h


def test_resolving_from_pending_ends_the_pause_first_and_snoozing_ends_it_too() -> None:
    conv = conversation("v1", "c1", "x", created_at=utc(4, 9))  # X counts round the clock
    pending = POLICY.moved(conv, Status.PENDING, utc(4, 10))
    done = POLICY.moved(pending, Status.RESOLVED, utc(5, 10))
    assert done.paused_seconds == 24 * HOUR and done.resolution_seconds == HOUR
    assert done.resolved_at == utc(5, 10) and done.pending_since is None
    snoozed = POLICY.moved(pending, Status.SNOOZED, utc(4, 12))
    assert snoozed.paused_seconds == 2 * HOUR and snoozed.pending_since is None


def test_an_unknown_priority_in_next_targets_names_its_key() -> None:
    with pytest.raises(ConfigError) as err:
        policy_from_config({"next_targets": {"email.soon": "1h"}})
    assert err.value.key == "sla.next_targets.email.soon"
    assert policy_from_config({}).next_targets == {}
    assert POLICY.next_targets["x"].duration == timedelta(minutes=30)
