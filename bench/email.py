"""Email sync throughput on a real Dovecot (run by hand; reports, asserts nothing).

    python -m bench.email --messages 5000 [--enrich] [--batch-size N] [--profile FILE]

Starts the test suite's Dovecot (tests/servers/dovecot.py), fills INBOX with realistic mail
(plain, alternative, HTML-only, attachments, replies, auto-replies, RFC 2047 subjects and
several charsets), then times in one run, each into a fresh SQLite store through the
production Runtime (the same code path as `inbox serve`):

- the IMAP floor: UID FETCH of every whole message, in the connector's chunks, no parsing;
- the first sync: the connector running as `inbox serve` runs it, from its start until it
  has stored every UID and IDLEs, end to end into SQLite;
- the re-delivery: the same messages appended again (another Received: line each, as a
  second delivery adds), then the same: nothing new is stored;
- IDLE: the connector running, 50 messages appended one by one; delivery time from the
  APPEND to the stored message's event;
- no store: the whole mailbox once more into an ingest that stores nothing (the connector's
  own fetch and parse, without Runtime.ingest).

With --enrich (language and sentiment on, the default setting of `enrich.enabled`) the
enrichment worker is started as `inbox serve` starts it, with the pollers: it loads its
models while the first sync runs.

Wall and CPU time (this process, its worker processes), cores, load average, peak RSS of
this process (the poller), of the parse workers and of the enrichment worker.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import dataclasses
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

from tests.servers.dovecot import PASSWORD, USER, Dovecot, require_dovecot

WORDS = ("invoice refund delivery parcel account password login order payment card broken "
         "screen battery warranty upgrade cancel subscription address phone router signal "
         "outage bill charge discount voucher help please thanks urgent again still waiting "
         "week yesterday today tomorrow manager status update ticket question answer").split()
NAMES = [("Anna", "Müller"), ("José", "García"), ("Zoë", "Dupont"), ("Łukasz", "Nowak"),
         ("Søren", "Hansen"), ("Ivan", "Petrov"), ("Yuki", "Tanaka"), ("Mary", "Smith"),
         ("Chloé", "Martin"), ("Ömer", "Yılmaz")]
# (charset of the text, sample sentence in that language)
CHARSETS = [("utf-8", "Hello, my order has not arrived yet."),
            ("iso-8859-1", "Grüße aus München, die Lieferung fehlt noch."),
            ("iso-8859-15", "Le remboursement de 25 € n'est pas arrivé."),
            ("windows-1252", "Señor, “the parcel” is late – again."),
            ("koi8-r", "Здравствуйте, мой заказ не пришёл."),
            ("shift_jis", "注文がまだ届いていません。"),
            ("utf-8", "Dzień dobry, proszę o zwrot pieniędzy.")]


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def _body(rng: random.Random, sample: str) -> str:
    paras = [sample] + [_sentence(rng, rng.randint(8, 30)) for _ in range(rng.randint(1, 5))]
    return "\n\n".join(paras) + "\n\n-- \nSent from my phone\n"


def _html(text: str) -> str:
    paras = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in text.split("\n\n"))
    return (f"<html><head><style>p {{margin:0}}</style></head><body><div dir='ltr'>{paras}"
            "<div class='sig'><b>Best</b> <i>regards</i></div></div></body></html>")


def realistic_mail(n: int, rng: random.Random, sent: list[tuple[str, str]]) -> bytes:
    """One customer mail of a realistic mix; `sent` collects (Message-ID, subject) to reply to."""
    first, last = NAMES[n % len(NAMES)]
    charset, sample = CHARSETS[rng.randrange(len(CHARSETS))]
    msg = EmailMessage()
    msg["From"] = Address(f"{first} {last}", addr_spec=f"customer{n % 700}@example.org")
    msg["To"] = "Support <support@example.test>"
    if rng.random() < 0.2:
        msg["Cc"] = "billing@example.test, Anna <anna@example.net>"
    kind = rng.random()
    reply = sent and rng.random() < 0.3
    if reply:
        parent_id, parent_subject = sent[rng.randrange(len(sent))]
        msg["Subject"] = "Re: " + parent_subject
        msg["In-Reply-To"] = parent_id
        msg["References"] = parent_id
    else:
        subject = f"{_sentence(rng, rng.randint(2, 6))[:-1]} {sample.split()[-1]} #{n}"
        msg["Subject"] = subject  # non-ASCII subjects go out as RFC 2047 words
    msg["Date"] = format_datetime(datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=n))
    msg["Message-ID"] = f"<{n}.{rng.getrandbits(48):012x}@mail.example.org>"
    if rng.random() < 0.03:
        msg["Auto-Submitted"] = "auto-replied"
    text = _body(rng, sample)
    if kind < 0.35:
        msg.set_content(text, charset=charset)
    elif kind < 0.75:
        msg.set_content(text, charset=charset)
        msg.add_alternative(_html(text), subtype="html", charset=charset)
    elif kind < 0.85:
        msg.set_content(_html(text), subtype="html", charset=charset)
    else:
        msg.set_content(text, charset=charset)
        if rng.random() < 0.5:
            msg.add_alternative(_html(text), subtype="html", charset=charset)
        size = rng.choice((2_000, 20_000, 120_000))
        blob = rng.randbytes(size)
        maintype, subtype, name = rng.choice((("application", "pdf", "invoice.pdf"),
                                              ("image", "png", "screenshot.png"),
                                              ("application", "octet-stream", "log.bin")))
        msg.add_attachment(blob, maintype=maintype, subtype=subtype, filename=name)
    if not reply:
        sent.append((msg["Message-ID"], str(msg["Subject"])))
    return msg.as_bytes()


def mailbox(count: int, seed: int = 11) -> list[bytes]:
    rng = random.Random(seed)
    random.seed(seed)  # the MIME boundaries: the same mail each time it is made
    sent: list[tuple[str, str]] = []
    return [realistic_mail(n, rng, sent) for n in range(count)]


def redelivered(raw: bytes, n: int) -> bytes:
    """The same mail as a second delivery brings it: one Received: line more on top."""
    return (f"Received: from relay{n % 3}.example.net by mx.example.test; "
            f"Mon, 30 Nov 2026 12:00:{n % 60:02d} +0000\r\n").encode() + raw


def fill(port: int, count: int, again: bool = False, chunk: int = 500) -> None:
    """APPEND the mailbox's `count` mails (again: as re-delivered)."""
    raws = mailbox(count)
    if again:
        raws = [redelivered(r, n) for n, r in enumerate(raws)]
    client = IMAPClient("127.0.0.1", port=port, ssl=False, timeout=30)
    client.login(USER, PASSWORD)
    try:
        for start in range(0, len(raws), chunk):
            client.multiappend("INBOX", raws[start:start + chunk])
    finally:
        client.logout()
    print(f"{'re-delivered' if again else 'appended'} {count} messages, "
          f"{sum(map(len, raws)) / 1e6:.1f} MB", flush=True)


