"""Server-rendered pages for agents, managers and marketing (no JavaScript required)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from aiohttp import web

from inbox import auth
from inbox import merge as merges
from inbox.errors import InboxError, QueryError, StaleVersion, ValidationError
from inbox.model import ConversationFilter, Status, User, utcnow
from inbox.normalize import clean_label
from inbox.permissions import start_page
from inbox.store import FACETS
from inbox.throttle import SignInThrottle
from web.api import (
    conversation_filter,
    dead_letter_rows,
    hides_contacts,
    interval,
    parse_search,
    report_range,
    resolve_assignee,
    search_messages,
    voc_data,
    whole_number,
)
from web.app import SESSION_COOKIE, current_user
from web.charts import bar_chart
from web.forms import client_address
from web.keys import CSRF, RUNTIME, USER
from web.render import page, render
from web.serialize import read_form


def setup(app: web.Application) -> None:
    app[SIGN_IN_THROTTLE] = SignInThrottle(app[RUNTIME].store)
    r = app.router
    r.add_get("/", home)
    r.add_get("/login", login_page)
    r.add_post("/login", login)
    r.add_post("/logout", logout)
    r.add_get("/inbox", inbox)
    r.add_get("/conversations/{id}", conversation)
    r.add_post("/conversations/{id}/{action}", act)
    r.add_get("/attachments/{message}/{index}", attachment)
    r.add_get("/customers/{id}", customer)
    r.add_post("/customers/{id}/merge", merge_customer)
    r.add_post("/customers/{id}/merges/{merge}/undo", undo_merge)
    r.add_get("/search", search)
    r.add_get("/reports", reports)
    r.add_get("/voc", voc)
    r.add_get("/voc/volume.svg", volume_chart)
    r.add_get("/admin/connectors", connectors_page)


def when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def back(path: str, flash: str) -> web.HTTPSeeOther:
    """Post/redirect/get: back to the page, with what happened (which may quote hostile
    input: one clean line)."""
    return web.HTTPSeeOther(f"{path}?" + urlencode({"flash": clean_label(flash, 500)}))


async def home(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther(start_page(request[USER]))


MAX_NEXT = 2000  # a longer "next" is no page of ours


def _safe_next(target: str | None) -> str:
    """Only local paths: never redirect a signed-in user to another site."""
    if not target or len(target) > MAX_NEXT or any(
            ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return "/inbox"  # browsers and URL libraries drop tabs and newlines: "/\t/evil"
    parts = urlsplit(target)
    if (parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//")
            or "\\" in target):
        return "/inbox"
    return target


@page("login.html")
async def login_page(request: web.Request) -> dict[str, Any]:
    return {"next": _safe_next(request.query.get("next")), "error": None}


SIGN_IN_THROTTLE = web.AppKey("sign_in_throttle", SignInThrottle)


async def login(request: web.Request) -> web.Response:
    form = await read_form(request)
    runtime = request.app[RUNTIME]
    email = str(form.get("email", "")).strip().lower()
    target = _safe_next(str(form.get("next", "")))
    client, throttle = client_address(request), request.app[SIGN_IN_THROTTLE]
    wait = await throttle.attempt(email, client)
    if wait:  # guessing from this client; the owner can still sign in from another one
        response = render("login.html", request, {
            "next": target, "error": f"Too many failed sign-ins for this account from this "
                                     f"device. Try again in {int(wait)} s."}, status=429)
        response.headers["Retry-After"] = str(int(wait))
        return response
    try:
        user = await auth.authenticate(runtime.store, email, str(form.get("password", "")),
                                       passwords=runtime.passwords)
    except auth.AccountDisabled as exc:
        return render("login.html", request, {"next": target, "error": str(exc)}, status=403)
    if user is None:
        return render(
            "login.html", request, {"next": target, "error": "Wrong email or password."},
            status=401)
    await throttle.succeeded(email, client)
    sid, _ = await auth.create_session(runtime.store, user)
    response = web.HTTPSeeOther(start_page(user) if target == "/inbox" else target)
    set_session_cookie(request, response, sid)
    raise response


def set_session_cookie(request: web.Request, response: web.StreamResponse, sid: str) -> None:
    secure = request.app[RUNTIME].settings.web.secure_cookies
    response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="Lax", secure=secure,
                        max_age=int(auth.SESSION_TTL.total_seconds()), path="/")


async def logout(request: web.Request) -> web.Response:
    sid = request.cookies.get(SESSION_COOKIE)
    if sid and request.get(CSRF):
        form = await read_form(request)
        if secrets.compare_digest(str(form.get("csrf", "")), request[CSRF] or ""):
            await auth.end_session(request.app[RUNTIME].store, sid)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


@page("inbox.html")
async def inbox(request: web.Request) -> dict[str, Any]:
    q = request.query
    status = q.get("status", "open")
    flt = await conversation_filter(request, status="open")
    runtime = request.app[RUNTIME]
    page = await runtime.service.conversations(flt, q.get("cursor"), 50)
    customers = await runtime.store.customers_by_ids([c.customer_id for c in page.items])
    params = {k: v for k, v in q.items() if k != "cursor"}
    more = ("/inbox?" + urlencode({**params, "cursor": page.next_cursor})
            if page.next_cursor else None)
    now = utcnow()
    states = {c.id: runtime.sla.state(c, now) for c in page.items}
    return {"page": page, "customers": customers, "status": status, "filters": q,
            "states": states,
            "statuses": list(Status), "more": more, "users": await _users(request)}


async def _users(request: web.Request) -> dict[str, User]:
    return {u.id: u for u in await auth.list_users(request.app[RUNTIME].store)}


async def conversation(request: web.Request) -> web.Response:
    return await _conversation_page(request, flash=request.query.get("flash"))


async def _conversation_page(request: web.Request, status: int = 200, **extra: Any
                             ) -> web.Response:
    """The conversation with its composer; `draft`, `error` and `changes` after a reply that
    was not sent, so the agent's text stays in the composer."""
    view = await request.app[RUNTIME].service.conversation(request.match_info["id"])
    return render("conversation.html", request, {
        "view": view, "statuses": list(Status), "users": await _users(request),
        "reply_key": secrets.token_urlsafe(16), "flash": None, "draft": "", "then": "",
        "error": None, "changes": (), **extra}, status=status)


