"""CSAT end to end over HTTP with a real SMTP server (aiosmtpd): an agent resolves a web-form
conversation, the worker's sweep mails the customer one survey with a link, the customer
answers on the public page, the report counts it, a low score tells the manager in the app
and by email; tampered and expired links are a clear 404 and 410; hostile comments escaped."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest

from inbox import auth
from inbox.app.config import load as load_config
from inbox.app.runtime import Runtime
from inbox.collections import CSAT
from inbox.model import ConversationFilter, Status, utcnow
from inbox.webhook import Webhook
from tests.fakes.x_api import FakeXApi
from tests.integration.collision_support import PASSWORD, Team, team_fixture  # noqa: F401
from tests.integration.test_acks import x_env, x_fake  # noqa: F401
from tests.integration.test_spike_delivery import Receiver, receiver  # noqa: F401
from web.forms import LIMITER

pytestmark = pytest.mark.integration
LINK = re.compile(r"/csat/([A-Za-z0-9_-]{32,64})")


async def manager(team: Team) -> dict[str, str]:
    await auth.add_user(team.runtime.store, "maria@example.com", "manager", PASSWORD,
                        name="Maria", passwords=team.runtime.passwords)
    team.tokens["maria"] = await auth.create_token(team.runtime.store, "maria@example.com")
    return team.auth("maria")


async def resolve(team: Team, conversation: str, who: str = "dana",
                  status: str = "resolved") -> None:
    resp = await team.client.post(f"/api/conversations/{conversation}/status",
                                  headers=team.auth(who), json={"status": status})
    assert resp.status == 200, await resp.text()


def surveys_to(team: Team, address: str) -> list[str]:
    return [r.message.get_content() for r in team.smtp.handler.received
            if address in r.rcpt_tos and "/csat/" in r.message.get_content()]


def generous(team: Team) -> None:
    """Many answers from one address in a test: let them in (before the first post)."""
    app = team.client.server.app
    assert app is not None
    app[LIMITER].limit = 100


async def surveyed(team: Team) -> tuple[str, str]:
    """A web-form conversation Dana resolved, its survey sent: (conversation id, token)."""
    conversation = await team.conversation("My bill is wrong")
    await resolve(team, conversation)
    assert await team.runtime.surveys.sweep() == 1
    (body,) = surveys_to(team, "ann@example.com")
    found = LINK.search(body)
    assert found, body
    return conversation, found.group(1)


async def test_resolve_survey_answer_report_and_low_score_alert(
        team: Team, receiver: tuple[Receiver, str]) -> None:  # noqa: F811
    maria = await manager(team)
    hooked, url = receiver  # the team's alert webhook, on a real local HTTP server
    team.runtime.surveys.delivery.webhook = Webhook(url, attempts=2, backoff=0.01)
    conversation, token = await surveyed(team)
    (body,) = surveys_to(team, "ann@example.com")
    conv = await team.runtime.conversations.current(conversation)
    assert f"#{conv.ref}" in body and "Hello Ann" in body and "1 = very unsatisfied" in body

    # never twice: another sweep, a reopen and a second resolution send nothing more
    assert await team.runtime.surveys.sweep() == 0
    await resolve(team, conversation, status="open")
    await resolve(team, conversation)
    assert await team.runtime.surveys.sweep() == 0
    assert len(surveys_to(team, "ann@example.com")) == 1

    # the link with a score preselects it and records nothing (mail scanners follow links)
    page = await team.client.get(f"/csat/{token}?score=2")
    text = await page.text()
    assert page.status == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    assert re.search(r'value="2" checked', text) and f"#{conv.ref}" in text
    assert (await team.runtime.store.collection(CSAT).get(conversation) or {})["score"] is None

    # a low score with a hostile comment: kept escaped, the manager told in the app and by mail
    hostile = "<script>alert(1)</script> rude " + "x" * 100
    answered = await team.client.post(f"/csat/{token}", data={"score": "2", "comment": hostile})
    text = await answered.text()
    assert answered.status == 200 and "Thank you" in text
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)" in text
    await team.runtime.sla_alerts.delivery.drain()
    notes = await team.client.get("/api/notifications", headers=maria)
    assert "scored 2 of 5" in await notes.text()
    (alert,) = [r.message for r in team.smtp.handler.received if "maria@example.com" in r.rcpt_tos]
    assert f"#{conv.ref}" in alert["Subject"] and "rude" in alert.get_content()
    payload = hooked.posts[-1]  # the first post got a 503: tried again
    assert (payload["kind"], payload["score"], payload["ref"]) == ("csat.low", 2, conv.ref)
    assert payload["comment"].startswith("<script>")  # JSON: the receiver escapes it

    # answering again keeps the last answer and alerts no more
    again = await team.client.post(f"/csat/{token}", data={"score": "5"})
    assert again.status == 200 and re.search(r'value="5" checked', await again.text())
    await team.runtime.sla_alerts.delivery.drain()
    assert len([r for r in team.smtp.handler.received if "maria@example.com" in r.rcpt_tos]) == 1

    # the report: one survey sent, answered 5; by channel and by the agent's name
    today = utcnow().date().isoformat()
    report = await team.client.get(f"/api/reports/csat?from={today}&to={today}",
                                   headers=maria)
    rows = {(r["group"], r["key"]): r for r in (await report.json())["rows"]}
    overall = rows[("all", "all")]
    assert (overall["sent"], overall["responses"], overall["average"],
            overall["satisfied_rate"], overall["response_rate"]) == (1, 1, 5.0, 1.0, 1.0)
    assert rows[("channel", "webform")]["responses"] == 1
    exported = await team.client.get(f"/api/reports/csat.csv?from={today}&to={today}",
                                     headers=maria)
    table = list(csv.DictReader(io.StringIO(await exported.text())))
    assert exported.status == 200 and table[0]["group"] == "all" and table[0]["average"] == "5.0"
    shown = await (await team.client.get(f"/reports?from={today}&to={today}",
                                         headers=maria)).text()
    assert "Customer satisfaction" in shown and "100%" in shown
    yesterday = (utcnow() - timedelta(days=1)).date().isoformat()
    earlier = await team.client.get(f"/api/reports/csat?from={yesterday}&to={yesterday}",
                                    headers=maria)
    assert (await earlier.json())["rows"] == []  # resolved today: not in yesterday's range


async def test_bad_and_expired_links_and_bad_answers(team: Team) -> None:
    generous(team)
    conversation, token = await surveyed(team)
    for bad in (token[:-1] + ("A" if token[-1] != "A" else "B"), "short", "x" * 200,
                token + "A"):
        for resp in (await team.client.get(f"/csat/{bad}"),
                     await team.client.post(f"/csat/{bad}", data={"score": "4"})):
            assert resp.status == 404 and "not valid" in await resp.text()
    for score in ("0", "6", "", "4.5", "five"):
        resp = await team.client.post(f"/csat/{token}", data={"score": score})
        assert resp.status == 400 and "pick one of 1 to 5" in await resp.text()
    huge = await team.client.post(f"/csat/{token}", data={"score": "4", "comment": "y" * 5000})
    assert huge.status == 400 and "at most 2,000 characters" in await huge.text()
    assert (await team.runtime.store.collection(CSAT).get(conversation) or {})["score"] is None

    later = utcnow() + timedelta(days=15)  # the link lasts 14 days (csat.link_days)
    team.runtime.conversations.clock = lambda: later
    for resp in (await team.client.get(f"/csat/{token}"),
                 await team.client.post(f"/csat/{token}", data={"score": "4"})):
        assert resp.status == 410 and "closed" in await resp.text()


async def test_answers_are_rate_limited_like_the_web_form(team: Team) -> None:
    _, token = await surveyed(team)
    statuses = [(await team.client.post(f"/csat/{token}", data={"score": "4"})).status
                for _ in range(30)]
    assert statuses[0] == 200 and statuses[-1] == 429 and 500 not in statuses


async def test_only_an_agents_resolution_of_a_care_conversation_is_surveyed(
        team: Team) -> None:
    await team.runtime.surveys.sweep()
    hit = await team.x_post()  # an X post (no DM): no survey, however resolved
    await resolve(team, hit)
    assert await team.runtime.surveys.sweep() == 0
    doc = await team.runtime.store.collection(CSAT).get(hit)
    assert doc is not None and doc["state"] == "skipped" and "DM" in (doc["reason"] or "")
    # a conversation reopened before its survey was due gets none
    conversation = await team.conversation("Still broken")
    await resolve(team, conversation)
    await resolve(team, conversation, status="open")
    assert await team.runtime.surveys.sweep() == 0
    assert surveys_to(team, "ann@example.com") == []


async def test_who_may_read_the_csat_report(team: Team) -> None:
    await manager(team)
    for who, status in (("maria", 200), ("dana", 403), ("mark", 403)):
        for path in ("/api/reports/csat", "/api/reports/csat.csv"):
            resp = await team.client.get(path, headers=team.auth(who))
            assert resp.status == status, (who, path)
    signed_out = await team.client.get("/api/reports/csat")
    assert signed_out.status == 401


@pytest.mark.parametrize("dm", [True, False], ids=["on", "off"])
async def test_x_customers_are_surveyed_by_dm_when_allowed_and_never_in_public(
        x_fake: FakeXApi, tmp_path: Path, dm: bool) -> None:  # noqa: F811
    theresa = x_fake.add_user("theresa", "Theresa May")
    x_fake.add_dm(theresa, "My bill is wrong", age=5)
    x_fake.add_tweet(theresa, "@acme my bill is wrong")
    env = {**x_env(x_fake, tmp_path, False), "INBOX_CSAT_X_DM": "true" if dm else "false"}
    runtime = Runtime(load_config(None, env), env)
    await runtime.start()
    try:
        await runtime.poll_once("x")
        agent = await runtime.accounts.add_user("dana@example.com", "agent", PASSWORD, "Dana")
        for conv in (await runtime.store.list_conversations(ConversationFilter(), None,
                                                            10)).items:
            await runtime.conversations.set_status(conv.id, Status.RESOLVED, agent)
        sent = await runtime.surveys.sweep()
    finally:
        await runtime.aclose()
    assert x_fake.posted_tweets == []  # never a public post
    if not dm:
        assert sent == 0 and x_fake.posted_dms == []
        return
    (survey,) = x_fake.posted_dms
    assert sent == 1 and LINK.search(survey["body"]["text"])
    assert "How satisfied are you, 1 to 5?" in survey["body"]["text"]


async def test_hostile_answers_are_a_clear_4xx(team: Team) -> None:
    generous(team)
    _, token = await surveyed(team)
    path, form = f"/csat/{token}", {"Content-Type": "application/x-www-form-urlencoded"}
    cases = [(b"score=4&comment=" + b"y" * 200_000, 413), (b"score=4&comment=\xff\xfe", 400),
             (b"&".join(b"f%d=1" % i for i in range(50)), 400), (b'{"score": 4}', 400),
             (b"score=4&score=5&comment=%00%01", 200)]
    for body, status in cases:
        resp = await team.client.post(path, data=body, headers=form)
        assert resp.status == status, (body[:40], await resp.text())
