"""The SQLite store's batch writes in a process of their own (`SqliteStore.submit_write`), so
that a batch is written on one core while ingest plans the next on the other.

Only WriteBatches go there: their rows are made here (search.sqlite_batch.batch_rows),
pickled and sent on a pipe; the child runs the SQL. Every other write
(collections, agents' changes, a batch written in its turn with `write`) stays on the writer
thread of search.sqlite_db. The two take turns, with every other process's writers, through
the store's lock file (search.sqlite_db.FileTurn); versions catch what one planned over the
other's write (ConflictError).

A write's future ends once the child has committed it (synchronous=FULL when durable):
acknowledged means committed. Writes are applied in the order they were handed in. A write
may be chained (`submit(batch, after=n)`): the child applies it only if write `n` was
committed and answers "skipped" otherwise (ConflictError), so that ingest can hand in a
batch planned over the one before without waiting for that one's commit. The writes waiting
in the pipe when the child starts a transaction go in it together (group commit), and the
child copies the WAL into the database file in a thread of its own (checkpoints).

The child is started on the first write handed in, in the background (until it runs, ingest
writes on the thread). If it dies, the writes in flight fail with StoreUnavailable (one may
have committed: ingest plans them again from the store, which finds it) and the next write
handed in starts a new child. When the parent dies, the child reads the end of its pipe and
exits.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import logging
import os
import pickle
import queue
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection

from inbox.errors import ConflictError, StoreRefused, StoreUnavailable
from inbox.store import Submitted, WriteBatch
from search.sqlite_batch import BatchRows, batch_rows, write_rows
from search.sqlite_db import FileTurn, _translate, connect, in_transaction

log = logging.getLogger(__name__)

_END = b"end"
_OK = b"ok"
_SKIPPED = b"skipped"
_KEEP = 4096  # how many recent writes' outcomes the child remembers for chained writes
RESTART_AFTER = 5.0  # seconds between attempts to start a child that failed to start
GROUP = 8  # at most this many writes waiting in the pipe are committed together
CHECKPOINT_EVERY = 32  # commits of the writer process between two checkpoints (WAL of ~80 MB)


def _serve(path: str, durable: bool, inbox: Connection, replies: Connection) -> None:
    """The child: apply the writes received, those waiting together in one transaction,
    and answer each once committed."""
    try:
        conn, turn = connect(path, durable), FileTurn(path)
    except Exception as exc:  # noqa: BLE001 - handed to the parent's start()
        replies.send_bytes(pickle.dumps(("StoreUnavailable", str(exc), ())))
        return
    replies.send_bytes(_OK)
    committed: dict[int, bool] = {}  # number -> committed, for the writes chained to it
    checkpoints = _Checkpoints(path, durable)
    conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpoints' thread does it
    try:
        ended = False
        while not ended:
            group, ended = _waiting(inbox)
            for number, reply in _apply(conn, turn, group, committed) if group else ():
                committed[number] = reply == _OK
                replies.send_bytes(reply)
            checkpoints.committed(conn)
            if len(committed) > _KEEP:
                newest = max(committed)
                committed = {n: ok for n, ok in committed.items() if n > newest - _KEEP // 2}
        replies.send_bytes(_END)
    except (EOFError, OSError):
        pass  # the parent is gone: nothing is waiting for an answer
    finally:
        checkpoints.close()
        conn.close()
        turn.close()


class _Checkpoints:
    """The writer process's checkpoints (the WAL's pages copied into the database file), in
    a thread of their own: every CHECKPOINT_EVERY commits, or a second after a commit. In
    the committing connection (SQLite's wal_autocheckpoint) the copy and its sync were a
    tenth of the writer's time, and one in two batches waited for them; the less often, the
    more of the pages batches share are copied once.

    Once the thread has copied what was there when it started, the committing connection
    copies the few commits made meanwhile, between two of its own: the WAL is then copied
    whole, and SQLite writes the next commit at its start again, over pages the file already
    has, instead of growing it for ever (188 MB for 9,317 messages, every commit growing the
    file: a commit took 30% longer, and the WAL had no bound while writes kept coming)."""

    def __init__(self, path: str, durable: bool) -> None:
        self._wake = threading.Event()
        self._copied = threading.Event()  # the thread's checkpoint ended: finish it
        self._commits = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, args=(path, durable), daemon=True,
                                        name="sqlite-checkpoints")
        self._thread.start()

    def committed(self, conn: sqlite3.Connection) -> None:
        """After each commit of `conn` (which checkpoints itself if the thread stopped)."""
        self._commits += 1
        if self._copied.is_set():
            self._copied.clear()
            try:  # the commits made meanwhile
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:  # committed all the same: the next copy tries again
                log.warning("SQLite checkpoint failed", extra={"error": str(exc)})
        if self._commits >= CHECKPOINT_EVERY:
            if self._thread.is_alive():
                self._wake.set()
            else:
                self._commits = 0
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _run(self, path: str, durable: bool) -> None:
        conn = connect(path, durable)
        try:
            while not self._closed:
                self._wake.wait(timeout=1.0)
                self._wake.clear()
                if self._commits:
                    self._commits = 0
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    self._copied.set()
        except sqlite3.Error as exc:  # the commits' connection checkpoints from now on
            log.warning("SQLite checkpoints stopped", extra={"error": str(exc)})
        finally:
            conn.close()

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._thread.join()


def _waiting(inbox: Connection) -> tuple[list[bytes], bool]:
    """The next write (waited for) and those already waiting behind it, up to GROUP; and
    whether the parent has ended the pipe."""
    group: list[bytes] = []
    while not group or (len(group) < GROUP and inbox.poll()):
        data = inbox.recv_bytes()
        if data == _END:
            return group, True
        group.append(data)
    return group, False


_Write = tuple[int, int | None, BatchRows]  # number, the number it is chained to, rows


def _apply(conn: sqlite3.Connection, turn: FileTurn, group: list[bytes],
           committed: dict[int, bool]) -> list[tuple[int, bytes]]:
    """Each write's answer, the group written in one transaction (group commit: one sync
    and one copy of the pages they share). When a write in it fails, the transaction is
    rolled back and each write is then applied in one of its own, so that the failing one
    fails alone (savepoints around each write cost a copy of every page it changes)."""
    writes: list[_Write] = [pickle.loads(data) for data in group]  # noqa: S301 - our parent's
    answers: dict[int, bytes] = {}
    if len(writes) > 1:
        try:
            _commit(conn, turn, writes, committed, answers)
        except Exception:  # noqa: BLE001 - each write alone now, to find which
            answers = {}
        else:
            return [(number, answers[number]) for number, _, _ in writes]
    for write in writes:
        try:
            _commit(conn, turn, [write], committed, answers)
        except Exception as exc:  # noqa: BLE001 - handed to the writer's caller
            answers[write[0]] = _failure(exc)
    return [(number, answers[number]) for number, _, _ in writes]


def _commit(conn: sqlite3.Connection, turn: FileTurn, writes: list[_Write],
            committed: dict[int, bool], answers: dict[int, bytes]) -> None:
    """Apply writes in one transaction, in the store's turn (its writer thread's and other
    processes' writers'); `answers` told each one's outcome: a write chained to one that was
    not committed, nor written before it here, is skipped."""

    def op(conn: sqlite3.Connection) -> None:
        for number, after, rows in writes:
            if after is not None and not (committed.get(after, False)
                                          or answers.get(after) == _OK):
                answers[number] = _SKIPPED
                continue
            write_rows(rows, checked=True)(conn)
            answers[number] = _OK

    with turn:
        in_transaction(conn, op)


def _failure(exc: Exception) -> bytes:
    error = _translate(exc)
    ids = error.ids if isinstance(error, StoreRefused) else ()
    return pickle.dumps((type(error).__name__, str(error), ids))


def _error(reply: bytes) -> Exception:
    kind, message, ids = pickle.loads(reply)  # noqa: S301 - our own child's bytes
    if kind == "StoreRefused":
        return StoreRefused(message, tuple(ids))
    if kind in ("ConflictError", "StaleVersion"):
        return ConflictError(message)
    return StoreUnavailable(message)


def _reap(process: subprocess.Popen[bytes]) -> int:
    """The exit code of a child whose pipe has ended (killed if it lingers)."""
    try:
        return process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


@dataclass
class _Child:
    """One child process and the two threads that talk to it."""

    process: subprocess.Popen[bytes]
    outbox: queue.SimpleQueue[bytes]
    pending: collections.deque[Future[None]]
    threads: tuple[threading.Thread, ...] = ()
    alive: bool = True


class WriterProcess:
    """Applies WriteBatches in a child process, in the order they are handed in."""

    def __init__(self, path: str, durable: bool,
                 committed: Callable[[], None] = lambda: None) -> None:
        self.path, self.durable = path, durable
        self._committed = committed  # after each commit: what readers kept may be older
        self._lock = threading.Lock()  # a write's place in the pipe = its place in pending
        self._child: _Child | None = None
        self._starting: threading.Thread | None = None
        self._failed_at = float("-inf")  # when a start last failed
        self._closed = False
        self._number = 0  # the number of the last write handed in
        self.starts = 0  # children started (a restart after a death counts)

    @property
    def pid(self) -> int | None:
        """The running child's process id."""
        child = self._child
        return child.process.pid if child is not None and child.alive else None

    @property
    def in_flight(self) -> int:
        """How many writes were handed to the running child and not answered yet."""
        child = self._child
        return len(child.pending) if child is not None else 0

    def start(self) -> None:
        """Start a child now, unless one runs, and wait until it has opened the store
        (StoreUnavailable when it cannot)."""
        if self.pid is not None:
            return
        child = self._spawn()
        with self._lock:
            spare = self._closed or self.pid is not None  # closed, or started meanwhile
            if not spare:
                self._child = child
                self.starts += 1
        if spare:
            self._stop(child)

    def _spawn(self) -> _Child:
        # a fresh interpreter with the store's modules only (no fork of a process with
        # threads; not multiprocessing's spawn, which imports the parent's main module)
        inbox_r, inbox_fd = os.pipe()
        replies_fd, replies_w = os.pipe()
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [root, *filter(None, [os.environ.get("PYTHONPATH")])])}
        process = subprocess.Popen(  # noqa: S603 - our own module, no shell
            [sys.executable, "-m", "search.sqlite_writer", str(inbox_r), str(replies_w),
             "1" if self.durable else "0", ",".join(map(str, gc.get_threshold())),
             self.path],
            pass_fds=(inbox_r, replies_w), env=env, stdin=subprocess.DEVNULL)
        os.close(inbox_r)
        os.close(replies_w)
        inbox_w = Connection(inbox_fd, readable=False)
        replies_r = Connection(replies_fd, writable=False)
        try:
            first = replies_r.recv_bytes()
        except (EOFError, OSError):
            first = pickle.dumps(("StoreUnavailable", "the SQLite writer process did not "
                                  "start", ()))
        if first != _OK:
            inbox_w.close()
            replies_r.close()
            process.kill()
            process.wait()
            raise _error(first)
        child = _Child(process, queue.SimpleQueue(), collections.deque())
        child.threads = (
            threading.Thread(target=self._send, args=(child, inbox_w), daemon=True,
                             name="sqlite-writer-send"),
            threading.Thread(target=self._receive, args=(child, replies_r), daemon=True,
                             name="sqlite-writer-receive"))
        for thread in child.threads:
            thread.start()
        return child

    def _start_in_background(self) -> None:
        """Called with the lock held, when no child runs."""
        if (self._closed or (self._starting is not None and self._starting.is_alive())
                or time.monotonic() - self._failed_at < RESTART_AFTER):
            return

        def start() -> None:
            try:
                self.start()
            except Exception as exc:  # noqa: BLE001 - writes stay on the thread meanwhile
                self._failed_at = time.monotonic()
                log.warning("the SQLite writer process did not start",
                            extra={"error": str(exc)})

        self._starting = threading.Thread(target=start, daemon=True,
                                          name="sqlite-writer-start")
        self._starting.start()

    @staticmethod
    def _send(child: _Child, pipe: Connection) -> None:
        try:
            while True:
                data = child.outbox.get()
                pipe.send_bytes(data)
                if data == _END:
                    return
        except OSError:
            return  # the child is gone: the receiver fails what is pending
        finally:
            pipe.close()

    def _receive(self, child: _Child, pipe: Connection) -> None:
        try:
            while (reply := pipe.recv_bytes()) != _END:
                with self._lock:
                    fut = child.pending.popleft()
                if reply == _OK:
                    self._committed()
                    fut.set_result(None)
                elif reply == _SKIPPED:
                    fut.set_exception(ConflictError("not written: the batch it was planned "
                                                    "over was not"))
                else:
                    fut.set_exception(_error(reply))
        except (EOFError, OSError):
            pass
        finally:
            pipe.close()
            with self._lock:
                child.alive = False
                lost = list(child.pending)
                child.pending.clear()
                if self._child is child:
                    self._child = None
            child.outbox.put(_END)  # the sender stops too
            code = _reap(child.process)
            if lost or not self._closed:
                log.warning("the SQLite writer process stopped",
                            extra={"exit_code": code, "writes_in_flight": len(lost)})
            for fut in lost:  # one may have committed: its writer plans it again
                fut.set_exception(StoreUnavailable("the SQLite writer process stopped"))

    def submit(self, batch: WriteBatch, after: int | None = None) -> Submitted | None:
        """Hand in a write now (in the event loop's thread): its number, and its end once
        committed (or why not). With `after`, it is applied only if the write numbered
        `after` was committed (ConflictError otherwise). None when no child runs (one is
        being started): write it another way."""
        loop = asyncio.get_running_loop()
        fut: Future[None] = Future()
        if self.pid is None:
            with self._lock:
                self._start_in_background()
            return None
        refused: StoreRefused | None = None
        try:  # its rows made here, outside the lock: the child only runs SQL
            rows = batch_rows(batch)
        except StoreRefused as exc:
            refused = exc
        with self._lock:
            child = self._child
            if child is None or not child.alive:
                self._start_in_background()
                return None
            self._number += 1
            number = self._number
            if refused is None:
                try:
                    data = pickle.dumps((number, after, rows), protocol=5)
                except (pickle.PicklingError, TypeError, ValueError, RecursionError) as exc:
                    refused = StoreRefused(f"not storable: {type(exc).__name__}: {exc}")
            if refused is not None:  # never sent: a write chained to it is skipped
                fut.set_exception(refused)
            else:
                child.pending.append(fut)
                child.outbox.put(data)
        return Submitted(number, asyncio.wrap_future(fut, loop=loop))

    def kill(self) -> None:
        """SIGKILL the child (tests: a crash mid-write)."""
        child = self._child
        if child is not None:
            child.process.kill()

    def close(self) -> None:
        """Pending writes are finished first."""
        with self._lock:
            self._closed = True
            child, starting = self._child, self._starting
        if starting is not None:
            starting.join()
            child = self._child
        if child is not None:
            self._stop(child)
        self._child = None

    @staticmethod
    def _stop(child: _Child) -> None:
        child.outbox.put(_END)
        for thread in child.threads:
            thread.join()
        child.process.wait()


if __name__ == "__main__":  # the child: FD_IN FD_OUT DURABLE(1|0) GC_THRESHOLDS PATH
    gc.set_threshold(*map(int, sys.argv[4].split(",")))  # the parent's (inbox.app.cli)
    _serve(sys.argv[5], sys.argv[3] == "1", Connection(int(sys.argv[1]), writable=False),
           Connection(int(sys.argv[2]), readable=False))
