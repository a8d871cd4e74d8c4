"""Parsing fetched mail off the event loop: in a thread for a few, in worker processes for many.

``ParsePool.parse(raws, sizes)`` turns fetched mail into (uid, Inbound) pairs and dead letters
(uid, error). A handful of messages (IDLE, small polls) is parsed on a thread of this process;
a bulk sync is split over ``workers`` processes, so parsing uses the other core while this
process fetches the next batch and stores the previous one.

Each message is still parsed within its ``ParseLimits``; a worker process is capped besides
(address space, and a wall-clock deadline per piece of work). A worker that dies or overruns
is replaced and its messages are parsed again one by one: the one that kills or stalls a
worker again is dead-lettered, the others are stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import resource
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast

from connectors.email_config import MailboxConfig
from connectors.email_parse import EmailParseError, parse_message
from inbox.model import Inbound
from inbox.normalize import normalize_inbound

log = logging.getLogger(__name__)

PROCESS_THRESHOLD = 16  # fewer messages than this are parsed on a thread, not in workers
WORKER_ADDRESS_SPACE = 1024 * 1024 * 1024  # a worker's address space above what it starts with
SECONDS_PER_MESSAGE = 10.0  # deadline of one piece of work: this per message, at least 30 s
MIN_DEADLINE = 30.0
OWNER_CHECK_SECONDS = 1.0  # a worker outlives a killed owner by at most this
# Workers run at a lower priority than their poller: in a bulk sync they parse batches ahead
# of the one being stored, so when both want a core the store (which the sync waits on) gets
# it, and the workers take what is left (first sync of 5,000 mails on 2 cores: 2.2 s instead
# of 2.5 s, the same CPU). Mail of IDLE and small polls is parsed on a thread, as before.
WORKER_NICE = 10

Parsed = list[tuple[int, Inbound]]
Dead = list[tuple[int, str]]


class AttachmentWriter(Protocol):
    def write(self, ref: str, data: bytes) -> None:
        """Keep an attachment's content under its ref ("sha256:<hex>"); idempotent."""

    def path(self, ref: str) -> Path:
        """Where the content of a ref is kept (ValueError for refs it did not make)."""


@dataclass(frozen=True, slots=True)
class ParseJob:
    """What parsing a mailbox's mail needs; sent to the worker processes (picklable)."""

    config: MailboxConfig
    attachments: AttachmentWriter


def parse_fetched(job: ParseJob, raws: Mapping[int, bytes], sizes: Mapping[int, int],
                  received: datetime | None = None) -> tuple[Parsed, Dead]:
    """Parse fetched mail, UID order; attachments are written before their message returns.

    sizes holds the full size of the messages fetched only in part; received: when the mail
    came (now by default), the time of mail whose own date is unusable.
    """
    config = job.config
    parsed: Parsed = []
    dead: Dead = []
    received = received or datetime.now(UTC)
    for uid in sorted(raws):
        try:
            result = parse_message(raws[uid], max_attachment_bytes=config.max_attachment_bytes,
                                   limits=config.limits, size=sizes.get(uid))
            # where the mail is, added to the parse's own meta (a dict of its own, as the
            # parse makes it): the Inbound is not copied for it
            cast(dict[str, Any], result.inbound.meta).update(
                mailbox=config.name, folder=config.folder, imap_uid=uid)
            # normalised here, on the other cores: ingest takes it as it is
            inbound = normalize_inbound(result.inbound, received)
        except EmailParseError as exc:
            dead.append((uid, str(exc)))
            continue
        except Exception as exc:  # one odd mail must not stop the mailbox
            dead.append((uid, f"parser failed: {type(exc).__name__}: {exc}"))
            continue
        for ref, data in result.blobs.items():
            job.attachments.write(ref, data)
        parsed.append((uid, inbound))
    return parsed, dead


def _start_worker(owner: int) -> None:
    """Cap a worker's address space (what it uses at start plus WORKER_ADDRESS_SPACE), lower
    its priority (WORKER_NICE), and end it when the process it parses for is gone (killed:
    nothing else would end it)."""
    with open("/proc/self/statm") as f:  # noqa: PTH123 - once per worker
        pages = int(f.read().split()[0])
    space = pages * resource.getpagesize() + WORKER_ADDRESS_SPACE
    resource.setrlimit(resource.RLIMIT_AS, (space, space))
    os.nice(WORKER_NICE)
    threading.Thread(target=_exit_with, args=(owner,), daemon=True).start()


def _exit_with(owner: int) -> None:
    while True:
        time.sleep(OWNER_CHECK_SECONDS)
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:  # it exists
            pass