def fill_apart(server: Dovecot, count: int, again: bool = False) -> None:
    """fill() in a child process: the poller's memory stays its own."""
    subprocess.run([sys.executable, "-m", "bench.email", "--fill", str(server.port),
                    "--messages", str(count), *(["--again"] if again else [])], check=True)


# --- measuring -----------------------------------------------------------------------------


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, /proc/pid/stat fields after the name) of every process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[int(entry.name)] = (int(fields[1]), " ".join(fields))
    return found


def _workers(exclude: int) -> list[int]:
    """This process's multiprocessing descendants (the parse workers and their fork server,
    the enrichment worker) and its SQLite writer process, without the Dovecot
    started by the bench (pid `exclude` and its descendants) nor the process filling the
    mailbox."""
    procs = _processes()
    mine: list[int] = []
    todo = [os.getpid()]
    while todo:
        parent = todo.pop()
        for pid, (ppid, _) in procs.items():
            if ppid == parent and pid != exclude:
                mine.append(pid)
                todo.append(pid)
    return [pid for pid in mine if b"multiprocessing" in (line := _cmdline(pid))
            or b"search.sqlite_writer" in line]


def _cmdline(pid: int) -> bytes:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""


def _cpu_of(pids: list[int]) -> dict[int, float]:
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for pid in pids:
        try:
            fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / tick
    return found


