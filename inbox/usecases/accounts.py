"""Accounts: users, passwords, sign-in (throttled), sessions and API tokens."""

from __future__ import annotations

from inbox import auth
from inbox.errors import ValidationError
from inbox.model import User
from inbox.passwords import Passwords
from inbox.store import Store
from inbox.throttle import SignInThrottle


class Accounts:
    """Every account use case, on one store with the configured password hashing and
    token lifetime (`token_days`, None: tokens never expire)."""

    def __init__(self, store: Store, passwords: Passwords, token_days: int | None = None
                 ) -> None:
        self.store, self.passwords, self.token_days = store, passwords, token_days
        self.throttle = SignInThrottle(store)

    async def add_user(self, email: str, role: str, password: str, name: str | None = None
                       ) -> User:
        return await auth.add_user(self.store, email, role, password, name,
                                   passwords=self.passwords)

    async def set_password(self, email: str, password: str) -> User:
        return await auth.set_password(self.store, email, password, passwords=self.passwords)

    async def set_disabled(self, email: str, disabled: bool) -> User:
        return await auth.set_disabled(self.store, email, disabled)

    async def remove_user(self, email: str) -> None:
        await auth.remove_user(self.store, email)

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
        return await auth.authenticate(self.store, email, password, passwords=self.passwords)

    async def start_session(self, user: User) -> str:
        """A new session id for the user."""
        sid, _ = await auth.create_session(self.store, user)
        return sid

    async def session(self, sid: str) -> tuple[User, str] | None:
        """The user and CSRF token of a live session."""
        return await auth.session(self.store, sid)

    async def end_session(self, sid: str) -> None:
        await auth.end_session(self.store, sid)

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
        return await auth.revoke_token(self.store, public_id)

    async def token_user(self, token: str) -> User:
        """The user of a live token; auth.TokenRefused says why not."""
        return await auth.user_for_token(self.store, token)
