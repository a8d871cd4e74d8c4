"""The Elasticsearch store's dump and restore (`inbox migrate`), and reindex."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from elasticsearch import ApiError, AsyncElasticsearch
from elasticsearch.exceptions import GeneralAvailabilityWarning

from inbox.collections import COLLECTIONS
from inbox.errors import StoreUnavailable
from inbox.model import Conversation, Customer, Identity, Message
from inbox.store import EXPORT_KINDS, WriteBatch
from search.elastic_client import SCAN_PAGE, ElasticBase, calling
from search.elastic_docs import denormalized, from_doc, search_fields
from search.elastic_mappings import KINDS, index_name, index_number, mappings, next_alias
from search.elastic_write import ElasticWriter

log = logging.getLogger(__name__)
_EXPORT_KEY = {"customers": "id", "conversations": "id", "messages": "id",
               "identities": "key", "thread_keys": "key"}


class ElasticDump(ElasticWriter):
    """Dump part of ElasticStore."""

    async def restore(self, batch: WriteBatch) -> None:
        """Write documents as they are (no version or identity checks): migrations, backups."""
        await self._apply(batch, checked=False)

    async def counts(self) -> dict[str, int]:
        found = {}
        with calling("count"):
            for kind in EXPORT_KINDS:
                found[kind] = int((await self.client.count(index=self.alias(kind)))["count"])
        resp = await self._search("kv", "count", size=0, aggs={"collections": {"terms": {
            "field": "collection", "size": len(COLLECTIONS) * 4}}})
        buckets = resp["aggregations"]["collections"]["buckets"]
        per = {b["key"]: int(b["doc_count"]) for b in buckets}
        found.update({c: per.get(c, 0) for c in COLLECTIONS})
        return found

    async def export(self, kind: str, after: str | None, limit: int) -> list[Any]:
        if kind not in _EXPORT_KEY:
            raise ValueError(f"unknown export kind {kind!r}")
        key = _EXPORT_KEY[kind]
        query = {"range": {key: {"gt": after}}} if after else {"match_all": {}}
        resp = await self._search(kind, f"export {kind}", query=query, sort=[{key: "asc"}],
                                  size=limit)
        sources = [h["_source"] for h in resp["hits"]["hits"]]
        if kind == "thread_keys":
            return [(s["key"], s["conversation_id"]) for s in sources]
        if kind == "customers":
            idents = await self._identities_of([s["id"] for s in sources]) if sources else {}
            return [from_doc(Customer, s, identities=idents.get(s["id"], ())) for s in sources]
        cls = {"conversations": Conversation, "messages": Message, "identities": Identity}[kind]
        return [from_doc(cls, s) for s in sources]


async def _pages(es: AsyncElasticsearch, index: str, query: Mapping[str, Any],
                 sort: list[Any], fields: list[str]) -> AsyncIterator[list[Any]]:
    """Every hit of `query` in `index`, a page at a time, in `sort` order (search_after),
    with its _seq_no and _primary_term (updates made from a page must not undo newer
    writes)."""
    after: list[Any] | None = None
    while True:
        resp = await es.search(index=index, query=query, sort=sort, size=SCAN_PAGE,
                               source_includes=fields, search_after=after,
                               seq_no_primary_term=True)
        hits = resp["hits"]["hits"]
        if not hits:
            return
        yield hits
        after = hits[-1]["sort"]


async def _fill_search_fields(es: AsyncElasticsearch, index: str, conversations: str) -> None:
    """Write the public copy and the words (search_fields) of every message of `index`
    (those indexed by an older version have none, or words of an older analysis), and its
    conversation's fields (a change of the conversation during the copy may have missed a
    copied message). Each update is conditional on the message being unchanged since it
    was read: a newer write already holds its own fields, and wins."""
    async for hits in _pages(es, index, {"match_all": {}}, [{"id": "asc"}],
                             ["text", "subject", "lang", "conversation_id"]):
        conv_ids = list({str(h["_source"]["conversation_id"]) for h in hits
                         if (h.get("_source") or {}).get("conversation_id")})
        convs = ({d["_id"]: d["_source"] for d in
                  (await es.mget(index=conversations, ids=conv_ids))["docs"] if d.get("found")}
                 if conv_ids else {})
        ops: list[Mapping[str, Any]] = []
        for hit in hits:
            source = hit.get("_source") or {}
            conv = convs.get(str(source.get("conversation_id")))
            ops += [{"update": {"_index": index, "_id": hit["_id"], "if_seq_no": hit["_seq_no"],
                                "if_primary_term": hit["_primary_term"]}},
                    {"doc": {**search_fields(source.get("text"), source.get("subject"),
                                             source.get("lang")),
                             **(denormalized(conv) if conv is not None else {})}}]
        done = (await es.bulk(operations=ops, refresh=False)).body
        refused = _refused(done, ignore=(409,))  # 409: written since, with its own fields
        if refused:
            raise StoreUnavailable(f"reindex messages: the words were refused: {refused}")
    await es.indices.refresh(index=index)


async def _fill_latest_moods(es: AsyncElasticsearch, index: str, messages: str) -> None:
    """Give every conversation of `index` the sentiment and language of its customer's
    latest message (conversations indexed before they had them show none): one pass over
    the customer messages, each conversation's latest first."""
    previous = None
    query = {"bool": {"filter": [{"term": {"direction": "inbound"}},
                                 {"term": {"automated": False}}]}}
    async for hits in _pages(es, messages, query, [{"conversation_id": "asc"},
                                                   {"created_at": "desc"}, {"id": "asc"}],
                             ["conversation_id", "sentiment", "lang"]):
        ops: list[Mapping[str, Any]] = []
        for hit in hits:
            source = hit.get("_source") or {}
            conv_id = source.get("conversation_id")
            if conv_id == previous or not conv_id:
                continue  # an earlier message of the conversation just seen
            previous = conv_id
            ops += [{"update": {"_index": index, "_id": conv_id}},
                    {"doc": {"sentiment": source.get("sentiment"), "lang": source.get("lang")}}]
        if ops:
            done = (await es.bulk(operations=ops, refresh=False)).body
            refused = [r for item in done.get("items", ()) for r in item.values()
                       if r.get("error") and r.get("status") != 404]  # no such conversation
            if refused:
                raise StoreUnavailable(f"reindex conversations: sentiment and language "
                                       f"were refused: {str(refused[0]['error'])[:500]}")
    await es.indices.refresh(index=index)


