"""Who a token or session is for is remembered for a second (inbox.usecases.accounts), yet
a revocation still holds: at once in the process that made it, and within
CREDENTIALS_SECONDS in another process on the same store."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from inbox import auth
from inbox.passwords import Passwords
from inbox.shortcache import ShortCache
from inbox.usecases.accounts import CREDENTIALS_SECONDS, Accounts
from search.sqlite import SqliteStore
from tests.unit.test_usecases import CountingStore

CHEAP = Passwords(time_cost=1, memory_kib=8, parallelism=1)
PASSWORD = "correct horse battery 9"


class Clock:
    """The monotonic clock of one process's credentials memory, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[SqliteStore, SqliteStore]]:
    """One SQLite file opened twice: the store as two processes see it."""
    first, second = SqliteStore(tmp_path / "inbox.db"), SqliteStore(tmp_path / "inbox.db")
    await first.open()
    await second.open()
    yield first, second
    await second.aclose()
    await first.aclose()


async def test_a_token_is_read_from_the_store_once_a_second(
        stores: tuple[SqliteStore, SqliteStore]) -> None:
    counting = CountingStore(stores[0], Counter())
    clock = Clock()
    accounts = Accounts(counting, CHEAP, clock=clock)  # type: ignore[arg-type]
    await accounts.add_user("root@example.com", "admin", PASSWORD)
    token = await accounts.create_token("root@example.com")
    counting.calls.clear()
    for _ in range(5):
        assert (await accounts.token_user(token)).email == "root@example.com"
    assert counting.calls["tokens.get"] == 1
    clock.now += CREDENTIALS_SECONDS
    await accounts.token_user(token)
    assert counting.calls["tokens.get"] == 2


async def test_revocations_in_this_process_hold_at_once(
        stores: tuple[SqliteStore, SqliteStore]) -> None:
    accounts = Accounts(stores[0], CHEAP)
    await accounts.add_user("root@example.com", "admin", PASSWORD)
    ava = await accounts.add_user("ava@example.com", "agent", PASSWORD)
    first, second, third = [await accounts.create_token(ava.email) for _ in range(3)]
    sid = await accounts.start_session(ava)
    for token in (first, second, third):
        assert (await accounts.token_user(token)).id == ava.id
    assert await accounts.session(sid) is not None

    await accounts.revoke_token(auth.token_id(first))
    with pytest.raises(auth.TokenRefused, match="invalid or revoked"):
        await accounts.token_user(first)
    assert (await accounts.token_user(second)).id == ava.id

    await accounts.end_session(sid)
    assert await accounts.session(sid) is None

    sid = await accounts.start_session(ava)
    assert await accounts.session(sid) is not None
    await accounts.set_password(ava.email, "another good passphrase")
    with pytest.raises(auth.TokenRefused, match="revoked"):
        await accounts.token_user(second)
    assert await accounts.session(sid) is None

    fresh = await accounts.create_token(ava.email)
    assert (await accounts.token_user(fresh)).id == ava.id
    await accounts.set_disabled(ava.email, True)
    with pytest.raises(auth.TokenRefused, match="disabled"):
        await accounts.token_user(fresh)

    await accounts.set_disabled(ava.email, False)
    fresh = await accounts.create_token(ava.email)
    assert (await accounts.token_user(fresh)).id == ava.id
    await accounts.remove_user(ava.email)
    with pytest.raises(auth.TokenRefused):
        await accounts.token_user(fresh)


async def test_another_process_sees_a_revocation_within_the_bound(
        stores: tuple[SqliteStore, SqliteStore]) -> None:
    admin = Accounts(stores[0], CHEAP)  # e.g. `inbox users disable` or another server
    clock = Clock()
    server = Accounts(stores[1], CHEAP, clock=clock)  # the web server answering the API
    await admin.add_user("root@example.com", "admin", PASSWORD)
    ava = await admin.add_user("ava@example.com", "agent", PASSWORD)
    token = await admin.create_token(ava.email)
    sid, _ = await auth.create_session(stores[0], ava)
    assert (await server.token_user(token)).id == ava.id
    assert await server.session(sid) is not None

    await admin.set_disabled(ava.email, True)
    clock.now += CREDENTIALS_SECONDS * 0.9  # still remembered: the stated bound
    assert (await server.token_user(token)).id == ava.id
    clock.now += CREDENTIALS_SECONDS * 0.1
    with pytest.raises(auth.TokenRefused, match="disabled"):
        await server.token_user(token)
    assert await server.session(sid) is None


async def test_a_lookup_in_flight_when_credentials_change_is_not_kept() -> None:
    cache: ShortCache[str, str] = ShortCache(60)
    generation = cache.generation  # a lookup starts...
    cache.clear()  # ...a revocation lands meanwhile...
    cache.put("token", "ava", generation)  # ...and its answer, read before it, is dropped
    assert cache.get("token") is None
    cache.put("token", "ava", cache.generation)
    assert cache.get("token") == "ava"


def test_the_memory_holds_at_most_its_size_newest_first() -> None:
    cache: ShortCache[int, int] = ShortCache(60, size=3)
    for n in range(5):
        cache.put(n, n, cache.generation)
    assert [cache.get(n) for n in range(5)] == [None, None, 2, 3, 4]
