"""Users, API tokens and sessions, kept in the store's auxiliary collections.

Revocation is cheap: every user carries a credentials epoch that each session and token
records when it is made. A password change, disable or removal bumps (or drops) it, so the
user's older sessions and tokens stop working on their next use, without scanning them.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import replace as _replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from inbox.collections import HasSessions, HasTokens, HasUsers, TokenDoc, UserDoc
from inbox.errors import ConflictError, InboxError, NotFound, ValidationError
from inbox.identity import normalize_email
from inbox.model import Role, User, new_id, utcnow
from inbox.passwords import MAX_LENGTH, Passwords, strength_problem

SESSION_TTL = timedelta(hours=12)
TOKEN_PREFIX = "inbx_"  # noqa: S105 - a marker that makes tokens recognisable
TOKEN_ID_LENGTH = 12  # public id: the start of the token's sha256 (the secret is never kept)
MAX_EMAIL, MAX_NAME = 320, 200
DEFAULT_PASSWORDS = Passwords()  # argon2's recommended cost; Runtime.passwords follows config


class AccountStore(HasUsers, HasTokens, HasSessions, Protocol):
    """Where users, their API tokens and their sessions are kept."""


class TokenRefused(InboxError):
    """An API token that is unknown, revoked, expired or whose user is disabled."""

    status = 401


class AccountDisabled(InboxError):
    """Right password, but an admin disabled the account."""

    status = 403


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    email: str
    created_at: datetime
    expires_at: datetime | None
    label: str | None = None

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or utcnow())


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _when(value: object) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def _user(doc: UserDoc) -> User:
    return User(id=str(doc["id"]), email=str(doc["email"]), role=str(doc["role"]),
                password_hash=str(doc["password_hash"]), name=doc.get("name") or None,
                created_at=datetime.fromisoformat(str(doc["created_at"])),
                disabled=bool(doc.get("disabled", False)), epoch=int(doc.get("epoch", 0)),
                last_sign_in=_when(doc.get("last_sign_in")), timezone=doc.get("timezone"))


def _doc(user: User) -> UserDoc:
    return {"id": user.id, "email": user.email, "role": user.role,
            "password_hash": user.password_hash, "name": user.name,
            "created_at": user.created_at.isoformat(), "disabled": user.disabled,
            "epoch": user.epoch,
            "last_sign_in": user.last_sign_in.isoformat() if user.last_sign_in else None,
            "timezone": user.timezone}


def _key(email: str) -> str:
    """The store key of a user: the normalised address (NotFound if it is none)."""
    address = normalize_email(email) if len(email) <= MAX_EMAIL else None
    if address is None:
        raise NotFound(f"no user {email[:MAX_EMAIL]}")
    return address


async def _change_user(store: HasUsers, email: str,
                       change: Callable[[User | None], User | None]) -> User | None:
    """Read, change and compare-and-set a user (None: absent or delete), retrying on races."""
    key = _key(email)
    for _ in range(20):
        doc = await store.users.get(key)
        new = change(_user(doc) if doc is not None else None)
        if new is None:
            if doc is not None:
                await store.users.delete(key)
            return None
        if await store.users.swap(key, doc, _doc(new)):
            return new
    raise ConflictError(f"user {email} is being changed by someone else; try again")


def _existing(user: User | None, email: str) -> User:
    if user is None:
        raise NotFound(f"no user {email}")
    return user


async def _keep_an_admin(store: HasUsers, email: str) -> None:
    """Refuse to disable, remove or demote the last enabled admin (nobody could undo it)."""
    others = [u for u in await list_users(store)
              if u.role == Role.ADMIN and not u.disabled and u.email != email]
    if not others:
        raise ValidationError({"email": "this is the last enabled admin; add another admin "
                                        "first"})


async def add_user(store: HasUsers, email: str, role: str, password: str,
                   name: str | None = None, *, passwords: Passwords = DEFAULT_PASSWORDS) -> User:
    """Create or update a user; a new password revokes the user's sessions and tokens."""
    errors = {}
    address = normalize_email(email) if len(email) <= MAX_EMAIL else None
    if address is None:
        errors["email"] = "not a valid email address"
    if role not in set(Role):
        errors["role"] = f"must be one of {', '.join(Role)}"
    if name is not None and len(name) > MAX_NAME:
        errors["name"] = f"must be at most {MAX_NAME} characters"
    problem = strength_problem(password, (address or email, name))
    if problem:
        errors["password"] = problem
    if errors or address is None:
        raise ValidationError(errors)
    old = await store.users.get(address)
    if old is not None and old.get("role") == Role.ADMIN and role != Role.ADMIN:
        await _keep_an_admin(store, address)
    password_hash = await passwords.hash(password)

    def change(user: User | None) -> User:
        if user is None:
            return User(id=new_id("u"), email=address, role=role, password_hash=password_hash,
                        name=name)
        return _replace(user, role=role, name=name if name is not None else user.name,
                        password_hash=password_hash, epoch=user.epoch + 1)

    return _existing(await _change_user(store, address, change), address)


