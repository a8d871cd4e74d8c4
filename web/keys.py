"""Typed keys of values kept on the aiohttp application and on each request."""

from __future__ import annotations

from aiohttp import web

from inbox.model import User
from web.context import WebContext

CONTEXT = web.AppKey("context", WebContext)

# Per request: who is asking, their session's CSRF token, and how they signed in.
USER: web.RequestKey[User | None] = web.RequestKey("user")
CSRF: web.RequestKey[str | None] = web.RequestKey("csrf")
VIA: web.RequestKey[str | None] = web.RequestKey("via")  # "token" | "session" | None


def context(request: web.Request) -> WebContext:
    """The use cases and settings of the app serving this request."""
    return request.app[CONTEXT]
