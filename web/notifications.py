"""Notifications on the web: the /notifications page (newest first, mark all read with a
plain form), GET /api/notifications ({unread, notifications}) and POST /api/notifications/read.
The header's badge (web/static/notifications.js) refetches the count on each live event
"notification" meant for the signed-in user."""

from __future__ import annotations

from aiohttp import web

from web.guards import current_user
from web.keys import context
from web.render import back, render
from web.serialize import json_response

PATH = "/notifications"


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(PATH, notifications_page)
    r.add_post(PATH + "/read", read_page)
    r.add_get("/api/notifications", list_notifications)
    r.add_post("/api/notifications/read", mark_read)


async def notifications_page(request: web.Request) -> web.Response:
    found = await context(request).conversations.notifications.for_user(current_user(request))
    return render("notifications.html", request, {
        "notifications": found, "unread": sum(1 for n in found if not n["read"]),
        "flash": request.query.get("flash")})


async def read_page(request: web.Request) -> web.Response:
    marked = await context(request).conversations.notifications.mark_all_read(
        current_user(request))
    raise back(PATH, f"{marked} marked read." if marked else "Nothing unread.")


async def list_notifications(request: web.Request) -> web.Response:
    me = current_user(request)
    found = await context(request).conversations.notifications.for_user(me)
    return json_response({"user": me.id, "unread": sum(1 for n in found if not n["read"]),
                          "notifications": found})


async def mark_read(request: web.Request) -> web.Response:
    marked = await context(request).conversations.notifications.mark_all_read(
        current_user(request))
    return json_response({"marked": marked, "unread": 0})
