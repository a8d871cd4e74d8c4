"""Incidents on the web (inbox.usecases.incidents): the list /incidents (open first; managers
create one there), an incident's page (its conversations with customer, channel, status and
the last update's delivery, counts per channel, the update and resolve forms), the panel
beside a conversation (its incident; link it to one), and the JSON API under /api/incidents.
Plain forms with the session's CSRF token, post/redirect/get."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

from aiohttp import web

from inbox.collections import IncidentDoc
from inbox.errors import InboxError, ValidationError
from inbox.model import Conversation
from inbox.usecases import bulk
from inbox.usecases.incidents import Incidents, IncidentView, Member, Outcome, Progress
from web import params
from web.filters import customer_name
from web.guards import current_user
from web.keys import context
from web.render import back, render
from web.serialize import json_response, read_form

PATH = "/incidents"
API = "/api/incidents"
MAX_REF = 20  # characters of a "#10482" typed in the link form


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(PATH, incidents_page)
    r.add_post(PATH, create_incident)
    r.add_get(PATH + "/{id}", incident_page)
    r.add_post(PATH + "/{id}/resolve", resolve_incident)
    r.add_post(PATH + "/{id}/{action}", incident_action)
    r.add_get(API, list_incidents)
    r.add_post(API, api_create)
    r.add_get(API + "/{id}", api_incident)
    r.add_post(API + "/{id}/conversations", api_link)
    r.add_delete(API + "/{id}/conversations/{conversation}", api_unlink)
    r.add_post(API + "/{id}/updates", api_update)
    r.add_get(API + "/{id}/updates/{update}", api_progress)
    r.add_post(API + "/{id}/resolve", api_resolve)
    r.add_get("/api/conversations/{id}/incident", api_conversation_incident)


# --- as shown --------------------------------------------------------------------------------


def shown(doc: IncidentDoc) -> dict[str, Any]:
    return {"id": doc["id"], "title": doc["title"], "description": doc["description"],
            "status": doc["status"], "created_at": doc["created_at"],
            "created_by": doc["created_by"], "resolved_at": doc["resolved_at"],
            "resolved_by": doc["resolved_by"], "conversations": len(doc["conversations"]),
            "updates": len(doc["updates"])}


def shown_progress(p: Progress) -> dict[str, Any]:
    u = p.update
    return {"id": u["id"], "text": u["text"], "by": u["by"], "at": u["at"],
            "resolve": u["resolve"], "finished": u["finished_at"] is not None,
            "done": p.done, "total": p.total, "counts": p.counts}


def shown_member(m: Member) -> dict[str, Any]:
    c = m.conversation
    return {"id": c.id, "ref": c.ref, "subject": c.subject, "channel": c.channel,
            "status": c.status, "customer": {"id": c.customer_id,
                                             "name": customer_name(m.customer)},
            "last_update": _outcome(m.last)}


def _outcome(o: Outcome | None) -> dict[str, Any] | None:
    return None if o is None else {"status": o.status, "reason": o.reason,
                                   "message": o.message}


def shown_view(v: IncidentView) -> dict[str, Any]:
    return {"incident": shown(v.incident), "channels": v.channels,
            "conversations": [shown_member(m) for m in v.members],
            "last_update": shown_progress(v.last_update) if v.last_update else None}


# --- pages -----------------------------------------------------------------------------------


async def incidents_page(request: web.Request) -> web.Response:
    found = await context(request).incidents.all()
    return render("incidents.html", request, {
        "incidents": [shown(d) for d in found], "flash": request.query.get("flash")})


async def incident_page(request: web.Request) -> web.Response:
    view = await context(request).incidents.view(request.match_info["id"])
    return render("incident.html", request, {
        "view": view, "flash": request.query.get("flash"), "key": secrets.token_urlsafe(16)})


async def create_incident(request: web.Request) -> web.Response:
    form = await read_form(request)
    try:
        doc = await context(request).incidents.create(
            current_user(request), str(form.get("title", "")),
            str(form.get("description", "")))
    except InboxError as exc:
        raise back(PATH, f"Not created: {exc}") from None
    raise back(f"{PATH}/{doc['id']}", f"Incident “{doc['title']}” created: link its "
                                      "conversations from the queue or their pages.")


async def _conversation_id(request: web.Request, form: Any) -> str:
    """The conversation a form names: its id, or its reference typed as "#10482"."""
    conv_id = str(form.get("conversation", ""))[:100]
    if conv_id:
        return conv_id
    ref = str(form.get("ref", "")).strip().lstrip("#")[:MAX_REF]
    if not ref.isdigit():
        raise ValidationError({"ref": "type a conversation's reference, like #10482"})
    found = await context(request).conversations.by_reference(int(ref))
    if found is None:
        raise ValidationError({"ref": f"there is no conversation #{ref}"})
    return found.id


async def incident_action(request: web.Request) -> web.Response:
    """link (conversation id or ref; from a conversation's page, back there, the incident
    chosen in its "incident" field), unlink, update."""
    incident_id, action = request.match_info["id"], request.match_info["action"]
    form = await read_form(request)
    incidents, me = context(request).incidents, current_user(request)
    here = f"{PATH}/{quote(incident_id, safe='')}"
    try:
        if action == "link":  # the panel beside a conversation picks the incident in a field
            incident_id = str(form.get("incident", "") or incident_id)[:100]
            conv_id = await _conversation_id(request, form)
            if form.get("from") == "conversation":
                here = f"/conversations/{quote(conv_id, safe='')}"
            conv = await incidents.link(conv_id, me, incident_id)
            flash = f"Conversation {_ref(conv)} linked to the incident."
        elif action == "unlink":
            conv_id = str(form.get("conversation", ""))[:100]
            if form.get("from") == "conversation":
                here = f"/conversations/{quote(conv_id, safe='')}"
            await incidents.unlink(me, incident_id, conv_id)
            flash = "Conversation unlinked from the incident."
        elif action == "update":
            update = await incidents.send_update(me, incident_id, str(form.get("text", "")),
                                                 str(form.get("key", "")) or None)
            flash = (f"Update being sent to {len(update['conversations'])} conversations; "
                     "each one's delivery shows below.")
        else:
            raise web.HTTPNotFound()
    except InboxError as exc:
        flash = f"Not done: {exc}"
    raise back(here, flash)


async def resolve_incident(request: web.Request) -> web.Response:
    form = await read_form(request)
    here = f"{PATH}/{quote(request.match_info['id'], safe='')}"
    try:
        update = await context(request).incidents.resolve(
            current_user(request), request.match_info["id"], str(form.get("text", "")),
            str(form.get("key", "")) or None)
    except InboxError as exc:
        raise back(here, f"Not resolved: {exc}") from None
    raise back(here, f"Incident resolved: resolving its {len(update['conversations'])} "
                     "conversations" + (" with the final update." if update["text"] else "."))


def _ref(conv: Conversation) -> str:
    return f"#{conv.ref}" if conv.ref else "(new)"


async def open_incidents(request: web.Request) -> list[IncidentDoc]:
    """The open incidents, newest first (the queue's bulk action links to one)."""
    return [d for d in await context(request).incidents.all() if d["status"] == "open"]


async def incident_panel(request: web.Request, conversation_id: str) -> dict[str, Any]:
    """Beside a conversation: its incident, and the open ones it could be linked to."""
    mine = await context(request).incidents.of_conversation(conversation_id)
    return {"incident": mine, "open_incidents": [] if mine else await open_incidents(request)}


# --- the API ---------------------------------------------------------------------------------


async def list_incidents(request: web.Request) -> web.Response:
    found = await context(request).incidents.all()
    return json_response({"incidents": [shown(d) for d in found]})


async def api_create(request: web.Request) -> web.Response:
    data = await params.json_body(request)
    doc = await context(request).incidents.create(current_user(request), data.get("title"),
                                                  data.get("description"))
    return json_response({"incident": shown(doc)}, status=201)


async def api_incident(request: web.Request) -> web.Response:
    view = await context(request).incidents.view(request.match_info["id"])
    return json_response(shown_view(view))


async def api_link(request: web.Request) -> web.Response:
    """{"conversations": [id, ...]}: 200 with {"linked": [id, ...], "not_linked": [{"id",
    "reason" (forbidden, not_found, refused), "error"}, ...]}."""
    data = await params.json_body(request)
    ids = data.get("conversations")
    if not isinstance(ids, list) or not 0 < len(ids) <= bulk.MAX_BULK \
            or not all(isinstance(i, str) and 0 < len(i) <= 100 for i in ids):
        raise ValidationError({"conversations": f"must be a list of 1 to {bulk.MAX_BULK} "
                                                "conversation ids"})
    incidents = context(request).incidents
    incident = await incidents.get(request.match_info["id"])  # a 404 for no such incident

    async def act(conversation_id: str, expected_version: int | None = None) -> Conversation:
        return await incidents.link(conversation_id, current_user(request), incident["id"])

    done = await bulk.each([bulk.Target(i, 0) for i in ids], act)
    return json_response({"linked": [c.id for c in done.changed],
                          "not_linked": [{"id": n.id, "reason": n.reason, "error": n.error}
                                         for n in done.not_changed]})


async def api_unlink(request: web.Request) -> web.Response:
    conv_id = request.match_info["conversation"]
    await context(request).incidents.unlink(current_user(request), request.match_info["id"],
                                            conv_id)
    return json_response({"unlinked": conv_id})


async def api_update(request: web.Request) -> web.Response:
    """{"text", "key"}: 202 with the update's progress; the same key sends nothing twice."""
    data = await params.json_body(request)
    incidents = context(request).incidents
    update = await incidents.send_update(current_user(request), request.match_info["id"],
                                         data.get("text"), data.get("key"))
    return await _accepted(incidents, update["id"])


async def api_resolve(request: web.Request) -> web.Response:
    """{"text" (optional final update), "key"}: 202 with the resolution's progress."""
    data = await params.json_body(request)
    incidents = context(request).incidents
    update = await incidents.resolve(current_user(request), request.match_info["id"],
                                     data.get("text"), data.get("key"))
    return await _accepted(incidents, update["id"])


async def _accepted(incidents: Incidents, update_id: str) -> web.Response:
    """202: an update under way (sent in the background), with its progress so far."""
    return json_response({"update": shown_progress(await incidents.progress(update_id))},
                         status=202)


async def api_progress(request: web.Request) -> web.Response:
    """An update's progress, and each tried conversation's outcome."""
    incidents = context(request).incidents
    progress = await incidents.progress(request.match_info["update"])
    if progress.update["incident"] != request.match_info["id"]:
        raise web.HTTPNotFound()
    outcomes = await incidents.outcomes(progress.update["id"])
    return json_response({"update": shown_progress(progress),
                          "conversations": {k: _outcome(o) for k, o in outcomes.items()}})


async def api_conversation_incident(request: web.Request) -> web.Response:
    conv = await context(request).conversations.current(request.match_info["id"])
    doc = await context(request).incidents.of_conversation(conv.id)
    return json_response({"incident": shown(doc) if doc else None})
