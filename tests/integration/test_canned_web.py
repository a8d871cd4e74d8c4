"""Canned replies over HTTP: who may keep them (admins and managers), who may read them (the
care team, not marketing), the replies filled in for a conversation, hostile input answered
with a 4xx, and the admin page (CSRF, escaped)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.web_support import RoleWeb, start_web

pytestmark = pytest.mark.integration
HELLO = {"name": "Hello", "text": "Hi {customer_first_name}, {agent_name} on {reference}. "
                                  "{unknown_one}"}


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[RoleWeb]:
    async for w in start_web(db=f"{tmp_path}/inbox.db"):
        yield w


async def test_admins_and_managers_keep_them_agents_use_them_marketing_sees_none(
        web: RoleWeb) -> None:
    c, conv = web.client, web.ids["conversation"]
    made = await c.post("/api/canned", json=HELLO, headers=web.auth("admin"))
    assert made.status == 201
    hello = (await made.json())["canned"]
    assert (await c.post("/api/canned", json={"name": "Bye", "text": "Bye"},
                         headers=web.auth("manager"))).status == 201
    for method, path in (("POST", "/api/canned"), ("PUT", f"/api/canned/{hello['id']}"),
                         ("DELETE", f"/api/canned/{hello['id']}")):
        refused = await c.request(method, path, json=HELLO, headers=web.auth("agent"))
        assert refused.status == 403, (method, path)
    for path in ("/api/canned", f"/api/conversations/{conv}/canned", "/admin/canned"):
        assert (await c.get(path, headers=web.auth("marketing"))).status == 403, path
    assert (await c.get("/admin/canned", headers=web.auth("agent"))).status == 403

    listed = await c.get(f"/api/conversations/{conv}/canned", headers=web.auth("agent"))
    assert listed.status == 200
    ref = (await web.runtime.conversations.get(conv)).conversation.ref
    assert await listed.json() == [
        {"id": (await (await c.get("/api/canned", headers=web.auth("agent"))).json())[
            "canned"][0]["id"], "name": "Bye", "text_rendered": "Bye"},
        {"id": hello["id"], "name": "Hello",
         # the agent has no name: the team signs; the customer is "Ann <address>"
         "text_rendered": f"Hi Ann, The support team on #{ref}. {{unknown_one}}"}]
    by_ref = await c.get(f"/api/conversations/{ref}/canned", headers=web.auth("agent"))
    assert len(await by_ref.json()) == 2  # the human reference works as in every route

    edited = await c.put(f"/api/canned/{hello['id']}", json={**HELLO, "channel": "x"},
                         headers=web.auth("manager"))
    assert edited.status == 200
    listed = await c.get(f"/api/conversations/{conv}/canned", headers=web.auth("agent"))
    assert [r["name"] for r in await listed.json()] == ["Bye"]  # X only now; this is email
    assert (await c.delete(f"/api/canned/{hello['id']}", headers=web.auth("admin"))).status == 200
    assert [d["name"] for d in (await (await c.get(
        "/api/canned", headers=web.auth("agent"))).json())["canned"]] == ["Bye"]


BAD_BODIES = [
    {}, {"name": "x"}, {"name": ["x"], "text": "t"}, {"name": "x", "text": {"a": 1}},
    {"name": "x" * 101, "text": "t"}, {"name": "x", "text": "t" * 5001},
    {"name": "x", "text": "t", "channel": "fax"}, {"name": "\u202e\x00", "text": "t"},
]


async def test_a_bad_canned_reply_is_a_400_that_says_why(web: RoleWeb) -> None:
    for body in BAD_BODIES:
        resp = await web.client.post("/api/canned", json=body, headers=web.auth("admin"))
        assert resp.status == 400, (body, await resp.text())
        assert (await resp.json())["errors"], body
    assert (await (await web.client.get("/api/canned", headers=web.auth("admin"))).json()
            ) == {"canned": []}


async def test_unknown_ids_are_404s_and_bodies_that_are_not_json_400s(web: RoleWeb) -> None:
    c, admin = web.client, web.auth("admin")
    assert (await c.put("/api/canned/nope", json=HELLO, headers=admin)).status == 404
    assert (await c.delete("/api/canned/nope", headers=admin)).status == 404
    assert (await c.post("/api/canned", data=b"\xff{", headers=admin)).status == 400
    assert (await c.get("/api/conversations/nope/canned", headers=admin)).status == 404


async def test_the_admin_page_adds_edits_and_deletes_escaped_with_csrf(web: RoleWeb) -> None:
    c = web.client
    await web.sign_in("admin")
    page = await (await c.get("/inbox")).text()
    assert 'href="/admin/canned"' in page  # in the admin nav
    csrf = await web.csrf("/admin/canned")
    hostile = {"name": "<script>alert(1)</script>", "text": "<b>{customer_first_name}</b>"}
    refused = await c.post("/admin/canned/add", data=hostile, allow_redirects=False)
    assert refused.status == 403  # no CSRF token
    done = await c.post("/admin/canned/add", data={**hostile, "csrf": csrf})
    page = await done.text()
    assert "<script>alert(1)</script>" not in page and "<b>{customer" not in page
    assert html.escape("<script>alert(1)</script>", quote=False) in page
    assert "added" in page
    reply_id = re.search(r'/admin/canned\?edit=([^"#]+)', page)
    assert reply_id
    edit = await (await c.get(f"/admin/canned?edit={reply_id.group(1)}")).text()
    assert 'action="/admin/canned/edit"' in edit
    saved = await c.post("/admin/canned/edit", data={
        "csrf": csrf, "id": reply_id.group(1), "name": "Greeting", "text": "Hi", "channel": ""})
    assert "Greeting" in await saved.text()
    taken = await c.post("/admin/canned/add", data={"csrf": csrf, "name": "greeting",
                                                   "text": "Hi"})
    assert "Not done" in await taken.text()  # one name, one reply
    gone = await c.post("/admin/canned/delete", data={"csrf": csrf, "id": reply_id.group(1)})
    assert "No canned replies yet." in await gone.text()
