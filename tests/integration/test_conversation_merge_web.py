"""Merging and splitting conversations over real HTTP: who may, CSRF, stale versions, the
page of a merged conversation, the undo banner, and the JSON twin."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from inbox.model import IdentityRef, Status
from tests.factories import inbound
from tests.integration.web_support import CUSTOMER_EMAIL, RoleWeb, start_web

pytestmark = pytest.mark.integration


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[RoleWeb]:
    async for w in start_web(db=str(tmp_path / "inbox.db")):
        yield w


async def second(desk: RoleWeb, who: str = CUSTOMER_EMAIL) -> str:
    result = await desk.runtime.ingest([inbound(
        f"<r-{who}@example.com>", "And the router blinks red", subject="Router",
        authors=(IdentityRef("email", who),))])
    return result.stored[0].conversation_id


def flash(resp_url: str) -> str:
    return parse_qs(urlsplit(resp_url).query).get("flash", [""])[0]


async def test_agents_merge_from_the_page_and_undo_it(desk: RoleWeb) -> None:
    a, b = desk.ids["conversation"], await second(desk)
    store = desk.runtime.store
    conv_a, conv_b = await store.get_conversation(a), await store.get_conversation(b)
    await desk.sign_in("agent")
    page = await (await desk.client.get(f"/conversations/{b}")).text()
    assert "Merge into…" in page and f'value="{a}:{conv_a.version}"' in page
    token = await desk.csrf(f"/conversations/{b}")

    no_csrf = await desk.client.post(f"/conversations/{b}/merge", allow_redirects=False,
                                     data={"into": a, "version": str(conv_b.version)})
    assert no_csrf.status == 403
    stale = await desk.client.post(f"/conversations/{b}/merge", data={
        "csrf": token, "into": f"{a}:{conv_a.version - 1}", "version": str(conv_b.version)})
    assert "Not done: the conversation changed" in flash(str(stale.url))
    assert (await store.get_conversation(b)).status == Status.OPEN

    done = await desk.client.post(f"/conversations/{b}/merge", data={
        "csrf": token, "ref": f"#{conv_a.ref}", "version": str(conv_b.version)})
    assert urlsplit(str(done.url)).path == f"/conversations/{a}"
    assert f"Merged #{conv_b.ref} into this conversation" in flash(str(done.url))
    page = html.unescape(await done.text())
    assert "And the router blinks red" in page and "Undo merge" in page
    # the merged one's page, and its #ref, lead to the survivor
    moved = await desk.client.get(f"/conversations/{conv_b.ref}")
    assert urlsplit(str(moved.url)).path == f"/conversations/{a}"
    assert f"#{conv_b.ref} was merged into this one" in flash(str(moved.url))

    record = (await desk.runtime.conversations.merges.history(a))[0]
    kept = await store.get_conversation(a)
    undo = f"/conversations/{a}/merges/{record['id']}/undo"
    undone = await desk.client.post(undo, data={"csrf": token, "version": str(kept.version)})
    assert "The merge is undone" in flash(str(undone.url))
    again = await desk.client.post(undo, data={"csrf": token, "version": str(kept.version)})
    assert "Already undone" in flash(str(again.url))  # a double click does nothing more
    assert (await store.get_conversation(b)).status == Status.OPEN


async def test_splitting_a_message_out_from_the_page(desk: RoleWeb) -> None:
    a = desk.ids["conversation"]
    conv = await desk.runtime.store.get_conversation(a)
    await desk.sign_in("agent")
    page = await (await desk.client.get(f"/conversations/{a}")).text()
    assert page.count("Split into a new conversation") == 2  # message and reply, no note
    token = await desk.csrf(f"/conversations/{a}")
    reply = [m for m in await desk.runtime.store.conversation_messages(a)
             if m.direction == "outbound"][0]
    done = await desk.client.post(f"/conversations/{a}/split", data={
        "csrf": token, "message": reply.id, "version": str(conv.version)})
    assert "Split 1 message into a new conversation, #" in flash(str(done.url))
    assert "Undo split" in await done.text()


async def test_who_may_and_the_json_twin(desk: RoleWeb) -> None:
    a, b = desk.ids["conversation"], await second(desk)
    other = await second(desk, "someone.else@example.com")
    store = desk.runtime.store
    conv_b = await store.get_conversation(b)
    path = f"/api/conversations/{b}/merge"
    body = {"into": a, "version": conv_b.version}
    for role, status in ((None, 401), ("marketing", 403)):
        resp = await desk.client.post(path, json=body, headers=desk.auth(role))
        assert resp.status == status, role
    resp = await desk.client.post(path, json={"into": a}, headers=desk.auth("agent"))
    assert resp.status == 400 and "version" in (await resp.json())["error"]
    resp = await desk.client.post(f"/api/conversations/{other}/merge", headers=desk.auth("agent"),
                                  json={"into": a, "version": 1})
    assert resp.status == 409 and "merge the customers first" in (await resp.json())["error"]
    resp = await desk.client.post(path, json={**body, "version": conv_b.version + 5},
                                  headers=desk.auth("agent"))
    assert resp.status == 409 and (await resp.json())["version"] == conv_b.version

    first = await desk.client.post(path, json=body, headers=desk.auth("agent"))
    assert first.status == 201
    data = await first.json()
    twice = await desk.client.post(path, json=body, headers=desk.auth("agent"))
    assert twice.status == 200 and (await twice.json())["merge"]["id"] == data["merge"]["id"]
    assert data["other"]["status"] == "merged" and data["other"]["merged_into"] == a
    reply = await desk.client.post(f"/api/conversations/{b}/reply", headers=desk.auth("agent"),
                                   json={"text": "hello", "confirm": True})
    assert reply.status == 409 and "merged into another" in (await reply.json())["error"]

    undo = f"/api/conversations/{a}/merges/{data['merge']['id']}/undo"
    resp = await desk.client.post(undo, json={}, headers=desk.auth("agent"))
    assert resp.status == 200 and (await resp.json())["other"]["status"] == "open"

    msg = (await store.conversation_messages(b))[0]
    split = f"/api/conversations/{b}/split"
    resp = await desk.client.post(split, headers=desk.auth("agent"), json={
        "message": msg.id, "version": (await store.get_conversation(b)).version})
    assert resp.status == 409 and "nothing would be left" in (await resp.json())["error"]
    resp = await desk.client.post(split, headers=desk.auth("agent"), json={
        "message": msg.id, "later": "yes", "version": 1})
    assert resp.status == 400


async def test_hostile_fields_get_a_clear_4xx(desk: RoleWeb) -> None:
    a = desk.ids["conversation"]
    agent = desk.auth("agent")
    for path, body in (
            (f"/api/conversations/{a}/merge", {"into": "x" * 100_000, "version": 1}),
            (f"/api/conversations/{a}/merge", {"into": ["#1"], "version": 1}),
            (f"/api/conversations/{a}/merge", {"into": "#99999", "version": 1}),
            (f"/api/conversations/{a}/merge", {"into": "#1", "version": 1, "into_version": "2"}),
            (f"/api/conversations/{a}/split", {"message": "\u0000" * 50, "version": 1}),
            (f"/api/conversations/{a}/merges/{'g' * 5000}/undo", {}),
            (f"/api/conversations/{a}/merges/g0123/undo", {"version": "1"})):
        resp = await desk.client.post(path, json=body, headers=agent)
        assert 400 <= resp.status < 500, (path, resp.status, await resp.text())
        assert "error" in await resp.json()
