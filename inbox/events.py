"""In-process publish/subscribe of change events (live updates for agents).

Every event gets an id "<epoch>-<n>": n counts up in this process, the epoch is new at every
start. The newest `replay` events are kept, so a client that reconnects with the last id it
saw gets what it missed (`follow`); when that is no longer known (the id is older than the
buffer, from another process or from before a restart) it gets a RESYNC marker instead:
refetch what you show."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

from inbox.model import Event

RESYNC = "resync"  # the kind of the marker that says: events were missed, refetch
CLOSED = "closed"  # the kind of the marker that ends a feed (the server stops)
MAX_ID = 64  # an id longer than this is none of ours


@dataclass(frozen=True, slots=True)
class Numbered:
    """An event with its place in this process's stream."""

    epoch: str
    seq: int
    event: Event

    @property
    def id(self) -> str:
        return f"{self.epoch}-{self.seq}"


class Feed:
    """One live client's events, in order; a client too slow to keep up gets RESYNC."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Numbered] = asyncio.Queue(size)

    def put(self, item: Numbered) -> None:
        if self.queue.full():  # never block ingest: drop the backlog, tell the client
            while not self.queue.empty():
                self.queue.get_nowait()
            item = Numbered(item.epoch, item.seq, Event(RESYNC))
        self.queue.put_nowait(item)


class EventBus:
    def __init__(self, buffer: int = 1000, replay: int = 1000) -> None:
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._feeds: set[Feed] = set()
        self._buffer = buffer
        self._recent: deque[Numbered] = deque(maxlen=replay)
        self._epoch = secrets.token_hex(4)
        self._seq = 0

    @property
    def last_id(self) -> str:
        """The id of the newest event (of none yet: "<epoch>-0")."""
        return f"{self._epoch}-{self._seq}"

    def publish(self, event: Event) -> str:
        self._seq += 1
        item = Numbered(self._epoch, self._seq, event)
        self._recent.append(item)
        for queue in list(self._subscribers):
            if queue.full():  # a slow subscriber loses its oldest events, never blocks ingest
                queue.get_nowait()
            queue.put_nowait(event)
        for feed in list(self._feeds):
            feed.put(item)
        return item.id

    def missed(self, last_id: str) -> list[Numbered] | None:
        """The kept events after `last_id`, or None when some of them are not known."""
        epoch, _, raw = last_id[:MAX_ID + 1].partition("-")
        if epoch != self._epoch or not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            return None
        seen = int(raw)
        oldest = self._recent[0].seq if self._recent else self._seq + 1
        if seen > self._seq or seen < oldest - 1:
            return None
        return [item for item in self._recent if item.seq > seen]

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(self._buffer)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    @contextlib.asynccontextmanager
    async def follow(self, last_id: str | None = None) -> AsyncIterator[Feed]:
        """Numbered events from now on, after those missed since `last_id` (if given); a
        RESYNC first when those are not all known."""
        feed = Feed(self._buffer)
        if last_id is not None:
            missed = self.missed(last_id)
            for item in ([Numbered(self._epoch, self._seq, Event(RESYNC))]
                         if missed is None else missed):
                feed.put(item)
        self._feeds.add(feed)
        try:
            yield feed
        finally:
            self._feeds.discard(feed)

    def close_feeds(self) -> None:
        """End every live feed (the server stops: clients reconnect to the next one)."""
        for feed in list(self._feeds):
            while not feed.queue.empty():
                feed.queue.get_nowait()
            feed.queue.put_nowait(Numbered(self._epoch, self._seq, Event(CLOSED)))
