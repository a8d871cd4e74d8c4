"""Email end to end: Dovecot -> IDLE -> store -> API; replies over SMTP thread both ways."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from inbox import auth
from inbox.app.cli import main
from inbox.app.config import load as load_config
from inbox.app.runtime import Runtime
from tests.factories import CHEAP_ARGON2
from tests.servers.dovecot import PASSWORD, Dovecot
from tests.servers.smtp import SmtpServer
from web.app import create_app

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def customer_mail(text: str, subject: str = "My router is dead",
                  sender: str = "ann@example.com", in_reply_to: str | None = None,
                  references: str | None = None) -> tuple[bytes, str]:
    msg = EmailMessage()
    msg["From"] = f"Ann Example <{sender}>"
    msg["To"] = "support@example.test"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now().astimezone())
    mid = make_msgid(domain="example.com")
    msg["Message-ID"] = mid
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = references or in_reply_to
    msg.set_content(text)
    return bytes(msg), mid


def email_env(dovecot: Dovecot, smtp: SmtpServer, tmp_path: Path) -> dict[str, str]:
    return {"INBOX_STORE": f"sqlite:///{tmp_path}/inbox.db", "INBOX_ENRICH": "false",
            "INBOX_EMAIL_URL": dovecot.url(), "INBOX_EMAIL_PASSWORD": PASSWORD,
            "INBOX_SMTP_URL": smtp.url(), "INBOX_EMAIL_FROM": "support@example.test",
            "INBOX_ATTACHMENTS_DIR": str(tmp_path / "attachments")}


@pytest.fixture
async def live(dovecot: Dovecot, smtp_server: SmtpServer, tmp_path: Path
               ) -> AsyncIterator[tuple[TestClient[Any, Any], Runtime, str]]:
    env = email_env(dovecot, smtp_server, tmp_path)
    runtime = Runtime(load_config(None, {**env, **CHEAP_ARGON2}), env)
    await runtime.start()
    await auth.add_user(runtime.store, "ava@example.com", "agent", "correct horse battery",
                        passwords=runtime.passwords)
    token = await auth.create_token(runtime.store, "ava@example.com")
    client = TestClient(TestServer(create_app(runtime.web_context()), host="127.0.0.1"))
    await client.start_server()
    await runtime.start_workers()
    try:
        yield client, runtime, token
    finally:
        await client.close()
        await runtime.aclose()


async def wait_for(check: Any, seconds: float = 5.0) -> Any:
    async with asyncio.timeout(seconds):
        while not (found := await check()):
            await asyncio.sleep(0.1)
    return found


async def test_idle_delivery_and_replies_thread_both_ways(
        live: tuple[TestClient[Any, Any], Runtime, str], dovecot: Dovecot,
        smtp_server: SmtpServer) -> None:
    client, runtime, token = live
    headers = {"Authorization": f"Bearer {token}"}
    await asyncio.sleep(0.5)  # the connector is idling now

    async def conversations() -> list[dict[str, Any]]:
        body = await (await client.get("/api/conversations", headers=headers)).json()
        return list(body["conversations"])

    raw, customer_id = customer_mail("No internet since this morning.")
    await asyncio.to_thread(dovecot.append, raw)
    (conv,) = await wait_for(conversations)  # IDLE: within seconds, no poll interval
    assert conv["channel"] == "email" and conv["subject"] == "My router is dead"

    reply = await client.post(f"/api/conversations/{conv['id']}/reply", headers=headers,
                              json={"text": "Sorry! We reset your line.", "idempotency_key": "1",
                                    "version": conv["version"]})
    sent = (await reply.json())["message"]
    assert reply.status == 201 and sent["delivery"] == "sent"
    async def both() -> bool:  # the automatic acknowledgement (sent as ingest stored the
        return len(smtp_server.received) == 2  # mail, maybe still on its way) and the reply

    await wait_for(both)
    ack, envelope = sorted(smtp_server.received,
                           key=lambda e: e.message["Auto-Submitted"] != "auto-replied")
    assert ack.message["Auto-Submitted"] == "auto-replied"
    assert ack.message["In-Reply-To"] == customer_id
    out = envelope.message
    assert out["In-Reply-To"] == customer_id and customer_id in out["References"]
    assert out["To"] == "Ann Example <ann@example.com>" or "ann@example.com" in out["To"]
    assert f"[#{conv['ref']}]" in out["Subject"] and conv["id"] not in out["Subject"]

    answer, _ = customer_mail("Works again, thanks!", subject=f"Re: {out['Subject']}",
                              in_reply_to=out["Message-ID"],
                              references=f"{customer_id} {out['Message-ID']}")
    await asyncio.to_thread(dovecot.append, answer)

    async def threaded() -> bool:
        detail = await (await client.get(f"/api/conversations/{conv['id']}",
                                         headers=headers)).json()
        return len(detail["messages"]) == 4  # with the acknowledgement

    await wait_for(threaded)
    assert len(await conversations()) == 1  # the answer joined the same conversation
    lost_headers, _ = customer_mail("Forgot one thing", subject=f"Re: [#{conv['ref']}]")
    await asyncio.to_thread(dovecot.append, lost_headers)  # a client that drops References

    async def four() -> bool:
        detail = await (await client.get(f"/api/conversations/{conv['id']}",
                                         headers=headers)).json()
        return len(detail["messages"]) == 5

    await wait_for(four)


async def test_attachments_download_but_never_render(
        live: tuple[TestClient[Any, Any], Runtime, str], dovecot: Dovecot) -> None:
    client, runtime, token = live
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "ann@example.com", "support@example.test", "Bill"
    msg["Message-ID"] = make_msgid(domain="example.com")
    msg.set_content("The bill is attached.")
    evil = b"<html><script>alert(1)</script></html>"
    msg.add_attachment(evil, maintype="text", subtype="html", filename="bill <1>.html")
    await asyncio.to_thread(dovecot.append, bytes(msg))
    headers = {"Authorization": f"Bearer {token}"}

    async def stored() -> Any:
        found = await runtime.store.search(None, None, 10)
        # the customer's mail (the newest message is the acknowledgement answering it)
        return next((m for m in found.messages if m.attachments), None)

    message = await wait_for(stored)
    (item,) = message.attachments
    assert item.name == "bill <1>.html" and item.size == len(evil) and item.ref
    resp = await client.get(f"/attachments/{message.id}/0", headers=headers)
    assert resp.status == 200 and await resp.read() == evil
    assert resp.headers["Content-Type"] == "application/octet-stream"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert (await client.get(f"/attachments/{message.id}/1", headers=headers)).status == 404
    anonymous = await client.get(f"/attachments/{message.id}/0", allow_redirects=False)
    assert anonymous.status == 303 and anonymous.headers["Location"].startswith("/login")


async def test_web_form_conversations_are_answered_by_email(
        live: tuple[TestClient[Any, Any], Runtime, str], smtp_server: SmtpServer) -> None:
    client, runtime, token = live
    posted = await client.post("/api/forms/contact", json={
        "name": "Bo", "email": "bo@example.com", "message": "Please call me back"})
    ref = (await posted.json())["reference"]
    reply = await client.post(f"/api/conversations/{ref}/reply",
                              headers={"Authorization": f"Bearer {token}"},
                              json={"text": "Calling you at 3pm.", "idempotency_key": "w1",
                                    "confirm": True})
    assert reply.status == 201
    (envelope,) = smtp_server.received
    assert envelope.message["To"].endswith("<bo@example.com>") or \
        envelope.message["To"] == "bo@example.com"
    assert "Calling you at 3pm." in envelope.message.get_content()


async def test_smtp_temporary_failure_keeps_the_reply_and_retries(
        live: tuple[TestClient[Any, Any], Runtime, str], smtp_server: SmtpServer) -> None:
    client, runtime, token = live
    ref = (await (await client.post("/api/forms/contact", json={
        "name": "Cy", "email": "cy@example.com", "message": "Hello?"})).json())["reference"]
    smtp_server.handler.reject["cy@example.com"] = "451 4.3.0 Mailbox busy, try again later"
    reply = await client.post(f"/api/conversations/{ref}/reply",
                              headers={"Authorization": f"Bearer {token}"},
                              json={"text": "Hi Cy", "idempotency_key": "o1", "confirm": True})
    msg = (await reply.json())["message"]
    assert reply.status == 202 and msg["delivery"] == "failed" and "451" in msg["meta"]["error"]
    del smtp_server.handler.reject["cy@example.com"]
    assert await runtime.replies.retry_failed() == 1
    (envelope,) = smtp_server.received
    assert "Hi Cy" in envelope.message.get_content()


def test_poll_email_once_then_search(dovecot: Dovecot, smtp_server: SmtpServer, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    env = email_env(dovecot, smtp_server, tmp_path)
    dovecot.append([customer_mail(f"Invoice question number {i}", subject="Invoice")[0]
                    for i in range(3)] + [b"\x00\x01 not a message at all \xff"])
    assert main(["poll", "--channel", "email", "--once"], env) == 0
    out = capsys.readouterr().out
    assert "stored 3" in out
    assert main(["dead-letters"], env) == 0
    assert "1 dead letters" in capsys.readouterr().out
    assert main(["poll", "--channel", "email", "--once"], env) == 0
    assert "stored 0" in capsys.readouterr().out
    assert main(["search", "channel:email", "--json"], env) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["total"] == 3
    assert {m["author_keys"][0] for m in found["messages"]} == {"ann@example.com"}
    assert len({m["customer_id"] for m in found["messages"]}) == 1


def _stored_ids(db: Path) -> list[str]:
    try:
        with sqlite3.connect(db) as conn:
            return [row[0] for row in conn.execute("SELECT external_id FROM messages")]
    except sqlite3.OperationalError:  # not created yet
        return []


def _processes_of(cwd: Path) -> list[int]:
    """The multiprocessing processes started from cwd (it is in their command line)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"multiprocessing" in cmdline and str(cwd).encode() in cmdline:
            found.append(int(entry.name))
    return found


