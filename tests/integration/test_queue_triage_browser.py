"""Triage in headless Chromium: filter the queue by sentiment and language, sort it, set a
conversation's priority from the side panel and tag three conversations at once; axe-core
finds nothing, and the queue fits 1280 and 390 px (screenshots in tests/artifacts)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from inbox import auth
from inbox.model import ConversationFilter, utcnow
from inbox.store import WriteBatch
from tests.integration.test_journey_browser import accessibility_problems
from tests.integration.test_workspace_browser import (  # noqa: F401 - fixtures
    AGENT,
    ARTIFACTS,
    FOCUS_SHOWN,
    PASSWORD,
    Served,
    seed,
    served,
    signed_in,
    smtp_server_fixture,
)

pytestmark = pytest.mark.integration
# subject -> (sentiment, language, hours waiting) of the customer's latest message
MOODS = {"Problem 00": ("negative", "de", 1), "Problem 01": ("negative", "de", 5),
         "Problem 02": ("negative", "en", 9), "Problem 03": ("positive", "de", 7),
         "Problem 04": ("neutral", "fr", 3), "Problem 05": ("negative", "de", 3)}
ROWS = "#queue-list [role=row][data-id]"


async def subjects(page: Any) -> list[str]:
    return [s.strip() for s in await page.locator(f"{ROWS} .qsubject-text").all_inner_texts()]


async def test_filter_sort_prioritise_and_bulk_tag(served: Served,  # noqa: F811 - fixture
                                                  chromium: Any) -> None:
    runtime = served.runtime
    assert runtime
    await seed(runtime, 6)
    now = utcnow()
    found = (await runtime.conversations.page(ConversationFilter(), None, 10)).items
    await runtime.store.restore(WriteBatch(conversations=tuple(
        replace(c, sentiment=MOODS[c.subject or ""][0], lang=MOODS[c.subject or ""][1],
                awaiting_since=now - timedelta(hours=MOODS[c.subject or ""][2]))
        for c in found)))
    page = await signed_in(chromium, served)

    await page.select_option(".queue-filters select[name=sentiment]", "negative")
    await page.select_option(".queue-filters select[name=lang]", "de")
    await page.click(".queue-filters button:has-text('Show')")
    await page.wait_for_function(f"() => document.querySelectorAll('{ROWS}').length === 3")
    assert sorted(await subjects(page)) == ["Problem 00", "Problem 01", "Problem 05"]
    assert "sentiment=negative" in page.url and "lang=de" in page.url
    await page.select_option(".queue-filters select[name=order]", "waiting")  # oldest first
    await page.click(".queue-filters button:has-text('Show')")
    await page.wait_for_url("**order=waiting**")
    await page.wait_for_function(
        f"() => document.querySelector('{ROWS} .qsubject-text').textContent === 'Problem 01'")
    assert await subjects(page) == ["Problem 01", "Problem 05", "Problem 00"]
    assert await page.evaluate("window.sameDocument") is True  # filtered in place

    await page.locator(f"{ROWS} .qsubject").nth(0).click()  # Problem 01, beside the queue
    await page.wait_for_selector("#conversation[data-conversation]")
    await page.select_option("aside.side select[name=priority]", "urgent")
    await page.click("aside.side form[action$='/priority'] button")
    await page.wait_for_selector("#pane-main .flash:has-text('Priority saved.')")
    first = page.locator(ROWS).nth(0)
    await page.wait_for_function(
        f"() => document.querySelector('{ROWS}').textContent.includes('urgent priority')")
    first_id = await first.get_attribute("data-id")
    assert (await runtime.conversations.current(first_id or "")).priority == "urgent"

    for n in range(3):  # select the three, then tag them at once
        await page.locator(f"{ROWS} input[type=checkbox]").nth(n).check()
    assert await page.inner_text("#bulk-count") == "3 conversations selected"
    await page.fill("#bulk input[name=tag]", "VIP")
    assert await accessibility_problems(page) == ""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "queue-triage-1280.png"))
    await page.press("#bulk input[name=tag]", "Enter")  # "Add tag"
    await page.wait_for_selector("#bulk-result:has-text('Tagged “vip”: 3 conversations.')")
    tagged = await runtime.conversations.page(ConversationFilter(tag="vip"), None, 10)
    assert sorted(c.subject or "" for c in tagged.items) == [
        "Problem 00", "Problem 01", "Problem 05"]
    await page.wait_for_function(
        f"() => [...document.querySelectorAll('{ROWS}')].every(r => r.textContent.includes('vip'))")
    assert await page.is_hidden("#bulk")  # nothing selected any more; focus on the queue
    await page.wait_for_function("() => document.activeElement.matches('[role=row]')")
    assert await page.evaluate(FOCUS_SHOWN)
    assert await accessibility_problems(page) == ""

    # the second row as an out-of-date page showed it (its version before the tag): not
    # changed, and said (the request is altered on its way: the live queue would otherwise
    # bring the row up to date at any moment)
    async def out_of_date(route: Any) -> None:
        body = json.loads(route.request.post_data or "{}")
        body["conversations"][1]["version"] -= 1
        await route.continue_(post_data=json.dumps(body))

    await page.route("**/api/conversations/bulk", out_of_date)
    await page.locator(f"{ROWS} input[type=checkbox]").nth(0).check()
    await page.locator(f"{ROWS} input[type=checkbox]").nth(1).check()
    await page.select_option("#bulk select[name=status]", "pending")
    await page.click("#bulk button:has-text('Set status')")
    result = page.locator("#bulk-result")
    await result.locator("text=Not changed").wait_for()
    text = await result.inner_text()
    assert text.startswith("Status set to pending: 1 conversation. Not changed: “Problem 05")
    assert "it changed since you saw it (You changed the tags" in text
    await page.wait_for_function(  # the one not changed stays selected, to try again
        "() => document.querySelector('#bulk-count').textContent === '1 conversation selected'")
    assert await page.evaluate("document.activeElement.id") == "bulk-result"
    await page.unroute("**/api/conversations/bulk")
    await page.locator(f"{ROWS} input[type=checkbox]").nth(1).uncheck()

    await page.set_viewport_size({"width": 390, "height": 844})
    await page.click(".back-to-queue a")  # the queue alone on a phone, filters kept
    await page.wait_for_function(
        "() => !document.querySelector('#conversation[data-conversation]')")
    assert "lang=de" in page.url
    assert await page.evaluate("document.scrollingElement.scrollWidth <= 390")
    await page.locator(f"{ROWS} input[type=checkbox]").nth(0).check()
    assert await page.evaluate("document.scrollingElement.scrollWidth <= 390")
    assert await accessibility_problems(page) == ""
    await page.screenshot(path=str(ARTIFACTS / "queue-triage-390.png"), full_page=True)


# The browser's side of a system notification, recorded: the test reads what would show.
RECORD_NOTIFICATIONS = """
window.__shown = [];
window.__hidden = false;
Object.defineProperty(document, "hidden", { get: () => window.__hidden });
const Real = window.Notification;
window.Notification = function (title, options) {
  window.__shown.push({ title, body: options.body });
};
window.Notification.requestPermission = () => Real.requestPermission();
Object.defineProperty(window.Notification, "permission", { get: () => Real.permission });
"""


async def test_browser_notifications_once_opted_in(served: Served,  # noqa: F811 - fixture
                                                   chromium: Any) -> None:
    runtime = served.runtime
    assert runtime
    await seed(runtime, 2)
    ben = await auth.add_user(runtime.store, "ben@example.com", "agent", PASSWORD, name="Ben",
                              passwords=runtime.passwords)
    ava = await auth.get_user(runtime.store, AGENT)
    assert ava
    context = await chromium.new_context(viewport={"width": 1280, "height": 900})
    await context.grant_permissions(["notifications"])
    await context.add_init_script(RECORD_NOTIFICATIONS)
    page = await context.new_page()
    page.set_default_timeout(10_000)
    await page.goto(f"{served.url}/login")
    await page.fill("input[name=email]", AGENT)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button:has-text('Sign in')")
    await page.goto(f"{served.url}/settings")
    await page.check("#browser-notify")  # opt in (the browser allows this site)
    await page.wait_for_selector("#browser-notify-state:has-text('On in this browser')")
    assert await accessibility_problems(page) == ""

    await page.goto(f"{served.url}/inbox")
    await page.wait_for_selector("#queue-list")
    first = (await runtime.conversations.page(ConversationFilter(), None, 2)).items
    await runtime.conversations.assign(first[0].id, ava.id, ben)  # the tab is shown: no pop-up
    await page.wait_for_selector("[data-notifications-badge]:has-text('1')")
    await page.evaluate("window.__hidden = true")
    await runtime.conversations.assign(first[1].id, ava.id, ben)
    await page.wait_for_function("() => window.__shown.length === 1")
    shown = await page.evaluate("window.__shown")
    assert shown == [{"title": f"Ben assigned you a conversation (#{first[1].ref})",
                      "body": ""}]
    await context.close()
