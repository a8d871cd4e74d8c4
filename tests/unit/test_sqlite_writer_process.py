"""The SQLite store's writer process (ingest's batches handed in ahead of their turn) stores
what the writer thread stores, with batches handed in at once; a document SQLite refuses is
still dead-lettered alone; and a writer process killed mid-write loses nothing, stores
nothing twice, and is started again."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from inbox.app.demo.generator import generate
from inbox.errors import StoreRefused
from inbox.model import IdentityRef
from inbox.store import Submitted, WriteBatch
from search.sqlite import SqliteStore
from search.sqlite_db import FileTurn
from tests.contract.test_ingest_pipelined import (
    NOW,
    at_once,
    batches,
    ingestor,
    one_by_one,
    refused_ahead,
    shape,
)
from tests.contract.test_ingest_poison import good, refusing_enrichment
from tests.contract.test_ingest_poison import ingestor as poison_ingestor
from tests.factories import at, conversation, customer, inbound, message

T = TypeVar("T")


async def opened(path: Path, process: bool = True) -> SqliteStore:
    """A store whose writer process runs from the start (it is otherwise started by the
    first batch handed in, in the background)."""
    store = SqliteStore(path, writer_process=process)
    await store.open()
    if store.writer is not None:
        store.writer.start()
    return store


async def test_a_writer_process_stores_what_the_writer_thread_stores(tmp_path: Path) -> None:
    parts = batches([i.inbound for i in generate(NOW, days=10, customers=60)], 20)
    store = await opened(tmp_path / "inbox.db")
    try:
        await at_once(ingestor(store), parts)  # every batch at once
        got = await shape(store)
    finally:
        await store.aclose()
    assert got == await one_by_one(tmp_path / "thread.db", parts)
    assert len(got["messages"]) == sum(map(len, parts))


async def test_batches_handed_in_at_once_reach_the_writer_process_ahead_of_their_turn(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """More than two batches handed in at once (a poller's, or several pollers'): the first
    is written on the thread (nothing is ahead of it), and once the second is handed in,
    each later one is handed in behind the one before it at once, while those are written,
    not one at a time after the one before has ended (the writer would wait for each)."""
    parts = batches([i.inbound for i in generate(NOW, days=10, customers=60)], 20)
    store = await opened(tmp_path / "inbox.db")
    assert store.writer is not None
    writer = store.writer
    submit = store.submit_write
    in_flight: list[int] = []

    def counted(batch: WriteBatch, after: int | None) -> Submitted | None:
        in_flight.append(writer.in_flight)  # writes in the child when this one is handed in
        return submit(batch, after)

    monkeypatch.setattr(store, "submit_write", counted)
    try:
        await at_once(ingestor(store), parts)
        got = await shape(store)
    finally:
        await store.aclose()
    assert len(in_flight) == len(parts) - 1
    assert max(in_flight) >= 2
    assert got == await one_by_one(tmp_path / "thread.db", parts)


async def test_a_refused_document_is_dead_lettered_through_the_writer_process(
        tmp_path: Path) -> None:
    store = await opened(tmp_path / "inbox.db")
    try:
        batch = [good(0), inbound("<poison@x>", "POISON pill", when=at(3, 5),
                                  authors=(IdentityRef("email", "p@example.com"),)), good(1)]
        result = await poison_ingestor(store, refusing_enrichment).ingest(batch)
        assert {m.external_id for m in result.stored} == {"<good0@x>", "<good1@x>"}
        assert [(d.external_id, d.stage) for d in result.dead] == [("<poison@x>", "store")]
        again = await poison_ingestor(store, refusing_enrichment).ingest(batch[:2:2])
        assert again.duplicates == 1 and again.stored == ()
    finally:
        await store.aclose()


async def test_a_batch_planned_over_a_refused_one_is_planned_again(tmp_path: Path) -> None:
    """The first batch is refused in part by SQLite in the writer process; the second,
    planned over it and handed in at once (chained), is not written as planned but planned
    again: its reply joins the thread the first batch stored, nothing twice."""
    store = await opened(tmp_path / "inbox.db")
    try:
        await refused_ahead(poison_ingestor(store, refusing_enrichment), store)
    finally:
        await store.aclose()


async def test_the_writer_process_writes_reach_the_database_file(tmp_path: Path) -> None:
    """Its commits go to the WAL; its checkpoints (a thread of their own) copy them into
    the database file, which the WAL alone would leave with the schema only."""
    parts = batches([i.inbound for i in generate(NOW, days=10, customers=60)], 20)
    path = tmp_path / "inbox.db"
    store = await opened(path)
    try:
        empty = path.stat().st_size
        await at_once(ingestor(store), parts)
        for _ in range(500):  # at most a second after the last commit
            if path.stat().st_size > empty + 200_000:
                break
            await asyncio.sleep(0.01)
        assert path.stat().st_size > empty + 200_000
    finally:
        await store.aclose()


async def test_the_wal_of_a_writer_process_kept_busy_stops_growing(tmp_path: Path) -> None:
    """Writes that keep coming (each round of 400 handed in at once, committed back to
    back) leave the WAL no larger after four rounds than after one: once copied whole into
    the database file, it is written again from its start, not grown for ever."""
    path = tmp_path / "inbox.db"
    store = await opened(path)
    sizes = []
    try:
        for round_ in range(4):
            handed = [store.submit_write(WriteBatch(customers=(customer(f"c{round_}-{n}"),)),
                                         None) for n in range(400)]
            await asyncio.gather(*(h.done for h in handed if h is not None))
            sizes.append(Path(f"{path}-wal").stat().st_size)
    finally:
        await store.aclose()
    assert sizes[-1] < sizes[0] * 1.5, sizes  # growing for ever: 2.9x after four rounds
    with sqlite3.connect(path) as conn:  # every write is there
        assert conn.execute("SELECT count(*) FROM customers").fetchone() == (1600,)


async def held_back(path: Path, store: SqliteStore, run: Awaitable[T], writes: int) -> T:
    """`run`, while another writer holds the store's lock file until `writes` writes wait in
    the writer process: those behind the first are then committed together."""
    assert store.writer is not None
    turn = FileTurn(str(path))
    try:
        with turn:
            task = asyncio.ensure_future(run)
            for _ in range(10_000):
                if store.writer.in_flight >= writes or task.done():
                    break
                await asyncio.sleep(0.001)
            assert store.writer.in_flight == writes
        return await task
    finally:
        turn.close()


async def test_writes_waiting_together_store_what_one_at_a_time_stores(tmp_path: Path) -> None:
    parts = batches([i.inbound for i in generate(NOW, days=10, customers=60)], 20)
    store = await opened(tmp_path / "inbox.db")
    try:
        ingest = ingestor(store)
        await at_once(ingest, parts[:2])  # batches came in at once: handed in ahead now
        await held_back(tmp_path / "inbox.db", store, at_once(ingest, parts[2:]),
                        len(parts) - 2)
        got = await shape(store)
    finally:
        await store.aclose()
    assert got == await one_by_one(tmp_path / "thread.db", parts)
    assert len(got["messages"]) == sum(map(len, parts))


async def test_a_refused_write_among_writes_waiting_together_fails_alone(
        tmp_path: Path) -> None:
    """A batch refused in part in a group of writes committed together is rolled back alone
    (the batch chained to it is skipped, and planned again); the others are kept."""
    store = await opened(tmp_path / "inbox.db")
    try:
        ingest = poison_ingestor(store, refusing_enrichment)
        await at_once(ingest, [[good(0)], [good(1)]])  # handed in ahead from now on
        # the child takes the first write and waits for its turn; the two behind it wait
        # in the pipe, and are then written together
        await held_back(tmp_path / "inbox.db", store, asyncio.gather(
            ingest.ingest([good(2)]), refused_ahead(ingest, store)), 3)
        # nothing of the refused write stayed: every conversation and customer has messages
        messages = await store.export("messages", None, 100)
        conversations = await store.export("conversations", None, 100)
        customers = await store.export("customers", None, 100)
        assert {c.id for c in conversations} == {m.conversation_id for m in messages}
        assert {c.id for c in customers} == {m.customer_id for m in messages}
    finally:
        await store.aclose()


async def test_a_write_failing_in_a_group_fails_alone(tmp_path: Path) -> None:
    """Writes waiting together, one of them refused by SQLite (a lone surrogate): the group's
    transaction is rolled back and each write applied alone, so the writes around the
    refused one are committed and only it fails."""
    store = await opened(tmp_path / "inbox.db")
    assert store.writer is not None

    def batch(n: int, text: str) -> WriteBatch:
        v, c = f"v{n}", f"c{n}"
        return WriteBatch(customers=(customer(c),), conversations=(conversation(v, c),),
                          messages=(message(f"<m{n}@x>", v, c, text, at(3)),))

    try:
        writes = [batch(1, "first"), batch(2, "refused \ud800"), batch(3, "third")]
        submitted = await held_back(tmp_path / "inbox.db", store, _handed_in(store, writes),
                                    3)
        outcomes = await asyncio.gather(*(s.done for s in submitted), return_exceptions=True)
        assert outcomes[0] is None and outcomes[2] is None
        assert isinstance(outcomes[1], StoreRefused)
        stored = await store.messages_by_ids([m.id for w in writes for m in w.messages])
        assert sorted(m.text for m in stored.values()) == ["first", "third"]
    finally:
        await store.aclose()


async def _handed_in(store: SqliteStore, writes: list[WriteBatch]) -> list[Submitted]:
    """Each write handed to the writer process, none chained to another."""
    submitted = [store.submit_write(w, None) for w in writes]
    assert all(s is not None for s in submitted)
    return [s for s in submitted if s is not None]


@pytest.mark.parametrize("kills", [1, 3])
async def test_a_killed_writer_process_loses_nothing_and_is_started_again(
        tmp_path: Path, kills: int) -> None:
    """SIGKILL the writer process while batches are in it (once, and at three points of one
    run): every batch's ingest still ends stored, each message once, as the writer thread
    stores them; the next batches go to a new writer process."""
    parts = batches([i.inbound for i in generate(NOW, days=10, customers=60)], 10)
    expected = await one_by_one(tmp_path / "thread.db", parts)
    store = await opened(tmp_path / "inbox.db")
    assert store.writer is not None
    try:
        ingest = ingestor(store)
        run = asyncio.ensure_future(at_once(ingest, parts))
        killed = 0
        while killed < kills and not run.done():
            if store.writer.pid is not None and store.writer.in_flight:
                store.writer.kill()  # a child runs, with writes in it
                killed += 1
                while store.writer.pid is not None:
                    await asyncio.sleep(0.001)
            await asyncio.sleep(0.001)
        results = await run
        assert killed >= 1
        assert not [d for r in results for d in r.dead]
        stored = [m.external_id for r in results for m in r.stored]
        assert sorted(stored) == sorted(i.external_id for part in parts for i in part)
        assert await shape(store) == expected
        again = await at_once(ingest, parts[:2])  # nothing new, nothing written
        assert sum(r.duplicates for r in again) == len(parts[0]) + len(parts[1])
        late = [i.inbound for i in generate(NOW + timedelta(days=1), days=1, customers=7)]
        await at_once(ingest, batches(late, 5))  # the first hand-in starts a new child
        for _ in range(3000):
            if store.writer.pid is not None:
                break
            await asyncio.sleep(0.01)
        assert store.writer.starts == killed + 1
        more = [i.inbound for i in generate(NOW + timedelta(days=2), days=1, customers=7)]
        results = await at_once(ingest, batches(more, 5))
        stored_now = sum(len(r.stored) for r in results)
        assert stored_now and stored_now + sum(r.duplicates for r in results) == len(more)
    finally:
        await store.aclose()
