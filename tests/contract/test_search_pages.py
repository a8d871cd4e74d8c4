"""Searches whose cost does not grow with what they page through, on every store: facets
counted once per search (with its first page), totals exact up to the cap on every page,
prefixes after several words that find every match, and on Elasticsearch no point in time
left open by pages, scans or exports."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from inbox.errors import InboxError
from inbox.migrate import copy_store
from inbox.model import ConversationFilter
from inbox.query import parse
from inbox.store import Store, WriteBatch
from search import elastic_client
from search.elastic import ElasticStore
from search.sqlite import SqliteStore
from tests.contract.test_store import seed_corpus
from tests.factories import at, conversation, customer, message
from tests.servers.osmem import OPEN_PITS, PITS_OPENED, REFUSE_PITS, OsmemStore


async def test_facets_volume_and_moods_come_with_the_first_page_only(store: Store) -> None:
    await seed_corpus(store)
    first = await store.search(None, None, 2, ("channel", "lang"), volume="day")
    assert first.facets["channel"] and first.volume and first.moods
    assert sum(n for _, n in first.facets["channel"]) == first.total == 9
    pages, cursor = [first], first.next_cursor
    while cursor:
        page = await store.search(None, cursor, 2, ("channel", "lang"), volume="day")
        # the same question asked again on a later page: nothing counted again
        assert (page.facets, page.volume, page.moods, page.sampled) == ({}, (), (), 0)
        assert (page.total, page.total_capped) == (9, False)
        pages.append(page)
        cursor = page.next_cursor
    ids = [m.id for p in pages for m in p.messages]
    assert len(ids) == len(set(ids)) == 9


@pytest.mark.parametrize(("cap", "capped"), [(4, False), (3, True)])
async def test_totals_are_exact_up_to_the_cap_on_every_page(
        store: Store, cap: int, capped: bool) -> None:
    await seed_corpus(store)
    store.total_cap = cap  # type: ignore[union-attr]
    query = parse("sentiment:negative")  # four of the corpus's messages
    first = await store.search(query, None, 2)
    later = await store.search(query, first.next_cursor, 2)
    for page in (first, later):
        assert (page.total, page.total_capped) == (min(4, cap), capped)
    assert later.next_cursor is None and len(first.messages) + len(later.messages) == 4


async def test_a_prefix_after_several_words_finds_every_match(store: Store) -> None:
    """1,050 different words start with "du" after "past": a phrase prefix that expands the
    last word to 1,000 words (match_phrase_prefix) would find 1,000 of them."""
    words = [f"du{n:04d}" for n in range(1050)]
    msgs = [message(f"p{n}", "v1", "c1", f"bill past {word} today", at(1) + timedelta(seconds=n))
            for n, word in enumerate(words)]
    msgs += [message("q1", "v1", "c1", "du0001 past", at(2)),  # the words the other way round
             message("q2", "v1", "c1", "past the due date", at(2)),  # "the" between them
             message("q3", "v1", "c1", "past", at(2), subject="du0002")]  # not one phrase
    await store.write(WriteBatch(customers=(customer("c1"),),
                                 conversations=(conversation("v1", "c1"),)))
    for start in range(0, len(msgs), 500):
        await store.write(WriteBatch(messages=tuple(msgs[start:start + 500])))
    for text in ('"past du*"', '"bill past du*"'):
        result = await store.search(parse(text), None, 5)
        assert (result.total, result.total_capped) == (1050, False), text
    assert (await store.search(parse('"past du00*"'), None, 5)).total == 100
    assert (await store.search(parse("du*"), None, 5)).total == 1053  # and "due"


# --- Elasticsearch: points in time ----------------------------------------------------------


@pytest.fixture
async def es(elastic_store: ElasticStore, monkeypatch: pytest.MonkeyPatch
             ) -> ElasticStore:
    """The Elasticsearch store with scans of 3 hits a page (deep scans with few messages)."""
    monkeypatch.setattr(elastic_client, "SCAN_PAGE", 3)
    return elastic_store


def _pits_of(store: ElasticStore) -> list[str]:
    """Where the store's points in time that are still open were opened."""
    return [target for target in OPEN_PITS.values() if f"/{store.prefix}-" in target]


async def _cluster_pits(store: ElasticStore) -> list[Any]:
    """The points in time open on osmem-server (it lists them; Elasticsearch has no such
    API: there OPEN_PITS alone tells)."""
    if not isinstance(store, OsmemStore):
        return []
    resp = await store.client.perform_request("GET", "/_search/point_in_time/_all",
                                              headers={"accept": "application/json"})
    return list(resp.body.get("pits", []))


