"""The reports' JSON routes and their CSV twins (every JSON report route has one at the same
path ending in .csv), and the conversations behind a report's number as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from inbox.model import ResolutionReport, User, utcnow
from web import params
from web.api import CSV_COLUMNS, EXPORT_PAGE, CsvPage, csv_cell, csv_row, export
from web.drill import drilled, hour_cell
from web.keys import context
from web.serialize import json_response, plain

Handler = Callable[[web.Request], Awaitable[web.Response]]


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/reports/sla", sla_report)
    r.add_get("/api/reports/sla.csv", sla_report_csv)
    r.add_get("/api/reports/conversations.csv", report_conversations_csv)
    r.add_get("/api/reports/messages.csv", report_messages_csv)
    r.add_get("/api/reports/heatmap", heatmap_report)
    r.add_get("/api/reports/heatmap.csv", heatmap_report_csv)
    r.add_get("/api/reports/fcr", fcr_report)
    r.add_get("/api/reports/fcr.csv", fcr_report_csv)
    r.add_get("/api/reports/journeys", journeys_report)
    r.add_get("/api/reports/journeys.csv", journeys_report_csv)
    for name, rows in (("backlog", _backlog_rows), ("due", _due_rows), ("told", _told_rows)):
        r.add_get(f"/api/reports/{name}", _now_report(rows))
        r.add_get(f"/api/reports/{name}.csv", _now_report(rows, csv_name=f"{name}.csv"))


async def _sla_rows(request: web.Request) -> tuple[datetime, datetime, list[dict[str, Any]]]:
    since, until = params.report_range(request, params.team_zone(request))
    rows = await context(request).reports.sla_rows(since, until)
    return since, until, [{**plain(r), "compliance": r.compliance, "repeat_rate": r.repeat_rate,
                           "next_compliance": r.next_compliance}
                          for r in rows]


async def sla_report(request: web.Request) -> web.Response:
    since, until, rows = await _sla_rows(request)
    return json_response({"since": since, "until": until, "rows": rows})


async def sla_report_csv(request: web.Request) -> web.Response:
    """The SLA report's rows as CSV (the JSON route's twin): a column per field."""
    since, until, rows = await _sla_rows(request)
    return table_csv(rows, range_name(request, "sla", since, until))


def range_name(request: web.Request, report: str, since: datetime, until: datetime) -> str:
    """A report's CSV file name: the report and its days, both included, as the page shows."""
    first, last = params.report_days(since, until, params.team_zone(request))
    return f"{report}-{first.isoformat()}-{last.isoformat()}.csv"


async def _heatmap(request: web.Request) -> tuple[datetime, datetime, str, list[dict[str, Any]]]:
    zone = params.team_zone(request)
    since, until = params.report_range(request, zone)
    heat = await context(request).reports.heatmap(since, until, zone)
    return since, until, heat.zone, heat.rows()


async def heatmap_report(request: web.Request) -> web.Response:
    """The customers' own messages by weekday and hour in the team's time zone (?from=&to=)."""
    since, until, zone, rows = await _heatmap(request)
    return json_response({"since": since, "until": until, "zone": zone, "rows": rows})


async def heatmap_report_csv(request: web.Request) -> web.Response:
    since, until, _, rows = await _heatmap(request)
    return table_csv(rows, range_name(request, "heatmap", since, until))


async def _resolution(request: web.Request) -> tuple[datetime, datetime, ResolutionReport]:
    since, until = params.report_range(request, params.team_zone(request))
    return since, until, await context(request).reports.resolution(since, until)


def _fcr_rows(report: ResolutionReport) -> list[dict[str, Any]]:
    return [{**plain(r), "rate": r.rate} for r in report.fcr]


async def fcr_report(request: web.Request) -> web.Response:
    """First-contact resolution of the conversations created in the range (?from=&to=)."""
    since, until, report = await _resolution(request)
    return json_response({"since": since, "until": until, "rows": _fcr_rows(report)})


async def fcr_report_csv(request: web.Request) -> web.Response:
    since, until, report = await _resolution(request)
    return table_csv(_fcr_rows(report), range_name(request, "fcr", since, until))


