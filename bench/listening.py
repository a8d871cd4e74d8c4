"""Listening rules' counts: the time /listening spends on hit volume, cost and share of voice,
which read the daily rollup (one small document per rule and day) and never the messages.

    python -m bench.listening [--rules 20] [--days 365] [--store sqlite:///tmp/l.db]

Reports the time of every rule's volume, the 30-day share of voice and the top hits; the
number of stored messages does not enter (a million hits are a count in each day's doc).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import timedelta

from inbox.app.config import make_store
from inbox.config import StoreSettings
from inbox.model import User
from inbox.usecases.listening import ListeningRules

ADMIN = User("u-admin", "admin@example.com", "admin", "-")


async def main(rules_n: int, days: int, url: str) -> None:
    store = make_store(StoreSettings(url))
    await store.open()
    try:
        rules = ListeningRules(store)
        today = rules.clock()
        made = [await rules.create(ADMIN, f"Rule {n}", f"brand{n} outage",
                                   "ours" if n % 3 == 0 else f"Competitor {n % 3}")
                for n in range(rules_n)]
        for rule in made:  # a year of rollup: 2,700 hits a day per rule (a million a year)
            for d in range(days):
                day = (today - timedelta(days=d)).date().isoformat()
                await store.listening_counts.put(f"{rule['id']}/{day}", {
                    "rule": rule["id"], "day": day, "reads": 3_800, "hits": 2_740,
                    "negative": 600})
        timings = []
        for _ in range(5):
            start = time.perf_counter()
            for rule in made:
                await rules.volume(rule["id"])
            await rules.share_of_voice(30)
            await rules.top_hits()
            timings.append(time.perf_counter() - start)
        volume = await rules.volume(made[0]["id"])
        print(f"{rules_n} rules x {days} days of rollup ({volume.month:,} hits a month each):"
              f" volume + share of voice + top hits p50 "
              f"{statistics.median(timings) * 1000:.1f} ms")
    finally:
        await store.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rules", type=int, default=20)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--store", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(main(args.rules, args.days, args.store or f"sqlite:///{tmp}/l.db"))