async def test_pages_leave_no_point_in_time_and_scans_close_theirs(
        es: ElasticStore, tmp_path: Path) -> None:
    await seed_corpus(es)
    opened = len(PITS_OPENED)
    # every page of a search, of the inbox, of an SLA sweep and of a customer's messages
    await es.write(WriteBatch(conversations=tuple(
        conversation(f"d{n}", "cA", due_at=at(25, n)) for n in range(3))))
    for read in (lambda c: es.search(None, c, 2, ("channel",)),
                 lambda c: es.list_conversations(ConversationFilter(), c, 2),
                 lambda c: es.list_conversations(ConversationFilter(order="due"), c, 2),
                 lambda c: es.customer_messages("cA", c, 1)):
        cursor, pages = None, 0
        while True:
            page = await read(cursor)
            pages += 1
            if not (cursor := page.next_cursor):
                break
        assert pages > 1
    assert len(PITS_OPENED) == opened  # pages open none
    # a deep scan: the 7 messages of one conversation (3 in the corpus), read 3 at a time
    many = [message(f"s{n}", "vA", "cA", f"scan {n}", at(3, n)) for n in range(4)]
    await es.write(WriteBatch(messages=tuple(many)))
    found = await es.conversation_messages("vA")
    assert [m.created_at for m in found] == sorted(m.created_at for m in found)
    assert {m.id for m in many} <= {m.id for m in found} and len(found) == 7
    assert len({m.id for m in found}) == 7
    assert len(PITS_OPENED) == opened + 1  # past its first page, in a point in time
    # an export: `inbox migrate` copies every kind, 2 documents a page, to SQLite
    target = SqliteStore(tmp_path / "copy.db")
    await target.open()
    try:
        copied = await copy_store(es, target, page=2)
    finally:
        await target.aclose()
    assert all(source == copy for source, copy in copied.values())
    assert _pits_of(es) == [] and await _cluster_pits(es) == []


async def test_a_scan_closes_its_point_in_time_when_stopped_or_failing(
        es: ElasticStore) -> None:
    await seed_corpus(es)
    many = [message(f"s{n}", "vA", "cA", f"scan {n}", at(3, n)) for n in range(7)]
    await es.write(WriteBatch(messages=tuple(many)))
    query = {"term": {"conversation_id": "vA"}}
    async with aclosing(es._scan_pages("messages", query, elastic_client.OLDEST_FIRST)) as pages:
        await anext(pages)
        await anext(pages)  # inside the point in time now
        assert len(_pits_of(es)) == 1
        assert len(await _cluster_pits(es)) == (1 if isinstance(es, OsmemStore) else 0)
    assert _pits_of(es) == []  # the reader stopped early

    inside = asyncio.Event()

    async def reader() -> None:
        async with aclosing(es._scan_pages("messages", query,
                                           elastic_client.OLDEST_FIRST)) as pages:
            async for _ in pages:
                if _pits_of(es):
                    inside.set()
                    await asyncio.Event().wait()  # until cancelled

    task = asyncio.create_task(reader())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _pits_of(es) == []  # the reader was cancelled
    pages = es._scan_pages("messages", query, elastic_client.OLDEST_FIRST)
    await anext(pages)
    await anext(pages)
    await es.delete_indices()  # the next page fails
    with pytest.raises(InboxError):
        await anext(pages)
    assert _pits_of(es) == [] and await _cluster_pits(es) == []


async def test_one_refused_point_in_time_disables_nothing(es: ElasticStore) -> None:
    await seed_corpus(es)
    many = [message(f"s{n}", "vA", "cA", f"scan {n}", at(3, n)) for n in range(4)]
    await es.write(WriteBatch(messages=tuple(many)))
    opened = len(PITS_OPENED)
    REFUSE_PITS.append(400)  # the cluster refuses the next point in time, once
    assert len(await es.conversation_messages("vA")) == 7  # read without one
    assert len(PITS_OPENED) == opened and not REFUSE_PITS
    assert len(await es.conversation_messages("vA")) == 7
    assert len(PITS_OPENED) == opened + 1  # the next scan has one again
    assert _pits_of(es) == []


async def test_exact_sla_percentiles_on_osmem_page_through_the_values(
        elastic_store: ElasticStore) -> None:
    """The fixture's exact percentiles (osmem's digest answers the nearest rank) read the
    values a page of distinct values at a time, the same at any page size."""
    convs = [conversation(f"v{i}", "c1", "email", 3, first_response_seconds=60.0 * (i % 7),
                          first_response_breached=False) for i in range(30)]
    await elastic_store.write(WriteBatch(customers=(customer("c1"),), conversations=tuple(
        replace(c, assignee="u1") for c in convs)))
    whole = await elastic_store.sla_report(at(1), at(20))
    overall = next(r for r in whole if r.group == "all")
    assert (overall.answered, overall.p50, overall.p90) == (30, 180.0, 360.0)
    if isinstance(elastic_store, OsmemStore):  # (a real cluster's need no fixture)
        elastic_store.value_page = 2
        assert await elastic_store.sla_report(at(1), at(20)) == whole
