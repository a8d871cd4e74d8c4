"""Who is asking and what they may do: sign-in (token or session), the permission of every
route from the one table (inbox.permissions), CSRF, and the client's address."""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from aiohttp import web

from inbox import auth, permissions
from inbox.errors import PermissionDenied, ValidationError
from inbox.model import User
from web.keys import CSRF, USER, VIA, context
from web.serialize import json_response, read_form

SESSION_COOKIE = "inbox_session"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who is asking: a bearer token or a session cookie (with its CSRF token)."""
    accounts = context(request).accounts
    request[USER], request[CSRF], request[VIA] = None, None, None
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        try:
            user: User | None = await accounts.token_user(header[7:].strip())
        except auth.TokenRefused as exc:  # unknown, revoked or expired: say which
            if is_api(request):
                return json_response({"error": str(exc)}, 401,
                                     headers={"WWW-Authenticate": "Bearer"})
            user = None
        request[USER], request[VIA] = user, "token"
    elif sid := request.cookies.get(SESSION_COOKIE):
        found = await accounts.session(sid)
        if found is not None:
            request[USER], request[CSRF] = found
            request[VIA] = "session"
    return await handler(request)


def current_user(request: web.Request) -> User:
    """The signed-in user of a route guarded by `require`."""
    user = request[USER]
    if user is None:
        raise web.HTTPUnauthorized(reason="sign in first")
    return user


@web.middleware
async def authorize(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every route's permission comes from the one table, inbox.permissions.ROUTES."""
    check_url_text(request)
    match = request.match_info
    if match.http_exception is None:  # the router's own 404 and 405 need no permission
        resource = match.route.resource
        path = resource.canonical if resource is not None else request.path
        await require(request, permissions.route_permission(request.method, path))
    return await handler(request)


# Control characters and lone surrogates are in no id, name or date we accept.
_BAD_URL_TEXT = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def check_url_text(request: web.Request) -> None:
    """A 400 for control characters in the path or a parameter (the search query ?q= is
    checked by the query parser, which says where)."""
    bad = [name for name, value in request.query.items()
           if name != "q" and _BAD_URL_TEXT.search(name + value)]
    if _BAD_URL_TEXT.search(request.path):
        bad.insert(0, "path")
    if bad:
        raise ValidationError({name: "holds a control character" for name in bad[:10]})


async def require(request: web.Request, permission: str | None) -> None:
    """The single check: signed in (else 401, or the sign-in page), the role has the
    permission (else 403), and a session's state change carries its CSRF token."""
    if permission == permissions.PUBLIC:
        return
    user: User | None = request[USER]
    if user is None:
        if is_api(request):
            raise web.HTTPUnauthorized(reason="sign in or send an API token",
                                       headers={"WWW-Authenticate": "Bearer"})
        raise web.HTTPSeeOther("/login?" + urlencode({"next": request.rel_url.path}))
    if permission is None or not permissions.allowed(user, permission):
        raise PermissionDenied(f"your role ({user.role}) may not open this")
    if request.method not in ("GET", "HEAD") and request[VIA] == "session":
        await check_csrf(request)


def check_routes(app: web.Application,
                 routes: tuple[permissions.Route, ...] = permissions.ROUTES) -> None:
    """Refuse to start with a route the permission table does not list (or the reverse)."""
    registered = {(r.method, r.resource.canonical) for r in app.router.routes()
                  if r.resource is not None and r.method != "HEAD"}
    listed = {(r.method, r.path) for r in routes}
    if registered != listed:
        raise RuntimeError(
            f"routes without a permission in inbox/permissions.py: "
            f"{sorted(registered - listed)}; listed there but not served: "
            f"{sorted(listed - registered)}")


async def check_csrf(request: web.Request) -> None:
    sent = request.headers.get("X-CSRF-Token")
    if sent is None and request.content_type == "application/x-www-form-urlencoded":
        sent = str((await read_form(request)).get("csrf", ""))
    if not sent or not secrets.compare_digest(sent, request[CSRF] or ""):
        raise web.HTTPForbidden(reason="missing or stale CSRF token; reload the page")


def set_session_cookie(request: web.Request, response: web.StreamResponse, sid: str) -> None:
    response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="Lax",
                        secure=context(request).web.secure_cookies,
                        max_age=int(auth.SESSION_TTL.total_seconds()), path="/")


def client_address(request: web.Request) -> str:
    """The client's address; X-Forwarded-For only when configured behind our own proxy."""
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and context(request).web.trust_proxy:
        return forwarded.split(",")[0].strip()
    return request.remote or "unknown"
