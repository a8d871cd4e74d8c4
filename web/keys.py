"""Typed keys of values kept on the aiohttp application."""

from __future__ import annotations

from aiohttp import web

from inbox.runtime import Runtime

RUNTIME = web.AppKey("runtime", Runtime)

# Per request: who is asking, their session's CSRF token, and how they signed in.
USER = web.RequestKey("user", object)
CSRF = web.RequestKey("csrf", object)
VIA = web.RequestKey("via", object)
