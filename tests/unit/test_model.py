"""The model's records: copied with changes (evolve) and pickled as their fields, and the
stores' timestamp text."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from inbox.model import Channel, Conversation, Status, evolve, ts


def test_evolve_and_pickle_give_what_dataclasses_give() -> None:
    now = datetime(2026, 11, 30, 9, tzinfo=UTC)
    conv = Conversation("v1", "c1", Channel.EMAIL, Status.OPEN, now, now, now, tags=("vip",),
                        next_response_at=(now,))
    changed = evolve(conv, status=Status.RESOLVED, version=3, resolved_at=now)
    assert changed == dataclasses.replace(conv, status=Status.RESOLVED, version=3,
                                          resolved_at=now)
    assert conv.status is Status.OPEN  # the original is untouched
    assert pickle.loads(pickle.dumps(changed)) == changed
    with pytest.raises(KeyError):
        evolve(conv, no_such_field=1)


def test_timestamps_of_a_repeated_hour_stay_an_hour_apart() -> None:
    """01:30 in London on the night clocks go back happens twice: the two times are equal
    (and hash alike) in Python, but an hour apart; each keeps its own text."""
    london = ZoneInfo("Europe/London")
    first = datetime(2026, 10, 25, 1, 30, tzinfo=london)
    second = first.replace(fold=1)
    assert first == second
    assert ts(first) == "2026-10-25T00:30:00.000000Z"
    assert ts(second) == "2026-10-25T01:30:00.000000Z"
    assert ts(first.astimezone(UTC)) == ts(first)
    assert ts(second.astimezone(UTC)) == ts(second)
    utc = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert ts(utc) == ts(utc + timedelta(0)) == "2026-10-25T00:30:00.000000Z"
