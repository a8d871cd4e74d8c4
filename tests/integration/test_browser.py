"""What a person sees, in headless Chromium: the public form, the inbox, a reply, search."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_web import Web, make_web

pytestmark = pytest.mark.integration

@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[Web]:
    async for w in make_web(tmp_path):
        yield w


async def test_customer_form_then_agent_reply(web: Web, browser_page: Any,
                                              tmp_path: Path) -> None:
    page = browser_page
    base = str(web.client.make_url("")).rstrip("/")
    await page.goto(f"{base}/forms/contact")
    await page.fill("input[name=name]", "Ann <b>Bold</b>")
    await page.fill("input[name=email]", "ann@example")
    await page.fill("textarea[name=message]", "<script>window.pwned=1</script>Bill is wrong")
    await page.click("button:has-text('Send')")
    assert "not a valid email address" in await page.inner_text("main")
    assert await page.input_value("input[name=name]") == "Ann <b>Bold</b>"  # kept as typed
    await page.fill("input[name=email]", "ann@example.com")
    await page.click("button:has-text('Send')")
    assert "You can expect an answer by" in await page.inner_text("main")

    await page.goto(f"{base}/inbox")
    await page.fill("input[name=email]", "ava@example.com")
    await page.fill("input[name=password]", "correct horse battery")
    await page.click("button:has-text('Sign in')")
    await page.click("a:has-text('Contact us')")
    await page.wait_for_selector("#conversation[data-conversation]")  # opened in place
    body = await page.inner_text("main")
    assert "<script>window.pwned=1</script>Bill is wrong" in body  # shown as text
    assert await page.evaluate("window.pwned") is None  # never run
    assert "reply due" in body
    await page.fill("form.reply textarea[name=text]", "Sorry Ann, fixed it.")
    await page.click("button:has-text('Send reply')")
    from playwright.async_api import expect

    await expect(page.locator(".composer-status")).to_have_text("Reply sent.")
    await expect(page.locator("section.thread article.msg-outbound")).to_contain_text(
        "Sorry Ann, fixed it.")  # the thread refreshed in place
    assert len(web.sender.sent) == 1
    await page.screenshot(path=str(tmp_path / "conversation.png"), full_page=True)

    await web.client.post("/api/forms/contact", json={
        "name": "Ann at work", "email": "ann@work.example", "message": "Same problem"})
    await page.click("aside.side a >> nth=0")  # the customer of this conversation
    await page.fill("input[name=customer]", "ann@work.example")
    await page.click("button:has-text('Merge into this customer')")
    assert "You can undo it below" in await page.inner_text(".flash")
    assert "ann@work.example" in await page.inner_text("ul.idents")
    await page.click("button:has-text('Undo')")
    assert "separate again" in await page.inner_text(".flash")
    assert "ann@work.example" not in await page.inner_text("ul.idents")

    await page.goto(f"{base}/search?q=" + "bill%20channel:fax")
    assert "invalid channel 'fax'" in await page.inner_text("pre.error")
    await page.goto(f"{base}/search?q=bill")
    assert "1 message ·" in await page.inner_text("main")  # not "1 messages"
