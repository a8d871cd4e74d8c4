"""The SQLite store's SLA report on an existing store (issue 10): the first report of the
process, then wall and CPU p50/p95 of the next ones, and the peak RSS.

    python -m bench.sla STORE [--agents] [--runs 20] [--until 2026-11-30T11:00:00]

--agents first gives the care conversations agent activity, as `bench.scale`'s store (built
without agents) has none, which leaves the report nothing to sort: about 65% answered by
one of 25 agents (first response long-tailed, about 15% breached), three in four of those
resolved. It rewrites the file: run it on a copy. The report covers the 30 days before
--until (default now). Reports figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import sqlite3
import statistics
import time
from datetime import UTC, datetime, timedelta

from inbox.model import parse_ts, ts
from search.sqlite import SqliteStore

AGENTS = [f"u-agent{i:02d}" for i in range(25)]
WEIGHTS = [1 + i % 5 for i in range(25)]  # some agents answer more than others


def give_agents(path: str, seed: int = 10, step: int = 20_000) -> int:
    """Answer, assign and resolve the care conversations in place; how many were changed."""
    rng = random.Random(seed)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    last, changed = 0, 0
    while care := conn.execute(
            "SELECT rowid, channel, created_at FROM conversations WHERE rowid > ? AND "
            "status != 'listening' ORDER BY rowid LIMIT ?", (last, step)).fetchall():
        conn.executemany("UPDATE conversations SET status=?, assignee=?, first_response_at=?, "
                         "first_response_seconds=?, first_response_breached=?, resolved_at=?, "
                         "resolution_seconds=? WHERE rowid=?",
                         [_activity(rng, *row) for row in care])
        last, changed = care[-1][0], changed + len(care)
    conn.execute("COMMIT")
    conn.close()
    return changed


def _activity(rng: random.Random, rowid: int, channel: str, created: str
              ) -> tuple[object, ...]:
    """A conversation's agent fields, then its rowid (the UPDATE's parameters)."""
    roll = rng.random()
    if roll >= 0.65:
        return ("open", rng.choice(AGENTS) if roll < 0.69 else None, None, None, None, None,
                None, rowid)
    start = parse_ts(created)
    first = round(rng.lognormvariate(7.5, 1.3), 6)  # median about 30 minutes
    breached = first > (3600 if channel == "x" else 8 * 3600) or rng.random() < 0.03
    status, resolution, resolved_at = "open", None, None
    if rng.random() < 0.77:
        status, resolution = "resolved", round(first + rng.lognormvariate(9.9, 1.2), 6)
        resolved_at = ts(start + timedelta(seconds=resolution))
    return (status, rng.choices(AGENTS, WEIGHTS)[0], ts(start + timedelta(seconds=first)),
            first, int(breached), resolved_at, resolution, rowid)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(path: str, runs: int, until: datetime) -> None:
    since = until - timedelta(days=30)
    store = SqliteStore(path)
    started = time.perf_counter()
    await store.open()
    opened = time.perf_counter() - started
    try:
        before = _rss_mb()
        started = time.perf_counter()
        rows = await store.sla_report(since, until)
        first = time.perf_counter() - started
        walls, cpus = [], []
        for _ in range(runs):
            wall, cpu = time.perf_counter(), time.process_time()
            await store.sla_report(since, until)
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
    finally:
        await store.aclose()
    overall = rows[0] if rows else None
    print(f"{path}: open (and migrate) {opened:.2f} s; first report {first:.2f} s; "
          f"peak RSS {before:.0f} -> {_rss_mb():.0f} MB; {os.cpu_count()} cores, load "
          f"average {os.getloadavg()[0]:.1f}")
    if overall is not None:
        print(f"{len(rows)} rows; all: {overall.conversations:,} conversations, "
              f"{overall.answered:,} answered, {overall.resolved:,} resolved")
    print(f"{runs} reports [{since:%Y-%m-%d %H:%M}, {until:%Y-%m-%d %H:%M}): wall p50 "
          f"{statistics.median(walls):.0f} ms p95 {_p95(walls):.0f} ms; CPU p50 "
          f"{statistics.median(cpus):.0f} ms p95 {_p95(cpus):.0f} ms")


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("store", help="an existing SQLite store")
    p.add_argument("--agents", action="store_true",
                   help="first give it agent activity (rewrites the file: use a copy)")
    p.add_argument("--runs", type=int, default=20, help="reports after the first one")
    p.add_argument("--until", type=datetime.fromisoformat,
                   help="the end of the 30 days (UTC; default now)")
    args = p.parse_args()
    if args.agents:
        print(f"agent activity on {give_agents(args.store):,} care conversations")
    until = (args.until or datetime.now(UTC)).replace(tzinfo=UTC)
    asyncio.run(measure(args.store, args.runs, until))


if __name__ == "__main__":
    main()
