"""Two agents on one conversation, in Chromium: the second sees the first typing and cannot
send unknowingly (a colleague typing, or a reply since the page showed it, holds the send with
what changed); the customer gets one reply unless someone sends anyway. A draft survives a
failed send and a reload."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.integration.collision_support import PASSWORD, Team, team_fixture  # noqa: F401

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).parents[1] / "artifacts"
WAIT = 15_000  # ms: a colleague's heartbeat comes every 5 s


async def signed_in(chromium: Any, t: Team, who: str) -> Any:
    """A page of its own browser context (cookies, storage) signed in as `who`."""
    page = await (await chromium.new_context()).new_page()
    page.set_default_timeout(10_000)
    await page.goto(f"{t.base}/login")
    await page.fill("input[name=email]", f"{who}@example.com")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button:has-text('Sign in')")
    await page.wait_for_url("**/inbox**")
    return page


async def screenshots(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (1280, 390):
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 900})


async def test_the_second_agent_sees_the_first_typing_and_cannot_send_unknowingly(
        team: Team, chromium: Any) -> None:
    from playwright.async_api import expect

    ref = await team.conversation()
    dana, sam = await signed_in(chromium, team, "dana"), await signed_in(chromium, team, "sam")
    await dana.goto(f"{team.base}/conversations/{ref}")
    await sam.goto(f"{team.base}/conversations/{ref}")
    sam_sees = sam.locator(".composer .presence")
    await expect(sam_sees).to_have_text("Dana is viewing")
    assert await sam_sees.get_attribute("aria-live") == "polite"

    await dana.locator("form.reply textarea").press_sequentially("Dana: refunded, sorry!")
    await expect(sam_sees).to_have_text("Dana is typing…", timeout=WAIT)
    await dana.locator("form.reply textarea").press("Control+Enter")  # Sam is not typing
    await expect(dana.locator(".composer-status")).to_have_text("Reply sent.")
    assert team.replies_to_customer() == ["Dana: refunded, sorry!"]
    await expect(sam_sees).to_have_text("Dana is viewing", timeout=WAIT)
    await expect(sam.locator(".composer-status")).to_contain_text(
        "Something new happened on this conversation")  # told before typing, too

    # Sam's page still shows the conversation before Dana's reply: his send is held
    sam_box = sam.locator("form.reply textarea")
    await sam_box.fill("Sam: refunded it for you")
    await sam_box.press("Control+Enter")
    hold = sam.locator("form.reply .hold")
    await expect(hold).to_contain_text("Your reply was not sent: the conversation changed")
    await expect(hold.locator("li")).to_have_text([re.compile(
        r"Dana replied (just now|\d+ s ago)")])
    assert team.replies_to_customer() == ["Dana: refunded, sorry!"]  # one reply, not two
    await screenshots(sam, "conversation-held")
    await hold.locator("button", has_text="Review").click()
    await expect(hold).to_be_hidden()
    await expect(sam.locator("section.thread")).to_contain_text("Dana: refunded, sorry!")
    await expect(sam_box).to_have_value("Sam: refunded it for you")  # the draft is kept

    # Dana types again: Sam is warned before sending, and must confirm
    await dana.locator("form.reply textarea").press_sequentially("Anything else?")
    await expect(sam_sees).to_have_text("Dana is typing…", timeout=WAIT)
    await sam_box.press("Control+Enter")
    await expect(hold).to_contain_text("Not sent yet: Dana is typing")
    assert len(team.replies_to_customer()) == 1
    await screenshots(sam, "conversation-colleague-typing")
    await sam_box.press("Control+Enter")  # the second, deliberate send: "send anyway"
    await expect(sam.locator(".composer-status")).to_have_text("Reply sent.")
    assert team.replies_to_customer() == ["Dana: refunded, sorry!", "Sam: refunded it for you"]
    await expect(sam_box).to_have_value("")


async def test_a_draft_survives_a_failed_send_and_a_reload(team: Team, chromium: Any) -> None:
    from playwright.async_api import expect

    ref = await team.conversation()
    page = await signed_in(chromium, team, "dana")
    await page.goto(f"{team.base}/conversations/{ref}")
    box, status = page.locator("form.reply textarea"), page.locator(".composer-status")
    draft = "We refunded the second charge."
    await box.fill(draft)
    team.smtp.handler.reject["ann@example.com"] = "550 5.1.1 no such user"
    await box.press("Control+Enter")
    await expect(status).to_contain_text("did not reach the customer")
    await expect(status).to_contain_text("550")
    await expect(box).to_have_value(draft)
    await screenshots(page, "conversation-send-failed")
    await page.reload()
    await expect(box).to_have_value(draft)
    await expect(status).to_have_text("Your unsent draft is back in the reply box.")

    del team.smtp.handler.reject["ann@example.com"]
    await page.route("**/api/conversations/*/reply", lambda route: route.abort())
    await box.press("Control+Enter")
    await expect(status).to_contain_text("the inbox could not be reached")
    await page.reload()
    await expect(box).to_have_value(draft)

    await page.unroute("**/api/conversations/*/reply")
    await box.press("Control+Enter")
    await expect(status).to_have_text("Reply sent.")
    assert team.replies_to_customer() == [draft]
    await expect(box).to_have_value("")
    await page.reload()
    await expect(box).to_have_value("")  # sent: the draft is gone


async def test_where_no_reply_can_go_out_the_page_says_why(team: Team, chromium: Any) -> None:
    from playwright.async_api import expect

    conv_id = await team.x_post()
    page = await signed_in(chromium, team, "dana")
    await page.goto(f"{team.base}/conversations/{conv_id}")
    await expect(page.locator(".composer .unsendable")).to_contain_text(
        "only to posts that mention or quote @acme")
    assert await page.locator("form.reply").count() == 0
    await screenshots(page, "conversation-no-reply")
    await page.fill("form.note textarea", "Keyword hit: DM her if she follows us")
    await page.locator("form.note textarea").press("Control+Enter")
    await expect(page.locator(".composer-status")).to_have_text("Note added.")
    await expect(page.locator("section.thread")).to_contain_text("Keyword hit: DM her")


async def test_an_x_reply_counts_as_x_does(team: Team, chromium: Any) -> None:
    from playwright.async_api import expect

    conv_id = await team.x_post(mentions_brand=True)
    page = await signed_in(chromium, team, "dana")
    await page.goto(f"{team.base}/conversations/{conv_id}")
    await expect(page.locator("form.reply legend")).to_have_text("Reply on X as")
    await expect(page.locator("input[name=mode][value=public]")).to_be_checked()
    box, counter = page.locator("form.reply textarea"), page.locator(".x-count")
    await box.fill("Hi https://example.com/a/very/long/path/to/the/status/page 😀")
    await expect(counter).to_have_text("Used: 29.")  # 3 + a link (23) + a space + an emoji (2)
    await box.fill("x" * 281)
    await expect(counter).to_have_text("Used: 281, 1 too many.")
    await screenshots(page, "conversation-x-count")
