"""Presence over HTTP: an agent's heartbeat on a conversation, who else is there, and who is
on which conversation (for the queue). Names only, never another user's id; your own entry
is never in what you get back.

    POST /api/conversations/{id}/presence  {"typing": bool (absent: as it was),
                                            "viewing": bool = true}
         -> {"viewers": [{"name": "Ben", "typing": true}], "summary": "Ben is typing…",
             "version": 7}
    GET  /api/conversations/{id}/presence  -> the same, without a heartbeat
    GET  /api/presence -> {"conversations": {"<conversation id>": [{"name", "typing"}]}}

Changes are also pushed on /api/events as event "presence" (see inbox.presence).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web

from inbox.errors import ValidationError
from inbox.presence import Viewer, sentence
from web import params
from web.guards import current_user
from web.keys import context
from web.serialize import json_response


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/presence", everywhere)
    r.add_get("/api/conversations/{id}/presence", viewers)
    r.add_post("/api/conversations/{id}/presence", heartbeat)


def shown(viewers: Iterable[Viewer]) -> list[dict[str, Any]]:
    return [{"name": v.name, "typing": v.typing} for v in viewers]


def _answer(viewers: tuple[Viewer, ...], version: int) -> web.Response:
    """The others on the conversation, in words too, and its version now (a client that
    sees it moved knows its page is behind)."""
    return json_response({"viewers": shown(viewers), "summary": sentence(viewers),
                          "version": version})


def _flag(data: dict[str, Any], name: str, default: bool | None) -> bool | None:
    value = data.get(name, default)
    if value is not default and not isinstance(value, bool):
        raise ValidationError({name: "must be true or false"})
    return value


async def heartbeat(request: web.Request) -> web.Response:
    """{"typing": true while typing, false once stopped, absent: unchanged (it lapses by
    itself); "viewing": false when leaving the page}"""
    data = await params.json_body(request)
    typing, viewing = _flag(data, "typing", None), _flag(data, "viewing", True) is not False
    ctx, user = context(request), current_user(request)
    conv = await ctx.conversations.current(request.match_info["id"])  # NotFound: 404
    others = ctx.presence.heartbeat(conv.id, user, typing=typing, viewing=viewing)
    return _answer(others, conv.version)


async def viewers(request: web.Request) -> web.Response:
    ctx, user = context(request), current_user(request)
    conv = await ctx.conversations.current(request.match_info["id"])
    return _answer(ctx.presence.viewers(conv.id, user.id), conv.version)


async def everywhere(request: web.Request) -> web.Response:
    found = context(request).presence.everywhere(current_user(request).id)
    return json_response({"conversations": {cid: shown(v) for cid, v in found.items()}})