def _role(pid: int) -> str:
    """What a worker is: enrichment (inbox.enrich_pool's, spawned), parse (the fork server
    and its children, the email parse workers) or other (multiprocessing's resource
    tracker)."""
    cmdline = _cmdline(pid)
    return ("enrichment" if b"spawn_main" in cmdline else "parse" if b"forkserver" in cmdline
            else "writer" if b"search.sqlite_writer" in cmdline else "other")


class WorkerSampler:
    """CPU seconds and peak RSS of the worker processes, sampled every 0.2 s (workers come
    and go with each poll: what they used is kept from their last sample); peak RSS by role
    (see _role)."""

    def __init__(self, exclude: int) -> None:
        self.exclude = exclude
        self.cpu: dict[int, float] = {}
        self.peak_mb: dict[str, float] = {}
        self.now_mb: dict[str, float] = {}  # at the last sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.sample()

    def sample(self) -> None:
        pids = _workers(self.exclude)
        self.cpu.update(_cpu_of(pids))
        now: dict[str, float] = {}
        for pid in pids:
            role = _role(pid)
            self.peak_mb[role] = max(self.peak_mb.get(role, 0.0), _mb_of(pid, "VmHWM"))
            now[role] = max(now.get(role, 0.0), _mb_of(pid, "VmRSS"))
        self.now_mb = now

    def total(self) -> float:
        self.sample()
        return sum(self.cpu.values())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _mb_of(pid: int | str, field: str) -> float:
    """A memory field of /proc/PID/status (VmRSS, VmHWM: peak RSS), MB; 0 once it exited."""
    with contextlib.suppress(OSError):
        for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def measured(label: str, count: int, report: list[dict[str, Any]], workers: WorkerSampler
             ) -> Iterator[None]:
    load = os.getloadavg()[0]
    wall, cpu, kids = time.perf_counter(), time.process_time(), workers.total()
    yield
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    kids = workers.total() - kids
    row = {"what": label, "messages": count, "wall_s": wall, "rate": count / wall,
           "cpu_s": cpu, "workers_cpu_s": kids, "load": load}
    report.append(row)
    rss = _status_mb("VmRSS"), _status_mb("VmHWM")
    print(f"{label:<14} {count:>6} msgs  {wall:7.2f} s  {count / wall:8.0f} msgs/s  "
          f"CPU {cpu:6.2f} s (+ workers {kids:5.2f} s)  load {load:.1f}  "
          f"RSS {rss[0]:.0f} MB (peak {rss[1]:.0f})", flush=True)


def _status_mb(field: str) -> float:
    return _mb_of("self", field)


def imap_floor(port: int, chunk_bytes: int) -> int:
    """UID FETCH of every whole message in chunks of about chunk_bytes; no parsing."""
    from connectors.email import quiet

    client = IMAPClient("127.0.0.1", port=port, ssl=False, timeout=30)
    quiet(client)  # as the connector's: no trace of every response
    client.login(USER, PASSWORD)
    try:
        client.select_folder("INBOX", readonly=True)
        uids = sorted(client.search("ALL"))
        sizes = {u: int(d[b"RFC822.SIZE"]) for u, d in client.fetch(uids, ["RFC822.SIZE"]).items()}
        chunk: list[int] = []
        total = fetched = 0
        for uid in uids + [0]:
            if uid == 0 or (chunk and total + sizes[uid] > chunk_bytes):
                fetched += len(client.fetch(chunk, ["BODY.PEEK[]"]))
                chunk, total = [], 0
            if uid:
                chunk.append(uid)
                total += sizes[uid]
        return fetched
    finally:
        client.logout()


