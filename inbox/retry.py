"""Trying again: capped exponential backoff with jitter, and one loop that retries an operation.

Every wait between attempts is computed here: the connector supervisor's restarts, the email
reconnects, the X streams' retries, sign-in throttling, ingest while the store is down; and
the conflict retries (reload and try again, without a wait) run through the same loop.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_DOUBLINGS = 64  # past this any cap is reached; keeps the power finite for any count
Sleep = Callable[[float], Awaitable[Any]]


def backoff_ceiling(failures: int, first: float, cap: float) -> float:
    """The longest wait after this many failures in a row: first, doubling, at most cap."""
    return min(cap, first * 2.0 ** min(max(failures - 1, 0), MAX_DOUBLINGS))


def backoff_delay(failures: int, rng: random.Random, first: float, cap: float) -> float:
    """Capped exponential backoff with jitter: a wait drawn from [ceiling/2, ceiling], so
    retries neither come in a tight loop nor all at the same moment."""
    ceiling = backoff_ceiling(failures, first, cap)
    return rng.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True, slots=True)
class Retry:
    """How many times to try again, and the first and longest wait in between (0: none)."""

    retries: int
    first: float = 0.0
    cap: float = 0.0


CONFLICTS = Retry(4)  # someone else changed it first: reload and try again at once


async def retrying(op: Callable[[], Awaitable[T]],
                   on: type[Exception] | tuple[type[Exception], ...], policy: Retry, *,
                   note: str = "retrying", rng: random.Random | None = None,
                   sleep: Sleep = asyncio.sleep) -> T:
    """What op returns, calling it again after an error of type `on`, at most
    policy.retries times and after a backoff_delay each; the last error propagates."""
    failures = 0
    while True:
        try:
            return await op()
        except on as exc:
            failures += 1
            if failures > policy.retries:
                raise
            rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
            delay = backoff_delay(failures, rng, policy.first, policy.cap)
            log.log(logging.WARNING if delay else logging.INFO, note,
                    extra={"attempt": failures, "delay": round(delay, 2),
                           "error": str(exc)[:500]})
            if delay > 0:
                await sleep(delay)
