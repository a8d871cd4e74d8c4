"""Canned replies on the web: the admin page /admin/canned (list, add, edit, delete; plain
forms with the session's CSRF token, post/redirect/get), the JSON API under /api/canned, and
GET /api/conversations/{id}/canned, the replies filled in for one conversation, which the
composer (web/static/canned.js) inserts."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from inbox import canned
from inbox.errors import InboxError
from inbox.model import Channel
from web import params
from web.guards import current_user
from web.keys import context
from web.render import back, render
from web.serialize import json_response, read_form

PATH = "/admin/canned"


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(PATH, canned_page)
    r.add_post(PATH + "/{action}", canned_action)
    r.add_get("/api/canned", list_canned)
    r.add_post("/api/canned", create_canned)
    r.add_put("/api/canned/{id}", update_canned)
    r.add_delete("/api/canned/{id}", delete_canned)
    r.add_get("/api/conversations/{id}/canned", conversation_canned)


# --- the admin page ------------------------------------------------------------------------


async def canned_page(request: web.Request) -> web.Response:
    replies = await context(request).canned.all()
    editing = next((d for d in replies if d["id"] == request.query.get("edit")), None)
    return render("admin_canned.html", request, {
        "replies": replies, "editing": editing, "channels": [c.value for c in Channel],
        "variables": canned.VARIABLES, "flash": request.query.get("flash")})


async def canned_action(request: web.Request) -> web.Response:
    action = request.match_info["action"]
    form = await read_form(request)
    replies, me = context(request).canned, current_user(request)
    fields = {name: str(form.get(name, "")) for name in ("name", "text", "channel")}
    try:
        if action == "add":
            doc = await replies.create(me, **fields)
            flash = f"Canned reply “{doc['name']}” added."
        elif action == "edit":
            doc = await replies.update(me, str(form.get("id", "")), **fields)
            flash = f"Canned reply “{doc['name']}” saved."
        elif action == "delete":
            doc = await replies.delete(me, str(form.get("id", "")))
            flash = f"Canned reply “{doc['name']}” deleted."
        else:
            raise web.HTTPNotFound()
    except InboxError as exc:
        flash = f"Not done: {exc}"
    raise back(PATH, flash)


# --- the API -------------------------------------------------------------------------------


async def list_canned(request: web.Request) -> web.Response:
    return json_response({"canned": await context(request).canned.all()})


async def _fields(request: web.Request) -> dict[str, Any]:
    data = await params.json_body(request)
    return {"name": data.get("name"), "text": data.get("text"), "channel": data.get("channel")}


async def create_canned(request: web.Request) -> web.Response:
    doc = await context(request).canned.create(current_user(request), **await _fields(request))
    return json_response({"canned": doc}, status=201)


async def update_canned(request: web.Request) -> web.Response:
    doc = await context(request).canned.update(current_user(request), request.match_info["id"],
                                               **await _fields(request))
    return json_response({"canned": doc})


async def delete_canned(request: web.Request) -> web.Response:
    doc = await context(request).canned.delete(current_user(request), request.match_info["id"])
    return json_response({"deleted": doc["id"]})


async def conversation_canned(request: web.Request) -> web.Response:
    """[{id, name, text_rendered}] for this conversation and the agent asking."""
    found = await context(request).canned.for_conversation(request.match_info["id"],
                                                           current_user(request))
    return json_response([{"id": r.id, "name": r.name, "text_rendered": r.text_rendered}
                          for r in found])
