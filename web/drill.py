"""The conversations behind one number of the report page (/reports/conversations, and all
of them as CSV at /api/reports/conversations.csv with the same parameters): which number,
from the link's parameters, what the list is (its heading), and its pages.

?report=sla (the default): &from=&to=&group=&key=&response= (SLA and FCR tables);
?report=backlog: &channel=&age=&at= (the backlog's cell counted at `at`);
?report=csat: &from=&to=&group=&key=&measure= (the CSAT tables);
?report=fcr: &from=&to=&group=&key= (resolved at the first contact);
?report=journeys: &from=&to=&key= (a channel or all: the journeys' first contacts).

A heat map cell's messages: /reports/messages and /api/reports/messages.csv
?from=&to=&weekday=&hour= (hour_cell)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from aiohttp import web

from inbox.errors import ValidationError
from inbox.model import Conversation, Page, utcnow
from inbox.usecases.reports import (
    AGES,
    WEEKDAYS,
    backlog_filter,
    channel_of,
    drill_filter,
    week_hours,
)
from web import params
from web.filters import channel_name
from web.keys import context

Pages = Callable[[str | None, int], Awaitable[Page[Conversation]]]
REPORTS = ("sla", "backlog", "csat", "fcr", "journeys")
RESPONSE_WORDS = {None: "", "answered": ", answered", "met": ", answered within the target",
                  "missed": ", answered after the target", "unanswered": ", not answered yet",
                  "resolved": ", resolved", "repeat": ", repeat contacts (the customer back "
                  "within 7 days)", "switched": ", repeat contacts on another channel",
                  "next": ", with responses after the first (the report counts each response;"
                  " a conversation can hold several)",
                  "next_missed": ", with a response after the first one late (the report "
                  "counts each late response)"}
CSAT_GROUPS = ("all", "channel", "agent", "day")  # inbox.csat.CsatRow.group
CSAT_WORDS = {"sent": "a survey sent", "responses": "a survey answered",
              "satisfied": "a survey answered 4 or 5 (satisfied)"}


@dataclass(frozen=True)
class Drilled:
    heading: str  # what the list is, as the page's heading says
    args: dict[str, str]  # the parameters naming it: for its next pages and its CSV
    pages: Pages  # its conversations, a page at a time
    report: str  # REPORTS


async def drilled(request: web.Request) -> Drilled:
    """The number the request's parameters name (a 400 for one that is none)."""
    report = request.query.get("report", "sla")
    if report not in REPORTS:
        raise ValidationError({"report": "must be one of " + ", ".join(REPORTS)})
    zone = params.team_zone(request)
    if report == "backlog":
        return _backlog(request, zone)
    since, until = params.report_range(request, zone)
    first, last = params.report_days(since, until, zone)
    group, key = request.query.get("group", "all"), request.query.get("key", "all")
    args = {"from": first.isoformat(), "to": last.isoformat(), "group": group, "key": key}
    period = f"{first} – {last} ({zone})"
    reports = context(request).reports
    if report == "sla":
        response = request.query.get("response") or None
        flt = drill_filter(since, until, group, key, response)

        async def found(cursor: str | None, limit: int) -> Page[Conversation]:
            return await reports.drill(flt, cursor, limit)

        who = await _who(request, group, key) if group != "all" else "Care conversations"
        return Drilled(f"{who}{RESPONSE_WORDS.get(response, '')}, created {period}",
                       {**args, **({"response": response} if response else {})}, found, report)
    if report == "journeys":
        ids = await reports.resolution_ids(since, until, "journeys", "channel", key)
        heading = (f"First contacts{'' if key == 'all' else ' on ' + channel_name(key)} "
                   f"whose whole journey is resolved, created {period}")
    elif report == "fcr":
        ids = await reports.resolution_ids(since, until, "first_contact", group, key)
        heading = (f"{await _who(request, group, key)} resolved at the first contact (no "
                   f"repeat contact within 7 days), created {period}")
    else:  # csat
        if group not in CSAT_GROUPS:
            raise ValidationError({"group": "must be one of " + ", ".join(CSAT_GROUPS)})
        measure = args["measure"] = request.query.get("measure", "sent")
        ids = await context(request).surveys.behind(since, until, zone, group, key, measure)
        heading = f"{await _who(request, group, key)} with {CSAT_WORDS[measure]}, resolved {period}"

    async def listed(cursor: str | None, limit: int) -> Page[Conversation]:
        return await reports.listed(ids, cursor, limit)

    return Drilled(heading, {"report": report, **args}, listed, report)


@dataclass(frozen=True)
class HourCell:
    heading: str  # what the list is
    args: dict[str, str]  # the parameters naming it: for its next pages and its CSV
    hours: list[datetime]  # the UTC hours it counts (inbox.usecases.reports.week_hours)


def hour_cell(request: web.Request) -> HourCell:
    """The heat map cell ?from=&to=&weekday=0-6 (Monday first)&hour=0-23 names (by default
    Monday 00:00)."""
    zone = params.team_zone(request)
    since, until = params.report_range(request, zone)
    first, last = params.report_days(since, until, zone)
    weekday = params.whole_number(request.query.get("weekday", "0"), "weekday", 0, 6)
    hour = params.whole_number(request.query.get("hour", "0"), "hour", 0, 23)
    return HourCell(f"Customer messages on {WEEKDAYS[weekday]}s {hour:02d}:00–{hour:02d}:59 "
                    f"({zone}), {first} – {last}",
                    {"from": first.isoformat(), "to": last.isoformat(),
                     "weekday": str(weekday), "hour": str(hour)},
                    week_hours(since, until, zone, weekday, hour))


def _backlog(request: web.Request, zone: tzinfo) -> Drilled:
    channel = request.query.get("channel", "all")
    age = params.whole_number(request.query.get("age", "0"), "age", 0, len(AGES) - 1)
    raw = request.query.get("at")
    at = params.moment(raw, "at") if raw else utcnow().replace(microsecond=0)
    flt = backlog_filter(at, channel, age)
    reports = context(request).reports

    async def waiting(cursor: str | None, limit: int) -> Page[Conversation]:
        return await reports.drill(flt, cursor, limit)

    local = at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    what = "Open" if channel == "all" else channel_name(channel)
    return Drilled(f"{what} conversations waiting {AGES[age][0]}, as of {local} ({zone})",
                   {"report": "backlog", "channel": channel, "age": str(age),
                    "at": at.isoformat()}, waiting, "backlog")


async def _who(request: web.Request, group: str, key: str) -> str:
    """The conversations of one row of a report, in words."""
    if group == "channel":
        return f"{channel_name(channel_of(key))} conversations"
    if group == "agent":
        if key == "unassigned":
            return "Unassigned conversations"
        user = (await context(request).accounts.users_by_id()).get(key)
        return f"Conversations assigned to {user.name or user.email if user else key}"
    if group == "day":
        return f"Conversations of {key}"
    if group == "channel_day":
        day, _, channel = key.partition(" ")
        return f"{channel_name(channel_of(channel))} conversations of {day}"
    return "Conversations"
