"""Acknowledgements end to end: mail from Dovecot through the real poller is answered once
over SMTP (aiosmtpd) with the expected answer time, machine mail never; an X DM is
acknowledged by DM through the X API fake; the still-working update goes once; no automatic
message stops the response clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import pytest

from inbox import acks
from inbox.app.config import load as load_config
from inbox.app.runtime import Runtime
from inbox.model import Conversation, ConversationFilter, Direction, Status, User
from inbox.sla import add_business_time
from tests.factories import CHEAP_ARGON2
from tests.fakes.x_api import FakeXApi, ManualClock
from tests.servers.dovecot import PASSWORD, Dovecot
from tests.servers.smtp import Received, SmtpServer

pytestmark = pytest.mark.integration
SUPPORT = "support@example.test"
ANN = "ann@example.com"


def mail(text: str, *, subject: str = "My router is dead", sender: str = ANN,
         headers: dict[str, str] | None = None, in_reply_to: str | None = None,
         content_type: str | None = None) -> tuple[bytes, str]:
    msg = EmailMessage()
    msg["From"] = f"Ann Lee <{sender}>"
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now().astimezone())
    msg["Message-ID"] = mid = make_msgid(domain="example.com")
    if in_reply_to:
        msg["In-Reply-To"] = msg["References"] = in_reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text)
    if content_type:
        msg.replace_header("Content-Type", content_type)
    return bytes(msg), mid


def email_env(dovecot: Dovecot, smtp: SmtpServer, tmp_path: Path,
              **extra: str) -> dict[str, str]:
    return {"INBOX_STORE": f"sqlite:///{tmp_path}/inbox.db", "INBOX_ENRICH": "false",
            "INBOX_EMAIL_URL": dovecot.url(), "INBOX_EMAIL_PASSWORD": PASSWORD,
            "INBOX_SMTP_URL": smtp.url(), "INBOX_EMAIL_FROM": SUPPORT,
            "INBOX_ATTACHMENTS_DIR": str(tmp_path / "attachments"), **CHEAP_ARGON2, **extra}


async def started(env: dict[str, str]) -> Runtime:
    runtime = Runtime(load_config(None, env), env)
    await runtime.start()
    return runtime


@pytest.fixture
async def mailroom(dovecot: Dovecot, smtp_server: SmtpServer, tmp_path: Path
                   ) -> AsyncIterator[tuple[Runtime, dict[str, str]]]:
    env = email_env(dovecot, smtp_server, tmp_path, INBOX_ACK_UPDATE="true")
    runtime = await started(env)
    try:
        yield runtime, env
    finally:
        await runtime.aclose()


async def deliver(runtime: Runtime, dovecot: Dovecot, raw: bytes) -> Any:
    """Put a mail in the mailbox and let the poller take it (the real connector)."""
    await asyncio.to_thread(dovecot.append, raw)
    (result,) = (await runtime.poll_once("email")).values()
    return result


def to(smtp: SmtpServer, address: str) -> list[Received]:
    return [r for r in smtp.received if address in r.rcpt_tos]


async def only_conversation(runtime: Runtime) -> Conversation:
    (conv,) = (await runtime.store.list_conversations(ConversationFilter(), None, 10)).items
    return conv


async def test_a_customer_mail_gets_one_acknowledgement_with_the_expected_time(
        mailroom: tuple[Runtime, dict[str, str]], dovecot: Dovecot,
        smtp_server: SmtpServer) -> None:
    runtime, env = mailroom
    raw, first_id = mail("No internet since this morning.")
    result = await deliver(runtime, dovecot, raw)
    conv = await only_conversation(runtime)
    (ack,) = to(smtp_server, ANN)
    sent = ack.message
    assert sent["From"] == SUPPORT and sent["In-Reply-To"] == first_id
    assert sent["Subject"] == f"Re: My router is dead [#{conv.ref}]"
    assert sent["Auto-Submitted"] == "auto-replied"
    body = sent.get_content()
    assert conv.due_at is not None
    expected = acks.answer_time(conv.due_at, runtime.sla, datetime.now(conv.due_at.tzinfo),
                                "en")
    local = conv.due_at.astimezone(runtime.sla.calendar.zone)
    assert expected in body and f"{local:%A}" in body and f"{local:%H:%M}" in body
    assert f"#{conv.ref}" in body and "Hello Ann" in body
    assert runtime.sla.calendar.describe() in body  # the business hours explained

    # the agent sees it in the thread, automatic; the clock still runs for the agent
    messages = await runtime.store.conversation_messages(conv.id)
    (auto,) = [m for m in messages if m.direction == Direction.OUTBOUND]
    assert auto.automated and auto.delivery == "sent" and auto.author_label == "Automatic reply"
    assert auto.text == body.replace("\r\n", "\n").strip()
    assert conv.first_response_at is None and conv.awaiting_since is not None

    # the customer writes again in the same thread: no second acknowledgement
    again, _ = mail("Still nothing.", subject=f"Re: {sent['Subject']}",
                    in_reply_to=str(sent["Message-ID"]))
    await deliver(runtime, dovecot, again)
    assert len(to(smtp_server, ANN)) == 1

    # resolved, then the customer writes again within the period: none either
    admin = User(id="u-admin", email="admin@example.com", role="admin", password_hash="-")
    await runtime.conversations.set_status(conv.id, Status.RESOLVED, admin)
    reopen, _ = mail("It broke again.", subject=f"Re: {sent['Subject']}",
                     in_reply_to=str(sent["Message-ID"]))
    reopened = await deliver(runtime, dovecot, reopen)
    assert reopened.opened and (await only_conversation(runtime)).status == Status.OPEN
    assert len(to(smtp_server, ANN)) == 1

    # a restart (or a second worker) handed the same opened batch sends nothing
    second = await started(env)
    try:
        assert await second.acks.opened(result) == 0
        assert await asyncio.gather(second.acks.opened(reopened),
                                    runtime.acks.opened(reopened)) == [0, 0]
    finally:
        await second.aclose()
    assert len(to(smtp_server, ANN)) == 1


@pytest.mark.parametrize(("headers", "content_type", "sender"), [
    ({"Auto-Submitted": "auto-replied"}, None, ANN),  # an auto-reply
    ({"X-Autoreply": "yes"}, None, ANN),
    ({"Precedence": "bulk"}, None, ANN),
    ({"List-Id": "<news.example.com>"}, None, ANN),  # list mail
    ({"Return-Path": "<>"}, "multipart/report; report-type=delivery-status", ANN),  # a bounce
    ({}, None, "MAILER-DAEMON@example.com"),
    ({"X-Auto-Response-Suppress": "All"}, None, ANN),  # asks for no auto-reply
    ({}, None, SUPPORT),  # our own address
], ids=["auto-submitted", "x-autoreply", "bulk", "list-id", "bounce", "mailer-daemon",
        "suppress", "own-address"])
async def test_machine_mail_and_our_own_get_no_acknowledgement(
        mailroom: tuple[Runtime, dict[str, str]], dovecot: Dovecot, smtp_server: SmtpServer,
        headers: dict[str, str], content_type: str | None, sender: str) -> None:
    runtime, _ = mailroom
    raw, _ = mail("I am away until Monday.", headers=headers, content_type=content_type,
                  sender=sender)
    result = await deliver(runtime, dovecot, raw)
    assert len(result.stored) == 1  # stored all the same, for the agents
    assert smtp_server.received == []


async def test_an_out_of_office_subject_gets_no_acknowledgement(
        mailroom: tuple[Runtime, dict[str, str]], dovecot: Dovecot,
        smtp_server: SmtpServer) -> None:
    runtime, _ = mailroom
    raw, _ = mail("I am out of the office.", subject="Automatic reply: your invoice")
    await deliver(runtime, dovecot, raw)
    assert smtp_server.received == []


async def test_the_update_goes_once_and_the_agent_reply_is_the_first_response(
        mailroom: tuple[Runtime, dict[str, str]], dovecot: Dovecot,
        smtp_server: SmtpServer) -> None:
    runtime, _ = mailroom
    raw, _ = mail("No internet since this morning.")
    await deliver(runtime, dovecot, raw)
    conv = await only_conversation(runtime)
    assert conv.awaiting_since is not None and conv.due_at is not None
    target = runtime.sla.targets["email"].duration
    at_risk = add_business_time(conv.awaiting_since, target * 0.8, runtime.sla.calendar)
    assert runtime.sla.state(conv, at_risk) == "at_risk"
    await runtime.conversations.sweep_sla(now=at_risk)
    await runtime.conversations.sweep_sla(now=at_risk + timedelta(minutes=5))
    ack, update = to(smtp_server, ANN)
    text = update.message.get_content()
    assert "still working on your message" in text and f"#{conv.ref}" in text
    assert acks.answer_time(conv.due_at, runtime.sla, at_risk, "en") in text
    after = await only_conversation(runtime)
    assert after.first_response_at is None and after.due_at == conv.due_at

    agent = User(id="u-agent", email="ava@example.com", role="agent", password_hash="-")
    await runtime.replies.reply(conv.id, "We reset your line.", agent)
    answered = await only_conversation(runtime)
    assert answered.first_response_at is not None and answered.due_at is None
    replies = [m for m in await runtime.store.conversation_messages(conv.id)
               if m.direction == Direction.OUTBOUND]
    assert answered.first_response_at == max(m.created_at for m in replies)
    assert [m.automated for m in replies] == [True, True, False]


async def test_with_acknowledgements_off_no_mail_goes(dovecot: Dovecot,
                                                      smtp_server: SmtpServer,
                                                      tmp_path: Path) -> None:
    runtime = await started(email_env(dovecot, smtp_server, tmp_path, INBOX_ACK_EMAIL="false"))
    try:
        raw, _ = mail("Hello?")
        await deliver(runtime, dovecot, raw)
    finally:
        await runtime.aclose()
    assert smtp_server.received == []


# --- X ---------------------------------------------------------------------------------------


@pytest.fixture
async def x_fake() -> AsyncIterator[FakeXApi]:
    async with FakeXApi(clock=ManualClock(), bearer_token="app-token",
                        oauth1_secrets=("cs", "ats")) as server:
        yield server


def x_env(fake: FakeXApi, tmp_path: Path, dm: bool) -> dict[str, str]:
    return {"INBOX_STORE": f"sqlite:///{tmp_path}/inbox.db", "INBOX_ENRICH": "false",
            "INBOX_X_BEARER_TOKEN": "app-token", "INBOX_X_USER_ID": fake.brand_id,
            "INBOX_X_USERNAME": "acme", "INBOX_X_API_URL": fake.url,
            "INBOX_X_CONSUMER_KEY": "ck", "INBOX_X_CONSUMER_SECRET": "cs",
            "INBOX_X_ACCESS_TOKEN": f"{fake.brand_id}-at", "INBOX_X_ACCESS_TOKEN_SECRET": "ats",
            "INBOX_ACK_X_DM": "true" if dm else "false", **CHEAP_ARGON2}


@pytest.mark.parametrize("dm", [True, False], ids=["on", "off"])
async def test_an_x_dm_is_acknowledged_by_dm_when_on_and_a_post_never(
        x_fake: FakeXApi, tmp_path: Path, dm: bool) -> None:
    theresa = x_fake.add_user("theresa", "Theresa May")
    x_fake.add_dm(theresa, "My bill is wrong", age=5)
    x_fake.add_tweet(theresa, "@acme my bill is wrong")
    runtime = await started(x_env(x_fake, tmp_path, dm))
    try:
        await runtime.poll_once("x")
        conversations = (await runtime.store.list_conversations(ConversationFilter(), None,
                                                                10)).items
        threads = {c.id: await runtime.store.conversation_messages(c.id)
                   for c in conversations}
    finally:
        await runtime.aclose()
    assert len(conversations) == 2 and x_fake.posted_tweets == []  # never in public
    automatic = [m for ms in threads.values() for m in ms if m.automated]
    if not dm:
        assert x_fake.posted_dms == [] and automatic == []
        return
    (sent,) = x_fake.posted_dms
    text = sent["body"]["text"]
    (auto,) = automatic
    assert auto.text == text and auto.meta["reply_mode"] == "dm" and auto.delivery == "sent"
    (dm_conv,) = [c for c in conversations if c.id == auto.conversation_id]
    assert dm_conv.due_at is not None and dm_conv.first_response_at is None
    assert acks.answer_time(dm_conv.due_at, runtime.sla, dm_conv.created_at, "en") in text
    assert "round the clock" in text and f"#{dm_conv.ref}" in text
