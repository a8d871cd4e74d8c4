"""Sign-in throttling per (account, client address) pair, with growing delays.

Kept in the store, not in memory: several `inbox serve --role web` processes behind a load
balancer then share one count (in memory each process would grant its own allowance and a
restart would reset it), and it costs one read and one compare-and-set per sign-in attempt,
little beside the argon2 hash. Only the pair is slowed down: the owner signing in from another
client is never affected, and a successful sign-in clears the pair.
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from inbox.collections import HasThrottle, ThrottleDoc
from inbox.identity import normalize_email
from inbox.model import utcnow
from inbox.retry import backoff_ceiling

FREE_ATTEMPTS = 5
MAX_DELAY = 300.0  # seconds
FORGET_AFTER = timedelta(days=1)  # a pair quiet this long starts afresh


def delay_after(attempts: int) -> float:
    """Seconds to wait after this many attempts without success: 0 for the first few,
    then 1 s, doubling up to MAX_DELAY."""
    if attempts < FREE_ATTEMPTS:
        return 0.0
    return backoff_ceiling(attempts - FREE_ATTEMPTS + 1, 1.0, MAX_DELAY)


@dataclass
class SignInThrottle:
    store: HasThrottle
    clock: Callable[[], datetime] = field(default=utcnow)

    @staticmethod
    def _key(account: str, client: str) -> str:
        # keyed as sign-in looks the account up: every spelling of one address is one account
        name = normalize_email(account) or unicodedata.normalize("NFKC", account).strip().lower()
        pair = f"{name}\n{client}"
        return hashlib.sha256(pair.encode("utf-8", "surrogatepass")).hexdigest()

    async def attempt(self, account: str, client: str) -> float:
        """Seconds to wait before trying again, or 0: the attempt may go on.

        An allowed attempt is counted as failed at once (so parallel guesses cannot slip
        through); `succeeded` clears the pair."""
        key = self._key(account, client)
        for _ in range(5):
            doc = await self.store.throttle.get(key)
            now = self.clock()
            attempts = 0
            if doc is not None and now - datetime.fromisoformat(doc["last"]) < FORGET_AFTER:
                wait = (datetime.fromisoformat(doc["next_at"]) - now).total_seconds()
                if wait > 0:
                    return float(math.ceil(wait))
                attempts = int(doc["attempts"])
            attempts += 1
            new: ThrottleDoc = {"attempts": attempts, "last": now.isoformat(),
                   "next_at": (now + timedelta(seconds=delay_after(attempts))).isoformat()}
            if await self.store.throttle.swap(key, doc, new):
                return 0.0
        return 1.0  # another attempt on this pair is under way right now

    async def succeeded(self, account: str, client: str) -> None:
        await self.store.throttle.delete(self._key(account, client))
