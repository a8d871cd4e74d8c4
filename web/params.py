"""Request parameters read once, at the edge: numbers, dates, limits, JSON bodies, the
conversation filter, report ranges, intervals and facets. A bad one is a 400 naming it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from urllib.parse import unquote_plus, unquote_to_bytes

from aiohttp import web

from inbox.errors import QueryError, ValidationError
from inbox.model import (
    FACETS,
    INTERVALS,
    ORDERS,
    PRIORITIES,
    Channel,
    ConversationFilter,
    E,
    Facet,
    Interval,
    QueryNode,
    Status,
    one_of,
    parse_enum,
    utcnow,
)
from inbox.query import FIELD_VALUES, FIRST_DATE, LAST_DATE
from inbox.usecases.search import date_range
from web.filters import zone_of
from web.guards import current_user
from web.keys import context
from web.serialize import json_object

MAX_LIMIT = 200
MAX_VERSION = 2**53
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
        if not _DATE.fullmatch(raw) or not FIRST_DATE <= raw <= LAST_DATE:
            raise ValueError(raw)
        return datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ValidationError({name: f"must be a date like 2026-11-01, from {FIRST_DATE} "
                                     f"to {LAST_DATE}"}) from exc


def moment(raw: str, name: str, zone: tzinfo | None = None) -> datetime:
    """An ISO 8601 time with its zone ("2026-12-01T09:00:00+01:00", "...Z") as UTC, or a 400;
    with `zone`, a time without one (a form's "2026-12-01T09:00") is read in that zone."""
    try:
        if not raw or len(raw) > 40 or not raw.isascii():
            raise ValueError(raw)
        value = datetime.fromisoformat(raw)
        if value.utcoffset() is None and zone is not None:
            value = value.replace(tzinfo=zone)
        if value.utcoffset() is None:
            raise ValueError(raw)
        return value.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValidationError({name: "must be a time like 2026-12-01T09:00:00+01:00, with "
                                     "its zone"}) from exc


def limit(request: web.Request, default: int = 50) -> int:
    return whole_number(request.query.get("limit", str(default)), "limit", 1, MAX_LIMIT)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object (see json_object); a 400 that says what is wrong."""
    try:
        text = (await request.read()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError({"body": "is not valid UTF-8"}) from exc
    return json_object(text)


def text_field(data: dict[str, Any], name: str) -> str:
    """A text field of a JSON body: text or absent (""), never a number or a list."""
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise ValidationError({name: "must be text"})
    return value or ""


def json_version(data: dict[str, Any]) -> int | None:
    """The conversation version a JSON body acts on (absent: None)."""
    version = data.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)
                                or not 1 <= version <= MAX_VERSION):
        raise ValidationError({"version": "must be the conversation's version number"})
    return version


def form_version(form: Any) -> int | None:
    """The conversation version the page showed (absent on pages older than the field)."""
    raw = str(form.get("version", ""))
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise ValidationError({"version": "must be the conversation's version number"})
    return int(raw)


async def assignee(request: web.Request, value: str | None) -> str | None:
    """A user id from 'me', an email address or a user id; None/'none' unassigns."""
    return await context(request).accounts.user_id(value, current_user(request))


def member(kind: type[E], value: str | None, name: str) -> E | None:
    """The member of `kind` a parameter names (None when empty); a 400 naming the choices
    otherwise."""
    return choice(kind, value, name) if value else None


def choice(kind: type[E], value: object, name: str) -> E:
    """The member of `kind` a required parameter names; a 400 naming the choices otherwise."""
    try:
        return parse_enum(kind, value)
    except ValueError:
        raise ValidationError({name: f"must be one of {', '.join(kind)}"}) from None


async def conversation_filter(request: web.Request, status: str = "") -> ConversationFilter:
    """?status=&channel=&assignee=&customer=&tag=&priority=&sentiment=&lang=&order=
    (assignee: me, an email, a user id or "none"; sentiment and lang: of the customer's
    latest message); `status` is the default when the query names none."""
    q = request.query
    who = q.get("assignee") or None
    if who != "none":
        who = await assignee(request, who)
    order = q.get("order", "recent")
    if not one_of(order, ORDERS):
        raise ValidationError({"order": "must be recent (newest activity first), due "
                                        "(what breaches next), waiting (oldest unanswered "
                                        "first) or wake (snoozed, the first to wake first)"})
    return ConversationFilter(status=member(Status, q.get("status", status), "status"),
                              channel=member(Channel, q.get("channel"), "channel"), assignee=who,
                              customer_id=q.get("customer") or None, order=order,
                              tag=word(q.get("tag", "").strip().lower(), "tag"),
                              priority=listed(q.get("priority", ""), PRIORITIES, "priority"),
                              sentiment=listed(q.get("sentiment", ""), SENTIMENTS,
                                               "sentiment"),
                              lang=language(q.get("lang", "")))


MAX_WORD = 100
SENTIMENTS = FIELD_VALUES["sentiment"]
_LANGUAGE = re.compile(r"[a-z]{2,3}")


def listed(raw: str, choices: tuple[str, ...], name: str) -> str | None:
    """One of a fixed list of values (any case; empty: None), or a 400 naming them."""
    value = raw.strip().lower()
    if value and value not in choices:
        raise ValidationError({name: f"must be one of {', '.join(choices)}"})
    return value or None


def language(raw: str) -> str | None:
    """A language code of 2 or 3 letters ("en"; empty: None), or a 400."""
    value = raw.strip().lower()
    if value and not _LANGUAGE.fullmatch(value):
        raise ValidationError({"lang": "must be a language code of 2 or 3 letters, like en"})
    return value or None


def word(raw: str, name: str) -> str | None:
    """A tag or priority to filter on (empty: None); a 400 when it cannot be one."""
    if len(raw) > MAX_WORD or any(ord(ch) < 32 for ch in raw):
        raise ValidationError({name: f"must be one word of at most {MAX_WORD} characters"})
    return raw or None


def team_zone(request: web.Request) -> tzinfo:
    """The team's time zone (the SLA calendar's): where a report's and the VoC's days run."""
    return zone_of(None, context(request).reports.sla.calendar.timezone)


def report_days(since: datetime, until: datetime, zone: tzinfo) -> tuple[date, date]:
    """The first and last day, both included, of a report's [since, until) in `zone`."""
    return since.astimezone(zone).date(), (until.astimezone(zone) - timedelta(days=1)).date()


