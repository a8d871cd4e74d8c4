"""Saved searches over HTTP: every role that may search saves, lists and subscribes; only the
owner, managers and admins rename and delete; hostile input is a 4xx that says why; the
/voc "Save this search" form and the /voc/saved page (CSRF, escaped)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.web_support import RoleWeb, start_web

pytestmark = pytest.mark.integration
API = "/api/saved-searches"


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[RoleWeb]:
    async for w in start_web(db=f"{tmp_path}/inbox.db"):
        yield w


async def test_shared_by_the_team_changed_by_owner_managers_and_admins(web: RoleWeb) -> None:
    c = web.client
    made = await c.post(API, json={"name": "Refunds", "query": "refund channel:email"},
                        headers=web.auth("marketing"))
    assert made.status == 201, await made.text()
    doc = (await made.json())["search"]
    assert doc["owner"] == "marketing@example.com" and doc["may_change"]
    for role in ("agent", "manager", "admin", "marketing"):
        listed = (await (await c.get(API, headers=web.auth(role))).json())["searches"]
        assert [s["name"] for s in listed] == ["Refunds"], role
    assert (await c.get(API)).status == 401

    one = f"{API}/{doc['id']}"
    assert (await c.put(one, json={"name": "Mine"}, headers=web.auth("agent"))).status == 403
    assert (await c.delete(one, headers=web.auth("agent"))).status == 403
    renamed = await c.put(one, json={"name": "Refund requests"}, headers=web.auth("manager"))
    assert (await renamed.json())["search"]["name"] == "Refund requests"

    sub = await c.put(f"{one}/subscription", json={"subscribed": True},
                      headers=web.auth("agent"))
    assert (await sub.json())["search"]["subscribed"] is True
    assert (await c.put(f"{one}/subscription", json={"subscribed": "yes"},
                        headers=web.auth("agent"))).status == 400
    assert (await c.delete(one, headers=web.auth("admin"))).status == 200
    assert (await c.delete(one, headers=web.auth("admin"))).status == 404


BAD_BODIES = [
    {}, {"name": "x"}, {"query": "refund"}, {"name": ["x"], "query": "refund"},
    {"name": "x", "query": {"a": 1}}, {"name": "x" * 101, "query": "refund"},
    {"name": "x", "query": "r" * 1001}, {"name": "\u202e\x00", "query": "refund"},
    {"name": "x", "query": "refund AND"}, {"name": "x", "query": "(refund"},
]


async def test_a_bad_saved_search_is_a_400_that_says_why(web: RoleWeb) -> None:
    c, me = web.client, web.auth("marketing")
    for body in BAD_BODIES:
        resp = await c.post(API, json=body, headers=me)
        assert resp.status == 400, (body, await resp.text())
        assert (await resp.json())["errors"], body
    bad = await (await c.post(API, json={"name": "x", "query": "refund AND"}, headers=me)).json()
    assert "position" in bad["errors"]["query"]
    assert (await c.post(API, data=b"\xff{", headers=me)).status == 400
    assert (await c.post(API, json={"name": "A", "query": "a"}, headers=me)).status == 201
    duplicate = await c.post(API, json={"name": "a", "query": "b"}, headers=me)
    assert duplicate.status == 400 and "already" in (await duplicate.json())["errors"]["name"]
    assert len((await (await c.get(API, headers=me)).json())["searches"]) == 1


async def test_saved_from_the_voc_page_listed_escaped_with_csrf(web: RoleWeb) -> None:
    c = web.client
    await web.sign_in("marketing")
    voc = await (await c.get("/voc?q=bill")).text()
    assert 'action="/voc/saved/add"' in voc and 'name="query" value="bill"' in voc
    csrf = await web.csrf("/voc?q=bill")
    hostile = {"name": "<script>alert(1)</script>", "query": "bill"}
    assert (await c.post("/voc/saved/add", data=hostile, allow_redirects=False)).status == 403
    page = await (await c.post("/voc/saved/add", data={**hostile, "csrf": csrf})).text()
    assert "<script>alert(1)</script>" not in page
    assert html.escape("<script>alert(1)</script>", quote=False) in page and "saved" in page
    assert 'href="/voc?q=bill"' in page
    search_id = re.search(r'name="id" value="([^"]+)"', page)
    assert search_id
    page = await (await c.post("/voc/saved/subscribe",
                               data={"csrf": csrf, "id": search_id.group(1)})).text()
    assert "You are subscribed" in page
    form = await (await c.get(f"/voc/saved?rename={search_id.group(1)}")).text()
    assert 'action="/voc/saved/rename"' in form
    page = await (await c.post("/voc/saved/rename", data={
        "csrf": csrf, "id": search_id.group(1), "name": "Bills"})).text()
    assert "Search renamed “Bills”." in page
    await web.sign_in("agent")  # another role sees it, may not rename it
    other = await (await c.get("/voc/saved")).text()
    assert ">Bills</a>" in other and "/voc/saved?rename=" not in other
    refused = await (await c.post("/voc/saved/delete", data={
        "csrf": await web.csrf("/voc/saved"), "id": search_id.group(1)})).text()
    assert "Not done" in refused
    await web.sign_in("marketing")
    csrf = await web.csrf("/voc/saved")
    refused = await (await c.post("/voc/saved/add", data={
        "csrf": csrf, "name": "broken", "query": "bill AND"})).text()
    assert "Not done" in refused and "position" in refused
    gone = await (await c.post("/voc/saved/delete",
                               data={"csrf": csrf, "id": search_id.group(1)})).text()
    assert "No saved searches yet." in gone


async def test_the_list_says_where_spike_detection_stands(web: RoleWeb) -> None:
    c, me = web.client, web.auth("marketing")
    doc = (await (await c.post(API, json={"name": "Bills", "query": "bill"}, headers=me)
                  ).json())["search"]
    await web.runtime.store.spike_states.put(doc["id"], {
        "hour": "2026-11-20T14:00:00+00:00", "spiking": True,
        "since": "2026-11-20T14:00:00+00:00",
        "delivery": {"app": "1 notified", "email": "skipped: no SMTP account configured"}})
    (listed,) = (await (await c.get(API, headers=me)).json())["searches"]
    assert listed["spike"]["spiking_since"] == "2026-11-20T14:00:00+00:00"
    await web.sign_in("marketing")
    page = await (await c.get("/voc/saved")).text()
    assert "Spiking" in page and "email skipped: no SMTP account configured" in page
