"""In-process publish/subscribe of change events (live updates for agents)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from inbox.model import Event


class EventBus:
    def __init__(self, buffer: int = 1000) -> None:
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._buffer = buffer

    def publish(self, event: Event) -> None:
        for queue in list(self._subscribers):
            if queue.full():  # a slow subscriber loses its oldest events, never blocks ingest
                queue.get_nowait()
            queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(self._buffer)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
