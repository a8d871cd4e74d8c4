"""The JSON API under /api/: every page's data, bearer-token or session auth."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from aiohttp import web

from inbox.conversation_merge import Outcome
from inbox.errors import StaleVersion, ValidationError
from inbox.events import CLOSED, Numbered
from inbox.model import Delivery, Message, SearchResult, Status
from inbox.reply_options import reply_options
from inbox.store import FACETS
from inbox.trending import Period
from inbox.usecases.notifications import someone_elses
from inbox.usecases.replies import MAX_KEY
from inbox.usecases.search import SENTIMENTS, Comparison, searched_words
from web import merges, params
from web.guards import current_user
from web.keys import CONTEXT, context
from web.serialize import json_response, plain

log = logging.getLogger(__name__)


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
    r.add_post("/api/conversations/{id}/priority", set_priority)
    r.add_post("/api/conversations/{id}/snooze", snooze)
    r.add_post("/api/conversations/{id}/promote", promote)
    r.add_post("/api/conversations/{id}/messages/{message}/sentiment", correct_sentiment)
    r.add_post("/api/conversations/{id}/merge", merge_conversation)
    r.add_post("/api/conversations/{id}/split", split_conversation)
    r.add_post("/api/conversations/{id}/merges/{merge}/undo", undo_conversation_merge)
    r.add_get("/api/customers/{id}", get_customer)
    r.add_post("/api/customers/{id}/merge", merge_customer)
    r.add_post("/api/customers/{id}/merges/{merge}/undo", undo_merge)
    r.add_get("/api/search", search)
    r.add_get("/api/search/export.csv", export_csv)
    r.add_get("/api/voc", voice_of_customer)
    r.add_get("/api/voc/export.csv", export_voc_csv)
    r.add_get("/api/users", list_users)
    r.add_get("/api/dead-letters", dead_letters)
    r.add_get("/api/connectors", connectors)
    r.add_get("/api/events", events)
    app.on_shutdown.append(close_live_streams)


async def me(request: web.Request) -> web.Response:
    return json_response(current_user(request))


async def list_conversations(request: web.Request) -> web.Response:
    flt = await params.conversation_filter(request)
    page = await context(request).conversations.page(flt, request.query.get("cursor"),
                                                     params.limit(request))
    return json_response({"conversations": page.items, "next_cursor": page.next_cursor})


async def get_conversation(request: web.Request) -> web.Response:
    view = await context(request).conversations.get(request.match_info["id"])
    return json_response({"conversation": view.conversation, "messages": view.messages,
                          "customer": view.customer, "timeline": view.timeline,
                          "timeline_cursor": view.timeline_cursor})


def _stale_response(exc: StaleVersion) -> web.Response:
    """409 with what changed since the agent's version, and the version to act on now."""
    return json_response({"error": str(exc), "changes": exc.changes, "version": exc.version},
                         status=409)


async def assign(request: web.Request) -> web.Response:
    data = await params.json_body(request)
    if "assignee" not in data:
        raise ValidationError({"assignee": "required: me, an email address or a user id, or "
                                           "null to unassign"})
    assignee = await params.assignee(request, params.text_field(data, "assignee") or None)
    try:
        conv = await context(request).conversations.assign(
            request.match_info["id"], assignee, current_user(request), params.json_version(data))
    except StaleVersion as exc:
        return _stale_response(exc)
    return json_response({"conversation": conv})


async def set_status(request: web.Request) -> web.Response:
    data = await params.json_body(request)
    try:
        conv = await context(request).conversations.set_status(
            request.match_info["id"], params.choice(Status, params.text_field(data, "status"),
                                                    "status"), current_user(request),
            params.json_version(data))
    except StaleVersion as exc:
        return _stale_response(exc)
    return json_response({"conversation": conv})


async def snooze(request: web.Request) -> web.Response:
    """{"until": ISO 8601 time with its zone, "version"}: out of the open views until then
    (or until the customer writes); 400 for a time past or beyond a year, 409 when stale."""
    data = await params.json_body(request)
    try:
        conv = await context(request).conversations.snooze(
            request.match_info["id"], params.moment(params.text_field(data, "until"), "until"),
            current_user(request), params.json_version(data))
    except StaleVersion as exc:
        return _stale_response(exc)
    return json_response({"conversation": conv})


async def promote(request: web.Request) -> web.Response:
    """{"version"}: a listening hit made an open care conversation, its response clock
    started; 409 when it is not a listening hit or the version is stale."""
    data = await params.json_body(request)
    try:
        conv = await context(request).conversations.promote(
            request.match_info["id"], current_user(request), params.json_version(data))
    except StaleVersion as exc:
        return _stale_response(exc)
    return json_response({"conversation": conv})


