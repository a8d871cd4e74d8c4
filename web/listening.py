"""Listening rules on the web: the page /listening (the rules with the X query each compiles
to, hit volume and estimated monthly cost; share of voice; the top hits with their priority
formula; add, edit, pause, resume and delete with plain forms, post/redirect/get) and the
JSON API under /api/listening/rules. Everyone who may search sees them; permission
"listening" changes them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp import web

from inbox import permissions
from inbox.collections import ListeningRuleDoc
from inbox.errors import InboxError, ValidationError
from inbox.listening import compiled_query
from inbox.model import Message
from inbox.privacy import inbound_only, redact_message
from inbox.usecases.conversations import ConversationView
from inbox.usecases.listening import ListeningRules, TopHit
from web import params
from web.charts import stacked_bars
from web.guards import current_user
from web.keys import context
from web.render import back, render
from web.serialize import json_response, read_form

PATH = "/listening"
API = "/api/listening/rules"
PERIODS = (7, 30)  # days of share of voice the page offers
EDIT = "listening"  # the permission to change rules


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(PATH, listening_page)
    r.add_post(PATH + "/{action}", listening_action)
    r.add_get(API, list_rules)
    r.add_post(API, create_rule)
    r.add_put(API + "/{id}", update_rule)
    r.add_delete(API + "/{id}", delete_rule)
    r.add_get("/api/listening/share", share_of_voice)


async def shown(rules: ListeningRules, doc: ListeningRuleDoc) -> dict[str, Any]:
    """A rule as the page and the API show it: the X query it compiles to, its hits today,
    in 7 and 30 days, and its estimated monthly cost (the last 30 days' reads x price)."""
    volume = await rules.volume(doc["id"])
    return {**doc, "x_query": compiled_query(doc["query"]), "error": doc.get("error"),
            "hits": {"today": volume.today, "days_7": volume.week, "days_30": volume.month},
            "negative_30": volume.negative_month, "reads_30": volume.reads_month,
            "estimated_monthly_cost": rules.cost(volume)}


def _days(request: web.Request) -> int:
    raw = request.query.get("days", "30")
    return int(raw) if raw in {str(p) for p in PERIODS} else 30


async def _shares(rules: ListeningRules, days: int) -> list[dict[str, Any]]:
    return [{"group": s.group, "hits": s.hits, "share": round(s.share, 4),
             "negative": s.negative, "negative_share": round(s.negative_share, 4)}
            for s in await rules.share_of_voice(days)]


# --- the page ------------------------------------------------------------------------------


async def listening_page(request: web.Request) -> web.Response:
    rules, me = context(request).listening, current_user(request)
    days = _days(request)
    shares = await _shares(rules, days)
    chart = stacked_bars([(s["group"], {"negative": s["negative"],
                                        "neutral": s["hits"] - s["negative"]})
                          for s in shares], width=640, height=260) if shares else None
    docs = await rules.all()
    edit = request.query.get("edit")
    delete = request.query.get("delete")
    return render("listening.html", request, {
        "rules": [await shown(rules, d) for d in docs],
        "may_edit": permissions.allowed(me, EDIT),
        "editing": next((d for d in docs if d["id"] == edit), None),
        "deleting": next((d for d in docs if d["id"] == delete), None),
        "shares": shares, "chart": chart, "days": days, "periods": PERIODS,
        "top": _seen_by(request, await rules.top_hits()), "price": rules.post_read_price,
        "weights": rules.weights, "flash": request.query.get("flash")})


def _seen_by(request: web.Request, hits: list[TopHit]) -> list[TopHit]:
    """The hits as the viewer may see them: who may not read conversations (marketing)
    sees no contacts in them unless an admin allows it, as in search."""
    me, search = current_user(request), context(request).search
    if permissions.sees_care(me):
        return hits
    shown = redact_message if search.hides_contacts(me) else inbound_only
    return [replace(t, message=shown(t.message)) for t in hits]


def _version(form: Any) -> int | None:
    raw = str(form.get("version", ""))
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


async def listening_action(request: web.Request) -> web.Response:
    action = request.match_info["action"]
    form = await read_form(request)
    rules, me = context(request).listening, current_user(request)
    rule_id = str(form.get("id", ""))
    try:
        if action == "add":
            doc = await rules.create(me, form.get("name", ""), form.get("query", ""),
                                     form.get("group", ""))
            flash = f"Rule “{doc['name']}” added: polled from the next search."
        elif action == "edit":
            doc = await rules.update(me, rule_id, _version(form), form.get("name", ""),
                                     form.get("query", ""), form.get("group", ""))
            flash = f"Rule “{doc['name']}” saved."
        elif action in ("pause", "resume"):
            doc = await rules.update(me, rule_id, _version(form), paused=action == "pause")
            flash = f"Rule “{doc['name']}” {'paused' if doc['paused'] else 'resumed'}."
        elif action == "delete":
            doc = await rules.delete(me, rule_id)
            flash = f"Rule “{doc['name']}” deleted."
        else:
            raise web.HTTPNotFound()
    except InboxError as exc:
        flash = f"Not done: {exc}"
    raise back(PATH, flash)


# --- on a listening hit's conversation -------------------------------------------------------


async def hit_panel(request: web.Request, view: ConversationView) -> dict[str, Any]:
    """For the conversation page: a listening hit's priority with the formula and this
    hit's numbers, and whether its customer is a VIP."""
    hit: Message | None = next((m for m in view.messages if "rule" in m.meta), None)
    rules = context(request).listening
    return {"hit_priority": await rules.priority_of(hit) if hit else None,
            "vip": await rules.vip(view.customer.id)}


# --- the API -------------------------------------------------------------------------------


async def list_rules(request: web.Request) -> web.Response:
    rules = context(request).listening
    return json_response({"rules": [await shown(rules, d) for d in await rules.all()],
                          "post_read_price": rules.post_read_price})


async def create_rule(request: web.Request) -> web.Response:
    data = await params.json_body(request)
    rules = context(request).listening
    doc = await rules.create(current_user(request), data.get("name"), data.get("query"),
                             data.get("group", "ours"), data.get("paused", False))
    return json_response({"rule": await shown(rules, doc)}, status=201)


async def update_rule(request: web.Request) -> web.Response:
    """{"version": n, and any of "name", "query", "group", "paused"}."""
    data = await params.json_body(request)
    if "version" not in data:
        raise ValidationError({"version": "required: the version you edited"})
    rules = context(request).listening
    doc = await rules.update(current_user(request), request.match_info["id"],
                             data.get("version"), data.get("name"), data.get("query"),
                             data.get("group"), data.get("paused"))
    return json_response({"rule": await shown(rules, doc)})


async def delete_rule(request: web.Request) -> web.Response:
    doc = await context(request).listening.delete(current_user(request),
                                                  request.match_info["id"])
    return json_response({"deleted": doc["id"]})


async def share_of_voice(request: web.Request) -> web.Response:
    """?days=7|30: hits per rule group, their share and negative share."""
    days = _days(request)
    return json_response({"days": days,
                          "groups": await _shares(context(request).listening, days)})
