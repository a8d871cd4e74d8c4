"""The web form and the JSON API through real HTTP (aiohttp test server on loopback)."""

from __future__ import annotations

import csv
import io
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
from inbox.errors import Refused, RetryableError
from inbox.model import ConversationFilter, IdentityRef, utcnow
from inbox.ports import Outbound, Receipt
from inbox.query import parse
from tests.factories import CHEAP_ARGON2, inbound
from web.app import create_app

pytestmark = pytest.mark.integration

FORM = {"name": "Ann Example", "email": "Ann@Example.com", "message": "My bill is wrong twice"}


class RecordingSender:
    """A reply channel that records what it was asked to send (fails on demand)."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.sent: list[Outbound] = []
        self.fail_next = 0
        self.reject_next = 0

    def check(self, out: Outbound) -> None:
        return None

    async def send(self, out: Outbound) -> Receipt:
        if self.fail_next:
            self.fail_next -= 1
            raise RetryableError("SMTP server unavailable")
        if self.reject_next:
            self.reject_next -= 1
            raise Refused("550 mailbox unavailable")
        self.sent.append(out)
        return Receipt(provider_id=f"sent-{len(self.sent)}@test",
                       thread_keys=(f"mid:sent-{len(self.sent)}@test",))


@dataclass
class Web:
    client: TestClient[Any, Any]
    runtime: Runtime
    token: str
    sender: RecordingSender

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def count(self) -> int:
        return (await self.runtime.store.counts())["messages"]


async def make_web(tmp_path: Path, **env: str) -> AsyncIterator[Web]:
    config = load_config(None, {"INBOX_STORE": f"sqlite:///{tmp_path}/inbox.db",
                             "INBOX_ENRICH": "false", **CHEAP_ARGON2, **env})
    runtime = Runtime(config, {}, channels=False)
    await runtime.start()
    sender = RecordingSender("webform")
    runtime.replies.senders["webform"] = sender
    for email, role in (("admin@example.com", "admin"), ("mark@example.com", "marketing"),
                        ("ava@example.com", "agent")):
        await auth.add_user(runtime.store, email, role, "correct horse battery",
                            passwords=runtime.passwords)
    token = await auth.create_token(runtime.store, "admin@example.com")
    client = TestClient(TestServer(create_app(runtime.web_context()), host="127.0.0.1"))
    await client.start_server()
    try:
        yield Web(client, runtime, token, sender)
    finally:
        await client.close()
        await runtime.aclose()


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[Web]:
    async for w in make_web(tmp_path):
        yield w


async def post_form(web: Web, body: Any, **kw: Any) -> Any:
    return await web.client.post("/api/forms/contact", json=body, **kw)


async def posted(web: Web, data: dict[str, str]) -> str:
    """The id of the conversation a form post started (its receipt names its reference)."""
    ref = (await (await post_form(web, data)).json())["reference"]
    return (await web.runtime.conversations.by_reference(int(ref))).id  # type: ignore[union-attr]


async def test_form_post_appears_in_conversations_and_search(web: Web) -> None:
    resp = await post_form(web, {**FORM, "phone": "+44 20 7946 0000", "x_handle": "@ann_x",
                                 "topic": "Billing", "idempotency_key": "abc"})
    assert resp.status == 201
    body = await resp.json()
    assert body["ok"] and "expect an answer by" in body["message"]
    assert body["expected_reply_by"]
    convs = await (await web.client.get("/api/conversations", headers=web.auth())).json()
    (conv,) = convs["conversations"]
    assert body["reference"] == str(conv["ref"]) and conv["channel"] == "webform"
    assert conv["id"] not in str(body)  # customers never see an internal id
    found = await (await web.client.get("/api/search", params={"q": "bill channel:webform"},
                                        headers=web.auth())).json()
    assert found["total"] == 1 and found["messages"][0]["text"] == FORM["message"]
    detail = await (await web.client.get(f"/api/conversations/{conv['id']}",
                                         headers=web.auth())).json()
    idents = {(i["kind"], i["value"]) for i in detail["customer"]["identities"]}
    assert idents == {("email", "ann@example.com"), ("phone", "+442079460000"),
                      ("x_handle", "ann_x")}
    assert [m["id"] for m in detail["timeline"]] == [m["id"] for m in detail["messages"]]


async def test_replayed_idempotency_key_stores_one_message(web: Web) -> None:
    first = await (await post_form(web, {**FORM, "idempotency_key": "k-1"})).json()
    second = await (await post_form(web, {**FORM, "idempotency_key": "k-1"})).json()
    assert first["reference"] == second["reference"]
    assert await web.count() == 1


@pytest.mark.parametrize(("body", "field"), [
    ({}, "name"),
    ({**FORM, "email": "not-an-address"}, "email"),
    ({**FORM, "message": "   "}, "message"),
    ({**FORM, "message": "x" * 10_001}, "message"),
    ({**FORM, "phone": "call me maybe"}, "phone"),
    ({**FORM, "x_handle": "no spaces allowed"}, "x_handle"),
    ({**FORM, "name": 42}, "name"),
    ({**FORM, "topic": "Hacking"}, "topic"),
])
async def test_invalid_fields_get_clear_errors_and_store_nothing(web: Web, body: Any,
                                                                 field: str) -> None:
    if field == "topic":
        web.client.app  # noqa: B018 - the contact form has no topic list: any short topic is ok
        body = {**body, "topic": "t" * 101}
    resp = await post_form(web, body)
    assert resp.status == 400
    errors = (await resp.json())["errors"]
    assert field in errors and errors[field]
    assert await web.count() == 0


async def test_body_over_64kb_is_refused(web: Web) -> None:
    resp = await web.client.post("/api/forms/contact",
                                 data=io.BytesIO(b"{" + b" " * (1024 * 1024) + b"}"),
                                 headers={"Content-Type": "application/json"})
    assert resp.status == 413
    assert "error" in await resp.json()
    html = await web.client.post("/forms/contact", data="message=" + "a" * 200_000,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert html.status == 413
    cjk = {**FORM, "message": "請" * 10_000}  # 90 KB urlencoded: the form must still take it
    assert (await web.client.post("/forms/contact", data=cjk)).status == 200
    assert await web.count() == 1


async def test_invalid_utf8_and_non_objects_are_refused(web: Web) -> None:
    bad = await web.client.post("/api/forms/contact", data=b'{"name": "\xff\xfe"}',
                                headers={"Content-Type": "application/json"})
    assert bad.status == 400 and "UTF-8" in (await bad.json())["errors"]["body"]
    arr = await post_form(web, [1, 2, 3])
    assert arr.status == 400 and "object" in (await arr.json())["errors"]["body"]
    broken = await web.client.post("/api/forms/contact", data=b'{"name": ',
                                   headers={"Content-Type": "application/json"})
    assert broken.status == 400
    assert await web.count() == 0


async def test_markup_is_stored_as_text_and_never_rendered(web: Web) -> None:
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    resp = await post_form(web, {**FORM, "name": payload, "message": payload})
    ref = (await resp.json())["reference"]
    detail = await (await web.client.get(f"/api/conversations/{ref}", headers=web.auth())).json()
    assert detail["messages"][0]["text"] == payload  # kept verbatim, as text
    login = await web.client.post("/login", data={"email": "admin@example.com",
                                                  "password": "correct horse battery"},
                                  allow_redirects=False)
    assert login.status == 303
    page = await (await web.client.get(f"/conversations/{ref}")).text()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(" in page


async def test_rate_limit_trips_with_retry_after(tmp_path: Path) -> None:
    async for web in make_web(tmp_path, INBOX_FORM_RATE_LIMIT="3"):
        codes = [(await post_form(web, {**FORM, "idempotency_key": f"k{i}"})).status
                 for i in range(4)]
        assert codes == [201, 201, 201, 429]
        limited = await post_form(web, FORM)
        assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
        assert "try again" in (await limited.json())["error"]
        assert await web.count() == 3


async def test_honeypot_submissions_are_dropped_quietly(web: Web) -> None:
    resp = await post_form(web, {**FORM, "website": "http://spam.example"})
    assert resp.status == 201
    assert await web.count() == 0


async def test_html_form_without_javascript(web: Web) -> None:
    page = await web.client.get("/forms/contact")
    text = await page.text()
    assert page.status == 200 and 'name="idempotency_key"' in text and "<form" in text
    bad = await web.client.post("/forms/contact", data={"name": "<b>Bo</b>", "email": "bo@",
                                                        "message": "hi"})
    bad_text = await bad.text()
    assert bad.status == 400 and "not a valid email address" in bad_text
    assert "&lt;b&gt;Bo&lt;/b&gt;" in bad_text  # what they typed comes back, escaped
    ok = await web.client.post("/forms/contact", data={**FORM, "idempotency_key": "h1"})
    assert ok.status == 200 and "You can expect an answer by" in await ok.text()
    again = await web.client.post("/forms/contact", data={**FORM, "idempotency_key": "h1"})
    assert again.status == 200 and await web.count() == 1
    missing = await web.client.get("/forms/nope")
    assert missing.status == 404


async def test_api_requires_authentication(web: Web) -> None:
    for path in ("/api/conversations", "/api/search?q=x", "/api/customers/c1", "/api/me"):
        resp = await web.client.get(path)
        assert resp.status == 401, path
        assert "error" in await resp.json()
    bad = await web.client.get("/api/conversations", headers=web.auth("inbx_forged"))
    assert bad.status == 401


async def test_roles_are_checked(web: Web) -> None:
    token = await auth.create_token(web.runtime.store, "mark@example.com")
    assert (await web.client.get("/api/search?q=bill", headers=web.auth(token))).status == 200
    listing = await web.client.get("/api/conversations", headers=web.auth(token))
    assert listing.status == 403 and "marketing" in (await listing.json())["error"]
    agent = await auth.create_token(web.runtime.store, "ava@example.com")
    assert (await web.client.get("/api/dead-letters", headers=web.auth(agent))).status == 403


async def test_invalid_search_names_the_position(web: Web) -> None:
    resp = await web.client.get("/api/search", params={"q": 'refund channel:fax'},
                                headers=web.auth())
    assert resp.status == 400
    body = await resp.json()
    assert body["position"] == 15 and "fax" in body["problem"]
    unterminated = await web.client.get("/api/search", params={"q": 'a "past due'},
                                        headers=web.auth())
    assert (await unterminated.json())["position"] == 2


async def test_pasted_subjects_and_operators_search_and_the_pages_explain_them(
        web: Web) -> None:
    await posted(web, {**FORM, "message": "Re: Refund request - call me at 10:30"})
    await posted(web, {**FORM, "message": "Refund request for my bill"})
    for q, found in [("Re: Refund request", 1), ("refund AND request", 2),
                     ("refund AND NOT bill", 1), ("10:30 OR wrong", 1), ("refund and", 0)]:
        resp = await web.client.get("/api/search", params={"q": q}, headers=web.auth())
        assert resp.status == 200 and (await resp.json())["total"] == found, q
    typo = await web.client.get("/api/search", params={"q": "refund chanel:email"},
                                headers=web.auth())
    assert typo.status == 400 and (await typo.json())["position"] == 7
    assert "did you mean 'channel:'?" in (await typo.json())["problem"]
    for path in ("/search", "/voc"):
        page = await (await web.client.get(path, params={"q": "Re: refund"},
                                           headers=web.auth())).text()
        assert "<code>NOT</code> before <code>AND</code> before <code>OR</code>" in page
        assert 'role="alert"' not in page
    page = await (await web.client.get("/search", params={"q": "refund OR wrong"},
                                       headers=web.auth())).text()
    assert 'href="/search?q=%28refund%20OR%20wrong%29%20channel%3Awebform"' in page  # a facet


async def test_agent_actions_and_stale_versions(web: Web) -> None:
    ref = await posted(web, FORM)
    base = f"/api/conversations/{ref}"
    assigned = await web.client.post(f"{base}/assign", json={"assignee": "ava@example.com"},
                                     headers=web.auth())
    conv = (await assigned.json())["conversation"]
    assert assigned.status == 200 and conv["assignee"] and conv["version"] == 2
    stale = await web.client.post(f"{base}/status", json={"status": "pending", "version": 1},
                                  headers=web.auth())
    refused = await stale.json()
    assert stale.status == 409 and "Reload" in refused["error"] and refused["version"] == 2
    (change,) = refused["changes"]
    assert change.startswith("You assigned it to ava@example.com")
    ok = await web.client.post(f"{base}/status", json={"status": "pending", "version": 2},
                               headers=web.auth())
    assert (await ok.json())["conversation"]["status"] == "pending"
    bad = await web.client.post(f"{base}/status", json={"status": "closed"}, headers=web.auth())
    assert bad.status == 400 and "status" in (await bad.json())["errors"]
    note = await web.client.post(f"{base}/notes", json={"text": "Called her back"},
                                 headers=web.auth())
    assert note.status == 201
    mine = await (await web.client.get("/api/conversations", params={"assignee": "ava@example.com"},
                                       headers=web.auth())).json()
    assert [c["id"] for c in mine["conversations"]] == [ref]
    missing = await web.client.get("/api/conversations/vnope", headers=web.auth())
    assert missing.status == 404 and "error" in await missing.json()


async def test_reply_is_sent_once_and_stops_the_clock(web: Web) -> None:
    ref = await posted(web, FORM)
    before = await web.runtime.store.get_conversation(ref)
    assert before.due_at is not None
    url = f"/api/conversations/{ref}/reply"
    body = {"text": "We've corrected the bill.", "idempotency_key": "r1",
            "version": before.version}
    first = await web.client.post(url, json=body, headers=web.auth())
    second = await web.client.post(url, json=body, headers=web.auth())
    assert first.status == 201 and second.status == 201
    assert (await first.json())["message"]["id"] == (await second.json())["message"]["id"]
    assert len(web.sender.sent) == 1
    after = await web.runtime.store.get_conversation(ref)
    assert after.due_at is None and after.first_response_at is not None


async def test_failed_reply_is_kept_and_retried(web: Web) -> None:
    ref = await posted(web, FORM)
    web.sender.fail_next = 1
    resp = await web.client.post(f"/api/conversations/{ref}/reply",
                                 json={"text": "On it", "idempotency_key": "r2", "confirm": True},
                                 headers=web.auth())
    msg = (await resp.json())["message"]
    assert resp.status == 202 and msg["delivery"] == "failed"
    assert "unavailable" in msg["meta"]["error"]
    assert await web.runtime.replies.retry_failed() == 1
    (stored,) = [m for m in await web.runtime.store.conversation_messages(ref)
                 if m.direction == "outbound"]
    assert stored.delivery == "sent" and len(web.sender.sent) == 1


async def test_session_forms_need_the_csrf_token(web: Web) -> None:
    ref = await posted(web, FORM)
    await web.client.post("/login", data={"email": "admin@example.com",
                                          "password": "correct horse battery"})
    forged = await web.client.post(f"/conversations/{ref}/note", data={"text": "x"},
                                   allow_redirects=False)
    assert forged.status == 403
    page = await (await web.client.get(f"/conversations/{ref}")).text()
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    ok = await web.client.post(f"/conversations/{ref}/note", data={"text": "x", "csrf": csrf},
                               allow_redirects=False)
    assert ok.status == 303
    wrong = await web.client.post("/login", data={"email": "admin@example.com",
                                                  "password": "nope"})
    assert wrong.status == 401


async def test_live_events_reach_subscribers(web: Web) -> None:
    import asyncio

    resp = await web.client.get("/api/events", headers=web.auth())
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
    await post_form(web, FORM)
    seen = b""
    async with asyncio.timeout(5):
        while b"message.created" not in seen:
            seen += await resp.content.readany()
    assert b'"channel": "webform"' in seen
    resp.close()


async def test_sla_report_and_what_breaches_next(web: Web) -> None:
    first = await posted(web, {**FORM, "idempotency_key": "s1"})
    second = await posted(web, {**FORM, "idempotency_key": "s2"})
    await web.client.post(f"/api/conversations/{first}/reply",
                          json={"text": "Done", "confirm": True}, headers=web.auth())
    due = await (await web.client.get("/api/conversations", params={"order": "due"},
                                      headers=web.auth())).json()
    assert [c["id"] for c in due["conversations"]] == [second]  # the answered one has no clock
    report = await web.client.get("/api/reports/sla", headers=web.auth())
    rows = {(r["group"], r["key"]): r for r in (await report.json())["rows"]}
    overall = rows[("all", "all")]
    assert (overall["conversations"], overall["answered"], overall["met"]) == (2, 1, 1)
    assert overall["compliance"] == 1.0 and overall["p50"] is not None
    agent = await auth.create_token(web.runtime.store, "ava@example.com")
    assert (await web.client.get("/api/reports/sla", headers=web.auth(agent))).status == 403
    bad = await web.client.get("/api/reports/sla", params={"since": "yesterday"},
                               headers=web.auth())
    assert bad.status == 400 and "since" in (await bad.json())["errors"]
    today = utcnow().date().isoformat()
    one_day = await (await web.client.get("/api/reports/sla", params={"from": today, "to": today},
                                          headers=web.auth())).json()
    assert {(r["group"], r["key"]): r for r in one_day["rows"]}[("all", "all")][
        "conversations"] == 2  # From = To: that one day, both ends included
    twin = await web.client.get("/api/reports/sla.csv", params={"from": today, "to": today},
                                headers=web.auth())
    assert twin.status == 200 and twin.headers["Content-Type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(await twin.text())))
    assert [(r["group"], r["key"], r["conversations"]) for r in lines] == \
        [(r["group"], r["key"], str(r["conversations"])) for r in one_day["rows"]]
    assert (await web.client.get("/api/reports/sla.csv", headers=web.auth(agent))).status == 403
    assert (overall["next_answered"], overall["next_met"], overall["next_compliance"]) == (
        0, 0, None)  # nobody wrote again: no next response yet
    assert "next_p90" in lines[0]
    html = await (await web.client.get("/reports", headers=web.auth())).text()
    assert "Next responses" in html

    page = await web.client.get("/api/conversations", params={"order": "sideways"},
                                headers=web.auth())
    assert page.status == 400
    for name in ("status", "channel"):
        page = await web.client.get("/api/conversations", params={name: "sideways"},
                                    headers=web.auth())
        assert page.status == 400 and "must be one of" in (await page.json())["errors"][name]
    fine = await web.client.get("/api/conversations", params={"status": "open",
                                                              "channel": "webform"},
                                headers=web.auth())
    assert {c["id"] for c in (await fine.json())["conversations"]} == {first, second}


async def test_a_pending_conversation_shows_its_resolution_clock_paused(web: Web) -> None:
    ref = await posted(web, {**FORM, "idempotency_key": "p1"})
    pending = await web.client.post(f"/api/conversations/{ref}/status",
                                    json={"status": "pending"}, headers=web.auth())
    assert pending.status == 200
    page = await (await web.client.get(f"/conversations/{ref}", headers=web.auth())).text()
    assert "Resolution clock paused since" in page
    queue = await (await web.client.get("/inbox?view=all&status=pending",
                                        headers=web.auth())).text()
    assert "resolution paused" in queue  # the Pending view marks it too
    await web.client.post(f"/api/conversations/{ref}/status", json={"status": "resolved"},
                          headers=web.auth())
    page = await (await web.client.get(f"/conversations/{ref}", headers=web.auth())).text()
    assert "Resolution clock paused" not in page
    conv = await web.runtime.store.get_conversation(ref)
    assert conv.pending_since is None and conv.resolution_seconds is not None


async def test_a_reply_to_a_customer_who_wrote_again_counts_as_a_next_response(
        web: Web) -> None:
    ann = (IdentityRef("email", "ann@example.com", "Ann"),)

    async def wrote(ext: str, text: str) -> str:
        found = await web.runtime.ingestor.ingest([inbound(
            ext, text, channel="webform", authors=ann, when=utcnow(),
            thread_keys=("form:ann-bill",))])
        return found.stored[0].conversation_id

    vid = await wrote("f1", "my bill is wrong")
    for text in ("Looking into it", "Fixed"):
        sent = await web.client.post(f"/api/conversations/{vid}/reply",
                                     json={"text": text, "confirm": True}, headers=web.auth())
        assert sent.status == 201
        if text == "Looking into it":
            assert await wrote("f2", "still wrong") == vid
            waiting = await web.runtime.store.get_conversation(vid)
            assert waiting.due_basis is not None and "next replies" in waiting.due_basis
    report = await (await web.client.get("/api/reports/sla", headers=web.auth())).json()
    overall = next(r for r in report["rows"] if r["group"] == "all")
    assert (overall["answered"], overall["next_answered"], overall["next_met"]) == (1, 1, 1)
    assert overall["next_compliance"] == 1.0 and overall["next_p50"] is not None
    html = await (await web.client.get("/reports", headers=web.auth())).text()
    link = next(h for h in re.findall(r'href="(/reports/conversations\?[^"]+)"', html)
                if "group=all" in h and "response=next" in h and "next_missed" not in h)
    listed = await (await web.client.get(link.replace("&amp;", "&"), headers=web.auth())).text()
    assert f"/conversations/{vid}" in listed
    csv_link = re.search(r'href="(/api/reports/conversations\.csv\?[^"]+)"', listed)
    assert csv_link
    got = await web.client.get(csv_link[1].replace("&amp;", "&"), headers=web.auth())
    rows = list(csv.DictReader(io.StringIO(await got.text())))
    assert [r["id"] for r in rows] == [vid]
    assert float(rows[0]["next_response_seconds"]) == overall["next_p50"]


async def test_every_page_renders_the_demo_month(tmp_path: Path) -> None:
    """Smoke: seeded demo data of every channel through every page, as an admin."""
    from inbox.app.demo.seed import seed

    async for web in make_web(tmp_path):
        summary = await seed(web.runtime, days=4)
        await web.client.post("/login", data={"email": "admin@northwind.example",
                                              "password": summary.password})
        convs = (await web.runtime.store.list_conversations(ConversationFilter(), None,
                                                            200)).items
        by_channel = {c.channel: c for c in convs}
        assert set(by_channel) == {"email", "x", "webform"}
        paths = ["/inbox", "/inbox?status=listening", "/inbox?order=due", "/reports",
                 "/search?q=refund", "/search?q=channel:x%20sentiment:negative",
                 "/voc", "/voc?q=channel:x&interval=week", "/voc?q=channel:fax"]
        for conv in by_channel.values():
            paths += [f"/conversations/{conv.id}", f"/customers/{conv.customer_id}"]
        for path in paths:
            resp = await web.client.get(path)
            assert resp.status == 200, path
            assert "Traceback" not in await resp.text()
        chart = await web.client.get("/voc/volume.svg?q=sentiment:negative&interval=day")
        svg = await chart.text()
        assert chart.headers["Content-Type"] == "image/svg+xml" and "<svg" in svg
        policy = chart.headers["Content-Security-Policy"]  # pygal's own script never runs
        assert policy.startswith("default-src 'none'") and "script-src" not in policy
        voc = await (await web.client.get("/api/voc", params={"q": "channel:email"})).json()
        assert voc["total"] > 0 and len(voc["volume"]) >= 4 and voc["trending"]
        found = await web.runtime.store.search(parse("channel:x"), None, 200)
        dm = next(m for m in found.messages if m.meta.get("kind") == "dm")
        page = await (await web.client.get(f"/conversations/{dm.conversation_id}")).text()
        assert "direct message" in page


async def test_reply_can_set_the_status(web: Web) -> None:
    ref = await posted(web, FORM)
    url = f"/api/conversations/{ref}/reply"
    bad = await web.client.post(url, json={"text": "x", "status": "closed", "confirm": True},
                                headers=web.auth())
    assert bad.status == 400 and "status" in (await bad.json())["errors"]
    ok = await web.client.post(url, json={"text": "Anything else?", "status": "pending",
                                          "idempotency_key": "p1", "version": 1},
                               headers=web.auth())
    assert ok.status == 201
    assert (await web.runtime.store.get_conversation(ref)).status == "pending"
    done = await web.client.post(url, json={"text": "Fixed, closing this.", "status": "resolved",
                                            "idempotency_key": "p2", "confirm": True},
                                 headers=web.auth())
    assert done.status == 201
    conv = await web.runtime.store.get_conversation(ref)
    assert conv.status == "resolved" and conv.resolved_at is not None
    assert conv.resolution_seconds is not None and conv.due_at is None
    report = await (await web.client.get("/api/reports/sla", headers=web.auth())).json()
    assert report["rows"][0]["resolved"] == 1


async def test_merge_and_undo_through_the_api(web: Web) -> None:
    one = await posted(web, FORM)
    two = await posted(web, {**FORM, "email": "ann.work@example.com", "idempotency_key": "m2"})
    first = (await web.runtime.store.get_conversation(one)).customer_id
    second = (await web.runtime.store.get_conversation(two)).customer_id
    url = f"/api/customers/{first}"
    merged = await web.client.post(f"{url}/merge", json={"customer": "ann.work@example.com"},
                                   headers=web.auth())
    record = (await merged.json())["merge"]
    assert merged.status == 201 and record["merged"] == second
    detail = await (await web.client.get(url, headers=web.auth())).json()
    assert {c["id"] for c in detail["conversations"]} == {one, two}
    assert [m["id"] for m in detail["merges"]] == [record["id"]]
    marketing = await auth.create_token(web.runtime.store, "mark@example.com")
    denied = await web.client.post(f"{url}/merges/{record['id']}/undo",
                                   headers=web.auth(marketing))
    assert denied.status == 403
    undone = await web.client.post(f"{url}/merges/{record['id']}/undo", headers=web.auth())
    assert undone.status == 200 and (await undone.json())["merge"]["undone_at"]
    again = await web.client.post(f"{url}/merges/{record['id']}/undo", headers=web.auth())
    assert again.status == 409 and "already undone" in (await again.json())["error"]
    missing = await web.client.post(f"{url}/merge", json={"customer": "nobody@example.com"},
                                    headers=web.auth())
    assert missing.status == 404
    assert (await web.runtime.store.get_conversation(two)).customer_id == second


async def test_search_results_export_as_csv_without_formulas(web: Web) -> None:
    import csv

    await post_form(web, {**FORM, "message": "=HYPERLINK(\"http://evil\") bill",
                          "idempotency_key": "c1"})
    await post_form(web, {**FORM, "message": "second bill, with, commas\nand lines",
                          "idempotency_key": "c2"})
    from dataclasses import replace as _replace

    from inbox.store import WriteBatch

    newest = (await web.runtime.store.search(None, None, 1)).messages[0]
    await web.runtime.store.restore(WriteBatch(messages=(_replace(
        newest, sentiment="negative", sentiment_score=-0.52),)))
    resp = await web.client.get("/api/search/export.csv", params={"q": "bill"},
                                headers=web.auth())
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert rows[0]["sentiment_score"] == "-0.52"  # a number, not a guarded formula
    assert [r["text"] for r in rows] == ["second bill, with, commas\nand lines",
                                         "'=HYPERLINK(\"http://evil\") bill"]
    assert rows[0]["channel"] == "webform" and rows[0]["author"] == "Ann Example"
    bad = await web.client.get("/api/search/export.csv", params={"q": "("},
                               headers=web.auth())
    assert bad.status == 400


async def test_marketing_starts_in_the_voice_of_the_customer(web: Web) -> None:
    resp = await web.client.post("/login", data={"email": "mark@example.com",
                                                  "password": "correct horse battery"},
                                 allow_redirects=False)
    assert resp.headers["Location"] == "/voc"
    page = await (await web.client.get("/")).text()
    assert "Voice of the customer" in page and 'href="/inbox?status=open"' not in page


async def test_a_body_sent_in_pieces_is_read_whole(web: Web) -> None:
    import asyncio

    async def slow_body() -> Any:
        yield b"name=Ann&email=ann%40example.com&message=" + b"x" * 1000
        await asyncio.sleep(0.3)
        yield b"y" * 4000

    resp = await web.client.post("/forms/contact", data=slow_body(),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 200
    (msg,) = (await web.runtime.store.search(None, None, 5)).messages
    assert len(msg.text) == 5000


@pytest.mark.parametrize("target", ["//evil.example", "/\t/evil.example", "/\n/evil.example",
                                    "https://evil.example/", "/\\evil.example", " /x"])
async def test_sign_in_never_redirects_off_site(web: Web, target: str) -> None:
    resp = await web.client.post("/login", data={"email": "admin@example.com",
                                                  "password": "correct horse battery",
                                                  "next": target}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/inbox"


async def test_idempotency_keys_belong_to_their_sender(web: Web) -> None:
    first = await (await post_form(web, {**FORM, "idempotency_key": "order-1"})).json()
    other = await (await post_form(web, {**FORM, "email": "bob@example.com",
                                         "message": "Bob's own problem",
                                         "idempotency_key": "order-1"})).json()
    assert other["reference"] != first["reference"] and await web.count() == 2


async def test_a_rejected_reply_leaves_the_clock_running(web: Web) -> None:
    ref = await posted(web, FORM)
    due = (await web.runtime.store.get_conversation(ref)).due_at
    web.sender.reject_next = 1
    resp = await web.client.post(f"/api/conversations/{ref}/reply",
                                 json={"text": "Hi", "confirm": True}, headers=web.auth())
    assert (await resp.json())["message"]["delivery"] == "rejected"
    conv = await web.runtime.store.get_conversation(ref)
    assert conv.due_at == due and conv.first_response_at is None


async def test_search_by_assignee_email(web: Web) -> None:
    ref = await posted(web, FORM)
    await web.client.post(f"/api/conversations/{ref}/assign",
                          json={"assignee": "ava@example.com"}, headers=web.auth())
    found = await (await web.client.get("/api/search", params={"q": "assignee:ava@example.com"},
                                        headers=web.auth())).json()
    assert found["total"] == 1
    unknown = await web.client.get("/api/search", params={"q": "bill assignee:zed@example.com"},
                                   headers=web.auth())
    assert unknown.status == 400 and (await unknown.json())["position"] == 14


async def test_the_tables_of_now_have_json_and_csv_twins(web: Web) -> None:
    """The backlog, what breaches next and what customers are told now: each table of the
    report page as JSON and as CSV, for managers only."""
    waiting = await posted(web, {**FORM, "idempotency_key": "n1"})
    got = {}
    for name in ("backlog", "due", "told"):
        body = await (await web.client.get(f"/api/reports/{name}", headers=web.auth())).json()
        twin = await web.client.get(f"/api/reports/{name}.csv", headers=web.auth())
        assert twin.status == 200 and twin.headers["Content-Type"].startswith("text/csv")
        lines = list(csv.DictReader(io.StringIO(await twin.text())))
        assert len(lines) == len(body["rows"]) and body["at"]
        got[name] = body["rows"]
    webform = {r["channel"]: r for r in got["backlog"]}["webform"]
    assert webform["under 1 h"] == 1 and sum(v for k, v in webform.items() if k != "channel") == 1
    assert [r["id"] for r in got["due"]] == [waiting]
    assert "Web form" in got["due"][0]["why"]
    told = {r["channel"]: r for r in got["told"]}
    assert set(told) == {"email", "x", "webform"}
    # nothing answered lately: too few to tell, so customers are told their deadline
    assert told["webform"]["told"] == told["webform"]["deadline"] is not None
    assert told["webform"]["recent_p90"] is None
    html = await (await web.client.get("/reports", headers=web.auth())).text()
    assert "What customers are told now" in html
    agent = await auth.create_token(web.runtime.store, "ava@example.com")
    for name in ("backlog", "due.csv", "told"):
        assert (await web.client.get(f"/api/reports/{name}", headers=web.auth(agent))
                ).status == 403


async def test_the_report_page_keeps_its_days_on_every_show(web: Web) -> None:
    """The form shows both days included and sends them so: showing again keeps them."""
    url = "/reports?from=2026-11-02&to=2026-11-08"
    for _ in range(3):
        html = await (await web.client.get(url, headers=web.auth())).text()
        start = re.search(r'name="from" value="([0-9-]+)"', html)
        end = re.search(r'name="to" value="([0-9-]+)"', html)
        assert start and end and (start[1], end[1]) == ("2026-11-02", "2026-11-08")
        url = f"/reports?from={start[1]}&to={end[1]}"
    html = await (await web.client.get("/reports?from=2026-11-05&to=2026-11-05",
                                       headers=web.auth())).text()
    assert 'name="to" value="2026-11-05"' in html  # one day, not a 400
    bad = await web.client.get("/reports?from=2026-11-05&to=2026-11-04", headers=web.auth())
    assert bad.status == 400
    chart = await web.client.get("/reports/sla.svg?measure=p90&from=2026-11-02&to=2026-11-08",
                                 headers=web.auth())
    assert chart.status == 200 and chart.content_type == "image/svg+xml"
    assert "default-src 'none'" in chart.headers["Content-Security-Policy"]
    assert (await chart.text()).lstrip().startswith("<?xml")
    assert (await web.client.get("/reports/sla.svg?measure=mood",
                                 headers=web.auth())).status == 400
    html = await (await web.client.get("/reports", headers=web.auth())).text()
    assert ">Today</a>" in html and ">This quarter</a>" in html and "/reports/sla.svg" in html


async def test_a_report_number_leads_to_its_conversations_and_their_csv(web: Web) -> None:
    first = await posted(web, {**FORM, "idempotency_key": "d1"})
    second = await posted(web, {**FORM, "idempotency_key": "d2"})
    await web.client.post(f"/api/conversations/{first}/reply",
                          json={"text": "Done", "confirm": True}, headers=web.auth())
    today = utcnow().date().isoformat()
    html = await (await web.client.get(f"/reports?from={today}&to={today}",
                                       headers=web.auth())).text()
    links = re.findall(r'href="(/reports/conversations\?[^"]+)"', html)
    answered = next(h for h in links if "group=channel" in h and "response=answered" in h)
    page = await web.client.get(answered.replace("&amp;", "&"), headers=web.auth())
    assert page.status == 200
    text = await page.text()
    assert f"/conversations/{first}" in text and f"/conversations/{second}" not in text
    everyone = next(h for h in links if "group=all" in h and "response" not in h)
    text = await (await web.client.get(everyone.replace("&amp;", "&"),
                                       headers=web.auth())).text()
    assert f"/conversations/{first}" in text and f"/conversations/{second}" in text
    csv_link = re.search(r'href="(/api/reports/conversations\.csv\?[^"]+)"', text)
    assert csv_link
    got = await web.client.get(csv_link[1].replace("&amp;", "&"), headers=web.auth())
    rows = list(csv.DictReader(io.StringIO(await got.text())))
    assert sorted(r["id"] for r in rows) == sorted([first, second])
    assert {r["channel"] for r in rows} == {"webform"}
    for bad_args in ("group=planet", "report=weather", "report=backlog&age=6",
                     "report=backlog&channel=fax", "report=backlog&at=noon",
                     "report=csat&measure=mood", "report=csat&group=planet"):
        bad = await web.client.get("/reports/conversations?" + bad_args, headers=web.auth())
        assert bad.status == 400, bad_args
    waiting = re.search(r'href="(/reports/conversations\?report=backlog[^"]+channel=webform'
                        r'[^"]+age=0)"', html)
    assert waiting  # both wait under an hour; the first was answered
    text = await (await web.client.get(waiting[1].replace("&amp;", "&"),
                                       headers=web.auth())).text()
    assert "<h1>Web form conversations waiting under 1 h, as of " in text
    assert f"/conversations/{second}" in text and f"/conversations/{first}" not in text
    agent = await auth.create_token(web.runtime.store, "ava@example.com")
    denied = await web.client.get("/api/reports/conversations.csv", headers=web.auth(agent))
    assert denied.status == 403
    backlog = await web.client.get("/reports/backlog.svg", headers=web.auth())
    assert backlog.status == 200 and backlog.content_type == "image/svg+xml"
    assert "Backlog by age" in html


async def test_the_report_counts_customer_hours_first_contacts_and_journeys(web: Web) -> None:
    """Two web-form customers today: the heat map holds both messages in the team's zone,
    the resolved one counts as resolved at the first contact, with its journey time; the
    page shows the three, and each JSON report has its CSV twin."""
    first = await posted(web, {**FORM, "idempotency_key": "h1"})
    await posted(web, {**FORM, "email": "bo@example.com", "idempotency_key": "h2"})
    resolved = await web.client.post(f"/api/conversations/{first}/status",
                                     json={"status": "resolved"}, headers=web.auth())
    assert resolved.status == 200
    now = utcnow()  # the team's zone is UTC here (the SLA calendar's default)
    today = now.date().isoformat()
    args = f"?from={today}&to={today}"
    heat = await (await web.client.get("/api/reports/heatmap" + args, headers=web.auth())).json()
    assert len(heat["rows"]) == 7 * 24 and sum(r["messages"] for r in heat["rows"]) == 2
    assert heat["zone"] == "UTC"
    cell = next(r for r in heat["rows"] if r["hour"] == now.hour
                and r["weekday"] == now.strftime("%A"))
    assert cell["messages"] >= 1  # both, unless an hour began between the two posts
    got = await web.client.get("/api/reports/heatmap.csv" + args, headers=web.auth())
    rows = list(csv.DictReader(io.StringIO(await got.text())))
    assert len(rows) == 168 and sum(int(r["messages"]) for r in rows) == 2
    fcr = await (await web.client.get("/api/reports/fcr" + args, headers=web.auth())).json()
    assert fcr["rows"][0] == {"group": "all", "key": "all", "resolved": 1, "first_contact": 1,
                              "rate": 1.0}
    journeys = list(csv.DictReader(io.StringIO(await (await web.client.get(
        "/api/reports/journeys.csv" + args, headers=web.auth())).text())))
    assert [(r["channel"], r["journeys"]) for r in journeys] == [("all", "1"), ("webform", "1")]
    html = await (await web.client.get("/reports" + args, headers=web.auth())).text()
    for title in ("First-contact resolution", "Journey time",
                  "Customer messages by hour of the week"):
        assert f"<h2>{title}</h2>" in html
    assert html.count('<td class="heat-') == 168 and 'class="heat-5"' in html
    resolved_link = re.search(r'href="(/reports/conversations\?[^"]+group=all[^"]+'
                              r'response=resolved)"', html)
    assert resolved_link
    text = await (await web.client.get(resolved_link[1].replace("&amp;", "&"),
                                       headers=web.auth())).text()
    assert f"/conversations/{first}" in text and text.count('href="/conversations/') == 1
    for report, heading in (("fcr", "Conversations resolved at the first contact (no repeat "
                                    "contact within 7 days)"),
                            ("journeys", "First contacts whose whole journey is resolved")):
        link = re.search(rf'href="(/reports/conversations\?report={report}&amp;[^"]+'
                         r'key=all)"', html)
        assert link, report
        text = await (await web.client.get(link[1].replace("&amp;", "&"),
                                           headers=web.auth())).text()
        assert f"<h1>{heading}, created {today}" in text
        assert f"/conversations/{first}" in text and text.count('href="/conversations/') == 1
        got = await web.client.get("/api/reports/conversations.csv",
                                   params={"report": report, "from": today, "to": today},
                                   headers=web.auth())
        assert [r["id"] for r in csv.DictReader(io.StringIO(await got.text()))] == [first]
    hour_links = re.findall(r'href="(/reports/messages\?[^"]+)"', html)
    listed = 0
    for link in hour_links:  # the cells with messages: both messages, one or two cells
        text = await (await web.client.get(link.replace("&amp;", "&"), headers=web.auth())
                      ).text()
        assert "<h1>Customer messages on " in text
        listed += text.count('href="/conversations/')
        csv_link = re.search(r'href="(/api/reports/messages\.csv\?[^"]+)"', text)
        assert csv_link
        got = await web.client.get(csv_link[1].replace("&amp;", "&"), headers=web.auth())
        rows = list(csv.DictReader(io.StringIO(await got.text())))
        assert {r["channel"] for r in rows} == {"webform"} and rows[0]["direction"] == "inbound"
    assert listed == 2 and 1 <= len(hour_links) <= 2
    for bad_args in ("report=fcr&group=day", "report=journeys&key=fax", "report=fcr&cursor=x"):
        bad = await web.client.get("/reports/conversations?" + bad_args, headers=web.auth())
        assert bad.status == 400, bad_args
    for bad_args in ("weekday=7&hour=1", "weekday=x", "weekday=1&hour=24",
                     "weekday=1&hour=1&from=2020-01-01&to=2026-01-01"):
        bad = await web.client.get("/reports/messages?" + bad_args, headers=web.auth())
        assert bad.status == 400, bad_args
    agent = await auth.create_token(web.runtime.store, "ava@example.com")
    assert (await web.client.get("/api/reports/heatmap.csv", headers=web.auth(agent))
            ).status == 403
    assert (await web.client.get("/api/reports/messages.csv?weekday=1&hour=1",
                                 headers=web.auth(agent))).status == 403
