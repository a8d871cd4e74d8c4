"""SQLite plumbing: one writer thread fed by a queue, readers on a small pool (reads of rows
by their keys run in the calling thread)."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar, cast

from inbox import analysis
from inbox.errors import ConflictError, InboxError, StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
Op = Callable[[sqlite3.Connection], T]
_STOP = object()
READER_CACHE_KIB = 64 * 1024  # each reader connection's page cache


def _fold(text: str | None) -> str | None:
    """Folded text, for the triggers of older schemas (their indexes are refilled at 12)."""
    return None if text is None else analysis.fold(text)


class FileTurn:
    """The writers of one SQLite file take turns through a lock file beside it (`flock`): the
    writer thread and the writer process of one store, and those of every other process. A
    waiting writer is woken as soon as the one before it ends. SQLite's own busy wait sleeps
    (up to 100 ms) and tries again, and loses, for seconds, to a writer process committing
    batch after batch (cursor saves and agents' actions during a first sync)."""

    def __init__(self, path: str) -> None:
        self._fd = (None if path == ":memory:" or path.startswith("file:")
                    else os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o664))

    def __enter__(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def in_transaction(conn: sqlite3.Connection, op: Op[T]) -> T:
    """`op` in one write transaction: committed, or rolled back and its error raised."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = op(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # not when SQLite ended it (a full disk, an I/O error)
            conn.execute("ROLLBACK")
        raise
    return result


def connect(path: str, durable: bool = True) -> sqlite3.Connection:
    """A connection; `durable=False` (throwaway stores: the demo, benchmarks) skips the disk
    syncs, so a power cut may lose recent commits."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
    conn.create_function("fold", 1, _fold, deterministic=True)
    conn.create_function("words", 2, analysis.words, deterministic=True)
    conn.create_function("extras", 3, analysis.extras, deterministic=True)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # durable: an acknowledged commit survives a crash
    conn.execute("PRAGMA synchronous=FULL" if durable else "PRAGMA synchronous=OFF")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


class Database:
    """Runs `def op(conn) -> T` functions: writes in one transaction on the writer thread."""

    def __init__(self, path: str, readers: int = 3, durable: bool = True,
                 committed: Callable[[], None] = lambda: None) -> None:
        self.path, self.durable = path, durable
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="sqlite-read")
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.committed = committed  # after each commit: what readers kept may be older

    def start(self, init: Op[None]) -> None:
        ready: Future[None] = Future()
        self._writer = threading.Thread(target=self._run_writer, args=(init, ready),
                                        name="sqlite-writer", daemon=True)
        self._writer.start()
        ready.result()

    def _run_writer(self, init: Op[None], ready: Future[None]) -> None:
        try:
            turn = FileTurn(self.path)
        except OSError as exc:
            ready.set_exception(StoreUnavailable(f"SQLite store error: {exc}"))
            return
        try:
            conn = connect(self.path, self.durable)
            with turn:
                init(conn)
        except Exception as exc:  # noqa: BLE001 - handed to the caller of start()
            turn.close()
            ready.set_exception(_translate(exc))
            return
        ready.set_result(None)
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            op, fut = cast(tuple[Op[object], Future[object]], item)
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                with turn:
                    result = in_transaction(conn, op)
                self.committed()
            except Exception as exc:  # noqa: BLE001 - handed to the awaiting caller
                fut.set_exception(_translate(exc))
            else:
                fut.set_result(result)
        conn.close()
        turn.close()

    async def write(self, op: Op[T]) -> T:
        if self._writer is None or not self._writer.is_alive():
            raise StoreUnavailable("the SQLite store is closed")
        fut: Future[T] = Future()
        self._queue.put((op, fut))
        return await asyncio.wrap_future(fut)

    def _reader_conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            conn.execute("PRAGMA query_only=ON")
            # a search at a million messages reads about 50 MB of facts and word index
            # pages; SQLite's default 2 MB page cache would read them again every time
            conn.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
            self._local.conn = conn
            with self._lock:
                self._reader_conns.append(conn)
        return conn

    async def read(self, op: Op[T]) -> T:
        """A read on one of the reader threads (searches, lists, reports)."""
        return await asyncio.get_running_loop().run_in_executor(self._readers, self.lookup, op)

    def lookup(self, op: Op[T]) -> T:
        """A read of rows by their keys through an index (a batch's message ids, identities,
        thread keys and conversations), run at once in the calling thread: such a read takes
        less than the hop to a reader thread and back, which was a tenth of a batch's
        planning (and the planning around it runs in the event loop's thread all the same)."""
        try:
            return op(self._reader_conn())
        except Exception as exc:
            raise _translate(exc) from exc

    def close(self) -> None:
        if self._writer is not None:
            self._queue.put(_STOP)
            self._writer.join()
            self._writer = None
        self._readers.shutdown(wait=True)
        with self._lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()


def _translate(exc: BaseException) -> BaseException:
    if isinstance(exc, InboxError):
        return exc
    if isinstance(exc, sqlite3.IntegrityError):
        return ConflictError(f"already exists: {exc}")
    if isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError):
        log.warning("sqlite error", extra={"error": str(exc)})
        return StoreUnavailable(f"SQLite store error: {exc}")
    return exc
