"""Incidents over HTTP, with a real SMTP server (aiosmtpd) and the local X API fake: an update
written once reaches three customers on three channels (an email threaded, an X reply, a web
form answered by email) and never twice, whatever is clicked again or retried; resolving the
incident resolves its open conversations; who may do what; hostile input refused or escaped."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inbox import auth
from inbox.model import IdentityRef, Status
from inbox.store import WriteBatch
from tests.factories import inbound
from tests.fakes.x_api import FakeXApi
from tests.integration.collision_support import PASSWORD, Team, team_fixture  # noqa: F401
from tests.integration.composer_support import (  # noqa: F401
    email_conversation,
    keyword_hit,
    x_api_fixture,
)
from tests.integration.test_collision_api import form_fields, sign_in

pytestmark = pytest.mark.integration


async def manager(team: Team) -> dict[str, str]:
    await auth.add_user(team.runtime.store, "maria@example.com", "manager", PASSWORD,
                        name="Maria", passwords=team.runtime.passwords)
    team.tokens["maria"] = await auth.create_token(team.runtime.store, "maria@example.com")
    return team.auth("maria")


async def web_form(team: Team, email: str, message: str) -> str:
    posted = await team.client.post("/api/forms/contact", json={
        "name": "Bea", "email": email, "message": message})
    assert posted.status == 201
    found = await team.runtime.conversations.by_reference(int((await posted.json())["reference"]))
    assert found is not None
    return found.id


async def three_customers(team: Team, x_api: FakeXApi) -> tuple[str, str, str]:
    """Ann by email, @ann_x on X (a post mentioning the brand), Bea through the web form."""
    return (await email_conversation(team), await keyword_hit(team, x_api, mentions_brand=True),
            await web_form(team, "bea@example.com", "Nothing loads since this morning"))


async def incident(team: Team, title: str = "Payments down") -> str:
    resp = await team.client.post("/api/incidents", headers=team.auth("maria"),
                                  json={"title": title, "description": "Card payments fail."})
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["incident"]["id"])


async def send(team: Team, inc: str, text: str, key: str, who: str = "dana",
               path: str = "updates") -> dict[str, object]:
    resp = await team.client.post(f"/api/incidents/{inc}/{path}", headers=team.auth(who),
                                  json={"text": text, "key": key})
    assert resp.status == 202, await resp.text()
    update = (await resp.json())["update"]
    await team.runtime.incidents.wait(update["id"])
    return dict(update)


async def test_one_update_reaches_three_customers_on_their_channels_once(
        team: Team, x_api: FakeXApi) -> None:
    await manager(team)
    email, x, form = await three_customers(team, x_api)
    inc = await incident(team)
    linked = await team.client.post("/api/conversations/bulk", headers=team.auth("dana"), json={
        "action": "incident", "incident": inc,
        "conversations": [{"id": email, "version": 1}, {"id": x, "version": 1}]})
    assert linked.status == 200 and (await linked.json())["not_changed"] == []
    by_api = await team.client.post(f"/api/incidents/{inc}/conversations",
                                    headers=team.auth("dana"), json={"conversations": [form]})
    assert (await by_api.json()) == {"linked": [form], "not_linked": []}

    update = await send(team, inc, "Payments are failing; we are fixing it.", "click-1")
    mails = {r.rcpt_tos[0]: r.message for r in team.smtp.handler.received}
    assert sorted(mails) == ["ann@example.com", "bea@example.com"]
    assert mails["ann@example.com"]["In-Reply-To"] == "<refund-1@example.com>"  # threaded
    assert "Payments are failing" in mails["bea@example.com"].get_content()
    [post] = x_api.posted_tweets
    assert post["body"]["text"] == "@ann_x Payments are failing; we are fixing it."
    assert post["body"]["reply"]["in_reply_to_tweet_id"]  # a reply to the customer's post

    again = await send(team, inc, "Payments are failing; we are fixing it.", "click-1")
    assert again["id"] == update["id"]  # a double click: the same update
    assert await team.runtime.incidents.resume() == 0  # a retry: nothing left to send
    assert len(team.smtp.handler.received) == 2 and len(x_api.posted_tweets) == 1

    shown = await (await team.client.get(f"/api/incidents/{inc}",
                                         headers=team.auth("dana"))).json()
    assert shown["channels"] == {"email": 1, "x": 1, "webform": 1}
    assert {c["id"]: c["last_update"]["status"] for c in shown["conversations"]} == {
        email: "sent", x: "sent", form: "sent"}
    assert shown["last_update"]["done"] == 3 and shown["last_update"]["finished"]
    for conv in (email, x, form):  # each recorded on its conversation
        view = await team.runtime.conversations.get(conv)
        assert any("Payments are failing" in m.text for m in view.messages)


async def test_resolving_resolves_the_open_ones_with_a_final_update(
        team: Team, x_api: FakeXApi) -> None:
    await manager(team)
    email, x, form = await three_customers(team, x_api)
    inc = await incident(team)
    for conv in (email, x, form):
        resp = await team.client.post(f"/api/incidents/{inc}/conversations",
                                      headers=team.auth("sam"), json={"conversations": [conv]})
        assert (await resp.json())["linked"] == [conv]
    await team.runtime.conversations.set_status(form, Status.RESOLVED,
                                                await auth.get_user(team.runtime.store,
                                                                    "dana@example.com"))
    forbidden = await team.client.post(f"/api/incidents/{inc}/resolve",
                                       headers=team.auth("dana"), json={})
    assert forbidden.status == 403  # agents link and update; managers resolve

    update = await send(team, inc, "Payments work again.", "r1", who="maria", path="resolve")
    assert update["resolve"]
    progress = await (await team.client.get(f"/api/incidents/{inc}/updates/{update['id']}",
                                            headers=team.auth("dana"))).json()
    outcomes = progress["conversations"]
    assert outcomes[form] == {"status": "skipped", "reason": "already resolved",
                              "message": None}
    assert outcomes[email]["status"] == outcomes[x]["status"] == "sent"
    convs = await team.runtime.store.conversations_by_ids([email, x, form])
    assert {c.status for c in convs.values()} == {Status.RESOLVED}
    assert [r.rcpt_tos for r in team.smtp.handler.received] == [["ann@example.com"]]
    listed = await (await team.client.get("/api/incidents", headers=team.auth("dana"))).json()
    assert listed["incidents"][0]["status"] == "resolved"
    more = await team.client.post(f"/api/incidents/{inc}/updates", headers=team.auth("dana"),
                                  json={"text": "again", "key": "late"})
    assert more.status == 409  # a resolved incident takes no updates


async def test_roles_and_the_audit(team: Team) -> None:
    await manager(team)
    refused = await team.client.post("/api/incidents", headers=team.auth("dana"),
                                      json={"title": "Mine"})
    assert refused.status == 403
    assert (await team.client.get("/api/incidents", headers=team.auth("mark"))).status == 403
    inc = await incident(team)
    conv = await team.conversation()
    resp = await team.client.post(f"/api/incidents/{inc}/conversations",
                                  headers=team.auth("dana"), json={"conversations": [conv]})
    assert (await resp.json())["linked"] == [conv]
    mine = await (await team.client.get(f"/api/conversations/{conv}/incident",
                                        headers=team.auth("sam"))).json()
    assert mine["incident"]["id"] == inc
    unlinked = await team.client.delete(f"/api/incidents/{inc}/conversations/{conv}",
                                        headers=team.auth("sam"))
    assert unlinked.status == 200
    audit = [d for _, d in await team.runtime.store.audit.list(None, 500)]
    actions = {(d["actor"], d["action"].split(":")[0]) for d in audit}
    assert {("maria@example.com", "incident.create"), ("dana@example.com", "incident.link"),
            ("sam@example.com", "incident.unlink")} <= actions


async def test_hostile_input_is_refused_or_escaped(team: Team) -> None:
    maria = await manager(team)
    api = team.client
    for body in ({"title": ""}, {"title": "x" * 10_000}, {"title": ["a"]},
                 {"title": "ok", "description": 5}, {"title": "ok", "description": "d" * 9_000}):
        resp = await api.post("/api/incidents", headers=maria, json=body)
        assert resp.status == 400, body
    inc = await incident(team, "<script>alert(1)</script> & down")
    for path, body in (("conversations", {"conversations": [1]}),
                       ("conversations", {"conversations": "all"}),
                       ("updates", {"text": 5}), ("updates", {"text": "   "}),
                       ("updates", {"text": "hi", "key": "k" * 1_000})):
        resp = await api.post(f"/api/incidents/{inc}/{path}", headers=team.auth("dana"),
                              json=body)
        assert resp.status == 400, (path, body)
    missing = await api.post(f"/api/incidents/{inc}/conversations", headers=team.auth("dana"),
                             json={"conversations": ["nope"]})
    assert (await missing.json())["not_linked"][0]["reason"] == "not_found"
    assert (await api.get("/api/incidents/" + "z" * 5_000, headers=maria)).status == 404
    conv = await team.conversation()
    await sign_in(team, "dana")
    page = await (await api.get(f"/conversations/{conv}")).text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; down" in page and "<script>alert" \
        not in page
    linked = await api.post(f"/incidents/{inc}/link", data={
        **form_fields(page, f"/incidents/{inc}/link"), "incident": inc})
    assert linked.status == 200
    page = await linked.text()
    assert "Incident: <a href=\"/incidents/" in page  # back on the conversation, linked
    listing = await (await api.get("/incidents")).text()
    assert "&lt;script&gt;" in listing and "<script>alert" not in listing


async def x_post(team: Team, fake: FakeXApi, username: str) -> str:
    """A post of @username mentioning the brand; its conversation id."""
    author = fake.add_user(username, username.title())
    post = fake.add_tweet(author, "@acme checkout is broken")
    got = await team.runtime.ingest([inbound(
        post, "@acme checkout is broken", channel="x",
        authors=(IdentityRef("x", author, f"@{username}"),),
        meta={"kind": "tweet", "tweet_id": post, "author_id": author, "mentions_brand": True,
              "quotes_brand": False})])
    return got.stored[0].conversation_id


async def test_many_x_customers_each_get_the_update_x_refuses_no_duplicate(
        team: Team, x_api: FakeXApi) -> None:
    await manager(team)
    inc = await incident(team)
    convs = [await x_post(team, x_api, name) for name in ("ann_x", "ben_x", "cid_x")]
    resp = await team.client.post(f"/api/incidents/{inc}/conversations",
                                  headers=team.auth("dana"), json={"conversations": convs})
    assert (await resp.json())["linked"] == convs
    update = await send(team, inc, "Checkout works again.", "k")
    assert sorted(p["body"]["text"] for p in x_api.posted_tweets) == [
        "@ann_x Checkout works again.", "@ben_x Checkout works again.",
        "@cid_x Checkout works again."]
    progress = await (await team.client.get(f"/api/incidents/{inc}/updates/{update['id']}",
                                            headers=team.auth("dana"))).json()
    assert {o["status"] for o in progress["conversations"].values()} == {"sent"}


async def test_the_pages_send_an_update_once_however_often_it_is_posted(team: Team) -> None:
    await manager(team)
    inc = await incident(team)
    conv = await team.conversation("The app is down")
    await sign_in(team, "dana")
    page = await (await team.client.get(f"/conversations/{conv}")).text()
    linked = await team.client.post(f"/incidents/{inc}/link", data={
        **form_fields(page, f"/incidents/{inc}/link"), "incident": inc})
    assert "linked to the incident" in await linked.text()
    page = await (await team.client.get(f"/incidents/{inc}")).text()
    assert "Resolve the incident" not in page  # managers resolve
    fields = {**form_fields(page, f"/incidents/{inc}/update"), "text": "Back within the hour."}
    for _ in range(2):  # a double click
        resp = await team.client.post(f"/incidents/{inc}/update", data=fields)
        assert resp.status == 200
    [update] = (await team.runtime.incidents.get(inc))["updates"]
    await team.runtime.incidents.wait(update)
    assert team.replies_to_customer() == ["Back within the hour."]
    page = await (await team.client.get(f"/incidents/{inc}")).text()
    assert "Web form 1" in page and ": done — 1 sent." in page
    assert '<td data-label="Last update" class="delivery delivery-sent">sent</td>' in page

    await sign_in(team, "maria")
    page = await (await team.client.get(f"/incidents/{inc}")).text()
    resp = await team.client.post(f"/incidents/{inc}/resolve", data={
        **form_fields(page, f"/incidents/{inc}/resolve"), "text": ""})
    assert "Incident resolved" in await resp.text()
    [_, resolution] = (await team.runtime.incidents.get(inc))["updates"]
    await team.runtime.incidents.wait(resolution)
    assert (await team.runtime.conversations.current(conv)).status == Status.RESOLVED
    assert team.replies_to_customer() == ["Back within the hour."]  # no final text: no mail


async def test_an_x_post_that_allows_no_public_reply_gets_a_dm(
        team: Team, x_api: FakeXApi) -> None:
    await manager(team)
    inc = await incident(team)
    hit = await keyword_hit(team, x_api)  # no @acme in it: X allows no public reply
    listening = await x_post(team, x_api, "lee_x")
    await team.runtime.store.restore(WriteBatch(conversations=(replace(
        await team.runtime.conversations.current(listening), status=Status.LISTENING),)))
    resp = await team.client.post(f"/api/incidents/{inc}/conversations",
                                  headers=team.auth("dana"),
                                  json={"conversations": [hit, listening]})
    assert len((await resp.json())["linked"]) == 2
    update = await send(team, inc, "Our network is back.", "k")
    [dm] = x_api.posted_dms
    assert "Our network is back." in json.dumps(dm) and x_api.posted_tweets == []
    outcomes = (await (await team.client.get(f"/api/incidents/{inc}/updates/{update['id']}",
                                             headers=team.auth("dana"))).json())["conversations"]
    assert outcomes[hit]["status"] == "sent"
    assert outcomes[listening] == {"status": "skipped", "message": None,
                                   "reason": "a listening hit, not a care conversation"}


JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                              st.text(max_size=30), st.sampled_from(["", " ", "x" * 30_000])),
                    lambda inner: st.one_of(st.lists(inner, max_size=3),
                                            st.dictionaries(st.text(max_size=5), inner,
                                                            max_size=3)), max_leaves=6)
BODIES = st.dictionaries(st.sampled_from(["title", "description", "text", "key",
                                          "conversations", "incident"]), JSON, max_size=4)


@settings(max_examples=60, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_no_hostile_body_gets_a_5xx(team: Team, data: st.DataObject) -> None:
    if "maria" not in team.tokens:  # the fixture serves every example
        await manager(team)
    inc = await incident(team)
    path = data.draw(st.sampled_from(["/api/incidents", f"/api/incidents/{inc}/conversations",
                                      f"/api/incidents/{inc}/updates",
                                      f"/api/incidents/{inc}/resolve"]))
    body = data.draw(st.one_of(BODIES, JSON))
    resp = await team.client.post(path, headers=team.auth("maria"), json=body)
    assert resp.status < 500, (path, body, await resp.text())
