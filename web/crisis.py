"""The crisis view /voc/crisis: the saved searches spiking now, and those whose spike ended
in the last 48 hours (inbox.usecases.crisis). Counts only, no links to conversations, so
marketing (no "read") meets no refusal."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from inbox.model import utcnow
from inbox.usecases.crisis import ENDED_WINDOW, MAX_READ, Crisis, crises
from web.guards import current_user
from web.keys import context
from web.render import render

PATH = "/voc/crisis"


def setup(app: web.Application) -> None:
    app.router.add_get(PATH, crisis_page)


def voc_link(c: Crisis) -> str:
    """The saved search on /voc, over the spike's days."""
    args = {"q": c.search["query"], "interval": "day", "from": c.since.date().isoformat()}
    if c.ended is not None:
        args["to"] = c.ended.date().isoformat()
    return "/voc?" + urlencode(args)


async def crisis_page(request: web.Request) -> web.Response:
    ctx = context(request)
    found = await crises(ctx.saved_searches, ctx.search, current_user(request), utcnow())
    return render("crisis.html", request, {
        "crises": [(c, voc_link(c)) for c in found], "max_read": MAX_READ,
        "ended_hours": int(ENDED_WINDOW.total_seconds() // 3600)})