def report_range(request: web.Request, zone: tzinfo = UTC) -> tuple[datetime, datetime]:
    """The days a report covers, from midnight to midnight in `zone` (the team's), as UTC
    instants [since, until): ?from=&to= (both days included, as the page's form sends them;
    From = To is that one day), or ?since=&until= (until excluded, as the API always took
    them); by default the last 30 days, today included."""
    today = utcnow().astimezone(zone).date()

    def start(day: date) -> datetime:
        return datetime.combine(day, time(), zone).astimezone(UTC)

    if "from" in request.query or "to" in request.query:
        first, last = day_range(request)
        last = last or today
        return start(first or last - timedelta(days=29)), start(last + timedelta(days=1))
    since, until = (day(raw, name).date() if (raw := request.query.get(name)) else default
                    for name, default in (("since", today - timedelta(days=29)),
                                          ("until", today + timedelta(days=1))))
    if until <= since:
        raise ValidationError({"until": "must be after since"})
    return start(since), start(until)


def day_range(request: web.Request) -> tuple[date | None, date | None]:
    """?from=YYYY-MM-DD&to=YYYY-MM-DD, both days included, either one optional (empty:
    open); a 400 when `to` is before `from`."""
    found = {name: day(raw, name).date() if (raw := request.query.get(name, "")) else None
             for name in ("from", "to")}
    first, last = found["from"], found["to"]
    if first and last and last < first:
        raise ValidationError({"to": "must be on or after from"})
    return first, last


def team(request: web.Request) -> bool:
    """?team=1: the voice of the customer with the team's replies (QA, managers only)."""
    raw = request.query.get("team", "")
    if raw not in ("", "0", "1"):
        raise ValidationError({"team": "must be 1 (include the team's replies) or 0"})
    return raw == "1"


def interval(request: web.Request) -> Interval:
    value = request.query.get("interval", "day")
    if not one_of(value, INTERVALS):
        raise ValidationError({"interval": f"must be one of {', '.join(INTERVALS)}"})
    return value


def facets(request: web.Request) -> list[Facet]:
    """?facets=channel,sentiment (none by default)."""
    names = [f for f in request.query.get("facets", "").split(",") if f]
    known = [f for f in names if one_of(f, FACETS)]
    if len(known) < len(names):
        unknown = [f for f in names if f not in known]
        raise ValidationError({"facets": f"unknown {', '.join(unknown)}; known: "
                                         f"{', '.join(FACETS)}"[:500]})
    return known


async def search_query(request: web.Request, text: str | None = None) -> QueryNode | None:
    """The search of ?q= (or `text`) for the signed-in user: parsed, assignees resolved,
    limited to what they may see (QueryError, a 400 that says where, otherwise)."""
    query = request.query.get("q", "") if text is None else text
    if query == request.query.get("q", ""):
        check_utf8(request.rel_url.raw_query_string, query)
    return await context(request).search.parse(query, current_user(request))


async def voc_query(request: web.Request) -> QueryNode | None:
    """The VoC's search: ?q= (see `search_query`) within ?from=&to= (see `day_range`)."""
    return date_range(await search_query(request), *day_range(request))


def check_utf8(raw_query_string: str, query: str) -> None:
    """A QueryError where the first ?q= of the raw query string stops being UTF-8 (a lone
    surrogate or a broken character, which the URL's decoding would turn into U+FFFD)."""
    for pair in raw_query_string.split("&"):
        name, _, value = pair.partition("=")
        if unquote_plus(name) != "q":
            continue
        raw = unquote_to_bytes(value.replace("+", " "))
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            position = len(raw[:exc.start].decode("utf-8"))
            raise QueryError("not UTF-8 text (a lone surrogate or a broken character)",
                             position, query) from None
        return
