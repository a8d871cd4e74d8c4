"""The queue's views and filters, as plain pages (what the workspace shows without JS)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from inbox import auth
from inbox.model import IdentityRef, utcnow
from inbox.store import WriteBatch
from tests.factories import inbound
from tests.integration.test_web import Web, make_web

pytestmark = pytest.mark.integration


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[Web]:
    async for w in make_web(tmp_path):
        yield w


async def rows(web: Web, query: str) -> str:
    resp = await web.client.get(f"/inbox?{query}")
    assert resp.status == 200, await resp.text()
    return await resp.text()


async def test_views_filters_and_plurals(web: Web) -> None:
    rt = web.runtime
    now = utcnow()
    stored = (await rt.ingest([inbound(f"<q{n}@x>", f"text {n}", subject=f"Case {n}",
                                       authors=(IdentityRef("email", f"q{n}@example.com"),),
                                       when=now - timedelta(minutes=n))
                               for n in range(4)])).stored
    convs = await rt.store.conversations_by_ids([m.conversation_id for m in stored])
    by_subject = {c.subject: c for c in convs.values()}
    ava = await auth.get_user(rt.store, "ava@example.com")
    assert ava
    await rt.conversations.assign(by_subject["Case 0"].id, ava.id, ava)
    await rt.conversations.set_tags(by_subject["Case 1"].id, ["refund"], ava)
    late = replace(by_subject["Case 2"], due_at=now - timedelta(hours=1))
    soon = replace(by_subject["Case 3"], due_at=now + timedelta(minutes=1),
                   awaiting_since=now - timedelta(days=30))  # most of its target gone
    await rt.store.restore(WriteBatch(conversations=(late, soon)))
    resp = await web.client.post("/login", data={"email": "ava@example.com",
                                                  "password": "correct horse battery"})
    assert resp.status == 200

    everything = await rows(web, "")
    assert everything.count('role="row" id="row-') == 4 and "1 message ·" in everything
    mine = await rows(web, "view=mine")
    assert "Case 0" in mine and "Case 1" not in mine
    unassigned = await rows(web, "view=unassigned")
    assert "Case 0" not in unassigned and "Case 1" in unassigned
    assert "Case 2" in await rows(web, "view=breached")
    assert "Case 3" not in await rows(web, "view=breached")
    at_risk = await rows(web, "view=at_risk")
    assert "Case 3" in at_risk and "Case 2" not in at_risk
    tagged = await rows(web, "tag=refund")
    assert "Case 1" in tagged and "Case 0" not in tagged
    waiting = await rows(web, "order=waiting")
    assert waiting.index("Case 3") < waiting.index("Case 0")
    opened = await (await web.client.get(f"/conversations/{by_subject['Case 1'].id}"
                                         "?view=all&tag=refund")).text()
    row = f'id="row-{by_subject["Case 1"].id}"'
    assert row in opened and "Case 0" not in opened  # the queue beside it, filtered
    assert 'aria-selected="true"' in opened.split(row)[1].split("</div>")[0]
    assert (await web.client.get("/inbox?view=nope")).status == 400
    assert (await web.client.get("/inbox?tag=" + "x" * 101)).status == 400


async def test_news_since_an_agent_opened_a_conversation_is_unread(web: Web) -> None:
    resp = await web.client.post("/login", data={"email": "ava@example.com",
                                                  "password": "correct horse battery"})
    assert resp.status == 200
    (msg,) = (await web.runtime.ingest([inbound("<new@x>", "Hello?", subject="Fresh",
                                                when=utcnow())])).stored
    row = f'id="row-{msg.conversation_id}" class="qrow'
    page = await rows(web, "")
    assert "qrow-unread" in page.split(row)[1].split(">")[0] and "Unread: " in page
    await web.client.get(f"/conversations/{msg.conversation_id}")  # ava opens it
    assert "qrow-unread" not in (await rows(web, "")).split(row)[1].split(">")[0]
