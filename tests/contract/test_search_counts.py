"""Counts at scale: totals capped alike on every store, facets and volume that stay exact
(or say they are not), and the SQLite store's shortcuts giving the answers a full scan
gives (its rollup, facts and newest-first windows)."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections import Counter
from contextlib import closing
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from inbox.model import Message
from inbox.query import parse
from inbox.store import Store, WriteBatch
from search.sqlite import SqliteStore
from search.sqlite_db import connect
from tests.contract.test_store import seed_corpus
from tests.factories import at, conversation, customer, message

# query -> how many of the corpus's nine messages match
COUNTS = [("", 9), ("refund*", 3), ("sentiment:negative", 4), ("status:open", 6),
          ("channel:x OR status:pending", 4), ("-refund", 7), ("after:2026-11-10", 6)]


def _facet_total(result_facets: dict[str, tuple[tuple[str, int], ...]], name: str) -> int:
    return sum(n for _, n in result_facets[name])


@pytest.mark.parametrize(("query", "matches"), COUNTS)
async def test_totals_are_capped_alike_and_facets_count_every_match(
        store: Store, query: str, matches: int) -> None:
    await seed_corpus(store)
    store.total_cap = 3  # type: ignore[union-attr]
    result = await store.search(parse(query), None, 2, ("channel",), volume="day")
    assert result.total == min(matches, 3)
    assert result.total_capped is (matches > 3)
    assert result.sampled == 0
    assert _facet_total(result.facets, "channel") == matches
    assert sum(n for _, n in result.volume) == matches
    assert list(result.volume) == await store.volume(parse(query), "day")
    every = [m.id for m in await _all_pages(store, query)]
    assert len(every) == len(set(every)) == matches


async def _all_pages(store: Store, query: str, size: int = 2) -> list[Message]:
    found: list[Message] = []
    cursor = None
    while True:
        page = await store.search(parse(query), cursor, size)
        found += page.messages
        if not page.next_cursor:
            return found
        cursor = page.next_cursor


async def test_sqlite_counts_the_newest_matches_when_all_would_cost_too_much(
        sqlite_store: SqliteStore) -> None:
    await seed_corpus(sqlite_store)
    sqlite_store.total_cap, sqlite_store.facet_sample = 3, 4
    result = await sqlite_store.search(parse("status:open"), None, 10, ("channel",), volume="day")
    assert (result.total, result.total_capped, result.sampled) == (3, True, 4)
    newest = result.messages[:4]  # the page is newest first
    assert dict(result.facets["channel"]) == dict(Counter(m.channel.value for m in newest))
    assert sum(n for _, n in result.volume) == 4
    assert result.volume[-1][0] == newest[0].created_at.date().isoformat()


def _backfilled(n: int) -> list[Message]:
    """n messages written newest first then older and older (a mailbox backfill), with
    some sharing a timestamp, words and facet values spread at random."""
    rng = random.Random(7)
    words = ["refund", "router", "invoice", "signal"]
    out = []
    for i in range(n):
        when = at(28) - timedelta(minutes=(i // 3) * 7 + rng.randrange(5))
        channel = rng.choice(["email", "x", "webform"])
        out.append(message(f"b{i}", "v1", "c1", f"{rng.choice(words)} {rng.choice(words)}",
                           when, channel=channel, sentiment=rng.choice(["negative", None]),
                           lang=rng.choice(["en", "de"])))
    return out


async def test_sqlite_windows_find_the_newest_matches_of_a_backfill(
        sqlite_store: SqliteStore) -> None:
    msgs = _backfilled(3000)
    await sqlite_store.write(WriteBatch(customers=(customer("c1"),),
                                        conversations=(conversation("v1", "c1"),)))
    for start in range(0, len(msgs), 500):
        await sqlite_store.write(WriteBatch(messages=tuple(msgs[start:start + 500])))
    # a late mail of long ago, and a new one: the highest rowids hold both ends
    late = [message("late-old", "v1", "c1", "refund router", at(1)),
            message("late-new", "v1", "c1", "refund router", at(29))]
    await sqlite_store.write(WriteBatch(messages=tuple(late)))
    everything = [*msgs, *late]
    sqlite_store.total_cap, sqlite_store.search_window = 50, 1  # windows from one block up
    for query, matches in [
            ("", lambda m: True),
            ("refund", lambda m: "refund" in m.text),
            ("channel:x sentiment:negative", lambda m: m.channel == "x"
             and m.sentiment == "negative"),
            ("router -invoice lang:de", lambda m: "router" in m.text
             and "invoice" not in m.text and m.lang == "de")]:
        expected = sorted((m for m in everything if matches(m)),
                          key=lambda m: (m.created_at, m.id), reverse=True)
        got = await _all_pages(sqlite_store, query, 97)
        assert [m.id for m in got] == [m.id for m in expected], query
        result = await sqlite_store.search(parse(query), None, 5, ("lang",), volume="day")
        assert result.total == min(len(expected), 50)
        if not result.sampled:
            assert dict(result.facets["lang"]) == dict(Counter(m.lang for m in expected if m.lang))


async def test_sqlite_rollup_and_facts_follow_every_write(sqlite_store: SqliteStore) -> None:
    msgs = _backfilled(200)
    await sqlite_store.write(WriteBatch(customers=(customer("c1"),),
                                        conversations=(conversation("v1", "c1"),),
                                        messages=tuple(msgs)))
    changed = [replace(msg, sentiment="positive", lang="fr",
                       created_at=msg.created_at - timedelta(days=3)) for msg in msgs[:60]]
    await sqlite_store.write(WriteBatch(messages=tuple(changed)))  # upserts
    with closing(connect(sqlite_store.path)) as conn:  # fold() for the word index
        conn.execute("DELETE FROM messages WHERE rowid IN (SELECT rowid FROM messages "
                     "ORDER BY rowid DESC LIMIT 10)")
        rollup = _rows(conn, "SELECT day, channel, direction, sentiment, lang, automated, n "
                             "FROM message_rollup WHERE n > 0")
        truth = _rows(conn, 
            "SELECT substr(created_at, 1, 10), channel, direction, ifnull(sentiment, ''), "
            "ifnull(lang, ''), automated, count(*) FROM messages GROUP BY 1, 2, 3, 4, 5, 6")
        assert rollup == truth
        assert _rows(conn, "SELECT * FROM message_facts") == _rows(
            conn, "SELECT rowid, substr(created_at, 1, 10), channel, direction, sentiment, "
            "lang, automated FROM messages")
    result = await sqlite_store.search(parse("lang:fr"), None, 1, ("sentiment",))
    assert dict(result.facets["sentiment"]) == {"positive": 60}


async def test_sqlite_batch_of_new_and_edited_messages_is_indexed_and_counted(
        sqlite_store: SqliteStore) -> None:
    """New messages are indexed and counted with their batch, edits by triggers: a batch
    mixing both (edits between new ones, a new one edited in the same batch) leaves every
    index as a full scan sees it."""
    msgs = _backfilled(40)
    await sqlite_store.write(WriteBatch(customers=(customer("c1"),),
                                        conversations=(conversation("v1", "c1"),),
                                        messages=tuple(msgs[:20])))
    mixed = [replace(msgs[i // 2], text=f"Søren rang about the outage ({i})") if i % 2
             else msgs[20 + i // 2] for i in range(40)]
    again = replace(mixed[0], text="Søren again, outage", sentiment="positive", lang="fr")
    await sqlite_store.write(WriteBatch(messages=(*mixed, again)))  # new, then edited
    mixed[0] = again
    with closing(connect(sqlite_store.path)) as conn:
        for index in ("messages_fts", "messages_public"):
            conn.execute(f"INSERT INTO {index} ({index}) VALUES ('integrity-check')")
        assert _rows(conn, "SELECT * FROM message_facts") == _rows(
            conn, "SELECT rowid, substr(created_at, 1, 10), channel, direction, sentiment, "
            "lang, automated FROM messages")
        assert _rows(conn, "SELECT day, channel, direction, sentiment, lang, automated, n "
                           "FROM message_rollup WHERE n > 0") == _rows(
            conn, "SELECT substr(created_at, 1, 10), channel, direction, ifnull(sentiment, ''), "
            "ifnull(lang, ''), automated, count(*) FROM messages GROUP BY 1, 2, 3, 4, 5, 6")
        assert _rows(conn, "SELECT * FROM message_blocks") == _rows(
            conn, "SELECT rowid >> 10, max(created_at), min(created_at) FROM messages "
            "GROUP BY 1")
    assert (await sqlite_store.search(parse("soren outage"), None, 50)).total == 21
    assert (await sqlite_store.search(parse(""), None, 50)).total == 40
    words = {w: sum(w in m.text.split() for m in mixed[::2]) for w in ("refund", "router")}
    for word, count in words.items():
        assert (await sqlite_store.search(parse(word), None, 50)).total == count



def _rows(conn: sqlite3.Connection, sql: str) -> set[tuple[object, ...]]:
    return {tuple(row) for row in conn.execute(sql)}


async def test_sqlite_reuses_counts_for_a_moment_only(tmp_path: Path) -> None:
    """Counts of one query are reused briefly: never after this process wrote, and after
    at most `recent.seconds` when another process wrote."""
    here, other = SqliteStore(tmp_path / "inbox.db"), SqliteStore(tmp_path / "inbox.db")
    await here.open()
    await other.open()
    try:
        await here.write(WriteBatch(customers=(customer("c1"),),
                                    conversations=(conversation("v1", "c1"),)))
        here.recent.seconds = 0.3

        async def total() -> int:
            return (await here.search(parse("refund"), None, 1, ("channel",))).total

        await here.write(WriteBatch(messages=(message("a", "v1", "c1", "refund", at(1)),)))
        assert await total() == 1
        await here.write(WriteBatch(messages=(message("b", "v1", "c1", "refund", at(2)),)))
        assert await total() == 2  # our own write: counted at once
        await other.write(WriteBatch(messages=(message("c", "v1", "c1", "refund", at(3)),)))
        page = await here.search(parse("refund"), None, 5, ("channel",))
        assert len(page.messages) == 3  # the page itself is never reused
        await asyncio.sleep(0.35)
        assert await total() == 3
    finally:
        await here.aclose()
        await other.aclose()


async def test_sqlite_a_search_without_facets_leaves_the_next_ones_facets_whole(
        sqlite_store: SqliteStore) -> None:
    await seed_corpus(sqlite_store)
    assert (await sqlite_store.search(parse("refund*"), None, 5)).facets == {}
    faceted = await sqlite_store.search(parse("refund*"), None, 5, ("channel",))
    assert dict(faceted.facets["channel"]) == {"email": 2, "x": 1}
