"""A canned reply with variables, in Chromium: an admin adds one on /admin/canned, an agent
inserts it at the cursor of a reply (kept as a draft through a reload) and sends it; the
customer's email, through a real SMTP server, has the variables filled in."""

from __future__ import annotations

from typing import Any

import pytest

from inbox import auth
from inbox.canned import answer_time
from inbox.model import utcnow
from tests.integration.collision_support import PASSWORD, Team, team_fixture  # noqa: F401
from tests.integration.test_collision_browser import screenshots, signed_in
from tests.integration.test_journey_browser import accessibility_problems

pytestmark = pytest.mark.integration
TEMPLATE = ("Hi {customer_first_name}, your case {reference} is with me. We will answer "
            "{expected_answer_time}. {signature}\n{agent_name}")


async def test_a_canned_reply_with_variables(team: Team, chromium: Any) -> None:
    from playwright.async_api import expect

    await auth.add_user(team.runtime.store, "ada@example.com", "admin", PASSWORD, name="Ada",
                        passwords=team.runtime.passwords)
    conv_id = await team.conversation()

    admin = await signed_in(chromium, team, "ada")
    await admin.get_by_role("link", name="Canned replies").click()
    await admin.wait_for_url("**/admin/canned")
    await admin.get_by_label("Name").fill("Case taken")
    await admin.get_by_label("Text").fill(TEMPLATE)
    await admin.get_by_role("button", name="Add canned reply").click()
    await expect(admin.locator(".flash")).to_have_text("Canned reply “Case taken” added.")
    await expect(admin.locator("table.canned")).to_contain_text("{customer_first_name}")
    await screenshots(admin, "admin-canned")
    assert await accessibility_problems(admin) == ""
    await admin.set_viewport_size({"width": 390, "height": 900})
    assert await admin.evaluate("document.documentElement.scrollWidth") <= 390  # fits a phone

    dana = await signed_in(chromium, team, "dana")  # on the queue: open it there, in place
    await dana.keyboard.press("j")
    await dana.keyboard.press("Enter")
    await dana.wait_for_selector(f"#conversation[data-conversation='{conv_id}']")
    box = dana.locator("form.reply textarea")
    picker = dana.locator(".canned-picker select")
    await expect(picker).to_be_visible()
    await box.fill("Hello!\n\nThanks.")
    await box.evaluate("b => b.setSelectionRange(7, 7)")  # the cursor after "Hello!\n"
    await picker.focus()  # keyboard: pick, then Enter inserts
    await picker.select_option(label="Case taken")
    await picker.press("Enter")
    await expect(box).to_be_focused()

    conv = (await team.runtime.conversations.get(conv_id)).conversation
    zone = team.runtime.sla.calendar.zone
    when = answer_time(conv.due_at, zone, utcnow())
    expected = (f"Hello!\nHi Ann, your case #{conv.ref} is with me. We will answer {when}. "
                "{signature}\nDana\nThanks.")
    await expect(box).to_have_value(expected)
    await screenshots(dana, "conversation-canned")
    assert await accessibility_problems(dana) == ""
    await dana.reload()  # inserted text is a draft like any other
    await expect(box).to_have_value(expected)
    await box.press("Control+Enter")
    await expect(dana.locator(".composer-status")).to_have_text("Reply sent.")
    assert [r.replace("\r\n", "\n") for r in team.replies_to_customer()] == [expected]
