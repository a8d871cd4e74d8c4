"""How pages write times, counts and deadlines for people (web/filters.py)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from inbox.sla import Calendar, SlaPolicy
from web.filters import basis, plural, relative, total, zone_of

NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(("delta", "text"), [
    (timedelta(seconds=10), "just now"),
    (timedelta(minutes=4), "4 min ago"),
    (timedelta(minutes=59), "59 min ago"),
    (timedelta(hours=3), "3 h ago"),
    (timedelta(days=1), "yesterday"),
    (timedelta(days=5), "5 days ago"),
    (timedelta(days=400), "13 months ago"),
    (-timedelta(minutes=20), "in 20 min"),
    (-timedelta(days=1), "tomorrow"),
])
def test_relative_times(delta: timedelta, text: str) -> None:
    assert relative(NOW - delta, NOW) == text


def test_plurals() -> None:
    assert plural(1, "message") == "1 message"
    assert plural(2, "message") == "2 messages"
    assert plural(0, "message") == "0 messages"
    assert plural(1, "identity", "identities") == "1 identity"
    assert plural(3, "identity", "identities") == "3 identities"
    assert total(1, noun="message") == "1 message"
    assert total(12_345, noun="message") == "12,345 messages"
    assert total(1, True, "message") == "1+ messages"


def test_deadlines_carry_no_internal_version() -> None:
    old = ("email response target 8h in business hours mon 09:00-17:00 (UTC), clock started "
           "2026-11-02 12:00 UTC, policy v1")
    assert basis(old).endswith("12:00 UTC")
    assert basis(None) == ""


def test_an_unknown_zone_falls_back_to_the_team_zone() -> None:
    assert zone_of("Asia/Tokyo").key == "Asia/Tokyo"
    assert zone_of("Mars/Olympus", "Europe/London").key == "Europe/London"
    assert zone_of(None, "nope").key == "UTC"


def test_a_deadline_explains_itself_in_plain_words() -> None:
    hours = ((time(9), time(17)),)
    calendar = Calendar("Europe/London", (hours,) * 5 + (((time(10), time(14)),), ()), "GB")
    policy = SlaPolicy(calendar)
    due = policy.due("email", NOW)
    assert due is not None
    assert due[1] == ("Email replies are due within 8h, counted business hours only "
                      "(Mon-Fri 09:00-17:00; Sat 10:00-14:00 (Europe/London, holidays of GB)), "
                      "from 2026-11-30 14:00 UTC")
    x_due = policy.due("x", NOW)
    assert x_due is not None and "X replies are due within 1h, counted round the clock" in x_due[1]
