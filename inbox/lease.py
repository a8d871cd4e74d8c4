"""A lease in the store: one worker process runs the pollers and sweeps at a time."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

from inbox.collections import HasLeases, LeaseDoc
from inbox.model import utcnow


class Lease:
    """Held by one owner until it expires; the holder renews it well before that."""

    def __init__(self, store: HasLeases, name: str, ttl: timedelta,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store, self.name, self.ttl, self.clock = store, name, ttl, clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.held = False

    async def acquire(self) -> bool:
        """Take or renew the lease; False while another owner holds an unexpired one."""
        now = self.clock()
        current = await self.store.leases.get(self.name)
        mine: LeaseDoc = {"owner": self.owner, "expires": (now + self.ttl).isoformat()}
        free = current is None or current.get("owner") == self.owner or \
            datetime.fromisoformat(str(current.get("expires"))) <= now
        self.held = free and await self.store.leases.swap(self.name, current, mine)
        return self.held

    async def release(self) -> None:
        """Give the lease up at once, so another worker need not wait for it to expire."""
        current = await self.store.leases.get(self.name)
        if current is not None and current.get("owner") == self.owner:
            await self.store.leases.swap(self.name, current, {
                "owner": None, "expires": self.clock().isoformat()})
        self.held = False