def _refused(resp: Mapping[str, Any], ignore: Sequence[int] = ()) -> str:
    """The first error of a bulk response ("" when none), leaving out statuses ignored."""
    for item in resp.get("items", ()):
        for result in item.values():
            if result.get("error") and result.get("status") not in ignore:
                return str(result["error"])[:500]
    return ""


Progress = Callable[[str, int, int], None]  # (kind, documents copied, of total)
POLL_SECONDS = 2.0
_KEY_ORDER: dict[str, list[Any]] = {
    "messages": [{"id": "asc"}], "conversations": [{"id": "asc"}], "customers": [{"id": "asc"}],
    "identities": [{"key": "asc"}], "thread_keys": [{"key": "asc"}],
    "kv": [{"collection": "asc"}, {"key": "asc"}]}


async def reindex(
    store: ElasticBase, kinds: Sequence[str] = KINDS, delete_old: bool = False,
    progress: Progress | None = None, poll_seconds: float = POLL_SECONDS,
) -> dict[str, str]:
    """Move each kind to a new numbered index with the current mappings and settings while
    the service keeps reading and writing. Returns the new concrete index per kind.

    Per kind, with `{alias}` = `{prefix}-{kind}` (which keeps serving throughout):
    1. create the new index and give it the alias `{alias}-next`: from then on every write
       that lands behind `{alias}` is repeated on it by the writer (_carry_over reads the
       aliases after each write);
    2. copy `{alias}` into it as a task (wait_for_completion=false, slices=auto), polling the
       tasks API for progress; op_type=create with conflicts=proceed, so a document a writer
       carried over already (newer) is never replaced by its older copy;
    3. messages: write their words and conversation fields again (conditional on seq_no:
       newer writes win); conversations: their latest mood;
    4. delete from the new index what was deleted behind `{alias}` during the copy;
    5. swap in one atomic alias change: `{alias}` leaves the old indices for the new one
       (its write index) and `{alias}-next` goes. A write that lands on an old index after
       that is repeated on the new one by its writer (its index is no longer behind
       `{alias}`).
    Reads never see a document twice: the new index joins `{alias}` only at the swap. An
    interrupted run resumes: the index named `{alias}-next` is filled again.
    Older indices are kept unless `delete_old` (deleted by name, never by wildcard).
    """
    moved = {}
    for kind in kinds:
        new = await _begin(store, kind)
        await _copy(store, kind, new, progress, poll_seconds)
        es = store.client
        with calling(f"reindex {kind}"):
            if kind == "messages":
                await _fill_search_fields(es, new, store.alias("conversations"))
            if kind == "conversations":
                await _fill_latest_moods(es, new, store.alias("messages"))
            await es.indices.refresh(index=new)
        await _drop_deleted(store, kind, new)
        old = await _swap(store, kind, new)
        if delete_old and old:
            with calling(f"reindex {kind}"):
                await es.indices.delete(index=",".join(old))
        log.info("reindexed", extra={"kind": kind, "index": new})
        moved[kind] = new
    return moved