async def set_password(store: HasUsers, email: str, password: str, *,
                       passwords: Passwords = DEFAULT_PASSWORDS) -> User:
    """A new password; the user's sessions and tokens stop working."""
    user = await get_user(store, email)
    problem = strength_problem(password, (user.email, user.name))
    if problem:
        raise ValidationError({"password": problem})
    password_hash = await passwords.hash(password)
    return _existing(await _change_user(store, user.email, lambda u: u and _replace(
        u, password_hash=password_hash, epoch=u.epoch + 1)), email)


async def set_disabled(store: HasUsers, email: str, disabled: bool) -> User:
    """Disable (revoking sessions and tokens; no sign-in) or enable a user."""
    user = await get_user(store, email)
    if disabled and user.role == Role.ADMIN:
        await _keep_an_admin(store, user.email)

    def change(u: User | None) -> User | None:
        if u is None or u.disabled == disabled:
            return u
        return _replace(u, disabled=disabled, epoch=u.epoch + 1 if disabled else u.epoch)

    return _existing(await _change_user(store, user.email, change), email)


async def set_timezone(store: HasUsers, email: str, timezone: str | None) -> User:
    """The zone a user reads times in (an IANA name, "Europe/London"); None: the team's."""
    if timezone is not None and timezone not in known_timezones():
        raise ValidationError({"timezone": "not a time zone we know; pick one from the list "
                                           "(e.g. Europe/London)"})
    return _existing(await _change_user(store, email, lambda u: u and _replace(
        u, timezone=timezone)), email)


# In the database but no place: the server's own zone, and a zone that shows times as "-00"
_NOT_PLACES = frozenset({"localtime", "Factory"})


@functools.cache
def known_timezones() -> tuple[str, ...]:
    """Every IANA time zone name of a place (and UTC), sorted: what the settings page
    offers."""
    return tuple(sorted(zoneinfo.available_timezones() - _NOT_PLACES))


async def remove_user(store: AccountStore, email: str) -> None:
    """Delete a user and their tokens; their sessions end with them."""
    user = await get_user(store, email)
    if user.role == Role.ADMIN:
        await _keep_an_admin(store, user.email)
    await _change_user(store, user.email, lambda u: None)
    for key, _ in await _tokens_of(store, user.email):
        await store.tokens.delete(key)


async def get_user(store: HasUsers, email: str) -> User:
    doc = await store.users.get(_key(email))
    if doc is None:
        raise NotFound(f"no user {email}")
    return _user(doc)


async def list_users(store: HasUsers) -> list[User]:
    return [_user(doc) for _, doc in await store.users.list(None, 10_000)]


async def authenticate(store: HasUsers, email: str, password: str, *,
                       passwords: Passwords = DEFAULT_PASSWORDS) -> User | None:
    """The user if the password is right; None otherwise (same answer for unknown users).

    Raises AccountDisabled for a disabled user's right password. Records the sign-in and
    re-hashes the password when the configured argon2 cost changed."""
    try:
        if len(password) > MAX_LENGTH:
            raise NotFound("")
        user = await get_user(store, email)
    except NotFound:
        await passwords.hash(password)  # same cost either way: no user enumeration by timing
        return None
    if not await passwords.verify(user.password_hash, password):
        return None
    if user.disabled:
        raise AccountDisabled("this account is disabled; ask an admin to enable it")
    new_hash = (await passwords.hash(password) if passwords.needs_rehash(user.password_hash)
                else None)

    def signed_in(u: User | None) -> User | None:
        if u is None or u.id != user.id:
            return u
        if new_hash and u.password_hash == user.password_hash:
            u = _replace(u, password_hash=new_hash)
        return _replace(u, last_sign_in=utcnow())

    return await _change_user(store, user.email, signed_in) or user


# --- API tokens ---------------------------------------------------------------------------

MAX_TOKEN_DAYS = 3650  # the auth.token_days setting's range too


def token_id(token: str) -> str:
    """The public id of a token: shown in lists, used to revoke it."""
    return _digest(token)[:TOKEN_ID_LENGTH]


async def create_token(store: AccountStore, email: str, *, days: int | None = None,
                       label: str | None = None, now: datetime | None = None) -> str:
    """A new API token for the user (returned once; only its hash is kept).

    It expires `days` after `now` (default: the current time), or never."""
    if days is not None and not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValidationError({"days": f"must be from 1 to {MAX_TOKEN_DAYS} (ten years), or "
                                       "none: the token never expires"})
    user = await get_user(store, email)
    if user.disabled:
        raise ValidationError({"email": "this account is disabled"})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = now or utcnow()
    doc: TokenDoc = {"email": user.email, "user_id": user.id, "epoch": user.epoch,
                     "created_at": now.isoformat(), "label": (label or "")[:MAX_NAME]}
    if days is not None:
        doc["expires_at"] = (now + timedelta(days=days)).isoformat()
    await store.tokens.put(_digest(token), doc)
    return token


