"""Agents racing each other through real HTTP (and a real SMTP server): two answering one
customer at once send one email and get a 409 naming it (or both, when confirmed); crossed
merges end in one merge, a 409 and a working undo."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from inbox import auth
from inbox.app.config import load as load_config
from inbox.app.runtime import Runtime
from tests.servers.smtp import SmtpServer
from web.app import create_app

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"


@dataclass
class Desk:
    runtime: Runtime
    smtp: SmtpServer
    tokens: dict[str, str]
    clients: list[TestClient[Any, Any]]

    async def client(self) -> TestClient[Any, Any]:
        client = TestClient(TestServer(create_app(self.runtime.web_context()), host="127.0.0.1"))
        await client.start_server()
        self.clients.append(client)
        return client

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
async def desk(smtp_server: SmtpServer, tmp_path: Path) -> AsyncIterator[Desk]:
    env = {"INBOX_STORE": f"sqlite:///{tmp_path}/inbox.db", "INBOX_ENRICH": "false",
           "INBOX_SMTP_URL": smtp_server.url(), "INBOX_EMAIL_FROM": "support@example.test"}
    runtime = Runtime(load_config(None, env), env)
    await runtime.start()
    tokens = {}
    for name in ("dana", "sam"):
        await auth.add_user(runtime.store, f"{name}@example.com", "agent", PASSWORD,
                            name=name.title())
        tokens[name] = await auth.create_token(runtime.store, f"{name}@example.com")
    found = Desk(runtime, smtp_server, tokens, [])
    try:
        yield found
    finally:
        for client in found.clients:
            await client.close()
        await runtime.aclose()


async def new_conversation(desk: Desk, client: TestClient[Any, Any]) -> str:
    """A web form post's conversation id (its receipt names the human reference)."""
    posted = await client.post("/api/forms/contact", json={
        "name": "Ann", "email": "ann@example.com", "message": "My bill is wrong"})
    assert posted.status == 201
    ref = int((await posted.json())["reference"])
    return (await desk.runtime.store.conversations_by_refs([ref]))[ref].id


async def version(desk: Desk, client: TestClient[Any, Any], ref: str) -> int:
    got = await client.get(f"/api/conversations/{ref}", headers=desk.auth("dana"))
    return int((await got.json())["conversation"]["version"])


async def test_two_agents_replying_at_once_send_one_email(desk: Desk) -> None:
    dana, sam = await desk.client(), await desk.client()
    ref = await new_conversation(desk, dana)
    seen = await version(desk, dana, ref)
    url = f"/api/conversations/{ref}/reply"
    answers = await asyncio.gather(
        dana.post(url, json={"text": "Dana: refunded", "version": seen},
                  headers=desk.auth("dana")),
        sam.post(url, json={"text": "Sam: refunded", "version": seen}, headers=desk.auth("sam")))
    assert sorted(a.status for a in answers) == [201, 409]
    won, lost = sorted(answers, key=lambda a: a.status)
    winner = (await won.json())["message"]["author_label"]
    refused = await lost.json()
    assert re.fullmatch(rf"{winner} replied (just now|\d+ s ago)", refused["changes"][0])
    assert "not sent" in refused["error"] and refused["version"] == seen + 1
    (envelope,) = desk.smtp.received  # the customer got exactly one reply
    assert f"{winner}: refunded" in envelope.message.get_content()

    loser = "sam" if winner == "Dana" else "dana"
    again = await dana.post(url, json={"text": "Also: a credit", "version": seen,
                                       "confirm": True}, headers=desk.auth(loser))
    assert again.status == 201 and len(desk.smtp.received) == 2


async def test_confirmed_replies_at_once_both_go(desk: Desk) -> None:
    dana, sam = await desk.client(), await desk.client()
    ref = await new_conversation(desk, dana)
    url = f"/api/conversations/{ref}/reply"
    answers = await asyncio.gather(
        dana.post(url, json={"text": "one", "confirm": True}, headers=desk.auth("dana")),
        sam.post(url, json={"text": "two", "confirm": True}, headers=desk.auth("sam")))
    assert [a.status for a in answers] == [201, 201]
    assert sorted(r.message.get_content().strip() for r in desk.smtp.received) == ["one", "two"]


async def test_bad_version_or_confirmation_is_refused(desk: Desk) -> None:
    client = await desk.client()
    ref = await new_conversation(desk, client)
    for body in ({"text": "hi", "version": "3"}, {"text": "hi", "version": 1, "confirm": "yes"}):
        resp = await client.post(f"/api/conversations/{ref}/reply", json=body,
                                 headers=desk.auth("dana"))
        assert resp.status == 400 and (await resp.json())["errors"]
    assert desk.smtp.received == []


async def test_replies_without_a_version_at_once_send_one_email(desk: Desk) -> None:
    """A client that sends no version still can't double-answer: the version current when the
    reply arrives is the one it must win against."""
    dana, sam = await desk.client(), await desk.client()
    ref = await new_conversation(desk, dana)
    url = f"/api/conversations/{ref}/reply"
    answers = await asyncio.gather(
        dana.post(url, json={"text": "one"}, headers=desk.auth("dana")),
        sam.post(url, json={"text": "two"}, headers=desk.auth("sam")))
    assert sorted(a.status for a in answers) == [201, 409]
    assert len(desk.smtp.received) == 1
    later = await dana.post(url, json={"text": "three"}, headers=desk.auth("dana"))
    assert later.status == 201 and len(desk.smtp.received) == 2


