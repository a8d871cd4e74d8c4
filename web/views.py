"""Server-rendered pages for agents, managers and marketing (no JavaScript required)."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from aiohttp import web

from inbox.auth import AccountDisabled
from inbox.errors import InboxError, QueryError, StaleVersion, ValidationError
from inbox.model import Conversation, Delivery, SlaRow, Status, User, utcnow
from inbox.permissions import start_page
from inbox.presence import sentence
from inbox.query import narrow, to_text
from inbox.reply_options import reply_options
from inbox.store import FACETS
from inbox.usecases.conversations import ConversationView
from inbox.usecases.reports import WEEKDAYS
from inbox.usecases.search import date_range, searched_words
from web import incidents, listening, merges, params, queue
from web.api import voc_data
from web.charts import SERIES_NAMES, bar_chart, line_chart, stacked_bar_chart, stacked_bars
from web.drill import drilled, hour_cell
from web.filters import channel_name, customer_name, local, zone_of
from web.guards import SESSION_COOKIE, client_address, current_user, set_session_cookie
from web.keys import CSRF, USER, context
from web.render import back, page, render
from web.seen import SEEN, Seen
from web.serialize import read_form


def setup(app: web.Application) -> None:
    app[SEEN] = Seen()
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
    r.add_get("/reports/sla.svg", sla_chart)
    r.add_get("/reports/backlog.svg", backlog_chart)
    r.add_get("/reports/conversations", report_conversations)
    r.add_get("/reports/messages", report_messages)
    r.add_get("/voc", voc)
    r.add_get("/voc/volume.svg", volume_chart)
    r.add_get("/admin/connectors", connectors_page)


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


async def login(request: web.Request) -> web.Response:
    form = await read_form(request)
    accounts = context(request).accounts
    email = str(form.get("email", "")).strip().lower()
    target = _safe_next(str(form.get("next", "")))
    client, throttle = client_address(request), accounts.throttle
    wait = await throttle.attempt(email, client)
    if wait:  # guessing from this client; the owner can still sign in from another one
        response = render("login.html", request, {
            "next": target, "error": f"Too many failed sign-ins for this account from this "
                                     f"device. Try again in {int(wait)} s."}, status=429)
        response.headers["Retry-After"] = str(int(wait))
        return response
    try:
        user = await accounts.authenticate(email, str(form.get("password", "")))
    except AccountDisabled as exc:
        return render("login.html", request, {"next": target, "error": str(exc)}, status=403)
    if user is None:
        return render(
            "login.html", request, {"next": target, "error": "Wrong email or password."},
            status=401)
    await throttle.succeeded(email, client)
    sid = await accounts.start_session(user)
    response = web.HTTPSeeOther(start_page(user) if target == "/inbox" else target)
    set_session_cookie(request, response, sid)
    raise response


async def logout(request: web.Request) -> web.Response:
    sid = request.cookies.get(SESSION_COOKIE)
    if sid and request.get(CSRF):
        form = await read_form(request)
        if secrets.compare_digest(str(form.get("csrf", "")), request[CSRF] or ""):
            await context(request).accounts.end_session(sid)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


# --- the workspace: the queue beside every conversation (web/queue.py) -----------------


async def _workspace(request: web.Request, opened: Conversation | None = None
                     ) -> dict[str, Any]:
    """The queue pane and the live stream's starting point, for pages that show the queue
    (beside the `opened` conversation: seen now)."""
    if opened is not None:
        request.app[SEEN].opened(current_user(request).id, opened)
    return {"queue": await queue.build(request), "views": queue.VIEWS, "sorts": queue.SORTS,
            **queue.CHOICES, "live_after": context(request).events.last_id,
            "bulk_incidents": await incidents.open_incidents(request)}


@page("inbox.html")
async def inbox(request: web.Request) -> dict[str, Any]:
    return {"statuses": list(Status), **await _workspace(request)}


async def _users(request: web.Request) -> dict[str, User]:
    return await context(request).accounts.users_by_id()


async def conversation(request: web.Request) -> web.Response:
    return await _conversation_page(request, flash=request.query.get("flash"))


async def _conversation_page(request: web.Request, status: int = 200, **extra: Any
                             ) -> web.Response:
    """The conversation with its composer; `draft`, `error` and `changes` after a reply that
    was not sent, so the agent's text stays in the composer."""
    view = await context(request).conversations.get(request.match_info["id"])
    if view.conversation.merged_into:  # its messages, its thread: all in the survivor
        raise back(f"/conversations/{view.conversation.merged_into}",
                   f"Conversation #{view.conversation.ref} was merged into this one.")
    journey = await context(request).customers.journey(  # the customer panel
        view.customer.id, view.timeline, view.conversation.id, view.timeline_cursor)
    return render("conversation.html", request, {
        "view": view, "journey": journey, "statuses": list(Status),
        "users": await _users(request),
        "reply_key": secrets.token_urlsafe(16), "flash": None, "draft": "", "then": "",
        "error": None, "changes": (), **await _workspace(request, view.conversation),
        **_collision(request, view), "undoable": await merges.undoable(request, view.conversation),
        **await listening.hit_panel(request, view),
        **await incidents.incident_panel(request, view.conversation.id), **extra}, status=status)


