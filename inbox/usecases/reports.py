"""Reports: response-time SLA compliance and what breaches next."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import get_args

from inbox.errors import ValidationError
from inbox.model import (
    Channel,
    Conversation,
    ConversationFilter,
    Message,
    Page,
    ResolutionReport,
    Response,
    SlaRow,
    Status,
)
from inbox.sla import SlaPolicy
from inbox.store import Store

GROUPS = ("all", "channel", "agent", "day", "channel_day")  # SlaRow.group
# The backlog's age buckets: (label, the age its customers have waited less than).
AGES: tuple[tuple[str, timedelta | None], ...] = (
    ("under 1 h", timedelta(hours=1)), ("1-4 h", timedelta(hours=4)),
    ("4-24 h", timedelta(hours=24)), ("1-3 days", timedelta(days=3)),
    ("3-7 days", timedelta(days=7)), ("over 7 days", None))


@dataclass(frozen=True, slots=True)
class Backlog:
    """Open conversations waiting for an answer, by channel and how long they have waited."""

    ages: tuple[str, ...]  # the buckets' labels, youngest first
    counts: dict[str, tuple[int, ...]]  # per channel, one count per bucket
    at: datetime  # when they were counted (backlog_filter lists them as of then)

    @property
    def totals(self) -> tuple[int, ...]:
        return tuple(sum(column) for column in zip(*self.counts.values(), strict=True)) \
            if self.counts else tuple(0 for _ in self.ages)
RESPONSES: tuple[Response, ...] = get_args(Response)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HEAT_LEVELS = 5  # shades of the heat map, besides none
MAX_CELL_RANGE = timedelta(days=1100)  # of a cell's messages: 158 hours at most


@dataclass(frozen=True, slots=True)
class HeatMap:
    """The customers' own messages by hour of the week in a time zone: counts[weekday][hour]
    (Monday first, local hours 0-23) summed over the report's range."""

    zone: str
    counts: tuple[tuple[int, ...], ...]

    @property
    def peak(self) -> int:
        return max(max(day) for day in self.counts)

    def level(self, n: int) -> int:
        """The cell's shade: 0 for none, then 1..HEAT_LEVELS up to the peak."""
        return 0 if n <= 0 else max(1, -(-n * HEAT_LEVELS // self.peak))

    def rows(self) -> list[dict[str, object]]:
        """One row per weekday and hour (the CSV and JSON shape)."""
        return [{"weekday": WEEKDAYS[d], "hour": h, "messages": n}
                for d, day in enumerate(self.counts) for h, n in enumerate(day)]


def fold_week(hours: Sequence[tuple[datetime, int]], zone: tzinfo) -> HeatMap:
    """UTC hours' counts by the weekday and hour they are in `zone`: each hour converted on
    its own, so days with a summer-time change count right (the hour repeated in autumn
    holds both, the one skipped in spring none)."""
    cells = [[0] * 24 for _ in WEEKDAYS]
    for start, n in hours:
        weekday, hour = _cell(start, zone)
        cells[weekday][hour] += n
    return HeatMap(str(zone), tuple(tuple(day) for day in cells))


def _cell(start: datetime, zone: tzinfo) -> tuple[int, int]:
    """The heat map's cell of a UTC hour: (weekday, hour) where it falls in `zone`."""
    local = start.astimezone(zone)
    return local.weekday(), local.hour


def week_hours(since: datetime, until: datetime, zone: tzinfo, weekday: int, hour: int
               ) -> list[datetime]:
    """The UTC hours (their starts) counted in one heat map cell (fold_week) of the range
    [since, until), taken at the hour as Store.inbound_hours counts them."""
    if not 0 <= weekday < len(WEEKDAYS) or not 0 <= hour < 24:
        raise ValidationError({"cell": "must be a weekday 0-6 and an hour 0-23"})
    if until - since > MAX_CELL_RANGE:
        raise ValidationError({"to": f"a heat map cell lists the messages of at most "
                                     f"{MAX_CELL_RANGE.days} days"})
    start = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    end = until.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    found, at = [], start
    while at < end:
        if _cell(at, zone) == (weekday, hour):
            found.append(at)
        at += timedelta(hours=1)
    return found


def drill_filter(since: datetime, until: datetime, group: str = "all", key: str = "all",
                 response: str | None = None) -> ConversationFilter:
    """The conversations behind one number of the SLA report: its group and key (a row) and,
    for the answered / within-target / missed columns, their first response. The report's
    days are UTC days ("day" rows), within the report's range."""
    if group not in GROUPS:
        raise ValidationError({"group": "must be one of " + ", ".join(GROUPS)})
    if response is not None and response not in RESPONSES:
        raise ValidationError({"response": "must be one of " + ", ".join(RESPONSES)})
    flt = ConversationFilter(created_since=since, created_until=until, care=True,
                             response=next((r for r in RESPONSES if r == response), None),
                             order="created")
    if group == "channel":
        return replace(flt, channel=channel_of(key))
    if group == "agent":
        return replace(flt, assignee="none" if key == "unassigned" else key)
    if group == "day":
        return _on_day(flt, key, since, until)
    if group == "channel_day":
        day, _, channel = key.partition(" ")
        return replace(_on_day(flt, day, since, until), channel=channel_of(channel))
    return flt


def channel_of(key: str, name: str = "key") -> Channel:
    """A channel named in a drill's parameter `name`; a ValidationError if it is none."""
    if key not in {c.value for c in Channel}:
        raise ValidationError({name: "must be one of " + ", ".join(c.value for c in Channel)})
    return Channel(key)


def _on_day(flt: ConversationFilter, key: str, since: datetime, until: datetime
            ) -> ConversationFilter:
    """The filter narrowed to the conversations created on one UTC day (YYYY-MM-DD) within
    [since, until)."""
    try:
        start = datetime.combine(datetime.strptime(key, "%Y-%m-%d").date(), time(), UTC)
    except ValueError as exc:
        raise ValidationError({"key": "must be a day like 2026-11-01"}) from exc
    return replace(flt, created_since=max(since, start),
                   created_until=min(until, start + timedelta(days=1)))


def backlog_filter(now: datetime, channel: str, age: int) -> ConversationFilter:
    """The conversations behind one count of the backlog counted at `now`: open, their
    customer waiting since within the age bucket AGES[age], on one channel ("all": any),
    who waits longest first."""
    if not 0 <= age < len(AGES):
        raise ValidationError({"age": f"must be a whole number from 0 to {len(AGES) - 1}"})
    younger, older = (AGES[age - 1][1] if age else None), AGES[age][1]
    return ConversationFilter(
        status=Status.OPEN, order="waiting",
        channel=None if channel == "all" else channel_of(channel, "channel"),
        awaiting_after=None if older is None else now - older,
        awaiting_before=None if younger is None else now - younger)


class Reports:
    def __init__(self, store: Store, sla: SlaPolicy) -> None:
        self.store, self.sla = store, sla

    async def sla_rows(self, since: datetime, until: datetime) -> tuple[SlaRow, ...]:
        """First responses of the care conversations created in [since, until): all, then
        per channel, agent and day."""
        return await self.store.sla_report(since, until)

    async def heatmap(self, since: datetime, until: datetime, zone: tzinfo) -> HeatMap:
        """The customers' own messages created in [since, until) by hour of the week in
        `zone` (the team's time zone), for staffing."""
        return fold_week(await self.store.inbound_hours(since, until), zone)

    async def hour_messages(self, hours: Sequence[datetime], cursor: str | None, limit: int
                            ) -> Page[Message]:
        """A page of the customers' messages behind one heat map cell (week_hours)."""
        return await self.store.hour_messages(hours, cursor, limit)

    async def resolution(self, since: datetime, until: datetime) -> ResolutionReport:
        """First-contact resolution and journey times of the conversations created in
        [since, until) (inbox.model.FcrRow, JourneyRow)."""
        return await self.store.resolution_report(since, until)

    async def drill(self, flt: ConversationFilter, cursor: str | None, limit: int
                    ) -> Page[Conversation]:
        """A page of the conversations behind a report's number (drill_filter), newest first."""
        return await self.store.list_conversations(flt, cursor, limit)

    async def resolution_ids(self, since: datetime, until: datetime, what: str, group: str,
                             key: str) -> list[str]:
        """The conversations behind one count of the resolution report (Store.resolution_ids):
        what "first_contact" of an FCR row (group all, channel or agent), or "journeys" of a
        journey row (key all or a channel): their first contacts. Newest first."""
        groups = {"first_contact": ("all", "channel", "agent"), "journeys": ("channel",)}
        if what not in groups:
            raise ValidationError({"measure": "must be one of " + ", ".join(groups)})
        if group not in groups[what]:
            raise ValidationError({"group": "must be one of " + ", ".join(groups[what])})
        if group == "channel" and key != "all":
            channel_of(key)
        return await self.store.resolution_ids(since, until, what, group, key)

    async def listed(self, ids: Sequence[str], cursor: str | None, limit: int
                     ) -> Page[Conversation]:
        """A page of the conversations behind a number listed as ids (CSAT, FCR, journeys):
        in the ids' order, the cursor the offset of the next page."""
        start = 0
        if cursor is not None:
            if not cursor.isdigit() or len(cursor) > 9:
                raise ValidationError({"cursor": "invalid cursor"})
            start = int(cursor)
        part = list(ids[start:start + limit])
        found = await self.store.conversations_by_ids(part)
        more = start + limit < len(ids)
        return Page(tuple(found[i] for i in part if i in found),
                    str(start + limit) if more else None)

    async def backlog(self, now: datetime) -> Backlog:
        """The open conversations waiting for an answer now (to the second: what a link to
        backlog_filter names), by channel and age (AGES)."""
        now = now.replace(microsecond=0)
        cutoffs = [now - age for _, age in AGES if age is not None]
        found = await self.store.backlog(cutoffs)
        channels = sorted({channel for channel, _ in found})
        return Backlog(tuple(label for label, _ in AGES), {
            channel: tuple(found.get((channel, k), 0) for k in range(len(AGES)))
            for channel in channels}, now)

    async def next_due(self, limit: int = 20) -> tuple[Conversation, ...]:
        """The running clocks that end first."""
        page = await self.store.list_conversations(ConversationFilter(order="due"), None, limit)
        return page.items
