"""First-contact resolution and journey times from conversations' columns (numpy), one
computation for both stores: the SQLite store passes the columns it keeps in memory
(search.sqlite_sla.SlaFacts), the Elasticsearch store the conversations it reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from inbox.ingest import REPEAT_WINDOW
from inbox.model import FcrRow, JourneyRow, ResolutionReport
from search.percentiles import interpolate

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Codes = npt.NDArray[np.int32]
Flags = npt.NDArray[np.bool_]
WINDOW = REPEAT_WINDOW.total_seconds()  # a repeat contact this soon after a resolution
_DEPTH = 64  # links followed at most to a chain's first contact (stops a cycle)


@dataclass(frozen=True)
class Chains:
    """Conversations as columns, one slot each; slots that are no conversation are not care."""

    created: Floats  # epoch seconds
    resolved: Floats  # resolved_at, epoch seconds; NaN: not resolved
    parent: Ints  # the slot of the previous conversation (previous_id); -1: none or unknown
    repeat: Flags  # has a previous conversation (previous_id), known here or not
    care: Flags  # a conversation, neither a listening hit nor merged away
    channel: Codes
    channels: list[str]
    agent: Codes  # the assignee
    agents: list[str]


def resolution_report(c: Chains, in_range: Flags) -> ResolutionReport:
    """FCR of the care conversations created in the report's range (`in_range`) and resolved,
    and the journey times of the first contacts created then (inbox.model.FcrRow,
    JourneyRow)."""
    picked = c.care & in_range
    return ResolutionReport(_fcr(c, picked), _journeys(c, picked))


def _fcr(c: Chains, picked: Flags) -> tuple[FcrRow, ...]:
    resolved, first = _first_contacts(c, picked)
    rows = [FcrRow("all", "all", len(resolved), int(first.sum()))]
    for group, codes, names in (("channel", c.channel, c.channels),
                                ("agent", c.agent, c.agents)):
        keys = codes[resolved].astype(np.intp)
        total = np.bincount(keys, minlength=len(names))
        firsts = np.bincount(keys, weights=first, minlength=len(names))
        rows += [FcrRow(group, names[k], int(total[k]), int(firsts[k]))
                 for k in sorted(np.flatnonzero(total).tolist(), key=names.__getitem__)]
    return tuple(rows)


def _first_contacts(c: Chains, picked: Flags) -> tuple[Ints, Flags]:
    """The picked resolved slots, and which of them were resolved at the first contact (no
    repeat contact within WINDOW of their resolution)."""
    child = np.flatnonzero(c.care & (c.parent >= 0))
    parent = c.parent[child]
    with np.errstate(invalid="ignore"):  # NaN (unresolved) compares False
        soon = c.created[child] < c.resolved[parent] + WINDOW
    repeated = np.zeros(len(c.care), bool)
    repeated[parent[soon]] = True
    resolved = np.flatnonzero(picked & ~np.isnan(c.resolved))
    return resolved, ~repeated[resolved]


def _journeys(c: Chains, picked: Flags) -> tuple[JourneyRow, ...]:
    done, seconds = _journey_times(c, picked)
    channel = c.channel[done]
    rows = [_journey("all", seconds)]
    rows += [_journey(c.channels[k], seconds[channel == k])
             for k in sorted(np.unique(channel).tolist(), key=c.channels.__getitem__)]
    return tuple(rows)


def _journey_times(c: Chains, picked: Flags) -> tuple[Ints, Floats]:
    """The picked first contacts whose chain is all resolved, and their journey times."""
    slots = np.arange(len(c.care))
    up = np.where(c.care & (c.parent >= 0), c.parent, slots)
    for _ in range(_DEPTH):  # pointer jumping: every slot to its chain's first contact
        nxt = up[up]
        if np.array_equal(nxt, up):
            break
        up = nxt
    first = picked & ~c.repeat  # first contacts in the range
    member = np.flatnonzero(c.care & first[up])
    root = up[member]
    unresolved = np.zeros(len(c.care), bool)
    unresolved[root[np.isnan(c.resolved[member])]] = True
    last = np.full(len(c.care), -np.inf)
    np.fmax.at(last, root, c.resolved[member])
    done = np.flatnonzero(first & ~unresolved)
    return done, last[done] - c.created[done]


RESOLUTION_COUNTS = ("first_contact", "journeys")  # what resolution_slots lists


def resolution_slots(c: Chains, in_range: Flags, what: str, group: str, key: str) -> Ints:
    """The slots behind one count of resolution_report, the newest first: `first_contact`
    of an FCR row (group all, channel or agent), or the `journeys` of a journey row (group
    channel, key "all" or a channel): their first contacts."""
    picked = c.care & in_range
    if what == "first_contact":
        resolved, first = _first_contacts(c, picked)
        slots = resolved[first]
    else:
        slots, _ = _journey_times(c, picked)
    if key != "all":
        codes, names = (c.agent, c.agents) if group == "agent" else (c.channel, c.channels)
        slots = slots[codes[slots] == names.index(key)] if key in names else slots[:0]
    return slots[np.argsort(-c.created[slots], kind="stable")]


def _journey(channel: str, seconds: Floats) -> JourneyRow:
    ordered = np.sort(seconds)
    return JourneyRow(channel, len(ordered), interpolate(ordered, 0.5), interpolate(ordered, 0.9))


def encode(names: list[str], codes: dict[str, int], values: list[str]) -> list[int]:
    """Values as small integer codes, new ones appended to `names`."""
    for value in dict.fromkeys(values):
        if value not in codes:
            codes[value] = len(names)
            names.append(value)
    return [codes[v] for v in values]


def from_rows(rows: list[dict[str, Any]], since: datetime, until: datetime
              ) -> tuple[Chains, Flags]:
    """Columns of conversations as plain fields (id, previous_id, created_at, resolved_at as
    datetimes or None, channel, assignee), every one care, and which were created in
    [since, until)."""
    in_range = np.array([since <= r["created_at"] < until for r in rows], bool)
    slot = {row["id"]: k for k, row in enumerate(rows)}
    channels: list[str] = []
    agents: list[str] = []
    return Chains(
        created=np.array([r["created_at"].timestamp() for r in rows], np.float64),
        resolved=np.array([r["resolved_at"].timestamp() if r["resolved_at"] else np.nan
                           for r in rows], np.float64),
        parent=np.array([slot.get(r["previous_id"] or "", -1) for r in rows], np.int64),
        repeat=np.array([bool(r["previous_id"]) for r in rows], bool),
        care=np.ones(len(rows), bool),
        channel=np.array(encode(channels, {}, [r["channel"] for r in rows]), np.int32),
        channels=channels,
        agent=np.array(encode(agents, {}, [r["assignee"] or "unassigned" for r in rows]),
                       np.int32),
        agents=agents), in_range
