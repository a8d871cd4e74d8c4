"""The crisis view on every store: a planted spike (a subscribed saved search spiking since
T) counts the customers' messages since T, the distinct customers who wrote them and their
conversations answered (a first response) against waiting; a spike that ended within 48 h
is listed as ended, an older one is not; the read is capped and says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inbox.model import Message
from inbox.store import Store, WriteBatch
from inbox.usecases import crisis
from inbox.usecases.accounts import Accounts
from inbox.usecases.saved_searches import SavedSearches
from inbox.usecases.search import Search
from tests.contract import test_spike_alerts as spikes
from tests.contract.test_spike_alerts import CHEAP
from tests.factories import conversation, customer, message

T = datetime(2026, 11, 20, 14, tzinfo=UTC)  # the spike began
NOW = T + timedelta(hours=5)


def corpus() -> list[Message]:
    said = []
    # before the spike: not counted
    said += [message(f"old{i}", "v1", "c1", "the app is down", T - timedelta(hours=2, minutes=i))
             for i in range(3)]
    # since the spike: c1 (answered) 3, c2 (waiting) 2, c3 (waiting) 1 -> 6 messages
    for n, (vid, cid) in enumerate([("v1", "c1")] * 3 + [("v2", "c2")] * 2 + [("v3", "c3")]):
        said.append(message(f"new{n}", vid, cid, f"outage: the app is down #{n}",
                            T + timedelta(minutes=10 * n)))
    # never counted: the team's reply and another topic
    said.append(message("reply", "v1", "c1", "the app is down, we are on it",
                        T + timedelta(minutes=5), direction="outbound"))
    said.append(message("other", "v3", "c3", "thanks for the invoice", T + timedelta(hours=1)))
    return said


async def seeded(store: Store) -> tuple[SavedSearches, Search, Accounts]:
    answered = T + timedelta(minutes=5)
    await store.write(WriteBatch(
        customers=tuple(customer(c) for c in ("c1", "c2", "c3")),
        conversations=(conversation("v1", "c1", first_response_at=answered),
                       conversation("v2", "c2"), conversation("v3", "c3")),
        messages=tuple(corpus())))
    accounts = Accounts(store, CHEAP)
    search = Search(store, accounts)
    return SavedSearches(store, search), search, accounts


async def test_a_planted_spike_counts_customers_and_answered(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    searches, search, accounts = await seeded(store)
    mark = await accounts.add_user("mark@example.com", "marketing", "plum orbit canyon 71", "Mark")
    outage = await searches.create(mark, "Outage", "down")
    calm = await searches.create(mark, "Calm", "invoice")
    await store.spike_states.put(outage["id"], {
        "hour": (NOW - timedelta(hours=1)).isoformat(), "spiking": True,
        "since": T.isoformat()})
    await store.spike_states.put(calm["id"], {
        "hour": (NOW - timedelta(hours=1)).isoformat(), "spiking": False, "since": None})

    for viewer in (mark, await accounts.add_user("ann@example.com", "agent",
                                                 "plum orbit canyon 72", "Ann")):
        found = await crisis.crises(searches, search, viewer, NOW)
        assert len(found) == 1, viewer.role
        c = found[0]
        assert (c.search["name"], c.since, c.ended) == ("Outage", T, None)
        assert (c.messages, c.customers, c.answered, c.waiting, c.capped) == (6, 3, 1, 2, False)

    monkeypatch.setattr(crisis, "PAGE", 2)
    monkeypatch.setattr(crisis, "MAX_READ", 4)
    capped = (await crisis.crises(searches, search, mark, NOW))[0]
    assert capped.capped and capped.messages == 4


async def test_an_ended_spike_is_listed_for_48_hours(store: Store) -> None:
    searches, search, accounts = await seeded(store)
    mark = await accounts.add_user("mark@example.com", "marketing", "plum orbit canyon 71", "Mark")
    outage = await searches.create(mark, "Outage", "down")
    until = T + timedelta(minutes=35)  # the last two messages came after it fell back
    await store.spike_states.put(outage["id"], {
        "hour": until.isoformat(), "spiking": False, "since": None,
        "ended": {"since": T.isoformat(), "until": until.isoformat()}})

    [c] = await crisis.crises(searches, search, mark, until + timedelta(hours=47))
    assert (c.since, c.ended) == (T, until)
    assert (c.messages, c.customers, c.answered, c.waiting) == (4, 2, 1, 1)
    assert await crisis.crises(searches, search, mark, until + timedelta(hours=49)) == []


async def test_the_alert_worker_keeps_the_spike_that_fell_back(store: Store) -> None:
    alerts, searches, accounts = await spikes.seeded(store)
    mark = await accounts.add_user("mark@example.com", "marketing", "plum orbit canyon 71", "Mark")
    doc = await searches.create(mark, "Billing", "bill OR invoice")
    await searches.subscribe(mark, doc["id"], True)
    search = Search(store, accounts)
    for hour in (14, 15):
        await alerts.check(spikes.after(hour))
    [now] = await crisis.crises(searches, search, mark, spikes.after(15))
    assert now.ended is None and now.since == spikes.DAY + timedelta(hours=14)
    # 14:00 and 15:00 and 16:00-16:05, none later; the team's replies are not counted
    assert (now.messages, now.customers) == (45, 1)
    await alerts.check(spikes.after(16))  # fell back
    [ended] = await crisis.crises(searches, search, mark, spikes.after(16))
    assert (ended.since, ended.ended) == (now.since, spikes.DAY + timedelta(hours=16))
    assert ended.messages == 40
    await alerts.drain()
