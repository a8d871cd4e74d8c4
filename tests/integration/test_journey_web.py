"""The customer journey beside a conversation, references and times, through real HTTP."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from inbox.app.demo.seed import DemoSender
from inbox.model import Channel, IdentityRef
from tests.factories import inbound
from tests.integration.web_support import (
    CUSTOMER_EMAIL,
    NOTE_TEXT,
    REPLY_TEXT,
    RoleWeb,
    start_web,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[RoleWeb]:
    async for w in start_web(db=str(tmp_path / "inbox.db")):
        yield w


async def second_conversation(desk: RoleWeb) -> str:
    """The same customer writes again about something else: a new conversation."""
    result = await desk.runtime.ingest([inbound(
        "<m2@example.com>", "And now the router blinks red", subject="Router",
        authors=(IdentityRef("email", CUSTOMER_EMAIL),))])
    conv_id = result.stored[0].conversation_id
    assert conv_id != desk.ids["conversation"]
    return conv_id


def panel(page: str) -> str:
    return page.split('<section class="journey"', 1)[1].split("</aside>", 1)[0]


async def test_the_journey_shows_both_directions_grouped_and_the_other_open_case(
        desk: RoleWeb) -> None:
    second = await second_conversation(desk)
    await desk.sign_in("agent")
    page = await (await desk.client.get(f"/conversations/{second}")).text()
    side = html.unescape(panel(page))
    first = side.split("Bill for", 1)[1]  # the earlier conversation's group
    assert "My bill is wrong" in first and REPLY_TEXT in first and NOTE_TEXT in first
    assert "Reply by" in first and "Internal note by" in first
    assert "This conversation" in side and "router blinks red" not in side  # not repeated
    assert side.count('class="journey-conv') == 2
    notice = html.unescape(page.split('class="flash continuity"', 1)[1].split("</div>", 1)[0])
    assert "another open conversation" in notice
    assert f'href="/conversations/{desk.ids["conversation"]}"' in notice
    # the customer page: the same journey, every conversation one click away
    customer = await (await desk.client.get(f"/customers/{desk.ids['customer']}")).text()
    assert customer.count('class="journey-conv') == 2 and REPLY_TEXT in customer
    assert f'href="/conversations/{second}"' in customer


async def test_notes_and_the_journey_stay_with_the_care_team(desk: RoleWeb) -> None:
    await desk.sign_in("marketing")
    for path in (f"/customers/{desk.ids['customer']}", f"/conversations/{desk.ids['conversation']}",
                 f"/api/customers/{desk.ids['customer']}"):
        resp = await desk.client.get(path, allow_redirects=False)
        assert resp.status == 403, path
        assert NOTE_TEXT not in await resp.text()


async def test_agents_read_no_internal_terms_and_times_in_their_own_zone(desk: RoleWeb) -> None:
    await desk.sign_in("agent")
    path = f"/conversations/{desk.ids['conversation']}"
    page = await (await desk.client.get(path)).text()
    conv = await desk.runtime.store.get_conversation(desk.ids["conversation"])
    assert f"#{conv.ref}" in page
    assert "version " not in page and "policy v" not in page
    assert re.search(r"<time datetime=\"[^\"]+\" title=\"[^\"]+ UTC\">(just now|\d+ \w+ ago)",
                     page)
    csrf = await desk.csrf("/settings")
    saved = await desk.client.post("/settings", data={"csrf": csrf, "timezone": "Asia/Tokyo"})
    assert "Saved" in await saved.text()
    page = await (await desk.client.get(path)).text()
    assert re.search(r'<time datetime="[^"]+" title="[^"]+ JST">', page)
    for nowhere in ("Mars/Olympus", "localtime", "Factory"):  # "localtime": the server's
        bad = await desk.client.post("/settings", data={"csrf": csrf, "timezone": nowhere})
        assert "Not saved" in await bad.text()
    back = await desk.client.post("/settings", data={"csrf": csrf, "timezone": ""})
    assert "team time zone" in await back.text()


async def test_an_agent_opens_a_conversation_by_its_reference(desk: RoleWeb) -> None:
    conv = await desk.runtime.store.get_conversation(desk.ids["conversation"])
    await desk.sign_in("agent")
    page = await (await desk.client.get(f"/conversations/{conv.ref}")).text()
    assert "Bill for" in page
    api = await desk.client.get(f"/api/conversations/{conv.ref}", headers=desk.auth("agent"))
    assert (await api.json())["conversation"]["id"] == conv.id
    missing = await desk.client.get("/conversations/99999")
    assert missing.status == 404


async def test_the_demo_says_plainly_that_nothing_was_sent(desk: RoleWeb) -> None:
    desk.runtime.replies.senders["email"] = DemoSender(Channel.EMAIL)
    await desk.sign_in("agent")
    path = f"/conversations/{desk.ids['conversation']}"
    page = await (await desk.client.get(path)).text()
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"',
                             page.split('class="reply"', 1)[1].split("</form>", 1)[0]))
    done = await desk.client.post(f"{path}/reply", data={**fields, "text": "On it"})
    shown = html.unescape(await done.text())
    assert "Reply sent" not in shown
    assert f"Demo: not sent. In production this reply would go out by email to {CUSTOMER_EMAIL}" \
        in shown
    assert "demo: not sent" in shown  # the reply itself is marked in the thread
