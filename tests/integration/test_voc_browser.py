"""The voice of the customer in headless Chromium: a facet clicked twice is in the query
once, each active facet is a chip that removes it (by keyboard too), the page says whose
voice it counts, and a manager's QA option; axe-core finds nothing; screenshots at 1280
and 390 px."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from inbox.model import IdentityRef, utcnow
from tests.factories import inbound
from tests.integration.test_journey_browser import accessibility_problems, shots, sign_in
from tests.integration.web_support import RoleWeb, start_web

pytestmark = pytest.mark.integration


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[RoleWeb]:
    async for w in start_web(db=str(tmp_path / "inbox.db")):
        yield w


async def fits_390(page: Any) -> None:
    await page.set_viewport_size({"width": 390, "height": 844})
    assert await page.evaluate("document.scrollingElement.scrollWidth <= 390")
    await page.set_viewport_size({"width": 1280, "height": 900})


def query_of(url: str) -> str:
    return parse_qs(urlsplit(url).query).get("q", [""])[0]


async def test_facets_are_added_once_and_removed_by_their_chip(desk: RoleWeb,
                                                               browser_page: Any) -> None:
    page, base = browser_page, str(desk.client.make_url("")).rstrip("/")
    await desk.runtime.ingest([inbound(
        f"<v{i}@example.com>", f"The router is dead again, day {i}", subject="Router",
        authors=(IdentityRef("email", f"c{i}@example.com"),)) for i in range(4)])
    await sign_in(page, base, "marketing@example.com")
    await page.goto(f"{base}/voc?q=router")
    scope = await page.locator("p.voice-scope").inner_text()
    assert "team's replies, internal notes, auto-replies and bounces are not counted" in scope
    assert await page.locator("input[name=team]").count() == 0  # marketing: no QA option

    for _ in range(2):  # clicked again: still once
        async with page.expect_navigation():
            await page.locator("aside.side a", has_text="email").click()
        assert query_of(page.url) == "router channel:email"
    chip = page.locator("ul.chips a.chip")
    assert await chip.count() == 1
    assert await chip.get_attribute("aria-label") == "Remove channel:email"
    assert await page.locator("aside.side a[aria-current=true]").inner_text() == "email"
    assert await accessibility_problems(page) == ""
    await shots(page, "voc-facet-chip")
    await fits_390(page)

    await chip.focus()  # reachable and usable by keyboard
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert query_of(page.url) == "router"
    assert await page.locator("ul.chips").count() == 0


async def test_a_manager_may_include_the_teams_replies(desk: RoleWeb,
                                                       browser_page: Any) -> None:
    page, base = browser_page, str(desk.client.make_url("")).rstrip("/")
    await sign_in(page, base, "manager@example.com")
    await page.goto(f"{base}/voc")
    customers_only = await page.locator("main p", has_text="message").first.inner_text()
    await page.check("input[name=team]")
    async with page.expect_navigation():
        await page.click("button:has-text('Show')")
    assert parse_qs(urlsplit(page.url).query).get("team") == ["1"]
    assert "the team's replies (for QA)" in await page.locator("p.voice-scope").inner_text()
    assert await page.locator("main p", has_text="message").first.inner_text() != customers_only
    assert await accessibility_problems(page) == ""
    await shots(page, "voc-team")
    await fits_390(page)


async def test_the_search_page_facets_are_removable_too(desk: RoleWeb, browser_page: Any
                                                        ) -> None:
    page, base = browser_page, str(desk.client.make_url("")).rstrip("/")
    await sign_in(page, base, "agent@example.com")
    await page.goto(f"{base}/search?q=bill&facets=channel")
    for _ in range(2):
        async with page.expect_navigation():
            await page.locator("aside.side a", has_text="email").click()
        assert query_of(page.url) == "bill channel:email"
    assert await accessibility_problems(page) == ""
    await shots(page, "search-facet-chip")
    await fits_390(page)
    async with page.expect_navigation():
        await page.locator("ul.chips a.chip").click()
    assert query_of(page.url) == "bill"


async def test_a_range_preset_and_the_charts_values_on_hover_and_focus(
        desk: RoleWeb, browser_page: Any) -> None:
    page, base = browser_page, str(desk.client.make_url("")).rstrip("/")
    today = utcnow()
    await desk.runtime.ingest([inbound(
        f"<r{i}@example.com>", f"Outage again, day {i}: nothing works, awful", subject="Outage",
        when=today - timedelta(days=i % 3), authors=(IdentityRef(
            "email", f"r{i}@example.com"),)) for i in range(7)])
    await sign_in(page, base, "marketing@example.com")
    await page.goto(f"{base}/voc?q=outage")
    async with page.expect_navigation():
        await page.get_by_role("link", name="Last 7 days").click()
    query = parse_qs(urlsplit(page.url).query)
    assert query["to"] == [today.date().isoformat()] and query["q"] == ["outage"]
    assert await page.locator("input[name=from]").input_value() == query["from"][0]
    assert await page.get_by_role("link", name="Last 7 days").get_attribute(
        "aria-current") == "true"

    bar = page.locator("svg.chart g.bar").last
    value = bar.locator("text.value")
    assert not await value.is_visible()
    await bar.hover()
    assert await value.is_visible() and await value.text_content() == "3"
    await page.mouse.move(0, 0)
    assert not await value.is_visible()
    await bar.focus()  # by keyboard too; screen readers read the same numbers
    assert await value.is_visible()
    assert (await bar.get_attribute("aria-label") or "").startswith(
        f"{today.date().isoformat()}: 3 messages")
    await page.locator("details.chart-data summary").click()
    assert await page.locator("details.chart-data tbody tr").count() == 3
    assert await page.locator(".msg mark").first.inner_text() == "Outage"
    assert await accessibility_problems(page) == ""
    await shots(page, "voc-range-chart")
    await fits_390(page)
