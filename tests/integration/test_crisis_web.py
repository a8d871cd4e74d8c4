"""The crisis view /voc/crisis over HTTP: every role that may search opens it (marketing
too, with counts and no links to conversations), it lists the spiking search with its
customers and answered conversations, and an ended one marked ended; /voc and /voc/saved
link to it."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from inbox.app.runtime import Runtime
from inbox.model import utcnow
from tests.integration.web_support import RoleWeb, start_web

pytestmark = pytest.mark.integration


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[RoleWeb]:
    async for w in start_web(db=f"{tmp_path}/inbox.db"):
        yield w


async def plant_spikes(runtime: Runtime, message_id: str) -> None:
    """"Bills" spiking since an hour before the seeded customer's message (answered) and
    "Refunds" whose spike ended 3 h ago."""
    admin = await runtime.accounts.user("admin@example.com")
    seeded = (await runtime.store.messages_by_ids([message_id]))[message_id]
    now = utcnow()
    hour = now.replace(minute=0, second=0, microsecond=0)
    bills = await runtime.saved_searches.create(admin, "Bills <b>", "bill")
    refunds = await runtime.saved_searches.create(admin, "Refunds", "refund")
    await runtime.store.spike_states.put(bills["id"], {
        "hour": (hour - timedelta(hours=1)).isoformat(), "spiking": True,
        "since": (seeded.created_at - timedelta(hours=1)).isoformat()})
    await runtime.store.spike_states.put(refunds["id"], {
        "hour": (hour - timedelta(hours=1)).isoformat(), "spiking": False, "since": None,
        "ended": {"since": (now - timedelta(hours=6)).isoformat(),
                  "until": (now - timedelta(hours=3)).isoformat()}})


async def test_every_searching_role_sees_the_spikes_with_counts(web: RoleWeb) -> None:
    c = web.client
    empty = await (await c.get("/voc/crisis", headers=web.auth("agent"))).text()
    assert "Nothing is spiking" in empty
    await plant_spikes(web.runtime, web.ids["message"])
    for role in ("agent", "manager", "admin", "marketing"):
        page = await c.get("/voc/crisis", headers=web.auth(role))
        assert page.status == 200, role
        body = await page.text()
        assert "Bills &lt;b&gt;" in body and "<b>" not in body.split("<main", 1)[-1], role
        assert "/conversations/" not in body, role  # counts, never links to conversations
        spiking, ended = body.split("Refunds", 1)
        assert "Spiking" in spiking and "1 answered, 0 waiting" in spiking, role
        assert "ended" in ended, role
        assert html.escape("/voc?q=bill&interval=day&from=") in spiking, role
    assert (await c.get("/voc/crisis", allow_redirects=False)).status in (302, 303)
    for path in ("/voc", "/voc/saved"):
        text = await (await c.get(path, headers=web.auth("marketing"))).text()
        assert 'href="/voc/crisis"' in text, path
