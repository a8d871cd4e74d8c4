"""The JSON API under /api/: every page's data, bearer-token or session auth."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from inbox import auth
from inbox import merge as merges
from inbox.errors import QueryError, StaleVersion, ValidationError
from inbox.model import ConversationFilter, utcnow
from inbox.store import DEAD_LETTERS, FACETS
from search import query as ql
from web.app import current_user, require
from web.keys import RUNTIME
from web.serialize import json_response, plain

MAX_LIMIT = 200


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/me", me)
    r.add_get("/api/conversations", list_conversations)
    r.add_get("/api/conversations/{id}", get_conversation)
    r.add_post("/api/conversations/{id}/assign", assign)
    r.add_post("/api/conversations/{id}/status", set_status)
    r.add_post("/api/conversations/{id}/notes", add_note)
    r.add_post("/api/conversations/{id}/reply", reply)
    r.add_post("/api/conversations/{id}/tags", set_tags)
    r.add_get("/api/customers/{id}", get_customer)
    r.add_post("/api/customers/{id}/merge", merge_customer)
    r.add_post("/api/customers/{id}/merges/{merge}/undo", undo_merge)
    r.add_get("/api/reports/sla", sla_report)
    r.add_get("/api/search", search)
    r.add_get("/api/search/export.csv", export_csv)
    r.add_get("/api/voc", voice_of_customer)
    r.add_get("/api/users", list_users)
    r.add_get("/api/dead-letters", dead_letters)
    r.add_get("/api/connectors", connectors)
    r.add_get("/api/events", events)


def _limit(request: web.Request, default: int = 50) -> int:
    raw = request.query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ValidationError({"limit": f"must be a whole number from 1 to {MAX_LIMIT}"})
    return int(raw)


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError({"body": "is not valid JSON"}) from exc
    if not isinstance(data, dict):
        raise ValidationError({"body": "must be a JSON object"})
    return data


def _version(data: dict[str, Any]) -> int | None:
    version = data.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise ValidationError({"version": "must be the conversation's version number"})
    return version


async def resolve_assignee(request: web.Request, value: str | None) -> str | None:
    """A user id from 'me', an email address or a user id; None/'none' unassigns."""
    if value in (None, "", "none"):
        return None
    if value == "me":
        return current_user(request).id
    users = await auth.list_users(request.app[RUNTIME].store)
    for user in users:
        if value in (user.id, user.email):
            return user.id
    raise ValidationError({"assignee": f"no user {value}"})


@require("read")
async def me(request: web.Request) -> web.Response:
    return json_response(current_user(request))


async def conversation_filter(request: web.Request, status: str = "") -> ConversationFilter:
    """?status=&channel=&assignee=&customer=&order= (assignee: me, an email, a user id or
    "none"); `status` is the default when the query names none."""
    q = request.query
    assignee = q.get("assignee") or None
    if assignee != "none":
        assignee = await resolve_assignee(request, assignee)
    order = q.get("order", "recent")
    if order not in ("recent", "due"):
        raise ValidationError({"order": "must be recent (newest activity first) or due "
                                        "(what breaches next)"})
    return ConversationFilter(status=q.get("status", status) or None,
                              channel=q.get("channel") or None, assignee=assignee,
                              customer_id=q.get("customer") or None, order=order)


@require("read")
async def list_conversations(request: web.Request) -> web.Response:
    flt = await conversation_filter(request)
    page = await request.app[RUNTIME].service.conversations(flt, request.query.get("cursor"),
                                                             _limit(request))
    return json_response({"conversations": page.items, "next_cursor": page.next_cursor})


@require("read")
async def get_conversation(request: web.Request) -> web.Response:
    view = await request.app[RUNTIME].service.conversation(request.match_info["id"])
    return json_response({"conversation": view.conversation, "messages": view.messages,
                          "customer": view.customer, "timeline": view.timeline,
                          "timeline_cursor": view.timeline_cursor})


def _stale_response(exc: StaleVersion) -> web.Response:
    """409 with what changed since the agent's version, and the version to act on now."""
    return json_response({"error": str(exc), "changes": exc.changes, "version": exc.version},
                         status=409)


@require("work")
async def assign(request: web.Request) -> web.Response:
    data = await _json(request)
    assignee = await resolve_assignee(request, data.get("assignee"))
    try:
        conv = await request.app[RUNTIME].service.assign(
            request.match_info["id"], assignee, current_user(request), _version(data))
    except StaleVersion as exc:
        return _stale_response(exc)
    return json_response({"conversation": conv})


