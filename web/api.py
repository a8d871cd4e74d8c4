"""The JSON API under /api/: every page's data, bearer-token or session auth."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from inbox import auth, permissions
from inbox import merge as merges
from inbox import query as ql
from inbox.errors import QueryError, StaleVersion, ValidationError
from inbox.model import (
    And,
    ConversationFilter,
    Direction,
    FieldTerm,
    Message,
    QueryNode,
    SearchResult,
    utcnow,
)
from inbox.privacy import inbound_only, redact_message
from inbox.store import DEAD_LETTERS, FACETS
from web.app import current_user
from web.keys import RUNTIME
from web.serialize import json_object, json_response, plain

log = logging.getLogger(__name__)

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


_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")  # ASCII digits only: str.isdigit() takes "²"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def whole_number(raw: str, name: str, low: int, high: int) -> int:
    """A query or path parameter as an int in [low, high], or a 400 that says so."""
    if not _WHOLE_NUMBER.fullmatch(raw) or not low <= int(raw) <= high:
        raise ValidationError({name: f"must be a whole number from {low} to {high}"})
    return int(raw)


def day(raw: str, name: str) -> datetime:
    """A YYYY-MM-DD parameter (ASCII digits, in the range every store compares) as UTC
    midnight, or a 400."""
    try:
        if not _DATE.fullmatch(raw) or not ql.FIRST_DATE <= raw <= ql.LAST_DATE:
            raise ValueError(raw)
        return datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ValidationError({name: f"must be a date like 2026-11-01, from {ql.FIRST_DATE} "
                                     f"to {ql.LAST_DATE}"}) from exc


def _limit(request: web.Request, default: int = 50) -> int:
    return whole_number(request.query.get("limit", str(default)), "limit", 1, MAX_LIMIT)


async def _json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object (see json_object); a 400 that says what is wrong."""
    try:
        text = (await request.read()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError({"body": "is not valid UTF-8"}) from exc
    return json_object(text)


MAX_VERSION = 2**53


def _text(data: dict[str, Any], name: str) -> str:
    """A text field of a JSON body: text or absent (""), never a number or a list."""
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise ValidationError({name: "must be text"})
    return value or ""


def _version(data: dict[str, Any]) -> int | None:
    version = data.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)
                                or not 1 <= version <= MAX_VERSION):
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


async def list_conversations(request: web.Request) -> web.Response:
    flt = await conversation_filter(request)
    page = await request.app[RUNTIME].service.conversations(flt, request.query.get("cursor"),
                                                             _limit(request))
    return json_response({"conversations": page.items, "next_cursor": page.next_cursor})


async def get_conversation(request: web.Request) -> web.Response:
    view = await request.app[RUNTIME].service.conversation(request.match_info["id"])
    return json_response({"conversation": view.conversation, "messages": view.messages,
                          "customer": view.customer, "timeline": view.timeline,
                          "timeline_cursor": view.timeline_cursor})


def _stale_response(exc: StaleVersion) -> web.Response:
    """409 with what changed since the agent's version, and the version to act on now."""
    return json_response({"error": str(exc), "changes": exc.changes, "version": exc.version},
                         status=409)


async def assign(request: web.Request) -> web.Response:
    data = await _json(request)
    if "assignee" not in data:
        raise ValidationError({"assignee": "required: me, an email address or a user id, or "
                                           "null to unassign"})
    assignee = await resolve_assignee(request, _text(data, "assignee") or None)
    try:
        conv = await request.app[RUNTIME].service.assign(
            request.match_info["id"], assignee, current_user(request), _version(data))
    except StaleVersion as exc:
        return _stale_response(exc)
    return json_response({"conversation": conv})


async def set_status(request: web.Request) -> web.Response:
    data = await _json(request)
    try:
        conv = await request.app[RUNTIME].service.set_status(
            request.match_info["id"], _text(data, "status"), current_user(request),
            _version(data))
    except StaleVersion as exc:
        return _stale_response(exc)
    return json_response({"conversation": conv})


async def set_tags(request: web.Request) -> web.Response:
    data = await _json(request)
    tags = data.get("tags")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValidationError({"tags": "must be a list of words"})
    conv = await request.app[RUNTIME].service.set_tags(request.match_info["id"], tags,
                                                        current_user(request))
    return json_response({"conversation": conv})


