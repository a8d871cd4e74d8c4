"""The channel-aware composer in Chromium: on an X keyword hit the agent is told why no public
reply is possible, sends a DM and sees "sent as a DM"; on a mention the choice sets the
counter's limit; the email composer offers "Re:" and the others of the customer's last email
as cc, and they receive it. axe-core finds nothing; screenshots at 1280 and 390 px."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.x_api import FakeXApi
from tests.integration.collision_support import Team, team_fixture  # noqa: F401
from tests.integration.composer_support import (  # noqa: F401
    email_conversation,
    keyword_hit,
    x_api_fixture,
)
from tests.integration.test_collision_browser import screenshots, signed_in
from tests.integration.test_journey_browser import accessibility_problems

pytestmark = pytest.mark.integration


async def test_a_dm_on_a_keyword_hit_and_an_email_with_subject_and_cc(
        team: Team, x_api: FakeXApi, chromium: Any) -> None:
    from playwright.async_api import expect

    conv_id = await keyword_hit(team, x_api)
    page = await signed_in(chromium, team, "dana")
    await page.goto(f"{team.base}/conversations/{conv_id}")
    await expect(page.locator("#x-rule")).to_contain_text(
        "only to posts that mention or quote @acme")
    await expect(page.locator("#x-rule")).to_contain_text("only if they accept direct messages")
    await expect(page.locator("input[name=mode][value=public]")).to_be_disabled()
    await expect(page.locator("input[name=mode][value=dm]")).to_be_checked()
    await expect(page.locator(".x-limit")).to_contain_text("10,000 characters")
    assert await accessibility_problems(page) == ""
    await screenshots(page, "composer-x-dm")
    box = page.locator("form.reply textarea")
    await box.fill("Sorry! Which town are you in?")
    await box.press("Control+Enter")
    await expect(page.locator(".composer-status")).to_have_text(
        "Reply sent as a direct message.")
    await expect(page.locator("section.thread")).to_contain_text("sent as a DM")
    await screenshots(page, "composer-x-dm-sent")
    assert [d["body"]["text"] for d in x_api.posted_dms] == ["Sorry! Which town are you in?"]

    conv_id = await email_conversation(team)
    await page.goto(f"{team.base}/conversations/{conv_id}")
    await expect(page.locator(".reply-to")).to_have_text("Reply by email to ann@example.com")
    await expect(page.locator("input[name=subject]")).to_have_value("Re: Refund")
    await expect(page.locator("input[name=cc]")).to_have_value(
        "bob@example.com, carol@example.com")
    assert await accessibility_problems(page) == ""
    await screenshots(page, "composer-email")
    await page.fill("input[name=cc]", "bob@example.com")
    await page.fill("form.reply textarea", "Refunded today.")
    await page.locator("form.reply textarea").press("Control+Enter")
    await expect(page.locator(".composer-status")).to_have_text("Reply sent.")
    await expect(page.locator("section.thread")).to_contain_text("Cc: bob@example.com")
    await screenshots(page, "composer-email-sent")
    [mail] = team.smtp.handler.received
    assert sorted(mail.rcpt_tos) == ["ann@example.com", "bob@example.com"]
    assert mail.message["Subject"].startswith("Re: Refund [#")


async def test_on_a_mention_the_choice_sets_x_s_limit(team: Team, x_api: FakeXApi,
                                                      chromium: Any) -> None:
    from playwright.async_api import expect

    conv_id = await keyword_hit(team, x_api, mentions_brand=True)
    page = await signed_in(chromium, team, "dana")
    await page.goto(f"{team.base}/conversations/{conv_id}")
    await expect(page.locator("input[name=mode][value=public]")).to_be_checked()
    box, counter = page.locator("form.reply textarea"), page.locator(".x-count")
    await box.fill("x" * 300)
    await expect(counter).to_have_text("Used: 300, 20 too many.")
    await page.check("input[name=mode][value=dm]")
    await expect(counter).to_have_text("Used: 300.")
    await expect(page.locator(".x-limit")).to_contain_text("10,000 characters")
    await page.check("input[name=mode][value=public]")
    await expect(counter).to_have_text("Used: 300, 20 too many.")
