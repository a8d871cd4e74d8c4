"""One worker at a time: the lease in the store."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from inbox.app.config import load as load_config
from inbox.app.runtime import Runtime
from inbox.lease import Lease
from inbox.model import utcnow
from search.sqlite import SqliteStore


async def test_lease_is_exclusive_until_released_or_expired(sqlite_store: SqliteStore) -> None:
    now = [utcnow()]
    a = Lease(sqlite_store, "worker", timedelta(seconds=60), clock=lambda: now[0])
    b = Lease(sqlite_store, "worker", timedelta(seconds=60), clock=lambda: now[0])
    assert await a.acquire() and not await b.acquire()
    now[0] += timedelta(seconds=30)
    assert await a.acquire() and not await b.acquire()  # renewed
    now[0] += timedelta(seconds=61)  # a stopped renewing (crashed)
    assert await b.acquire() and not await a.acquire()
    await b.release()
    assert await a.acquire()


async def test_only_one_of_two_workers_runs_the_jobs(tmp_path: Path) -> None:
    env = {"INBOX_STORE": f"sqlite:///{tmp_path}/inbox.db", "INBOX_ENRICH": "false",
           "INBOX_WORKER_LEASE": "1"}
    first, second = (Runtime(load_config(None, env), env) for _ in range(2))
    for runtime in (first, second):
        await runtime.start()
        await runtime.start_workers()
    try:
        async with asyncio.timeout(5):
            while not (first.leader or second.leader):
                await asyncio.sleep(0.05)
        leader, other = (first, second) if first.leader else (second, first)
        await asyncio.sleep(0.5)
        assert leader.leader and not other.leader
        await leader.aclose()  # gives the lease up: the other takes over within a check
        async with asyncio.timeout(5):
            while not other.leader:
                await asyncio.sleep(0.05)
    finally:
        for runtime in (first, second):
            await runtime.aclose()
