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
auto-created without the mappings. Every `_id` is search.elastic_docs.doc_id of the key: a
key over Elasticsearch's 512 bytes (which would fail the whole request) is hashed.

Refresh: a batch with `visible` (an agent's action, a web form: the user reads their own
write next) is written with the store's `refresh` (True by default). A background batch
(pollers) is not refreshed, except that its messages are written with refresh=wait_for
(no refresh of its own: it returns once the periodic refresh made them searchable), which
the conversation fields below depend on.

Conversation fields on messages (conv_status, conv_assignee, conv_tags: a copy of their
conversation's status, assignee and tags, so searches filter on them) must end equal to
their conversation's, whatever the order of concurrent writes and whatever searches have
not seen yet (a search sees only refreshed documents; a GET/mget sees every write). The
rule, kept by every write (_settle):
- a message is stamped from its conversation as this write has it, or as read by mget
  (realtime) while planning;
- a write that changes a conversation's fields re-stamps its messages *after* writing the
  conversation: it finds them by search and reads each by mget (realtime: its current
  conversation_id, fields and seq_no), and updates those that differ, guarded by seq_no (a
  message moved or edited meanwhile is read again);
- a write of messages makes them searchable (refresh or wait_for) *before* it reads their
  conversations by mget and re-stamps those that changed meanwhile;
- both repeat until the conversations read after their last stamps match those stamps.
Why nothing stays stale: take a message's last stamp write, by writer W, and W's final
mget of its conversation after it, which matched. A later change of the conversation is
written after that mget, so after the message was written and (W waited) searchable: its
writer's search finds the message and re-stamps it, so W's was not the last stamp write.
Concurrent stamps of two changes end in the later one's: the writer of the earlier reads
the later state at its check and stamps again.
Cost: a write of messages waits for the refresh interval when not refreshing (pollers:
about a second per batch) and reads its conversations once more; a change of status,
assignee or tags reads the conversation's message ids (one search per 1,000), their
fields (one mget) and rewrites each message once (a partial update): linear in the
conversation's messages, as any copy of the fields is; an assignment in a 10,000-message
conversation rewrites 10,000 small documents. A change of anything else rewrites none.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError

from inbox.collections import CHANGES
from inbox.errors import (
    AuthFailed,
    ConflictError,
    FatalError,
    InboxError,
    StoreMissing,
    StoreRefused,
    StoreUnavailable,
)
from inbox.model import Conversation, Customer
from inbox.store import REF_START, WriteBatch
from search.elastic_client import ElasticBase, Hit, calling, translate
from search.elastic_collections import kv_id, kv_source
from search.elastic_docs import (
    classify,
    denormalized,
    doc_id,
    error_parts,
    search_fields,
    to_doc,
)
from search.elastic_mappings import DENORMALIZED, index_number
from search.elastic_refs import given_refs

log = logging.getLogger(__name__)
SETTLE_ROUNDS = 8  # re-stamps after concurrent changes of one conversation; then logged


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
        located = {h["_source"]["id"]: h for h in
                   await self._messages_where([m.id for m in batch.messages], source=True)}
        state: dict[str, dict[str, Any]] = {
            cid: denormalized(hit["_source"]) for cid, hit in stored_convs.items()}
        state.update({cid: denormalized(conv) for cid, conv in batch_convs.items()})

        ops: list[_BulkOp] = []
        for cust in batch.customers:
            old = stored_custs.get(cust.id)
            ops.append(_BulkOp(0, "customer", *self._versioned(cust, old, checked),
                               to_doc(cust, skip=("identities",)), cust.id,
                               old["_source"] if old else None))
        for ident, key in zip(batch.identities, ident_ids, strict=True):
            ops.append(_BulkOp(1, "identity", "create" if checked else "index",
                               {"_index": self.alias("identities"), "_id": doc_id(key)},
                               {**to_doc(ident), "key": key}, ident.customer_id, None))
        for conv in batch.conversations:
            old = stored_convs.get(conv.id)
            ops.append(_BulkOp(1, "conversation", *self._versioned(conv, old, checked),
                               to_doc(conv), conv.id, old["_source"] if old else None))
        for key, conversation_id in batch.thread_keys:
            ops.append(_BulkOp(2, "thread_key", "create",
                               {"_index": self.alias("thread_keys"), "_id": doc_id(key)},
                               {"key": key, "conversation_id": conversation_id},
                               conversation_id, None))
        for msg in batch.messages:
            hit = located.get(msg.id)
            meta = {"_index": hit["_index"] if hit else self.alias("messages"),
                    "_id": doc_id(msg.id)}
            ops.append(_BulkOp(2, "message", "index", meta,
                               {**to_doc(msg), **search_fields(msg.text, msg.subject, msg.lang),
                                **state.get(msg.conversation_id, denormalized(None))},
                               msg.id, hit["_source"] if hit else None))
        for (name, key, doc), kv_key in zip(batch.documents, doc_ids, strict=True):
            old = stored_docs.get(kv_key)
            # a change record goes with the conversation version it explains: whoever reads
            # the new version (a stale reply's check) finds why in the same refresh
            ops.append(_BulkOp(1 if name == CHANGES else 2, "document", "index",
                               {"_index": self.alias("kv"), "_id": doc_id(kv_key)},
                               kv_source(name, key, doc), key, old["_source"] if old else None))
        refresh = self.refresh if batch.visible else False
        # messages are searchable before _settle reads their conversations (see above)
        last = refresh if refresh or not batch.messages else "wait_for"
        await self._bulk_in_phases(ops, (refresh, refresh, last))
        changed = {cid: state[cid] for cid, hit in stored_convs.items()
                   if cid in batch_convs and denormalized(hit["_source"]) != state[cid]}
        written = {m.id: (m.conversation_id, state.get(m.conversation_id, denormalized(None)))
                   for m in batch.messages}
        await self._settle(changed, written, refresh)

    async def _bulk_in_phases(self, ops: list[_BulkOp],
                              refresh: tuple[bool | str, bool | str, bool | str]) -> None:
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
            try:
                resp = await self.client.bulk(operations=body, refresh=refresh[phase])
            except (ApiError, TransportError) as exc:
                await self._undo(applied, refresh[phase])
                raise _request_problem(exc) from exc
            results = [next(iter(item.values())) for item in resp["items"]]
            applied += [(op, r) for op, r in zip(part, results, strict=True)
                        if "error" not in r]
            problem = _bulk_problem(part, results) if resp["errors"] else None
            if problem is not None:
                await self._undo(applied, refresh[phase])
                raise problem
        # a reindex running (or just finished) gets the batch too: see _carry_over (with
        # the messages' refresh, the last phase's: what a reader of the batch waits for)
        await self._carry_over([(op.action, op.doc, r) for op, r in applied], refresh[2])

    async def _undo(self, applied: list[tuple[_BulkOp, Hit]], refresh: bool | str) -> None:
        """Best effort: delete what this write created, put back what it replaced."""
        body: list[dict[str, Any]] = []
        for op, result in reversed(applied):
            where = {"_index": result["_index"], "_id": result["_id"]}
            if op.before is None:
                body.append({"delete": where})
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
        meta: dict[str, Any] = {"_index": self.alias(kind), "_id": doc_id(obj.id)}
        if not checked:
            return "index", meta
        if obj.version == 1:
            return "create", meta
        assert hit is not None  # _check_version passed
        return "index", {**meta, "if_seq_no": hit["_seq_no"],
                         "if_primary_term": hit["_primary_term"]}

    async def _settle(self, changed: dict[str, dict[str, Any]],
                      written: dict[str, tuple[str, dict[str, Any]]],
                      refresh: bool | str) -> None:
        """Bring the conversation fields of messages in line with their conversations, as
        the module docstring says: `changed` conversations (id -> the fields this write
        gave them) have every message re-stamped; `written` messages (id -> conversation
        id and the fields they were written with) were stamped by this write; both are
        checked against the conversations read again, and re-stamped until they match."""
        stamps = dict(changed)  # conversation id -> the fields its messages got from us
        owned: dict[str, set[str] | None] = {cid: None for cid in changed}  # None: all
        for mid, (cid, fields) in written.items():
            if cid not in changed:
                stamps[cid] = fields
                mine = owned.setdefault(cid, set())
                if mine is not None:
                    mine.add(mid)
        todo = dict(changed)
        for _ in range(SETTLE_ROUNDS):
            if todo:
                retry = await self._restamp({c: (f, owned.get(c)) for c, f in todo.items()},
                                            refresh)
                stamps.update(todo)
            else:
                retry = set()
            current = await self._mget("conversations", list(owned))
            todo = {}
            for cid in owned:
                hit = current.get(cid)
                now = denormalized(hit["_source"] if hit else None)
                if cid in retry or now != stamps[cid]:
                    todo[cid] = now
            if not todo:
                return
        log.error("conversation fields still changing after several rounds; the next change "
                  "of these conversations re-stamps their messages",
                  extra={"conversations": sorted(todo)})

    async def _restamp(self, wanted: dict[str, tuple[dict[str, Any], set[str] | None]],
                       refresh: bool | str) -> set[str]:
        """Stamp the messages of each conversation (all of them, or the given ids) with its
        fields; return the conversations whose messages changed under us (read again)."""
        ids: list[str] = []
        for cid, (_, only) in wanted.items():
            if only is None:
                hits = await self._scan("messages", {"term": {"conversation_id": cid}},
                                        [{"id": "asc"}], source=["id"])
                ids += [h["_source"]["id"] for h in hits]
            else:
                ids += sorted(only)
        found = await self._messages_where(ids, source=["id", "conversation_id", *DENORMALIZED])
        ops: list[dict[str, Any]] = []
        owners: list[str] = []
        for hit in found:
            cid = hit["_source"].get("conversation_id")
            if cid not in wanted:
                continue  # moved to another conversation since: its writer stamps it
            fields = wanted[cid][0]
            if denormalized_of(hit["_source"]) == fields:
                continue
            ops += [{"update": {"_index": hit["_index"], "_id": hit["_id"],
                                "if_seq_no": hit["_seq_no"],
                                "if_primary_term": hit["_primary_term"]}}, {"doc": fields}]
            owners.append(cid)
        if not ops:
            return set()
        with calling("write"):
            resp = await self.client.bulk(operations=ops, refresh=refresh)
        again: set[str] = set()
        for item, cid in zip(resp["items"], owners, strict=True):
            result = next(iter(item.values()))
            if "error" not in result:
                continue
            status = int(result.get("status", 0))
            if status not in (404, 409):  # 404: deleted; 409: changed since read
                etype, reason = error_parts(result)
                raise classify(status, etype, f"message {result.get('_id')}: {reason}",
                               "write")
            if status == 409:
                again.add(cid)
        return again


def denormalized_of(message: Mapping[str, Any]) -> dict[str, Any]:
    """The conversation fields a message document carries (as denormalized() makes them)."""
    return {"conv_status": message.get("conv_status"),
            "conv_assignee": message.get("conv_assignee"),
            "conv_tags": list(message.get("conv_tags") or ())}


@dataclass(frozen=True, slots=True)
class _BulkOp:
    phase: int  # 0 customers, 1 identities and conversations, 2 thread keys, messages, docs
    kind: str
    action: str  # create | index
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


def _request_problem(exc: ApiError | TransportError) -> Exception:
    """A bulk request refused whole: a 400 (a request Elasticsearch validates before any
    item, e.g. an id too long) is StoreRefused without names, like a 413, so ingest finds
    the document by splitting the batch; anything else as translate() says."""
    problem = translate(exc, "write")
    if isinstance(exc, ApiError) and exc.status_code == 400 and isinstance(problem, FatalError):
        return StoreRefused(str(problem))
    return problem


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
    what = str(first) if len(refused) == 1 else f"{len(refused)} documents refused, e.g. {first}"
    return StoreRefused(what, tuple(dict.fromkeys(refused)))

