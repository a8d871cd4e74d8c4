"""Business calendars, targets, clock states and the breach sweep."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from inbox.errors import ConfigError
from inbox.events import EventBus
from inbox.model import Status, User
from inbox.sla import (
    Calendar,
    SlaPolicy,
    Target,
    add_business_time,
    business_time_between,
    parse_duration,
    policy_from_config,
)
from inbox.store import WriteBatch
from inbox.usecases.conversations import Conversations
from search.sqlite import SqliteStore
from tests.factories import conversation, customer

LONDON = policy_from_config({"timezone": "Europe/London", "country": "GB",
                             "targets": {"email": "4h"}})


def utc(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def test_business_time_skips_nights_weekends_and_holidays() -> None:
    cal = LONDON.calendar
    # Thursday 24 Dec 2026 16:00 London (UTC in winter): 1 h left that day, then Christmas
    # (Fri 25), the weekend and Boxing Day substitute (Mon 28) are closed: Tue 29 at 12:00.
    assert add_business_time(utc(24, 16), timedelta(hours=4), cal) == utc(29, 12)
    assert business_time_between(utc(24, 16), utc(29, 12), cal) == timedelta(hours=4)
    # before opening: the clock starts at 09:00
    assert add_business_time(utc(1, 6), timedelta(minutes=30), cal) == utc(1, 9, 30)


def test_summer_time_is_local_time() -> None:
    cal = Calendar("Europe/London")
    # 1 July 2026: 09:00 London is 08:00 UTC
    assert add_business_time(utc(1, 7, month=7), timedelta(hours=1), cal) == utc(1, 9,
                                                                                   month=7)


def test_due_explains_itself_and_social_runs_round_the_clock() -> None:
    due, basis = LONDON.due("email", utc(4, 16))  # Friday 16:00
    assert due == utc(7, 12)  # 1 h Friday + 3 h Monday
    assert "business hours" in basis and "Europe/London" in basis and "GB" in basis
    x_due, x_basis = LONDON.due("x", utc(5, 23))  # Saturday night
    assert x_due == utc(6, 0) and "24/7" in x_basis
    assert LONDON.due("fax", utc(5, 1)) is None


def test_clock_states_and_first_response_figures() -> None:
    conv = replace(conversation("v1", "c1", "email"), awaiting_since=utc(7, 9),
                   due_at=utc(7, 13))
    assert LONDON.state(conv, utc(7, 10)) == "ok"
    assert LONDON.state(conv, utc(7, 12, 1)) == "at_risk"  # 3 of 4 hours gone
    assert LONDON.state(conv, utc(7, 13)) == "breached"
    answered = LONDON.answered(conv, utc(7, 14))
    assert answered.first_response_seconds == 5 * 3600 and answered.first_response_breached
    assert answered.due_at is None and LONDON.state(answered, utc(8, 9)) is None
    again = LONDON.answered(replace(answered, awaiting_since=utc(8, 9)), utc(8, 10))
    assert again.first_response_seconds == 5 * 3600  # the first response is kept


def test_a_customer_message_starts_the_clock_once_and_only_on_open_conversations() -> None:
    conv = conversation("v1", "c1", "email")
    started = LONDON.customer_wrote(conv, utc(7, 9))
    assert started.awaiting_since == utc(7, 9) and started.due_at == utc(7, 13)
    assert started.due_basis is not None and "Email replies are due within 4h" in started.due_basis
    later = LONDON.customer_wrote(started, utc(7, 11))  # still counting from the oldest
    assert (later.awaiting_since, later.due_at) == (utc(7, 9), utc(7, 13))
    for status in (Status.PENDING, Status.RESOLVED, Status.LISTENING):
        assert LONDON.customer_wrote(replace(conv, status=status), utc(7, 9)) \
            .awaiting_since is None
    no_target = LONDON.customer_wrote(conversation("v2", "c1", "fax"), utc(7, 9))
    assert no_target.awaiting_since == utc(7, 9) and no_target.due_at is None


def test_resolving_stops_every_clock_and_keeps_time_to_resolution() -> None:
    conv = LONDON.customer_wrote(replace(conversation("v1", "c1", "email"),
                                         created_at=utc(7, 9)), utc(7, 9))
    done = LONDON.resolved(conv, utc(7, 11))
    assert done.status == Status.RESOLVED and done.resolved_at == utc(7, 11)
    assert (done.awaiting_since, done.due_at, done.due_basis) == (None, None, None)
    assert done.resolution_seconds == 2 * 3600


def test_a_rejected_reply_restarts_the_clock_and_forgets_that_first_response() -> None:
    conv = LONDON.customer_wrote(conversation("v1", "c1", "email"), utc(7, 9))
    answered = LONDON.answered(conv, utc(7, 10))
    assert answered.first_response_at == utc(7, 10) and answered.due_at is None
    again = LONDON.reply_rejected(answered, utc(7, 9), utc(7, 10))
    assert (again.awaiting_since, again.due_at) == (utc(7, 9), utc(7, 13))
    assert (again.first_response_at, again.first_response_seconds,
            again.first_response_breached) == (None, None, None)
    # a later reply rejected: the earlier, delivered first response stays
    kept = LONDON.reply_rejected(answered, utc(7, 11), utc(7, 12))
    assert kept.first_response_at == utc(7, 10) and kept.awaiting_since == utc(7, 11)


@pytest.mark.parametrize(("section", "key"), [
    ({"timezone": "Mars/Olympus"}, "sla.timezone"),
    ({"country": "XX"}, "sla.country"),
    ({"hours": {"mon": ["9-5"]}}, "sla.hours.mon"),
    ({"hours": {"funday": ["09:00-17:00"]}}, "sla.hours.funday"),
    ({"hours": {"tue": ["17:00-09:00"]}}, "sla.hours.tue"),
    ({"targets": {"email": "soon"}}, "sla.targets.email"),
])
def test_config_errors_name_the_key(section: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        policy_from_config(section)
    assert err.value.key == key


def test_durations_and_extra_holidays() -> None:
    assert parse_duration("k", "1d 2h 30m") == timedelta(days=1, hours=2, minutes=30)
    policy = policy_from_config({"holidays": ["2026-12-07"]})
    assert policy.calendar.is_holiday(date(2026, 12, 7))
    assert isinstance(policy, SlaPolicy)


async def test_sweep_alerts_once_per_state(sqlite_store: SqliteStore) -> None:
    events = EventBus()
    service = Conversations(sqlite_store, events, sla=LONDON)
    convs = (replace(conversation("late", "c1", "email"), awaiting_since=utc(7, 9),
                     due_at=utc(7, 13)),
             replace(conversation("soon", "c1", "email"), awaiting_since=utc(7, 9),
                     due_at=utc(7, 16)),
             replace(conversation("fine", "c1", "email"), awaiting_since=utc(7, 14),
                     due_at=utc(8, 10)))
    await sqlite_store.write(WriteBatch(customers=(customer("c1"),), conversations=convs))
    async with events.subscribe() as queue:
        assert await service.sweep_sla(utc(7, 15)) == {"at_risk": 1, "breached": 1}
        assert await service.sweep_sla(utc(7, 15, 5)) == {"at_risk": 0, "breached": 0}
        kinds = {(e.kind, e.conversation_id) for e in [queue.get_nowait(), queue.get_nowait()]}
        assert queue.empty()
    assert kinds == {("sla.breached", "late"), ("sla.at_risk", "soon")}
    assert (await service.sweep_sla(utc(7, 16)))["breached"] == 1  # "soon" breaches later


def test_deadlines_past_the_datetime_range_are_a_clear_error() -> None:
    from inbox.sla import Calendar, add_business_time

    with pytest.raises(ValueError, match="beyond the calendar"):
        add_business_time(datetime(9999, 12, 29, tzinfo=UTC), timedelta(hours=80), Calendar())


def test_a_deadline_beyond_the_stores_dates_is_no_deadline() -> None:
    """Elasticsearch's date_nanos ends in 2262: a deadline past the stores' range is refused
    by the core (ingest dead-letters the item at stage "sla") on every store alike."""
    policy = SlaPolicy(targets={"x": Target(timedelta(days=400), business_hours=False)})
    assert policy.due("x", datetime(2260, 6, 1, tzinfo=UTC)) is not None
    with pytest.raises(ValueError, match="beyond the dates the stores hold"):
        policy.due("x", datetime(2261, 12, 1, tzinfo=UTC))


def test_a_priority_of_a_channel_can_have_its_own_target() -> None:
    policy = policy_from_config({"timezone": "Europe/London",
                                 "targets": {"email": "8h", "email.urgent": "1h", "x.high": "30m"},
                                 "calendar_time": ["x"]})
    monday_nine = utc(7, 9)
    normal = policy.due("email", monday_nine, "normal")
    urgent = policy.due("email", monday_nine, "urgent")
    assert normal is not None and normal[0] == utc(7, 17)  # the channel's 8 business hours
    assert urgent is not None and urgent[0] == utc(7, 10)
    assert urgent[1].startswith("Email urgent-priority replies are due within 1h")
    x_high = policy.due("x", monday_nine, "high")
    assert x_high is not None and x_high[0] == monday_nine + timedelta(minutes=30)
    with pytest.raises(ConfigError) as err:
        policy_from_config({"targets": {"email.vip": "1h"}})
    assert err.value.key == "sla.targets.email.vip" and "urgent" in str(err.value)


async def test_raising_the_priority_brings_a_running_deadline_forward(
        sqlite_store: SqliteStore) -> None:
    policy = policy_from_config({"timezone": "Europe/London",
                                 "targets": {"email": "8h", "email.urgent": "1h"}})
    service = Conversations(sqlite_store, EventBus(), sla=policy)
    waiting = policy.customer_wrote(conversation("w", "c1", "email"), utc(7, 9))
    assert waiting.due_at == utc(7, 17)
    await sqlite_store.write(WriteBatch(customers=(customer("c1"),), conversations=(waiting,)))
    manager = User("u-m", "m@example.com", "manager", "-")
    urgent = await service.set_priority("w", "urgent", manager)
    assert (urgent.awaiting_since, urgent.due_at) == (utc(7, 9), utc(7, 10))
    assert "urgent-priority" in (urgent.due_basis or "")
    assert policy.state(urgent, utc(7, 9, 50)) == "at_risk"  # 75% of the urgent hour
    back = await service.set_priority("w", "normal", manager)
    assert back.due_at == utc(7, 17)