def _runtime(server: Dovecot, work: Path, enrich: bool, batch_size: int | None,
             writer: str = "process") -> Any:
    from inbox.app.config import load as load_config
    from inbox.app.runtime import Runtime

    toml = work / "inbox.toml"
    toml.write_text(
        f'[[email.mailboxes]]\nname = "support"\nurl = "{server.url()}"\n'
        f'password = "{PASSWORD}"\nattachments_dir = "{work / "attachments"}"\n'
        + (f"batch_size = {batch_size}\n" if batch_size else ""))
    query = "?writer=thread" if writer == "thread" else ""
    env = {"INBOX_STORE": f"sqlite:///{work}/inbox.db{query}",
           "INBOX_ENRICH": str(enrich).lower()}
    return Runtime(load_config(toml, env), env, replies=False)


async def _catch_up(runtime: Any, server: Dovecot) -> asyncio.Task[Any]:
    """Run the connector as `inbox serve` does until it has synced every UID and IDLEs;
    prints where the time went. Returns the stopping of the connector (a session in IDLE
    takes up to a second to end), to be awaited outside the measurement."""
    (connector,) = runtime.connectors
    last = (await asyncio.to_thread(server.uids))[1][-1]
    ctx = runtime.context_for(connector)
    spent = {"ingest": 0.0, "ingest_normalized": 0.0, "save_cursor": 0.0, "stored_meta": 0.0}

    def timed(name: str) -> Any:
        call = getattr(ctx, name)

        async def wrapper(*args: Any) -> Any:
            start = time.perf_counter()
            try:
                return await call(*args)
            finally:
                spent[name] += time.perf_counter() - start
        return wrapper

    start = time.perf_counter()
    polling = 0.0
    task = asyncio.create_task(connector.run(dataclasses.replace(
        ctx, **{name: timed(name) for name in spent if getattr(ctx, name, None)})))
    while not (connector.status()["state"] == "idle"
               and (connector.status()["cursor"] or {}).get("last_uid") == last):
        if task.done():
            task.result()
        if not polling and connector.status()["state"] == "polling":
            polling = time.perf_counter() - start
        await asyncio.sleep(0.005)
    ingest = spent["ingest"] + spent["ingest_normalized"]
    print(f"  (of which {polling:.2f} s to connect, log in and SELECT; waiting on "
          f"Runtime.ingest {ingest:.2f} s, on cursor saves {spent['save_cursor']:.2f} s,"
          f" on the store's lookups of stored mail {spent['stored_meta']:.2f} s)", flush=True)

    async def stop() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    return asyncio.create_task(stop())


def _stored(work: Path) -> int:
    with sqlite3.connect(work / "inbox.db") as db:
        return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])


async def _idle(runtime: Any, server: Dovecot, count: int) -> list[float]:
    """Delivery times (s) of `count` mails appended one by one while the connector IDLEs."""
    (connector,) = runtime.connectors
    rng = random.Random(99)
    sent: list[tuple[str, str]] = []
    delays: list[float] = []
    async with runtime.events.subscribe() as queue:
        task = asyncio.create_task(connector.run(runtime.context_for(connector)))
        try:
            async with asyncio.timeout(60):
                while connector.status()["state"] != "idle":
                    await asyncio.sleep(0.05)
            for n in range(count):
                raw = realistic_mail(100_000 + n, rng, sent)
                start = time.perf_counter()
                await asyncio.to_thread(server.append, raw)
                try:
                    async with asyncio.timeout(30):
                        while (await queue.get()).kind != "message.created":
                            pass
                except TimeoutError:
                    raise RuntimeError(f"no delivery in 30 s: {connector.status()}") from None
                delays.append(time.perf_counter() - start)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return delays


async def _without_store(runtime: Any) -> None:
    """The whole mailbox again, from UID 1, into an ingest that stores nothing: what the
    connector alone (fetch and parse) does, Runtime.ingest aside."""
    from inbox.ports import ConnectorContext, IngestResult

    (connector,) = runtime.connectors

    async def ingest(batch: Any) -> IngestResult:
        return IngestResult()

    async def nothing(*_: Any) -> None:
        return None

    await connector.poll_once(ConnectorContext(ingest, nothing, nothing, nothing))