async def add_note(request: web.Request) -> web.Response:
    data = await _json(request)
    note = await request.app[RUNTIME].service.add_note(
        request.match_info["id"], _text(data, "text"), current_user(request))
    return json_response({"message": note}, status=201)


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
            request.match_info["id"], _text(data, "text"), current_user(request), key,
            status, None if confirm else version, confirm=confirm)
    except StaleVersion as exc:
        return _stale_response(exc)
    status = 201 if msg.delivery == "sent" else 202
    return json_response({"message": msg}, status=status)


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
        found[name] = day(raw, name) if raw else default
    if found["until"] <= found["since"]:
        raise ValidationError({"until": "must be after since"})
    return found["since"], found["until"]


async def sla_report(request: web.Request) -> web.Response:
    since, until = report_range(request)
    rows = await request.app[RUNTIME].service.sla_report(since, until)
    return json_response({"since": since, "until": until, "rows": [
        {**plain(r), "compliance": r.compliance, "repeat_rate": r.repeat_rate} for r in rows]})


async def parse_search(request: web.Request, text: str | None = None) -> QueryNode | None:
    """The query of ?q= with assignee:me and assignee:<email> turned into user ids, and
    limited to what the user may see (`visible_query`)."""
    query = request.query.get("q", "") if text is None else text
    node = ql.resolve_me(ql.parse(query), current_user(request).id)
    if "assignee" in ql.fields_used(node):
        ids = {u.email: u.id for u in await auth.list_users(request.app[RUNTIME].store)}

        def user_id(value: str) -> str:
            if "@" not in value:
                return value
            if value.lower() not in ids:
                raise QueryError(f"no user {value}", query.find(value), query)
            return ids[value.lower()]

        node = ql.map_assignees(node, user_id)
    return visible_query(request, node, query)


INBOUND = FieldTerm("direction", Direction.INBOUND)


def _sees_contacts(request: web.Request) -> bool:
    return permissions.sees_contacts(
        current_user(request),
        bool(request.app[RUNTIME].settings.privacy.marketing_contacts))


def hides_contacts(request: web.Request) -> bool:
    """Searches of this user match the public copy of the text (Store `public=True`): no
    word, phrase or prefix finds a piece of an address or number they may not see."""
    return not _sees_contacts(request)


def visible_query(request: web.Request, node: QueryNode | None, query: str
                  ) -> QueryNode | None:
    """Who may not read conversations (marketing) searches inbound customer messages only,
    and without contacts may not look customers up by address (from:)."""
    if permissions.sees_care(current_user(request)):
        return node
    if "from" in ql.fields_used(node) and not _sees_contacts(request):
        raise QueryError("from: is not available to your role (customer contacts are "
                         "hidden)", max(query.lower().find("from:"), 0), query)
    if node is None:
        return INBOUND
    return And((INBOUND, *(node.nodes if isinstance(node, And) else (node,))))


async def search_messages(request: web.Request, node: QueryNode | None, cursor: str | None,
                          limit: int, facets: Sequence[str] = ()) -> SearchResult:
    """The one way pages and the API search: contacts hidden from who may not see them
    (node: from parse_search, so limited to what the user may see)."""
    hidden = hides_contacts(request)
    result = await request.app[RUNTIME].store.search(node, cursor, limit, facets,
                                                     public=hidden)
    if permissions.sees_care(current_user(request)):
        return result
    shown = redact_message if hidden else inbound_only
    return replace(result, messages=tuple(shown(m) for m in result.messages))


