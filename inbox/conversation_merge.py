"""Reversible, audited merges of conversations, and splits of messages into a new one.

The same pattern as customer merges (inbox.merge): a MergeDoc in the `merges` collection,
key "<survivor conversation id>/<merge id>", written in the one WriteBatch that moves the
messages, with the change records and the audit entry; the customer's merge lock is held,
so conversation merges, splits and customer merges of one customer run one at a time.

- merge: every message of `other` moves to the survivor, whose derived fields are
  recounted from its messages (`recount`); `other` keeps its id and #ref with status
  MERGED and `merged_into`: out of every queue, its page leads to the survivor, and ingest
  follows `merged_into`, so customer answers threading into it land in the survivor.
  The survivor keeps its channel: replies answer there.
- split: one message (and, with `later`, every later one) moves to a new conversation of
  the same customer and channel, with its own #ref.
- undo restores the derived fields recorded before the action, exactly. It is refused when
  either conversation's derived fields changed since (a message arrived, a reply or a status
  change): undoing would drop that change; the agent can split or merge again instead.

Each action carries the versions the agent saw (StaleVersion otherwise); the same action
sent twice (a double click) returns the first one's record, and an undone merge undone
again returns its record too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from inbox import changes
from inbox.audit import entry as audit_entry
from inbox.changes import ChangeLog
from inbox.collections import MERGES, HasAudit, HasLeases, HasMerges, MergeDoc
from inbox.errors import ConflictError, NotFound, Refused, StaleVersion
from inbox.events import EventBus
from inbox.ingest import preview
from inbox.merge import locked, merges_of
from inbox.model import (
    Conversation,
    Delivery,
    Direction,
    Event,
    Message,
    Status,
    User,
    new_id,
    utcnow,
)
from inbox.sla import SlaPolicy
from inbox.store import WriteBatch

MERGE, SPLIT = "conversation", "split"  # MergeDoc "kind"
# The fields a conversation's messages decide: recorded before and after each action
DERIVED = ("status", "snoozed_until", "message_count", "last_message_at", "awaiting_since",
           "first_response_at", "due_at", "due_basis", "first_response_seconds",
           "first_response_breached", "resolved_at", "resolution_seconds", "merged_into",
           "sentiment", "lang", "pending_since", "paused_seconds", "next_response_at",
           "next_response_seconds", "next_response_missed")
_TIMES = frozenset({"snoozed_until", "last_message_at", "awaiting_since", "first_response_at",
                    "due_at", "resolved_at", "pending_since"})
_TIME_LISTS = frozenset({"next_response_at", "next_response_missed"})
# The survivor of a merge takes the more active status of the two: open first
ACTIVE_FIRST = (Status.OPEN, Status.PENDING, Status.SNOOZED, Status.RESOLVED, Status.LISTENING,
                Status.MERGED)
MERGE_ID = re.compile(r"g[0-9a-f]{20}")  # as inbox.model.new_id("g") makes them
MAX_ID = 100  # characters of a conversation id; any longer names none
UNDO_ADVICE = "Reload to see the conversation as it is now."


class MergeStore(ChangeLog, HasMerges, HasLeases, HasAudit, Protocol):
    """What conversation merges read and write."""


@dataclass(frozen=True, slots=True)
class Outcome:
    record: MergeDoc  # its "id" undoes it, on the survivor (merge) or origin (split)
    survivor: Conversation  # merge: the one kept; split: the one the messages left
    other: Conversation  # merge: the one merged; split: the new one
    repeated: bool = False  # the same action had been done already (a double click)


def fields(conv: Conversation) -> dict[str, Any]:
    """The derived fields of a conversation, as JSON (recorded in the merge record)."""
    out: dict[str, Any] = {}
    for name in DERIVED:
        value = getattr(conv, name)
        # in UTC: a deadline computed in the calendar's zone reads back from the store in UTC
        if name in _TIME_LISTS:
            out[name] = [t.astimezone(UTC).isoformat() for t in value]
        elif isinstance(value, tuple):
            out[name] = list(value)
        else:
            out[name] = value.astimezone(UTC).isoformat() if isinstance(value, datetime) \
                else value
    out["status"] = str(conv.status)
    return out


def restored(conv: Conversation, recorded: dict[str, Any]) -> Conversation:
    """The conversation with the derived fields a record kept."""
    values: dict[str, Any] = {name: (datetime.fromisoformat(v) if name in _TIMES and v else v)
              for name, v in recorded.items() if name in DERIVED}
    values["status"] = Status(values["status"])
    for name in _TIME_LISTS & values.keys():
        values[name] = tuple(datetime.fromisoformat(t) for t in values[name])
    if "next_response_seconds" in values:
        values["next_response_seconds"] = tuple(values["next_response_seconds"])
    return replace(conv, **values)


def recount(conv: Conversation, messages: Iterable[Message], sla: SlaPolicy) -> Conversation:
    """The conversation's message-derived fields as ingest and replies would have set them,
    one message after the other: count, last message, the response clock and the first
    response, and the sentiment and language of the latest customer message. The status is
    the conversation's own; a clock runs only while it is open or snoozed. Notes and
    automatic messages count for nothing; a rejected reply answered nothing."""
    status = conv.status
    c = replace(conv, status=Status.OPEN, awaiting_since=None, due_at=None, due_basis=None,
                first_response_at=None, first_response_seconds=None,
                first_response_breached=None, sentiment=None, lang=None,
                next_response_at=(), next_response_seconds=(), next_response_missed=())
    count, last = 0, None
    for msg in sorted(messages, key=lambda m: (m.created_at, m.id)):
        if msg.direction == Direction.NOTE or (msg.direction == Direction.OUTBOUND
                                               and msg.automated):
            continue  # an acknowledgement answers nothing (inbox.usecases.acks)
        count += 1
        last = msg.created_at if last is None else max(last, msg.created_at)
        if msg.direction == Direction.INBOUND and not msg.automated:
            c = replace(sla.customer_wrote(c, msg.created_at), sentiment=msg.sentiment,
                        lang=msg.lang)
        elif msg.agent is not None and msg.delivery != Delivery.REJECTED:
            c = sla.answered(c, msg.created_at)
    c = replace(c, status=status, message_count=count,
                last_message_at=last or conv.created_at)
    if status not in (Status.OPEN, Status.SNOOZED):
        c = replace(c, awaiting_since=None, due_at=None, due_basis=None)
    return c


def name(conv: Conversation) -> str:
    """How agents call a conversation: "#10482"."""
    return f"#{conv.ref}" if conv.ref is not None else conv.id


def _deliverable(messages: Sequence[Message], conv: Conversation) -> None:
    """Refused while a reply of these messages is not sent yet: it would be retried from
    another conversation, perhaps on another channel."""
    if any(m.direction == Direction.OUTBOUND and m.delivery in (Delivery.PENDING,
                                                                  Delivery.FAILED)
           for m in messages):
        raise Refused(f"a reply in {name(conv)} is still being sent; try again once it is "
                      "delivered or given up")


class ConversationMerges:
    """Merge two conversations of one customer, split messages out, undo either."""

    def __init__(self, store: MergeStore, events: EventBus, sla: SlaPolicy,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store, self.events, self.sla, self.clock = store, events, sla, clock

    async def merge(self, other_id: str, survivor_id: str, actor: User, other_version: int,
                    survivor_version: int | None = None) -> Outcome:
        """Merge `other` into the survivor (the agent saw `other` at `other_version`, and the
        survivor at `survivor_version`, None when they named it by its #ref)."""
        if other_id == survivor_id:
            raise Refused("a conversation cannot be merged into itself")
        other, survivor = await self._two(other_id, survivor_id)
        if other.customer_id != survivor.customer_id:
            raise Refused(f"{name(other)} and {name(survivor)} are conversations of two "
                          "different customers; merge the customers first (on the customer "
                          "page), then the conversations")
        seen: dict[str, int | None] = {"other": other_version, "survivor": survivor_version}
        async with locked(self.store, (survivor.customer_id,)):
            other, survivor = await self._two(other_id, survivor_id)
            if other.customer_id != survivor.customer_id:  # a customer merge came between
                raise ConflictError("the customers of these conversations changed; reload")
            done = await self._done(survivor.id, lambda r: r.get("kind") == MERGE
                                    and r["merged"] == other.id and r.get("seen") == seen)
            if done is not None:
                return Outcome(done, survivor, other, repeated=True)
            await self._check(other, other_version, actor)
            if survivor_version is not None:
                await self._check(survivor, survivor_version, actor)
            for conv in (other, survivor):
                if conv.status == Status.MERGED:
                    raise Refused(f"{name(conv)} is already merged into another conversation")
            theirs = await self.store.conversation_messages(other.id)
            _deliverable(theirs, other)
            ours = await self.store.conversation_messages(survivor.id)
            moved = tuple(replace(m, conversation_id=survivor.id) for m in theirs)
            status = min(other.status, survivor.status, key=ACTIVE_FIRST.index)
            snoozed = [c.snoozed_until for c in (other, survivor)
                       if c.status == Status.SNOOZED and c.snoozed_until]
            now = self.clock()
            kept = replace(recount(self.sla.moved(
                replace(survivor, snoozed_until=min(snoozed) if snoozed else None), status, now),
                (*ours, *moved), self.sla), version=survivor.version + 1, updated_at=now)
            gone = replace(self.sla.moved(other, Status.MERGED, now), merged_into=survivor.id,
                           message_count=0, awaiting_since=None, due_at=None, due_basis=None,
                           snoozed_until=None, version=other.version + 1, updated_at=now)
            record = self._record(MERGE, survivor, other, moved, actor, now, seen,
                                  before=(survivor, other), after=(kept, gone))
            what = f"{name(other)} into {name(survivor)}: {_messages(moved)}"
            await self._write(record, (kept, gone), moved, actor, ("merge", "merged"), what)
        return Outcome(record, kept, gone)

    async def split(self, conversation_id: str, message_id: str, actor: User, version: int,
                    later: bool = False) -> Outcome:
        """Move one message (with `later`, it and every later one) to a new conversation of
        the same customer and channel."""
        conv = await self.store.get_conversation(conversation_id)
        seen: dict[str, int | None] = {"origin": version, "later": int(later)}
        async with locked(self.store, (conv.customer_id,)):
            conv = await self.store.get_conversation(conversation_id)
            done = await self._done(conv.id, lambda r: r.get("kind") == SPLIT
                                    and r["messages"][:1] == [message_id]
                                    and r.get("seen") == seen)
            if done is not None:
                new = await self.store.get_conversation(done["merged"])
                return Outcome(done, conv, new, repeated=True)
            await self._check(conv, version, actor)
            if conv.status == Status.MERGED:
                raise Refused(f"{name(conv)} is merged into another conversation")
            messages = await self.store.conversation_messages(conv.id)
            picked = next((m for m in messages if m.id == message_id), None)
            if picked is None:
                raise NotFound(f"no message {message_id[:40]} in {name(conv)}")
            key = (picked.created_at, picked.id)
            moving = [m for m in messages if m.id == picked.id
                      or (later and (m.created_at, m.id) > key)]
            moving_ids = {m.id for m in moving}
            staying = [m for m in messages if m.id not in moving_ids]
            if not any(m.direction != Direction.NOTE for m in staying):
                raise Refused(f"that would move every message of {name(conv)}: nothing would "
                              "be left in it; pick a later message")
            if all(m.direction == Direction.NOTE for m in moving):
                raise Refused("a note alone makes no conversation: split a message of the "
                              "customer or a reply (with the later messages to take notes)")
            _deliverable(moving, conv)
            now = self.clock()
            fresh = Conversation(
                id=new_id("v"), customer_id=conv.customer_id, channel=conv.channel,
                status=Status.OPEN, created_at=picked.created_at, updated_at=now,
                last_message_at=picked.created_at, assignee=conv.assignee,
                subject=picked.subject or preview(picked.text) or conv.subject,
                tags=conv.tags, priority=conv.priority)
            moved = tuple(replace(m, conversation_id=fresh.id) for m in moving)
            new = recount(fresh, moved, self.sla)
            left = replace(recount(conv, staying, self.sla), version=conv.version + 1,
                           updated_at=now)
            record = self._record(SPLIT, conv, new, moved, actor, now, seen,
                                  before=(conv,), after=(left, new))
            await self._write(record, (left, new), moved, actor, ("split", "split off"),
                              f"{_messages(moved)} of {name(conv)} into new {new.id}")
            new = await self.store.get_conversation(new.id)  # with the #ref the store gave
        return Outcome(record, left, new)

    async def undo(self, survivor_id: str, merge_id: str, actor: User,
                   version: int | None = None) -> Outcome:
        """Undo a merge into, or a split out of, the conversation `survivor_id` (seen at
        `version`, None: as it is). Undone already: its record, nothing done."""
        key = f"{survivor_id}/{merge_id}"
        found = (await self.store.merges.get(key)
                 if MERGE_ID.fullmatch(merge_id) and len(survivor_id) <= MAX_ID else None)
        if found is None or found.get("kind") not in (MERGE, SPLIT):
            raise NotFound(f"no merge or split {merge_id[:40]} on conversation "
                           f"{survivor_id[:40]}")
        conv = await self.store.get_conversation(survivor_id)
        async with locked(self.store, (conv.customer_id,)):
            record = await self.store.merges.get(key) or found
            survivor, other = await self._two(survivor_id, record["merged"])
            if record["undone_at"]:
                return Outcome(record, survivor, other, repeated=True)
            if version is not None:
                await self._check(survivor, version, actor)
            after = record.get("after", {})
            for c in (survivor, other):
                if fields(c) != after.get(c.id):
                    raise Refused(f"{name(c)} changed since the {_noun(record)} (a message, a "
                                  "reply or a status change): undoing it now would lose that. "
                                  "Split or merge the messages again instead.")
            holder = other if record.get("kind") == SPLIT else survivor
            listed = set(record["messages"])
            messages = [m for m in await self.store.conversation_messages(holder.id)
                        if m.id in listed]
            now = self.clock()
            before = record.get("before", {})
            if record.get("kind") == MERGE:
                back_to, emptied = other, survivor
                back = replace(restored(other, before[other.id]), version=other.version + 1,
                               updated_at=now)
                kept = replace(restored(survivor, before[survivor.id]),
                               version=survivor.version + 1, updated_at=now)
                convs = (kept, back)
                words = ("unmerge", "unmerged")
            else:
                back_to, emptied = survivor, other
                kept = replace(restored(survivor, before[survivor.id]),
                               version=survivor.version + 1, updated_at=now)
                back = replace(self.sla.moved(other, Status.MERGED, now), merged_into=survivor.id,
                               message_count=0, awaiting_since=None, due_at=None,
                               due_basis=None, version=other.version + 1, updated_at=now)
                convs = (kept, back)
                words = ("unsplit", "merged back")
            moved = tuple(replace(m, conversation_id=back_to.id) for m in messages)
            record = {**record, "undone_at": now.isoformat(), "undone_by": actor.email}
            what = (f"{_messages(moved)} from {name(emptied)} back to {name(back_to)} "
                    f"({_noun(record)} {merge_id})")
            await self._write(record, convs, moved, actor, words, what)
        return Outcome(record, kept, back)

    async def history(self, conversation_id: str) -> list[MergeDoc]:
        """The merges into and splits out of a conversation, oldest first (kept beside the
        customers' merges, under the conversation's id)."""
        return await merges_of(self.store, conversation_id)

    async def _two(self, first: str, second: str) -> tuple[Conversation, Conversation]:
        found = await self.store.conversations_by_ids([first, second])
        for cid in (first, second):
            if cid not in found:
                raise NotFound(f"no conversation {cid[:40]}")
        return found[first], found[second]

    async def _check(self, conv: Conversation, version: int, actor: User) -> None:
        if conv.version != version:
            raise StaleVersion(conv.version, await changes.since(self.store, conv, version,
                                                                 actor), UNDO_ADVICE)

    async def _done(self, survivor_id: str, same: Callable[[MergeDoc], bool]
                    ) -> MergeDoc | None:
        """The record of this very action if it was done already and not undone."""
        return next((r for r in reversed(await self.history(survivor_id))
                     if not r["undone_at"] and same(r)), None)

    @staticmethod
    def _record(kind: str, survivor: Conversation, other: Conversation,
                moved: Sequence[Message], actor: User, now: datetime,
                seen: dict[str, int | None], before: Sequence[Conversation],
                after: Sequence[Conversation]) -> MergeDoc:
        return {"id": new_id("g"), "survivor": survivor.id, "merged": other.id,
                "at": now.isoformat(), "by": actor.email, "identities": [],
                "conversations": [other.id], "messages": [m.id for m in moved],
                "undone_at": None, "kind": kind, "seen": seen,
                "before": {c.id: fields(c) for c in before},
                "after": {c.id: fields(c) for c in after}}

    async def _write(self, record: MergeDoc, convs: Sequence[Conversation],
                     moved: Sequence[Message], actor: User, actions: tuple[str, str],
                     what: str) -> None:
        """The conversations, the moved messages, the record, change records and the audit
        entry: one write. Then each conversation's live event."""
        logged = tuple(changes.entry(c, actor, action, {"merge": record["id"]})
                       for c, action in zip(convs, actions, strict=True))
        try:
            await self.store.write(WriteBatch(
                conversations=tuple(convs), messages=tuple(moved),
                documents=(*logged, (MERGES, f"{record['survivor']}/{record['id']}", record),
                           audit_entry(actor, f"{actions[0]} conversation", what))))
        except ConflictError:
            raise ConflictError("a conversation changed while this ran; reload and try "
                                "again") from None
        for c, action in zip(convs, actions, strict=True):
            self.events.publish(Event("conversation.updated", c.id, None, {
                "action": action, "merge": record["id"]}))


def _messages(moved: Sequence[Message]) -> str:
    """What moved, for the audit log: "2 messages (m1..., m2...)"."""
    ids = ", ".join(m.id for m in moved[:20]) + (", ..." if len(moved) > 20 else "")
    return f"{len(moved)} message{'' if len(moved) == 1 else 's'} ({ids})"


def _noun(record: MergeDoc) -> str:
    return "split" if record.get("kind") == SPLIT else "merge"