def _info(key: str, doc: TokenDoc) -> TokenInfo:
    return TokenInfo(id=key[:TOKEN_ID_LENGTH], email=str(doc["email"]),
                     created_at=datetime.fromisoformat(str(doc["created_at"])),
                     expires_at=_when(doc.get("expires_at")), label=doc.get("label") or None)


async def _tokens_of(store: HasTokens, email: str | None) -> list[tuple[str, TokenDoc]]:
    wanted = _key(email) if email else None
    return [(key, doc) for key, doc in await store.tokens.list(None, 10_000)
            if wanted is None or doc.get("email") == wanted]


async def list_tokens(store: HasTokens, email: str | None = None) -> list[TokenInfo]:
    """API tokens, newest first; only one user's when email is given."""
    found = [_info(key, doc) for key, doc in await _tokens_of(store, email)]
    return sorted(found, key=lambda t: t.created_at, reverse=True)


_TOKEN_ID = re.compile(rf"[0-9a-f]{{{TOKEN_ID_LENGTH}}}")


async def revoke_token(store: HasTokens, public_id: str) -> TokenInfo:
    """Delete the token with this public id."""
    public_id = public_id.strip().lower()
    if not _TOKEN_ID.fullmatch(public_id):
        raise ValidationError({"id": f"a token id is {TOKEN_ID_LENGTH} hex digits, as listed"})
    # keys sort by the hash, so the first key after the id is the one that starts with it
    for key, doc in await store.tokens.list(public_id, 1):
        if key.startswith(public_id):
            await store.tokens.delete(key)
            return _info(key, doc)
    raise NotFound(f"no token {public_id}")


async def user_for_token(store: AccountStore, token: str) -> User:
    """The user of a live token; TokenRefused says why not (unknown, expired, revoked)."""
    return (await token_grant(store, token))[0]


async def token_grant(store: AccountStore, token: str) -> tuple[User, datetime | None]:
    """The user of a live token and when the token expires (None: never); TokenRefused says
    why there is none (unknown, expired, revoked)."""
    doc = await store.tokens.get(_digest(token))
    if doc is None:
        raise TokenRefused("invalid or revoked API token")
    expires = _when(doc.get("expires_at"))
    check_expiry(expires)
    try:
        user = await get_user(store, str(doc["email"]))
    except NotFound:
        raise TokenRefused("invalid or revoked API token") from None
    if user.disabled:
        raise TokenRefused("this account is disabled")
    if not _current(user, doc):
        raise TokenRefused("token revoked (the password changed or the account was disabled)")
    return user, expires


def check_expiry(expires: datetime | None) -> None:
    """TokenRefused once a token's expiry time has come."""
    if expires is not None and expires <= utcnow():
        raise TokenRefused("token expired")


def _current(user: User, doc: Mapping[str, Any]) -> bool:
    """The session or token was made for this very user in their current credentials epoch."""
    return (str(doc.get("user_id", user.id)) == user.id
            and int(doc.get("epoch", 0)) == user.epoch)


# --- browser sessions ---------------------------------------------------------------------

async def create_session(store: HasSessions, user: User) -> tuple[str, str]:
    """A new session id and its CSRF token."""
    sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    await store.sessions.put(_digest(sid), {
        "email": user.email, "user_id": user.id, "epoch": user.epoch, "csrf": csrf,
        "expires": (utcnow() + SESSION_TTL).isoformat()})
    return sid, csrf


async def session(store: AccountStore, sid: str) -> tuple[User, str] | None:
    """The user and CSRF token of a live session (None once revoked, expired or disabled)."""
    found = await session_grant(store, sid)
    return None if found is None else (found[0], found[1])


async def session_grant(store: AccountStore, sid: str) -> tuple[User, str, datetime] | None:
    """The user, CSRF token and expiry time of a live session (None once revoked, expired or
    disabled; a revoked session is deleted)."""
    key = _digest(sid)
    doc = await store.sessions.get(key)
    if doc is None:
        return None
    expires = datetime.fromisoformat(str(doc["expires"]))
    if expires < utcnow():
        return None
    try:
        user = await get_user(store, str(doc["email"]))
    except NotFound:
        user = None
    if user is None or user.disabled or not _current(user, doc):
        await store.sessions.delete(key)
        return None
    return user, str(doc["csrf"]), expires


async def end_session(store: HasSessions, sid: str) -> None:
    await store.sessions.delete(_digest(sid))
