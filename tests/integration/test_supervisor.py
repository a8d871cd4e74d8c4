"""The connector supervisor: a crashing connector is restarted with backoff, never given up,
and its state, last error and dead letters show in /api/connectors and /admin/connectors."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from inbox import auth
from inbox.app.runtime import Runtime
from inbox.errors import AuthFailed
from inbox.model import Inbound
from inbox.ports import ConnectorContext, IngestResult
from inbox.supervisor import Supervisor
from tests.factories import at, inbound
from tests.fakes.core import FakeCore
from web.app import create_app

pytestmark = pytest.mark.integration


class Flaky:
    """A connector whose run() fails a few times (refused credentials, a cancellation from
    inside, a bug), then ingests one message and one it cannot parse, and waits."""

    channel = "email"

    def __init__(self, name: str = "email:flaky", failures: int = 3) -> None:
        self.name = name
        self.failures = failures
        self.runs = 0
        self.delivered = asyncio.Event()

    async def poll_once(self, ctx: ConnectorContext) -> IngestResult:
        await ctx.dead_letter(self.name, b"\xff\xfe not a mail", "unparseable")
        batch: list[Inbound] = [inbound("<ok@x>", "made it", when=at(3))]
        return await ctx.ingest(batch)

    async def run(self, ctx: ConnectorContext) -> None:
        self.runs += 1
        if self.runs == 1:
            raise AuthFailed("IMAP login refused")
        if self.runs == 2:
            raise asyncio.CancelledError  # a library task cancelled inside: not our stop
        if self.runs <= self.failures:
            raise KeyError("unexpected reply")
        await self.poll_once(ctx)
        self.delivered.set()
        await asyncio.Event().wait()

    def status(self) -> dict[str, Any]:
        return {"runs": self.runs, "folder": "INBOX"}


async def test_a_crashing_connector_restarts_until_it_runs(runtime: Runtime) -> None:
    flaky = Flaky()
    runtime.connectors.append(flaky)
    await runtime.start_workers()
    await asyncio.wait_for(flaky.delivered.wait(), 30)

    assert flaky.runs == 4
    states = {s["name"]: s for s in await runtime.status.states()}
    state = states["email:flaky"]
    assert state["state"] == "running" and state["restarts"] == 3
    assert state["last_error"] == "KeyError: 'unexpected reply'"
    assert state["status"] == {"runs": 4, "folder": "INBOX"}
    assert state["dead_letters"]["total"] == 1
    assert state["dead_letters"]["stages"] == {"parse": 1}
    assert (await runtime.store.counts())["messages"] == 1

    for email, role in (("root@example.com", "admin"), ("ava@example.com", "agent")):
        await auth.add_user(runtime.store, email, role, "correct horse battery",
                            passwords=runtime.passwords)
    admin = await auth.create_token(runtime.store, "root@example.com")
    agent = await auth.create_token(runtime.store, "ava@example.com")
    client = TestClient(TestServer(create_app(runtime.web_context()), host="127.0.0.1"))
    await client.start_server()
    try:
        resp = await client.get("/api/connectors", headers={"Authorization": f"Bearer {admin}"})
        shown = (await resp.json())["connectors"][0]
        assert shown["state"] == "running" and shown["restarts"] == 3
        assert shown["dead_letters"]["total"] == 1
        await runtime.dead_letter("webform:contact", "{}", "refused", stage="store")
        page = await client.get("/admin/connectors", headers={"Authorization": f"Bearer {admin}"})
        html = await page.text()
        assert page.status == 200 and "email:flaky" in html
        assert "KeyError: &#39;unexpected reply&#39;" in html and "parse: 1" in html
        assert "webform:contact" in html and "store: 1" in html
        assert "<td>refused</td>" in html  # the dead letter itself, listed with its stage
        refused = await client.get("/admin/connectors",
                                   headers={"Authorization": f"Bearer {agent}"})
        assert refused.status == 403
    finally:
        await client.close()


async def test_failures_are_recorded_with_reason_and_next_retry() -> None:
    flaky = Flaky(failures=10)
    waits: list[float] = []
    reached = asyncio.Event()

    async def sleep(delay: float) -> None:
        waits.append(delay)
        if len(waits) == 1:
            assert supervisor.state == "failed"  # refused credentials need a human
            assert supervisor.last_error == "AuthFailed: IMAP login refused"
            assert supervisor.next_retry is not None
        if len(waits) == 6:
            reached.set()
            await asyncio.Event().wait()

    core = FakeCore()
    supervisor = Supervisor(flaky, core.ctx(), low=1.0, high=8.0, rng=random.Random(3), sleep=sleep)
    task = asyncio.create_task(supervisor.run())
    await asyncio.wait_for(reached.wait(), 30)
    snapshot = supervisor.snapshot()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert core.batches == []  # it never ran long enough to ingest
    assert snapshot["state"] == "backing_off" and snapshot["restarts"] == 5
    assert snapshot["last_error"] == "KeyError: 'unexpected reply'"
    ceilings = [1, 2, 4, 8, 8, 8]  # doubling, capped, each jittered into [ceiling/2, ceiling]
    assert all(c / 2 <= w <= c for w, c in zip(waits, ceilings, strict=True))
    assert supervisor.snapshot()["state"] == "stopped"

