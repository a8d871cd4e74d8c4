"""Business calendars and response-time targets: pure functions, no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from inbox.errors import ConfigError
from inbox.model import PRIORITIES, Conversation, Status, evolve
from inbox.normalize import storable_time

CHANNEL_NAMES = {"email": "Email", "x": "X", "webform": "Web form"}  # as agents read them
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Period = tuple[time, time]
PERIODS_KEPT = 20_000  # days of opening periods a calendar keeps (about 55 years)


def _country_holidays(country: str) -> Any:
    """A country's public holidays; the holidays package (9 MB of every country's rules) is
    loaded only when a calendar names a country."""
    import holidays

    return holidays.country_holidays(country)


@dataclass(frozen=True)
class Calendar:
    timezone: str = "UTC"
    hours: tuple[tuple[Period, ...], ...] = tuple(
        ((time(9), time(17)),) if d < 5 else () for d in range(7))
    country: str | None = None  # public holidays of this country (holidays package)
    extra_holidays: frozenset[date] = frozenset()

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _holidays(self) -> Any:
        return _country_holidays(self.country) if self.country else {}

    def is_holiday(self, day: date) -> bool:
        return day in self.extra_holidays or day in self._holidays

    def periods(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The day's opening periods as instants (none on a holiday), computed once per day:
        every customer message's deadline and every report's business time reads them."""
        found = self._periods.get(day)
        if found is None:
            if len(self._periods) >= PERIODS_KEPT:
                self._periods.clear()
            found = self._periods[day] = () if self.is_holiday(day) else tuple(
                (datetime.combine(day, s, self.zone), datetime.combine(day, e, self.zone))
                for s, e in self.hours[day.weekday()])
        return found

    @cached_property
    def _periods(self) -> dict[date, tuple[tuple[datetime, datetime], ...]]:
        return {}

    def describe(self) -> str:
        return self._description

    @cached_property
    def _description(self) -> str:
        """'Mon-Fri 09:00-17:00, Sat 10:00-14:00 (Europe/London, holidays of GB)': runs of
        days with the same hours together, as people write opening hours."""
        runs: list[tuple[int, int, str]] = []  # (first day, last day, hours)
        for day, periods in enumerate(self.hours):
            if not periods:
                continue
            text = ", ".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in periods)
            if runs and runs[-1][1] == day - 1 and runs[-1][2] == text:
                runs[-1] = (runs[-1][0], day, text)
            else:
                runs.append((day, day, text))
        names = [DAYS[a].title() if a == b else f"{DAYS[a].title()}-{DAYS[b].title()}"
                 for a, b, _ in runs]
        open_days = [f"{name} {text}" for name, (_, _, text) in zip(names, runs, strict=True)]
        extra = f", holidays of {self.country}" if self.country else ""
        return f"{'; '.join(open_days) or 'never open'} ({self.timezone}{extra})"


@dataclass(frozen=True)
class Target:
    duration: timedelta
    business_hours: bool  # False: calendar time, 24/7


