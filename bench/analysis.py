"""What the search analysis (inbox/analysis.py) costs per message.

    python -m bench.analysis [--store FILE.db] [--sample 5000] [--runs 3]

Times what a store does for each message it indexes (the words of text and subject and the
extras of both: `analysis.message_terms`), over a sample of a SQLite
store's messages (every n-th, so all periods and channels) or, without --store, the demo
generator's. Reports µs per message for all, for ASCII texts and for the others (wall and
CPU, best of the runs), and the core count and load. Reports figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import time
from datetime import UTC, datetime

from inbox import analysis
from inbox.app.demo.generator import generate

Row = tuple[str, str | None, str | None]


def sample(store: str | None, size: int) -> list[Row]:
    if store is None:
        items = generate(datetime.now(UTC), days=30, customers=600)
        return [(i.inbound.text, i.inbound.subject, i.inbound.lang) for i in items][:size]
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:
        total = conn.execute("SELECT max(rowid) FROM messages").fetchone()[0] or 0
        step = max(1, total // size)
        return conn.execute("SELECT text, subject, lang FROM messages WHERE rowid % ? = 0 "
                            "LIMIT ?", (step, size)).fetchall()


def timed(rows: list[Row], runs: int) -> tuple[float, float]:
    """Best wall and CPU µs per message over the runs."""
    best = (float("inf"), float("inf"))
    for _ in range(runs):
        analysis.index_terms.cache_clear()
        wall, cpu = time.perf_counter(), time.process_time()
        for text, subject, lang in rows:
            analysis.message_terms(text, subject, lang)
        took = ((time.perf_counter() - wall) / len(rows) * 1e6,
                (time.process_time() - cpu) / len(rows) * 1e6)
        best = min(best, took)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", help="a SQLite store to sample (default: demo messages)")
    parser.add_argument("--sample", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = sample(args.store, args.sample)
    if not rows:
        raise SystemExit("no messages to time")
    print(f"cores {os.cpu_count()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"{len(rows)} messages, {sum(len(r[0] or '') for r in rows) / len(rows):.0f} "
          "characters on average")
    ascii_rows = [r for r in rows if (r[0] or "").isascii()]
    other = [r for r in rows if not (r[0] or "").isascii()]
    for name, part in (("all", rows), ("ASCII text", ascii_rows), ("other text", other)):
        if part:
            wall, cpu = timed(part, args.runs)
            print(f"{name:<12} {len(part):>6} messages  {wall:6.1f} µs wall  {cpu:6.1f} µs CPU "
                  "per message")


if __name__ == "__main__":
    main()
