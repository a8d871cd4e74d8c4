"""Token buckets per client (web forms, sign-in): pure, in memory, per process."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RateLimiter:
    """Token bucket per client: `limit` posts per `window` seconds."""

    limit: int
    window: float
    clock: Any = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, client: str) -> float:
        """0 if allowed (and counted), else the seconds to wait before the next post."""
        now = self.clock()
        rate = self.limit / self.window
        tokens, last = self._buckets.get(client, (float(self.limit), now))
        tokens = min(float(self.limit), tokens + (now - last) * rate)
        if tokens >= 1:
            self._buckets[client] = (tokens - 1, now)
            self._prune(now)
            return 0.0
        self._buckets[client] = (tokens, now)
        return math.ceil((1 - tokens) / rate)

    def _prune(self, now: float) -> None:
        if len(self._buckets) > 10_000:  # forget clients whose buckets are full again
            self._buckets = {k: v for k, v in self._buckets.items()
                             if now - v[1] < self.window}