@dataclass(frozen=True)
class SlaPolicy:
    calendar: Calendar = field(default_factory=Calendar)
    targets: Mapping[str, Target] = field(default_factory=lambda: {
        "x": Target(timedelta(hours=1), business_hours=False),
        "email": Target(timedelta(hours=8), business_hours=True),
        "webform": Target(timedelta(hours=8), business_hours=True),
    })
    at_risk: float = 0.75  # fraction of the target elapsed that counts as at risk
    version: str = "1"
    # Targets of the responses after the first ([sla.next_targets], same keys); a key
    # without one keeps its first-response target
    next_targets: Mapping[str, Target] = field(default_factory=dict)

    def target(self, channel: str, priority: str | None = None, later: bool = False
               ) -> Target | None:
        """The response target of a channel's conversations of this priority: its own
        ("email.urgent" in [sla.targets]) or else the channel's ("email"). `later`: of a
        response after the first, [sla.next_targets] first at each of those keys."""
        return self._keyed(channel, priority, later)[1]

    def _keyed(self, channel: str, priority: str | None, later: bool
               ) -> tuple[str, Target | None]:
        """The key that applies ("email.urgent" or "email") and its target: at each key,
        when `later`, the next-response one first."""
        keys = (f"{channel}.{priority}", channel) if priority is not None else (channel,)
        for key in keys:
            if later and key in self.next_targets:
                return key, self.next_targets[key]
            if key in self.targets:
                return key, self.targets[key]
        return channel, None

    def due(self, channel: str, started: datetime, priority: str | None = None,
            later: bool = False) -> tuple[datetime, str] | None:
        """When a response clock started at `started` breaches, and how that was computed
        (`later`: a clock after the first response, due by the next-response target)."""
        target = self.target(channel, priority, later)
        if target is None:
            return None
        due_at = self._add(target, started, target.duration)
        if not storable_time(due_at):  # one rule for every store (inbox.normalize)
            raise ValueError(f"no deadline after {started.isoformat()}: {due_at.isoformat()} "
                             "is beyond the dates the stores hold")
        head, tail = self._basis(channel, priority, later, target)
        return due_at, f"{head}{started.isoformat(' ', 'minutes')[:16]}{tail}"

    def _basis(self, channel: str, priority: str | None, later: bool, target: Target
               ) -> tuple[str, str]:
        """The text around the start of a deadline's explanation (made once per target)."""
        key = self._keyed(channel, priority, later)[0]
        found = self._bases.get((key, later))
        if found is None:
            how = (f"business hours only ({self.calendar.describe()})"
                   if target.business_hours else "round the clock (24/7)")
            which = CHANNEL_NAMES.get(channel, channel) + (
                f" {priority}-priority" if key != channel else "")
            replies = "next replies" if later else "replies"
            found = self._bases[(key, later)] = (  # shown to agents: no internal terms
                f"{which} {replies} are due within {_fmt(target.duration)}, counted {how}, "
                "from ", " UTC")
        return found

    @cached_property
    def _bases(self) -> dict[tuple[str, bool], tuple[str, str]]:
        return {}

    def after(self, channel: str, start: datetime, duration: timedelta,
              priority: str | None = None, later: bool = False) -> datetime:
        """The instant `duration` after `start` as the channel's target counts time (the
        inverse of `elapsed`); ValueError past what a datetime holds."""
        return self._add(self.target(channel, priority, later), start, duration)

    def _add(self, target: Target | None, start: datetime, duration: timedelta) -> datetime:
        if target is not None and target.business_hours:
            return add_business_time(start, duration, self.calendar)
        try:
            return start + duration
        except OverflowError as exc:
            raise ValueError(f"no deadline after {start.isoformat()}") from exc

    def elapsed(self, channel: str, start: datetime, end: datetime,
                priority: str | None = None, later: bool = False) -> float:
        """Seconds between two instants as the channel's target counts them."""
        target = self.target(channel, priority, later)
        if target is not None and target.business_hours:
            return business_time_between(start, end, self.calendar).total_seconds()
        return max(0.0, (end - start).total_seconds())

    def state(self, conv: Conversation, now: datetime) -> str | None:
        """ok | at_risk | breached for a running clock; None when nothing is awaited."""
        if conv.due_at is None:
            return None
        if now >= conv.due_at:
            return "breached"
        later = conv.first_response_at is not None
        target = self.target(conv.channel, conv.priority, later)
        started = conv.awaiting_since or conv.created_at
        if target is not None and self.elapsed(conv.channel, started, now, conv.priority,
                                               later) >= \
                self.at_risk * target.duration.total_seconds():
            return "at_risk"
        return "ok"

    # --- Clock transitions: the one place a response clock starts or stops -------------

    def customer_wrote(self, conv: Conversation, at: datetime, **changes: Any) -> Conversation:
        """A customer message at `at` on an open conversation: the clock starts, unless one
        already runs (it keeps counting from the oldest unanswered message). `changes` are
        the message's other changes to the conversation, made in the same copy; a change of
        status (a customer answer reopens) goes through moved()."""
        status = changes.pop("status", conv.status)
        if status != conv.status:
            conv, changes = self.moved(evolve(conv, **changes), status, at), {}

        def changed(name: str) -> Any:  # the field as the copy will hold it
            return changes[name] if name in changes else getattr(conv, name)

        if status == Status.OPEN and changed("awaiting_since") is None:  # one copy for both
            changes.update(self._clock(changed("channel"), at, changed("priority"),
                                       changed("first_response_at") is not None))
        return evolve(conv, **changes) if changes else conv

    def answered(self, conv: Conversation, at: datetime) -> Conversation:
        """The conversation answered at `at`: first-response figures set once; a later
        answer to a running clock is a next response (next_response_*); clock stopped."""
        started = conv.awaiting_since or conv.created_at
        if conv.first_response_at is None:
            conv = evolve(conv, first_response_at=at,
                          first_response_seconds=self.elapsed(conv.channel, started, at,
                                                              conv.priority),
                          first_response_breached=conv.due_at is not None and at > conv.due_at)
        elif conv.awaiting_since is not None:
            missed = conv.due_at is not None and at > conv.due_at
            conv = evolve(
                conv, next_response_at=(*conv.next_response_at, at),
                next_response_seconds=(*conv.next_response_seconds, self.elapsed(
                    conv.channel, started, at, conv.priority, later=True)),
                next_response_missed=(*conv.next_response_missed, at) if missed
                else conv.next_response_missed)
        return evolve(conv, awaiting_since=None, due_at=None, due_basis=None)

    def resolved(self, conv: Conversation, at: datetime) -> Conversation:
        """The conversation resolved at `at`: every clock stops, time to resolution kept
        (from its creation, less the time it waited on the customer: paused_seconds)."""
        return self.moved(conv, Status.RESOLVED, at)

    def moved(self, conv: Conversation, status: Status, at: datetime) -> Conversation:
        """The conversation's status changed to `status` at `at`: the one place a status
        changes. Pending (waiting on the customer) pauses the resolution clock: entering
        it notes when, leaving it adds the time paused (in the policy's time, business
        hours or 24/7) to paused_seconds. Resolved stops every clock and keeps the time to
        resolution; a merged conversation stops its clocks too."""
        if conv.pending_since is not None and status != Status.PENDING:
            conv = evolve(conv, pending_since=None, paused_seconds=conv.paused_seconds + \
                          self.elapsed(conv.channel, conv.pending_since, at, conv.priority))
        elif status == Status.PENDING and conv.pending_since is None:
            conv = evolve(conv, pending_since=at)
        if status == Status.RESOLVED:
            worked = self.elapsed(conv.channel, conv.created_at, at, conv.priority)
            return evolve(conv, status=status, awaiting_since=None, due_at=None,
                          due_basis=None, resolved_at=at,
                          resolution_seconds=max(0.0, worked - conv.paused_seconds))
        if status == Status.MERGED:
            conv = evolve(conv, awaiting_since=None, due_at=None, due_basis=None)
        return evolve(conv, status=status)

    def reply_rejected(self, conv: Conversation, waiting_since: datetime,
                       failed_at: datetime) -> Conversation:
        """A reply sent at `failed_at` was rejected: the customer got nothing, so the clock
        runs again from `waiting_since` (the first customer message it answered), and a
        first or next response that was this reply is forgotten."""
        if conv.first_response_at == failed_at:
            conv = evolve(conv, first_response_at=None, first_response_seconds=None,
                          first_response_breached=None)
        elif failed_at in conv.next_response_at:
            n = len(conv.next_response_at) - 1 - conv.next_response_at[::-1].index(failed_at)
            missed = list(conv.next_response_missed)
            if failed_at in missed:
                missed.remove(failed_at)
            conv = evolve(
                conv, next_response_at=conv.next_response_at[:n] + conv.next_response_at[n + 1:],
                next_response_seconds=(conv.next_response_seconds[:n]
                                       + conv.next_response_seconds[n + 1:]),
                next_response_missed=tuple(missed))
        return self._waiting(conv, waiting_since)

    def reprioritized(self, conv: Conversation) -> Conversation:
        """The conversation at its (new) priority: a running clock keeps its start and is
        due by the target of that priority (an urgent one sooner)."""
        if conv.awaiting_since is None or conv.due_at is None:
            return conv
        return self._waiting(conv, conv.awaiting_since)

    def _waiting(self, conv: Conversation, since: datetime) -> Conversation:
        return evolve(conv, **self._clock(conv.channel, since, conv.priority,
                                          conv.first_response_at is not None))

    def _clock(self, channel: str, since: datetime, priority: str | None = None,
               later: bool = False) -> dict[str, Any]:
        """The fields of a response clock started at `since` (`later`: after the first
        response, due by the next-response target)."""
        due = self.due(channel, since, priority, later)
        return {"awaiting_since": since, "due_at": due[0] if due else None,
                "due_basis": due[1] if due else None}


