"""Sign-in throttling per (account, client) pair, on a real store with a settable clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from inbox.throttle import MAX_DELAY, SignInThrottle, delay_after
from search.sqlite import SqliteStore
from tests.factories import at


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_delays_start_after_five_failures_and_double_up_to_a_cap() -> None:
    assert [delay_after(n) for n in range(1, 9)] == [0, 0, 0, 0, 1, 2, 4, 8]
    assert delay_after(40) == delay_after(10_000) == MAX_DELAY


async def test_a_throttled_pair_waits_longer_each_time_and_others_do_not(
        sqlite_store: SqliteStore) -> None:
    clock = Clock(at(2))
    throttle = SignInThrottle(sqlite_store, clock)
    assert [await throttle.attempt("ava@example.com", "10.0.0.1") for _ in range(5)] == [0] * 5
    assert await throttle.attempt("ava@example.com", "10.0.0.1") == 1
    assert await throttle.attempt("ava@example.com", "10.0.0.2") == 0  # another client
    assert await throttle.attempt("bob@example.com", "10.0.0.1") == 0  # another account
    clock.advance(1)
    assert await throttle.attempt("ava@example.com", "10.0.0.1") == 0
    assert await throttle.attempt("ava@example.com", "10.0.0.1") == 2
    clock.advance(2)
    assert await throttle.attempt("ava@example.com", "10.0.0.1") == 0
    assert await throttle.attempt("ava@example.com", "10.0.0.1") == 4
    await throttle.succeeded("ava@example.com", "10.0.0.1")  # the pair starts afresh
    assert await throttle.attempt("ava@example.com", "10.0.0.1") == 0


async def test_a_pair_quiet_for_a_day_starts_afresh(sqlite_store: SqliteStore) -> None:
    clock = Clock(at(2))
    throttle = SignInThrottle(sqlite_store, clock)
    for _ in range(12):
        await throttle.attempt("ava@example.com", "10.0.0.1")
        clock.advance(MAX_DELAY)
    clock.advance(24 * 3600)
    assert [await throttle.attempt("ava@example.com", "10.0.0.1") for _ in range(5)] == [0] * 5


async def test_every_spelling_of_one_address_is_one_account(sqlite_store: SqliteStore) -> None:
    """Sign-in finds maya@ｎorthwind.example (fullwidth n) and MAYA@northwind。example as
    maya@northwind.example, so guesses under those spellings count against her too."""
    throttle = SignInThrottle(sqlite_store, Clock(at(2)))
    spellings = ["maya@northwind.example", "MAYA@northwind.example ",
                 "maya@\uff4eorthwind.example", "maya@northwind\u3002example"]
    waits = [await throttle.attempt(spellings[n % 4], "10.0.0.1") for n in range(6)]
    assert waits == [0, 0, 0, 0, 0, 1]
