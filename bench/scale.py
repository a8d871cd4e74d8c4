"""Search, VoC, reports and the inbox at scale (issue 10): build a big store once, then time
every item of the issue's target table that needs no HTTP (that is `bench/http.py`).

    python -m bench.scale --messages 1000000 [--store scale-1000000.db] [--runs 20]

The store (SQLite) is built through the product's own ingest (the demo generator streamed in
batches of 1000, customer messages only, enrichment on so sentiment and language facets are
real), with no disk sync per commit, and kept: a later run with the same --messages reuses
it (the build's parameters are recorded in the store's cursors when the build completes).
Each item is called the way the web calls it (the use cases of `inbox/usecases` through the
Runtime) and reported as wall p50/p95/p99, CPU per call (this process, all threads) and the
peak RSS while it ran. Reports figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from inbox.app.config import load as load_config
from inbox.app.demo.generator import INBOUND_PER_JOURNEY
from inbox.app.demo.seed import seed
from inbox.app.runtime import Runtime
from inbox.model import FACETS, ConversationFilter, Facet, SearchResult, Status, User, utcnow
from search.sqlite import SqliteStore

BUILD_CURSOR = "bench.scale"  # what was built, recorded once the build completed
DAYS = 30
# the facets of the issue's /api/search calls
FACETS_SEARCHED: tuple[Facet, ...] = ("channel", "sentiment", "lang")


def query_mix(now_day: str) -> tuple[str, ...]:
    """The issue's five queries, a rare word and a phrase."""
    return ("channel:x sentiment:negative", "bill OR invoice", f"status:open after:{now_day}",
            "roam*", "broadband", "inadmissible", '"no signal"')