def _collision(request: web.Request, view: ConversationView) -> dict[str, Any]:
    """For the composer: who else is here (opening the page is a heartbeat), why no reply
    can be sent, if none can, and the channel's choices (X public or DM, email subject/cc);
    reply_mode/subject/cc: what the agent chose, after a reply that was not sent."""
    ctx, c = context(request), view.conversation
    return {"presence_line": sentence(ctx.presence.heartbeat(c.id, current_user(request))),
            "unsendable": ctx.replies.unsendable(c, view.customer, view.messages),
            "reply_form": ctx.replies.reply_form(c, view.customer, view.messages),
            "reply_mode": None, "reply_subject": None, "reply_cc": None}


async def act(request: web.Request) -> web.Response:
    conv_id, action = request.match_info["id"], request.match_info["action"]
    form = await read_form(request)
    conversations, user = context(request).conversations, current_user(request)
    if action == "reply":
        return await _reply(request, form)
    if action in merges.ACTIONS:
        return await merges.act(request, conv_id, action, form)
    flash = ""
    try:
        if action == "note":
            await conversations.add_note(conv_id, str(form.get("text", "")), user)
            flash = "Note added."
        elif action == "assign":
            who = await params.assignee(request, str(form.get("assignee", "")) or None)
            await conversations.assign(conv_id, who, user, _page_version(form))
            flash = "Assignment saved."
        elif action == "status":
            await conversations.set_status(
                conv_id, params.choice(Status, str(form.get("status", "")), "status"), user,
                _page_version(form))
            flash = "Status saved."
        elif action in ("vip", "unvip"):  # the customer's VIP mark (listening priority)
            conv = await conversations.current(conv_id)
            await context(request).listening.set_vip(user, conv.customer_id, action == "vip")
            flash = "Customer marked VIP." if action == "vip" else "VIP mark removed."
        elif action == "priority":
            await conversations.set_priority(conv_id, str(form.get("priority", "")), user,
                                             _page_version(form))
            flash = "Priority saved."
        elif action == "sentiment":  # an agent's label for a customer's message
            await conversations.correct_sentiment(
                conv_id, str(form.get("message", "")), str(form.get("sentiment", "")), user,
                _page_version(form))
            flash = "Sentiment saved."
        elif action == "tags":  # words apart by commas or spaces
            await conversations.set_tags(conv_id, str(form.get("tags", "")).replace(
                ",", " ").split(), user, _page_version(form))
            flash = "Tags saved."
        elif action == "promote":  # a listening hit into the care queue
            await conversations.promote(conv_id, user, _page_version(form))
            flash = "Made it a care conversation: it is open in the queue, its reply due."
        elif action == "snooze":  # the form's time is in the agent's zone
            zone = zone_of(user.timezone, conversations.sla.calendar.timezone)
            until = params.moment(str(form.get("until", "")), "until", zone)
            await conversations.snooze(conv_id, until, user, _page_version(form))
            flash = f"Snoozed until {local(until, zone)}."
        else:
            raise web.HTTPNotFound()
    except StaleVersion as exc:  # this page shows the conversation as it is now
        what = ". ".join(exc.changes) or "Someone changed it"
        flash = (f"Not done: the conversation changed since you opened it. {what}. Check it "
                 "below, then try again if still needed.")
    except InboxError as exc:
        flash = f"Not done: {exc}"
    raise back(f"/conversations/{conv_id}", flash, queue.kept_params(request.query))


