"""Notifications over HTTP: a mention in a note notifies the colleague named only, an
assignment by someone else notifies (taking a conversation yourself does not), the page lists
them with a link to the conversation, marking read empties the badge; marketing gets 403."""

from __future__ import annotations

import html
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.test_live_events import next_event
from tests.integration.web_support import RoleWeb, start_web

pytestmark = pytest.mark.integration


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[RoleWeb]:
    async for w in start_web(db=f"{tmp_path}/inbox.db"):
        yield w


async def listed(web: RoleWeb, role: str) -> dict[str, object]:
    resp = await web.client.get("/api/notifications", headers=web.auth(role))
    assert resp.status == 200
    found: dict[str, object] = await resp.json()
    return found


async def test_a_mention_notifies_the_agent_named_only(web: RoleWeb) -> None:
    c, conv = web.client, web.ids["conversation"]
    text = "@agent please call <b>back</b>, @Manager@example.com knows; @nobody"
    made = await c.post(f"/api/conversations/{conv}/notes", json={"text": text},
                        headers=web.auth("admin"))
    assert made.status in (200, 201), await made.text()
    agent = await listed(web, "agent")
    assert agent["unread"] == 1
    (n,) = agent["notifications"]  # type: ignore[misc]
    ref = (await web.runtime.conversations.current(conv)).ref
    assert (n["kind"], n["conversation"], n["ref"], n["link"]) == (
        "mention", conv, ref, f"/conversations/{conv}")
    assert (await listed(web, "manager"))["unread"] == 1
    assert (await listed(web, "admin"))["unread"] == 0  # the author

    page = await (await c.get(f"/conversations/{conv}", headers=web.auth("agent"))).text()
    assert '<mark class="mention">@agent</mark>' in page  # highlighted, and escaped:
    assert "&lt;b&gt;back&lt;/b&gt;" in page and "<b>back</b>" not in page
    assert '<mark class="mention">@Manager@example.com</mark>' in page
    assert "@nobody" in page and '<mark class="mention">@nobody' not in page

    await web.sign_in("agent")
    own = await (await c.get("/notifications")).text()
    assert f'href="/conversations/{conv}"' in own and f"#{ref}" in own
    assert "mentioned you in a note" in html.unescape(own)
    done = await c.post("/notifications/read", data={"csrf": await web.csrf("/notifications")},
                        allow_redirects=False)
    assert done.status == 303
    assert (await listed(web, "agent"))["unread"] == 0
    assert (await listed(web, "manager"))["unread"] == 1  # only one's own


async def test_assignment_by_someone_else_notifies_self_assignment_does_not(
        web: RoleWeb) -> None:
    c, conv = web.client, web.ids["conversation"]
    mine = await c.post(f"/api/conversations/{conv}/assign", json={"assignee": "me"},
                        headers=web.auth("agent"))
    assert mine.status == 200, await mine.text()
    assert (await listed(web, "agent"))["unread"] == 0
    given = await c.post(f"/api/conversations/{conv}/assign",
                         json={"assignee": "manager@example.com"}, headers=web.auth("agent"))
    assert given.status == 200, await given.text()
    manager = await listed(web, "manager")
    assert manager["unread"] == 1
    assert [n["kind"] for n in manager["notifications"]] == ["assign"]  # type: ignore[attr-defined]
    read = await c.post("/api/notifications/read", headers=web.auth("manager"))
    assert read.status == 200 and (await read.json())["marked"] == 1
    assert (await listed(web, "manager"))["unread"] == 0


async def test_marketing_sees_only_its_own_notifications(web: RoleWeb) -> None:
    """Marketing is never mentioned nor assigned, but is told of the spikes of the saved
    searches it subscribed to (inbox.usecases.alerts)."""
    c = web.client
    await c.post(f"/api/conversations/{web.ids['conversation']}/notes",
                 json={"text": "@marketing look"}, headers=web.auth("admin"))
    mark = await web.runtime.accounts.user("marketing@example.com")
    await web.runtime.conversations.notifications.alert([mark.id], "Billing", "/voc?q=bill",
                                                        "20 messages in the hour")
    for method, path in (("GET", "/api/notifications"), ("POST", "/api/notifications/read"),
                         ("GET", "/notifications")):
        resp = await c.request(method, path, headers=web.auth("marketing"))
        assert resp.status == 200, (method, path)
    page = await (await c.get("/notifications", headers=web.auth("marketing"))).text()
    assert "Spike in saved search “Billing”" in page and 'href="/voc?q=bill"' in page
    listed = await (await c.get("/api/notifications", headers=web.auth("marketing"))).json()
    assert [n["kind"] for n in listed["notifications"]] == ["spike"]  # never mentioned


async def test_the_live_stream_tells_each_agent_of_their_own_notifications_only(
        web: RoleWeb) -> None:
    c, conv = web.client, web.ids["conversation"]
    seen = web.runtime.events.last_id
    for text in ("@manager look", "@agent look"):  # manager's first, then the agent's
        made = await c.post(f"/api/conversations/{conv}/notes", json={"text": text},
                            headers=web.auth("admin"))
        assert made.status == 201, await made.text()
    async with c.get("/api/events", headers={**web.auth("agent"), "Last-Event-ID": seen},
                     timeout=None) as resp:
        kinds = [(await next_event(resp)) for _ in range(3)]
    assert [k["event"] for k in kinds] == ["message.created", "message.created",
                                           "notification"]
    assert json.loads(kinds[2]["data"])["data"] == {"user": (await listed(web, "agent"))["user"]}
