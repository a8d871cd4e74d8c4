"""What changed since an agent's version, in the words the 409 shows."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from inbox import auth, changes
from inbox.model import User, utcnow
from inbox.store import WriteBatch
from search.sqlite import SqliteStore
from tests.factories import conversation, customer, message

DANA = User("u-dana", "dana@example.com", "agent", "-", name="Dana")
SAM = User("u-sam", "sam@example.com", "agent", "-", name="Sam")


async def test_changes_since_a_version_in_words(sqlite_store: SqliteStore) -> None:
    now = utcnow()
    conv = replace(conversation("v1", "c1"), updated_at=now - timedelta(minutes=10))
    await sqlite_store.write(WriteBatch(customers=(customer("c1"),), conversations=(conv,)))
    seen = await auth.add_user(sqlite_store, "lee@example.com", "agent", "correct horse battery")
    steps = [(DANA, "assign", {"assignee": seen.id}, 300), (SAM, "status",
             {"status": "resolved"}, 180), (DANA, "reply", {"status": None}, 12)]
    for number, (actor, action, detail, before) in enumerate(steps, start=2):
        version = replace(conv, version=number, updated_at=now - timedelta(seconds=before))
        await sqlite_store.write(WriteBatch(documents=(
            changes.entry(version, actor, action, detail),)))
    wrote = message("e2", "v1", "c1", "still broken", now - timedelta(seconds=5))
    await sqlite_store.write(WriteBatch(messages=(wrote,)))
    current = replace(conv, version=5)  # version 5: the customer's message, by ingest

    assert await changes.since(sqlite_store, current, 1, seen, now) == [
        "Dana assigned it to you 5 min ago",
        "Sam set it to resolved 3 min ago",
        "Dana replied 12 s ago",
        "The customer wrote again 5 s ago"]
    assert await changes.since(sqlite_store, current, 3, SAM, now) == [
        "Dana replied 12 s ago", "The customer wrote again 5 s ago"]
    assert await changes.since(sqlite_store, current, 5, SAM, now) == []
    assert await changes.since(sqlite_store, current, -3, SAM, now) == []
    assert changes.ago(now - timedelta(days=3, hours=2), now) == "3 days ago"
    assert changes.ago(now - timedelta(hours=2, minutes=5), now) == "2 h ago"


async def test_a_colleague_without_a_name_is_called_by_their_address_as_written(
        sqlite_store: SqliteStore) -> None:
    now = utcnow()
    conv = replace(conversation("v1", "c1"), updated_at=now - timedelta(minutes=1))
    await sqlite_store.write(WriteBatch(customers=(customer("c1"),), conversations=(conv,)))
    nameless = User("u-ann", "ann@example.com", "agent", "-")
    await sqlite_store.write(WriteBatch(documents=(changes.entry(
        replace(conv, version=2, updated_at=now - timedelta(seconds=30)), nameless, "reply",
        {"status": None}),)))
    assert await changes.since(sqlite_store, replace(conv, version=2), 1, SAM, now) == [
        "ann@example.com replied 30 s ago"]
