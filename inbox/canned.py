"""Canned replies' variables: the text an agent inserts, filled in for one conversation.

A canned reply's text names variables in braces. Known ones are replaced by plain text:

- {customer_first_name}: the first word of the customer's name; "there" when they have no
  usable name (none, or an address or a handle), so "Hi {customer_first_name}," reads
  "Hi there,";
- {agent_name}: the agent's name; "The support team" when they have none (never their
  address);
- {expected_answer_time}: "by <the reply deadline in the team's zone>", e.g.
  "by Monday 30 November, 14:05 GMT"; "soon" when there is none or it has passed, so
  "We will answer {expected_answer_time}." always reads as a sentence;
- {reference}: the conversation's reference as customers know it, "#10482".

Anything else in braces (an unknown or misspelt variable) stays as typed, for the agent to
see and fix before sending; rendering never fails. Values are text, never markup: pages put
them in with textContent/autoescape, emails as plain text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

VARIABLES = ("customer_first_name", "agent_name", "expected_answer_time", "reference")
_VARIABLE = re.compile(r"\{([a-z_]{1,40})\}")
NO_NAME = "there"
NO_AGENT = "The support team"
NO_DEADLINE = "soon"
MAX_FIRST_NAME = 60


@dataclass(frozen=True, slots=True)
class Facts:
    """What the variables are made of, for one conversation and one agent."""

    customer_name: str | None
    agent_name: str | None
    due_at: datetime | None
    reference: int | None
    team_zone: ZoneInfo
    now: datetime


def first_name(name: str | None) -> str:
    """The first word of a name ("Ann Lee" -> "Ann", "Lee, Ann" -> "Ann"); "there" for no
    name or one that is an address or a handle."""
    text = " ".join((name or "").split())
    if "," in text:  # "Lee, Ann"
        text = text.split(",", 1)[1].strip() or text.split(",", 1)[0]
    word = text.split(" ", 1)[0].strip("\"'") if text else ""
    if not word or "@" in word or "://" in word:
        return NO_NAME
    return word[:MAX_FIRST_NAME]


def answer_time(due_at: datetime | None, zone: ZoneInfo, now: datetime) -> str:
    """'by Monday 30 November, 14:05 GMT' (the deadline in the team's zone), else 'soon'."""
    if due_at is None or due_at <= now:
        return NO_DEADLINE
    local = due_at.astimezone(zone)
    return f"by {local:%A} {local.day} {local:%B}, {local:%H:%M %Z}"


def values(facts: Facts) -> dict[str, str]:
    """Every variable's text for these facts."""
    return {
        "customer_first_name": first_name(facts.customer_name),
        "agent_name": " ".join((facts.agent_name or "").split()) or NO_AGENT,
        "expected_answer_time": answer_time(facts.due_at, facts.team_zone, facts.now),
        "reference": f"#{facts.reference}" if facts.reference else "",
    }


def render(text: str, filled: Mapping[str, str]) -> str:
    """The text with each known {variable} replaced; unknown ones stay as typed."""
    return _VARIABLE.sub(lambda m: filled.get(m.group(1), m.group(0)), text)
