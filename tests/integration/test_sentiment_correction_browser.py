"""Correcting a message's sentiment in headless Chromium, by keyboard: the control opens,
the label is chosen and saved, the thread says who corrected it; axe-core finds nothing and
the page fits 1280 and 390 px (screenshots in tests/artifacts)."""

from __future__ import annotations

from typing import Any

import pytest

from inbox.model import ConversationFilter
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


async def test_an_agent_corrects_a_sentiment_by_keyboard(served: Served,  # noqa: F811
                                                        chromium: Any) -> None:
    runtime = served.runtime
    assert runtime
    await seed(runtime, 1)
    (conv,) = (await runtime.conversations.page(ConversationFilter(), None, 5)).items
    page = await signed_in(chromium, served)
    await page.goto(f"{served.url}/conversations/{conv.id}")
    control = page.locator("#messages .sentiment-fix").first
    await control.locator("summary").focus()
    assert await page.evaluate(FOCUS_SHOWN)
    await page.keyboard.press("Enter")  # opens the control
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.name") == "sentiment"
    await page.select_option("#messages .sentiment-fix select", "negative")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Save sentiment"
    assert await page.evaluate(FOCUS_SHOWN)
    problems = await accessibility_problems(page)
    assert problems == "", problems
    await page.keyboard.press("Enter")
    await page.wait_for_selector(".flash:has-text('Sentiment saved.')")
    await page.wait_for_selector("#messages .corrected:has-text('corrected by')")
    assert await page.locator("#messages .sent-negative").count() == 1
    (msg,) = await runtime.store.conversation_messages(conv.id)
    assert msg.sentiment == "negative" and msg.meta["corrected_by"]
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (1280, 390):
        await page.set_viewport_size({"width": width, "height": 900})
        if width == 390:  # the control open, as an agent on a phone sees it
            await control.locator("summary").click()
        fits = await page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        assert fits, f"the conversation page overflows at {width} px"
        await page.screenshot(path=str(ARTIFACTS / f"sentiment-correction-{width}.png"),
                              full_page=True)
    problems = await accessibility_problems(page)
    assert problems == "", problems
