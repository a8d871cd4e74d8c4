"""The one backoff rule and retry loop, with an injected random generator and sleep."""

from __future__ import annotations

import random

import pytest

from inbox.errors import ConflictError, StoreUnavailable
from inbox.retry import (
    CONFLICTS,
    Retry,
    backoff_ceiling,
    backoff_delay,
    retrying,
)


def test_the_ceiling_doubles_from_first_up_to_the_cap() -> None:
    assert [backoff_ceiling(n, 1.0, 8.0) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]
    assert backoff_ceiling(0, 1.0, 8.0) == 1.0  # no failure yet counts as the first


def test_the_ceiling_stays_at_the_cap_for_any_count() -> None:
    assert backoff_ceiling(10_000, 1.0, 300.0) == 300.0
    assert backoff_ceiling(10**9, 2.0, 60.0) == 60.0


def test_delays_are_jittered_between_half_and_the_whole_ceiling() -> None:
    rng = random.Random(7)
    for n in range(1, 40):
        ceiling = backoff_ceiling(n, 2.0, 60.0)
        delays = {backoff_delay(n, rng, 2.0, 60.0) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jitter: streams failing together do not retry together


def test_the_same_seed_gives_the_same_delays() -> None:
    first = [backoff_delay(n, random.Random(3), 1.0, 300.0) for n in range(1, 12)]
    again = [backoff_delay(n, random.Random(3), 1.0, 300.0) for n in range(1, 12)]
    assert first == again


class Flaky:
    """Fails with the given errors in turn, then returns how many calls it took."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> int:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.calls


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


async def test_retrying_waits_a_growing_jittered_delay_between_tries() -> None:
    op, sleeps = Flaky(StoreUnavailable("down"), StoreUnavailable("down")), Sleeps()
    result = await retrying(op, StoreUnavailable, Retry(3, first=1.0, cap=1.5),
                            rng=random.Random(1), sleep=sleeps)
    assert result == 3
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1.0 and 0.75 <= sleeps[1] <= 1.5


async def test_past_the_retries_the_last_error_propagates() -> None:
    op, sleeps = Flaky(*(ConflictError(f"lost race {n}") for n in range(9))), Sleeps()
    with pytest.raises(ConflictError, match="lost race 4"):
        await retrying(op, ConflictError, CONFLICTS, sleep=sleeps)
    assert op.calls == 5 and sleeps == []  # conflicts: reload and try again at once


async def test_other_errors_are_not_retried() -> None:
    op = Flaky(KeyError("a bug"))
    with pytest.raises(KeyError):
        await retrying(op, ConflictError, CONFLICTS)
    assert op.calls == 1


async def test_no_retry_tries_once() -> None:
    op = Flaky(StoreUnavailable("down"))
    with pytest.raises(StoreUnavailable):
        await retrying(op, StoreUnavailable, Retry(0))
    assert op.calls == 1