def _page_version(form: Any) -> int:
    """The conversation version the page showed: every change from a page carries it."""
    version = params.form_version(form)
    if version is None:
        raise ValidationError({"version": "this page is out of date; check the conversation "
                                          "below and try again"})
    return version


async def _reply(request: web.Request, form: Any) -> web.Response:
    """Send from the composer; when nothing reached the customer the draft stays in it."""
    conv_id, text = request.match_info["id"], str(form.get("text", ""))
    kept = {"draft": text, "then": str(form.get("then", "")),
            **{f"reply_{k}": v for k in ("mode", "subject", "cc")
               if isinstance(v := form.get(k), str)}}
    try:
        version = _page_version(form)
        options = reply_options(form.get("mode"), form.get("subject"), form.get("cc"))
        msg = await context(request).replies.reply(
            conv_id, text, current_user(request), str(form.get("idempotency_key", "")) or None,
            params.member(Status, str(form.get("then", "")), "status"), version,
            options=options)
    except StaleVersion as exc:
        return await _conversation_page(request, 409, **kept, changes=exc.changes,
                                        error="Your reply was not sent: the conversation "
                                              "changed since you opened it.")
    except InboxError as exc:
        return await _conversation_page(request, getattr(exc, "status", 400), **kept,
                                        error=f"Your reply was not sent: {exc}")
    if msg.delivery == Delivery.REJECTED:
        return await _conversation_page(
            request, 200, **kept, error="Not delivered: your reply did not reach the customer "
            f"({msg.meta.get('error', '')}); your text is kept below to fix and send again.")
    if msg.meta.get("demo_note"):  # the demo's sender: nothing was sent, say so plainly
        raise back(f"/conversations/{conv_id}", str(msg.meta["demo_note"]))
    sent = "Reply sent as a direct message." if msg.meta.get("kind") == "dm" else "Reply sent."
    raise back(f"/conversations/{conv_id}", sent if msg.delivery == Delivery.SENT else
                f"Reply saved but not delivered yet ({msg.meta.get('error', '')}); "
                "it will be retried.")


@page("customer.html")
async def customer(request: web.Request) -> dict[str, Any]:
    found = await context(request).customers.page(request.match_info["id"], None, 100)
    return {"customer": found.customer, "conversations": found.conversations,
            "journey": found.journey, "merges": found.merges,
            "flash": request.query.get("flash")}


async def merge_customer(request: web.Request) -> web.Response:
    form = await read_form(request)
    cid = request.match_info["id"]
    try:
        merged = await context(request).customers.merge(cid, str(form.get("customer", "")),
                                                        current_user(request))
        other = merged.other
        flash = f"Merged {customer_name(other)} into this customer. You can undo it below."
    except InboxError as exc:
        flash = f"Not merged: {exc}"
    raise back(f"/customers/{cid}", flash)