def _fmt(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"


def add_business_time(start: datetime, duration: timedelta, cal: Calendar) -> datetime:
    """The instant `duration` of opening hours after `start` (never earlier than start).

    ValueError when that instant is past what a datetime holds (a start near year 9999)."""
    try:
        return _add_business_time(start, duration, cal)
    except OverflowError as exc:
        raise ValueError(f"no deadline after {start.isoformat()}: beyond the calendar's "
                         "range") from exc


def _add_business_time(start: datetime, duration: timedelta, cal: Calendar) -> datetime:
    remaining = duration
    local = start.astimezone(cal.zone)
    day = local.date()
    for _ in range(800):  # more than two years of closed days means a broken calendar
        for opens, closes in cal.periods(day):
            begin = max(opens, local)
            if begin >= closes:
                continue
            if begin + remaining <= closes:
                return (begin + remaining).astimezone(start.tzinfo)
            remaining -= closes - begin
        day += timedelta(days=1)
    raise ConfigError("sla.hours", "the calendar has no opening hours; add some")


def business_time_between(start: datetime, end: datetime, cal: Calendar) -> timedelta:
    """Opening hours elapsed between two instants."""
    if end <= start:
        return timedelta(0)
    total = timedelta(0)
    day = start.astimezone(cal.zone).date()
    last = end.astimezone(cal.zone).date()
    while day <= last:
        for opens, closes in cal.periods(day):
            lo, hi = max(opens, start), min(closes, end)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total


_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$")
_PERIOD = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def parse_duration(key: str, text: str) -> timedelta:
    match = _DURATION.match(str(text))
    if not match or not any(match.groups()):
        raise ConfigError(key, f"'{text}' is not a duration; write e.g. \"8h\", \"30m\", \"1d\"")
    d, h, m = (int(g or 0) for g in match.groups())
    return timedelta(days=d, hours=h, minutes=m)


def policy_from_config(section: Mapping[str, Any]) -> SlaPolicy:
    """[sla] timezone, country, holidays, hours.{mon..sun}, targets.{channel}, calendar_time."""
    default = SlaPolicy()
    tz = str(section.get("timezone", "UTC"))
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError("sla.timezone", f"unknown time zone '{tz}'; use an IANA name such "
                          "as \"Europe/London\"") from exc
    hours = list(default.calendar.hours)
    for name, periods in dict(section.get("hours", {})).items():
        if name not in DAYS:
            raise ConfigError(f"sla.hours.{name}", f"unknown day; use one of {', '.join(DAYS)}")
        parsed = []
        for text in periods:
            m = _PERIOD.match(str(text))
            if not m:
                raise ConfigError(f"sla.hours.{name}", f"'{text}' should look like \"09:00-17:00\"")
            a, b = time(int(m[1]), int(m[2])), time(int(m[3]) % 24, int(m[4]))
            if b <= a:
                raise ConfigError(f"sla.hours.{name}", f"'{text}' closes before it opens")
            parsed.append((a, b))
        hours[DAYS.index(name)] = tuple(parsed)
    country = section.get("country")
    if country:
        try:
            _country_holidays(str(country))
        except NotImplementedError as exc:
            raise ConfigError("sla.country", f"no holiday calendar for '{country}'; use an "
                              "ISO country code such as \"GB\" or \"US\"") from exc
    extra = frozenset(date.fromisoformat(str(d)) for d in section.get("holidays", ()))
    calendar = Calendar(tz, tuple(hours), str(country) if country else None, extra)
    round_the_clock = set(section.get("calendar_time", ["x"]))
    targets = {**default.targets, **_targets(section, "targets", round_the_clock)}
    return SlaPolicy(calendar, targets, float(section.get("at_risk", default.at_risk)),
                     str(section.get("version", default.version)),
                     _targets(section, "next_targets", round_the_clock))


def _targets(section: Mapping[str, Any], name: str, round_the_clock: set[str]
             ) -> dict[str, Target]:
    """[sla.targets] or [sla.next_targets]: "email" = "8h", "email.urgent" = "1h"."""
    targets = {}
    for key, text in dict(section.get(name, {})).items():
        channel, _, priority = str(key).partition(".")
        if priority and priority not in PRIORITIES:
            raise ConfigError(f"sla.{name}.{key}", f"unknown priority '{priority}'; use "
                              f"{channel}.<priority> with one of {', '.join(PRIORITIES)}")
        targets[key] = Target(parse_duration(f"sla.{name}.{key}", text),
                              business_hours=channel not in round_the_clock)
    return targets
