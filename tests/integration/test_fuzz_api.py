"""Fuzzing the web app (every route and method): random query strings, headers and JSON
bodies (deep nesting, lone surrogates, huge numbers, wrong types) never get a 5xx nor an
unhandled exception in the log."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inbox.model import Role
from inbox.permissions import ROUTES
from tests.integration.web_support import RoleWeb

pytestmark = pytest.mark.integration

FUZZ = settings(max_examples=250, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

PARAMS = ["q", "limit", "cursor", "since", "until", "status", "channel", "assignee", "customer",
          "order", "facets", "interval", "after", "next", "flash", "x", "view", "tag", "priority",
          "sentiment", "lang"]
FIELDS = ["text", "status", "version", "tags", "assignee", "customer", "idempotency_key",
          "name", "email", "message", "phone", "x_handle", "topic", "then", "mode", "subject",
          "cc", "priority", "tag", "action", "conversations", "into", "into_version", "later",
          "until", "timezone", "sentiment"]
SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
TEXT = st.one_of(
    st.text(max_size=20),
    st.text(st.one_of(st.characters(), SURROGATES), max_size=10),
    st.sampled_from(["", "me", "none", "open", "resolved", "²", "٣", "-1", "0", "1e9",
                     "2026-11-01", "9999-12-31", "x" * 1500, "(((((((((((((((((((((a",
                     "a\x00b", "admin@example.com", "channel:x", "eyJhIjogWzFdfQ=="]),
)
NUMBERS = st.one_of(st.integers(-10**30, 10**30), st.floats(allow_nan=True),
                    st.sampled_from([2**63, -2**63 - 1, 10**400]))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=8)


def nested(depth: int) -> bytes:
    """JSON text nesting `depth` levels: {"text": [{"text": [...]}]}."""
    opening = "".join('{"text": ' if i % 2 == 0 else "[" for i in range(depth))
    closing = "".join("}" if i % 2 == 0 else "]" for i in reversed(range(depth)))
    return (opening + '"x"' + closing).encode()


BODIES = st.one_of(
    st.one_of(st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=5),
              JSON_VALUES).map(lambda v: json.dumps(v).encode()),
    st.sampled_from([1, 19, 20, 21, 22, 200, 5000, 100_000]).map(nested),
    st.binary(max_size=40),
)


def encode(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


@st.composite
def requests(draw: st.DrawFn, ids: dict[str, str]) -> tuple[str, str, dict[str, str], bytes]:
    route = draw(st.sampled_from(ROUTES))
    path = route.path
    for name in ("id", "action", "merge", "message", "index", "slug", "name"):
        real = {"id": ids["conversation"], "message": ids["message"], "slug": "contact",
                "action": "note", "index": "0", "name": "app.css"}.get(name, "m1")
        value = draw(st.one_of(st.just(real), TEXT.filter(bool)))
        path = path.replace("{" + name + "}", encode(value))
    query = draw(st.dictionaries(st.sampled_from(PARAMS), TEXT, max_size=4))
    if query:
        path += "?" + "&".join(f"{encode(k)}={encode(v)}" for k, v in query.items())
    method = draw(st.sampled_from([route.method, route.method, "PUT", "DELETE"]))
    headers = draw(st.fixed_dictionaries({}, optional={
        "Content-Type": st.sampled_from(["application/json", "text/plain",
                                         "application/x-www-form-urlencoded"]),
        "X-CSRF-Token": st.text(st.characters(min_codepoint=33, max_codepoint=126)),
        "Authorization": st.sampled_from(["Bearer ", "Bearer nope", "Basic eA==", "bearer"]),
        "Accept": st.sampled_from(["*/*", "text/html", "application/json"]),
    }))
    return method, path, headers, draw(BODIES)


@FUZZ
@given(data=st.data(), role=st.sampled_from([None, *Role]))
async def test_no_request_gets_a_5xx(any_web: RoleWeb, caplog: pytest.LogCaptureFixture,
                                     data: st.DataObject, role: str | None) -> None:
    web = any_web
    method, path, headers, body = data.draw(requests(web.ids))
    headers = {**web.auth(role), **headers} if role else headers
    async with web.client.request(method, path, headers=headers, data=body,
                                  allow_redirects=False) as resp:
        assert resp.status < 500, (method, path, resp.status, await resp.text())
        assert "Content-Security-Policy" in resp.headers
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
