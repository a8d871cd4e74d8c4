"""The Elasticsearch store's writes: a batch in phased bulks, undone when a phase fails.

Atomicity: Elasticsearch has no transactions. write() first reads everything the batch
depends on (stored versions, taken identities, where each message lives) and raises
ConflictError before anything is written. A document the client cannot encode is refused
(StoreRefused naming it) before anything is sent. Then the batch goes out in three bulk
requests: customers; identities and conversations; thread keys, messages and collection
documents (WriteBatch.documents, in the kv index). A phase runs
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError

from inbox.errors import (
    AuthFailed,
    ConflictError,
    InboxError,
    StoreMissing,
    StoreRefused,
    StoreUnavailable,
)
from inbox.model import Conversation, Customer
from inbox.store import REF_START, WriteBatch
from search.elastic_client import ElasticBase, Hit, calling
from search.elastic_collections import kv_id, kv_source
from search.elastic_docs import classify, denormalized, error_parts, search_fields, to_doc
from search.elastic_mappings import index_number
from search.elastic_refs import given_refs

log = logging.getLogger(__name__)


def identity_id(kind: str, value: str) -> str:
    return f"{kind}:{value}"


def _check_version(obj: Customer | Conversation, hit: Hit | None, what: str) -> None:
    if obj.version == 1 and hit is not None:
        raise ConflictError(f"{what} {obj.id} already exists")
    if obj.version > 1 and (hit is None or hit["_source"].get("version") != obj.version - 1):
        raise ConflictError(f"{what} {obj.id} was changed by someone else; reload it")


class ElasticWriter(ElasticBase):
    """Batches applied as phased bulks: write (checked) for the repository, restore for dump."""

    async def _apply(self, batch: WriteBatch, checked: bool) -> None:
        batch_convs = {c.id: c for c in batch.conversations}
        other_convs = [m.conversation_id for m in batch.messages
                       if m.conversation_id not in batch_convs]
        stored_convs = await self._mget("conversations", [*batch_convs, *other_convs])
        if batch.conversations:
            batch = replace(batch, conversations=await given_refs(
                self, batch.conversations, stored_convs, REF_START))
            batch_convs = {c.id: c for c in batch.conversations}
        stored_custs = await self._mget("customers", [c.id for c in batch.customers])
        doc_ids = [kv_id(name, key) for name, key, _ in batch.documents]
        stored_docs = await self._mget("kv", doc_ids)
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
                               {**to_doc(msg), **search_fields(msg.text, msg.subject, msg.lang),
                                **state.get(msg.conversation_id,
                                                           denormalized(None))},
                               msg.id, hit["_source"] if hit else None))
        for (name, key, doc), doc_id in zip(batch.documents, doc_ids, strict=True):
            old = stored_docs.get(doc_id)
            ops.append(_BulkOp(2, "document", "index",
                               {"_index": self.alias("kv"), "_id": doc_id},
                               kv_source(name, key, doc), key, old["_source"] if old else None))
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
            with calling("write"):
                resp = await self.client.bulk(operations=body, refresh=refresh)
            results = [next(iter(item.values())) for item in resp["items"]]
            applied += [(op, r) for op, r in zip(part, results, strict=True)
                        if "error" not in r]
            problem = _bulk_problem(part, results) if resp["errors"] else None
            if problem is not None:
                await self._undo(applied, refresh)
                raise problem
        # a reindex running (or just finished) gets the batch too: see _carry_over
        await self._carry_over([(op.action, op.doc, r) for op, r in applied], refresh)

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
            before = None if old is None else denormalized(old["_source"])
            if before is None or before == state[conv.id]:
                continue
            hits = await self._scan("messages", {"term": {"conversation_id": conv.id}},
                                    [{"id": "asc"}], source=False)
            found.extend((h["_index"], h["_id"], state[conv.id], before) for h in hits
                         if h["_id"] not in in_batch)
        return found


@dataclass(frozen=True, slots=True)
class _BulkOp:
    phase: int  # 0 customers, 1 identities and conversations, 2 thread keys, messages, docs
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
        if isinstance(problem, StoreMissing | StoreUnavailable | ConflictError | AuthFailed):
            problems.append(problem)
        else:
            refused.append(op.owner)
            problems.append(StoreRefused(str(problem)))
    if not problems:
        return None
    conflicts_only = all(isinstance(p, ConflictError) for p in problems)  # a lost race: normal
    log.log(logging.INFO if conflicts_only else logging.WARNING, "bulk write partly failed",
            extra={"failed": len(problems), "ops": len(ops)})
    for wanted in (StoreMissing, StoreUnavailable, ConflictError, AuthFailed):
        for problem in problems:
            if isinstance(problem, wanted):
                return problem
    first = next(p for p in problems if isinstance(p, StoreRefused))
    return StoreRefused(f"{len(refused)} document(s) refused, e.g. {first}",
                        tuple(dict.fromkeys(refused)))

