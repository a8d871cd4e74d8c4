"""The Elasticsearch store's dump and restore (`inbox migrate`), and reindex."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from elasticsearch import AsyncElasticsearch

from inbox.collections import COLLECTIONS
from inbox.errors import StoreUnavailable
from inbox.model import Conversation, Customer, Identity, Message
from inbox.store import EXPORT_KINDS, WriteBatch
from search.elastic_client import SCAN_PAGE, ElasticBase, calling
from search.elastic_docs import from_doc, search_fields
from search.elastic_mappings import KINDS, SETTINGS, index_name, index_number, mappings
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
    """Every hit of `query` in `index`, a page at a time, in `sort` order (search_after)."""
    after: list[Any] | None = None
    while True:
        resp = await es.search(index=index, query=query, sort=sort, size=SCAN_PAGE,
                               source_includes=fields, search_after=after)
        hits = resp["hits"]["hits"]
        if not hits:
            return
        yield hits
        after = hits[-1]["sort"]


async def _fill_search_fields(es: AsyncElasticsearch, index: str) -> None:
    """Write the public copy and the words (search_fields) of every message of `index`
    (those indexed by an older version have none, or words of an older analysis)."""
    async for hits in _pages(es, index, {"match_all": {}}, [{"id": "asc"}],
                             ["text", "subject", "lang"]):
        ops: list[Mapping[str, Any]] = []
        for hit in hits:
            source = hit.get("_source") or {}
            ops += [{"update": {"_index": index, "_id": hit["_id"]}},
                    {"doc": search_fields(source.get("text"), source.get("subject"),
                                          source.get("lang"))}]
        done = (await es.bulk(operations=ops, refresh=False)).body
        if done.get("errors"):
            raise StoreUnavailable(f"reindex messages: the words were refused: "
                                   f"{_first_bulk_error(done)}")
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


def _first_bulk_error(resp: Mapping[str, Any]) -> str:
    for item in resp.get("items", ()):
        for result in item.values():
            if result.get("error"):
                return str(result["error"])[:500]
    return "unknown error"


async def reindex(
    store: ElasticBase, kinds: Sequence[str] = KINDS, delete_old: bool = False
) -> dict[str, str]:
    """Move each kind to a new numbered index with the current mappings and swap its alias.

    Run it with writers stopped: documents written during the copy are not carried over.
    Returns the new concrete index per kind.
    """
    es = store.client
    moved = {}
    for kind in kinds:
        alias = store.alias(kind)
        with calling(f"reindex {kind}"):
            current = list((await es.indices.get_alias(name=alias)).body)
            new = index_name(store.prefix, kind, max(map(index_number, current)) + 1)
            await es.indices.create(index=new, settings=SETTINGS, mappings=mappings(kind))
            await es.options(request_timeout=3600).reindex(
                source={"index": alias}, dest={"index": new}, wait_for_completion=True,
                refresh=True)
            if kind == "messages":
                await _fill_search_fields(es, new)
            if kind == "conversations":
                await _fill_latest_moods(es, new, store.alias("messages"))
            actions: list[Mapping[str, Any]] = [
                {"remove": {"index": old, "alias": alias}} for old in current]
            actions.append({"add": {"index": new, "alias": alias, "is_write_index": True}})
            await es.indices.update_aliases(actions=actions)
            if delete_old:
                await es.indices.delete(index=",".join(current))
        log.info("reindexed", extra={"kind": kind, "index": new})
        moved[kind] = new
    store._backing = None  # the messages alias points elsewhere now
    return moved
