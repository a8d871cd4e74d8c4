"""The Elasticsearch store's repository: versioned writes, documents by id, keyset lists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from inbox.errors import NotFound
from inbox.model import (
    RECENT_FIELDS,
    Conversation,
    ConversationFilter,
    Customer,
    Identity,
    Message,
    Page,
    RecentConversation,
    Status,
    ts,
)
from inbox.store import Submitted, WriteBatch
from search.elastic_client import MESSAGE_ORDER, OLDEST_FIRST
from search.elastic_docs import from_doc
from search.elastic_query import RESPONSES, conversation_order
from search.elastic_write import ElasticWriter, identity_id


class ElasticRepository(ElasticWriter):
    """Repository part of ElasticStore."""

    async def write(self, batch: WriteBatch) -> None:
        await self._apply(batch, checked=True)

    chains_writes = False  # a batch is written in its turn (bulk requests of their own)

    def submit_write(self, batch: WriteBatch, after: int | None) -> Submitted | None:
        return None

    async def messages_by_ids(self, ids: Sequence[str]) -> dict[str, Message]:
        hits = await self._messages_where(ids, source=True)
        return {h["_source"]["id"]: from_doc(Message, h["_source"]) for h in hits}

    async def identities_by_refs(self, refs: Sequence[tuple[str, str]]
                                 ) -> dict[tuple[str, str], Identity]:
        found = await self._mget("identities", [identity_id(k, v) for k, v in refs])
        return {(k, v): from_doc(Identity, found[identity_id(k, v)]["_source"])
                for k, v in refs if identity_id(k, v) in found}

    async def conversation_ids_by_thread_keys(self, keys: Sequence[str]) -> dict[str, str]:
        found = await self._mget("thread_keys", keys)
        return {key: str(doc["_source"]["conversation_id"]) for key, doc in found.items()}

    async def conversations_by_ids(self, ids: Sequence[str]) -> dict[str, Conversation]:
        found = await self._mget("conversations", ids)
        return {cid: from_doc(Conversation, doc["_source"]) for cid, doc in found.items()}

    async def conversations_by_refs(self, refs: Sequence[int]) -> dict[int, Conversation]:
        wanted = sorted({int(r) for r in refs})
        if not wanted:
            return {}
        resp = await self._search("conversations", "read conversations", size=len(wanted),
                                  query={"terms": {"ref": wanted}})
        found = (from_doc(Conversation, h["_source"]) for h in resp["hits"]["hits"])
        return {c.ref: c for c in found if c.ref is not None}

    async def get_conversation(self, conversation_id: str) -> Conversation:
        found = await self._mget("conversations", [conversation_id])
        if conversation_id not in found:
            raise NotFound(f"no conversation {conversation_id}")
        return from_doc(Conversation, found[conversation_id]["_source"])

    async def list_conversations(
        self, flt: ConversationFilter, cursor: str | None, limit: int
    ) -> Page[Conversation]:
        filters: list[dict[str, Any]] = [
            {"term": {name: getattr(flt, name)}}
            for name in ("status", "channel", "customer_id", "priority", "sentiment", "lang")
            if getattr(flt, name)]
        if flt.tag:
            filters.append({"term": {"tags": flt.tag}})
        if flt.assignee == "none":
            filters.append({"bool": {"must_not": [{"exists": {"field": "assignee"}}]}})
        elif flt.assignee:
            filters.append({"term": {"assignee": flt.assignee}})
        for field, since, until in (("created_at", flt.created_since, flt.created_until),
                                    ("awaiting_since", flt.awaiting_after, flt.awaiting_before)):
            bounds = {op: ts(value) for op, value in (("gte", since), ("lt", until)) if value}
            if bounds:
                filters.append({"range": {field: bounds}})
        if flt.care:
            filters.append({"bool": {"must_not": [{"terms": {"status": ["listening",
                                                                        "merged"]}}]}})
        if flt.response is not None:
            filters += RESPONSES[flt.response]
        sort, order_filters = conversation_order(flt.order)
        hits, nxt, _ = await self._page("conversations",
                                        {"bool": {"filter": filters + order_filters}},
                                        sort, cursor, limit)
        return Page(tuple(from_doc(Conversation, h["_source"]) for h in hits), nxt)

    async def care_conversations(self, customer_ids: Sequence[str], active_since: datetime,
                                 created_by: datetime) -> list[RecentConversation]:
        """Every care conversation active since then (the port allows more than the ones
        down to the first created by `created_by`)."""
        if not customer_ids:
            return []
        query = {"bool": {"filter": [{"terms": {"customer_id": list(customer_ids)}},
                                     {"range": {"last_message_at": {"gte": ts(active_since)}}}],
                          "must_not": [{"terms": {"status": [Status.LISTENING.value,
                                                             Status.MERGED.value]}}]}}
        hits = await self._scan("conversations", query, [{"id": "asc"}], source=list(RECENT_FIELDS))
        return [from_doc(RecentConversation, h["_source"]) for h in hits]

    async def conversation_messages(self, conversation_id: str) -> tuple[Message, ...]:
        hits = await self._scan("messages", {"term": {"conversation_id": conversation_id}},
                                OLDEST_FIRST)
        return tuple(from_doc(Message, h["_source"]) for h in hits)

    async def get_customer(self, customer_id: str) -> Customer:
        found = await self.customers_by_ids([customer_id])
        if customer_id not in found:
            raise NotFound(f"no customer {customer_id}")
        return found[customer_id]

    async def customers_by_ids(self, ids: Sequence[str]) -> dict[str, Customer]:
        found = await self._mget("customers", ids)
        idents = await self._identities_of(list(found)) if found else {}
        return {cid: from_doc(Customer, hit["_source"], identities=idents.get(cid, ()))
                for cid, hit in found.items()}

    async def customer_messages(
        self, customer_id: str, cursor: str | None, limit: int
    ) -> Page[Message]:
        hits, nxt, _ = await self._page("messages", {"term": {"customer_id": customer_id}},
                                        MESSAGE_ORDER, cursor, limit)
        return Page(tuple(from_doc(Message, h["_source"]) for h in hits), nxt)

    async def customer_history(
        self, customer_id: str, cursor: str | None, limit: int
    ) -> Page[Message]:
        convs = await self._scan("conversations", {"term": {"customer_id": customer_id}},
                                 [{"id": "asc"}], source=False)
        query = {"bool": {"should": [
            {"term": {"customer_id": customer_id}},
            {"terms": {"conversation_id": [h["_id"] for h in convs]}}],
            "minimum_should_match": 1}}
        hits, nxt, _ = await self._page("messages", query, MESSAGE_ORDER, cursor, limit)
        return Page(tuple(from_doc(Message, h["_source"]) for h in hits), nxt)

    async def pending_outbound(self, limit: int) -> tuple[Message, ...]:
        resp = await self._search("messages", "read outbox", size=limit, sort=OLDEST_FIRST,
                                  query={"terms": {"delivery": ["pending", "failed"]}})
        return tuple(from_doc(Message, h["_source"]) for h in resp["hits"]["hits"])