async def undo_merge(request: web.Request) -> web.Response:
    cid = request.match_info["id"]
    try:
        await context(request).customers.undo_merge(cid, request.match_info["merge"],
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
    words: list[str] = []
    try:
        node = await params.search_query(request, text)
        words = searched_words(node)
        result = await context(request).search.messages(
            current_user(request), node, request.query.get("cursor"), 50, FACETS)
    except QueryError as exc:
        error = exc
    more = ("/search?" + urlencode({"q": text, "cursor": result.next_cursor})
            if result and result.next_cursor else None)
    return {"q": text, "result": result, "error": error, "more": more, "words": words,
            "later_page": bool(request.query.get("cursor"))}


@page("reports.html")
async def reports(request: web.Request) -> dict[str, Any]:
    zone = params.team_zone(request)
    since, until = params.report_range(request, zone)
    reports = context(request).reports
    rows = await reports.sla_rows(since, until)
    next_due = await reports.next_due(20)
    backlog = await reports.backlog(utcnow())
    heatmap = await reports.heatmap(since, until, zone)
    resolution = await reports.resolution(since, until)
    users = await _users(request)
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.group, []).append(row)
    satisfaction: dict[str, list[Any]] = {}
    for found in await context(request).surveys.report(since, until, zone):
        satisfaction.setdefault(found.group, []).append(found)
    first, last = params.report_days(since, until, zone)
    today = utcnow().astimezone(zone).date()
    return {"since": first, "until": last, "groups": grouped, "zone": str(zone),
            "presets": [("Today", today, today), *range_presets(today)],
            "range_args": urlencode({"from": first.isoformat(), "to": last.isoformat()}),
            "next_due": next_due, "users": users, "now": utcnow(), "policy": reports.sla,
            "backlog": backlog, "heatmap": heatmap, "weekdays": WEEKDAYS,
            "resolution": resolution, "csat": satisfaction,
            "told": await context(request).acks.promises()}


@page("voc.html")
async def voc(request: web.Request) -> dict[str, Any]:
    """The voice of the customer; ?team=1 (the team's replies too) only for who may: for
    others the option is absent and the page says it shows the customers' voice.
    ?from=&to=: a range of days, with presets ending today in the team's time zone."""
    text = request.query.get("q", "")
    may_team = context(request).search.may_include_team(current_user(request))
    asked = params.team(request)
    team = asked and may_team
    first, last = params.day_range(request)
    today = utcnow().astimezone(params.team_zone(request)).date()
    base = {"q": text, "team": team, "may_team": may_team, "team_refused": asked and not team,
            "first": first, "last": last, "presets": range_presets(today),
            "series_names": SERIES_NAMES,
            "search_q": narrow(text, to_text(date_range(None, first, last)))}
    try:
        data = await voc_data(request, team)
    except QueryError as exc:
        return {**base, "error": exc, "data": None, "interval": "day", "chart": None}
    chart = stacked_bars([(row["start"], row) for row in data["sentiments"]])
    return {**base, "error": None, "data": data, "chart": chart,
            "interval": request.query.get("interval", "day")}


@page("report_conversations.html")
async def report_conversations(request: web.Request) -> dict[str, Any]:
    """The conversations behind one number of the report page (web.drill), a page at a
    time, with the CSV of all of them."""
    found = await drilled(request)
    page = await found.pages(request.query.get("cursor"), 50)
    zone = params.team_zone(request)
    since, until = params.report_range(request, zone)
    first, last = params.report_days(since, until, zone)
    return {"page": page, "users": await _users(request), "heading": found.heading,
            "report": found.report,
            "customers": await context(request).conversations.customers_of(page.items),
            "range_args": urlencode({"from": first.isoformat(), "to": last.isoformat()}),
            "drill_args": urlencode(found.args)}


@page("report_messages.html")
async def report_messages(request: web.Request) -> dict[str, Any]:
    """The customers' messages behind one cell of the heat map (web.drill.hour_cell), a
    page at a time, with the CSV of all of them."""
    cell = hour_cell(request)
    page = await context(request).reports.hour_messages(cell.hours,
                                                        request.query.get("cursor"), 50)
    range_args = urlencode({"from": cell.args["from"], "to": cell.args["to"]})
    return {"page": page, "heading": cell.heading, "range_args": range_args,
            "cell_args": urlencode(cell.args)}


async def backlog_chart(request: web.Request) -> web.Response:
    """/reports/backlog.svg: the open conversations waiting now, by age, a bar segment per
    channel (pygal), as the report page shows them in an <img>."""
    backlog = await context(request).reports.backlog(utcnow())
    return _svg(stacked_bar_chart(backlog.ages, {channel_name(c): n
                                                 for c, n in backlog.counts.items()}))