async def sign_in(client: TestClient[Any, Any], email: str) -> None:
    resp = await client.post("/login", data={"email": email, "password": PASSWORD},
                             allow_redirects=False)
    assert resp.status == 303


def form_fields(page: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to `action`."""
    form = page.split(f'action="{action}"', 1)[1].split("</form>", 1)[0]
    return {name: html.unescape(value) for name, value in
            re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form)}


async def test_a_stale_page_keeps_the_draft_and_shows_the_colleagues_reply(desk: Desk) -> None:
    browser, sam = await desk.client(), await desk.client()
    ref = await new_conversation(desk, browser)
    await sign_in(browser, "dana@example.com")
    page = await (await browser.get(f"/conversations/{ref}")).text()
    reply_form = form_fields(page, f"/conversations/{ref}/reply")
    status_form = form_fields(page, f"/conversations/{ref}/status")

    colleague = await sam.post(f"/api/conversations/{ref}/reply", json={
        "text": "Sam: it is refunded", "status": "resolved",
        "version": int(reply_form["version"])}, headers=desk.auth("sam"))
    assert colleague.status == 201

    draft = "Dana: I <b>refunded</b> you"
    stale = await browser.post(f"/conversations/{ref}/reply",
                               data={**reply_form, "text": draft}, allow_redirects=False)
    shown = await stale.text()
    assert stale.status == 409 and len(desk.smtp.received) == 1
    assert "Sam: it is refunded" in shown  # the colleague's reply is on the page
    assert re.search(r"Sam replied and set it to resolved (just now|\d+ s ago)",
                     shown)
    composer = shown.split('class="reply"', 1)[1].split("</form>", 1)[0]
    assert html.escape(draft) in composer and "Send anyway" in composer

    anyway = await browser.post(f"/conversations/{ref}/reply", data={
        **form_fields(shown, f"/conversations/{ref}/reply"), "text": draft},
        allow_redirects=False)
    assert anyway.status == 303 and len(desk.smtp.received) == 2
    assert draft in desk.smtp.received[1].message.get_content()

    old_status = await browser.post(f"/conversations/{ref}/status",
                                    data={**status_form, "status": "pending"})
    text = await old_status.text()
    assert "Not done" in text and "Sam replied and set it to resolved" in text
    assert (await desk.runtime.store.get_conversation(ref)).status == "resolved"


async def test_a_refused_reply_keeps_the_draft(desk: Desk) -> None:
    browser = await desk.client()
    ref = await new_conversation(desk, browser)
    await sign_in(browser, "dana@example.com")
    page = await (await browser.get(f"/conversations/{ref}")).text()
    fields = form_fields(page, f"/conversations/{ref}/reply")
    desk.smtp.handler.reject["ann@example.com"] = "550 5.1.1 no such user"
    draft = "We refunded the second charge."
    resp = await browser.post(f"/conversations/{ref}/reply", data={**fields, "text": draft},
                              allow_redirects=False)
    shown = await resp.text()
    assert resp.status == 200 and "did not reach the customer" in shown and "550" in shown
    composer = shown.split('class="reply"', 1)[1].split("</form>", 1)[0]
    assert draft in composer and "Send reply" in composer
    too_long = await browser.post(f"/conversations/{ref}/reply", data={
        **form_fields(shown, f"/conversations/{ref}/reply"), "text": "x" * 20_001})
    assert too_long.status == 400 and "x" * 20_001 in await too_long.text()


async def test_crossed_merges_through_the_api(desk: Desk) -> None:
    dana, sam = await desk.client(), await desk.client()
    ref = await new_conversation(desk, dana)
    posted = await dana.post("/api/forms/contact", json={
        "name": "Ann", "email": "ann.work@example.com", "message": "Second account"})
    other = (await posted.json())["reference"]
    a = (await desk.runtime.store.get_conversation(ref)).customer_id
    found = await desk.runtime.store.conversations_by_refs([int(other)])
    b = found[int(other)].customer_id
    answers = await asyncio.gather(
        dana.post(f"/api/customers/{a}/merge", json={"customer": b}, headers=desk.auth("dana")),
        sam.post(f"/api/customers/{b}/merge", json={"customer": a}, headers=desk.auth("sam")))
    assert sorted(r.status for r in answers) == [201, 409]
    won, lost = sorted(answers, key=lambda r: r.status)
    assert "already merged" in (await lost.json())["error"]
    record = (await won.json())["merge"]
    undone = await dana.post(f"/api/customers/{record['survivor']}/merges/{record['id']}/undo",
                             headers=desk.auth("dana"))
    assert undone.status == 200
    for cid in (a, b):
        assert (await desk.runtime.store.get_customer(cid)).merged_into is None


async def test_a_hundred_notes_at_once_are_all_created(desk: Desk) -> None:
    client = await desk.client()
    ref = await new_conversation(desk, client)
    seen = await version(desk, client, ref)
    answers = await asyncio.gather(*(
        client.post(f"/api/conversations/{ref}/notes", json={"text": f"note {i}"},
                    headers=desk.auth("dana" if i % 2 else "sam")) for i in range(100)))
    assert [a.status for a in answers] == [201] * 100
    detail = await (await client.get(f"/api/conversations/{ref}",
                                     headers=desk.auth("dana"))).json()
    notes = [m["text"] for m in detail["messages"] if m["direction"] == "note"]
    assert sorted(notes) == sorted(f"note {i}" for i in range(100))
    reply = await client.post(f"/api/conversations/{ref}/reply",
                              json={"text": "Sorted", "version": seen}, headers=desk.auth("dana"))
    assert reply.status == 201  # the notes made nobody's view of the conversation stale