@require("work")
async def set_status(request: web.Request) -> web.Response:
    data = await _json(request)
    try:
        conv = await request.app[RUNTIME].service.set_status(
            request.match_info["id"], str(data.get("status", "")), current_user(request),
            _version(data))
    except StaleVersion as exc:
        return _stale_response(exc)
    return json_response({"conversation": conv})


@require("work")
async def set_tags(request: web.Request) -> web.Response:
    data = await _json(request)
    tags = data.get("tags")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValidationError({"tags": "must be a list of words"})
    conv = await request.app[RUNTIME].service.set_tags(request.match_info["id"], tags,
                                                        current_user(request))
    return json_response({"conversation": conv})


@require("work")
async def add_note(request: web.Request) -> web.Response:
    data = await _json(request)
    note = await request.app[RUNTIME].service.add_note(
        request.match_info["id"], str(data.get("text") or ""), current_user(request))
    return json_response({"message": note}, status=201)


@require("work")
async def reply(request: web.Request) -> web.Response:
    """{"text", "version": the conversation version answered, "confirm": send even if it
    changed since, "idempotency_key", "status"}; a stale version is a 409 naming the changes.
    Without a version, the reply is checked against the version current when it arrives, so
    of two simultaneous replies one goes and the other gets the 409."""
    data = await _json(request)
    key = data.get("idempotency_key")
    if key is not None and (not isinstance(key, str) or len(key) > 200):
        raise ValidationError({"idempotency_key": "must be text of at most 200 characters"})
    status = data.get("status")
    if status is not None and not isinstance(status, str):
        raise ValidationError({"status": "must be a status name"})
    confirm = data.get("confirm", False)
    if not isinstance(confirm, bool):
        raise ValidationError({"confirm": "must be true or false"})
    version = _version(data)
    try:
        msg = await request.app[RUNTIME].service.reply(
            request.match_info["id"], str(data.get("text") or ""), current_user(request), key,
            status, None if confirm else version, confirm=confirm)
    except StaleVersion as exc:
        return _stale_response(exc)
    status = 201 if msg.delivery == "sent" else 202
    return json_response({"message": msg}, status=status)


