"""@mentions and notifications in Chromium: Dana mentions Sam in a note; Sam's header badge
shows 1 without a reload, and the /notifications page leads to the conversation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.collision_support import Team, team_fixture  # noqa: F401
from tests.integration.test_collision_browser import screenshots, signed_in
from tests.integration.test_journey_browser import accessibility_problems

pytestmark = pytest.mark.integration


async def test_a_mention_reaches_the_colleague_live(team: Team, chromium: Any) -> None:
    from playwright.async_api import expect

    conv_id = await team.conversation()
    sam = await signed_in(chromium, team, "sam")  # on the queue, left open
    badge = sam.locator("[data-notifications-badge]")
    await expect(badge).to_be_hidden()
    sam_url = sam.url

    dana = await signed_in(chromium, team, "dana")
    await dana.goto(f"{team.base}/conversations/{conv_id}")
    await dana.get_by_label("Internal note").fill("@sam can you check the <b>refund</b>?")
    await dana.get_by_role("button", name="Add note").click()
    await expect(dana.locator(".composer-status")).to_have_text("Note added.")
    mention = dana.locator("mark.mention", has_text="@sam")
    await expect(mention).to_be_visible()  # highlighted; the rest stays text
    await expect(dana.locator(".msg-note .text").first).to_contain_text("<b>refund</b>")

    await expect(badge).to_have_text("1")  # live, without a reload
    assert sam.url == sam_url
    await expect(dana.locator("[data-notifications-badge]")).to_be_hidden()  # not the author

    await sam.get_by_role("link", name="Notifications, 1 unread").click()
    await sam.wait_for_url("**/notifications")
    entry = sam.get_by_role("link", name="Dana mentioned you in a note on conversation #")
    await expect(entry).to_be_visible()
    await screenshots(sam, "notifications")
    assert await accessibility_problems(sam) == ""
    await sam.set_viewport_size({"width": 390, "height": 900})
    assert await sam.evaluate("document.documentElement.scrollWidth") <= 390
    await sam.set_viewport_size({"width": 1280, "height": 900})
    await sam.get_by_role("button", name="Mark all read (1)").click()
    await expect(sam.locator(".flash")).to_have_text("1 marked read.")
    await expect(sam.locator("[data-notifications-badge]")).to_be_hidden()
    await sam.locator("ol.notifications a").first.click()
    await sam.wait_for_url(f"**/conversations/{conv_id}")
