"""How long another process's small writes wait while this one ingests.

    python -m bench.write_turns [--writer process|thread] [--seconds 2.5]

Ingests the demo generator's 30 days (9,317 messages) through `Runtime.ingest` in batches of
100, two at a time with the writer process (as a poller does) or one at a time on the
writer thread, while a second process (a web process's agents) puts a small document every
20 ms on the same SQLite file. Prints the ingest's rate and the second process's write
latencies (count, p50, p99, max). Reports figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.ingest import corpus, ingest_all
from inbox.app.config import load as load_config
from inbox.app.runtime import Runtime
from search.sqlite import SqliteStore


async def other_writer(path: str, seconds: float) -> dict[str, float]:
    """The second process: a small write every 20 ms on its writer thread."""
    store = SqliteStore(path, writer_process=False)
    await store.open()
    waits: list[float] = []
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            start = time.monotonic()
            await store.collection("cursors").put(f"k{len(waits) % 5}", {"n": len(waits)})
            waits.append(time.monotonic() - start)
            await asyncio.sleep(0.02)
    finally:
        await store.aclose()
    waits.sort()
    return {"writes": len(waits), "p50": waits[len(waits) // 2],
            "p99": waits[int(len(waits) * 0.99)], "max": waits[-1]}


async def run(writer: str, seconds: float) -> None:
    path = Path(tempfile.mkdtemp(prefix="bench-turns-")) / "store.db"
    inbound = corpus(30, 600, 0)
    query = "?writer=thread" if writer == "thread" else ""
    config = load_config(None, {"INBOX_STORE": f"sqlite:///{path}{query}",
                                "INBOX_ENRICH": "false"})
    runtime = Runtime(config, {}, channels=False)
    await runtime.start()
    if runtime.store.writer is not None:
        runtime.store.writer.start()
    other = subprocess.Popen(  # noqa: S603 - this module, no shell
        [sys.executable, "-m", "bench.write_turns", "--other", str(path),
         "--seconds", str(seconds)], stdout=subprocess.PIPE, text=True)
    await asyncio.sleep(0.3)
    try:
        start = time.monotonic()
        stored = await ingest_all(runtime, inbound, 100, 2 if writer == "process" else 1)
        wall = time.monotonic() - start
    finally:
        await runtime.aclose()
    waits = json.loads(other.communicate()[0].strip().splitlines()[-1])
    print(f"{writer}: {stored} messages in {wall:.2f} s ({stored / wall:,.0f}/s); the other "
          f"process's writes: {waits['writes']}, p50 {waits['p50'] * 1000:.1f} ms, "
          f"p99 {waits['p99'] * 1000:.1f} ms, max {waits['max'] * 1000:.1f} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--writer", choices=("process", "thread"), default="process")
    p.add_argument("--seconds", type=float, default=2.5)
    p.add_argument("--other", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.other:
        print(json.dumps(asyncio.run(other_writer(args.other, args.seconds))))
    else:
        asyncio.run(run(args.writer, args.seconds))


if __name__ == "__main__":
    main()
