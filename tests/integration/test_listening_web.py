"""Listening rules over HTTP: marketing, managers and admins add, edit, pause, resume and
delete them; agents (who may search) only see them; an edit of an older version is a 409;
hostile input is a 400 that says why, and the page escapes it; the page shows each rule's
X query, hits, cost and the share of voice."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from inbox.listening import compiled_query
from tests.integration.web_support import RoleWeb, start_web

pytestmark = pytest.mark.integration
API = "/api/listening/rules"


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[RoleWeb]:
    async for w in start_web(db=f"{tmp_path}/inbox.db"):
        yield w


async def test_marketing_managers_and_admins_change_rules_agents_see_them(web: RoleWeb
                                                                          ) -> None:
    c = web.client
    made = await c.post(API, json={"name": "Acme outages", "query": "acme (outage OR down)",
                                   "group": "ours"}, headers=web.auth("marketing"))
    assert made.status == 201, await made.text()
    rule = (await made.json())["rule"]
    assert rule["x_query"] == "(acme (outage OR down)) -is:retweet" == \
        compiled_query("acme (outage OR down)")
    assert rule["version"] == 1 and rule["created_by"] == "marketing@example.com"
    assert rule["hits"] == {"today": 0, "days_7": 0, "days_30": 0}
    for role in ("agent", "manager", "admin", "marketing"):
        listed = (await (await c.get(API, headers=web.auth(role))).json())["rules"]
        assert [r["name"] for r in listed] == ["Acme outages"], role
    assert (await c.get(API)).status == 401
    assert (await c.post(API, json={"name": "x", "query": "y"},
                         headers=web.auth("agent"))).status == 403

    one = f"{API}/{rule['id']}"
    assert (await c.put(one, json={"version": 1, "paused": True},
                        headers=web.auth("agent"))).status == 403
    assert (await c.delete(one, headers=web.auth("agent"))).status == 403
    paused = await c.put(one, json={"version": 1, "paused": True}, headers=web.auth("manager"))
    assert (await paused.json())["rule"]["paused"] is True
    stale = await c.put(one, json={"version": 1, "query": "acme"}, headers=web.auth("admin"))
    assert stale.status == 409 and "manager@example.com" in (await stale.json())["error"]
    edited = await c.put(one, json={"version": 2, "query": "acme broken", "paused": False},
                         headers=web.auth("admin"))
    body = (await edited.json())["rule"]
    assert body["query"] == "acme broken" and body["version"] == 3 and not body["paused"]
    assert body["updated_by"] == "admin@example.com"
    assert (await c.delete(one, headers=web.auth("marketing"))).status == 200
    assert (await c.delete(one, headers=web.auth("marketing"))).status == 404
    actions = [d["action"] for _, d in await web.runtime.store.audit.list(None, 100)]
    assert {"listening.add", "listening.pause", "listening.edit",
            "listening.delete"} <= set(actions)


BAD_BODIES = [
    {}, {"name": "x"}, {"query": "acme"}, {"name": ["x"], "query": "acme"},
    {"name": "x", "query": {"a": 1}}, {"name": "x" * 101, "query": "acme"},
    {"name": "x", "query": "a" * 501}, {"name": "x", "query": "acme\x00down"},
    {"name": "x", "query": "acme\ndown"}, {"name": "x", "query": "   "},
    {"name": "x", "query": "acme", "group": ""}, {"name": "x", "query": "acme", "group": 3},
    {"name": "x", "query": "acme", "paused": "yes"}, {"name": "\u202e\x00", "query": "acme"},
]


async def test_a_bad_rule_is_a_400_that_says_why(web: RoleWeb) -> None:
    c, me = web.client, web.auth("marketing")
    for body in BAD_BODIES:
        resp = await c.post(API, json=body, headers=me)
        assert resp.status == 400, (body, await resp.text())
        assert (await resp.json())["errors"], body
    long = await (await c.post(API, json={"name": "x", "query": "a" * 501}, headers=me)).json()
    assert "512" in long["errors"]["query"]
    assert (await c.post(API, data=b"\xff{", headers=me)).status == 400
    made = await c.post(API, json={"name": "A", "query": "acme"}, headers=me)
    assert made.status == 201
    twice = await c.post(API, json={"name": "B", "query": "acme"}, headers=me)
    assert twice.status == 400 and "query" in (await twice.json())["errors"]
    rule_id = (await made.json())["rule"]["id"]
    for version in (None, "1", True, [1]):
        resp = await c.put(f"{API}/{rule_id}", json={"version": version, "name": "C"},
                           headers=me)
        assert resp.status == 400, version
    assert (await c.put(f"{API}/nope", json={"version": 1}, headers=me)).status == 404
    assert len((await (await c.get(API, headers=me)).json())["rules"]) == 1


async def test_the_page_adds_edits_pauses_and_deletes_with_confirmation(web: RoleWeb) -> None:
    c = web.client
    await web.sign_in("marketing")
    page = await (await c.get("/listening")).text()
    assert "No listening rules yet." in page and 'action="/listening/add"' in page
    csrf = await web.csrf("/listening")
    hostile = {"name": "<script>alert(1)</script>", "query": "acme <b>down</b>",
               "group": "Competitor <i>A</i>"}
    assert (await c.post("/listening/add", data=hostile, allow_redirects=False)).status == 403
    page = await (await c.post("/listening/add", data={**hostile, "csrf": csrf})).text()
    assert "<script>alert(1)</script>" not in page and "<b>down</b>" not in page
    assert html.escape("<script>alert(1)</script>", quote=False) in page
    assert html.escape("acme <b>down</b> -is:retweet", quote=False) in page
    rule_id = re.search(r'name="id" value="([^"]+)"', page)
    assert rule_id
    rid = rule_id.group(1)
    page = await (await c.post("/listening/pause",
                               data={"csrf": csrf, "id": rid, "version": "1"})).text()
    assert "paused." in page and ">paused<" in page
    stale = await (await c.post("/listening/resume",
                                data={"csrf": csrf, "id": rid, "version": "1"})).text()
    assert "Not done" in stale and "changed since you loaded it" in stale
    form = await (await c.get(f"/listening?edit={rid}")).text()
    assert 'action="/listening/edit"' in form and 'name="version" value="2"' in form
    page = await (await c.post("/listening/edit", data={
        "csrf": csrf, "id": rid, "version": "2", "name": "Acme", "query": "acme down",
        "group": "ours"})).text()
    assert "Rule “Acme” saved." in page and "acme down -is:retweet" in page
    confirm = await (await c.get(f"/listening?delete={rid}")).text()
    assert "Delete the rule “Acme”?" in confirm and 'action="/listening/delete"' in confirm

    await web.sign_in("agent")  # sees the rules, no forms to change them
    seen = await (await c.get("/listening")).text()
    assert "acme down -is:retweet" in seen and 'action="/listening/add"' not in seen
    assert "/listening?edit=" not in seen
    refused = await c.post("/listening/delete", data={
        "csrf": await web.csrf("/listening"), "id": rid}, allow_redirects=False)
    assert refused.status == 403

    await web.sign_in("marketing")
    gone = await (await c.post("/listening/delete", data={
        "csrf": await web.csrf("/listening"), "id": rid})).text()
    assert "Rule “Acme” deleted." in gone and "No listening rules yet." in gone


async def test_the_page_shows_volume_cost_and_share_of_voice(web: RoleWeb) -> None:
    rules = web.runtime.listening
    admin = await web.runtime.accounts.user("admin@example.com")
    ours = await rules.create(admin, "Ours", "acme")
    rival = await rules.create(admin, "Rival", "globex", "Competitor A")
    await web.runtime.store.listening_counts.put(
        f"{ours['id']}/{rules.clock().date().isoformat()}",
        {"rule": ours["id"], "day": rules.clock().date().isoformat(), "reads": 1000,
         "hits": 30, "negative": 6})
    await web.runtime.store.listening_counts.put(
        f"{rival['id']}/{rules.clock().date().isoformat()}",
        {"rule": rival["id"], "day": rules.clock().date().isoformat(), "reads": 400,
         "hits": 10, "negative": 5})
    share = await (await web.client.get("/api/listening/share?days=7",
                                        headers=web.auth("marketing"))).json()
    assert share["groups"] == [
        {"group": "ours", "hits": 30, "share": 0.75, "negative": 6, "negative_share": 0.2},
        {"group": "Competitor A", "hits": 10, "share": 0.25, "negative": 5,
         "negative_share": 0.5}]
    listed = (await (await web.client.get(API, headers=web.auth("marketing"))).json())["rules"]
    by_name = {r["name"]: r for r in listed}
    assert by_name["Ours"]["hits"] == {"today": 30, "days_7": 30, "days_30": 30}
    assert by_name["Ours"]["estimated_monthly_cost"] == 5.0  # 1000 reads x US$0.005
    await web.sign_in("marketing")
    page = await (await web.client.get("/listening")).text()
    assert "US$5.00" in page and "75.0%" in page and "Competitor A" in page
    assert "ours: 30 hits, 75.0% of all, 6 negative" in page
    await rules.refused(rival["id"], "Invalid query: <unbalanced (")
    listed = (await (await web.client.get(API, headers=web.auth("marketing"))).json())["rules"]
    assert {r["name"]: r["error"] for r in listed} == {
        "Ours": None, "Rival": "Invalid query: <unbalanced ("}
    page = await (await web.client.get("/listening")).text()
    assert "X refused the query</strong> when last asked: Invalid query: &lt;unbalanced (" in page


async def test_a_hits_page_shows_its_priority_formula_and_sets_the_vip_mark(web: RoleWeb
                                                                            ) -> None:
    from inbox.model import IdentityRef
    from tests.factories import inbound

    rules = web.runtime.listening
    admin = await web.runtime.accounts.user("admin@example.com")
    rule = await rules.create(admin, "Ours", "acme")
    stored = (await web.runtime.ingest([inbound(
        "4001", "acme broadband down again, mail me at bo@example.com", channel="x",
        listening=True,
        authors=(IdentityRef("x", "9", "@bo"),),
        meta={"tweet_id": "4001", "rule": rule["id"], "followers": 100_000})])).stored
    await rules.counted(rule["id"], 1, stored, stored)  # as the connector does
    conv_id = stored[0].conversation_id
    await web.sign_in("agent")
    page = await (await web.client.get(f"/conversations/{conv_id}")).text()
    assert "Listening hit priority: <strong>normal</strong>" in page
    assert "(1 + 1 × reach 1.00) × (1 + 2 × negativity 0.00) × VIP 1 = 2.00 → normal" in page
    csrf = await web.csrf(f"/conversations/{conv_id}")
    page = await (await web.client.post(f"/conversations/{conv_id}/vip",
                                        data={"csrf": csrf})).text()
    assert "Customer marked VIP." in page and "VIP 2 = 4.00 → high" in page
    assert "Remove the VIP mark" in page
    page = await (await web.client.post(f"/conversations/{conv_id}/unvip",
                                        data={"csrf": csrf})).text()
    assert "VIP mark removed." in page and "Mark the customer VIP" in page
    await web.sign_in("marketing")  # marketing sees the hit on /listening, not its page
    listing = await (await web.client.get("/listening")).text()
    assert "acme broadband down again" in listing and f"/conversations/{conv_id}" not in listing
    assert "/inbox?" not in listing  # no link to a page marketing may not open
    assert "bo@example.com" not in listing  # contacts hidden from marketing, as in search
    await web.sign_in("agent")
    assert "bo@example.com" in await (await web.client.get("/listening")).text()
