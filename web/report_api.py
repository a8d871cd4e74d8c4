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

# A report's table for one request: what its JSON says besides the rows, the rows, and the
# name of its CSV file. twins() serves it at a path as JSON and at path.csv as CSV.
Table = tuple[dict[str, Any], list[dict[str, Any]], str]
TableOf = Callable[[web.Request], Awaitable[Table]]


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/reports/conversations.csv", report_conversations_csv)
    r.add_get("/api/reports/messages.csv", report_messages_csv)
    for name, table in (("sla", _sla), ("heatmap", _heatmap), ("fcr", _fcr),
                        ("journeys", _journeys), ("backlog", _backlog), ("due", _due),
                        ("told", _told)):
        twins(app, f"/api/reports/{name}", table)


def twins(app: web.Application, path: str, table: TableOf) -> None:
    """A report's JSON route and its CSV twin at the same path ending in .csv."""
    async def as_json(request: web.Request) -> web.Response:
        head, rows, _ = await table(request)
        return json_response({**head, "rows": rows})

    async def as_csv(request: web.Request) -> web.Response:
        _, rows, name = await table(request)
        return table_csv(rows, name)

    app.router.add_get(path, as_json)
    app.router.add_get(f"{path}.csv", as_csv)


def ranged(request: web.Request, report: str, since: datetime, until: datetime,
           rows: list[dict[str, Any]], **head: Any) -> Table:
    """The table of a report over ?from=&to=: its range in the JSON, its days in the CSV's
    file name (both included, as the page shows)."""
    first, last = params.report_days(since, until, params.team_zone(request))
    return ({"since": since, "until": until, **head}, rows,
            f"{report}-{first.isoformat()}-{last.isoformat()}.csv")


async def _sla(request: web.Request) -> Table:
    """First and next responses and resolution by channel, agent, day (?from=&to=)."""
    since, until = params.report_range(request, params.team_zone(request))
    rows = await context(request).reports.sla_rows(since, until)
    return ranged(request, "sla", since, until,
                  [{**plain(r), "compliance": r.compliance, "repeat_rate": r.repeat_rate,
                    "next_compliance": r.next_compliance} for r in rows])


async def _heatmap(request: web.Request) -> Table:
    """The customers' own messages by weekday and hour in the team's time zone (?from=&to=)."""
    zone = params.team_zone(request)
    since, until = params.report_range(request, zone)
    heat = await context(request).reports.heatmap(since, until, zone)
    return ranged(request, "heatmap", since, until, heat.rows(), zone=heat.zone)


async def _resolution(request: web.Request) -> tuple[datetime, datetime, ResolutionReport]:
    since, until = params.report_range(request, params.team_zone(request))
    return since, until, await context(request).reports.resolution(since, until)


async def _fcr(request: web.Request) -> Table:
    """First-contact resolution of the conversations created in the range (?from=&to=)."""
    since, until, report = await _resolution(request)
    return ranged(request, "fcr", since, until,
                  [{**plain(r), "rate": r.rate} for r in report.fcr])


async def _journeys(request: web.Request) -> Table:
    """Journey times (seconds) of the first contacts created in the range (?from=&to=)."""
    since, until, report = await _resolution(request)
    return ranged(request, "journeys", since, until, [plain(r) for r in report.journeys])


# --- the tables of now: the backlog, what breaches next, what customers are told ----------


async def _backlog(request: web.Request) -> Table:
    """The open conversations waiting now, a row per channel (and all): a count per age."""
    backlog = await context(request).reports.backlog(utcnow())
    counts = {**backlog.counts, "all": backlog.totals} if backlog.counts else {}
    return ({"at": backlog.at}, [{"channel": channel, **dict(zip(backlog.ages, n, strict=True))}
                                 for channel, n in counts.items()], "backlog.csv")


async def _due(request: web.Request) -> Table:
    """The 20 running clocks that end first, with why each deadline is what it is."""
    users = await context(request).accounts.users_by_id()
    return ({"at": utcnow()},
            [{"due_at": c.due_at, "ref": c.ref, "id": c.id, "subject": c.subject,
              "channel": c.channel, "assignee": _name(users.get(c.assignee or "")),
              "priority": c.priority, "why": c.due_basis}
             for c in await context(request).reports.next_due(20)], "due.csv")


async def _told(request: web.Request) -> Table:
    """What a customer writing now on each channel is told to expect (ack.queue)."""
    return ({"at": utcnow()}, [plain(p) for p in await context(request).acks.promises()],
            "told.csv")


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