def test_sigkill_mid_sync_loses_and_doubles_nothing(dovecot: Dovecot, tmp_path: Path) -> None:
    """`inbox poll --once` killed while batches are being fetched, parsed (worker processes)
    and stored, then run again: every mail stored exactly once."""
    raws = [customer_mail(f"durable question {n}", subject=f"durable {n}",
                          sender=f"c{n}@example.com")[0] for n in range(1000)]
    client = dovecot.client()
    try:
        client.multiappend("INBOX", raws)
    finally:
        client.logout()
    (tmp_path / "inbox.toml").write_text(
        f'[[email.mailboxes]]\nname = "support"\nurl = "{dovecot.url()}"\n'
        f'password = "{PASSWORD}"\nattachments_dir = "{tmp_path / "attachments"}"\n'
        "batch_size = 20\n")
    db = tmp_path / "inbox.db"
    env = {**os.environ, "INBOX_STORE": f"sqlite:///{db}", "INBOX_ENRICH": "false",
           "INBOX_CONFIG": str(tmp_path / "inbox.toml"), "PYTHONPATH": str(ROOT)}
    poll = [sys.executable, "-m", "inbox.app.cli", "poll", "--channel", "email", "--once"]
    proc = subprocess.Popen(poll, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while not _stored_ids(db) and proc.poll() is None:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)  # a batch is stored: more are in flight
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    killed_at = len(_stored_ids(db))
    gone_by = time.monotonic() + 30
    while _processes_of(tmp_path) and time.monotonic() < gone_by:
        time.sleep(0.1)
    assert not _processes_of(tmp_path)  # its parse workers ended with it

    subprocess.run(poll, cwd=tmp_path, env=env, check=True, timeout=300,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    stored = _stored_ids(db)
    assert 0 < killed_at < len(raws)
    assert len(stored) == len(set(stored)) == len(raws)
