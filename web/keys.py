"""Typed keys of values kept on the aiohttp application."""

from __future__ import annotations

from aiohttp import web

from inbox.runtime import Runtime

RUNTIME = web.AppKey("runtime", Runtime)