def customers_for(messages: int) -> int:
    """Care customers for a size; about a third more come as public X authors (the issue's
    1M store had 182k customers)."""
    return max(600, messages // 7)


def peak_reset() -> None:
    """Start a new peak-RSS window (Linux: clear_refs 5 resets VmHWM)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mb() -> float:
    """The peak RSS since `peak_reset` (VmHWM), else since the process started."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def build(path: Path, messages: int, batch: int) -> Runtime:
    """The store at `path` holding about `messages` stored messages, built if needed."""
    wanted = {"messages": messages, "days": DAYS, "customers": customers_for(messages),
              "batch": batch, "agents": False, "enrich": True, "seed": 7}
    config = load_config(None, {"INBOX_STORE": f"sqlite:///{path}", "INBOX_ENRICH": "true"})
    if path.exists():
        runtime = Runtime(config, {}, store=SqliteStore(path, durable=False), channels=False)
        await runtime.start()
        built = await runtime.store.cursors.get(BUILD_CURSOR)
        if built is not None and {k: built.get(k) for k in wanted} == wanted:
            print(f"reusing {path}: {built['summary']}, built in {built['wall']:,.0f} s",
                  file=sys.stderr)
            return runtime
        await runtime.aclose()
        sys.exit(f"{path} exists but holds another or an unfinished build "
                 f"({built}); remove it or name another --store")
    runtime = Runtime(config, {}, store=SqliteStore(path, durable=False), channels=False)
    await runtime.start()
    wall, cpu = time.perf_counter(), time.process_time()
    expected = round(messages * 1.0)  # customer messages are the stored messages here
    step = max(batch, expected // 100)
    shown = [0]

    def progress(done: int) -> None:
        if done >= shown[0] + step or done >= expected:
            shown[0] = done
            took = time.perf_counter() - wall
            rate = done / took
            left = max(0, expected - done) / rate if rate else 0
            bar = "#" * min(30, 30 * done // max(1, expected))
            print(f"\r  [{bar:<30}] {done:>10,} in, {rate:,.0f}/s, {took:,.0f} s, "
                  f"about {left:,.0f} s left  ", end="", file=sys.stderr, flush=True)

    journeys = max(wanted["customers"], round(messages / INBOUND_PER_JOURNEY))
    summary = await seed(runtime, days=DAYS, customers=wanted["customers"], journeys=journeys,
                         seed=7, batch=batch, agents=False, progress=progress)
    took, used = time.perf_counter() - wall, time.process_time() - cpu
    size = path.stat().st_size / 1e6
    print(f"\nbuilt {path}: {summary}, {size:,.0f} MB\n"
          f"  wall {took:,.1f} s, CPU {used:,.1f} s, {summary.messages / took:,.0f} stored "
          f"messages/s, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}",
          file=sys.stderr)
    await runtime.store.cursors.put(BUILD_CURSOR, {
        **wanted, "summary": str(summary), "wall": took, "cpu": used, "mb": size})
    return runtime


@dataclass
class Figure:
    name: str
    runs: int
    p50: float  # ms, wall
    p95: float
    p99: float
    cpu: float  # ms per call, this process
    rss: float  # MB, peak while the item ran
    note: str = ""
    times: list[float] = field(default_factory=list, repr=False)

    def row(self) -> str:
        return (f"| {self.name} | {self.runs} | {self.p50:,.1f} | {self.p95:,.1f} | "
                f"{self.p99:,.1f} | {self.cpu:,.1f} | {self.rss:,.0f} | {self.note} |")


def hits(result: SearchResult) -> str:
    """The total as the page shows it, and whether facets counted a sample."""
    more = "+" if result.total_capped else ""
    return f"{result.total:,}{more} hits" + (f", facets of {result.sampled:,}" if
                                              result.sampled else "")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def timed(name: str, call: Callable[[int], Awaitable[Any]], runs: int,
                budget: float, note: Callable[[Any], str] = lambda _: "") -> Figure:
    """`call(i)` at least 3 and at most `runs` times, stopping after `budget` seconds."""
    await call(0)  # warm: the page cache and prepared statements, as a serving process has
    peak_reset()
    times: list[float] = []
    cpu, start, last = time.process_time(), time.perf_counter(), None
    for i in range(runs):
        t = time.perf_counter()
        last = await call(i)
        times.append((time.perf_counter() - t) * 1000)
        if len(times) >= 3 and time.perf_counter() - start > budget:
            break
    used = (time.process_time() - cpu) * 1000 / len(times)
    fig = Figure(name, len(times), statistics.median(times), pct(times, 0.95),
                 pct(times, 0.99), used, peak_rss_mb(), note(last), times)
    print(f"  {name:<55} p50 {fig.p50:9,.1f} ms  p95 {fig.p95:9,.1f}  cpu {fig.cpu:9,.1f}"
          f"  ({fig.runs} runs) {fig.note}", file=sys.stderr)
    return fig


async def measure(runtime: Runtime, runs: int, budget: float) -> list[Figure]:
    if isinstance(runtime.store, SqliteStore):  # every call counts again: no reuse
        runtime.store.recent.seconds = 0
    users = await runtime.accounts.users()
    viewer: User = next(u for u in users if u.role == "admin")
    now = utcnow()
    search, figures = runtime.search, []
    for text in query_mix((now - timedelta(days=30)).date().isoformat()):
        node = await search.parse(text, viewer)

        async def one(_: int, node: Any = node) -> Any:
            return await search.messages(viewer, node, None, 50, FACETS_SEARCHED)

        figures.append(await timed(f"search `{text}` + facets", one, runs, budget, hits))
    searches = list(figures)
    every = [t for f in searches for t in f.times]
    figures.append(Figure("search mix (all of the above)", len(every),
                          statistics.median(every), pct(every, 0.95), pct(every, 0.99),
                          statistics.fmean(f.cpu for f in searches),
                          max(f.rss for f in searches)))
    for text in ("", "refund"):
        node = await search.parse(text, viewer)

        async def voc(_: int, node: Any = node) -> Any:
            return await search.voc(viewer, node, "day", FACETS)

        figures.append(await timed(f"VoC {'`' + text + '`' if text else 'no query'}", voc,
                                   runs, budget, lambda v: hits(v.result)))

    async def sla(_: int) -> Any:
        return await runtime.reports.sla_rows(now - timedelta(days=30), now)

    figures.append(await timed("SLA report, 30 days", sla, runs, budget,
                               lambda rows: f"{len(rows)} rows"))

    async def heatmap(_: int) -> Any:
        return await runtime.reports.heatmap(now - timedelta(days=30), now,
                                             runtime.reports.sla.calendar.zone)

    figures.append(await timed("heat map by hour of the week, 30 days", heatmap, runs, budget,
                               lambda heat: f"peak {heat.peak}"))

    async def resolution(_: int) -> Any:
        return await runtime.reports.resolution(now - timedelta(days=30), now)

    figures.append(await timed("first-contact resolution + journeys, 30 days", resolution,
                               runs, budget, lambda r: f"{r.fcr[0].resolved} resolved, "
                               f"{r.journeys[0].journeys} journeys"))
    async def backlog(_: int) -> Any:
        return await runtime.reports.backlog(now)

    figures.append(await timed("backlog by channel and age", backlog, runs, budget,
                               lambda b: f"{sum(sum(v) for v in b.counts.values())} waiting"))
    pages: list[Any] = []
    cursor: str | None = None
    for _ in range(20):  # the ids to open, and the cursors of 20 pages deep
        page = await runtime.conversations.page(ConversationFilter(status=Status.OPEN),
                                                cursor, 50)
        pages.append(cursor)
        cursor = page.next_cursor
        if cursor is None:
            break
    opened = [c.id for c in (await runtime.conversations.page(
        ConversationFilter(status=Status.OPEN), pages[-1], 50)).items]

    async def inbox(i: int) -> Any:
        page = await runtime.conversations.page(ConversationFilter(status=Status.OPEN),
                                                pages[i % len(pages)], 50)
        await runtime.conversations.customers_of(page.items)
        return page

    figures.append(await timed("inbox list (open, 50, up to 20 pages deep)", inbox,
                               max(runs, 200), budget))

    async def conversation(i: int) -> Any:
        return await runtime.conversations.get(opened[i % len(opened)])

    figures.append(await timed("conversation + journey", conversation, max(runs, 200), budget))
    return figures


async def run(args: argparse.Namespace) -> None:
    path = Path(args.store or f"scale-{args.messages}.db")
    runtime = await build(path, args.messages, args.batch)
    try:
        if args.build_only:
            return
        counts = await runtime.store.counts()
        print(f"measuring {path}: {counts['messages']:,} messages, {counts['customers']:,} "
              f"customers, {counts['conversations']:,} conversations", file=sys.stderr)
        wall, cpu = time.perf_counter(), time.process_time()
        load = os.getloadavg()[0]
        figures = await measure(runtime, args.runs, args.budget)
        took, used = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await runtime.aclose()
    print(f"\nScale: {counts['messages']:,} messages, {counts['customers']:,} customers, "
          f"{counts['conversations']:,} conversations ({path}); measured in {took:,.0f} s "
          f"wall, {used:,.0f} s CPU; {os.cpu_count()} cores, load average "
          f"{load:.1f} -> {os.getloadavg()[0]:.1f}\n")
    print("| item | runs | p50 ms | p95 ms | p99 ms | CPU ms/call | peak RSS MB | |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for fig in figures:
        print(fig.row())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=1_000_000,
                   help="about how many stored messages (customers' only)")
    p.add_argument("--store", help="the SQLite file (default scale-MESSAGES.db); kept")
    p.add_argument("--batch", type=int, default=1000, help="customer messages per ingest")
    p.add_argument("--runs", type=int, default=20, help="calls per item (at most)")
    p.add_argument("--budget", type=float, default=30.0,
                   help="seconds per item before stopping early (at least 3 calls)")
    p.add_argument("--build-only", action="store_true", help="build (or check) the store")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
