"""Spike alerts on every store: a subscribed saved search's last complete hour against the
same hour of the previous 7 days; one alert per spike, none without history or below the
minimum; subscribers notified in the app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from inbox.events import EventBus
from inbox.model import Message
from inbox.passwords import Passwords
from inbox.spikes import Verdict
from inbox.store import Store, WriteBatch
from inbox.usecases.accounts import Accounts
from inbox.usecases.alerts import NO_SMTP, AlertSettings, SpikeAlerts
from inbox.usecases.notifications import Notifications
from inbox.usecases.saved_searches import SavedSearches
from inbox.usecases.search import Search
from tests.factories import conversation, customer, message

CHEAP = Passwords(time_cost=1, memory_kib=8, parallelism=1)
DAY = datetime(2026, 11, 20, tzinfo=UTC)  # the spikes are on this day
# customer messages of the previous 7 days, at these hours: (hour, how many a day)
USUAL = ((10, 4), (14, 2), (16, 5))
SPIKES = (14, 15, 17)  # 20 complaints in each of these hours of DAY; 16:00 falls back (5)


def _said(n: int, text: str, when: datetime, **kw: object) -> Message:
    return message(f"m{n}-{when:%d%H%M}", "v1", "c1", text, when, **kw)


def corpus(days: int = 7) -> list[Message]:
    found: list[Message] = []
    for d in range(1, days + 1):
        for hour, many in USUAL:
            start = DAY - timedelta(days=d) + timedelta(hours=hour)
            found += [_said(len(found), "question about my invoice", start + timedelta(minutes=i))
                      for i in range(many + d % 2)]  # 2-3 at 14:00: a small spread
    for hour in SPIKES:
        start = DAY + timedelta(hours=hour)
        found += [_said(len(found), f"charged twice for my bill, call ann@example.com #{i}",
                        start + timedelta(minutes=2 * i)) for i in range(20)]
    found += [_said(len(found), "question about my invoice", DAY + timedelta(hours=16, minutes=i))
              for i in range(5)]
    # never counted: the team's replies in the spike hour
    found += [_said(-1, "sorry, we charged twice", DAY + timedelta(hours=14, minutes=i),
                    direction="outbound") for i in range(30)]
    return found


async def seeded(store: Store, days: int = 7, k: float = 3.0, minimum: int = 5
                 ) -> tuple[SpikeAlerts, SavedSearches, Accounts]:
    await store.write(WriteBatch(customers=(customer("c1"),),
                                 conversations=(conversation("v1", "c1"),),
                                 messages=tuple(corpus(days))))
    accounts = Accounts(store, CHEAP)
    alerts = SpikeAlerts(store, Search(store, accounts), accounts,
                         Notifications(store, EventBus()), AlertSettings(k, minimum))
    return alerts, SavedSearches(store), accounts


def after(hour: int) -> datetime:
    """A few minutes after DAY's `hour` ended: that hour is the last complete one."""
    return DAY + timedelta(hours=hour + 1, minutes=5)


async def test_a_spike_alerts_once_and_again_after_it_fell_back(store: Store) -> None:
    alerts, searches, accounts = await seeded(store)
    alerts.page = 7  # hours counted across pages of the day's matches
    mark = await accounts.add_user("mark@example.com", "marketing", "plum orbit canyon 71", "Mark")
    doc = await searches.create(mark, "Billing", "bill OR invoice")
    await searches.subscribe(mark, doc["id"], True)
    quiet = await searches.create(mark, "Nobody subscribed", "bill")

    def verdict(found: dict[str, Verdict]) -> Verdict:
        assert quiet["id"] not in found  # only subscribed searches are judged
        return found[doc["id"]]

    first = verdict(await alerts.check(after(14)))
    assert first.alert and first.count == 20  # the team's 30 replies are not counted
    assert first.baseline is not None and round(first.baseline.mean, 1) == 2.6
    assert await alerts.check(after(14)) == {}  # that hour is judged already
    state = await store.spike_states.get(doc["id"])
    assert state is not None and state["spiking"]
    assert state.get("delivery", {})["email"] == NO_SMTP

    still_high = verdict(await alerts.check(after(15)))
    assert still_high.high and not still_high.alert
    assert still_high.since == DAY + timedelta(hours=14)
    fell_back = verdict(await alerts.check(after(16)))
    assert not fell_back.high and not fell_back.alert
    again = verdict(await alerts.check(after(17)))
    assert again.alert and again.since == DAY + timedelta(hours=17)

    notes = await Notifications(store, EventBus()).for_user(mark)
    assert [n["kind"] for n in notes] == ["spike", "spike"]
    assert notes[0]["by"] == "Billing" and notes[0]["link"] == "/voc?q=bill+OR+invoice"
    assert notes[0]["text"] == ("20 messages in the hour from 17:00 UTC against 0 usually "
                                "(threshold 0); top terms: charged twice")
    assert notes[1]["text"].startswith("20 messages in the hour from 14:00 UTC against 2.57 "
                                       "usually (threshold 4.06)")


async def test_no_alert_with_too_little_history_or_below_the_minimum(store: Store) -> None:
    alerts, searches, accounts = await seeded(store, days=3, minimum=5)
    mark = await accounts.add_user("mark@example.com", "marketing", "plum orbit canyon 71", "Mark")
    doc = await searches.create(mark, "Billing", "bill")
    await searches.subscribe(mark, doc["id"], True)
    found = (await alerts.check(after(14)))[doc["id"]]
    assert found.count == 20 and found.baseline is None and not found.alert  # 3 days only

    # with 3 days of history enough, 20 is still below a minimum of 21
    alerts.settings = AlertSettings(k=3.0, minimum=21, history_days=3)
    charged = await searches.create(mark, "Charged", "charged")
    await searches.subscribe(mark, charged["id"], True)
    below = (await alerts.check(after(14)))[charged["id"]]
    assert below.count == 20 and below.baseline is not None and below.baseline.mean == 0
    assert not below.high and not below.alert
    assert await Notifications(store, EventBus()).for_user(mark) == []