def _form_version(form: Any) -> int | None:
    """The conversation version the page showed (absent on pages older than the field)."""
    raw = str(form.get("version", ""))
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise ValidationError({"version": "must be the conversation's version number"})
    return int(raw)


async def act(request: web.Request) -> web.Response:
    conv_id, action = request.match_info["id"], request.match_info["action"]
    form = await read_form(request)
    service, user = request.app[RUNTIME].service, current_user(request)
    if action == "reply":
        return await _reply(request, form)
    flash = ""
    try:
        if action == "note":
            await service.add_note(conv_id, str(form.get("text", "")), user)
            flash = "Note added."
        elif action == "assign":
            who = await resolve_assignee(request, str(form.get("assignee", "")) or None)
            await service.assign(conv_id, who, user, _form_version(form))
            flash = "Assignment saved."
        elif action == "status":
            await service.set_status(conv_id, str(form.get("status", "")), user,
                                     _form_version(form))
            flash = "Status saved."
        else:
            raise web.HTTPNotFound()
    except InboxError as exc:
        flash = f"Not done: {exc}"
    raise back(f"/conversations/{conv_id}", flash)


async def _reply(request: web.Request, form: Any) -> web.Response:
    """Send from the composer; when nothing reached the customer the draft stays in it."""
    conv_id, text = request.match_info["id"], str(form.get("text", ""))
    kept = {"draft": text, "then": str(form.get("then", ""))}
    try:
        version = _form_version(form)
        if version is None:
            raise ValidationError({"version": "this page is out of date; check the "
                                              "conversation below and send again"})
        msg = await request.app[RUNTIME].service.reply(
            conv_id, text, current_user(request), str(form.get("idempotency_key", "")) or None,
            str(form.get("then", "")) or None, version)
    except StaleVersion as exc:
        return await _conversation_page(request, 409, **kept, changes=exc.changes,
                                        error="Your reply was not sent: the conversation "
                                              "changed since you opened it.")
    except InboxError as exc:
        return await _conversation_page(request, getattr(exc, "status", 400), **kept,
                                        error=f"Your reply was not sent: {exc}")
    if msg.delivery == "rejected":
        return await _conversation_page(
            request, 200, **kept, error="Your reply did not reach the customer "
            f"({msg.meta.get('error', '')}); your text is kept below to fix and send again.")
    raise back(f"/conversations/{conv_id}", "Reply sent." if msg.delivery == "sent" else
                f"Reply saved but not delivered yet ({msg.meta.get('error', '')}); "
                "it will be retried.")


