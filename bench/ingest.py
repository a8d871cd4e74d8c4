"""The ingest pipeline's throughput against a plain SQLite insert of the same rows.

    python -m bench.ingest [--days 30] [--customers 600] [--batch 100] [--runs 1] [--email N]
                           [--inflight 3] [--writer process|thread]

Runs, each in a fresh process on a fresh SQLite store (WAL, synchronous=FULL, as served):
- `Runtime.ingest` of the demo generator's messages in batches, enrichment off;
- the same with enrichment on (language + sentiment), as configured by default: large
  batches enriched by a worker process while they are planned (`enrich.workers = 1`; the
  worker started and loaded before the clock starts, as a poller's is by start_workers);
- the same with enrichment in the ingesting process (`enrich.workers = 0`);
- a plain `executemany` of the very rows the pipeline stored (every message column) into a
  table with an FTS5 index over text and subject, one transaction per batch, the floor of
  what any SQLite pipeline can do with these rows;
- the same rows into the store's own schema (its message indexes, author keys and both word
  indexes), one transaction per batch: storing them without the pipeline's work.
`--inflight N` hands in N batches at once, 3 by default (inbox.ports.PIPELINED_BATCHES), as a
poller does with a store that chains writes (each `Runtime.ingest` call returns once its
batch is committed), so a batch is planned while the ones before are written; `--writer
process` (the default) has them written by the store's writer process, `--writer thread` by
its writer thread (`sqlite:///path?writer=thread`).
Each run reports wall and CPU time (this process, all threads, plus the enrichment worker's
whole life), messages/s, peak RSS of this process and of the worker; the header gives the
core count and load average. Reports figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inbox import analysis
from inbox.app.cli import collect_less
from inbox.app.config import load as load_config
from inbox.app.demo.generator import generate
from inbox.app.runtime import Runtime
from inbox.enrich_pool import shared_pool
from inbox.model import Inbound
from inbox.ports import PIPELINED_BATCHES
from search.sqlite import SqliteStore
from search.sqlite_batch import COUNTS
from search.sqlite_db import connect

NOW = datetime(2026, 11, 1, tzinfo=UTC)  # a fixed clock: every run gets the same corpus


def corpus(days: int, customers: int, email: int = 0) -> list[Inbound]:
    """The demo generator's messages, or (email > 0) that many of bench.email's realistic
    mails, parsed."""
    if email:
        from bench.email import mailbox  # noqa: PLC0415 - only for this corpus
        from connectors.email_parse import parse_message  # noqa: PLC0415

        return [parse_message(raw).inbound for raw in mailbox(email)]
    return [i.inbound for i in generate(NOW, days=days, customers=customers)]


async def ingest_all(runtime: Runtime, inbound: Sequence[Inbound], batch: int,
                     inflight: int = 1) -> int:
    """Every item through `Runtime.ingest` in batches, `inflight` batches handed in at once
    (in order: a batch is handed in once the oldest of the ones before has returned); the
    number stored."""
    stored = 0
    running: list[asyncio.Task[Any]] = []
    for i in range(0, len(inbound), batch):
        if len(running) >= inflight:
            stored += len((await running.pop(0)).stored)
        running.append(asyncio.create_task(runtime.ingest(inbound[i:i + batch])))
    for task in running:
        stored += len((await task).stored)
    return stored


async def _pipeline(path: Path, inbound: Sequence[Inbound], batch: int, enrich: bool,
                    workers: int = 1, inflight: int = PIPELINED_BATCHES, writer: str = "process"
                    ) -> tuple[int, float, float, float]:
    """Messages stored, wall and CPU seconds (this process, and its enrichment worker's
    whole life: started by the first large batch, loading its models included, and the
    writer process's while the clock ran), and the writer process's CPU seconds alone."""
    query = "?writer=thread" if writer == "thread" else ""
    config = load_config(None, {"INBOX_STORE": f"sqlite:///{path}{query}",
                                "INBOX_ENRICH": str(enrich).lower(),
                                "INBOX_ENRICH_WORKERS": str(workers)})
    runtime = Runtime(config, {}, channels=False)
    await runtime.start()
    if enrich and workers:  # started with the process, as a poller's (start_workers)
        shared_pool(workers).wait_ready()
    if runtime.store.writer is not None:  # running before the clock, as in a poller
        runtime.store.writer.start()
    try:
        writer_cpu = -_writer_cpu(runtime) if writer == "process" else 0.0
        wall, cpu = time.perf_counter(), time.process_time()
        stored = await ingest_all(runtime, inbound, batch, inflight)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        writer_cpu += _writer_cpu(runtime) if writer == "process" else 0.0
        writer_life = _writer_cpu(runtime) if writer == "process" else 0.0
    finally:
        await runtime.aclose()
    shared_pool(workers).close(wait=True)  # the worker's CPU is counted once it has exited
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    # the writer process (a child too) counted over the clock's window only
    return stored, wall, (cpu + writer_cpu + children.ru_utime + children.ru_stime
                          - writer_life), writer_cpu


def _writer_cpu(runtime: Runtime) -> float:
    """The writer process's CPU seconds so far (it lives until the store closes)."""
    with open(f"/proc/{runtime.store.writer.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _plain(source: Path, path: Path, batch: int) -> tuple[int, float, float]:
    """The rows the pipeline stored, inserted as they are into a table with FTS5."""
    with sqlite3.connect(source) as src:
        columns = [r[1] for r in src.execute("PRAGMA table_info(messages)")]
        rows = src.execute(f"SELECT {','.join(columns)} FROM messages ORDER BY rowid").fetchall()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"CREATE TABLE messages ({','.join(columns)})")
    conn.execute("CREATE VIRTUAL TABLE messages_fts USING fts5 (text, subject, "
                 "content='messages', content_rowid='rowid', "
                 "tokenize='unicode61 remove_diacritics 2')")
    text, subject = columns.index("text"), columns.index("subject")
    insert = f"INSERT INTO messages VALUES ({','.join('?' * len(columns))})"
    wall, cpu = time.perf_counter(), time.process_time()
    first = 1
    for i in range(0, len(rows), batch):
        chunk = rows[i:i + batch]
        conn.execute("BEGIN")
        conn.executemany(insert, chunk)
        conn.executemany("INSERT INTO messages_fts (rowid, text, subject) VALUES (?, ?, ?)",
                         [(first + n, r[text], r[subject]) for n, r in enumerate(chunk)])
        conn.execute("COMMIT")
        first += len(chunk)
    took, used = time.perf_counter() - wall, time.process_time() - cpu
    conn.close()
    return len(rows), took, used


def _plain_schema(source: Path, path: Path, batch: int) -> tuple[int, float, float]:
    """The same rows inserted as they are into the store's own schema (every message index
    and author key, both word indexes, and the facts and counts the store keeps for each
    message), one transaction per batch: what storing these rows costs SQLite here, without
    the pipeline (identities, threads, SLAs, conversations)."""
    asyncio.run(_open_close(path))
    with sqlite3.connect(source) as src:
        columns = [r[1] for r in src.execute("PRAGMA table_info(messages)")]
        rows = src.execute(f"SELECT rowid, {','.join(columns)} FROM messages ORDER BY rowid"
                           ).fetchall()
        words = [(rowid, analysis.words(text, lang), analysis.words(subject, lang),
                  analysis.extras(text, subject, lang)) for rowid, text, subject, lang in
                 src.execute("SELECT rowid, text, subject, lang FROM messages ORDER BY rowid")]
        keys = src.execute("SELECT key, message_rowid FROM message_keys").fetchall()
    conn = connect(str(path))
    insert = (f"INSERT INTO messages (rowid, {','.join(columns)}) "
              f"VALUES ({','.join('?' * (len(columns) + 1))})")
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(rows), batch):
        first, last = rows[i][0], rows[min(i + batch, len(rows)) - 1][0]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(insert, rows[i:i + batch])
        part = words[i:i + batch]
        conn.executemany("INSERT INTO messages_fts (rowid, text, subject, extra) "
                         "VALUES (?, ?, ?, ?)", part)
        conn.executemany("INSERT INTO messages_public (rowid, text, subject, extra) "
                         "VALUES (?, ?, ?, ?)", part)
        conn.executemany("INSERT OR IGNORE INTO message_keys (key, message_rowid) VALUES (?, ?)",
                         [k for k in keys if first <= k[1] <= last])
        for sql in COUNTS:
            conn.execute(sql, (first, last))
        conn.execute("COMMIT")
    took, used = time.perf_counter() - wall, time.process_time() - cpu
    conn.close()
    return len(rows), took, used


