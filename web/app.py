"""The aiohttp application: middlewares (errors, security headers, auth) and routes."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from inbox import auth
from inbox import config as cfg
from inbox.errors import (
    InboxError,
    QueryError,
    RateLimited,
    StoreUnavailable,
    ValidationError,
)
from inbox.model import User
from inbox.runtime import Runtime
from inbox.store import USERS
from web.keys import CSRF, RUNTIME, USER, VIA
from web.render import render
from web.serialize import json_response

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
SESSION_COOKIE = "inbox_session"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

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
    """Every error becomes a clear message; JSON under /api/, never a stack trace."""
    try:
        return await handler(request)
    except InboxError as exc:
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
    except web.HTTPException as exc:
        if is_api(request) and exc.status >= 400:
            return json_response({"error": exc.reason}, status=exc.status,
                                 headers={k: v for k, v in exc.headers.items()
                                          if k.lower() not in ("content-type", "content-length")})
        raise
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
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


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


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


def require(permission: str) -> Callable[[Handler], Handler]:
    """Route decorator: the user must be signed in and have the permission."""

    def wrap(handler: Handler) -> Handler:
        async def checked(request: web.Request) -> web.StreamResponse:
            user: User | None = request[USER]
            if user is None:
                if is_api(request):
                    return json_response({"error": "sign in or send an API token"}, 401,
                                         headers={"WWW-Authenticate": "Bearer"})
                raise web.HTTPSeeOther(f"/login?next={request.rel_url.path}")
            if not auth.allowed(user, permission):
                if is_api(request):
                    return json_response({"error": f"your role ({user.role}) may not do this"},
                                         403)
                return _error_page(request, 403, "Your role may not open this page.", {})
            if request.method not in ("GET", "HEAD") and request[VIA] == "session":
                await check_csrf(request)
            return await handler(request)

        checked.__name__ = handler.__name__
        return checked

    return wrap


async def check_csrf(request: web.Request) -> None:
    sent = request.headers.get("X-CSRF-Token")
    if sent is None and request.content_type == "application/x-www-form-urlencoded":
        sent = str((await request.post()).get("csrf", ""))
    if not sent or not secrets.compare_digest(sent, request[CSRF] or ""):
        raise web.HTTPForbidden(reason="missing or stale CSRF token; reload the page")


def create_app(runtime: Runtime, *, manage_runtime: bool = False) -> web.Application:
    """The web application. With manage_runtime it starts and closes the runtime itself."""
    from web import admin, api, forms, views

    app = web.Application(middlewares=[security_headers, errors_middleware, auth_middleware],
                          client_max_size=2 * 1024 * 1024)
    app[RUNTIME] = runtime
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"),
                               autoescape=jinja2.select_autoescape(default=True))
    env.filters["when"] = views.when
    env.filters["hours"] = views.hours
    env.globals["public_url"] = cfg.get(runtime.config, "web.public_url")
    app.router.add_static("/static/", HERE / "static", name="static")
    app.router.add_get("/healthz", health)
    forms.setup(app, runtime)
    api.setup(app)
    views.setup(app)
    admin.setup(app)
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
