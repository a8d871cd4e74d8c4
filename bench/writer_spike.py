"""Spike (issue 11): what the SQLite store's batch writes cost in a process of their own.

    python -m bench.writer_spike [--days 30] [--customers 600] [--batch 100] [--runs 3]

Captures the WriteBatches the pipeline gives for the demo data (as `bench.ingest --child off`
does: `Runtime.ingest` in batches, enrichment off; Store.write hooked), then times, each on
a fresh store (WAL, synchronous=FULL) in a fresh directory:
- replay: every batch applied with `write_batch(batch, checked=True)` in this process, one
  transaction each (BEGIN IMMEDIATE / COMMIT, as the writer thread does);
- pickle: pickling every batch, and unpickling it (protocol 5);
- process: a child process (spawned) applying the batches it receives on a pipe while this
  process pickles and sends them, in two ways: "stream" (sent without waiting, every commit
  acknowledged on a second pipe and awaited at the end) and "lockstep" (each batch sent
  once the one before is acknowledged, which is what one batch in flight looks like).
Reports wall, CPU (this process; the child's own by getrusage in it) and µs per message.
Reports figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import pickle
import resource
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.ingest import corpus
from inbox.app.cli import collect_less
from inbox.app.config import load as load_config
from inbox.app.runtime import Runtime
from inbox.store import WriteBatch
from search.sqlite_batch import write_batch
from search.sqlite_db import connect, in_transaction
from search.sqlite_schema import migrate


async def _capture(path: Path, days: int, customers: int, batch: int) -> list[WriteBatch]:
    config = load_config(None, {"INBOX_STORE": f"sqlite:///{path}", "INBOX_ENRICH": "false"})
    runtime = Runtime(config, {}, channels=False)
    await runtime.start()
    captured: list[WriteBatch] = []
    store = runtime.store
    original = store.write

    async def write(b: WriteBatch) -> None:
        captured.append(b)
        await original(b)

    store.write = write  # type: ignore[method-assign,assignment]
    inbound = corpus(days, customers)
    try:
        for i in range(0, len(inbound), batch):
            await runtime.ingest(inbound[i:i + batch])
    finally:
        await runtime.aclose()
    return captured


def _fresh(path: Path) -> Any:
    conn = connect(str(path))
    migrate(conn)
    return conn


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def replay(path: Path, batches: list[WriteBatch]) -> tuple[float, float]:
    conn = _fresh(path)
    wall, cpu = time.perf_counter(), _cpu_self()
    for b in batches:
        in_transaction(conn, write_batch(b, checked=True))
    wall, cpu = time.perf_counter() - wall, _cpu_self() - cpu
    conn.close()
    return wall, cpu


def _child(path: str, inbox: Connection, acks: Connection) -> None:
    collect_less()
    conn = _fresh(Path(path))
    acks.send_bytes(b"ready")
    cpu = _cpu_self()
    while (data := inbox.recv_bytes()) != b"end":
        in_transaction(conn, write_batch(pickle.loads(data), checked=True))  # noqa: S301
        acks.send_bytes(b"ok")
    conn.close()
    acks.send_bytes(pickle.dumps(_cpu_self() - cpu))


def in_process(path: Path, batches: list[WriteBatch], lockstep: bool
               ) -> tuple[float, float, float]:
    """Wall, this process's CPU, the child's CPU."""
    ctx = mp.get_context("spawn")
    recv_end, send_end = ctx.Pipe(duplex=False)
    ack_recv, ack_send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(str(path), recv_end, ack_send))
    child.start()
    assert ack_recv.recv_bytes() == b"ready"
    wall, cpu = time.perf_counter(), _cpu_self()
    for b in batches:
        send_end.send_bytes(pickle.dumps(b, protocol=5))
        if lockstep:
            assert ack_recv.recv_bytes() == b"ok"
    if not lockstep:
        for _ in batches:
            assert ack_recv.recv_bytes() == b"ok"
    wall, cpu = time.perf_counter() - wall, _cpu_self() - cpu
    send_end.send_bytes(b"end")
    child_cpu = pickle.loads(ack_recv.recv_bytes())  # noqa: S301
    child.join()
    return wall, cpu, child_cpu


def pickling(batches: list[WriteBatch]) -> tuple[float, float, int]:
    """CPU seconds to pickle every batch, to unpickle them; bytes."""
    start = time.process_time()
    data = [pickle.dumps(b, protocol=5) for b in batches]
    dumped = time.process_time() - start
    start = time.process_time()
    for d in data:
        pickle.loads(d)  # noqa: S301
    return dumped, time.process_time() - start, sum(map(len, data))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--customers", type=int, default=600)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    collect_less()
    print(f"cores {os.cpu_count()}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        batches = asyncio.run(_capture(Path(tmp) / "capture.db", args.days, args.customers,
                                       args.batch))
        n = sum(len(b.messages) for b in batches)
        print(f"{len(batches)} batches, {n} messages")

        def us(seconds: float) -> str:
            return f"{seconds / n * 1e6:7.1f} µs/msg"

        for run in range(args.runs):
            wall, cpu = replay(Path(tmp) / f"replay{run}.db", batches)
            print(f"replay in process     wall {wall:5.2f} s CPU {cpu:5.2f} s  {us(wall)}"
                  f"  {n / wall:8,.0f} msgs/s")
            dumped, loaded, size = pickling(batches)
            print(f"pickle {size / 1e6:5.1f} MB       dump {dumped:5.2f} s load {loaded:5.2f} s"
                  f"  dump {us(dumped)}  load {us(loaded)}")
            for lockstep in (False, True):
                wall, cpu, child = in_process(Path(tmp) / f"proc{run}{lockstep}.db", batches,
                                              lockstep)
                name = "lockstep" if lockstep else "stream"
                print(f"child process {name:8} wall {wall:5.2f} s CPU parent {cpu:5.2f} s "
                      f"child {child:5.2f} s  {us(wall)}  {n / wall:8,.0f} msgs/s  "
                      f"parent {us(cpu)}")
    print(f"load average after {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