async def set_tags(request: web.Request) -> web.Response:
    data = await params.json_body(request)
    tags = data.get("tags")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValidationError({"tags": "must be a list of words"})
    try:
        conv = await context(request).conversations.set_tags(
            request.match_info["id"], tags, current_user(request), params.json_version(data))
    except StaleVersion as exc:
        return _stale_response(exc)
    return json_response({"conversation": conv})


async def set_priority(request: web.Request) -> web.Response:
    """{"priority": low | normal | high | urgent, "version"}."""
    data = await params.json_body(request)
    try:
        conv = await context(request).conversations.set_priority(
            request.match_info["id"], params.text_field(data, "priority").strip().lower(),
            current_user(request), params.json_version(data))
    except StaleVersion as exc:
        return _stale_response(exc)
    return json_response({"conversation": conv})


async def correct_sentiment(request: web.Request) -> web.Response:
    """{"sentiment": positive | neutral | negative, "version" (optional)}: an agent's label
    for a customer's message; the model's own is kept in the message's meta."""
    data = await params.json_body(request)
    try:
        msg = await context(request).conversations.correct_sentiment(
            request.match_info["id"], request.match_info["message"],
            params.text_field(data, "sentiment"), current_user(request),
            params.json_version(data))
    except StaleVersion as exc:
        return _stale_response(exc)
    return json_response({"message": msg})


async def add_note(request: web.Request) -> web.Response:
    data = await params.json_body(request)
    note = await context(request).conversations.add_note(
        request.match_info["id"], params.text_field(data, "text"), current_user(request))
    return json_response({"message": note}, status=201)


async def reply(request: web.Request) -> web.Response:
    """{"text", "version": the conversation version answered, "confirm": send even if it
    changed since, "idempotency_key", "status", on X "mode": "public" | "dm", by email
    "subject" and "cc" (a list)}; a stale version is a 409 naming the changes.
    Without a version, the reply is checked against the version current when it arrives, so
    of two simultaneous replies one goes and the other gets the 409."""
    data = await params.json_body(request)
    key = data.get("idempotency_key")
    if key is not None and not isinstance(key, str):
        raise ValidationError({"idempotency_key": f"must be text of at most {MAX_KEY} "
                                                  "characters"})
    status = data.get("status")
    if status is not None and not isinstance(status, str):
        raise ValidationError({"status": "must be a status name"})
    confirm = data.get("confirm", False)
    if not isinstance(confirm, bool):
        raise ValidationError({"confirm": "must be true or false"})
    version = params.json_version(data)
    options = reply_options(data.get("mode"), data.get("subject"), data.get("cc"))
    try:
        msg = await context(request).replies.reply(
            request.match_info["id"], params.text_field(data, "text"), current_user(request), key,
            None if status is None else params.choice(Status, status, "status"),
            None if confirm else version, confirm=confirm, options=options)
    except StaleVersion as exc:
        return _stale_response(exc)
    status = 201 if msg.delivery == Delivery.SENT else 202
    return json_response({"message": msg}, status=status)


# --- merge and split conversations (inbox.conversation_merge; the page: web/merges.py) ---


def _outcome(done: Outcome) -> dict[str, Any]:
    return {"merge": done.record, "survivor": done.survivor, "other": done.other,
            "repeated": done.repeated}


def _required_version(data: dict[str, Any]) -> int:
    version = params.json_version(data)
    if version is None:
        raise ValidationError({"version": "required: the version of the conversation you saw"})
    return version


async def merge_conversation(request: web.Request) -> web.Response:
    """{"into": "#10482" or an id, "version": this one's, "into_version": optional}: merge
    this conversation into that one (same customer); 201 with the record ("id" undoes it
    on the survivor), 200 when that very merge was done already."""
    data = await params.json_body(request)
    into, _ = await merges.target(request, params.text_field(data, "into"))
    try:
        into_version = params.json_version({"version": data.get("into_version")})
    except ValidationError:
        raise ValidationError({"into_version": "must be that conversation's version number, "
                                               "or absent"}) from None
    try:
        done = await context(request).conversations.merges.merge(
            request.match_info["id"], into, current_user(request), _required_version(data),
            into_version)
    except StaleVersion as exc:
        return _stale_response(exc)
    return json_response(_outcome(done), status=200 if done.repeated else 201)


async def split_conversation(request: web.Request) -> web.Response:
    """{"message": id, "later": with the later messages, "version"}: a new conversation."""
    data = await params.json_body(request)
    later = data.get("later", False)
    if not isinstance(later, bool):
        raise ValidationError({"later": "must be true or false"})
    try:
        done = await context(request).conversations.merges.split(
            request.match_info["id"], params.text_field(data, "message"),
            current_user(request), _required_version(data), later)
    except StaleVersion as exc:
        return _stale_response(exc)
    return json_response(_outcome(done), status=200 if done.repeated else 201)