async def _open_close(path: Path) -> None:
    store = SqliteStore(path)
    await store.open()
    await store.aclose()


def run(mode: str, days: int, customers: int, batch: int, source: str | None,
        email: int = 0, inflight: int = PIPELINED_BATCHES, writer: str = "process"
        ) -> dict[str, Any]:
    """One measurement in this process (a fresh one: peak RSS is this run's)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    writer_cpu = 0.0
    if mode in ("plain", "plain-schema"):
        assert source is not None
        plain = _plain if mode == "plain" else _plain_schema
        count, wall, cpu = plain(Path(source), tmp / "plain.db", batch)
    else:
        inbound = corpus(days, customers, email)
        path = Path(source) if source else tmp / "store.db"
        workers = 0 if mode == "enrich-inline" else 1
        count, wall, cpu, writer_cpu = asyncio.run(
            _pipeline(path, inbound, batch, mode != "off", workers, inflight, writer))
    return {"mode": mode, "messages": count, "wall": wall, "cpu": cpu, "writer_cpu": writer_cpu,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def _child(mode: str, args: argparse.Namespace, source: str | None) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.ingest", "--child", mode, "--days", str(args.days),
           "--customers", str(args.customers), "--batch", str(args.batch),
           "--email", str(args.email), "--inflight", str(args.inflight),
           "--writer", args.writer]
    if source:
        cmd += ["--source", source]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def worker_mb(result: dict[str, Any]) -> str:
    return f"{result['worker_mb']:.0f}" if result["mode"] == "enrich" else ""


LABELS = {"off": "pipeline, enrichment off", "enrich": "pipeline, enrichment on",
          "enrich-inline": "same, no worker process", "plain": "plain executemany + FTS5",
          "plain-schema": "plain, into the store schema"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--customers", type=int, default=600)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--runs", type=int, default=1, help="rounds of the three runs")
    p.add_argument("--email", type=int, default=0,
                   help="instead of the demo's messages, this many of bench.email's mails")
    p.add_argument("--inflight", type=int, default=PIPELINED_BATCHES,
                   help="batches handed in at once (a poller's fetched batches)")
    p.add_argument("--writer", choices=("thread", "process"), default="process",
                   help="the SQLite store's batches: written by its writer process, or by "
                        "its writer thread")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--source", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        collect_less()  # the garbage collector as the `inbox` command sets it
        print(json.dumps(run(args.child, args.days, args.customers, args.batch, args.source,
                             args.email, args.inflight, args.writer)))
        return
    what = (f"{args.email} mails" if args.email
            else f"{args.days} days x {args.customers} customers")
    print(f"cores {os.cpu_count()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
          f", {what}, batches of {args.batch}")
    print(f"{'run':28} {'messages':>8} {'wall s':>7} {'CPU s':>7} {'msgs/s':>8} "
          f"{'of plain':>8} {'peak MB':>8} {'worker MB':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            source = str(Path(tmp) / "off.db")
            Path(source).unlink(missing_ok=True)
            results = [_child("off", args, source), _child("enrich", args, None),
                       _child("enrich-inline", args, None)]
            plain = _child("plain", args, source)
            schema = _child("plain-schema", args, source)
            floor = plain["messages"] / plain["wall"]
            for r in (*results, plain, schema):
                rate = r["messages"] / r["wall"]
                print(f"{LABELS[r['mode']]:28} {r['messages']:>8} {r['wall']:>7.2f} "
                      f"{r['cpu']:>7.2f} {rate:>8,.0f} {rate / floor:>8.0%} {r['peak_mb']:>8.0f} "
                      f"{worker_mb(r):>9}")
            off = results[0]["messages"] / results[0]["wall"]
            print(f"{'pipeline off / plain into the store schema':44} "
                  f"{off / (schema['messages'] / schema['wall']):>8.0%}")
    print(f"load average after {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
