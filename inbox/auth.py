"""Users, roles, API tokens and sessions, kept in the store's auxiliary collections."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from inbox.errors import NotFound, ValidationError
from inbox.identity import normalize_email
from inbox.model import Role, User, new_id, utcnow
from inbox.store import SESSIONS, TOKENS, USERS, Store

SESSION_TTL = timedelta(hours=12)
MIN_PASSWORD = 10
_hasher = PasswordHasher()

def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _user(doc: dict[str, object]) -> User:
    return User(id=str(doc["id"]), email=str(doc["email"]), role=str(doc["role"]),
                password_hash=str(doc["password_hash"]), name=doc.get("name") or None,  # type: ignore[arg-type]
                created_at=datetime.fromisoformat(str(doc["created_at"])))


async def add_user(store: Store, email: str, role: str, password: str,
                   name: str | None = None) -> User:
    """Create or update a user (a new password replaces the old one)."""
    errors = {}
    address = normalize_email(email)
    if address is None:
        errors["email"] = "not a valid email address"
    if role not in set(Role):
        errors["role"] = f"must be one of {', '.join(Role)}"
    if len(password) < MIN_PASSWORD:
        errors["password"] = f"must be at least {MIN_PASSWORD} characters"
    if errors or address is None:
        raise ValidationError(errors)
    old = await store.kv_get(USERS, address)
    user = User(id=str(old["id"]) if old else new_id("u"), email=address, role=role,
                password_hash=_hasher.hash(password), name=name)
    doc = asdict(user)
    doc["created_at"] = user.created_at.isoformat()
    await store.kv_put(USERS, address, doc)
    return user


async def get_user(store: Store, email: str) -> User:
    doc = await store.kv_get(USERS, (normalize_email(email) or email).lower())
    if doc is None:
        raise NotFound(f"no user {email}")
    return _user(doc)


async def list_users(store: Store) -> list[User]:
    return [_user(doc) for _, doc in await store.kv_list(USERS, None, 10_000)]


async def authenticate(store: Store, email: str, password: str) -> User | None:
    """The user if the password is right; None otherwise (same answer for unknown users)."""
    try:
        user = await get_user(store, email)
    except NotFound:
        _hasher.hash(password)  # same cost either way: no user enumeration by timing
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


async def create_token(store: Store, email: str) -> str:
    user = await get_user(store, email)
    token = "inbx_" + secrets.token_urlsafe(32)
    await store.kv_put(TOKENS, _digest(token), {"email": user.email,
                                                "created_at": utcnow().isoformat()})
    return token


async def user_for_token(store: Store, token: str) -> User | None:
    doc = await store.kv_get(TOKENS, _digest(token))
    if doc is None:
        return None
    try:
        return await get_user(store, str(doc["email"]))
    except NotFound:
        return None


async def create_session(store: Store, user: User) -> tuple[str, str]:
    """A new session id and its CSRF token."""
    sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    await store.kv_put(SESSIONS, _digest(sid), {
        "email": user.email, "csrf": csrf, "expires": (utcnow() + SESSION_TTL).isoformat()})
    return sid, csrf


async def session(store: Store, sid: str) -> tuple[User, str] | None:
    """The user and CSRF token of a live session."""
    doc = await store.kv_get(SESSIONS, _digest(sid))
    if doc is None or datetime.fromisoformat(str(doc["expires"])) < utcnow():
        return None
    try:
        return await get_user(store, str(doc["email"])), str(doc["csrf"])
    except NotFound:
        return None


async def end_session(store: Store, sid: str) -> None:
    await store.kv_delete(SESSIONS, _digest(sid))
