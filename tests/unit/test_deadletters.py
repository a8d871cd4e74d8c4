"""Dead letters on a real store: kept once per raw item and source, counted per stage."""

from __future__ import annotations

from inbox import deadletters
from search.sqlite import SqliteStore


async def test_the_same_raw_item_is_kept_once(sqlite_store: SqliteStore) -> None:
    """A mailbox read again (UIDVALIDITY reset) meets its unparseable mail again."""
    raw = b"\xff\xfe not a mail"
    first = await deadletters.record(sqlite_store, "email:support", "parse", "no headers", raw)
    again = await deadletters.record(sqlite_store, "email:support", "parse", "no headers", raw)
    other = await deadletters.record(sqlite_store, "email:sales", "parse", "no headers", raw)
    assert again == first and other != first
    assert len(await sqlite_store.dead_letters.list(None, 10)) == 2
    counts = await deadletters.counts(sqlite_store)
    assert counts["email:support"]["total"] == 1 and counts["email:sales"]["total"] == 1
