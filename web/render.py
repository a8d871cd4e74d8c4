"""Render templates with who is signed in (user, CSRF token) always in the context."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from inbox.normalize import clean_label
from web.keys import CSRF, USER


def render(name: str, request: web.Request, context: Mapping[str, Any],
           status: int = 200) -> web.Response:
    full = {"user": request.get(USER), "csrf": request.get(CSRF), **context}
    return aiohttp_jinja2.render_template(name, request, full, status=status)


def page(name: str) -> Callable[[Callable[[web.Request], Awaitable[Mapping[str, Any]]]],
                                Callable[[web.Request], Awaitable[web.Response]]]:
    """Decorator: the handler returns the template context."""

    def wrap(handler: Callable[[web.Request], Awaitable[Mapping[str, Any]]]
             ) -> Callable[[web.Request], Awaitable[web.Response]]:
        @functools.wraps(handler)
        async def run(request: web.Request) -> web.Response:
            return render(name, request, await handler(request))

        return run

    return wrap


def back(path: str, flash: str, keep: Mapping[str, str] | None = None) -> web.HTTPSeeOther:
    """Post/redirect/get: back to the page, with what happened (which may quote hostile
    input: one clean line) and the parameters to `keep` (the queue's, beside it)."""
    return web.HTTPSeeOther(f"{path}?" + urlencode({**(keep or {}),
                                                    "flash": clean_label(flash, 500)}))
