"""The SQLite store's SLA report keeps the report's fields in memory and catches up from the
sla_log table: it must answer exactly as a fresh read of the file, whichever process wrote
the changes, however far behind it is, and on a store upgraded from the schema before it."""

from __future__ import annotations

import random
import sqlite3
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from inbox.model import Conversation, SlaRow
from inbox.store import WriteBatch
from search.sqlite import SqliteStore
from search.sqlite_schema import MIGRATIONS, SCHEMA_VERSION, SLA_LOG
from tests.factories import at, conversation, customer
from tests.schema_history import TO_SCHEMA_4, reopened_at

SINCE, UNTIL = at(1), at(28)

# The schema before the SLA report's change log.
SLA_LOG_VERSION = next(v for v, script in MIGRATIONS.items() if script is SLA_LOG)
DOWNGRADE = TO_SCHEMA_4 + f"DROP TABLE sla_log; PRAGMA user_version={SLA_LOG_VERSION - 1};"


async def _fresh_report(path: Path, since: datetime = SINCE, until: datetime = UNTIL
                        ) -> tuple[SlaRow, ...]:
    """The report of a store that reads the whole file (nothing in memory yet)."""
    store = SqliteStore(path)
    await store.open()
    try:
        return await store.sla_report(since, until)
    finally:
        await store.aclose()


def _seeded(n: int) -> list[Conversation]:
    return [conversation(f"v{i:03d}", "c1", ("email", "x", "webform")[i % 3], 1 + i % 27,
                         assignee=f"u{i % 4}" if i % 5 else None,
                         first_response_seconds=float(i * 37 % 1000) if i % 3 else None,
                         first_response_breached=i % 7 == 0 if i % 3 else None,
                         previous_id="v000" if i % 11 == 0 else None,
                         switched_channel=i % 22 == 0 if i % 11 == 0 else None)
            for i in range(n)]


def _changed(conv: Conversation, rng: random.Random) -> Conversation:
    """One agent action or status change, as the product makes them."""
    roll = rng.random()
    if roll < 0.3:
        conv = replace(conv, assignee=rng.choice(["u1", "u2", "u9", None]))
    elif roll < 0.55:
        conv = replace(conv, first_response_seconds=rng.uniform(1, 90_000),
                       first_response_breached=rng.random() < 0.2)
    elif roll < 0.75:
        conv = replace(conv, status="resolved", resolution_seconds=rng.uniform(60, 900_000))
    elif roll < 0.85:
        conv = replace(conv, status=rng.choice(["listening", "open", "pending"]))
    else:
        conv = replace(conv, previous_id=rng.choice([None, "v001"]),
                       switched_channel=rng.choice([None, True, False]))
    return replace(conv, version=conv.version + 1)


async def test_a_report_after_many_changes_answers_as_a_fresh_read(tmp_path: Path) -> None:
    path = tmp_path / "inbox.db"
    store = SqliteStore(path)
    await store.open()
    rng = random.Random(10)
    convs = {c.id: c for c in _seeded(150)}
    await store.write(WriteBatch(customers=(customer("c1"),), conversations=tuple(
        convs.values())))
    try:
        for day in range(5):
            assert await store.sla_report(SINCE, UNTIL) == await _fresh_report(path)
            changed = [_changed(convs[vid], rng) for vid in rng.sample(sorted(convs), 40)]
            added = [conversation(f"n{day}-{i}", "c1", "x", 1 + (day + i) % 27,
                                  assignee="u7", first_response_seconds=float(i))
                     for i in range(10)]
            await store.write(WriteBatch(conversations=(*changed, *added)))
            convs.update({c.id: c for c in (*changed, *added)})
        rows = await store.sla_report(SINCE, UNTIL)
        assert rows == await _fresh_report(path)
        assert rows[0].conversations == sum(c.status != "listening" for c in convs.values())
        week = (at(3), at(10))  # any range, not only the one read before
        assert await store.sla_report(*week) == await _fresh_report(path, *week)
    finally:
        await store.aclose()


async def test_a_report_sees_what_another_process_wrote(tmp_path: Path) -> None:
    path = tmp_path / "inbox.db"
    ours, theirs = SqliteStore(path), SqliteStore(path)
    await ours.open()
    await theirs.open()
    try:
        convs = _seeded(30)
        await ours.write(WriteBatch(customers=(customer("c1"),), conversations=tuple(convs)))
        assert (await ours.sla_report(SINCE, UNTIL))[0].answered == 20
        await theirs.write(WriteBatch(conversations=(
            replace(convs[0], version=2, first_response_seconds=5.0, assignee="u8"),)))
        rows = {(r.group, r.key): r for r in await ours.sla_report(SINCE, UNTIL)}
        assert (rows[("all", "all")].conversations, rows[("all", "all")].answered) == (30, 21)
        assert rows[("agent", "u8")].p50 == 5.0
        assert tuple(rows.values()) == await _fresh_report(path)
    finally:
        await ours.aclose()
        await theirs.aclose()


async def test_a_report_behind_a_pruned_log_reads_everything_again(tmp_path: Path) -> None:
    path = tmp_path / "inbox.db"
    store = SqliteStore(path)
    await store.open()
    try:
        convs = _seeded(40)
        await store.write(WriteBatch(customers=(customer("c1"),), conversations=tuple(convs)))
        await store.sla_report(SINCE, UNTIL)
        await store.write(WriteBatch(conversations=tuple(
            replace(c, version=2, status="resolved", resolution_seconds=600.0)
            for c in convs[:10])))
        with sqlite3.connect(path) as conn:  # as the trigger prunes the oldest changes
            conn.execute("DELETE FROM sla_log WHERE seq < (SELECT max(seq) FROM sla_log)")
        rows = await store.sla_report(SINCE, UNTIL)
        assert rows[0].resolved == 10 and rows[0].resolution_p50 == 600.0
        assert rows == await _fresh_report(path)
    finally:
        await store.aclose()


async def test_a_store_from_before_the_log_upgrades_in_place_with_the_same_report(tmp_path: Path
                                                                        ) -> None:
    path = tmp_path / "inbox.db"
    store = SqliteStore(path)
    await store.open()
    convs = _seeded(60)
    await store.write(WriteBatch(customers=(customer("c1"),), conversations=tuple(convs)))
    before = await store.sla_report(SINCE, UNTIL)
    store = await reopened_at(store, DOWNGRADE)
    try:
        assert await store.sla_report(SINCE, UNTIL) == before
        await store.write(WriteBatch(conversations=(
            replace(convs[1], version=2, first_response_seconds=None, assignee="u5"),)))
        rows = {(r.group, r.key): r for r in await store.sla_report(SINCE, UNTIL)}
        assert rows[("all", "all")].answered == before[0].answered - 1
        assert rows[("agent", "u5")].conversations == 1
    finally:
        await store.aclose()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
