"""Copy one Store into another, page by page (`inbox migrate --from ... --to ...`).

Every write is an upsert (restore, Collection.put), so a copy that stopped half-way can be run
again; pass a `checkpoint` mapping (persisted by the caller) to skip what was copied.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import replace
from typing import Any, Protocol

from inbox.collections import COLLECTIONS, HasCollection
from inbox.store import EXPORT_KINDS, Dump, WriteBatch

Progress = Callable[[str, int, int], None]  # kind, copied so far, total in the source
PAGE = 500


class Dumpable(Dump, HasCollection, Protocol):
    """A store `inbox migrate` copies from or into: its documents and collections."""


def _key(kind: str, item: Any) -> str:
    """The export key of an item: what `after` takes to continue past it."""
    if kind == "thread_keys":
        return str(item[0])
    if kind == "identities":
        return f"{item.kind}:{item.value}"
    return str(item.id)


def _batch(kind: str, items: list[Any]) -> WriteBatch:
    fields: dict[str, Any] = {kind: tuple(items)}
    return replace(WriteBatch(), **fields)


async def copy_store(
    src: Dumpable,
    dst: Dumpable,
    progress: Progress | None = None,
    *,
    page: int = PAGE,
    checkpoint: MutableMapping[str, str | None] | None = None,
) -> dict[str, tuple[int, int]]:
    """Copy every kind and collection; (source count, target count) per kind at the end."""
    totals = await src.counts()
    report = progress or (lambda kind, done, total: None)
    # EXPORT_KINDS puts conversations before messages: a message copies its
    # conversation's status, assignee and tags where the target denormalizes them.
    for kind in EXPORT_KINDS:
        after, done = (checkpoint or {}).get(kind), 0
        report(kind, done, totals[kind])
        while items := await src.export(kind, after, page):
            await dst.restore(_batch(kind, items))
            after, done = _key(kind, items[-1]), done + len(items)
            if checkpoint is not None:
                checkpoint[kind] = after
            report(kind, min(done, totals[kind]), totals[kind])
    for collection in COLLECTIONS:
        after, done = (checkpoint or {}).get(collection), 0
        report(collection, done, totals[collection])
        while rows := await src.collection(collection).list(after, page):
            for key, value in rows:
                await dst.collection(collection).put(key, value)
            after, done = rows[-1][0], done + len(rows)
            if checkpoint is not None:
                checkpoint[collection] = after
            report(collection, min(done, totals[collection]), totals[collection])
    copied = await dst.counts()
    return {kind: (totals[kind], copied.get(kind, 0)) for kind in totals}