@page("customer.html")
async def customer(request: web.Request) -> dict[str, Any]:
    runtime = request.app[RUNTIME]
    cust = await runtime.service.customer(request.match_info["id"])
    convs = await runtime.service.conversations(ConversationFilter(customer_id=cust.id), None,
                                                100)
    timeline = await runtime.store.customer_messages(cust.id, None, 100)
    return {"customer": cust, "conversations": convs.items, "timeline": timeline.items,
            "merges": await merges.merges_of(runtime.store, cust.id),
            "flash": request.query.get("flash")}


async def merge_customer(request: web.Request) -> web.Response:
    form = await read_form(request)
    store, cid = request.app[RUNTIME].store, request.match_info["id"]
    try:
        other = await merges.find_customer(store, str(form.get("customer", "")))
        await merges.merge(store, cid, other.id, current_user(request))
        flash = f"Merged {other.name or other.id} into this customer. You can undo it below."
    except InboxError as exc:
        flash = f"Not merged: {exc}"
    raise back(f"/customers/{cid}", flash)


async def undo_merge(request: web.Request) -> web.Response:
    cid = request.match_info["id"]
    try:
        await merges.undo(request.app[RUNTIME].store, cid, request.match_info["merge"],
                          current_user(request))
        flash = "Merge undone: the customers are separate again."
    except InboxError as exc:
        flash = f"Not undone: {exc}"
    raise back(f"/customers/{cid}", flash)


@page("search.html")
async def search(request: web.Request) -> dict[str, Any]:
    text = request.query.get("q", "")
    error = None
    result = None
    try:
        node = await parse_search(request, text)
        result = await search_messages(request, node, request.query.get("cursor"), 50, FACETS)
    except QueryError as exc:
        error = exc
    more = ("/search?" + urlencode({"q": text, "cursor": result.next_cursor})
            if result and result.next_cursor else None)
    return {"q": text, "result": result, "error": error, "more": more}


@page("reports.html")
async def reports(request: web.Request) -> dict[str, Any]:
    since, until = report_range(request)
    runtime = request.app[RUNTIME]
    rows = await runtime.service.sla_report(since, until)
    next_due = await runtime.service.conversations(ConversationFilter(order="due"), None, 20)
    users = await _users(request)
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.group, []).append(row)
    return {"since": since, "until": until - timedelta(days=1), "groups": grouped,
            "next_due": next_due.items, "users": users, "now": utcnow(),
            "policy": runtime.sla}


def hours(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


@page("voc.html")
async def voc(request: web.Request) -> dict[str, Any]:
    text = request.query.get("q", "")
    try:
        data = await voc_data(request)
    except QueryError as exc:
        return {"q": text, "error": exc, "data": None, "interval": "day"}
    return {"q": text, "error": None, "data": data,
            "interval": request.query.get("interval", "day")}


async def volume_chart(request: web.Request) -> web.Response:
    """The volume over time as an SVG bar chart (pygal), shown through an <img>."""
    node = await parse_search(request)
    buckets = await request.app[RUNTIME].store.volume(node, interval(request),
                                                      public=hides_contacts(request))
    return web.Response(body=bar_chart(buckets), content_type="image/svg+xml", headers={
        # an image: no scripts at all; pygal styles itself inline
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


async def attachment(request: web.Request) -> web.StreamResponse:
    """An email attachment, always as a download (never rendered in our origin)."""
    runtime = request.app[RUNTIME]
    message_id = request.match_info["message"]
    found = await runtime.store.messages_by_ids([message_id])
    index = whole_number(request.match_info["index"], "index", 0, 10_000)
    if message_id not in found or index >= len(found[message_id].attachments):
        raise web.HTTPNotFound(reason="no such attachment")
    item = found[message_id].attachments[index]
    path = runtime.attachment_file(item.ref) if item.ref else None
    if path is None:
        raise web.HTTPNotFound(reason="the attachment was over the size limit or is gone")
    name = quote(item.name or "attachment", safe="")
    return web.FileResponse(path, headers={
        "Content-Type": "application/octet-stream",
        "Content-Disposition": f"attachment; filename*=UTF-8''{name}"})


@page("connectors.html")
async def connectors_page(request: web.Request) -> dict[str, Any]:
    """Each connector's state, last error, restarts, next retry and dead letters."""
    runtime = request.app[RUNTIME]
    states = await runtime.connector_states()
    named = {c["name"] for c in states}
    others = {source: count for source, count in (await runtime.dead_letter_counts()).items()
              if source not in named}  # web forms, sources of connectors gone since
    letters, after = await dead_letter_rows(request, 20)
    return {"connectors": states, "other_dead_letters": others, "dead_letters": letters,
            "next_after": after}
