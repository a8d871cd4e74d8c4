"""Merge and split of conversations, with undo, in headless Chromium, by keyboard: merge two
conversations of one customer, see the thread combined, undo, see both back; split a
message out, undo. axe-core finds nothing; screenshots at 1280 and 390 px."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from inbox import auth
from inbox.model import IdentityRef, Status
from tests.factories import inbound
from tests.integration.test_journey_browser import accessibility_problems, shots, sign_in
from tests.integration.test_workspace_browser import FOCUS_SHOWN
from tests.integration.web_support import CUSTOMER_EMAIL, REPLY_TEXT, RoleWeb, start_web

pytestmark = pytest.mark.integration
ROUTER = "And now the router blinks red"
WIDEST = ("() => [...document.querySelectorAll('body *')].filter(e => "
          "e.getBoundingClientRect().right > window.innerWidth && ![...e.children].some("
          "k => k.getBoundingClientRect().right > window.innerWidth)).slice(0, 12).map("
          "e => e.tagName + '.' + e.className)")  # what sticks out, for the failure message
FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[RoleWeb]:
    async for w in start_web(db=str(tmp_path / "inbox.db")):
        yield w


async def press(page: Any, selector: str, key: str = "Enter") -> None:
    """Reach a control by keyboard focus and press a key on it; the focus is visible."""
    await page.locator(selector).focus()
    await page.keyboard.press("Tab")
    await page.keyboard.press("Shift+Tab")  # focus by keyboard: :focus-visible applies
    assert await page.evaluate(FOCUS_SHOWN)
    await page.keyboard.press(key)


async def flash(page: Any, text: str) -> str:
    told = page.locator("#pane-main .flash[role=status]", has_text=text)
    await told.wait_for()
    return str(await told.inner_text())


async def test_merge_and_split_of_conversations_with_undo(desk: RoleWeb,
                                                          browser_page: Any) -> None:
    page, base = browser_page, str(desk.client.make_url("")).rstrip("/")
    first = desk.ids["conversation"]
    second = (await desk.runtime.ingest([inbound(
        "<m2@example.com>", ROUTER, subject="Router",
        authors=(IdentityRef("email", CUSTOMER_EMAIL),))])).stored[0].conversation_id
    store = desk.runtime.store
    ref_2 = (await store.get_conversation(second)).ref
    await sign_in(page, base, "agent@example.com")
    await page.goto(f"{base}/conversations/{second}")
    await page.evaluate("window.sameDocument = true")  # gone after any full page load

    # merge "Router" into the bill conversation, picked from the customer's list
    await press(page, "details.merge-into summary")
    picked = await page.select_option("details.merge-into select[name=into]",
                                      index=1)  # the customer's bill conversation
    assert picked == [f"{first}:{(await store.get_conversation(first)).version}"]
    await shots(page, "conversation-merge-form")
    await page.set_viewport_size({"width": 390, "height": 900})
    assert await page.evaluate(FITS), await page.evaluate(WIDEST)
    await page.set_viewport_size({"width": 1280, "height": 900})
    await press(page, "details.merge-into button")
    told = await flash(page, "Merged")
    assert f"#{ref_2}" in told
    thread = page.locator("#pane-main section.thread .messages")
    assert ROUTER in await thread.inner_text() and REPLY_TEXT in await thread.inner_text()
    assert (await store.get_conversation(second)).status == Status.MERGED
    assert await accessibility_problems(page) == ""
    await shots(page, "conversation-merged")
    await page.set_viewport_size({"width": 390, "height": 900})
    assert await page.evaluate(FITS), await page.evaluate(WIDEST)
    await page.set_viewport_size({"width": 1280, "height": 900})

    await press(page, ".merge-undo button")
    await flash(page, "The merge is undone")
    assert ROUTER not in await page.locator("#pane-main .messages").inner_text()
    await page.goto(f"{base}/conversations/{second}")
    await page.evaluate("window.sameDocument = true")
    assert ROUTER in await page.locator("#pane-main .messages").inner_text()
    assert (await store.get_conversation(second)).status == Status.OPEN

    # a colleague merges the conversation on screen: it is replaced by the survivor, live
    colleague = await auth.get_user(store, "admin@example.com")
    conv_2 = await store.get_conversation(second)
    await desk.runtime.conversations.merges.merge(second, first, colleague, conv_2.version)
    await flash(page, f"#{ref_2} was merged into this one")
    await page.wait_for_url(f"**/conversations/{first}")
    assert await page.evaluate("window.sameDocument")  # in place, no page load

    # split the reply out of the bill conversation, then undo
    await page.goto(f"{base}/conversations/{first}")
    reply = page.locator("#pane-main article.msg-outbound")
    await press(page, "#pane-main article.msg-outbound details.split-out summary")
    await reply.locator("button", has_text="Split into a new conversation").focus()
    await page.keyboard.press("Enter")
    told = await flash(page, "Split 1 message")
    assert REPLY_TEXT not in await page.locator("#pane-main .messages").inner_text()
    assert await accessibility_problems(page) == ""
    await shots(page, "conversation-split")
    await press(page, ".merge-undo button:has-text('Undo split')")
    await flash(page, "The split is undone")
    assert REPLY_TEXT in await page.locator("#pane-main .messages").inner_text()
