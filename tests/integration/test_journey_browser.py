"""The journey and the small things, as a person sees them in headless Chromium: the
two-way journey beside a conversation, the other open case, times in the agent's zone, the
customer's reference; axe-core finds nothing; screenshots at 1280 and 390 px."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from inbox.model import IdentityRef
from tests.factories import inbound
from tests.integration.web_support import (
    CUSTOMER_EMAIL,
    NOTE_TEXT,
    PASSWORD,
    REPLY_TEXT,
    RoleWeb,
    start_web,
)
from tests.servers import unavailable

pytestmark = pytest.mark.integration
ARTIFACTS = Path(__file__).parents[1] / "artifacts"
WIDTHS = (1280, 390)
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[RoleWeb]:
    async for w in start_web(db=str(tmp_path / "inbox.db")):
        yield w


async def accessibility_problems(page: Any, tags: list[str] | None = None) -> str:
    """What axe-core (shipped by axe-playwright-python) finds on the page, every rule or
    those of `tags`; '' for nothing."""
    try:
        from axe_playwright_python.async_playwright import Axe
    except ImportError:
        unavailable("axe-core is missing: pip install -e '.[test]' (make test installs it)")
    options: dict[str, Any] = {"resultTypes": ["violations"]}
    if tags:
        options["runOnly"] = {"type": "tag", "values": tags}
    results = await Axe().run(page, options=options)
    if results.violations_count == 0:
        return ""
    return f"{results.generate_snapshot()}\n{results.generate_report()}"


async def shots(page: Any, name: str) -> None:
    """The page at each width, to tests/artifacts/ (ignored by git); it must fit 390 px."""
    ARTIFACTS.mkdir(exist_ok=True)
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 900})


async def sign_in(page: Any, base: str, email: str) -> None:
    await page.goto(f"{base}/login")
    assert await accessibility_problems(page) == ""
    await shots(page, "login")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button:has-text('Sign in')")


async def test_the_journey_in_both_directions_and_the_other_open_case(
        desk: RoleWeb, browser_page: Any) -> None:
    page, base = browser_page, str(desk.client.make_url("")).rstrip("/")
    second = (await desk.runtime.ingest([inbound(
        "<m2@example.com>", "And now the router blinks red", subject="Router",
        authors=(IdentityRef("email", CUSTOMER_EMAIL),))])).stored[0].conversation_id
    await sign_in(page, base, "agent@example.com")
    # the inbox (another engineer's page, issue 12): WCAG rules here, best practices too
    # on the pages of the journey
    assert await accessibility_problems(page, WCAG) == ""
    await page.goto(f"{base}/conversations/{second}")
    journey = page.locator("section.journey")
    groups = journey.locator("section.journey-conv")
    assert await groups.count() == 2
    current = journey.locator("section.journey-current")
    earlier = journey.locator("section.journey-conv:not(.journey-current)")
    assert "This conversation" in await current.inner_text()
    assert "router blinks red" not in await journey.inner_text()  # not repeated beside it
    told = await earlier.inner_text()
    assert "My bill is wrong" in told and REPLY_TEXT in told and NOTE_TEXT in told
    assert "Reply by" in told and "Internal note by" in told
    assert "Email" in told and "open" in told and "3 messages" not in told
    notice = page.locator(".continuity")
    assert "another open conversation" in await notice.inner_text()
    assert await accessibility_problems(page) == ""
    await shots(page, "conversation")
    await notice.locator("a").click()  # one click into the other case
    await page.wait_for_url(re.compile(r"/conversations/v"))
    await page.locator("#pane-main h1", has_text="Bill for").wait_for()  # loaded in place
    await earlier_link_check(page)
    await page.click("aside.side a >> nth=0")  # the customer page: the same journey
    assert await page.locator("section.journey-conv").count() == 2
    assert await accessibility_problems(page) == ""
    await shots(page, "customer")


async def earlier_link_check(page: Any) -> None:
    """Every group links to its conversation, the one on screen marked as the current page."""
    links = page.locator("section.journey-conv h3 a")
    assert await links.count() == 2
    assert await page.locator("section.journey-conv h3 a[aria-current=page]").count() == 1


async def test_times_read_in_the_agents_own_zone(desk: RoleWeb,
                                                 browser_page: Any) -> None:
    page, base = browser_page, str(desk.client.make_url("")).rstrip("/")
    await sign_in(page, base, "agent@example.com")
    await page.goto(f"{base}/settings")
    await page.select_option("select[name=timezone]", "Asia/Tokyo")
    await page.click("button:has-text('Save')")
    assert "Asia/Tokyo" in await page.inner_text(".flash")
    assert await accessibility_problems(page) == ""
    await shots(page, "settings")
    await page.goto(f"{base}/conversations/{desk.ids['conversation']}")
    stamp = page.locator("section.thread article.msg time").first
    assert re.fullmatch(r"just now|yesterday|\d+ (min|h|days) ago", await stamp.inner_text())
    assert (await stamp.get_attribute("title") or "").endswith("JST")
    body = await page.inner_text("main")
    assert "version " not in body and "policy v" not in body
    assert "1 messages" not in body


async def test_customers_see_a_short_reference_never_an_internal_id(
        desk: RoleWeb, browser_page: Any) -> None:
    page, base = browser_page, str(desk.client.make_url("")).rstrip("/")
    await page.goto(f"{base}/forms/contact")
    await page.fill("input[name=name]", "Cy")
    await page.fill("input[name=email]", "cy@example.com")
    await page.fill("textarea[name=message]", "Where is my refund?")
    await page.click("button:has-text('Send')")
    shown = await page.inner_text("main")
    found = re.search(r"#(\d{5,})", shown)
    assert found, shown
    conv = await desk.runtime.conversations.by_reference(int(found.group(1)))
    assert conv is not None and conv.id not in await page.content()
    assert not re.search(r"\bv[0-9a-f]{20}\b", await page.content())
    assert await accessibility_problems(page) == ""
    await shots(page, "thanks")
