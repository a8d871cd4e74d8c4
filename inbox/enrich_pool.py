"""Enrichment in worker processes: once they are started, the ingesting process (a poller,
a web server running the pollers) no longer loads the models (fastText's language model and
the sentiment model's weights: about 75 MB of its memory).

The workers start with the pollers (`Runtime.start_workers`) or with the first large
batch (a sync). From then on every batch goes to them, from an IDLE push's or a web
form's single item (one round trip to a warm worker, well under a millisecond) to a
sync's thousands, which are split over the workers and enriched on the other cores while
the ingesting process plans the batch. A process that never started them (a web-only
server) enriches its small batches itself rather than keep a worker for them. A worker
that dies is replaced at the next batch (which waits for it to load the models, about
1 s), and its batch is enriched here (this process loads the models then). Per item, the
result or the exception it raised.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from inbox.enrich import LANGUAGES, Enricher, Enrichment

log = logging.getLogger(__name__)
MIN_POOLED = 32  # a batch this large starts the workers (smaller ones wait for them)
MIN_PART = 32  # items at least in each worker's part of a batch (fewer: one worker has it)
PARENT_CHECK = 1.0  # seconds between a worker's checks that the ingesting process lives

Outcome = Enrichment | Exception
_WORKER: Enricher | None = None  # the worker process's own


def _start_worker(languages: tuple[str, ...]) -> None:
    global _WORKER  # noqa: PLW0603 - one per worker process
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True,
                     name="parent-watch").start()
    _WORKER = Enricher(languages)
    _WORKER("warm up the models")
    _release_free_memory()


def _release_free_memory() -> None:
    """Give the memory freed while loading the models back to the system (glibc keeps
    freed heap pages resident: about 10 MB of the worker's RSS otherwise)."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: its malloc may not keep them
        pass


def _exit_with_parent(parent: int) -> None:
    """A killed ingesting process (SIGKILL) leaves no worker behind: it exits within a
    second (it would otherwise wait for work forever)."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK)
    os._exit(0)


def _noop() -> None:
    return None


def _enrich_in_worker(items: Sequence[tuple[str, str | None]]) -> list[Outcome]:
    assert _WORKER is not None
    return enrich_each(_WORKER, items)


def enrich_each(enricher: Enricher, items: Sequence[tuple[str, str | None]]) -> list[Outcome]:
    """Each (text, lang) enriched, or the exception it raised."""
    out: list[Outcome] = []
    for text, lang in items:
        try:
            out.append(enricher(text, lang))
        except Exception as exc:  # noqa: BLE001 - the item's, reported with it
            out.append(exc)
    return out


class EnricherPool:
    """`many(items)`: a batch's enrichments, from `workers` worker processes once started
    (none: here)."""

    def __init__(self, enricher: Enricher, workers: int = 1,
                 languages: tuple[str, ...] = LANGUAGES) -> None:
        self.enricher, self.workers, self.languages = enricher, workers, languages
        self._pool: ProcessPoolExecutor | None = None
        self._started = False

    @property
    def started(self) -> bool:
        """Were the workers started (then every batch goes to them, a dead one replaced)?"""
        return self._started

    def start(self) -> ProcessPoolExecutor:
        """Start the workers now (they load the models in the background), if not yet."""
        self._started = True
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker, initargs=(self.languages,))
            for _ in range(self.workers):
                self._pool.submit(_noop)
        return self._pool

    def wait_ready(self) -> None:
        """Block until the workers have loaded their models (benchmarks: a poller's pool
        starts with the process)."""
        pool = self.start()
        for done in [pool.submit(_noop) for _ in range(self.workers)]:
            done.result()

    async def many(self, items: Sequence[tuple[str, str | None]]) -> list[Outcome]:
        if self.workers < 1 or (len(items) < MIN_POOLED and not self._started):
            return enrich_each(self.enricher, items)
        if not items:
            return []
        size = max(MIN_PART, -(-len(items) // self.workers))
        pool = None
        try:
            pool = self.start()
            parts = await asyncio.gather(*(
                asyncio.wrap_future(pool.submit(_enrich_in_worker, items[i:i + size]))
                for i in range(0, len(items), size)))
        except Exception as exc:  # noqa: BLE001 - a worker died: enrich here, start anew
            log.warning("enrichment worker failed, enriching in process",
                        extra={"error": f"{type(exc).__name__}: {exc}"})
            self._discard(pool)
            return enrich_each(self.enricher, items)
        return [outcome for part in parts for outcome in part]

    def close(self, wait: bool = False) -> None:
        """Stop the workers (`wait`: until they have exited); the next large batch starts
        them anew."""
        self._started = False
        self._discard(self._pool, wait)

    def _discard(self, pool: ProcessPoolExecutor | None, wait: bool = False) -> None:
        """Stop this pool; the next batch starts anew (unless a concurrent batch already
        has: its new pool is left alone)."""
        if pool is not None:
            if self._pool is pool:
                self._pool = None
            pool.shutdown(wait=wait, cancel_futures=True)


@functools.cache
def shared_pool(workers: int, languages: tuple[str, ...] = LANGUAGES) -> EnricherPool:
    """The process's pool: every ingestor of the process shares its workers (started once,
    by `start()` or the first large batch; stopped when the process exits)."""
    return EnricherPool(Enricher(languages), workers, languages)