def _svg(body: bytes) -> web.Response:
    """An SVG image: no scripts at all; pygal styles itself inline."""
    return web.Response(body=body, content_type="image/svg+xml", headers={
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


SLA_CHARTS = {"compliance": ("First responses within target, per day and channel", "%"),
              "p90": ("First response p90 in hours, per day and channel", " h")}


async def sla_chart(request: web.Request) -> web.Response:
    """/reports/sla.svg?measure=compliance|p90&from=&to=: that measure per day of the SLA
    report, a line per channel and one for all ("channel_day" and "day" rows), as an SVG
    line chart (pygal) the page shows in an <img>."""
    measure = request.query.get("measure", "compliance")
    if measure not in SLA_CHARTS:
        raise ValidationError({"measure": "must be one of " + ", ".join(SLA_CHARTS)})
    since, until = params.report_range(request, params.team_zone(request))
    rows = await context(request).reports.sla_rows(since, until)
    title, unit = SLA_CHARTS[measure]
    days = [r.key for r in rows if r.group == "day"]
    lines: dict[str, dict[str, float | None]] = {"All channels": {
        r.key: _measure(r, measure) for r in rows if r.group == "day"}}
    for r in rows:
        if r.group == "channel_day":
            day, _, channel = r.key.partition(" ")
            lines.setdefault(channel_name(channel), {})[day] = _measure(r, measure)
    return _svg(line_chart(days, {name: [line.get(day) for day in days]
                                  for name, line in lines.items()}, unit, title))


def _measure(row: SlaRow, measure: str) -> float | None:
    """A chart's value of a report row: compliance in percent, or p90 in hours."""
    if measure == "compliance":
        return None if row.compliance is None else row.compliance * 100
    return None if row.p90 is None else row.p90 / 3600


def range_presets(today: date) -> list[tuple[str, date, date]]:
    """(name, first day, last day) of the VoC's ranges: the last 7 and 30 days and this
    quarter, each up to `today` (the team's)."""
    quarter = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    return [("Last 7 days", today - timedelta(days=6), today),
            ("Last 30 days", today - timedelta(days=29), today),
            ("This quarter", quarter, today)]


async def volume_chart(request: web.Request) -> web.Response:
    """The volume over time as an SVG bar chart (pygal), shown through an <img>."""
    node = await params.voc_query(request)
    buckets = await context(request).search.volume(current_user(request), node,
                                                   params.interval(request),
                                                   params.team(request))
    return _svg(bar_chart(buckets))


async def attachment(request: web.Request) -> web.StreamResponse:
    """An email attachment, always as a download (never rendered in our origin)."""
    message_id = request.match_info["message"]
    found = await context(request).conversations.messages([message_id])
    index = params.whole_number(request.match_info["index"], "index", 0, 10_000)
    if message_id not in found or index >= len(found[message_id].attachments):
        raise web.HTTPNotFound(reason="no such attachment")
    item = found[message_id].attachments[index]
    path = context(request).connectors.attachment_file(item.ref) if item.ref else None
    if path is None:
        raise web.HTTPNotFound(reason="the attachment was over the size limit or is gone")
    name = quote(item.name or "attachment", safe="")
    return web.FileResponse(path, headers={
        "Content-Type": "application/octet-stream",
        "Content-Disposition": f"attachment; filename*=UTF-8''{name}"})


@page("connectors.html")
async def connectors_page(request: web.Request) -> dict[str, Any]:
    """Each connector's state, last error, restarts, next retry and dead letters."""
    ctx = context(request)
    states = await ctx.connectors.states()
    named = {c["name"] for c in states}
    others = {source: count for source, count in (await ctx.dead_letters.counts()).items()
              if source not in named}  # web forms, sources of connectors gone since
    letters, after = await ctx.dead_letters.page(request.query.get("after"),
                                                 params.limit(request, 20))
    return {"connectors": states, "other_dead_letters": others, "dead_letters": letters,
            "next_after": after}
