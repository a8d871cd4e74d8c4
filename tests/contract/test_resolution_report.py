"""First-contact resolution, journey times and the customers' messages per hour, counted by
every store against hand-computed figures."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from inbox.model import Conversation
from inbox.sla import SlaPolicy
from inbox.store import Store, WriteBatch
from inbox.usecases.reports import Reports, drill_filter, week_hours
from search.sqlite import SqliteStore
from tests.factories import at, conversation, customer, message
from tests.schema_history import TO_SCHEMA_12, reopened_at

SINCE, UNTIL = at(2, 0), at(10, 0)


def _conv(vid: str, channel: str, agent: str | None, created: datetime,
          resolved: datetime | None, previous: str | None = None, **kw: object) -> Conversation:
    return conversation(vid, "c1", channel, 1, created_at=created, updated_at=created,
                        last_message_at=created, assignee=agent, previous_id=previous,
                        status="resolved" if resolved else "open", resolved_at=resolved,
                        resolution_seconds=None if resolved is None
                        else (resolved - created).total_seconds(), **kw)


# id: channel, agent, created, resolved, previous (the range: days 2 to 9 included)
CHAINS = [
    _conv("a1", "email", "u1", at(3), at(4)),
    _conv("a2", "email", "u1", at(3, 14), at(4, 12)),
    _conv("b2", "x", "u2", at(8), at(9), "a2"),  # 3.5 days after a2's resolution
    _conv("a3", "webform", None, at(4), at(4, 18)),
    _conv("b3", "webform", None, at(15), at(16), "a3"),  # after 7 days, after the range
    _conv("a4", "email", "u2", at(5), None),
    _conv("a5", "email", "u1", at(1), at(1, 18)),  # before the range
    _conv("c1", "x", "u2", at(6), at(6, 15)),
    _conv("c2", "email", "u2", at(6, 18), at(6, 20), "c1"),
    _conv("c3", "webform", "u2", at(7), at(7, 13), "c2"),
    _conv("d1", "email", None, at(1), at(1, 14)),  # before the range
    _conv("d2", "email", None, at(3), at(3, 18), "d1"),  # a repeat: no first contact
    _conv("hit", "x", None, at(3), at(4), None, ),
]
CHAINS[-1] = replace(CHAINS[-1], status="listening")


async def test_first_contact_resolution_and_journeys_by_hand(store: Store) -> None:
    await store.write(WriteBatch(customers=(customer("c1"),), conversations=tuple(CHAINS)))
    report = await store.resolution_report(SINCE, UNTIL)
    fcr = {(r.group, r.key): (r.resolved, r.first_contact) for r in report.fcr}
    # resolved in the range: a1 a2 b2 a3 c1 c2 c3 d2; repeated within 7 days: a2 c1 c2
    assert fcr == {("all", "all"): (8, 5),
                   ("channel", "email"): (4, 2), ("channel", "webform"): (2, 2),
                   ("channel", "x"): (2, 1),
                   ("agent", "u1"): (2, 1), ("agent", "u2"): (4, 2),
                   ("agent", "unassigned"): (2, 2)}
    assert report.fcr[0].rate == 5 / 8
    assert [r.key for r in report.fcr] == ["all", "email", "webform", "x", "u1", "u2",
                                           "unassigned"]
    # first contacts a1 (1 day), a2 to b2 (6 days - 2 h), a3 to b3 (12 days), c1 to c3
    # (25 h); a4 is not resolved
    journeys = {r.channel: (r.journeys, r.p50, r.p90) for r in report.journeys}
    day = 86400.0
    assert journeys == {  # p50 and p90 interpolated linearly, as the SLA report's
        "all": (4, 300600.0, pytest.approx(511200 + 0.7 * (12 * day - 511200))),
        "email": (2, (day + 511200) / 2, pytest.approx(day + 0.9 * (511200 - day))),
        "webform": (1, 12 * day, 12 * day), "x": (1, 90000.0, 90000.0)}
    assert report.journeys[0].channel == "all"
    for row in report.fcr:  # each "resolved" lists its conversations
        listed = await store.list_conversations(
            drill_filter(SINCE, UNTIL, row.group, row.key, "resolved"), None, 50)
        assert len(listed.items) == row.resolved, row
    reports = Reports(store, SlaPolicy())
    for row in report.fcr:  # ... and each "resolved at first contact"
        ids = await reports.resolution_ids(SINCE, UNTIL, "first_contact", row.group, row.key)
        assert len(ids) == row.first_contact, row
        created = {c.id: c.created_at for c in CHAINS}
        assert [created[i] for i in ids] == sorted((created[i] for i in ids), reverse=True)
    assert set(await reports.resolution_ids(SINCE, UNTIL, "first_contact", "all", "all")) == {
        "a1", "b2", "a3", "c3", "d2"}
    for journey in report.journeys:  # each journey count lists its first contacts
        ids = await reports.resolution_ids(SINCE, UNTIL, "journeys", "channel", journey.channel)
        assert len(ids) == journey.journeys, journey
    assert await reports.resolution_ids(SINCE, UNTIL, "journeys", "channel", "all") == [
        "c1", "a3", "a2", "a1"]
    assert await reports.resolution_ids(SINCE, UNTIL, "first_contact", "agent", "u9") == []


async def test_a_repeat_contact_and_an_open_chain_change_the_figures(store: Store) -> None:
    await store.write(WriteBatch(customers=(customer("c1"),), conversations=tuple(CHAINS)))
    await store.resolution_report(SINCE, UNTIL)  # the SQLite store's columns loaded
    again = _conv("e1", "x", "u1", at(5), None, "a1")  # a1 repeated, and open
    await store.write(WriteBatch(conversations=(again,)))
    report = await store.resolution_report(SINCE, UNTIL)
    assert (report.fcr[0].resolved, report.fcr[0].first_contact) == (8, 4)
    assert {r.channel: r.journeys for r in report.journeys} == {
        "all": 3, "email": 1, "webform": 1, "x": 1}  # a1's journey goes on
    empty = await store.resolution_report(at(20), at(21))
    assert [(r.key, r.resolved) for r in empty.fcr] == [("all", 0)]
    assert [(r.channel, r.journeys, r.p50) for r in empty.journeys] == [("all", 0, None)]


def _messages() -> list:  # type: ignore[type-arg]
    return [message("m1", "a1", "c1", "hi", at(3, 9, 5)),
            message("m2", "a1", "c1", "again", at(3, 9, 59), channel="x"),
            message("m3", "a1", "c1", "later", at(3, 10, 30)),
            message("m4", "a1", "c1", "next day", at(4, 23, 59)),
            message("r1", "a1", None, "our reply", at(3, 9, 30), direction="outbound"),
            message("n1", "a1", None, "a note", at(3, 9, 31), direction="note"),
            message("auto", "a1", "c1", "out of office", at(3, 9, 40), automated=True),
            message("early", "a1", "c1", "before", at(1, 9))]


async def test_the_customers_messages_per_hour(store: Store) -> None:
    msgs = _messages()
    await store.write(WriteBatch(customers=(customer("c1"),), conversations=(CHAINS[0],),
                                 messages=tuple(msgs)))
    assert await store.inbound_hours(SINCE, UNTIL) == [
        (at(3, 9), 2), (at(3, 10), 1), (at(4, 23), 1)]
    moved = replace(msgs[0], created_at=at(4, 23, 10))  # a corrected time moves its hour
    await store.write(WriteBatch(messages=(moved,)))
    assert await store.inbound_hours(SINCE, UNTIL) == [
        (at(3, 9), 1), (at(3, 10), 1), (at(4, 23), 2)]
    assert await store.inbound_hours(at(3, 10), at(4, 0)) == [(at(3, 10), 1)]


async def test_a_store_of_schema_12_counts_its_messages_per_hour(
        sqlite_store: SqliteStore) -> None:
    await sqlite_store.write(WriteBatch(customers=(customer("c1"),), conversations=(CHAINS[0],),
                                        messages=tuple(_messages())))
    store = await reopened_at(sqlite_store, TO_SCHEMA_12)
    try:
        assert await store.inbound_hours(SINCE, UNTIL + timedelta(days=1)) == [
            (at(3, 9), 2), (at(3, 10), 1), (at(4, 23), 1)]
        await store.write(WriteBatch(messages=(message("m9", "a1", "c1", "new", at(3, 10)),)))
        assert (at(3, 10), 2) in await store.inbound_hours(SINCE, UNTIL)
    finally:
        await store.aclose()


async def test_every_heat_map_cell_lists_the_messages_behind_it(store: Store) -> None:
    """Each cell of the heat map in a zone with summer time lists exactly the customers'
    messages it counts, newest first, in pages (the hour repeated in autumn holds both)."""
    london = ZoneInfo("Europe/London")  # summer time ends 2026-10-25 at 01:00 UTC
    times = [datetime(2026, 10, d, h, m, tzinfo=UTC) for d, h, m in (
        (20, 8, 0), (20, 8, 59), (21, 12, 30), (25, 0, 30), (25, 1, 30), (25, 1, 45),
        (26, 9, 0), (27, 8, 15), (27, 23, 59), (31, 18, 0))]
    msgs = [message(f"h{k}", "a1", "c1", f"hour {k}", t, channel=("email", "x")[k % 2])
            for k, t in enumerate(times)]
    msgs += [message("h-reply", "a1", None, "ours", times[0], direction="outbound"),
             message("h-auto", "a1", "c1", "away", times[0], automated=True),
             message("h-late", "a1", "c1", "after", datetime(2026, 11, 9, tzinfo=UTC))]
    await store.write(WriteBatch(customers=(customer("c1"),), conversations=(CHAINS[0],),
                                 messages=tuple(msgs)))
    since = datetime(2026, 10, 19, tzinfo=london).astimezone(UTC)
    until = datetime(2026, 11, 2, tzinfo=london).astimezone(UTC)
    reports = Reports(store, SlaPolicy())
    heat = await reports.heatmap(since, until, london)
    assert heat.counts[6][1] == 3  # Sunday 01:00-01:59: in summer time, then in winter
    seen = []
    for weekday, day in enumerate(heat.counts):
        for hour, n in enumerate(day):
            listed, cursor = [], None
            hours = week_hours(since, until, london, weekday, hour)
            while True:
                page = await reports.hour_messages(hours, cursor, 2)
                listed += page.items
                if (cursor := page.next_cursor) is None:
                    break
            assert len(listed) == n, (weekday, hour)
            assert all((m.created_at.astimezone(london).weekday(),
                        m.created_at.astimezone(london).hour) == (weekday, hour)
                       for m in listed)
            assert [m.created_at for m in listed] == sorted(
                (m.created_at for m in listed), reverse=True)
            seen += [m.id for m in listed]
    assert sorted(seen) == sorted(m.id for m in msgs[:len(times)])
