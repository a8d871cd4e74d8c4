"""The aiohttp application: middlewares (errors, security headers, auth) and routes."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from inbox import auth, permissions
from inbox.app.runtime import Runtime
from inbox.errors import (
    InboxError,
    PermissionDenied,
    QueryError,
    RateLimited,
    StoreUnavailable,
    ValidationError,
)
from inbox.model import User
from inbox.store import USERS
from web.keys import CSRF, RUNTIME, USER, VIA
from web.render import render
from web.serialize import json_response, read_form

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
SESSION_COOKIE = "inbox_session"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STARTED: web.RequestKey[bool] = web.RequestKey("response_started", bool)

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")


def is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def error_body(exc: InboxError) -> dict[str, Any]:
    body: dict[str, Any] = {"error": str(exc)}
    if isinstance(exc, ValidationError):
        body["errors"] = exc.errors
    if isinstance(exc, QueryError):
        body.update(problem=exc.problem, position=exc.position, query=exc.query)
    return body


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error becomes a clear message; JSON under /api/, never a stack trace. A
    streamed response that fails after its status line went out is not answered twice:
    aiohttp closes the connection, so the client sees it incomplete."""
    try:
        return await handler(request)
    except Exception as exc:
        if request.get(STARTED):
            log.warning("response failed after it began", extra={"path": request.path,
                                                                 "error": repr(exc)})
            raise
        return _error_response(request, exc)


def _error_response(request: web.Request, exc: Exception) -> web.StreamResponse:
    if isinstance(exc, InboxError):
        status = getattr(exc, "status", 500)
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(int(exc.retry_after))
        if isinstance(exc, StoreUnavailable):
            headers["Retry-After"] = "30"
            exc = StoreUnavailable(f"storage is unavailable, so nothing was saved; please try "
                                   f"again shortly ({exc})")
        if status >= 500:
            log.warning("request failed", extra={"path": request.path, "error": str(exc)})
        if is_api(request):
            return json_response(error_body(exc), status=status, headers=headers)
        return _error_page(request, status, str(exc), headers)
    if isinstance(exc, web.HTTPException):
        if is_api(request) and exc.status >= 400:
            return json_response({"error": exc.reason}, status=exc.status,
                                 headers={k: v for k, v in exc.headers.items()
                                          if k.lower() not in ("content-type", "content-length")})
        raise exc
    log.error("unhandled error", extra={"path": request.path}, exc_info=exc)
    if is_api(request):
        return json_response({"error": "internal error; the team has the details"}, 500)
    return _error_page(request, 500, "Something went wrong on our side.", {})


def _error_page(request: web.Request, status: int, message: str,
                headers: dict[str, str]) -> web.Response:
    response = render("error.html", request,
                                              {"status": status, "message": message},
                                              status=status)
    response.headers.update(headers)
    return response


async def secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response, the router's 404/405, CSRF refusals and static files included:
    security headers, and no caching of anything but static files."""
    request[STARTED] = True
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who is asking: a bearer token or a session cookie (with its CSRF token)."""
    store = request.app[RUNTIME].store
    request[USER], request[CSRF], request[VIA] = None, None, None
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        try:
            user: User | None = await auth.user_for_token(store, header[7:].strip())
        except auth.TokenRefused as exc:  # unknown, revoked or expired: say which
            if is_api(request):
                return json_response({"error": str(exc)}, 401,
                                     headers={"WWW-Authenticate": "Bearer"})
            user = None
        request[USER], request[VIA] = user, "token"
    elif sid := request.cookies.get(SESSION_COOKIE):
        found = await auth.session(store, sid)
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


def check_routes(app: web.Application) -> None:
    """Refuse to start with a route the permission table does not list (or the reverse)."""
    registered = {(r.method, r.resource.canonical) for r in app.router.routes()
                  if r.resource is not None and r.method != "HEAD"}
    listed = {(r.method, r.path) for r in permissions.ROUTES}
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


# Request lines and header fields up to 64 KiB reach the app (whose limits answer with a clear
# 400); beyond that aiohttp answers 400 itself, logged as a warning without a traceback.
MAX_REQUEST_LINE = 65536


class QuietBadRequests(logging.Filter):
    """A malformed HTTP request is the client's problem: one warning line, not an ERROR."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args = "malformed HTTP request refused: %s", (exc.message,)
            record.exc_info = record.exc_text = None
        return True


def runner(runtime: Runtime) -> web.AppRunner:
    """The app behind aiohttp's server, with our limits and logging of malformed requests."""
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, QuietBadRequests) for f in server_log.filters):
        server_log.addFilter(QuietBadRequests())
    return web.AppRunner(create_app(runtime), access_log=None,
                          max_line_size=MAX_REQUEST_LINE, max_field_size=MAX_REQUEST_LINE)


def create_app(runtime: Runtime, *, manage_runtime: bool = False) -> web.Application:
    """The web application. With manage_runtime it starts and closes the runtime itself."""
    from web import admin, api, forms, views

    app = web.Application(middlewares=[errors_middleware, auth_middleware, authorize],
                          client_max_size=2 * 1024 * 1024)
    app.on_response_prepare.append(secure_headers)
    app[RUNTIME] = runtime
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"),
                               autoescape=jinja2.select_autoescape(default=True))
    env.filters["when"] = views.when
    env.filters["hours"] = views.hours
    env.globals["public_url"] = runtime.settings.web.public_url
    env.globals["can"] = permissions.allowed
    app.router.add_static("/static/", HERE / "static", name="static")
    app.router.add_get("/healthz", health)
    forms.setup(app, runtime)
    api.setup(app)
    views.setup(app)
    admin.setup(app)
    check_routes(app)
    if manage_runtime:
        app.on_startup.append(_startup)
        app.on_cleanup.append(_cleanup)
    return app


async def health(request: web.Request) -> web.Response:
    """Liveness for load balancers: the store answers (StoreUnavailable becomes a 503)."""
    await request.app[RUNTIME].store.kv_get(USERS, "-")
    return json_response({"ok": True})


async def _startup(app: web.Application) -> None:
    await app[RUNTIME].start()
    await app[RUNTIME].start_workers()


async def _cleanup(app: web.Application) -> None:
    await app[RUNTIME].aclose()