def _spawn(pool: ProcessPoolExecutor, workers: int) -> None:
    """Have the pool start its worker processes (it starts one for each job submitted)."""
    with contextlib.suppress(Exception):  # a pool that cannot start fails its first parse
        for _ in range(workers):
            pool.submit(os.getpid)


class _WorkerLost(Exception):
    """A worker died or overran its deadline on this piece of work."""


class ParsePool:
    """Parses a mailbox's fetched mail; worker processes start at the first bulk parse."""

    def __init__(self, job: ParseJob, workers: int = 2) -> None:
        self.job = job
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._alone = asyncio.Lock()  # mail retried one by one, one at a time

    async def parse(self, raws: Mapping[int, bytes], sizes: Mapping[int, int]
                    ) -> tuple[Parsed, Dead]:
        """(uid, Inbound) pairs in UID order, and (uid, error) of the mail that is not mail."""
        if self.workers < 1 or len(raws) < PROCESS_THRESHOLD:
            return await asyncio.to_thread(parse_fetched, self.job, raws, sizes)
        uids = sorted(raws)
        step = -(-len(uids) // self.workers)
        pieces = [uids[n:n + step] for n in range(0, len(uids), step)]
        results = await asyncio.gather(*(self._guarded(piece, raws, sizes) for piece in pieces))
        parsed: Parsed = []
        dead: Dead = []
        for ok, bad in results:
            parsed += ok
            dead += bad
        return parsed, dead

    def start(self) -> None:
        """Start the worker processes now, on a thread (the fork server imports the parser
        first, a few tenths of a second): the next bulk parse finds them started."""
        if self.workers < 1 or self._pool is not None:
            return
        threading.Thread(target=_spawn, args=(self._started(), self.workers), daemon=True,
                         name="email-parse-start").start()

    def close(self) -> None:
        """Stop the workers (they finish nothing more)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    async def _guarded(self, uids: Sequence[int], raws: Mapping[int, bytes],
                       sizes: Mapping[int, int]) -> tuple[Parsed, Dead]:
        try:
            return await self._run(uids, raws, sizes)
        except _WorkerLost:
            pass
        parsed: Parsed = []
        dead: Dead = []
        for uid in uids:  # again one by one: find the mail that kills or stalls a worker
            try:
                ok, bad = await self._alone_run(uid, raws, sizes)
            except _WorkerLost as exc:
                log.warning("email parse worker lost on one mail; dead-lettered",
                            extra={"uid": uid, "error": str(exc)})
                dead.append((uid, f"parser failed: {exc}"))
                continue
            parsed += ok
            dead += bad
        return parsed, dead

    async def _alone_run(self, uid: int, raws: Mapping[int, bytes], sizes: Mapping[int, int]
                         ) -> tuple[Parsed, Dead]:
        """One mail, no other retried with it; tried twice, since another piece's mail
        (of this batch's other half, or of the next batch) may have taken the worker down
        with it."""
        async with self._alone:
            try:
                return await self._run([uid], raws, sizes)
            except _WorkerLost:
                return await self._run([uid], raws, sizes)

    async def _run(self, uids: Sequence[int], raws: Mapping[int, bytes],
                   sizes: Mapping[int, int]) -> tuple[Parsed, Dead]:
        pool = self._started()
        part = {uid: raws[uid] for uid in uids}
        part_sizes = {uid: sizes[uid] for uid in uids if uid in sizes}
        deadline = max(MIN_DEADLINE, SECONDS_PER_MESSAGE * len(uids))
        future = asyncio.wrap_future(pool.submit(parse_fetched, self.job, part, part_sizes))
        try:
            return await asyncio.wait_for(future, deadline)
        except BrokenProcessPool:
            self._discard(pool)
            raise _WorkerLost("the parse worker died") from None
        except TimeoutError:
            self._discard(pool, kill=True)
            raise _WorkerLost(f"parsing took over {deadline:.0f} s") from None

    def _started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            # workers fork from a server that imported the parser once (for every pool)
            context.set_forkserver_preload([__name__])
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context,
                                             initializer=_start_worker,
                                             initargs=(os.getpid(),))
        return self._pool

    def _discard(self, pool: ProcessPoolExecutor, kill: bool = False) -> None:
        if self._pool is pool:
            self._pool = None
        processes: dict[int, Any] = dict(getattr(pool, "_processes", None) or {})
        pool.shutdown(wait=False, cancel_futures=True)
        if kill:  # a stalled worker does not stop by itself
            for process in processes.values():
                with contextlib.suppress(Exception):
                    process.kill()
