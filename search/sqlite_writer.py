"""PROTOTYPE (issue 11, off by default): the SQLite store's batch writes in a process of
their own, so that they run on the other core while this process plans the next batch.

Only WriteBatches go there (they are data: pickled and sent on a pipe); every other write
(collections, closures) stays on the writer thread of search.sqlite_db, and SQLite's file
lock orders the two writers (busy_timeout). A write's future is resolved once the child
has committed it (synchronous=FULL when durable): acknowledged means committed. Batches
are committed in the order they were handed in.

A write may be chained (`submit(batch, after=seq)`): the child applies it only if the write
`seq` was committed, and answers "skipped" (ConflictError) otherwise, so that ingest can
hand in a batch planned over the one before without waiting for that one's commit.

Not done (see bench/README.md "Issue 11: writer process spike"): the child's death is
reported as StoreUnavailable to the writes in flight (one may have committed: ingest's
replanning finds it), but the child is not restarted; no contract test runs the whole
suite on this mode.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from multiprocessing.connection import Connection

from inbox.errors import ConflictError, StoreRefused, StoreUnavailable
from inbox.store import WriteBatch
from search.sqlite_db import _translate, connect
from search.sqlite_repository import write_batch

_END = b"end"
_OK = b"ok"
_SKIPPED = b"skipped"
_KEEP = 4096  # how many recent writes' outcomes the child remembers for chained writes


def _serve(path: str, durable: bool, inbox: Connection, replies: Connection) -> None:
    """The child: apply each batch received in one transaction, answer once committed."""
    try:
        conn = connect(path, durable)
    except Exception as exc:  # noqa: BLE001 - handed to the parent's start()
        replies.send_bytes(pickle.dumps(("StoreUnavailable", str(exc), ())))
        return
    replies.send_bytes(_OK)
    committed: dict[int, bool] = {}  # seq -> committed, for the writes chained to it
    while (data := inbox.recv_bytes()) != _END:
        seq, after, batch = pickle.loads(data)  # noqa: S301 - our own parent's bytes
        if len(committed) > _KEEP:
            committed = {s: ok for s, ok in committed.items() if s > seq - _KEEP // 2}
        committed[seq] = False
        if after is not None and not committed.get(after, False):
            replies.send_bytes(_SKIPPED)
            continue
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                write_batch(batch, checked=True)(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except Exception as exc:  # noqa: BLE001 - handed to the writer's caller
            error = _translate(exc)
            ids = error.ids if isinstance(error, StoreRefused) else ()
            replies.send_bytes(pickle.dumps((type(error).__name__, str(error), ids)))
        else:
            committed[seq] = True
            replies.send_bytes(_OK)
    conn.close()
    replies.send_bytes(_END)


def _error(reply: bytes) -> Exception:
    kind, message, ids = pickle.loads(reply)  # noqa: S301 - our own child's bytes
    if kind == "StoreRefused":
        return StoreRefused(message, tuple(ids))
    if kind in ("ConflictError", "StaleVersion"):
        return ConflictError(message)
    return StoreUnavailable(message)


class WriterProcess:
    """Applies WriteBatches in a child process, in the order they are handed in."""

    def __init__(self, path: str, durable: bool,
                 committed: Callable[[], None] = lambda: None) -> None:
        self.path, self.durable = path, durable
        self._committed = committed  # after each commit: what readers kept may be older
        self._outbox: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._pending: collections.deque[Future[None]] = collections.deque()
        self._lock = threading.Lock()  # a batch's place in the pipe = its place in _pending
        self._threads: list[threading.Thread] = []
        self._child: subprocess.Popen[bytes] | None = None
        self._alive = False
        self._seq = 0  # the number of the last write handed in

    def start(self) -> None:
        # a fresh interpreter with the store's modules only (no fork of a process with
        # threads; not multiprocessing's spawn, which imports the parent's main module)
        inbox_r, inbox_fd = os.pipe()
        replies_fd, replies_w = os.pipe()
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [root, *filter(None, [os.environ.get("PYTHONPATH")])])}
        self._child = subprocess.Popen(  # noqa: S603 - our own module, no shell
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
        except EOFError:
            first = pickle.dumps(("StoreUnavailable", "the SQLite writer process did not "
                                  "start", ()))
        if first != _OK:
            self._child.wait()
            inbox_w.close()
            replies_r.close()
            raise _error(first)
        self._alive = True
        self._threads = [
            threading.Thread(target=self._send, args=(inbox_w,), daemon=True,
                             name="sqlite-writer-send"),
            threading.Thread(target=self._receive, args=(replies_r,), daemon=True,
                             name="sqlite-writer-receive")]
        for thread in self._threads:
            thread.start()

    def _send(self, pipe: Connection) -> None:
        try:
            while True:
                data = self._outbox.get()
                pipe.send_bytes(data)
                if data == _END:
                    return
        except OSError:
            return  # the child is gone: the receiver fails what is pending
        finally:
            pipe.close()

    def _receive(self, pipe: Connection) -> None:
        try:
            while (reply := pipe.recv_bytes()) != _END:
                with self._lock:
                    fut = self._pending.popleft()
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
                self._alive = False
                while self._pending:
                    self._pending.popleft().set_exception(
                        StoreUnavailable("the SQLite writer process stopped"))

    async def write(self, batch: WriteBatch) -> None:
        await self.submit(batch)[1]

    def submit(self, batch: WriteBatch, after: int | None = None
               ) -> tuple[int, asyncio.Future[None]]:
        """Hand in a write now (in the event loop's thread): its number, and the future
        that ends when it is committed (or raises why not). With `after`, it is applied
        only if the write numbered `after` was committed (ConflictError otherwise)."""
        loop = asyncio.get_running_loop()
        fut: Future[None] = Future()
        with self._lock:
            self._seq += 1
            seq = self._seq
            try:
                data = pickle.dumps((seq, after, batch), protocol=5)
            except (pickle.PicklingError, TypeError, ValueError, RecursionError) as exc:
                fut.set_exception(StoreRefused(f"not storable: {type(exc).__name__}: {exc}"))
            else:
                if not self._alive:
                    fut.set_exception(StoreUnavailable("the SQLite writer process is not "
                                                       "running"))
                else:
                    self._pending.append(fut)
                    self._outbox.put(data)
        return seq, asyncio.wrap_future(fut, loop=loop)

    def close(self) -> None:
        """Pending writes are finished first."""
        if self._child is None:
            return
        self._outbox.put(_END)
        for thread in self._threads:
            thread.join()
        self._child.wait()
        self._child = None



if __name__ == "__main__":  # the child: FD_IN FD_OUT DURABLE(1|0) GC_THRESHOLDS PATH
    gc.set_threshold(*map(int, sys.argv[4].split(",")))  # the parent's (inbox.app.cli)
    _serve(sys.argv[5], sys.argv[3] == "1", Connection(int(sys.argv[1]), writable=False),
           Connection(int(sys.argv[2]), readable=False))
