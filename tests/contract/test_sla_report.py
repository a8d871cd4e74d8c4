"""The SLA report follows every change to the conversations, on every backend (the SQLite
store keeps the report's fields in memory between reports)."""

from __future__ import annotations

from dataclasses import replace

from inbox.model import SlaRow
from inbox.store import Store, WriteBatch
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