async def undo_conversation_merge(request: web.Request) -> web.Response:
    """{"version": optional}: undo a merge into, or a split out of, this conversation."""
    data = await params.json_body(request)
    try:
        done = await context(request).conversations.merges.undo(
            request.match_info["id"], request.match_info["merge"], current_user(request),
            params.json_version(data))
    except StaleVersion as exc:
        return _stale_response(exc)
    return json_response(_outcome(done))


async def get_customer(request: web.Request) -> web.Response:
    found = await context(request).customers.page(
        request.match_info["id"], request.query.get("cursor"), params.limit(request))
    return json_response({"customer": found.customer, "conversations": found.conversations,
                          "timeline": found.timeline, "next_cursor": found.next_cursor,
                          "merges": found.merges})


async def merge_customer(request: web.Request) -> web.Response:
    """Merge another customer (id, email, phone or @handle) into this one."""
    data = await params.json_body(request)
    other = data.get("customer")
    if not isinstance(other, str) or not other.strip():
        raise ValidationError({"customer": "give the id, email, phone or @handle of the "
                                           "customer to merge into this one"})
    merged = await context(request).customers.merge(request.match_info["id"], other,
                                                    current_user(request))
    return json_response({"merge": merged.record}, status=201)


async def undo_merge(request: web.Request) -> web.Response:
    record = await context(request).customers.undo_merge(
        request.match_info["id"], request.match_info["merge"], current_user(request))
    return json_response({"merge": record})


def _counted(result: SearchResult) -> dict[str, Any]:
    """total: exact up to the cap, then the cap with total_capped; sampled: facets (and
    volume) count only that many newest matches (0: all)."""
    return {"total": result.total, "total_capped": result.total_capped,
            "sampled": result.sampled}


def _facets(result: Any) -> dict[str, list[list[Any]]]:
    return {k: [list(p) for p in v] for k, v in result.facets.items()}


async def search(request: web.Request) -> web.Response:
    node = await params.search_query(request)
    facets = params.facets(request)
    found = context(request).search
    result = await found.messages(current_user(request), node, request.query.get("cursor"),
                                  params.limit(request), facets)
    return json_response({"query": found.text(node), **_counted(result),
                          "messages": result.messages, "next_cursor": result.next_cursor,
                          "facets": _facets(result)})


async def voc_data(request: web.Request, team: bool | None = None) -> dict[str, Any]:
    """Volume over time, trending terms and facets of the customers' messages matching ?q=
    (?team=1: with the team's replies, for managers; a 403 for others), within
    ?from=&to= (days, both included): per bucket also per sentiment, and the period of
    trending against the previous one."""
    node = await params.voc_query(request)
    found = context(request).search
    team = params.team(request) if team is None else team
    voc = await found.voc(current_user(request), node, params.interval(request), FACETS,
                          team)
    trend = voc.trending
    return {"query": found.voice_text(node), "team": team, **_counted(voc.result),
            "messages": voc.result.messages, "facets": _facets(voc.result),
            "volume": [list(b) for b in voc.volume],
            "trending": [{"term": t.term, "count": t.count, "previous": t.previous,
                          "change": t.change, "score": t.score} for t in trend.terms],
            "trending_period": _period(trend.period),
            "trending_sampled": trend.sampled,
            "handles": [list(h) for h in trend.handles],
            "sentiments": [{"start": b, **counts} for b, counts in voc.sentiments],
            "comparison": _comparison(voc.comparison),
            "words": searched_words(node)}


def _comparison(c: Comparison) -> dict[str, Any]:
    """The period's counts, the previous period's, and the change, in all and per
    sentiment."""
    rows = [("all", c.now.total, c.before.total, c.change())]
    rows += [(s, c.now.sentiments[s], c.before.sentiments[s], c.change(s)) for s in SENTIMENTS]
    return {**_period(c.period), "rows": [
        {"name": name, "count": now, "previous": before, "change": change}
        for name, now, before, change in rows]}


def _period(period: Period) -> dict[str, str]:
    """Trending's period and the previous one: first and last day (end: the day after)."""
    day = timedelta(days=1)
    return {"start": period.start.isoformat(), "last": (period.end - day).isoformat(),
            "end": period.end.isoformat(), "previous_start": period.previous.start.isoformat(),
            "previous_last": (period.start - day).isoformat()}


async def voice_of_customer(request: web.Request) -> web.Response:
    return json_response(await voc_data(request))


CSV_COLUMNS = ("created_at", "channel", "direction", "author", "customer_id",
               "conversation_id", "subject", "text", "sentiment", "sentiment_score", "lang")
