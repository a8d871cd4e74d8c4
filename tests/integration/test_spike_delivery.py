"""Spike alerts leave the app: a webhook on a real local HTTP server (the payload says why;
a failed delivery is retried a bounded number of times) and an email to the subscribers
through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors.email import configure
from inbox.app.config import load as load_config
from inbox.app.runtime import Runtime
from inbox.events import EventBus
from inbox.store import WriteBatch
from inbox.usecases.accounts import Accounts
from inbox.usecases.alerts import AlertSettings, SpikeAlerts
from inbox.usecases.conversations import Conversations
from inbox.usecases.delivery import Delivery
from inbox.usecases.notifications import Notifications
from inbox.usecases.search import Search
from inbox.usecases.sla_alerts import SlaAlerts
from inbox.webhook import Webhook
from search.sqlite import SqliteStore
from tests.contract.test_spike_alerts import CHEAP, after, seeded
from tests.factories import conversation, customer
from tests.servers.smtp import SmtpServer, smtp_server_fixture  # noqa: F401 - fixture
from tests.unit.test_sla import LONDON, utc

pytestmark = pytest.mark.integration
PASSWORD = "plum orbit canyon 71"


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers the first `failures` posts with a 503."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.posts: list[Any] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.posts.append(json.loads(await request.text()))
        return web.Response(status=503 if len(self.posts) <= self.failures else 200)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    got = Receiver(failures=1)
    app = web.Application()
    app.router.add_post("/hook/{token}", got.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield got, str(server.make_url("/hook/s3cret-token"))
    finally:
        await server.close()


async def subscribed(store: SqliteStore, hook: Webhook | None,
                     smtp: SmtpServer | None = None) -> tuple[SpikeAlerts, str]:
    alerts, searches, accounts = await seeded(store)
    mark = await accounts.add_user("mark@example.com", "marketing", PASSWORD, "Mark")
    mia = await accounts.add_user("mia@example.com", "agent", PASSWORD, "Mia")
    doc = await searches.create(mark, "Billing", "bill OR invoice")
    for who in (mark, mia):
        await searches.subscribe(who, doc["id"], True)
    mailer = None
    if smtp is not None:
        _, (sender,) = configure({"email": {"mailboxes": [{
            "name": "support", "smtp_url": smtp.url(), "from_address": "alerts@example.test"}]}},
            {})
        mailer = sender.send_notice  # type: ignore[union-attr]
    return SpikeAlerts(store, Search(store, accounts), accounts,
                       Notifications(store, EventBus()),
                       AlertSettings(webhook=hook), mailer), doc["id"]


async def test_the_webhook_says_why_and_is_retried(
        sqlite_store: SqliteStore, receiver: tuple[Receiver, str],
        caplog: pytest.LogCaptureFixture) -> None:
    got, url = receiver
    alerts, search_id = await subscribed(sqlite_store, Webhook(url, 3, 5.0, backoff=0.01))
    assert (await alerts.check(after(14)))[search_id].alert
    await alerts.drain()
    assert len(got.posts) == 2 and got.posts[0] == got.posts[1]  # a 503, then delivered
    sent = got.posts[1]
    assert sent["search"]["name"] == "Billing" and sent["count"] == 20
    assert sent["baseline"]["k"] == 3.0 and sent["baseline"]["threshold"] > 2
    assert "charged twice" in [t["term"] for t in sent["terms"]]
    assert len(sent["samples"]) == 3
    assert all("ann@example.com" not in s["text"] for s in sent["samples"])  # redacted
    assert sent["link"] == "/voc?q=bill+OR+invoice"
    await alerts.check(after(15))  # the same spike: not told again
    await alerts.drain()
    assert len(got.posts) == 2
    assert "s3cret-token" not in caplog.text  # the URL's secret is never logged


async def test_a_webhook_that_keeps_failing_gives_up_after_its_attempts(
        receiver: tuple[Receiver, str]) -> None:
    got, url = receiver
    got.failures = 99
    status = await Webhook(url, attempts=3, timeout=5.0, backoff=0.01).post({"a": 1})
    assert status == "failed after 3 tries: HTTP 503" and len(got.posts) == 3
    refused = await Webhook("http://127.0.0.1:9/none", attempts=2, backoff=0.01).post({})
    assert refused.startswith("failed after 2 tries")


async def test_subscribers_get_an_email(sqlite_store: SqliteStore,
                                        smtp_server: SmtpServer) -> None:
    alerts, search_id = await subscribed(sqlite_store, None, smtp_server)
    await alerts.check(after(14))
    await alerts.drain()
    (mail,) = smtp_server.received
    assert sorted(mail.rcpt_tos) == ["mark@example.com", "mia@example.com"]
    msg = mail.message
    assert msg["Subject"] == "Spike: Billing" and msg["From"] == "alerts@example.test"
    body = msg.get_content()
    assert "20 messages in the hour from 14:00 UTC" in body and "charged twice" in body
    assert "ann@example.com" not in body
    state = await sqlite_store.spike_states.get(search_id)
    assert state is not None and state.get("delivery", {})["email"] == "sending to 2"


async def test_the_runtime_wires_the_settings_smtp_and_webhook(tmp_path: Path,
                                                                 smtp_server: SmtpServer) -> None:
    env = {"INBOX_STORE": f"sqlite:///{tmp_path}/inbox.db", "INBOX_ENRICH": "false",
           "INBOX_ALERTS_K": "2.5", "INBOX_ALERTS_WEBHOOK_URL": "http://127.0.0.1:9/h/tok"}
    bare = Runtime(load_config(None, env), {}, channels=False)
    assert bare.alerts.mailer is None  # no SMTP account: email alerts are skipped
    assert bare.alerts.settings.k == 2.5 and bare.alerts.settings.webhook is not None
    assert "tok" not in repr(bare.config.core.alerts)
    await bare.aclose()
    config = load_config(None, env)
    config["email"] = {"mailboxes": [{"name": "support", "smtp_url": smtp_server.url(),
                                      "from_address": "alerts@example.test"}]}
    with_mail = Runtime(config, {})
    assert with_mail.alerts.mailer is not None
    await with_mail.aclose()


async def test_managers_and_the_assignee_are_told_of_a_deadline_once_each_way(
        sqlite_store: SqliteStore, receiver: tuple[Receiver, str],
        smtp_server: SmtpServer) -> None:
    """A response deadline at risk, then breached: the managers and the assignee are told
    in the app, by webhook and by email, once for each; nobody else is."""
    got, url = receiver
    got.failures = 0
    accounts = Accounts(sqlite_store, CHEAP)
    maya = await accounts.add_user("maya@example.com", "manager", PASSWORD, "Maya")
    ava = await accounts.add_user("ava@example.com", "agent", PASSWORD, "Ava")
    ben = await accounts.add_user("ben@example.com", "agent", PASSWORD, "Ben")
    _, (sender,) = configure({"email": {"mailboxes": [{
        "name": "support", "smtp_url": smtp_server.url(),
        "from_address": "alerts@example.test"}]}}, {})
    events = EventBus()
    service = Conversations(sqlite_store, events, sla=LONDON)
    delivery = Delivery(service.notifications, accounts, Webhook(url, 2, 5.0, backoff=0.01),
                        sender.send_notice)  # type: ignore[union-attr]
    service.deadline_alerts = SlaAlerts(accounts, delivery, "https://inbox.example")
    late = replace(conversation("late", "c1", "email"), awaiting_since=utc(7, 9),
                   due_at=utc(7, 16), assignee=ava.id, subject="Router <b>dead</b>")
    await sqlite_store.write(WriteBatch(customers=(customer("c1"),), conversations=(late,)))
    assert await service.sweep_sla(utc(7, 15)) == {"at_risk": 1, "breached": 0}
    assert await service.sweep_sla(utc(7, 15, 30)) == {"at_risk": 0, "breached": 0}
    assert await service.sweep_sla(utc(7, 17)) == {"at_risk": 0, "breached": 1}
    await delivery.drain()
    assert [p["kind"] for p in got.posts] == ["sla.at_risk", "sla.breached"]
    assert got.posts[1]["link"] == "https://inbox.example/conversations/late"
    assert [sorted(m.rcpt_tos) for m in smtp_server.received] == \
        [["ava@example.com", "maya@example.com"]] * 2
    assert sorted(m.message["Subject"].split(":")[0] for m in smtp_server.received) == [
        "Response deadline at risk", "Response deadline breached"]
    for user, told in ((maya, 2), (ava, 2), (ben, 0)):
        kinds = [n["kind"] for n in await service.notifications.for_user(user)]
        assert sorted(kinds) == (["sla.at_risk", "sla.breached"] if told else []), user.email
