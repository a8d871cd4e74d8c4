"""The aiohttp application: middlewares (errors, security headers, auth) and routes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from inbox import permissions
from inbox.errors import (
    InboxError,
    QueryError,
    RateLimited,
    StoreUnavailable,
    ValidationError,
)
from web import (
    acks,
    admin,
    api,
    canned,
    crisis,
    csat,
    facet_links,
    filters,
    forms,
    incidents,
    listening,
    merges,
    notifications,
    preferences,
    presence,
    references,
    report_api,
    saved_searches,
    static_files,
    triage,
    views,
)
from web.context import WebContext
from web.guards import Handler, authenticate, authorize, check_routes, is_api
from web.keys import CONTEXT, context
from web.render import render
from web.serialize import json_response

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
STARTED: web.RequestKey[bool] = web.RequestKey("response_started", bool)

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")


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


def runner(ctx: WebContext) -> web.AppRunner:
    """The app behind aiohttp's server, with our limits and logging of malformed requests."""
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, QuietBadRequests) for f in server_log.filters):
        server_log.addFilter(QuietBadRequests())
    return web.AppRunner(create_app(ctx), access_log=None,
                         max_line_size=MAX_REQUEST_LINE, max_field_size=MAX_REQUEST_LINE)


def create_app(ctx: WebContext) -> web.Application:
    """The web application over the use cases and settings of `ctx`."""
    app = web.Application(middlewares=[errors_middleware, authenticate, authorize,
                                       references.by_reference],
                          client_max_size=2 * 1024 * 1024)
    app.on_response_prepare.append(secure_headers)
    app[CONTEXT] = ctx
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"),
                               autoescape=jinja2.select_autoescape(default=True))
    filters.register(env)
    env.globals["team_timezone"] = ctx.conversations.sla.calendar.timezone
    env.globals["public_url"] = ctx.web.public_url
    env.globals["can"] = permissions.allowed
    env.globals["with_facet"] = facet_links.with_facet
    env.globals["with_term"] = facet_links.with_term
    env.globals["facet_chips"] = facet_links.chips
    app.router.add_get(static_files.PATH, static_files.StaticFiles(HERE / "static").serve)
    app.router.add_get("/healthz", health)
    forms.setup(app)
    api.setup(app)
    report_api.setup(app)
    presence.setup(app)
    views.setup(app)
    preferences.setup(app)
    admin.setup(app)
    canned.setup(app)
    acks.setup(app)
    saved_searches.setup(app)
    listening.setup(app)
    crisis.setup(app)
    notifications.setup(app)
    triage.setup(app)
    merges.setup(app)
    incidents.setup(app)
    csat.setup(app)
    check_routes(app)
    return app


async def health(request: web.Request) -> web.Response:
    """Liveness for load balancers: the store answers (StoreUnavailable becomes a 503)."""
    await context(request).health()
    return json_response({"ok": True})
