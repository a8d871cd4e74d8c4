"""Snooze in headless Chromium: "s" opens the chooser, a choice snoozes the conversation and
it leaves the open queue; the customer's reply brings it back live, without a reload."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from inbox.model import IdentityRef, Status, utcnow
from tests.factories import inbound
from tests.integration.test_journey_browser import accessibility_problems
from tests.integration.test_workspace_browser import (  # noqa: F401 - fixtures
    ARTIFACTS,
    FOCUS_SHOWN,
    Served,
    seed,
    served,
    signed_in,
    smtp_server_fixture,
)

pytestmark = pytest.mark.integration
GONE = "id => !document.getElementById('row-' + id)"
BACK = "id => !!document.getElementById('row-' + id)"


def tomorrow_at_nine(zone: str) -> datetime:
    here = utcnow().astimezone(ZoneInfo(zone))
    return datetime.combine(here.date() + timedelta(days=1), datetime.min.time(),
                            ZoneInfo(zone)).replace(hour=9)


async def test_snooze_wakes_on_the_customers_reply(served: Served,  # noqa: F811 - fixture
                                                   chromium: Any) -> None:
    runtime = served.runtime
    assert runtime
    await seed(runtime, 2)
    page = await signed_in(chromium, served)
    rows = page.locator("#queue-list [role=row][data-id]")
    first = await rows.nth(0).get_attribute("data-id")
    await page.keyboard.press("j")  # into the queue, and open the first conversation
    await page.keyboard.press("Enter")
    await page.wait_for_selector(f"#conversation[data-conversation='{first}']")

    await page.keyboard.press("s")  # the chooser: later today, tomorrow 9:00, next week...
    chooser = page.locator("dialog#snooze")
    assert await chooser.is_visible()
    assert "9:00" in (await chooser.locator("[data-snooze=tomorrow]").inner_text()).replace(
        "09:00", "9:00")
    assert await accessibility_problems(page) == ""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "snooze-chooser-1280.png"))
    await page.set_viewport_size({"width": 390, "height": 844})
    assert await page.evaluate("document.scrollingElement.scrollWidth <= 390")
    await page.screenshot(path=str(ARTIFACTS / "snooze-chooser-390.png"))
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.keyboard.press("Tab")  # from "later today" to "tomorrow"
    await page.keyboard.press("Enter")

    await page.wait_for_function(GONE, arg=first)  # it left the open queue ...
    assert not await chooser.is_visible()
    await page.wait_for_function(  # ... and the next one opened
        "id => { const c = document.getElementById('conversation');"
        " return c && c.dataset.conversation && c.dataset.conversation !== id; }", arg=first)
    await page.wait_for_function(
        "() => document.getElementById('live-news').textContent.startsWith('Snoozed until')")
    assert await page.evaluate(FOCUS_SHOWN)
    stored = await runtime.conversations.current(first or "")
    assert stored.status == Status.SNOOZED
    assert stored.snoozed_until == tomorrow_at_nine(runtime.conversations.sla.calendar.timezone)

    customer = await runtime.store.get_customer(stored.customer_id)
    address = customer.identities[0].value  # c<n>@example.com, who wrote <m<n>@example.com>
    await runtime.ingest([inbound(  # the customer writes again
        "<again@example.com>", "Any news on this?", when=utcnow(), authors=(
            IdentityRef("email", address),),
        parent_keys=(f"mid:<m{address.split('@')[0][1:]}@example.com>",))])
    await page.wait_for_function(BACK, arg=first)  # back in the open queue, live
    assert (await runtime.conversations.current(first or "")).status == Status.OPEN
    assert await page.evaluate("window.sameDocument") is True  # never a reload


async def test_snooze_a_row_until_a_chosen_time(served: Served,  # noqa: F811 - fixture
                                                chromium: Any) -> None:
    runtime = served.runtime
    assert runtime
    await seed(runtime, 2)
    page = await signed_in(chromium, served)
    first = await page.locator("#queue-list [role=row][data-id]").nth(0).get_attribute(
        "data-id")
    await page.keyboard.press("j")  # the row, not opened
    await page.keyboard.press("s")
    zone = ZoneInfo(runtime.conversations.sla.calendar.timezone)
    # three days from now to the minute: "in 3 days" at any time of day (10:30 on the third
    # day read "in 2 days" after 22:30)
    when = (utcnow() + timedelta(days=3, minutes=1)).astimezone(zone).replace(
        second=0, microsecond=0)
    await page.fill("dialog#snooze input[type=datetime-local]", when.strftime("%Y-%m-%dT%H:%M"))
    await page.keyboard.press("Enter")
    await page.wait_for_function(GONE, arg=first)
    assert await page.evaluate(FOCUS_SHOWN)
    assert (await runtime.conversations.current(first or "")).snoozed_until == when

    await page.click("nav.views a:has-text('Snoozed')")  # the snoozed view, with wake times
    row = page.locator(f"#row-{first}")
    await row.wait_for()
    assert "wakes in 3 days" in await row.inner_text()
    assert await accessibility_problems(page) == ""
    await page.screenshot(path=str(ARTIFACTS / "snooze-view-1280.png"))
    assert await page.evaluate("window.sameDocument") is True


async def test_bulk_snooze_of_a_selection(served: Served,  # noqa: F811 - fixture
                                          chromium: Any) -> None:
    runtime = served.runtime
    assert runtime
    await seed(runtime, 3)
    page = await signed_in(chromium, served)
    rows = page.locator("#queue-list [role=row][data-id]")
    ids = [await rows.nth(n).get_attribute("data-id") for n in range(3)]
    await page.keyboard.press("j")  # select the first two with the keyboard
    await page.keyboard.press("x")
    await page.keyboard.press("j")
    await page.keyboard.press("x")
    await page.click("#bulk [data-bulk=snooze]")
    await page.click("dialog#snooze [data-snooze=week]")
    for conv_id in ids[:2]:
        await page.wait_for_function(GONE, arg=conv_id)
    await page.wait_for_function(
        "() => document.getElementById('live-news').textContent.includes('2 conversations')")
    assert await rows.count() == 1 and await rows.nth(0).get_attribute("data-id") == ids[2]
    assert not await page.locator("#bulk").is_visible()
    assert await page.evaluate("document.activeElement.dataset.id") == ids[2]  # not lost
    woken = [await runtime.conversations.current(c or "") for c in ids]
    assert [c.status for c in woken] == [Status.SNOOZED, Status.SNOOZED, Status.OPEN]
    monday = woken[0].snoozed_until
    zone = ZoneInfo(runtime.conversations.sla.calendar.timezone)
    assert monday and monday == woken[1].snoozed_until
    assert (monday.astimezone(zone).weekday(), monday.astimezone(zone).hour) == (0, 9)
    assert timedelta(0) < monday - utcnow() <= timedelta(days=7, hours=9)
