"""Human conversation references on Elasticsearch: a counter document in the kv index,
moved on with compare-and-swap, so two writers never hand out the same number."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from inbox.errors import ConflictError
from inbox.model import Conversation
from inbox.retry import backoff_ceiling
from search.elastic_client import ElasticBase, Hit
from search.elastic_collections import ElasticCollection

COUNTER = "conversation_ref"  # key in the kv index's "counters" (not a Store collection)
TRIES = 50


async def given_refs(store: ElasticBase, convs: Sequence[Conversation],
                     stored: Mapping[str, Hit], start: int) -> tuple[Conversation, ...]:
    """The conversations with their references: the one given, else the stored one, else
    (new) the next free ones, reserved together."""
    def kept(conv: Conversation) -> int | None:
        hit = stored.get(conv.id)
        return conv.ref or (hit["_source"].get("ref") if hit else None)

    need = sum(1 for c in convs if kept(c) is None)
    if not need:
        return tuple(c if c.ref else replace(c, ref=kept(c)) for c in convs)
    first = await reserve(store, need, start)
    given: list[Conversation] = []
    for conv in convs:
        ref = kept(conv)
        if ref is None:
            ref, first = first, first + 1
        given.append(conv if conv.ref == ref else replace(conv, ref=ref))
    return tuple(given)


async def reserve(store: ElasticBase, count: int, start: int) -> int:
    """The first of `count` new consecutive references (from `start` on an empty store)."""
    counter: ElasticCollection[str, dict[str, Any]] = ElasticCollection(store, "counters")
    for tries in range(TRIES):
        current = await counter.get(COUNTER)
        last = int(current["last"]) if current else await _highest(store, start - 1)
        if await counter.swap(COUNTER, current, {"last": last + count}):
            return last + 1
        await asyncio.sleep(backoff_ceiling(tries + 1, 0.005, 0.2))
    raise ConflictError("conversation references are contended; try again")


async def _highest(store: ElasticBase, floor: int) -> int:
    """The highest reference stored (a store restored from a copy has no counter yet)."""
    resp = await store._search("conversations", "read references", size=1,
                               query={"exists": {"field": "ref"}},
                               sort=[{"ref": "desc"}], source=["ref"])
    hits = resp["hits"]["hits"]
    return max(floor, int(hits[0]["_source"]["ref"])) if hits else floor
