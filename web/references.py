"""Conversations by their human reference: /conversations/10482 and /api/conversations/10482
(and every route below them) name the conversation customers know as "#10482"."""

from __future__ import annotations

import re

from aiohttp import web

from web.guards import Handler
from web.keys import context

_ROUTES = ("/conversations/{id}", "/api/conversations/{id}")
REFERENCE = re.compile(r"#?(\d{1,12})")  # internal ids never are all digits ("v01a2...")


@web.middleware
async def by_reference(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Put the conversation's id in place of a reference in the route's {id}."""
    match = request.match_info
    resource = match.route.resource if match.http_exception is None else None
    found = REFERENCE.fullmatch(match.get("id", ""))
    if found and resource is not None and resource.canonical.startswith(_ROUTES):
        conv = await context(request).conversations.by_reference(int(found.group(1)))
        if conv is not None:
            match["id"] = conv.id
    return await handler(request)
