"""The Done-when of the managers' dashboard in headless Chromium, on demo data: a manager
opens /reports, sees its charts (each SVG loads, a line per channel, no errors in the
console, nothing missing), clicks a number, lands on the
conversations behind it, as many as the number, and downloads them as CSV, as many rows."""

from __future__ import annotations

import csv
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from inbox.app.demo.seed import seed
from tests.integration.test_journey_browser import accessibility_problems, shots, sign_in
from tests.integration.web_support import RoleWeb, start_web

pytestmark = pytest.mark.integration
CONVERSATION_LINK = "a[href^='/conversations/']"


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[RoleWeb]:
    async for w in start_web(db=str(tmp_path / "inbox.db")):
        await seed(w.runtime, days=4, customers=40)
        yield w


async def test_a_manager_drills_from_a_number_to_its_conversations_and_their_csv(
        demo: RoleWeb, browser_page: Any, tmp_path: Path) -> None:
    page, base = browser_page, str(demo.client.make_url("")).rstrip("/")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    await sign_in(page, base, "manager@example.com")
    await page.wait_for_url(lambda url: "/login" not in url)
    await page.goto(f"{base}/reports")
    charts = page.locator("img[src*='.svg']")
    assert await charts.count() == 3  # compliance, p90, backlog
    for k in range(3):
        chart = charts.nth(k)
        await chart.scroll_into_view_if_needed()  # they load lazily
        await page.wait_for_function("img => img.complete", arg=await chart.element_handle())
        assert await chart.evaluate("img => img.naturalWidth") > 0
    svg = await (await page.request.get(base + (await charts.first.get_attribute("src")
                                                  or ""))).text()
    for line in ("All channels", "Email", "X", "Web form"):
        assert f">{line}<" in svg, line  # the legend: a line per channel
    assert await accessibility_problems(page) == ""
    await shots(page, "reports")

    number = await _a_number(page)
    count = int(await number.inner_text())
    await number.click()
    await page.wait_for_url(re.compile(r"/reports/conversations\?"))
    heading = await page.inner_text("h1")
    assert "conversations" in heading.lower()
    assert await page.locator(f"table.list tbody {CONVERSATION_LINK}").count() == count
    assert await page.locator("text=Next page").count() == 0
    assert await accessibility_problems(page) == ""
    await shots(page, "report-conversations")

    async with page.expect_download() as info:
        await page.click("text=Download all as CSV")
    download = await info.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    with saved.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == count
    assert all(row["ref"] and row["id"] for row in rows)
    assert errors == []


async def _a_number(page: Any) -> Any:
    """A link of the report page to the conversations behind a number, the first in the
    SLA tables, then the backlog, then the others that is a count from 1 to 50 (one
    page)."""
    links = page.locator("a[href^='/reports/conversations?']")
    candidates = []
    for k in range(await links.count()):
        link = links.nth(k)
        text = (await link.inner_text()).strip()
        if text.isdigit() and 1 <= int(text) <= 50:
            href = await link.get_attribute("href") or ""
            rank = 0 if "report=" not in href else 1 if "report=backlog" in href else 2
            candidates.append((rank, k, link))
    assert candidates, "no number of the page links to its conversations"
    return min(candidates, key=lambda c: c[:2])[2]