async def search(request: web.Request) -> web.Response:
    node = await parse_search(request)
    facets = [f for f in request.query.get("facets", "").split(",") if f]
    unknown = [f for f in facets if f not in FACETS]
    if unknown:
        raise ValidationError({"facets": f"unknown {', '.join(unknown)}; known: "
                                         f"{', '.join(FACETS)}"[:500]})
    result = await search_messages(request, node, request.query.get("cursor"),
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
    result = await search_messages(request, node, None, 20, FACETS)
    return {"query": ql.to_text(node), "total": result.total, "messages": result.messages,
            "facets": {k: [list(p) for p in v] for k, v in result.facets.items()},
            "volume": [list(b) for b in await store.volume(node, interval(request),
                                                           public=hides_contacts(request))],
            "trending": [list(t) for t in await store.trending(
                node, 15, public=hides_contacts(request))]}


async def voice_of_customer(request: web.Request) -> web.Response:
    return json_response(await voc_data(request))


CSV_COLUMNS = ("created_at", "channel", "direction", "author", "customer_id",
               "conversation_id", "subject", "text", "sentiment", "sentiment_score", "lang")
EXPORT_MAX = 100_000
EXPORT_PAGE = 500
_FORMULA_START = frozenset("=+-@")
EXPORT_FAILED = "ERROR: the export stopped early; the rows above are not all the matches"


def csv_cell(value: Any) -> str:
    """Text a spreadsheet shows as text: no formulas from customer input (CSV injection),
    also not after leading whitespace nor written in fullwidth (＝) or small (﹦) forms."""
    text = "" if value is None else str(value)
    first = text.lstrip()[:1]
    if text[:1] in ("\t", "\r", "\n") or unicodedata.normalize("NFKC", first) in _FORMULA_START:
        return "'" + text
    return text


def csv_row(m: Message) -> list[str | float]:
    """One message as CSV cells: every text cell formula-safe; the score stays a number."""
    score: str | float = "" if m.sentiment_score is None else m.sentiment_score
    return [csv_cell(m.created_at.isoformat()), csv_cell(m.channel), csv_cell(m.direction),
            csv_cell(m.author_label), csv_cell(m.customer_id), csv_cell(m.conversation_id),
            csv_cell(m.subject), csv_cell(m.text), csv_cell(m.sentiment), score,
            csv_cell(m.lang)]


async def export_csv(request: web.Request) -> web.StreamResponse:
    """Every message matching ?q= as CSV, streamed page by page (at most 100,000 rows).

    Errors before the first row are the usual 4xx/503; a failure midway ends the file with
    an EXPORT_FAILED line (the status line is sent already) and is logged."""
    node = await parse_search(request)
    page = await search_messages(request, node, None, EXPORT_PAGE)
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": 'attachment; filename="inbox-search.csv"'})
    await response.prepare(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    sent = 0
    try:
        while True:
            writer.writerows(csv_row(m) for m in page.messages)
            sent += len(page.messages)
            await response.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
            if page.next_cursor is None or sent >= EXPORT_MAX:
                break
            page = await search_messages(request, node, page.next_cursor, EXPORT_PAGE)
    except ConnectionResetError:
        log.info("CSV export: the client went away", extra={"rows": sent})
        return response
    except Exception:  # the status line is sent: say so in the file, never a second one
        log.exception("CSV export stopped early", extra={"rows": sent})
        writer.writerow([EXPORT_FAILED])
        await response.write(buffer.getvalue().encode())
    await response.write_eof()
    return response


async def list_users(request: web.Request) -> web.Response:
    users = await auth.list_users(request.app[RUNTIME].store)
    return json_response({"users": [{"id": u.id, "email": u.email, "role": u.role,
                                     "name": u.name} for u in users]})


async def dead_letter_rows(request: web.Request, default_limit: int = 50
                           ) -> tuple[list[dict[str, Any]], str | None]:
    """A page of dead letters, oldest first from ?after=, raw text cut to a preview; and the
    key to continue after (None on the last page)."""
    limit = _limit(request, default_limit)
    items = await request.app[RUNTIME].store.kv_list(DEAD_LETTERS, request.query.get("after"),
                                                     limit)
    rows = [{"id": k, **{f: v for f, v in doc.items() if f != "raw"},
             "raw_preview": str(doc.get("raw", ""))[:2000]} for k, doc in items]
    return rows, (items[-1][0] if len(items) == limit else None)


async def dead_letters(request: web.Request) -> web.Response:
    rows, after = await dead_letter_rows(request)
    return json_response({"dead_letters": rows, "next_after": after})


async def connectors(request: web.Request) -> web.Response:
    """Per connector: supervisor state, last error, restarts, next retry, the connector's
    own status fields (under "status") and dead-letter counts."""
    return json_response({"connectors": await request.app[RUNTIME].connector_states()})


LIVE_KEEPALIVE = 15.0  # seconds between comments that keep proxies from closing the stream


async def events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: one `data:` line per change. A closed tab ends it quietly."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    try:
        async with request.app[RUNTIME].events.subscribe() as queue:
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=LIVE_KEEPALIVE)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                payload = json.dumps(plain(event))
                await response.write(f"event: {event.kind}\ndata: {payload}\n\n".encode())
    except ConnectionResetError:  # the client went away: normal for a live stream
        log.debug("live stream closed by the client")
    return response
