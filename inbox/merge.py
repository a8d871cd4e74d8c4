"""Reversible, audited customer merges.

A merge moves the identities, conversations and messages of one customer to another and
records exactly what moved (kv collection `merges`, key "<survivor>/<merge id>"). Undo moves
those back, together with whatever arrived since through the moved identities, so two people
wrongly merged come apart as they were, with their new messages.

A merge or undo holds a lock on both customers (a lease in the store, taken in id order, that
expires if the process dies), so crossed merges (A<-B, B<-A) run one after the other: the
second finds its customer already merged and is refused, and every merge can be undone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from inbox.audit import audit
from inbox.collections import HasAudit, HasLeases, HasMerges, MergeDoc
from inbox.errors import ConflictError, NotFound, Refused
from inbox.identity import normalize_ref
from inbox.lease import Lease
from inbox.model import (
    Conversation,
    ConversationFilter,
    Customer,
    Direction,
    Identity,
    IdentityKind,
    IdentityRef,
    Message,
    User,
    new_id,
    utcnow,
)
from inbox.retry import CONFLICTS, backoff_ceiling, retrying
from inbox.store import Repository, Restore, WriteBatch

PAGE = 500


class MergeStore(Repository, Restore, HasMerges, HasLeases, HasAudit, Protocol):
    """What merges read and write: customers and their documents, merge records, locks."""


LOCK_TTL = timedelta(minutes=2)  # a merge lock left by a process that died frees itself
LOCK_WAIT = 15.0  # seconds a merge waits for another one on the same customer
LOCK_PAUSE, LOCK_PAUSE_MAX = 0.02, 0.5  # seconds between looks at a taken lock: doubling


@contextlib.asynccontextmanager
async def locked(store: HasLeases, customer_ids: Iterable[str],
                 wait: float = LOCK_WAIT) -> AsyncIterator[None]:
    """Hold the merge lock of each customer, taken in id order so merges never deadlock."""
    held: list[Lease] = []
    try:
        for cid in sorted(set(customer_ids)):
            lease = Lease(store, f"customer:{cid}", LOCK_TTL)
            await _take(lease, cid, wait)
            held.append(lease)
        yield
    finally:
        for lease in reversed(held):
            await lease.release()


async def _take(lease: Lease, customer_id: str, wait: float) -> None:
    loop = asyncio.get_running_loop()
    deadline, tries = loop.time() + wait, 0
    while not await lease.acquire():
        tries += 1
        pause = backoff_ceiling(tries, LOCK_PAUSE, LOCK_PAUSE_MAX)
        if loop.time() + pause > deadline:
            raise ConflictError(f"customer {customer_id} is being merged or separated by "
                                "someone else right now; try again in a moment")
        await asyncio.sleep(pause)


async def _conversations(store: Repository, customer_id: str) -> list[Conversation]:
    found: list[Conversation] = []
    cursor = None
    while True:
        page = await store.list_conversations(ConversationFilter(customer_id=customer_id),
                                              cursor, PAGE)
        found.extend(page.items)
        if (cursor := page.next_cursor) is None:
            return found


async def _messages(store: Repository, customer_id: str) -> list[Message]:
    found: list[Message] = []
    cursor = None
    while True:
        page = await store.customer_messages(customer_id, cursor, PAGE)
        found.extend(page.items)
        if (cursor := page.next_cursor) is None:
            return found


async def _move(store: MergeStore, customer: Customer, idents: list[Identity],
                convs: list[Conversation], msgs: list[Message], to: str,
                merged_into: str | None) -> None:
    """Point identities, conversations and messages at `to`; safe to repeat."""
    await store.restore(WriteBatch(
        identities=tuple(replace(i, customer_id=to) for i in idents),
        messages=tuple(replace(m, customer_id=to) for m in msgs)))
    pending = [c.id for c in convs]

    async def attempt() -> None:  # agents may change a conversation meanwhile: reload, retry
        current = await store.conversations_by_ids(pending)
        moved = tuple(replace(c, customer_id=to, version=c.version + 1, updated_at=utcnow())
                      for c in current.values() if c.customer_id != to)
        for start in range(0, len(moved), PAGE):
            await store.write(WriteBatch(conversations=moved[start:start + PAGE]))
        fresh = await store.get_customer(customer.id)
        await store.write(WriteBatch(customers=(replace(
            fresh, merged_into=merged_into, version=fresh.version + 1),)))

    try:
        await retrying(attempt, ConflictError, CONFLICTS, note="merge conflict, moving again")
    except ConflictError:
        raise ConflictError("the customers keep changing; try the merge again") from None


async def merge(store: MergeStore, survivor_id: str, other_id: str, actor: User) -> MergeDoc:
    """Merge `other` into `survivor`; returns the merge record (its id undoes it)."""
    if survivor_id == other_id:
        raise Refused("a customer cannot be merged into itself")
    async with locked(store, (survivor_id, other_id)):
        survivor = await store.get_customer(survivor_id)
        other = await store.get_customer(other_id)
        for customer in (survivor, other):
            if customer.merged_into:
                raise Refused(f"customer {customer.id} is already merged into "
                              f"{customer.merged_into}; undo that merge or pick that customer")
        convs = await _conversations(store, other.id)
        msgs = await _messages(store, other.id)
        merge_id = new_id("g")
        key = f"{survivor.id}/{merge_id}"
        record: MergeDoc = {
            "id": merge_id, "survivor": survivor.id, "merged": other.id,
            "at": utcnow().isoformat(), "by": actor.email,
            "identities": [[i.kind, i.value] for i in other.identities],
            "conversations": [c.id for c in convs], "messages": [m.id for m in msgs],
            "undone_at": None,
        }
        await store.merges.put(key, record)  # first: undo can find it
        try:
            await _move(store, other, list(other.identities), convs, msgs, survivor.id,
                        survivor.id)
        except BaseException:  # put back what moved: no half-done merge stays behind
            await _move(store, other, list(other.identities), convs, msgs, other.id, None)
            await store.merges.delete(key)
            raise
        await audit(store, actor, "merge", f"{other.id} into {survivor.id} ({merge_id})")
        return record


async def undo(store: MergeStore, survivor_id: str, merge_id: str, actor: User) -> MergeDoc:
    """Separate a merged customer again, with what reached the survivor through its identities."""
    key = f"{survivor_id}/{merge_id}"
    found = await store.merges.get(key)
    if found is None:
        raise NotFound(f"no merge {merge_id} on customer {survivor_id}")
    async with locked(store, (survivor_id, str(found["merged"]))):
        record = await store.merges.get(key) or found  # as it is now, under the lock
        if record["undone_at"]:
            raise Refused(f"merge {merge_id} was already undone at {record['undone_at']}")
        await _separate(store, record, survivor_id)
        record = {**record, "undone_at": utcnow().isoformat(), "undone_by": actor.email}
        await store.merges.put(key, record)
    await audit(store, actor, "unmerge", f"{record['merged']} from {survivor_id} ({merge_id})")
    return record


async def _separate(store: MergeStore, record: MergeDoc, survivor_id: str) -> None:
    since = datetime.fromisoformat(record["at"])
    survivor = await store.get_customer(survivor_id)
    if survivor.merged_into:
        raise Refused(f"customer {survivor.id} was itself merged into {survivor.merged_into} "
                      "since; undo that merge first")
    other = await store.get_customer(record["merged"])
    keys = {(k, v) for k, v in record["identities"]}
    idents = [i for i in survivor.identities if (i.kind, i.value) in keys]
    values = {v.lower() for _, v in keys}
    conv_ids = set(record["conversations"])
    msgs = []
    for msg in await _messages(store, survivor.id):
        recorded = msg.id in set(record["messages"])
        arrived = (msg.received_at >= since and msg.direction == Direction.INBOUND
                   and bool(values & set(msg.author_keys)))  # written through a moved identity
        if recorded or arrived:
            msgs.append(msg)
            if arrived:
                conv_ids.add(msg.conversation_id)
    convs = []
    for conv in await _conversations(store, survivor.id):
        if conv.id in record["conversations"]:
            convs.append(conv)
        elif conv.id in conv_ids and all(  # started through a moved identity, theirs alone
                values & set(m.author_keys) for m in await store.conversation_messages(conv.id)
                if m.direction == Direction.INBOUND):
            convs.append(conv)
    moving = {c.id for c in convs}
    for conv in await _conversations(store, survivor.id):  # a merge across the two stays whole
        if conv.merged_into and (conv.id in moving) != (conv.merged_into in moving):
            raise Refused(f"conversation #{conv.ref} was merged into one of the other "
                          "customer since; undo that conversation merge first")
    if other.merged_into != survivor.id:
        raise ConflictError(f"customer {other.id} changed since the merge; reload")
    await _move(store, other, idents, convs, msgs, other.id, None)


async def find_customer(store: Repository, text: str) -> Customer:
    """A customer by id, or by one of its identities (email, phone, @handle, X user id)."""
    text = text.strip()
    try:
        return await store.get_customer(text)
    except NotFound:
        pass
    normalized = (normalize_ref(IdentityRef(kind, text)) for kind in IdentityKind)
    refs = [(ref.kind, ref.value) for ref in normalized if ref is not None]
    found = await store.identities_by_refs(refs)
    for ref in refs:
        if ref in found:
            return await store.get_customer(found[ref].customer_id)
    raise NotFound(f"no customer with the id, address, phone or handle '{text}'")


async def merges_of(store: HasMerges, survivor_id: str) -> list[MergeDoc]:
    """The merges into a customer, oldest first (undone ones included)."""
    found: list[MergeDoc] = []
    after = f"{survivor_id}/"
    while rows := await store.merges.list(after, 100):
        for key, record in rows:
            if not key.startswith(f"{survivor_id}/"):
                return found
            found.append(record)
        after = rows[-1][0]
    return found
