"""Password strength rules and argon2 hashing: off the event loop, tunable, upgradable."""

from __future__ import annotations

import asyncio

import pytest

from inbox import auth
from inbox.app.config import load as load_config
from inbox.errors import ConfigError, ValidationError
from inbox.passwords import Passwords, strength_problem
from search.sqlite import SqliteStore

CHEAP = Passwords(time_cost=1, memory_kib=8, parallelism=1)


@pytest.mark.parametrize("password, inputs, problem", [
    ("aaaaaaaaaa", (), "too easy to guess"),
    ("password123", (), "too easy to guess"),
    ("short", (), "at least 10"),
    ("x" * 2000, (), "at most"),
    ("ava.berg@example.com", ("ava.berg@example.com", None), "your name or email"),
    ("Bergstrom rules the inbox", ("ava@example.com", "Ava Bergstrom"), "your name or email"),
    ("tab\there is sneaky", (), "control characters"),
    ("\ud800 broken half", (), "broken Unicode"),
])
def test_weak_or_personal_passwords_are_refused(password: str, inputs: tuple[str | None, ...],
                                                problem: str) -> None:
    found = strength_problem(password, inputs)
    assert found is not None and problem in found


def test_strong_passwords_pass_and_the_mail_domain_is_not_personal() -> None:
    assert strength_problem("correct horse battery", ("ava@example.com", "Ava")) is None
    assert strength_problem("complex example plates 42", ("ava@example.com", None)) is None


def test_weak_feedback_comes_from_the_library() -> None:
    found = strength_problem("aaaaaaaaaa")
    assert found is not None and 'Repeats like "aaa"' in found


async def test_hashing_leaves_the_event_loop_free() -> None:
    slow = Passwords()  # production cost: a hash takes a noticeable time
    hashed = await slow.hash("correct horse battery")
    task = asyncio.create_task(slow.verify(hashed, "correct horse battery"))
    await asyncio.sleep(0)  # the verify has started: on the loop it would have finished now
    assert not task.done()
    other = asyncio.create_task(asyncio.sleep(0, result="another request's answer"))
    assert await other == "another request's answer"
    assert await task is True


async def test_old_hashes_keep_verifying_and_are_upgraded_at_sign_in(
        sqlite_store: SqliteStore) -> None:
    old = Passwords(time_cost=2, memory_kib=16, parallelism=1)
    user = await auth.add_user(sqlite_store, "ava@example.com", "agent",
                               "correct horse battery", passwords=old)
    assert CHEAP.needs_rehash(user.password_hash)
    signed_in = await auth.authenticate(sqlite_store, "ava@example.com",
                                        "correct horse battery", passwords=CHEAP)
    assert signed_in is not None and signed_in.last_sign_in is not None
    stored = await auth.get_user(sqlite_store, "ava@example.com")
    assert not CHEAP.needs_rehash(stored.password_hash)
    assert stored.password_hash != user.password_hash
    assert await auth.authenticate(sqlite_store, "ava@example.com", "correct horse battery",
                                   passwords=old) is not None  # the new hash verifies too


async def test_weak_passwords_never_reach_the_store(sqlite_store: SqliteStore) -> None:
    for email, password in (("ava@example.com", "aaaaaaaaaa"),
                            ("ava@example.com", "ava@example.com"),
                            ("boss@example.com", "Boss@Example.com")):
        with pytest.raises(ValidationError) as info:
            await auth.add_user(sqlite_store, email, "agent", password, passwords=CHEAP)
        assert "password" in info.value.errors
    assert await auth.list_users(sqlite_store) == []
    await auth.add_user(sqlite_store, "ava@example.com", "agent", "correct horse battery",
                        "Ava Berg", passwords=CHEAP)
    with pytest.raises(ValidationError, match="name or email"):
        await auth.set_password(sqlite_store, "ava@example.com", "ava berg is the best agent",
                                passwords=CHEAP)


async def test_unknown_and_hostile_sign_ins_are_just_refused(sqlite_store: SqliteStore) -> None:
    for email, password in (("nobody@example.com", "correct horse battery"),
                            ("not an address\ud800", "x"), ("ava@example.com", "x" * 100_000)):
        assert await auth.authenticate(sqlite_store, email, password, passwords=CHEAP) is None


def test_argon2_settings_are_checked_when_loaded() -> None:
    cheap = Passwords.from_settings(load_config(None, {"INBOX_ARGON2_TIME_COST": "1",
                                                    "INBOX_ARGON2_MEMORY_KIB": "8",
                                                    "INBOX_ARGON2_PARALLELISM": "1"}).core.auth)
    assert cheap == CHEAP
    with pytest.raises(ConfigError, match="auth.argon2_memory_kib"):
        load_config(None, {"INBOX_ARGON2_MEMORY_KIB": "8"})