async def journeys_report(request: web.Request) -> web.Response:
    """Journey times (seconds) of the first contacts created in the range (?from=&to=)."""
    since, until, report = await _resolution(request)
    return json_response({"since": since, "until": until,
                          "rows": [plain(r) for r in report.journeys]})


async def journeys_report_csv(request: web.Request) -> web.Response:
    since, until, report = await _resolution(request)
    return table_csv([plain(r) for r in report.journeys],
                     range_name(request, "journeys", since, until))


# --- the tables of now: the backlog, what breaches next, what customers are told ----------

Rows = Callable[[web.Request], Awaitable[list[dict[str, Any]]]]


def _now_report(rows: Rows, csv_name: str | None = None) -> Handler:
    """A report of the present moment (no range) as JSON {"at", "rows"}, or as CSV."""
    async def handler(request: web.Request) -> web.Response:
        found = await rows(request)
        if csv_name is not None:
            return table_csv(found, csv_name)
        return json_response({"at": utcnow(), "rows": found})

    return handler


async def _backlog_rows(request: web.Request) -> list[dict[str, Any]]:
    """The open conversations waiting now, a row per channel (and all): a count per age."""
    backlog = await context(request).reports.backlog(utcnow())
    counts = {**backlog.counts, "all": backlog.totals} if backlog.counts else {}
    return [{"channel": channel, **dict(zip(backlog.ages, n, strict=True))}
            for channel, n in counts.items()]


async def _due_rows(request: web.Request) -> list[dict[str, Any]]:
    """The 20 running clocks that end first, with why each deadline is what it is."""
    users = await context(request).accounts.users_by_id()
    return [{"due_at": c.due_at, "ref": c.ref, "id": c.id, "subject": c.subject,
             "channel": c.channel, "assignee": _name(users.get(c.assignee or "")),
             "priority": c.priority, "why": c.due_basis}
            for c in await context(request).reports.next_due(20)]


async def _told_rows(request: web.Request) -> list[dict[str, Any]]:
    """What a customer writing now on each channel is told to expect (ack.queue)."""
    return [plain(p) for p in await context(request).acks.promises()]


def _name(user: User | None) -> str | None:
    return None if user is None else user.name or user.email


DRILL_COLUMNS = ("ref", "id", "channel", "status", "customer_id", "assignee", "created_at",
                 "first_response_seconds", "first_response_breached", "resolution_seconds",
                 "paused_seconds", "next_response_seconds", "priority", "subject")


async def report_conversations_csv(request: web.Request) -> web.StreamResponse:
    """Every conversation behind one number of the report page (the parameters of
    /reports/conversations, web.drill), as CSV streamed a page at a time (api.export)."""
    found = await drilled(request)

    async def pages(cursor: str | None) -> CsvPage:
        page = await found.pages(cursor, EXPORT_PAGE)
        return ([[_cell(getattr(c, name)) for name in DRILL_COLUMNS] for c in page.items],
                page.next_cursor)

    return await export(request, pages, f"{found.report}-conversations.csv", DRILL_COLUMNS)


async def report_messages_csv(request: web.Request) -> web.StreamResponse:
    """The customers' messages behind one cell of the heat map (?from=&to=&weekday=&hour=,
    as /reports/messages), as CSV (the search export's columns)."""
    cell = hour_cell(request)
    reports = context(request).reports

    async def pages(cursor: str | None) -> CsvPage:
        page = await reports.hour_messages(cell.hours, cursor, EXPORT_PAGE)
        return [csv_row(m) for m in page.items], page.next_cursor

    return await export(request, pages, "heatmap-messages.csv", CSV_COLUMNS)


def _cell(value: Any) -> Any:
    """A CSV cell: numbers as numbers, times in ISO 8601, text formula-safe, a list of
    numbers (next_response_seconds) space-separated."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, tuple):
        return " ".join(map(str, value))
    return csv_cell(value.isoformat() if isinstance(value, datetime) else value)


def table_csv(rows: list[dict[str, Any]], name: str) -> web.Response:
    """Rows of one report as a CSV file: a header of their keys, numbers as numbers, text
    formula-safe."""
    columns = list(rows[0]) if rows else []
    buffer = io.StringIO()
    csv.writer(buffer).writerows([columns, *([_cell(row[c]) for c in columns] for row in rows)])
    body = buffer.getvalue().encode()
    return web.Response(body=body, headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{name}"'})
