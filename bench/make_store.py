"""Fill a store with a big generated dataset, streamed through ingest in batches.

    python -m bench.make_store --messages 1000000 --customers 200000 --store sqlite:///big.db

Customer messages go through the Ingestor and (unless --no-agents) the agents' replies,
triage and merges through the application, on the replayed clock, as `inbox demo` does.
Memory stays bounded: the generator keeps only the days in flight. Prints the figures
(wall, CPU, cores); asserts nothing. A SQLite file must not exist yet; an Elasticsearch
store (http://host:9200) must be empty.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from inbox.app.config import load as load_config
from inbox.app.demo.generator import INBOUND_PER_JOURNEY, MESSAGES_PER_JOURNEY
from inbox.app.demo.seed import seed
from inbox.app.runtime import Runtime


async def make(args: argparse.Namespace) -> None:
    per_journey = MESSAGES_PER_JOURNEY if args.agents else INBOUND_PER_JOURNEY
    journeys = max(args.customers, round(args.messages / per_journey))
    config = load_config(None, {"INBOX_STORE": args.store,
                             "INBOX_ENRICH": str(args.enrich).lower()})
    runtime = Runtime(config, {}, channels=False)
    await runtime.start()
    wall, cpu = time.perf_counter(), time.process_time()
    step = max(args.batch, args.messages // 20)
    shown = [0]

    def progress(done: int) -> None:
        if done >= shown[0] + step:
            shown[0] = done
            rate = done / (time.perf_counter() - wall)
            print(f"  {done:>10,} customer messages in, {rate:,.0f}/s", file=sys.stderr)

    try:
        summary = await seed(runtime, days=args.days, customers=args.customers,
                             journeys=journeys, seed=args.seed, batch=args.batch,
                             agents=args.agents, progress=progress)
    finally:
        await runtime.aclose()
    took, used = time.perf_counter() - wall, time.process_time() - cpu
    load = os.getloadavg()[0]
    print(f"{summary} over {args.days} days, agents {'on' if args.agents else 'off'}, "
          f"enrichment {'on' if args.enrich else 'off'}, batches of {args.batch}\n"
          f"wall {took:,.1f} s, CPU {used:,.1f} s (this process), {os.cpu_count()} cores, "
          f"load average {load:.1f}: {summary.messages / took:,.0f} stored messages/s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", required=True, help="sqlite:///path.db or http(s)://host:9200")
    p.add_argument("--messages", type=int, default=100_000,
                   help="about how many stored messages (customers' and agents')")
    p.add_argument("--customers", type=int, default=20_000,
                   help="distinct customers (the authors of listening hits come on top)")
    p.add_argument("--days", type=int, default=30, help="the span, ending now")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--batch", type=int, default=1000, help="customer messages per ingest")
    p.add_argument("--no-agents", dest="agents", action="store_false",
                   help="customer messages only: no replies, triage or merges")
    p.add_argument("--enrich", action="store_true", help="language + sentiment on ingest")
    args = p.parse_args()
    if args.store.startswith("sqlite:///") and Path(args.store[10:]).exists():
        p.error(f"{args.store[10:]} exists; remove it or name another file")
    asyncio.run(make(args))


if __name__ == "__main__":
    main()
