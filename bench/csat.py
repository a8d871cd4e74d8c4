"""The CSAT report over a year of surveys (issue 15): fill a SQLite store with N surveys
resolved over 365 days (a third unanswered), then time the report of the last 30 days.

    python -m bench.csat [--surveys 200000] [--store csat.db] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from inbox.app.config import make_store
from inbox.collections import CSAT, CSAT_RESOLVED, CollectionDoc, CsatDoc
from inbox.config import StoreSettings
from inbox.store import Store, WriteBatch
from inbox.usecases.csat import Surveys, resolved_key

UNTIL = datetime(2026, 11, 30, tzinfo=UTC)


def survey(rng: random.Random, i: int) -> CsatDoc:
    resolved = UNTIL - timedelta(minutes=rng.randrange(365 * 24 * 60))
    score = rng.choice([None, None, 1, 2, 3, 4, 5, 5, 4])
    return {"state": "sent", "channel": rng.choice(["email", "x", "webform"]),
            "assignee": f"u{i % 20}", "resolved_at": resolved.isoformat(),
            "due": resolved.isoformat(), "sent_at": resolved.isoformat(), "expires_at": None,
            "message_id": None, "reason": None, "score": score, "comment": None,
            "answered_at": None, "alerted": False}


async def fill(store: Store, count: int) -> None:
    rng, docs = random.Random(15), list[CollectionDoc]()
    for i in range(count):
        doc, cid = survey(rng, i), f"c{i:07d}"
        docs += [(CSAT, cid, doc), (CSAT_RESOLVED, resolved_key(cid, doc), doc)]
        if len(docs) >= 10_000:
            await store.write(WriteBatch(documents=tuple(docs)))
            docs = []
    await store.write(WriteBatch(documents=tuple(docs)))


async def run(args: argparse.Namespace) -> None:
    store = make_store(StoreSettings(url=f"sqlite:///{Path(args.store).resolve()}"))
    await store.open()
    try:
        if await store.collection(CSAT).get("c0000000") is None:
            await fill(store, args.surveys)
        surveys: Any = Surveys.__new__(Surveys)  # the report needs the store alone
        surveys.store, surveys.report_page = store, 1000
        walls, cpus = [], []
        for _ in range(args.runs):
            wall, cpu = time.perf_counter(), time.process_time()
            rows = await surveys.report(UNTIL - timedelta(days=30), UNTIL, ZoneInfo("UTC"))
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
        sent = next(r.sent for r in rows if r.group == "all")
        print(f"CSAT report, 30 days of {args.surveys:,} surveys over a year ({sent:,} in "
              f"range, {len(rows)} rows): wall p50 {statistics.median(walls):,.0f} ms, max "
              f"{max(walls):,.0f}; CPU p50 {statistics.median(cpus):,.0f} ms")
    finally:
        await store.aclose()



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--surveys", type=int, default=200_000)
    parser.add_argument("--store", default="csat-bench.db")
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