EXPORT_MAX = 100_000
EXPORT_PAGE = 500
_FORMULA_START = frozenset("=+-@|")  # "|": DDE in older spreadsheets
EXPORT_FAILED = "ERROR: the export stopped early; the rows above are not all the matches"
EXPORT_CAPPED = (f"NOTE: the export stops at {EXPORT_MAX:,} rows and more match; narrow "
                 "the query (a date range) for the rest")


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
    """Every message matching ?q= as CSV (see `_export`)."""
    node = await params.search_query(request)
    found, user = context(request).search, current_user(request)

    async def pages(cursor: str | None) -> CsvPage:
        return _message_rows(await found.messages(user, node, cursor, EXPORT_PAGE))

    return await export(request, pages, "inbox-search.csv", CSV_COLUMNS)


async def export_voc_csv(request: web.Request) -> web.StreamResponse:
    """The voice of the customer's messages matching ?q= as CSV (?team=1, ?from=&to= as in
    /api/voc)."""
    node = await params.voc_query(request)
    found, user, team = context(request).search, current_user(request), params.team(request)

    async def pages(cursor: str | None) -> CsvPage:
        return _message_rows(await found.voice_messages(user, node, cursor, EXPORT_PAGE, team))

    return await export(request, pages, "voice-of-the-customer.csv", CSV_COLUMNS)


def _message_rows(result: SearchResult) -> CsvPage:
    return [csv_row(m) for m in result.messages], result.next_cursor


# A page of CSV rows and the cursor of the next page (None: the last page).
CsvPage = tuple[Sequence[Sequence[Any]], str | None]


async def export(request: web.Request, pages: Callable[[str | None], Awaitable[CsvPage]],
                 name: str, header: Sequence[str]) -> web.StreamResponse:
    """Every row `pages` gives, under `header`, as CSV streamed page by page (memory: one
    page) up to EXPORT_MAX rows, then an EXPORT_CAPPED line when more match.

    Errors before the first row are the usual 4xx/503; a failure midway ends the file with
    an EXPORT_FAILED line (the status line is sent already) and is logged."""
    rows, cursor = await pages(None)
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{name}"'})
    await response.prepare(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    sent = 0
    try:
        while True:
            writer.writerows(rows)
            sent += len(rows)
            await response.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
            if cursor is None:
                break
            if sent >= EXPORT_MAX:  # more match: the file says so in its last line
                writer.writerow([EXPORT_CAPPED])
                await response.write(buffer.getvalue().encode())
                break
            rows, cursor = await pages(cursor)
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
    users = await context(request).accounts.users()
    return json_response({"users": [{"id": u.id, "email": u.email, "role": u.role,
                                     "name": u.name} for u in users]})


async def dead_letters(request: web.Request) -> web.Response:
    rows, after = await context(request).dead_letters.page(request.query.get("after"),
                                                            params.limit(request))
    return json_response({"dead_letters": rows, "next_after": after})


async def connectors(request: web.Request) -> web.Response:
    """Per connector: supervisor state, last error, restarts, next retry, the connector's
    own status fields (under "status") and dead-letter counts."""
    return json_response({"connectors": await context(request).connectors.states()})


LIVE_KEEPALIVE = 15.0  # seconds between comments that keep proxies from closing the stream
LIVE_RETRY_MS = 2000  # how soon a browser reconnects after the stream broke


def _sse(item: Numbered) -> bytes:
    """One event in the text/event-stream format (its id resumes the stream)."""
    payload = json.dumps({**plain(item.event), "id": item.id})
    return f"id: {item.id}\nevent: {item.event.kind}\ndata: {payload}\n\n".encode()


async def events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events, each with an id. A reconnecting browser sends the last one it saw
    (Last-Event-ID; a page's first connection passes ?after= the id it was rendered at) and
    gets what it missed, or an event "resync" when that is not known any more (after a
    restart, or too long away): refetch the queue. A closed tab ends it quietly."""
    last_id = request.headers.get("Last-Event-ID") or request.query.get("after") or None
    me = current_user(request)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    try:
        await response.write(f"retry: {LIVE_RETRY_MS}\n\n".encode())
        async with context(request).events.follow(last_id) as feed:
            while True:
                try:
                    item = await asyncio.wait_for(feed.queue.get(), timeout=LIVE_KEEPALIVE)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if item.event.kind == CLOSED:
                    break
                if someone_elses(item.event, me):  # each user hears of their own only
                    continue
                await response.write(_sse(item))
    except ConnectionResetError:  # the client went away: normal for a live stream
        log.debug("live stream closed by the client")
    return response


async def close_live_streams(app: web.Application) -> None:
    """On shutdown: end the open streams so the server stops at once (browsers reconnect)."""
    app[CONTEXT].events.close_feeds()
