"""An incident update by email end to end: a customer's mail arrives through Dovecot (IDLE),
another customer wrote through the web form; the update reaches both over SMTP (aiosmtpd),
threaded on the mail. A temporary SMTP failure shows as failed with why, the outbox sends it
again, and the incident then shows it sent: once, never twice."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from inbox import auth
from inbox.app.runtime import Runtime
from tests.integration.test_email_e2e import customer_mail, live, wait_for  # noqa: F401
from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpServer

pytestmark = pytest.mark.integration


async def test_an_update_reaches_a_mail_and_a_form_customer_retried_once(
        live: tuple[TestClient[Any, Any], Runtime, str], dovecot: Dovecot,  # noqa: F811
        smtp_server: SmtpServer) -> None:
    client, runtime, token = live
    agent = {"Authorization": f"Bearer {token}"}
    await asyncio.sleep(0.5)  # the connector is idling now
    raw, mail_id = customer_mail("Payments fail at checkout.")
    await asyncio.to_thread(dovecot.append, raw)

    async def by_mail() -> list[str]:
        body = await (await client.get("/api/conversations", headers=agent)).json()
        return [c["id"] for c in body["conversations"] if c["channel"] == "email"]

    (mail_conv,) = await wait_for(by_mail)
    posted = await client.post("/api/forms/contact", json={
        "name": "Cy", "email": "cy@example.com", "message": "Cannot pay"})
    form_conv = (await runtime.conversations.by_reference(
        int((await posted.json())["reference"])))
    assert form_conv is not None

    await auth.add_user(runtime.store, "max@example.com", "manager", "correct horse battery",
                        passwords=runtime.passwords)
    manager = {"Authorization":
               f"Bearer {await auth.create_token(runtime.store, 'max@example.com')}"}
    created = await client.post("/api/incidents", headers=manager,
                                json={"title": "Payments down"})
    inc = (await created.json())["incident"]["id"]
    linked = await client.post(f"/api/incidents/{inc}/conversations", headers=agent,
                               json={"conversations": [mail_conv, form_conv.id]})
    assert (await linked.json())["not_linked"] == []

    smtp_server.handler.reject["cy@example.com"] = "451 4.3.0 Mailbox busy, try again later"
    resp = await client.post(f"/api/incidents/{inc}/updates", headers=agent,
                             json={"text": "We are fixing payments.", "key": "u1"})
    update = (await resp.json())["update"]
    await runtime.incidents.wait(update["id"])

    async def outcomes() -> dict[str, Any]:
        found = await (await client.get(f"/api/incidents/{inc}/updates/{update['id']}",
                                        headers=agent)).json()
        return dict(found["conversations"])

    tried = await outcomes()
    assert tried[mail_conv]["status"] == "sent"
    assert tried[form_conv.id]["status"] == "failed"
    assert "451" in tried[form_conv.id]["reason"] and "sent again" in tried[form_conv.id]["reason"]
    # the customer's mail was acknowledged first (ack.email is on): the update comes after
    (first,) = [m for m in smtp_server.received
                if "We are fixing payments." in m.message.as_string()]
    assert first.message["In-Reply-To"] == mail_id  # threaded on the customer's mail

    del smtp_server.handler.reject["cy@example.com"]
    assert await runtime.replies.retry_failed() == 1  # the outbox's retry
    assert (await outcomes())[form_conv.id]["status"] == "sent"
    await client.post(f"/api/incidents/{inc}/updates", headers=agent,
                      json={"text": "We are fixing payments.", "key": "u1"})  # retried
    await runtime.incidents.wait(update["id"])
    assert await runtime.replies.retry_failed() == 0
    assert sorted(e.rcpt_tos[0] for e in smtp_server.received
                  if "We are fixing payments." in e.message.as_string()) == [
        "ann@example.com", "cy@example.com"]  # the update once each, never twice
