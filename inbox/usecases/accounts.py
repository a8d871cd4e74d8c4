"""Accounts: users, passwords, sign-in (throttled), sessions and API tokens."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from inbox import auth
from inbox.errors import ValidationError
from inbox.model import User, utcnow
from inbox.passwords import Passwords
from inbox.shortcache import ShortCache
from inbox.store import Store
from inbox.throttle import SignInThrottle

# How long this process trusts what a token or session was found to be for without reading
# the store again: the longest that a revocation made by another process (the CLI, another
# server) takes to reach it. One made through this object clears the memory at once.
CREDENTIALS_SECONDS = 1.0


class Accounts:
    """Every account use case, on one store with the configured password hashing and
    token lifetime (`token_days`, None: tokens never expire)."""

    def __init__(self, store: Store, passwords: Passwords, token_days: int | None = None, *,
                 credentials_seconds: float = CREDENTIALS_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.passwords, self.token_days = store, passwords, token_days
        self.throttle = SignInThrottle(store)
        self._tokens: ShortCache[str, tuple[User, datetime | None]] = ShortCache(
            credentials_seconds, clock=clock)
        self._sessions: ShortCache[str, tuple[User, str, datetime]] = ShortCache(
            credentials_seconds, clock=clock)

    def _forget_credentials(self) -> None:
        """After any change to users, tokens or sessions: the next request reads the store."""
        self._tokens.clear()
        self._sessions.clear()

    async def add_user(self, email: str, role: str, password: str, name: str | None = None
                       ) -> User:
        try:
            return await auth.add_user(self.store, email, role, password, name,
                                       passwords=self.passwords)
        finally:
            self._forget_credentials()

    async def set_password(self, email: str, password: str) -> User:
        try:
            return await auth.set_password(self.store, email, password,
                                           passwords=self.passwords)
        finally:
            self._forget_credentials()

    async def set_disabled(self, email: str, disabled: bool) -> User:
        try:
            return await auth.set_disabled(self.store, email, disabled)
        finally:
            self._forget_credentials()

    async def set_timezone(self, email: str, timezone: str | None) -> User:
        try:
            return await auth.set_timezone(self.store, email, timezone)
        finally:
            self._forget_credentials()  # sessions carry the user: they read the new zone

    async def remove_user(self, email: str) -> None:
        try:
            await auth.remove_user(self.store, email)
        finally:
            self._forget_credentials()

    async def user(self, email: str) -> User:
        return await auth.get_user(self.store, email)

    async def users(self) -> list[User]:
        return await auth.list_users(self.store)

    async def users_by_id(self) -> dict[str, User]:
        return {u.id: u for u in await self.users()}

    async def user_id(self, value: str | None, me: User) -> str | None:
        """A user id from "me", an email address or a user id; None/""/"none" is nobody."""
        if value in (None, "", "none"):
            return None
        if value == "me":
            return me.id
        for user in await self.users():
            if value in (user.id, user.email):
                return user.id
        raise ValidationError({"assignee": f"no user {value}"})

    async def authenticate(self, email: str, password: str) -> User | None:
        user = await auth.authenticate(self.store, email, password, passwords=self.passwords)
        if user is not None:
            self._forget_credentials()  # the user's last sign-in changed
        return user

    async def start_session(self, user: User) -> str:
        """A new session id for the user."""
        sid, _ = await auth.create_session(self.store, user)
        return sid

    async def session(self, sid: str) -> tuple[User, str] | None:
        """The user and CSRF token of a live session (remembered CREDENTIALS_SECONDS)."""
        found = self._sessions.get(sid)
        if found is None or found[2] < utcnow():
            generation = self._sessions.generation
            found = await auth.session_grant(self.store, sid)
            if found is None:
                self._sessions.discard(sid)
                return None
            self._sessions.put(sid, found, generation)
        return found[0], found[1]

    async def end_session(self, sid: str) -> None:
        try:
            await auth.end_session(self.store, sid)
        finally:
            self._forget_credentials()

    async def create_token(self, email: str, days: int | None = None,
                           label: str | None = None) -> str:
        """A new API token (shown once); `days` None: the configured lifetime."""
        return await auth.create_token(self.store, email, label=label,
                                       days=self.token_days if days is None else days)

    async def tokens(self, email: str | None = None) -> list[auth.TokenInfo]:
        if email:
            await self.user(email)  # an unknown user is an error, not an empty list
        return await auth.list_tokens(self.store, email)

    async def revoke_token(self, public_id: str) -> auth.TokenInfo:
        try:
            return await auth.revoke_token(self.store, public_id)
        finally:
            self._forget_credentials()

    async def token_user(self, token: str) -> User:
        """The user of a live token (remembered CREDENTIALS_SECONDS); auth.TokenRefused says
        why not."""
        found = self._tokens.get(token)
        if found is None:
            generation = self._tokens.generation
            found = await auth.token_grant(self.store, token)
            self._tokens.put(token, found, generation)
        auth.check_expiry(found[1])
        return found[0]
