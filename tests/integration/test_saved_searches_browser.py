"""Saved searches in headless Chromium: marketing saves the VoC's search under a name, finds
it on the list, runs it and subscribes to its spike alerts; axe-core finds nothing;
screenshots at 1280 and 390 px."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_journey_browser import accessibility_problems, shots, sign_in
from tests.integration.web_support import RoleWeb, start_web

pytestmark = pytest.mark.integration


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[RoleWeb]:
    async for w in start_web(db=str(tmp_path / "inbox.db")):
        yield w


async def test_save_a_search_from_the_voc_see_it_listed_and_subscribe(
        desk: RoleWeb, browser_page: Any) -> None:
    page, base = browser_page, str(desk.client.make_url("")).rstrip("/")
    await sign_in(page, base, "marketing@example.com")
    await page.goto(f"{base}/voc?q=bill")
    await page.get_by_label("Save this search as").fill("Billing complaints")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Save", exact=True).click()
    assert page.url.startswith(f"{base}/voc/saved")
    assert "Search “Billing complaints” saved." in await page.locator(".flash").inner_text()
    link = page.get_by_role("link", name="Billing complaints", exact=True)
    assert await link.get_attribute("href") == "/voc?q=bill"

    async with page.expect_navigation():
        await page.get_by_role("button", name="Subscribe to Billing complaints").click()
    assert await page.locator(".subscribed").inner_text() == "You are subscribed"
    (doc,) = await desk.runtime.saved_searches.all()
    marketing = await desk.runtime.accounts.user("marketing@example.com")
    assert doc["subscribers"] == [marketing.id]
    assert await accessibility_problems(page) == ""
    await shots(page, "saved-searches")

    async with page.expect_navigation():
        await link.click()
    assert await page.get_by_role("textbox", name="Query").input_value() == "bill"
