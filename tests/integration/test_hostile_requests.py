"""Malformed requests get a clear 4xx, never a 5xx; headers on every response; streams that
end early end cleanly."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import csv
import html
import io
import json
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import aiohttp
import pytest
from aiohttp.web_runner import TCPSite
from yarl import URL

from inbox.model import Event, Role
from inbox.query import MAX_DEPTH, MAX_LENGTH, MAX_TERMS
from tests.factories import inbound
from tests.integration.web_support import RoleWeb, start_web
from web import api
from web.api import EXPORT_FAILED, csv_cell
from web.app import runner as web_runner

pytestmark = pytest.mark.integration


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[RoleWeb]:
    async for w in start_web(db=f"{tmp_path}/inbox.db", env={"INBOX_FORM_RATE_LIMIT": "1000"}):
        yield w


def b64(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode()


async def problem(web: RoleWeb, method: str, path: str, *, params: dict[str, str] | None = None,
                  data: str | None = None) -> dict[str, Any]:
    """The JSON error of a request that must be a 4xx."""
    path = path.replace("{conv}", web.ids["conversation"]).replace("{cust}",
                                                                     web.ids["customer"])
    resp = await web.client.request(method, path, params=params, data=data,
                                    headers={**web.auth(Role.ADMIN),
                                             "Content-Type": "application/json"})
    assert 400 <= resp.status < 500, (resp.status, await resp.text())
    body: dict[str, Any] = await resp.json()
    assert body["error"]
    return body


BAD_QUERIES = [  # (query, position of the problem, words of the problem)
    ("refund\x00", 6, "U+0000"),
    ("(" * 28 + "a" + ")" * 28, MAX_DEPTH, "nested too deeply"),
    ("-" * 41 + "a", MAX_DEPTH, "nested too deeply"),
    (" ".join(["w"] * 60), 100, "too many terms"),
]


@pytest.mark.parametrize("path", ["/api/search", "/api/voc", "/api/search/export.csv"])
async def test_bad_queries_are_400_with_the_position(web: RoleWeb, path: str) -> None:
    for q, position, words in BAD_QUERIES:
        body = await problem(web, "GET", path, params={"q": q})
        assert body["position"] == position and words in body["problem"], q


HOSTILE_QUERIES = [  # (?q= as sent, percent-encoded; position of the problem; its words)
    (quote_plus("refund " * 1500), MAX_LENGTH, "too long"),  # 10,500 characters
    (quote_plus("(" * 5000 + "a" + ")" * 5000), MAX_LENGTH, "too long"),
    (quote_plus(" OR ".join(["a"] * 3000)), MAX_LENGTH, "too long"),
    (quote_plus(" OR ".join(["a"] * 399)), 5 * MAX_TERMS, "too many terms"),
    (quote_plus("(" * 1000 + "a" + ")" * 999), MAX_DEPTH, "nested too deeply"),
    (quote_plus("NOT " * 499 + "a"), 4 * MAX_DEPTH, "nested too deeply"),
    (quote_plus("Re: refund AND"), 11, "nothing after AND"),
    ("Re%3A+refund%00", 10, "U+0000"),
    ("Re%3A+%ED%A0%80", 4, "not UTF-8"),  # a lone surrogate, as UTF-8 would write it
    ("refund+%FF", 7, "not UTF-8"),
]


async def test_hostile_queries_are_a_400_with_the_position_on_every_search(
        web: RoleWeb) -> None:
    """As `inbox serve` serves them (long request lines included); the pages show the
    problem and its position in the form."""
    async with served(web) as port, aiohttp.ClientSession() as session:
        for q, position, words in HOSTILE_QUERIES:
            for path in ("/api/search", "/api/voc", "/api/search/export.csv",
                         "/voc/volume.svg", "/search", "/voc"):
                url = URL(f"http://127.0.0.1:{port}{path}?q={q}", encoded=True)
                resp = await session.get(url, headers=web.auth(Role.ADMIN))
                if path.startswith("/api"):
                    assert resp.status == 400, (path, q[:30], resp.status)
                    body = await resp.json()
                    assert (body["position"], words in body["problem"]) == (position, True)
                    continue
                text = html.unescape(await resp.text())
                # the chart (an <img>) is a 400 page; the pages show the problem in the form
                assert resp.status == (400 if path.endswith(".svg") else 200), (path, q[:30])
                assert f"at position {position}" in text and words in text, (path, q[:30])


BAD_PARAMETERS = [  # (path, parameters, the parameter the error names)
    ("/api/search", {"limit": "²"}, "limit"),
    ("/api/search", {"limit": "٣"}, "limit"),
    ("/api/conversations", {"limit": "1" * 30}, "limit"),
    ("/api/reports/sla", {"since": "²⁰²⁶-01-01"}, "since"),
    ("/api/reports/sla", {"since": "0001-01-01"}, "since"),
    ("/api/reports/sla", {"until": "9999-12-31"}, "until"),
    ("/api/conversations", {"status": "open\x00"}, "status"),
    ("/api/conversations", {"customer": "\x1b[31m"}, "customer"),
]


async def test_bad_parameters_are_400_naming_the_parameter(web: RoleWeb) -> None:
    for path, params, field in BAD_PARAMETERS:
        body = await problem(web, "GET", path, params=params)
        assert field in body["errors"], (path, params)
    resp = await web.client.get(f"/attachments/{web.ids['message']}/²",
                                headers=web.auth(Role.AGENT))
    assert resp.status == 400 and "whole number" in await resp.text()


BAD_BODIES = [  # (JSON body, words of the error)
    ("[" * 30_000, "nests more than"),
    ('{"text": ' + "[" * 30 + "]" * 30 + "}", "nests more than"),
    ('{"text": "\\ud800 hello"}', "lone surrogate"),
    ('{"text": "a", "\\udfff": 1}', "lone surrogate"),
    ('{"version": 1' + "0" * 5000 + "}", "not valid JSON"),
    ("\xff\xfe", "not valid"),
    ("[1, 2]", "JSON object"),
]


@pytest.mark.parametrize("path", ["/api/conversations/{conv}/notes", "/api/forms/contact"])
async def test_bad_json_bodies_are_400(web: RoleWeb, path: str) -> None:
    for data, words in BAD_BODIES:
        body = await problem(web, "POST", path, data=data)
        assert words in body["errors"]["body"], data[:40]
    for version in ["1e999", "100000000000000000000000000000", "0", "true"]:
        body = await problem(web, "POST", "/api/conversations/{conv}/status",
                             data=f'{{"status": "resolved", "version": {version}}}')
        assert "version" in body["errors"]


BAD_CURSORS = ["!!!", "%%%", "é", b64([{"a": 1}, 2]), b64(["\x00", "x"]), b64([1e308, "x"]),
               b64({"a": [{"x": 1}]}), b64({"a": ["x", "y"], "p": 5}), b64({"a": [True]}),
               b64({"a": ["2026-01-01", "not-a-number"], "p": "no-such-pit"}),
               b64(b"[" * 5000), "A" * 5000, b64({"a": [2**80]}), b64(["\udfff", "x"])]


@pytest.mark.parametrize("path", ["/api/search", "/api/conversations", "/api/customers/{cust}"])
async def test_bad_cursors_are_400_on_every_store(any_web: RoleWeb, path: str) -> None:
    for cursor in BAD_CURSORS:
        body = await problem(any_web, "GET", path, params={"cursor": cursor})
        assert "cursor" in body["error"], cursor


# --- headers ------------------------------------------------------------------------------

SECURITY = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options",
            "Referrer-Policy")


async def test_security_headers_on_every_kind_of_response(web: RoleWeb) -> None:
    await web.sign_in(Role.AGENT)
    responses = {
        "404": await web.client.get("/no/such/page"),
        "api 404": await web.client.get("/api/nothing"),
        "405": await web.client.delete("/api/search"),
        "csrf 403": await web.client.post(f"/conversations/{web.ids['conversation']}/note",
                                          data={"text": "no token"}),
        "static": await web.client.get("/static/app.css"),
        "login": await web.client.get("/login"),
        "page": await web.client.get("/inbox"),
        "api": await web.client.get("/api/me"),
        "form": await web.client.get("/forms/contact"),
    }
    assert responses["csrf 403"].status == 403 and responses["405"].status == 405
    for name, resp in responses.items():
        missing = [h for h in SECURITY if h not in resp.headers]
        assert missing == [], name
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    for name in ("page", "api", "login"):
        assert responses[name].headers["Cache-Control"] == "no-store", name
    assert "no-store" not in responses["static"].headers.get("Cache-Control", "")


@pytest.mark.parametrize("publish", [True, False])  # the next write: an event, a keep-alive
async def test_a_closed_live_stream_is_no_error(web: RoleWeb, caplog: pytest.LogCaptureFixture,
                                                monkeypatch: pytest.MonkeyPatch,
                                                publish: bool) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(api, "LIVE_KEEPALIVE", 0.01 if not publish else 3600)
    async with served(web) as port, aiohttp.ClientSession() as session:
        resp = await session.get(f"http://127.0.0.1:{port}/api/events",
                                 headers=web.auth(Role.AGENT))
        assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
        resp.close()
        await wait_until_unsubscribed(web, publish)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


@contextlib.asynccontextmanager
async def served(web: RoleWeb) -> AsyncIterator[int]:
    """The app served as `inbox serve` serves it (the test server hides some failures)."""
    runner = web_runner(web.runtime.web_context())
    await runner.setup()
    await TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def test_long_and_malformed_request_lines_are_a_clear_400(
        web: RoleWeb, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with served(web) as port, aiohttp.ClientSession() as session:
        long_query = "refund " * 3000  # 21 KB: past aiohttp's default 8 KB request line
        resp = await session.get(f"http://127.0.0.1:{port}/api/search",
                                 params={"q": long_query}, headers=web.auth(Role.AGENT))
        assert resp.status == 400 and "at most" in (await resp.json())["error"]
        assert "Content-Security-Policy" in resp.headers
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        assert (await reader.readline()).split()[1] == b"400"
        writer.close()
        await writer.wait_closed()
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert any("malformed HTTP request refused" in r.getMessage() for r in caplog.records)


async def wait_until_unsubscribed(web: RoleWeb, publish: bool) -> None:
    bus = web.runtime.events
    for _ in range(1000):  # the server notices when it next writes
        if not bus._subscribers:
            break
        if publish:
            bus.publish(Event("conversation.updated", conversation_id="v1"))
        await asyncio.sleep(0.01)
    assert not bus._subscribers


# --- CSV ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "|cmd", "\t=1", "\r=1", "\n=1",
                                  " =1", " \u3000 +cmd", "＝1", "﹦1", "＋1", "－1", "＠x"])
def test_formula_like_cells_are_text(text: str) -> None:
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["refund", "", "1.5", "2026-11-01T10:00:00+00:00", "a=b"])
def test_plain_cells_are_unchanged(text: str) -> None:
    assert csv_cell(text) == text


async def test_every_text_column_of_the_export_is_formula_safe(web: RoleWeb) -> None:
    await web.runtime.ingest([inbound("<f@x>", "=HYPERLINK(\"http://evil\")",
                                      subject=" ＝cmd|' /C calc'!A0")])
    text = await (await web.client.get("/api/search/export.csv", params={"q": "hyperlink"},
                                       headers=web.auth(Role.AGENT))).text()
    header, row = list(csv.reader(io.StringIO(text)))
    assert row[header.index("text")].startswith("'=")
    assert row[header.index("subject")].startswith("'＝")  # stored without the leading space


async def test_an_export_failing_midway_ends_the_file_cleanly(
        web: RoleWeb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(api, "EXPORT_PAGE", 2)
    await web.runtime.ingest([inbound(f"<e{i}@x>", f"bill number {i}") for i in range(4)])
    with sqlite3.connect(tmp_path / "inbox.db") as conn:  # the oldest row is corrupt
        conn.execute("UPDATE messages SET attachments = 'not json' WHERE external_id = "
                     "(SELECT external_id FROM messages ORDER BY created_at, id LIMIT 1)")
    resp = await web.client.get("/api/search/export.csv", headers=web.auth(Role.AGENT))
    assert resp.status == 200
    text = await resp.text()  # a complete chunked body: the client reads it to the end
    assert "HTTP/1.1" not in text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[-1] == [EXPORT_FAILED] and len(rows) > 2
    assert any("CSV export stopped early" in r.message for r in caplog.records)


@pytest.mark.parametrize(("action", "body", "field"), [
    ("reply", {"text": 1e300}, "text"),
    ("reply", {"text": ["refund"]}, "text"),
    ("notes", {"text": {"a": 1}}, "text"),
    ("status", {"status": 3}, "status"),
    ("assign", {"text": "no assignee given"}, "assignee"),
    ("assign", {"assignee": ["me"]}, "assignee"),
    ("tags", {"tags": ["x" * 51]}, "tags"),
    ("tags", {"tags": [f"t{i}" for i in range(31)]}, "tags"),
])
async def test_wrong_types_and_sizes_in_actions_are_a_400(web: RoleWeb, action: str,
                                                         body: dict[str, Any],
                                                         field: str) -> None:
    conv = await web.runtime.ingest([inbound("<types@x>", "my bill")])
    conv_id = conv.stored[0].conversation_id
    before = await web.runtime.store.get_conversation(conv_id)
    resp = await web.client.post(f"/api/conversations/{conv_id}/{action}", json=body,
                                 headers=web.auth(Role.AGENT))
    assert resp.status == 400 and field in (await resp.json())["errors"]
    after = await web.runtime.store.get_conversation(conv_id)
    assert after.version == before.version and after.assignee == before.assignee


async def test_tags_and_agent_text_are_stored_clean(web: RoleWeb) -> None:
    conv_id = (await web.runtime.ingest([inbound("<clean@x>", "my bill")])).stored[0]\
        .conversation_id
    resp = await web.client.post(f"/api/conversations/{conv_id}/tags",
                                 json={"tags": ["Billing\u0000", "\u202eVIP", "billing"]},
                                 headers=web.auth(Role.AGENT))
    assert (await resp.json())["conversation"]["tags"] == ["billing", "vip"]
    note = await web.client.post(f"/api/conversations/{conv_id}/notes",
                                 json={"text": "call\u0007 back\u0000"},
                                 headers=web.auth(Role.AGENT))
    assert (await note.json())["message"]["text"] == "call back"


@pytest.mark.parametrize("body", [b"garbage", b"--x\r\nContent-Disposition: form-data\r\n\r\nv\r\n",
                                  b"--b\r\n\r\n"])
async def test_malformed_form_bodies_are_a_400(web: RoleWeb, caplog: pytest.LogCaptureFixture,
                                              body: bytes) -> None:
    conv_id = (await web.runtime.ingest([inbound("<form@x>", "my bill")])).stored[0]\
        .conversation_id
    for path, headers in (("/login", {}),
                          (f"/conversations/{conv_id}/note", web.auth(Role.AGENT)),
                          ("/admin/users/add", web.auth(Role.ADMIN))):
        resp = await web.client.post(path, data=body, headers={
            **headers, "Content-Type": "multipart/form-data; boundary=b"})
        assert resp.status == 400, path
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
