"""The Store on Elasticsearch (official async client), for scale-out deployments.

Layout: one index per kind behind an alias (see elastic_mappings); messages carry a copy of
their conversation's status, assignee and tags so search can filter on them.

Atomicity: Elasticsearch has no transactions. write() first reads everything the batch
depends on (stored versions, taken identities, where each message lives) and raises
ConflictError before anything is written. A document the client cannot encode is refused
(StoreRefused naming it) before anything is sent. Then the batch goes out in three bulk
requests: customers; identities and conversations; thread keys and messages. A phase runs
only when the earlier ones were applied whole; when one fails (a lost race, a document the
cluster refuses, the cluster failing half-way), write() undoes what it applied (deletes
what it created, puts back what it replaced) and raises ConflictError, StoreRefused (with
the refused documents' ids) or StoreUnavailable. The undo is best effort: if the cluster
is gone by then, a retry of the batch (idempotent upserts) converges.
Writes through an alias carry require_alias: a lost index is an error, never an index
auto-created without the mappings.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from elastic_transport import SerializationError, TransportError
from elasticsearch import ApiError, AsyncElasticsearch

from inbox.errors import (
    AuthFailed,
    ConflictError,
    FatalError,
    InboxError,
    NotFound,
    QueryError,
    StoreRefused,
    StoreUnavailable,
)
from inbox.model import (
    Conversation,
    ConversationFilter,
    Customer,
    Identity,
    Message,
    Page,
    QueryNode,
    SearchResult,
    SlaRow,
    ts,
)
from inbox.store import COLLECTIONS, EXPORT_KINDS, WriteBatch
from search.elastic_docs import (
    classify,
    denormalized,
    error_parts,
    from_doc,
    json_object,
    public_fields,
    to_doc,
)
from search.elastic_mappings import (
    KINDS,
    SETTINGS,
    alias_name,
    index_name,
    index_number,
    mappings,
)
from search.elastic_query import (
    SLA_PERCENTS,
    compile_query,
    conversation_order,
    decode_cursor,
    encode_cursor,
    facet_aggs,
    facet_values,
    interpolation_rank,
    sla_aggs,
    sla_group_filter,
    sla_query,
    sla_rows,
)

log = logging.getLogger(__name__)

Hit = dict[str, Any]
MESSAGE_ORDER = [{"created_at": "desc"}, {"id": "desc"}]
OLDEST_FIRST = [{"created_at": "asc"}, {"id": "asc"}]
SCAN_PAGE = 1000
PIT_KEEP_ALIVE = "2m"
_EXPORT_KEY = {"customers": "id", "conversations": "id", "messages": "id",
               "identities": "key", "thread_keys": "key"}


def translate(exc: Exception, action: str) -> Exception:
    """A client error as the inbox error that tells the caller what to do."""
    if isinstance(exc, ApiError):
        etype, reason = error_parts(exc.body)
        return classify(exc.status_code, etype or str(exc.error), reason, action)
    if isinstance(exc, SerializationError):
        return FatalError(f"Elasticsearch {action}: unreadable response: {exc}")
    if isinstance(exc, TransportError):  # connection refused or reset, timeout, TLS
        return StoreUnavailable(f"Elasticsearch unreachable ({action}): {exc}")
    return exc


@contextmanager
def _calling(action: str) -> Iterator[None]:
    """Translate client errors into inbox errors; nothing is swallowed."""
    try:
        yield
    except (ApiError, TransportError) as exc:
        raise translate(exc, action) from exc


def identity_id(kind: str, value: str) -> str:
    return f"{kind}:{value}"


def _kv_id(collection: str, key: str) -> str:
    return f"{collection}:{key}"


def _check_version(obj: Customer | Conversation, hit: Hit | None, what: str) -> None:
    if obj.version == 1 and hit is not None:
        raise ConflictError(f"{what} {obj.id} already exists")
    if obj.version > 1 and (hit is None or hit["_source"].get("version") != obj.version - 1):
        raise ConflictError(f"{what} {obj.id} was changed by someone else; reload it")


class ElasticStore:
    """Store on Elasticsearch: aliased indices, one bulk per batch, search_after pages."""

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        ca_certs: str | None = None,
        index_prefix: str = "inbox",
        client_kwargs: Mapping[str, Any] | None = None,
        refresh: bool | str = True,
    ) -> None:
        self.url = url
        self.prefix = index_prefix
        # Reads right after write() must see the batch (the Store contract): searches only
        # see refreshed segments, so every write refreshes. "wait_for" is gentler on a busy
        # cluster but waits up to the refresh interval (1 s) per call.
        self.refresh = refresh
        self._client_args: dict[str, Any] = dict(client_kwargs or {})
        for name, value in (("api_key", api_key), ("basic_auth", basic_auth),
                            ("ca_certs", ca_certs)):
            if value is not None:
                self._client_args[name] = value
        self._es: AsyncElasticsearch | None = None
        self._pit_supported = True
        self._nearest_rank_percentiles: bool | None = None  # see _exact_percentiles
        self._backing: list[str] | None = None  # indices behind the messages alias

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def client(self) -> AsyncElasticsearch:
        if self._es is None:
            raise StoreUnavailable("the Elasticsearch store is not open")
        return self._es

    def alias(self, kind: str) -> str:
        return alias_name(self.prefix, kind)

    async def open(self) -> None:
        if self._es is None:
            self._es = AsyncElasticsearch(self.url, **self._client_args)
        try:
            for kind in KINDS:
                await self._ensure_index(kind)
        except BaseException:
            await self.aclose()
            raise

    async def _ensure_index(self, kind: str) -> None:
        alias = self.alias(kind)
        with _calling("open"):
            if await self.client.indices.exists_alias(name=alias):
                await self._add_new_fields(kind)
                if kind == "messages":
                    await self._check_public_copies()
                return
            try:
                await self.client.indices.create(
                    index=index_name(self.prefix, kind, 1), settings=SETTINGS,
                    mappings=mappings(kind), aliases={alias: {"is_write_index": True}})
            except ApiError as exc:
                if exc.error != "resource_already_exists_exception":  # another process won
                    raise

    async def _check_public_copies(self) -> None:
        """Warn when messages indexed by an older version lack the public copy (who may not
        see contacts cannot find them until `inbox migrate --reindex` writes it)."""
        resp = await self.client.count(index=self.alias("messages"), query={"bool": {
            "filter": [{"exists": {"field": "text"}}],
            "must_not": [{"exists": {"field": "public_text"}}]}})
        if resp["count"]:
            log.warning("messages without their public copy: run `inbox migrate --reindex`",
                        extra={"messages": resp["count"]})

    async def _add_new_fields(self, kind: str) -> None:
        """Put the current mapping on the existing indices: fields added since they were
        created become searchable. Changed fields need reindex(); so does a role without the
        `manage` privilege on the indices. Both only log, so reindex() can still open."""
        try:
            await self.client.indices.put_mapping(index=self.alias(kind),
                                                  properties=mappings(kind)["properties"])
        except ApiError as exc:
            if exc.status_code not in (400, 403):
                raise
            etype, reason = error_parts(exc.body)
            log.warning("index mapping not updated; run reindex",
                        extra={"kind": kind, "error": etype, "reason": reason})

    async def aclose(self) -> None:
        if self._es is not None:
            es, self._es = self._es, None
            await es.close()

    async def delete_indices(self) -> None:
        """Drop every index of this prefix (tests, a fresh demo); the store may be closed."""
        es = self._es or AsyncElasticsearch(self.url, **self._client_args)
        try:
            with _calling("delete indices"):
                patterns = ",".join(f"{self.prefix}-{kind}-*" for kind in KINDS)
                await es.options(ignore_status=404).indices.delete(
                    index=patterns, expand_wildcards="all")
        finally:
            if es is not self._es:
                await es.close()

    # --- low-level reads ------------------------------------------------------------------

    async def _mget(self, kind: str, ids: Sequence[str]) -> dict[str, Hit]:
        """Stored documents by id (realtime: no refresh needed), with seq_no/primary_term."""
        if not ids:
            return {}
        with _calling(f"read {kind}"):
            resp = await self.client.mget(index=self.alias(kind), ids=list(dict.fromkeys(ids)))
        return {d["_id"]: d for d in resp["docs"] if d.get("found")}

    async def _search(self, kind: str | None, action: str, **body: Any) -> dict[str, Any]:
        with _calling(action):
            if kind is None:  # a point-in-time search names no index
                resp = await self.client.search(**body)
            else:
                resp = await self.client.search(index=self.alias(kind), **body)
        return dict(resp.body)

    async def _scan(
        self, kind: str, query: dict[str, Any], sort: list[Any], source: Any = True
    ) -> list[Hit]:
        """Every hit of a query, in pages on search_after."""
        hits: list[Hit] = []
        after: list[Any] | None = None
        while True:
            extra = {"search_after": after} if after else {}
            resp = await self._search(kind, f"read {kind}", query=query, sort=sort,
                                      size=SCAN_PAGE, source=source, **extra)
            page = resp["hits"]["hits"]
            hits.extend(page)
            if len(page) < SCAN_PAGE:
                return hits
            after = page[-1]["sort"]

    async def _message_indices(self) -> list[str]:
        """The concrete indices behind the messages alias (several after a rollover)."""
        if self._backing is None:
            try:
                resp = await self.client.indices.get_alias(name=self.alias("messages"))
            except ApiError as exc:
                if exc.status_code == 404:  # "alias [...] missing": the indices are gone
                    raise classify(404, "index_not_found_exception", str(exc.body),
                                   "read aliases") from exc
                raise translate(exc, "read aliases") from exc
            except TransportError as exc:
                raise translate(exc, "read aliases") from exc
            self._backing = sorted(resp.body)
        return self._backing

    async def _messages_where(self, ids: Sequence[str], source: Any) -> list[Hit]:
        """Message hits by id across every backing index, realtime (mget, not search: a
        message written a moment ago without a refresh is found, so it is never doubled)."""
        unique = list(dict.fromkeys(ids))
        if not unique:
            return []
        indices = await self._message_indices()
        hits: list[Hit] = []
        for start in range(0, len(unique), SCAN_PAGE):
            docs = [{"_index": index, "_id": doc_id, "_source": source}
                    for doc_id in unique[start:start + SCAN_PAGE] for index in indices]
            with _calling("read messages"):
                resp = await self.client.mget(docs=docs)
            hits.extend(d for d in resp["docs"] if d.get("found"))
        return hits

    async def _page(
        self, kind: str, query: dict[str, Any], sort: list[Any], cursor: str | None, limit: int,
        **extra: Any,
    ) -> tuple[list[Hit], str | None, dict[str, Any]]:
        """One keyset page on search_after; later pages read a point in time when possible."""
        after, pit = decode_cursor(cursor) if cursor else (None, None)
        body: dict[str, Any] = {"query": query, "sort": sort, "size": limit + 1, **extra}
        try:
            resp = await self._pit_search(pit, body, after) if pit else None
            if resp is None:
                pit = None
                if after:
                    body["search_after"] = after[:len(sort)]
                resp = await self._search(kind, f"search {kind}", **body)
        except FatalError as exc:  # the cluster refuses the cursor's values (a 4xx)
            if cursor and not isinstance(exc, AuthFailed):
                raise QueryError("invalid cursor", 0, cursor) from exc
            raise
        hits = resp["hits"]["hits"]
        if len(hits) <= limit or limit < 1:
            if pit:
                await self._close_pit(pit)
            return hits[:limit], None, resp
        hits = hits[:limit]
        pit = resp.get("pit_id", pit) if pit else await self._open_pit(kind)
        return hits, encode_cursor(hits[-1]["sort"], pit), resp

    async def _pit_search(
        self, pit: str, body: dict[str, Any], after: list[Any] | None
    ) -> dict[str, Any] | None:
        """The next page inside a point in time; None when it expired (page without one)."""
        # An explicit tiebreaker keeps the sort values at a known length. The first page was
        # read without a PIT (two values): -1 puts its last hit before every shard doc.
        sort = [*body["sort"], {"_shard_doc": "desc"}]
        if after and len(after) == len(body["sort"]):
            after = [*after, -1]
        extra = {"search_after": after} if after else {}
        try:
            resp = await self.client.search(**{**body, "sort": sort, **extra},
                                            pit={"id": pit, "keep_alive": PIT_KEEP_ALIVE})
        except ApiError as exc:
            if exc.status_code == 404:  # the point in time expired
                return None
            raise translate(exc, "search") from exc
        except TransportError as exc:
            raise translate(exc, "search") from exc
        return dict(resp.body)

    async def _open_pit(self, kind: str) -> str | None:
        if not self._pit_supported:
            return None
        try:
            resp = await self.client.open_point_in_time(index=self.alias(kind),
                                                        keep_alive=PIT_KEEP_ALIVE)
        except ApiError as exc:
            if exc.status_code not in (400, 404, 405, 501):
                raise translate(exc, "open point in time") from exc
            # osmem-server (like OpenSearch) has no /_pit endpoint: search_after on the
            # unique sort keys alone still pages without gaps or repeats.
            log.info("point in time unsupported, paging without it",
                     extra={"status": exc.status_code})
            self._pit_supported = False
            return None
        except TransportError as exc:
            raise translate(exc, "open point in time") from exc
        return str(resp["id"])

    async def _close_pit(self, pit: str) -> None:
        with _calling("close point in time"):
            await self.client.options(ignore_status=404).close_point_in_time(id=pit)

    # --- writes ---------------------------------------------------------------------------

    async def write(self, batch: WriteBatch) -> None:
        await self._apply(batch, checked=True)

    async def restore(self, batch: WriteBatch) -> None:
        """Write documents as they are (no version or identity checks): migrations, backups."""
        await self._apply(batch, checked=False)

    async def _apply(self, batch: WriteBatch, checked: bool) -> None:
        batch_convs = {c.id: c for c in batch.conversations}
        other_convs = [m.conversation_id for m in batch.messages
                       if m.conversation_id not in batch_convs]
        stored_convs = await self._mget("conversations", [*batch_convs, *other_convs])
        stored_custs = await self._mget("customers", [c.id for c in batch.customers])
        ident_ids = [identity_id(i.kind, i.value) for i in batch.identities]
        if checked:
            for cust in batch.customers:
                _check_version(cust, stored_custs.get(cust.id), "customer")
            for conv in batch.conversations:
                _check_version(conv, stored_convs.get(conv.id), "conversation")
            taken = await self._mget("identities", ident_ids)
            if taken:
                raise ConflictError(f"identity {next(iter(taken))} already belongs to a customer")
        located = {h["_id"]: h for h in
                   await self._messages_where([m.id for m in batch.messages], source=True)}
        state: dict[str, dict[str, Any]] = {
            cid: denormalized(hit["_source"]) for cid, hit in stored_convs.items()}
        state.update({cid: denormalized(conv) for cid, conv in batch_convs.items()})
        restamp = await self._restamp(batch, stored_convs, state)

        ops: list[_BulkOp] = []
        for cust in batch.customers:
            old = stored_custs.get(cust.id)
            ops.append(_BulkOp(0, "customer", *self._versioned(cust, old, checked),
                               to_doc(cust, skip=("identities",)), cust.id,
                               old["_source"] if old else None))
        for ident, doc_id in zip(batch.identities, ident_ids, strict=True):
            ops.append(_BulkOp(1, "identity", "create" if checked else "index",
                               {"_index": self.alias("identities"), "_id": doc_id},
                               {**to_doc(ident), "key": doc_id}, ident.customer_id, None))
        for conv in batch.conversations:
            old = stored_convs.get(conv.id)
            ops.append(_BulkOp(1, "conversation", *self._versioned(conv, old, checked),
                               to_doc(conv), conv.id, old["_source"] if old else None))
        for key, conversation_id in batch.thread_keys:
            ops.append(_BulkOp(2, "thread_key", "create",
                               {"_index": self.alias("thread_keys"), "_id": key},
                               {"key": key, "conversation_id": conversation_id},
                               conversation_id, None))
        for msg in batch.messages:
            hit = located.get(msg.id)
            meta = ({"_index": hit["_index"], "_id": msg.id} if hit else
                    {"_index": self.alias("messages"), "_id": msg.id})
            ops.append(_BulkOp(2, "message", "index", meta,
                               {**to_doc(msg), **public_fields(msg.text, msg.subject),
                                **state.get(msg.conversation_id,
                                                           denormalized(None))},
                               msg.id, hit["_source"] if hit else None))
        for index, msg_id, fields, old_fields in restamp:
            ops.append(_BulkOp(2, "message", "update",
                               {"_index": index, "_id": msg_id, "retry_on_conflict": 3},
                               {"doc": fields}, msg_id, old_fields))
        await self._bulk_in_phases(ops, self.refresh if batch.visible else False)

    async def _bulk_in_phases(self, ops: list[_BulkOp], refresh: bool | str) -> None:
        """Customers, then identities and conversations, then thread keys and messages: a
        later phase only runs when the earlier ones were applied whole, so no identity
        outlives its customer and no message its conversation. A failed phase undoes what
        this write applied, then raises (StoreRefused names the refused documents)."""
        unsendable = [op.owner for op in ops if not _sendable(op.doc)]
        if unsendable:
            raise StoreRefused(f"Elasticsearch cannot take {len(unsendable)} document(s): "
                               "not encodable as JSON", tuple(dict.fromkeys(unsendable)))
        applied: list[tuple[_BulkOp, Hit]] = []
        for phase in (0, 1, 2):
            part = [op for op in ops if op.phase == phase]
            if not part:
                continue
            body = [line for op in part for line in ({op.action: op.bulk_meta()}, op.doc)]
            with _calling("write"):
                resp = await self.client.bulk(operations=body, refresh=refresh)
            results = [next(iter(item.values())) for item in resp["items"]]
            applied += [(op, r) for op, r in zip(part, results, strict=True)
                        if "error" not in r]
            problem = _bulk_problem(part, results) if resp["errors"] else None
            if problem is not None:
                await self._undo(applied, refresh)
                raise problem

    async def _undo(self, applied: list[tuple[_BulkOp, Hit]], refresh: bool | str) -> None:
        """Best effort: delete what this write created, put back what it replaced."""
        body: list[dict[str, Any]] = []
        for op, result in reversed(applied):
            where = {"_index": result["_index"], "_id": result["_id"]}
            if op.before is None:
                body.append({"delete": where})
            elif op.action == "update":
                body += [{"update": where}, {"doc": op.before}]
            else:
                body += [{"index": {**where, "if_seq_no": result["_seq_no"],
                                    "if_primary_term": result["_primary_term"]}}, op.before]
        if not body:
            return
        try:
            resp = await self.client.bulk(operations=body, refresh=refresh)
            failed = sum(1 for item in resp["items"] if "error" in next(iter(item.values())))
        except (ApiError, TransportError) as exc:
            failed = len(applied)
            log.error("undo of a failed write failed", extra={"error": str(exc)})
        if failed:
            log.error("a failed write was not fully undone",
                      extra={"left": failed, "ops": len(applied)})

    def _versioned(
        self, obj: Customer | Conversation, hit: Hit | None, checked: bool
    ) -> tuple[str, dict[str, Any]]:
        kind = "customers" if isinstance(obj, Customer) else "conversations"
        meta: dict[str, Any] = {"_index": self.alias(kind), "_id": obj.id}
        if not checked:
            return "index", meta
        if obj.version == 1:
            return "create", meta
        assert hit is not None  # _check_version passed
        return "index", {**meta, "if_seq_no": hit["_seq_no"],
                         "if_primary_term": hit["_primary_term"]}

    async def _restamp(
        self, batch: WriteBatch, stored: dict[str, Hit], state: dict[str, dict[str, Any]]
    ) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
        """(index, message id, new fields, old fields) for stored messages whose
        conversation fields change."""
        in_batch = {m.id for m in batch.messages}
        found: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
        for conv in batch.conversations:
            old = stored.get(conv.id)
            if old is None or denormalized(old["_source"]) == state[conv.id]:
                continue
            before = denormalized(old["_source"])
            hits = await self._scan("messages", {"term": {"conversation_id": conv.id}},
                                    [{"id": "asc"}], source=False)
            found.extend((h["_index"], h["_id"], state[conv.id], before) for h in hits
                         if h["_id"] not in in_batch)
        return found

    # --- reads ----------------------------------------------------------------------------

    async def messages_by_ids(self, ids: Sequence[str]) -> dict[str, Message]:
        hits = await self._messages_where(ids, source=True)
        return {h["_id"]: from_doc(Message, h["_source"]) for h in hits}

    async def identities(self, refs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Identity]:
        found = await self._mget("identities", [identity_id(k, v) for k, v in refs])
        return {(k, v): from_doc(Identity, found[identity_id(k, v)]["_source"])
                for k, v in refs if identity_id(k, v) in found}

    async def thread_keys(self, keys: Sequence[str]) -> dict[str, str]:
        found = await self._mget("thread_keys", keys)
        return {key: str(doc["_source"]["conversation_id"]) for key, doc in found.items()}

    async def conversations_by_ids(self, ids: Sequence[str]) -> dict[str, Conversation]:
        found = await self._mget("conversations", ids)
        return {cid: from_doc(Conversation, doc["_source"]) for cid, doc in found.items()}

    async def get_conversation(self, conversation_id: str) -> Conversation:
        found = await self._mget("conversations", [conversation_id])
        if conversation_id not in found:
            raise NotFound(f"no conversation {conversation_id}")
        return from_doc(Conversation, found[conversation_id]["_source"])

    async def list_conversations(
        self, flt: ConversationFilter, cursor: str | None, limit: int
    ) -> Page[Conversation]:
        filters: list[dict[str, Any]] = [
            {"term": {name: getattr(flt, name)}} for name in ("status", "channel", "customer_id")
            if getattr(flt, name)]
        if flt.assignee == "none":
            filters.append({"bool": {"must_not": [{"exists": {"field": "assignee"}}]}})
        elif flt.assignee:
            filters.append({"term": {"assignee": flt.assignee}})
        sort, order_filters = conversation_order(flt.order)
        hits, nxt, _ = await self._page("conversations",
                                        {"bool": {"filter": filters + order_filters}},
                                        sort, cursor, limit)
        return Page(tuple(from_doc(Conversation, h["_source"]) for h in hits), nxt)

    async def active_conversations(self, customer_ids: Sequence[str], since: datetime
                                   ) -> list[Conversation]:
        if not customer_ids:
            return []
        query = {"bool": {"filter": [{"terms": {"customer_id": list(customer_ids)}},
                                     {"range": {"last_message_at": {"gte": ts(since)}}}]}}
        hits = await self._scan("conversations", query, [{"id": "asc"}])
        return [from_doc(Conversation, h["_source"]) for h in hits]

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

    async def _identities_of(self, customer_ids: Sequence[str]) -> dict[str, tuple[Identity, ...]]:
        hits = await self._scan("identities", {"terms": {"customer_id": list(customer_ids)}},
                                [{"created_at": "asc"}, {"key": "asc"}])
        grouped: dict[str, list[Identity]] = {}
        for hit in hits:
            ident = from_doc(Identity, hit["_source"])
            grouped.setdefault(ident.customer_id, []).append(ident)
        return {cid: tuple(items) for cid, items in grouped.items()}

    async def customer_messages(
        self, customer_id: str, cursor: str | None, limit: int
    ) -> Page[Message]:
        hits, nxt, _ = await self._page("messages", {"term": {"customer_id": customer_id}},
                                        MESSAGE_ORDER, cursor, limit)
        return Page(tuple(from_doc(Message, h["_source"]) for h in hits), nxt)

    async def search(
        self,
        query: QueryNode | None,
        cursor: str | None,
        limit: int,
        facets: Sequence[str] = (),
        public: bool = False,
    ) -> SearchResult:
        extra: dict[str, Any] = {"track_total_hits": True}
        aggs = facet_aggs(facets)
        if aggs:
            extra["aggs"] = aggs
        hits, nxt, resp = await self._page("messages", compile_query(query, public),
                                           MESSAGE_ORDER,
                                           cursor, limit, **extra)
        return SearchResult(
            messages=tuple(from_doc(Message, h["_source"]) for h in hits),
            next_cursor=nxt,
            total=int(resp["hits"]["total"]["value"]),
            facets=facet_values(facets, resp.get("aggregations", {})),
        )

    async def sla_report(self, since: datetime, until: datetime) -> tuple[SlaRow, ...]:
        """Counted by the cluster: one aggregation per group. The percentiles are TDigest
        estimates (exact for small groups, close for large ones), not SQLite's exact
        interpolation."""
        resp = await self._search("conversations", "SLA report", size=0,
                                  query=sla_query(since, until), aggs=sla_aggs())
        rows, truncated = sla_rows(resp["aggregations"])
        if truncated:
            log.warning("SLA report groups cut short (more keys than buckets)",
                        extra={"groups": truncated})
        if await self._percentiles_are_nearest_rank():
            rows = tuple([await self._exact_percentiles(since, until, row) for row in rows])
        return rows

    async def _percentiles_are_nearest_rank(self) -> bool:
        """True on osmem-server only. Elasticsearch's digest is exact for small groups
        (linear interpolation between ranks, as SQLite); osmem-server's percentiles
        aggregation answers the nearest rank instead (the median of 600..6000 in steps
        of 600 is 3600, not 3300), off by a whole rank for small groups."""
        if self._nearest_rank_percentiles is None:
            with _calling("info"):
                info = await self.client.info()
            self._nearest_rank_percentiles = info["version"].get("build_hash") == "osmem"
        return self._nearest_rank_percentiles

    async def _exact_percentiles(self, since: datetime, until: datetime, row: SlaRow) -> SlaRow:
        """osmem-server fallback: the row's percentiles from the two values next to each
        rank, read with sorted searches (one per percentile), as the SQLite store does."""
        first = await self._exact(since, until, row, "first_response_seconds", row.answered)
        done = await self._exact(since, until, row, "resolution_seconds", row.resolved)
        if first:
            row = replace(row, p50=first[0], p90=first[1], p95=first[2])
        if done:
            row = replace(row, resolution_p50=done[0], resolution_p90=done[1])
        return row

    async def _exact(self, since: datetime, until: datetime, row: SlaRow, field: str,
                     count: int) -> list[float] | None:
        if not count:
            return None
        query = {"bool": {"filter": [sla_query(since, until), sla_group_filter(row.group, row.key),
                                     {"exists": {"field": field}}]}}
        found = []
        for percent in SLA_PERCENTS:
            low, weight = interpolation_rank(count, percent)
            resp = await self._search("conversations", "SLA report", query=query, from_=low,
                                      size=2, sort=[{field: "asc"}, {"id": "asc"}],
                                      source=[field])
            near = [float(h["_source"][field]) for h in resp["hits"]["hits"]]
            if not near:
                return None  # changed under us: keep the aggregation's figures
            found.append(near[0] + weight * (near[-1] - near[0]))
        return found

    async def trending(self, query: QueryNode | None, size: int = 10, public: bool = False
                       ) -> list[tuple[str, float]]:
        """Words unusually frequent in the matching messages compared with all messages,
        from the public copy of the text (no contact is a trend)."""
        aggs = {"sample": {"sampler": {"shard_size": 2000}, "aggs": {"words": {
            "significant_text": {"field": "public_text", "size": size,
                                 "filter_duplicate_text": True}}}}}
        resp = await self._search("messages", "trending", query=compile_query(query, public),
                                  size=0, aggs=aggs)
        buckets = resp["aggregations"]["sample"]["words"]["buckets"]
        return [(str(b["key"]), float(b["score"])) for b in buckets]

    async def volume(self, query: QueryNode | None, interval: str = "day",
                     public: bool = False) -> list[tuple[str, int]]:
        """Matching messages per calendar interval (minute/hour/day/week/month/...), UTC."""
        aggs = {"volume": {"date_histogram": {"field": "created_at",
                                              "calendar_interval": interval}}}
        resp = await self._search("messages", "volume", query=compile_query(query, public),
                                  size=0, aggs=aggs)
        out = []
        for bucket in resp["aggregations"]["volume"]["buckets"]:
            start = datetime.fromtimestamp(int(bucket["key"]) / 1000, UTC)
            label = start.isoformat() if interval in ("minute", "1m", "hour", "1h") else \
                start.date().isoformat()
            out.append((label, int(bucket["doc_count"])))
        return out

    async def pending_outbound(self, limit: int) -> tuple[Message, ...]:
        resp = await self._search("messages", "read outbox", size=limit, sort=OLDEST_FIRST,
                                  query={"terms": {"delivery": ["pending", "failed"]}})
        return tuple(from_doc(Message, h["_source"]) for h in resp["hits"]["hits"])

    # --- auxiliary collections -------------------------------------------------------------

    async def kv_get(self, collection: str, key: str) -> dict[str, Any] | None:
        found = await self._mget("kv", [_kv_id(collection, key)])
        hit = found.get(_kv_id(collection, key))
        return None if hit is None else dict(hit["_source"]["value"])

    def _kv_doc(self, collection: str, key: str, value: Mapping[str, Any]) -> dict[str, Any]:
        return {"collection": collection, "key": key, "value": json_object(value)}

    async def kv_put(self, collection: str, key: str, value: Mapping[str, Any]) -> None:
        with _calling("kv put"):
            await self.client.index(index=self.alias("kv"), id=_kv_id(collection, key),
                                    document=self._kv_doc(collection, key, value),
                                    refresh=self.refresh, require_alias=True)

    async def kv_put_new(self, collection: str, key: str, value: Mapping[str, Any]) -> bool:
        try:
            with _calling("kv put"):
                await self.client.create(index=self.alias("kv"), id=_kv_id(collection, key),
                                         document=self._kv_doc(collection, key, value),
                                         refresh=self.refresh, require_alias=True)
        except ConflictError:
            return False
        return True

    async def kv_swap(self, collection: str, key: str, expected: Mapping[str, Any] | None,
                      value: Mapping[str, Any]) -> bool:
        if expected is None:
            return await self.kv_put_new(collection, key, value)
        doc_id = _kv_id(collection, key)
        hit = (await self._mget("kv", [doc_id])).get(doc_id)
        if hit is None or hit["_source"]["value"] != json_object(expected):
            return False
        try:
            with _calling("kv swap"):
                await self.client.index(index=self.alias("kv"), id=doc_id,
                                        document=self._kv_doc(collection, key, value),
                                        if_seq_no=hit["_seq_no"],
                                        if_primary_term=hit["_primary_term"],
                                        refresh=self.refresh, require_alias=True)
        except ConflictError:
            return False
        return True

    async def kv_delete(self, collection: str, key: str) -> None:
        with _calling("kv delete"):
            await self.client.options(ignore_status=404).delete(
                index=self.alias("kv"), id=_kv_id(collection, key), refresh=self.refresh)

    async def kv_list(
        self, collection: str, after: str | None, limit: int
    ) -> list[tuple[str, dict[str, Any]]]:
        filters: list[dict[str, Any]] = [{"term": {"collection": collection}}]
        if after:
            filters.append({"range": {"key": {"gt": after}}})
        resp = await self._search("kv", "kv list", query={"bool": {"filter": filters}},
                                  sort=[{"key": "asc"}], size=limit)
        return [(h["_source"]["key"], dict(h["_source"]["value"])) for h in resp["hits"]["hits"]]

    # --- migration --------------------------------------------------------------------------

    async def counts(self) -> dict[str, int]:
        found = {}
        with _calling("count"):
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


@dataclass(frozen=True, slots=True)
class _BulkOp:
    phase: int  # 0 customers, 1 identities and conversations, 2 thread keys and messages
    kind: str
    action: str  # create | index | update
    meta: dict[str, Any]
    doc: dict[str, Any]
    owner: str  # the document named when the store refuses this op
    before: dict[str, Any] | None  # what it replaces (None: a new document)

    def bulk_meta(self) -> dict[str, Any]:
        """Writes through an alias require it: a lost index is an error, never a new index
        without our mappings (Elasticsearch creates a missing index on write)."""
        if self.action != "update" and not _concrete(self.meta["_index"]):
            return {**self.meta, "require_alias": True}
        return self.meta


def _concrete(index: str) -> bool:
    return index_number(index) > 0


def _sendable(doc: Mapping[str, Any]) -> bool:
    """Can the client encode this document (no lone surrogates, only JSON values)?"""
    try:
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except (ValueError, TypeError, RecursionError):
        return False
    return True


def _bulk_problem(ops: Sequence[_BulkOp], results: Sequence[Mapping[str, Any]]
                  ) -> InboxError | None:
    """The error a bulk's failed items amount to: unavailable first, then conflicts, then
    credentials, then the documents the cluster refused (400: mapping, parsing, size)."""
    problems: list[InboxError] = []
    refused: list[str] = []
    for op, result in zip(ops, results, strict=True):
        if "error" not in result:
            continue
        status = int(result.get("status", 0))
        if op.kind == "thread_key" and status == 409:
            continue  # an existing key keeps its conversation
        etype, reason = error_parts(result)
        problem = classify(status, etype, f"{op.kind} {result.get('_id')}: {reason}", "write")
        if isinstance(problem, StoreUnavailable | ConflictError | AuthFailed):
            problems.append(problem)
        else:
            refused.append(op.owner)
            problems.append(StoreRefused(str(problem)))
    if not problems:
        return None
    conflicts_only = all(isinstance(p, ConflictError) for p in problems)  # a lost race: normal
    log.log(logging.INFO if conflicts_only else logging.WARNING, "bulk write partly failed",
            extra={"failed": len(problems), "ops": len(ops)})
    for wanted in (StoreUnavailable, ConflictError, AuthFailed):
        for problem in problems:
            if isinstance(problem, wanted):
                return problem
    first = next(p for p in problems if isinstance(p, StoreRefused))
    return StoreRefused(f"{len(refused)} document(s) refused, e.g. {first}",
                        tuple(dict.fromkeys(refused)))


async def _fill_public_copies(es: AsyncElasticsearch, index: str) -> None:
    """Write the public copy of text and subject on every message of `index` (those
    indexed before the copy existed have none, so who may not see contacts misses them)."""
    after: list[Any] | None = None
    while True:
        resp = await es.search(index=index, query={"match_all": {}}, sort=[{"id": "asc"}],
                               size=SCAN_PAGE, source_includes=["text", "subject"],
                               search_after=after)
        hits = resp["hits"]["hits"]
        if not hits:
            break
        ops: list[Mapping[str, Any]] = []
        for hit in hits:
            source = hit.get("_source") or {}
            ops += [{"update": {"_index": index, "_id": hit["_id"]}},
                    {"doc": public_fields(source.get("text"), source.get("subject"))}]
        done = (await es.bulk(operations=ops, refresh=False)).body
        if done.get("errors"):
            raise StoreUnavailable(f"reindex messages: the public copy was refused: "
                                   f"{_first_bulk_error(done)}")
        after = hits[-1]["sort"]
    await es.indices.refresh(index=index)


def _first_bulk_error(resp: Mapping[str, Any]) -> str:
    for item in resp.get("items", ()):
        for result in item.values():
            if result.get("error"):
                return str(result["error"])[:500]
    return "unknown error"


async def reindex(
    store: ElasticStore, kinds: Sequence[str] = KINDS, delete_old: bool = False
) -> dict[str, str]:
    """Move each kind to a new numbered index with the current mappings and swap its alias.

    Run it with writers stopped: documents written during the copy are not carried over.
    Returns the new concrete index per kind.
    """
    es = store.client
    moved = {}
    for kind in kinds:
        alias = store.alias(kind)
        with _calling(f"reindex {kind}"):
            current = list((await es.indices.get_alias(name=alias)).body)
            new = index_name(store.prefix, kind, max(map(index_number, current)) + 1)
            await es.indices.create(index=new, settings=SETTINGS, mappings=mappings(kind))
            await es.options(request_timeout=3600).reindex(
                source={"index": alias}, dest={"index": new}, wait_for_completion=True,
                refresh=True)
            if kind == "messages":
                await _fill_public_copies(es, new)
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