@require("read")
async def get_customer(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    customer = await runtime.service.customer(request.match_info["id"])
    convs = await runtime.service.conversations(ConversationFilter(customer_id=customer.id),
                                                None, 100)
    timeline = await runtime.store.customer_messages(customer.id, request.query.get("cursor"),
                                                     _limit(request))
    return json_response({"customer": customer, "conversations": convs.items,
                          "timeline": timeline.items, "next_cursor": timeline.next_cursor,
                          "merges": await merges.merges_of(runtime.store, customer.id)})


@require("work")
async def merge_customer(request: web.Request) -> web.Response:
    """Merge another customer (id, email, phone or @handle) into this one."""
    data = await _json(request)
    other = data.get("customer")
    if not isinstance(other, str) or not other.strip():
        raise ValidationError({"customer": "give the id, email, phone or @handle of the "
                                           "customer to merge into this one"})
    store = request.app[RUNTIME].store
    found = await merges.find_customer(store, other)
    record = await merges.merge(store, request.match_info["id"], found.id,
                                current_user(request))
    return json_response({"merge": record}, status=201)


@require("work")
async def undo_merge(request: web.Request) -> web.Response:
    record = await merges.undo(request.app[RUNTIME].store, request.match_info["id"],
                               request.match_info["merge"], current_user(request))
    return json_response({"merge": record})


def report_range(request: web.Request) -> tuple[datetime, datetime]:
    """?since=YYYY-MM-DD&until=YYYY-MM-DD (until exclusive), by default the last 30 days."""
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    found = {}
    for name, default in (("since", today - timedelta(days=29)),
                          ("until", today + timedelta(days=1))):
        raw = request.query.get(name)
        try:
            found[name] = (datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
                           if raw else default)
        except ValueError as exc:
            raise ValidationError({name: "must be a date like 2026-11-01"}) from exc
    if found["until"] <= found["since"]:
        raise ValidationError({"until": "must be after since"})
    return found["since"], found["until"]


@require("report")
async def sla_report(request: web.Request) -> web.Response:
    since, until = report_range(request)
    rows = await request.app[RUNTIME].service.sla_report(since, until)
    return json_response({"since": since, "until": until, "rows": [
        {**plain(r), "compliance": r.compliance, "repeat_rate": r.repeat_rate} for r in rows]})


async def parse_search(request: web.Request, text: str | None = None) -> Any:
    """The query of ?q= with assignee:me and assignee:<email> turned into user ids."""
    query = request.query.get("q", "") if text is None else text
    node = ql.resolve_me(ql.parse(query), current_user(request).id)
    if "assignee" not in ql.fields_used(node):
        return node
    ids = {u.email: u.id for u in await auth.list_users(request.app[RUNTIME].store)}

    def user_id(value: str) -> str:
        if "@" not in value:
            return value
        if value.lower() not in ids:
            raise QueryError(f"no user {value}", query.find(value), query)
        return ids[value.lower()]

    return ql.map_assignees(node, user_id)


@require("search")
async def search(request: web.Request) -> web.Response:
    node = await parse_search(request)
    facets = [f for f in request.query.get("facets", "").split(",") if f]
    unknown = [f for f in facets if f not in FACETS]
    if unknown:
        raise ValidationError({"facets": f"unknown {', '.join(unknown)}; known: "
                                         f"{', '.join(FACETS)}"})
    result = await request.app[RUNTIME].store.search(node, request.query.get("cursor"),
                                                     _limit(request), facets)
    return json_response({"query": ql.to_text(node), "total": result.total,
                          "messages": result.messages, "next_cursor": result.next_cursor,
                          "facets": {k: [list(p) for p in v] for k, v in result.facets.items()}})


INTERVALS = ("day", "week", "month")


def interval(request: web.Request) -> str:
    value = request.query.get("interval", "day")
    if value not in INTERVALS:
        raise ValidationError({"interval": f"must be one of {', '.join(INTERVALS)}"})
    return value


async def voc_data(request: web.Request) -> dict[str, Any]:
    """Volume over time, trending words and facets of the messages matching ?q=."""
    node = await parse_search(request)
    store = request.app[RUNTIME].store
    result = await store.search(node, None, 20, FACETS)
    return {"query": ql.to_text(node), "total": result.total, "messages": result.messages,
            "facets": {k: [list(p) for p in v] for k, v in result.facets.items()},
            "volume": [list(b) for b in await store.volume(node, interval(request))],
            "trending": [list(t) for t in await store.trending(node, 15)]}


@require("search")
async def voice_of_customer(request: web.Request) -> web.Response:
    return json_response(await voc_data(request))


CSV_COLUMNS = ("created_at", "channel", "direction", "author", "customer_id",
               "conversation_id", "subject", "text", "sentiment", "sentiment_score", "lang")
EXPORT_MAX = 100_000


def csv_cell(value: Any) -> str:
    """Text a spreadsheet shows as text: no formulas from customer input (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@require("search")
async def export_csv(request: web.Request) -> web.StreamResponse:
    """Every message matching ?q= as CSV, streamed page by page (at most 100,000 rows)."""
    node = await parse_search(request)
    store = request.app[RUNTIME].store
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": 'attachment; filename="inbox-search.csv"'})
    await response.prepare(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    cursor, sent = None, 0
    while sent < EXPORT_MAX:
        page = await store.search(node, cursor, 500)
        for m in page.messages:
            writer.writerow([m.created_at.isoformat(), m.channel, m.direction,
                             csv_cell(m.author_label), m.customer_id, m.conversation_id,
                             csv_cell(m.subject), csv_cell(m.text), m.sentiment,
                             "" if m.sentiment_score is None else m.sentiment_score, m.lang])
        sent += len(page.messages)
        await response.write(buffer.getvalue().encode())
        buffer.seek(0)
        buffer.truncate()
        if (cursor := page.next_cursor) is None:
            break
    await response.write_eof()
    return response


@require("work")
async def list_users(request: web.Request) -> web.Response:
    users = await auth.list_users(request.app[RUNTIME].store)
    return json_response({"users": [{"id": u.id, "email": u.email, "role": u.role,
                                     "name": u.name} for u in users]})


@require("admin")
async def dead_letters(request: web.Request) -> web.Response:
    items = await request.app[RUNTIME].store.kv_list(DEAD_LETTERS, request.query.get("after"),
                                                     _limit(request))
    return json_response({"dead_letters": [{"id": k, **{f: v for f, v in doc.items()
                                                        if f != "raw"},
                                            "raw_preview": str(doc.get("raw", ""))[:2000]}
                                           for k, doc in items]})


@require("manage")
async def connectors(request: web.Request) -> web.Response:
    """Per connector: supervisor state, last error, restarts, next retry, the connector's
    own status fields (under "status") and dead-letter counts."""
    return json_response({"connectors": await request.app[RUNTIME].connector_states()})


@require("read")
async def events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: one `data:` line per change."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
    await response.prepare(request)
    async with request.app[RUNTIME].events.subscribe() as queue:
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=15)
                payload = json.dumps(plain(event))
                await response.write(f"event: {event.kind}\ndata: {payload}\n\n".encode())
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
            except (ConnectionResetError, asyncio.CancelledError):
                break
    return response