async def _begin(store: ElasticBase, kind: str) -> str:
    """The index to fill: a new one named `{alias}-next`, or the one an interrupted run
    named so."""
    gens = await store._generations(kind)
    if gens.next is not None:
        log.info("resuming a reindex", extra={"kind": kind, "index": gens.next})
        return gens.next
    new = index_name(store.prefix, kind, max(map(index_number, gens.read)) + 1)
    es = store.client
    with calling(f"reindex {kind}"):
        try:
            await es.indices.create(index=new, settings=store.index_settings,
                                    mappings=mappings(kind))
        except ApiError as exc:
            if exc.error != "resource_already_exists_exception":  # left by a crash: refill
                raise
        await es.indices.update_aliases(actions=[
            {"add": {"index": new, "alias": next_alias(store.prefix, kind)}}])
    return new


async def _copy(store: ElasticBase, kind: str, new: str, progress: Progress | None,
                poll_seconds: float) -> None:
    """Copy the alias into `new` as a task, following it on the tasks API."""
    es = store.client
    with calling(f"reindex {kind}"):
        started = await es.reindex(
            source={"index": store.alias(kind)}, dest={"index": new, "op_type": "create"},
            conflicts="proceed", slices="auto", wait_for_completion=False)
        task = str(started["task"])
        while True:
            with warnings.catch_warnings():  # the client marks the tasks API experimental
                warnings.simplefilter("ignore", GeneralAvailabilityWarning)
                state = (await es.tasks.get(task_id=task)).body
            status = (state.get("task") or {}).get("status") or {}
            if progress is not None:
                progress(kind, _copied(status), int(status.get("total", 0)))
            if state.get("completed"):
                break
            await asyncio.sleep(poll_seconds)
    failures = state.get("error") or (state.get("response") or {}).get("failures")
    if failures:
        raise StoreUnavailable(f"reindex {kind}: the copy into {new} failed "
                               f"({str(failures)[:500]}); run the reindex again to resume")


def _copied(status: Mapping[str, Any]) -> int:
    """Documents a reindex task has dealt with (conflicts: already there, newer)."""
    return sum(int(status.get(name, 0)) for name in
               ("created", "updated", "deleted", "version_conflicts", "noops"))


async def _drop_deleted(store: ElasticBase, kind: str, new: str) -> None:
    """Delete from `new` the documents no longer behind the alias (deleted during the copy,
    after it had read them); conditional, so a document written again meanwhile stays."""
    es = store.client
    key = [next(iter(part)) for part in _KEY_ORDER[kind]]
    with calling(f"reindex {kind}"):
        async for hits in _pages(es, new, {"match_all": {}}, _KEY_ORDER[kind], key):
            ids = [h["_id"] for h in hits]
            live = ({h["_id"] for h in await store._messages_where(ids, source=False)}
                    if kind == "messages" else set(await store._mget(kind, ids)))
            ops = [{"delete": {"_index": new, "_id": h["_id"], "if_seq_no": h["_seq_no"],
                               "if_primary_term": h["_primary_term"]}}
                   for h in hits if h["_id"] not in live]
            if ops:
                refused = _refused((await es.bulk(operations=ops, refresh=True)).body,
                                   ignore=(404, 409))
                if refused:
                    raise StoreUnavailable(f"reindex {kind}: {refused}")


async def _swap(store: ElasticBase, kind: str, new: str) -> tuple[str, ...]:
    """Point the alias at `new` alone, in one atomic change; the indices it left."""
    gens = await store._generations(kind)
    alias = store.alias(kind)
    actions: list[Mapping[str, Any]] = [
        {"remove": {"index": old, "alias": alias}} for old in gens.read if old != new]
    actions += [{"add": {"index": new, "alias": alias, "is_write_index": True}},
                {"remove": {"index": new, "alias": next_alias(store.prefix, kind)}}]
    with calling(f"reindex {kind}"):
        await store.client.indices.update_aliases(actions=actions)
    return tuple(old for old in gens.read if old != new)
