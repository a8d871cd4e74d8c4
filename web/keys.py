"""Typed keys of values kept on the aiohttp application."""

from __future__ import annotations

from aiohttp import web

from inbox.app.runtime import Runtime
from inbox.model import User

RUNTIME = web.AppKey("runtime", Runtime)

# Per request: who is asking, their session's CSRF token, and how they signed in.
USER: web.RequestKey[User | None] = web.RequestKey("user")
CSRF: web.RequestKey[str | None] = web.RequestKey("csrf")
VIA: web.RequestKey[str | None] = web.RequestKey("via")  # "token" | "session" | None
