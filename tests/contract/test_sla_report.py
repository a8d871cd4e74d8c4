"""The SLA report follows every change to the conversations, on every backend (the SQLite
store keeps the report's fields in memory between reports)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, timedelta

from inbox import csat
from inbox.collections import CSAT, CsatDoc
from inbox.model import Conversation, ConversationFilter, SlaRow
from inbox.sla import SlaPolicy
from inbox.store import Store, WriteBatch
from inbox.usecases.reports import Reports, backlog_filter, drill_filter
from tests.factories import at, conversation, customer


def _by_key(rows: tuple[SlaRow, ...]) -> dict[tuple[str, str], SlaRow]:
    return {(r.group, r.key): r for r in rows}


async def test_sla_report_follows_changes_made_after_a_report(store: Store) -> None:
    convs = [conversation(f"v{i}", "c1", "email" if i < 4 else "x", 3 + i % 2)
             for i in range(6)]
    await store.write(WriteBatch(customers=(customer("c1"),), conversations=tuple(convs)))
    before = _by_key(await store.sla_report(at(1), at(20)))
    assert before[("all", "all")].conversations == 6
    assert before[("all", "all")].answered == 0 and before[("all", "all")].p50 is None
    assert before[("agent", "unassigned")].conversations == 6

    answered = [replace(c, version=2, assignee="u1", first_response_seconds=60.0 * (i + 1),
                        first_response_breached=i == 3) for i, c in enumerate(convs[:4])]
    answered[0] = replace(answered[0], status="resolved", resolution_seconds=7200.0,
                          resolved_at=at(5))
    listening = replace(convs[4], version=2, status="listening")  # no longer care
    later = conversation("v9", "c1", "webform", 4, previous_id="v0", switched_channel=True,
                         first_response_seconds=30.0, first_response_breached=False)
    await store.write(WriteBatch(conversations=(*answered, listening, later)))
    after = _by_key(await store.sla_report(at(1), at(20)))

    overall = after[("all", "all")]
    assert (overall.conversations, overall.answered, overall.met) == (6, 5, 4)
    assert (overall.repeat, overall.switched, overall.resolved) == (1, 1, 1)
    assert overall.p50 == 120.0 and overall.resolution_p50 == 7200.0
    email = after[("channel", "email")]
    assert (email.answered, email.met, email.p50, email.p90) == (4, 3, 150.0, 222.0)
    assert after[("channel", "x")].conversations == 1
    assert after[("channel", "webform")].p50 == 30.0
    assert (after[("agent", "u1")].conversations, after[("agent", "u1")].answered) == (4, 4)
    assert after[("agent", "unassigned")].conversations == 2
    assert [r.key for r in await store.sla_report(at(1), at(20)) if r.group == "day"] == [
        "2026-11-03", "2026-11-04"]
    per_day = {r.key: (r.conversations, r.answered, r.met, r.p90)
               for r in after.values() if r.group == "channel_day"}  # the charts' lines
    assert per_day == {"2026-11-03 email": (2, 2, 2, 168.0), "2026-11-04 email": (2, 2, 1, 228.0),
                       "2026-11-04 webform": (1, 1, 1, 30.0), "2026-11-04 x": (1, 0, 0, None)}


async def _every(store: Store, flt: ConversationFilter) -> list[Conversation]:
    found, cursor = [], None
    while True:
        page = await store.list_conversations(flt, cursor, 2)  # small pages: the cursor too
        found += page.items
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


async def test_every_number_of_the_report_lists_the_conversations_behind_it(
        store: Store) -> None:
    """Drilling from a report's number (a row, and its answered / within target / missed /
    resolved / repeat contacts / channel switches counts) lists exactly those conversations,
    newest first, on every store."""
    convs = [conversation(f"d{i}", "c1", ("email", "x", "webform")[i % 3], 2 + i % 4,
                          assignee=("u1", None)[i % 2],
                          first_response_seconds=None if i % 5 == 0 else 60.0 * i,
                          first_response_breached=None if i % 5 == 0 else i % 3 == 0,
                          **({"status": "resolved", "resolved_at": at(7),
                              "resolution_seconds": 3600.0 * i} if i % 4 == 1 else {}),
                          previous_id="early" if i % 3 == 2 else None,
                          switched_channel=i % 6 == 2)
             for i in range(14)]
    convs.append(conversation("hit", "c1", "x", 3, status="listening"))  # not care
    convs.append(conversation("gone", "c1", "email", 3, status="merged"))
    convs.append(conversation("early", "c1", "email", 1))  # before the range
    await store.write(WriteBatch(customers=(customer("c1"),), conversations=tuple(convs)))
    since, until = at(2), at(6)
    rows = await store.sla_report(since, until)
    assert len(rows) > 6
    for row in rows:
        listed = await _every(store, drill_filter(since, until, row.group, row.key))
        assert len(listed) == row.conversations, row
        created = [c.created_at for c in listed]
        assert created == sorted(created, reverse=True)
        counts = {r: len(await _every(store, drill_filter(since, until, row.group, row.key, r)))
                  for r in ("answered", "met", "missed", "unanswered", "resolved", "repeat",
                            "switched")}
        assert (counts["answered"], counts["met"]) == (row.answered, row.met), row
        assert (counts["resolved"], counts["repeat"], counts["switched"]) == (
            row.resolved, row.repeat, row.switched), row
        assert counts["missed"] == row.answered - row.met
        assert counts["unanswered"] == row.conversations - row.answered


async def test_the_backlog_counts_who_waits_how_long_per_channel(store: Store) -> None:
    now = at(20)
    waits = {"w1": ("email", 0.5), "w2": ("email", 2), "w3": ("email", 2.5), "w4": ("x", 30),
             "w5": ("webform", 24 * 8), "w6": ("x", 4)}  # hours waited
    convs = [conversation(cid, "c1", channel, 1, awaiting_since=now - timedelta(hours=h))
             for cid, (channel, h) in waits.items()]
    convs += [conversation("answered", "c1", "email", 1),  # nobody waits
              conversation("later", "c1", "email", 1, status="pending",
                           awaiting_since=now - timedelta(hours=3)),  # waits on the customer
              conversation("hit", "c1", "x", 1, status="listening",
                           awaiting_since=now - timedelta(hours=3))]
    await store.write(WriteBatch(customers=(customer("c1"),), conversations=tuple(convs)))
    backlog = await Reports(store, SlaPolicy()).backlog(now)
    assert backlog.ages[0] == "under 1 h" and backlog.ages[-1] == "over 7 days"
    assert backlog.counts == {"email": (1, 2, 0, 0, 0, 0), "webform": (0, 0, 0, 0, 0, 1),
                              "x": (0, 1, 0, 1, 0, 0)}  # 4 h exactly is still "1-4 h"
    assert backlog.totals == (1, 3, 0, 1, 0, 1)
    for channel, counts in [*backlog.counts.items(), ("all", backlog.totals)]:
        for age, n in enumerate(counts):  # each cell lists who it counts, longest wait first
            listed = await _every(store, backlog_filter(backlog.at, channel, age))
            assert len(listed) == n, (channel, age)
            assert all(c.status == "open" and channel in ("all", c.channel) for c in listed)
            assert [c.awaiting_since for c in listed] == sorted(
                c.awaiting_since for c in listed if c.awaiting_since)
    assert {c.id for c in await _every(store, backlog_filter(now, "email", 1))} == {"w2", "w3"}


async def test_every_csat_count_lists_the_conversations_behind_it(store: Store) -> None:
    """Surveys sent, responses and satisfied, per row of the CSAT report, list exactly their
    conversations (the report's own rule: sent surveys of conversations resolved in the
    range), the latest resolution first."""
    channels, scores = ("email", "x", "webform"), (None, 5, 4, 2, 3, None, 1, 4)
    convs = [conversation(f"s{i}", "c1", channels[i % 3], 2 + i % 3, status="resolved")
             for i in range(len(scores) + 2)]
    await store.write(WriteBatch(customers=(customer("c1"),), conversations=tuple(convs)))
    surveys = store.collection(CSAT)
    for i, conv in enumerate(convs):
        sent = i < len(scores)  # the last two: not sent (queued, skipped)
        await surveys.put(conv.id, CsatDoc(
            state="sent" if sent else "queued", channel=conv.channel,
            assignee=("u1", None)[i % 2], resolved_at=at(2 + i % 4, hour=1 + i).isoformat(),
            due=at(2).isoformat(), sent_at=at(2).isoformat() if sent else None,
            expires_at=None, message_id=None, reason=None,
            score=scores[i] if sent else None, comment=None, answered_at=None, alerted=False))
    docs = [(cid, doc) for cid, doc in await surveys.list(None, 100)]
    since, until = at(3, hour=0), at(6, hour=0)  # the first day's resolutions left out
    rows = csat.summarize((d for _, d in docs), since, until, UTC)
    assert rows[0].group == "all" and (rows[0].sent, rows[0].responses) == (6, 5)
    reports = Reports(store, SlaPolicy())
    for row in rows:
        for measure, count in (("sent", row.sent), ("responses", row.responses),
                               ("satisfied", row.satisfied)):
            ids = csat.behind(docs, since, until, UTC, row.group, row.key, measure)
            assert len(ids) == count, (row, measure)
            listed, cursor = [], None
            while True:  # small pages: the cursor too
                page = await reports.listed(ids, cursor, 2)
                listed += page.items
                if (cursor := page.next_cursor) is None:
                    break
            assert [c.id for c in listed] == ids
            resolved = [next(d for c, d in docs if c == cid)["resolved_at"] for cid in ids]
            assert resolved == sorted(resolved, reverse=True)
