"""A short-lived in-process memory of lookups (who a token or session is for), so that a busy
API does not read the store twice per request; clear() forgets everything at once."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ShortCache(Generic[K, V]):
    """What each key looked up to, for at most `seconds` (0: nothing is kept) and at most
    `size` keys (the oldest go first). A lookup that was in flight when clear() ran is not
    kept: callers read `generation` before they look up and hand it to `put`."""

    def __init__(self, seconds: float, size: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.size, self.clock = seconds, size, clock
        self.generation = 0
        self._items: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] <= self.clock():
            self._items.pop(key, None)
            return None
        return item[1]

    def put(self, key: K, value: V, generation: int) -> None:
        if generation != self.generation or self.seconds <= 0:
            return
        self._items.pop(key, None)
        while len(self._items) >= self.size:
            self._items.pop(next(iter(self._items)))
        self._items[key] = (self.clock() + self.seconds, value)

    def discard(self, key: K) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self.generation += 1
        self._items.clear()
