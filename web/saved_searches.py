"""Saved searches on the web: the list /voc/saved (run, rename, delete, subscribe to spike
alerts; plain forms with the session's CSRF token, post/redirect/get), the "Save this search"
form of /voc (templates/voc_save.html posts to /voc/saved/add) and the JSON API under
/api/saved-searches."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from inbox.collections import SavedSearchDoc, SpikeStateDoc
from inbox.errors import InboxError, ValidationError
from inbox.model import User
from inbox.usecases.saved_searches import may_change
from web import params
from web.guards import current_user
from web.keys import context
from web.render import back, render
from web.serialize import json_response, read_form

PATH = "/voc/saved"
API = "/api/saved-searches"


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(PATH, saved_page)
    r.add_post(PATH + "/{action}", saved_action)
    r.add_get(API, list_saved)
    r.add_post(API, create_saved)
    r.add_put(API + "/{id}", rename_saved)
    r.add_delete(API + "/{id}", delete_saved)
    r.add_put(API + "/{id}/subscription", subscribe_saved)


def shown(doc: SavedSearchDoc, me: User, state: SpikeStateDoc | None = None
          ) -> dict[str, Any]:
    """A saved search as the API and the page show it to this user, with where its spike
    detection stands (the hour last checked, spiking since when, the last alert's delivery)."""
    return {"id": doc["id"], "name": doc["name"], "query": doc["query"],
            "owner": doc["owner_email"], "created_at": doc["created_at"],
            "subscribed": me.id in doc["subscribers"],
            "subscribers": len(doc["subscribers"]), "may_change": may_change(me, doc),
            "spike": None if state is None else {
                "checked_hour": state["hour"], "spiking_since": state["since"],
                "last_alert": state.get("delivery")}}


async def _all_shown(request: web.Request) -> list[dict[str, Any]]:
    me, searches = current_user(request), context(request).saved_searches
    states = await searches.spike_states()
    return [shown(d, me, states.get(d["id"])) for d in await searches.all()]


# --- the page ------------------------------------------------------------------------------


async def saved_page(request: web.Request) -> web.Response:
    return render("saved_searches.html", request, {
        "searches": await _all_shown(request), "renaming": request.query.get("rename"),
        "flash": request.query.get("flash")})


async def saved_action(request: web.Request) -> web.Response:
    action = request.match_info["action"]
    form = await read_form(request)
    searches, me = context(request).saved_searches, current_user(request)
    search_id, name = str(form.get("id", "")), str(form.get("name", ""))
    try:
        if action == "add":
            doc = await searches.create(me, name, str(form.get("query", "")))
            flash = f"Search “{doc['name']}” saved."
        elif action == "rename":
            doc = await searches.rename(me, search_id, name)
            flash = f"Search renamed “{doc['name']}”."
        elif action == "delete":
            doc = await searches.delete(me, search_id)
            flash = f"Search “{doc['name']}” deleted."
        elif action in ("subscribe", "unsubscribe"):
            doc = await searches.subscribe(me, search_id, action == "subscribe")
            flash = (f"You will be told of spikes in “{doc['name']}”." if action == "subscribe"
                     else f"No more spike alerts for “{doc['name']}”.")
        else:
            raise web.HTTPNotFound()
    except InboxError as exc:
        flash = f"Not done: {exc}"
    raise back(PATH, flash)


# --- the API -------------------------------------------------------------------------------


async def list_saved(request: web.Request) -> web.Response:
    return json_response({"searches": await _all_shown(request)})


async def create_saved(request: web.Request) -> web.Response:
    data = await params.json_body(request)
    me = current_user(request)
    doc = await context(request).saved_searches.create(me, data.get("name"), data.get("query"))
    return json_response({"search": shown(doc, me)}, status=201)


async def rename_saved(request: web.Request) -> web.Response:
    data = await params.json_body(request)
    me = current_user(request)
    doc = await context(request).saved_searches.rename(me, request.match_info["id"],
                                                       data.get("name"))
    return json_response({"search": shown(doc, me)})


async def delete_saved(request: web.Request) -> web.Response:
    doc = await context(request).saved_searches.delete(current_user(request),
                                                       request.match_info["id"])
    return json_response({"deleted": doc["id"]})


async def subscribe_saved(request: web.Request) -> web.Response:
    """{"subscribed": true|false}: be told of the search's spikes, or not."""
    data = await params.json_body(request)
    on = data.get("subscribed")
    if not isinstance(on, bool):
        raise ValidationError({"subscribed": "true or false"})
    me = current_user(request)
    doc = await context(request).saved_searches.subscribe(me, request.match_info["id"], on)
    return json_response({"search": shown(doc, me)})
