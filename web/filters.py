"""Template filters: how pages write times, durations, counts and references."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from markupsafe import Markup

from inbox import analysis, mentions
from inbox.model import Conversation, Customer, utcnow
from inbox.sla import CHANNEL_NAMES


def total(count: int, capped: bool = False, noun: str | None = None) -> str:
    """How many messages match: "1,234", or past the count's cap "10,000+"; with a noun,
    "1 message", "2 messages", "10,000+ messages"."""
    text = f"{count:,}" + ("+" if capped else "")
    return text if noun is None else f"{text} {noun if count == 1 and not capped else noun + 's'}"


def hours(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def plural(count: int, noun: str, many: str | None = None) -> str:
    """'1 message', '2 messages', '1,200 messages' (`many`: an irregular plural)."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"


def relative(value: datetime, now: datetime) -> str:
    """'just now', '4 min ago', '3 h ago', 'yesterday', '5 days ago'; 'in 20 min' ahead."""
    seconds = (now - value).total_seconds()
    ahead, seconds = seconds < 0, abs(seconds)
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        amount = f"{max(1, round(seconds / 60))} min"
    elif seconds < 86400:
        amount = f"{round(seconds / 3600)} h"
    else:
        days = round(seconds / 86400)
        if days == 1:
            return "tomorrow" if ahead else "yesterday"
        amount = plural(days, "day") if days < 60 else plural(round(days / 30.4), "month")
    return f"in {amount}" if ahead else f"{amount} ago"


def zone_of(name: str | None, default: str = "UTC") -> ZoneInfo:
    """A time zone by name; the default for none or an unknown one."""
    for candidate in (name, default, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def local(value: datetime, zone: ZoneInfo) -> str:
    """The exact time in a zone: '2026-11-30 14:05 GMT'."""
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def user_zone(context: Any) -> ZoneInfo:
    """The signed-in agent's time zone (their setting), else the team's (the SLA calendar)."""
    user = context.get("user")
    return zone_of(getattr(user, "timezone", None), context.get("team_timezone") or "UTC")


@jinja2.pass_context
def ago(context: Any, value: datetime | None) -> Markup:
    """A relative time ('4 min ago') with the exact time in the agent's zone as its title."""
    if value is None:
        return Markup("")
    exact = local(value, user_zone(context))
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        value.isoformat(), exact, relative(value, utcnow()))


@jinja2.pass_context
def due(context: Any, value: datetime | None) -> Markup:
    """A reply deadline: 'reply due in 3 h', or 'overdue: the reply was due 2 days ago'."""
    if value is None:
        return Markup("")
    when = ago(context, value)
    if value <= utcnow():
        return Markup("overdue: the reply was due {}").format(when)
    return Markup("reply due {}").format(when)


@jinja2.pass_context
def iso_ago(context: Any, value: str | None) -> Markup:
    """`ago` of an ISO 8601 text (the times kept in documents: merges, audit)."""
    try:
        return ago(context, datetime.fromisoformat(value) if value else None)
    except ValueError:
        return Markup("")


_POLICY = re.compile(r",?\s*policy v\S*\s*$")


def basis(text: str | None) -> str:
    """A deadline's explanation as agents read it: without the policy's internal version
    (deadlines computed before it was dropped from the text still carry it)."""
    return _POLICY.sub("", text or "")


def reference(conv: Conversation | None) -> str:
    """What customers and agents call a conversation: '#10482' (never an internal id)."""
    return f"#{conv.ref}" if conv is not None and conv.ref else ""


def customer_name(customer: Customer | None) -> str:
    """A customer as agents call them: their name, else how one of their addresses or
    handles names them ("Ann <ann@example.com>"), never their internal id."""
    if customer is None:
        return "Customer"
    named = (i.label or i.value for i in customer.identities if i.label or i.value)
    return customer.name or next(named, "Unnamed customer")


def channel_name(channel: str) -> str:
    return CHANNEL_NAMES.get(str(channel), str(channel))


MAX_MARKED = 20  # words of a query marked in a text (a longer query marks its first)


def highlight(text: str | None, words: list[str] | None) -> Markup:
    """The text, escaped, with what was searched for in <mark>: each word the search finds
    by a query word (the same word, a word starting with it, or sharing its stem:
    "refunded" marks "refunds"), and each phrase where it stands as written."""
    text = text or ""
    wanted = [w for w in (words or [])[:MAX_MARKED] if w.strip()]
    phrases = sorted((w for w in wanted if len(list(analysis.spans(w))) > 1), key=len,
                     reverse=True)
    singles = [w for w in wanted if w not in phrases]
    found = frozenset().union(*map(analysis.forms, singles))
    starts = tuple(analysis.fold(analysis.normal(w)) for w in singles)
    marked = []
    if phrases:
        pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, phrases)) + ")",
                             re.IGNORECASE)
        marked += [m.span() for m in pattern.finditer(text)]
    if singles:
        for start, end in analysis.spans(text):
            word = text[start:end]
            if (analysis.fold(analysis.normal(word)).startswith(starts)
                    or found & analysis.forms(word)):
                marked.append((start, end))
    out, at = [], 0
    for start, end in sorted(marked):
        if start < at:
            continue  # inside a phrase marked already
        out += [Markup.escape(text[at:start]), Markup("<mark>%s</mark>") % text[start:end]]
        at = end
    out.append(Markup.escape(text[at:]))
    return Markup("").join(out)


def register(env: jinja2.Environment) -> None:
    """Every filter the templates use."""
    # `when` (every older template's time) reads as `ago`: relative, exact in the user's zone
    env.filters.update(when=ago, hours=hours, total=total, plural=plural, ago=ago, due=due,
                       iso_ago=iso_ago, basis=basis,
                       reference=reference, channel_name=channel_name,
                       customer_name=customer_name, mention_parts=mentions.segments,
                       highlight=highlight)
