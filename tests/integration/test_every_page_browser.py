"""Every page of the app in Chromium, as each role sees it: axe-core finds nothing (WCAG 2.2
AA and best practices), the page fits a 390 px phone without sideways scrolling, in light
and dark mode, and its screenshots at 1280 and 390 px go to tests/artifacts/."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from inbox.model import IdentityRef, Status
from tests.factories import inbound
from tests.integration.test_crisis_web import plant_spikes
from tests.integration.test_journey_browser import ARTIFACTS, accessibility_problems, sign_in
from tests.integration.web_support import RoleWeb, start_web

pytestmark = pytest.mark.integration

# (role, path, name): every page a signed-in person can open; {conversation} and {customer}
# are the seeded ones
PAGES = (
    ("agent", "/inbox", "inbox"),
    ("agent", "/conversations/{conversation}", "conversation"),
    ("agent", "/conversations/{listening}", "listening-hit"),  # its "make it care" button
    ("agent", "/customers/{customer}", "customer"),
    ("agent", "/search?q=bill", "search"),
    ("agent", "/notifications", "notifications"),
    ("agent", "/settings", "settings"),
    ("manager", "/reports", "reports"),
    ("manager", "/reports/conversations?group=channel&key=email", "report-conversations"),
    ("manager", "/reports/conversations?report=backlog&channel=all&age=0", "report-backlog"),
    ("manager", "/reports/conversations?report=csat&group=all&key=all&measure=responses",
     "report-csat"),
    ("manager", "/reports/messages?from=2026-11-01&to=2026-11-30&weekday=0&hour=12",
     "report-messages"),  # the seeded messages' cell (tests.factories.at(2))
    ("marketing", "/voc", "voc"),
    ("admin", "/admin/connectors", "connectors"),
    ("admin", "/admin/users", "users"),
    ("admin", "/admin/canned", "canned"),
    ("manager", "/admin/acknowledgements?kind=update&channel=x&lang=de", "acknowledgements"),
    ("marketing", "/voc/saved", "saved-searches"),
    ("marketing", "/voc/crisis", "crisis"),
    ("marketing", "/listening?edit={rule}", "listening-rules"),  # rules, share, top hits, form
    ("marketing", "/listening?delete={rule}", "listening-delete"),  # the confirmation
    ("agent", "/listening", "listening-rules-read-only"),
    ("manager", "/incidents", "incidents"),  # the list and the create form
    ("manager", "/incidents/{incident}", "incident"),  # members, delivery, update and resolve
    ("agent", "/conversations/v0000000000000000000", "not-found"),
)


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[RoleWeb]:
    # the conversation shows its automatic acknowledgement too
    async for w in start_web(db=str(tmp_path / "inbox.db"), env={
            "INBOX_ACK_EMAIL": "true", "INBOX_ACK_MAX_AGE_HOURS": "100000"}):
        rules, admin = w.runtime.listening, await w.runtime.accounts.user("admin@example.com")
        ours = await rules.create(admin, "Acme broadband", "acme (broadband OR fibre)")
        rival = await rules.create(admin, "Globex <b>Mobile</b> with a long name",
                                   "\"globex mobile\" OR @globexmobile lang:en", "Competitor A")
        hit = await w.runtime.ingest([inbound(
            "3001", "acme broadband down again", channel="x", listening=True,
            authors=(IdentityRef("x", "7", "@ann"),),
            meta={"tweet_id": "3001", "rule": ours["id"], "followers": 48_000})])
        w.ids["listening"] = hit.stored[0].conversation_id
        await rules.counted(ours["id"], 12, hit.stored, hit.stored)
        await rules.update(admin, rival["id"], 1, paused=True)
        await rules.refused(rival["id"], "Invalid query: no viable alternative at '('")
        w.ids["rule"] = ours["id"]
        incidents = w.runtime.incidents  # the conversation linked, an update sent
        outage = await incidents.create(admin, "Broadband down in the <b>north</b> region "
                                        "since the storm of last night", "Fibre cut.")
        await incidents.link(w.ids["conversation"], admin, outage["id"])
        sent = await incidents.send_update(admin, outage["id"], "We are repairing the line.")
        await incidents.wait(sent["id"])
        w.ids["incident"] = outage["id"]
        w.ids["csat"] = await answered_survey(w, admin)
        yield w


async def answered_survey(w: RoleWeb, agent: Any) -> str:
    """A conversation the agent resolved, its survey sent and answered low (the CSAT report
    and the manager's alert); the survey link's token."""
    got = await w.runtime.ingest([inbound(
        "<csat-1@example.com>", "The router works again, thanks",
        authors=(IdentityRef("email", "bo@example.com", "Bo <bo@example.com>"),))])
    conversation = got.stored[0].conversation_id
    await w.runtime.conversations.set_status(conversation, Status.RESOLVED, agent)
    assert await w.runtime.surveys.sweep() == 1
    messages = await w.runtime.store.conversation_messages(conversation)
    (token,) = [t for m in messages for t in re.findall(r"/csat/([\w-]+)", m.text)]
    await w.runtime.surveys.answer(token, 2, "It took <b>three</b> days " + "and more " * 50)
    return token


async def wider_than(page: Any, width: int) -> int:
    """How many CSS pixels the page is wider than `width` (0 when it fits)."""
    await page.set_viewport_size({"width": width, "height": 900})
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    return max(0, int(scroll) - width)


async def check(page: Any, name: str) -> None:
    """axe-core clean in light and dark mode, fits 390 px, screenshots at both widths."""
    ARTIFACTS.mkdir(exist_ok=True)
    for scheme in ("light", "dark"):
        await page.emulate_media(color_scheme=scheme)
        for width in (1280, 390):
            assert await wider_than(page, width) == 0, f"{name} is too wide at {width} px"
            problems = await accessibility_problems(page)
            assert problems == "", f"{name} ({scheme}, {width} px):\n{problems}"
            suffix = "" if scheme == "light" else "-dark"
            await page.screenshot(path=str(ARTIFACTS / f"page-{name}-{width}{suffix}.png"),
                                  full_page=True)
    await page.emulate_media(color_scheme="light")
    await page.set_viewport_size({"width": 1280, "height": 900})


async def test_every_page_is_accessible_and_fits_a_phone(desk: RoleWeb, chromium: Any) -> None:
    base = str(desk.client.make_url("")).rstrip("/")
    await plant_spikes(desk.runtime, desk.ids["message"])  # the crisis view lists two
    signed: dict[str, Any] = {}
    for role, path, name in PAGES:
        if role not in signed:
            signed[role] = await chromium.new_page()
            signed[role].set_default_timeout(10_000)
            await sign_in(signed[role], base, f"{role}@example.com")
            await signed[role].wait_for_url(lambda url: "/login" not in url)
        page = signed[role]
        response = await page.goto(base + path.format(**desk.ids))
        assert response is not None
        assert response.status == (404 if name == "not-found" else 200), name
        await check(page, name)


async def test_the_public_pages_are_accessible_and_fit_a_phone(desk: RoleWeb,
                                                                 browser_page: Any) -> None:
    base, page = str(desk.client.make_url("")).rstrip("/"), browser_page
    await page.goto(f"{base}/login")
    await check(page, "login")
    await page.goto(f"{base}/forms/contact")
    await check(page, "form")
    await page.fill("input[name=name]", "Vera Visitor")
    await page.fill("input[name=email]", "visitor@example.com")
    await page.fill("textarea[name=message]", "Where is my parcel?")
    await page.click("main form button")
    await page.locator("h1", has_text="Thank you").wait_for()
    await check(page, "form-thanks")
    survey = await page.goto(f"{base}/csat/{desk.ids['csat']}?score=4")
    assert survey is not None and survey.status == 200
    assert await page.is_checked("input[name=score][value='4']")
    await check(page, "csat")
    await page.fill("textarea[name=comment]", "Quick & kind <3")
    await page.click("main form button")
    await page.locator("[role=status]", has_text="4 of 5").wait_for()
    await check(page, "csat-answered")
    gone = await page.goto(f"{base}/csat/{desk.ids['csat']}x")
    assert gone is not None and gone.status == 404
    await check(page, "csat-not-found")
