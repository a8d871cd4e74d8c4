"""/api/events over HTTP: ids on every event, resuming after Last-Event-ID, resync."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.factories import inbound
from tests.integration.test_web import Web, make_web

pytestmark = pytest.mark.integration


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[Web]:
    async for w in make_web(tmp_path):
        yield w


async def next_event(resp: Any) -> dict[str, str]:
    """The next event of a text/event-stream (comments and retry lines skipped)."""
    fields: dict[str, str] = {}
    while True:
        line = (await resp.content.readline()).decode().rstrip("\n")
        if not line:
            if "event" in fields:
                return fields
            continue
        name, _, value = line.partition(": ")
        if name in ("id", "event", "data"):
            fields[name] = value


async def test_a_reconnect_resumes_after_the_last_event_it_saw(web: Web) -> None:
    bus = web.runtime.events
    seen = bus.last_id
    await web.runtime.ingest([inbound("<a@x>"), inbound("<b@x>", subject="other")])
    async with web.client.get("/api/events", headers={**web.auth(), "Last-Event-ID": seen},
                              timeout=None) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        first, second = await next_event(resp), await next_event(resp)
        assert first["event"] == second["event"] == "message.created"
        assert first["id"] < second["id"] == bus.last_id
        assert json.loads(second["data"])["id"] == second["id"]
        await web.runtime.ingest([inbound("<c@x>", subject="third")])  # and then live
        assert (await next_event(resp))["id"] == bus.last_id
    async with web.client.get("/api/events", params={"after": first["id"]},
                              headers=web.auth()) as resp:  # a page's first connection
        assert (await next_event(resp))["id"] == second["id"]


@pytest.mark.parametrize("last_id", ["0-0", "nonsense", "x" * 5000, "٣-1", "-", "1-"])
async def test_an_unknown_last_event_id_asks_for_a_resync(web: Web, last_id: str) -> None:
    as_header = {"Last-Event-ID": last_id} if last_id.isascii() else {}  # HTTP: latin-1 only
    for how in ({"headers": {**web.auth(), **as_header}} if as_header else {},
                {"headers": web.auth(), "params": {"after": last_id}}):
        if not how:
            continue
        async with web.client.get("/api/events", timeout=None, **how) as resp:
            assert resp.status == 200
            event = await next_event(resp)
        assert event["event"] == "resync" and event["id"] == web.runtime.events.last_id
