"""Ingest throughput and search latency on a store (run by hand: `make bench`); the
pipeline's own figures against a plain SQLite insert are bench/ingest.py's.

    python -m bench.ingest_search [--store sqlite:///bench.db | http://host:9200] [--days 60]

Reports figures; asserts nothing. The store is recreated (SQLite) or must be empty (ES).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.ingest import ingest_all
from inbox.app.config import load as load_config
from inbox.app.demo.generator import generate
from inbox.app.runtime import Runtime
from inbox.model import ConversationFilter
from inbox.query import parse

QUERIES = ("refund", '"no signal"', "channel:x sentiment:negative", "bill OR invoice -autopay",
           "status:open after:2026-10-01", "from:@northwind_help", "roam*")


async def bench(store_url: str, days: int, customers: int, enrich: bool) -> None:
    config = load_config(None, {"INBOX_STORE": store_url, "INBOX_ENRICH": str(enrich).lower()})
    runtime = Runtime(config, {}, channels=False)
    await runtime.start()
    try:
        items = generate(datetime.now(UTC), days=days, customers=customers)
        inbound = [i.inbound for i in items]
        start = time.perf_counter()
        await ingest_all(runtime, inbound, 100)
        took = time.perf_counter() - start
        print(f"ingest: {len(inbound)} messages in {took:.2f} s = {len(inbound) / took:,.0f}/s "
              f"(batches of 100, enrichment {'on' if enrich else 'off'})")
        start = time.perf_counter()
        await runtime.ingest(inbound[:500])
        print(f"replay of 500 known messages: {(time.perf_counter() - start) * 1000:.0f} ms")
        for text in QUERIES:
            node = parse(text)
            times, total = [], 0
            for _ in range(20):
                t = time.perf_counter()
                result = await runtime.store.search(node, None, 50, ("channel", "sentiment"))
                times.append((time.perf_counter() - t) * 1000)
                total = result.total
            print(f"search {text!r:40} {total:>6} hits  p50 {statistics.median(times):6.1f} ms"
                  f"  max {max(times):6.1f} ms")
        times = []
        cursor = None
        for _ in range(20):
            t = time.perf_counter()
            page = await runtime.store.list_conversations(ConversationFilter(status="open"),
                                                          cursor, 50)
            times.append((time.perf_counter() - t) * 1000)
            cursor = page.next_cursor
        print(f"inbox page of 50 (keyset, 20 pages deep): p50 {statistics.median(times):.1f} ms")
    finally:
        await runtime.aclose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--store")
    p.add_argument("--days", type=int, default=60)
    p.add_argument("--customers", type=int, default=600)
    p.add_argument("--enrich", action="store_true", help="language + sentiment on ingest")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.store or f"sqlite:///{Path(tmp) / 'bench.db'}"
        asyncio.run(bench(url, args.days, args.customers, args.enrich))


if __name__ == "__main__":
    main()
