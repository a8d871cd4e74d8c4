"""Accounts on every store: users changed by compare-and-set, tokens revoked by public id,
the sign-in throttle shared through the store."""

from __future__ import annotations

import pytest

from inbox import auth
from inbox.errors import NotFound
from inbox.passwords import Passwords
from inbox.store import Store
from inbox.throttle import SignInThrottle

CHEAP = Passwords(time_cost=1, memory_kib=8, parallelism=1)
PASSWORD = "correct horse battery"


async def test_users_sign_in_change_and_revoke_on_every_store(store: Store) -> None:
    await auth.add_user(store, "root@example.com", "admin", PASSWORD, passwords=CHEAP)
    ava = await auth.add_user(store, "ava@example.com", "agent", PASSWORD, "Ava",
                              passwords=CHEAP)
    signed_in = await auth.authenticate(store, "AVA@example.com", PASSWORD, passwords=CHEAP)
    assert signed_in is not None and signed_in.id == ava.id and signed_in.last_sign_in
    sid, csrf = await auth.create_session(store, signed_in)
    assert await auth.session(store, sid) == ((await auth.get_user(store, ava.email)), csrf)
    tokens = [await auth.create_token(store, ava.email, days=d) for d in (None, 3, 5)]
    assert {t.id for t in await auth.list_tokens(store, ava.email)} == {
        auth.token_id(t) for t in tokens}

    revoked = await auth.revoke_token(store, auth.token_id(tokens[1]))
    assert revoked.email == ava.email and revoked.expires_at is not None
    with pytest.raises(auth.TokenRefused):
        await auth.user_for_token(store, tokens[1])
    assert (await auth.user_for_token(store, tokens[0])).id == ava.id
    with pytest.raises(NotFound):
        await auth.revoke_token(store, auth.token_id(tokens[1]))

    await auth.set_password(store, ava.email, "another good passphrase", passwords=CHEAP)
    assert await auth.session(store, sid) is None
    with pytest.raises(auth.TokenRefused, match="revoked"):
        await auth.user_for_token(store, tokens[0])

    await auth.set_disabled(store, ava.email, True)
    with pytest.raises(auth.AccountDisabled):
        await auth.authenticate(store, ava.email, "another good passphrase", passwords=CHEAP)
    await auth.remove_user(store, ava.email)
    assert [u.email for u in await auth.list_users(store)] == ["root@example.com"]
    assert await auth.list_tokens(store) == []


async def test_the_throttle_is_shared_through_the_store(store: Store) -> None:
    web1, web2 = SignInThrottle(store), SignInThrottle(store)  # two web processes
    for throttle in (web1, web2, web1, web2, web1):
        assert await throttle.attempt("ava@example.com", "10.0.0.1") == 0
    assert await web2.attempt("ava@example.com", "10.0.0.1") > 0
    await web1.succeeded("ava@example.com", "10.0.0.1")
    assert await web2.attempt("ava@example.com", "10.0.0.1") == 0