async def run(args: argparse.Namespace) -> None:
    report: list[dict[str, Any]] = []
    print(f"cores {os.cpu_count()}, load average {os.getloadavg()}, "
          f"python {sys.version.split()[0]}")
    count = args.messages
    server = Dovecot(require_dovecot())
    server.start()
    assert server.process is not None
    sampler = WorkerSampler(exclude=server.process.pid)
    work = Path(tempfile.mkdtemp(prefix="bench-email-"))
    profiler = cProfile.Profile() if args.profile else None
    try:
        await asyncio.to_thread(fill_apart, server, count)
        floor = await asyncio.to_thread(subprocess.run, [
            sys.executable, "-m", "bench.email", "--floor", str(server.port)],
            check=True, capture_output=True)
        wall, cpu = map(float, floor.stdout.split())
        print(f"{'IMAP floor':<14} {count:>6} msgs  {wall:7.2f} s  {count / wall:8.0f} msgs/s  "
              f"CPU {cpu:6.2f} s (a process of its own)", flush=True)
        runtime = _runtime(server, work, args.enrich, args.batch_size, args.writer)
        await runtime.start()
        print(f"runtime started: RSS {_status_mb('VmRSS'):.0f} MB")
        try:
            runtime.start_enrichment()  # as `inbox serve` does, with the pollers (if on)
            if profiler:
                profiler.enable()
            with measured("first sync", count, report, sampler):
                stopping = await _catch_up(runtime, server)
            await stopping
            stored = _stored(work)
            await asyncio.to_thread(fill_apart, server, count, True)
            with measured("re-delivery", count, report, sampler):
                stopping = await _catch_up(runtime, server)
            await stopping
            if profiler:
                profiler.disable()
                profiler.dump_stats(args.profile)
            print(f"stored {stored} on first sync; re-delivery stored {_stored(work) - stored}")
            delays = await _idle(runtime, server, args.idle)
            p50 = statistics.median(delays)
            p95 = statistics.quantiles(delays, n=20)[-1]
            print(f"IDLE delivery over {len(delays)} appends: p50 {p50:.3f} s, p95 {p95:.3f} s")
            total = len(server.uids()[1])
            with measured("no store", total, report, sampler):
                await _without_store(runtime)
        finally:
            await runtime.aclose()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        sampler.sample()
        print(f"peak RSS: this process (the poller) {peak:.0f} MB, parse workers "
              f"{sampler.peak_mb.get('parse', 0):.0f} MB each at most, enrichment worker "
              f"{sampler.peak_mb.get('enrichment', 0):.0f} MB (now "
              f"{sampler.now_mb.get('enrichment', 0):.0f} MB)")
    finally:
        sampler.stop()
        server.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--idle", type=int, default=50, help="appends timed under IDLE")
    parser.add_argument("--enrich", action="store_true", help="language and sentiment on")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="the mailbox's batch_size (default: the setting's default)")
    parser.add_argument("--writer", choices=("thread", "process"), default="process",
                        help="the SQLite store's batches: written by its writer process "
                             "(as served), or by its writer thread")
    parser.add_argument("--profile", help="write a cProfile of both syncs to this file")
    parser.add_argument("--fill", type=int, help=argparse.SUPPRESS)  # child: Dovecot's port
    parser.add_argument("--again", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--floor", type=int, help=argparse.SUPPRESS)  # child: Dovecot's port
    args = parser.parse_args(argv)
    if args.fill:
        fill(args.fill, args.messages, args.again)
        return
    if args.floor:  # a child, so that its 32 MB FETCHes stay out of the poller's memory
        from connectors.email import FETCH_CHUNK_BYTES

        wall, cpu = time.perf_counter(), time.process_time()
        imap_floor(args.floor, FETCH_CHUNK_BYTES)
        print(time.perf_counter() - wall, time.process_time() - cpu)
        return
    from inbox.app.cli import collect_less

    collect_less()  # the garbage collector as the `inbox` command sets it
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
