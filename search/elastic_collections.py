"""The Elasticsearch store's typed collections: JSON documents in one key-value index."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from inbox.collections import (
    CANNED,
    CSAT,
    CSAT_QUEUE,
    CSAT_RESOLVED,
    DEAD_LETTERS,
    LISTENING_RULES,
    NOTIFICATIONS,
    SAVED_SEARCHES,
    TOKENS,
    USERS,
    Collection,
    CollectionAccessors,
    CollectionName,
)
from inbox.errors import ConflictError
from search.elastic_client import ElasticBase, calling
from search.elastic_docs import doc_id, json_object

K = TypeVar("K", bound=str)
D = TypeVar("D", bound=Mapping[str, Any])


# The collections a user lists (a search: only refreshed documents) right after writing
# them: the pages of users, API tokens, canned replies, saved searches, listening rules,
# notifications (marked read), dead letters (retried, discarded), CSAT answers (the report)
# and the surveys to send (a resolve, then the sweep). Their puts and
# deletes refresh (the store's `refresh`). The others are read by key (get: realtime) or
# listed by background jobs, and are written without a refresh: cursors, leases, sessions,
# audit entries, idempotency keys, counters, alert and spike states, merges, VIPs...
LISTED_AFTER_OWN_WRITE = frozenset(name for name in (
    USERS, TOKENS, CANNED, SAVED_SEARCHES, LISTENING_RULES, NOTIFICATIONS, DEAD_LETTERS, CSAT,
    CSAT_QUEUE, CSAT_RESOLVED))


def kv_id(collection: str, key: str) -> str:
    """A collection document's id in the kv index."""
    return f"{collection}:{key}"


def kv_source(collection: str, key: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    """A collection document as the kv index stores it."""
    return {"collection": collection, "key": key, "value": json_object(doc)}


class ElasticCollection(Generic[K, D]):
    """One collection: the documents of the kv index with its name (id "<name>:<key>")."""

    def __init__(self, store: ElasticBase, name: str) -> None:
        self._store, self.name = store, name

    def _id(self, key: str) -> str:
        return doc_id(kv_id(self.name, key))

    def _refresh(self) -> bool | str:
        return self._store.refresh if self.name in LISTED_AFTER_OWN_WRITE else False

    async def _read(self, key: str) -> dict[str, Any] | None:
        return (await self._store._mget("kv", [kv_id(self.name, key)])).get(
            kv_id(self.name, key))

    async def _index(self, key: K, doc: D, create: bool = False, **options: Any) -> None:
        store = self._store
        call = store.client.create if create else store.client.index
        source = kv_source(self.name, key, doc)
        with calling("kv put"):
            resp = await call(index=store.alias("kv"), id=self._id(key), document=source,
                              refresh=self._refresh(), require_alias=True, **options)
        await store._carry_over([("create" if create else "index", source, resp.body)],
                                self._refresh())

    async def get(self, key: K) -> D | None:
        hit = await self._read(key)
        return None if hit is None else hit["_source"]["value"]

    async def put(self, key: K, doc: D) -> None:
        await self._index(key, doc)

    async def put_new(self, key: K, doc: D) -> bool:
        try:
            await self._index(key, doc, create=True)
        except ConflictError:
            return False
        return True

    async def swap(self, key: K, expected: D | None, doc: D) -> bool:
        if expected is None:
            return await self.put_new(key, doc)
        hit = await self._read(key)
        if hit is None or hit["_source"]["value"] != json_object(expected):
            return False
        try:
            await self._index(key, doc, if_seq_no=hit["_seq_no"],
                              if_primary_term=hit["_primary_term"])
        except ConflictError:
            return False
        return True

    async def delete(self, key: K) -> None:
        store = self._store
        with calling("kv delete"):
            resp = await store.client.options(ignore_status=404).delete(
                index=store.alias("kv"), id=self._id(key), refresh=self._refresh())
        if "_index" in resp.body:
            await store._carry_over([("delete", None, resp.body)], self._refresh())

    async def list(self, after: K | None, limit: int) -> builtins.list[tuple[K, D]]:
        filters: builtins.list[dict[str, Any]] = [{"term": {"collection": self.name}}]
        if after:
            filters.append({"range": {"key": {"gt": after}}})
        resp = await self._store._search("kv", "kv list", query={"bool": {"filter": filters}},
                                         sort=[{"key": "asc"}], size=limit)
        return [(h["_source"]["key"], h["_source"]["value"]) for h in resp["hits"]["hits"]]


class ElasticCollections(ElasticBase, CollectionAccessors):
    """Collections part of ElasticStore."""

    def collection(self, name: CollectionName[K, D]) -> Collection[K, D]:
        return ElasticCollection[K, D](self, name)
