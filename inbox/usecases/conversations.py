"""Conversations: list and read them; assign, status, tags and notes (replies: replies.py)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from inbox import changes, corrections, mentions
from inbox.audit import entry as audit_entry
from inbox.conversation_merge import ConversationMerges
from inbox.errors import (
    ConflictError,
    NotFound,
    Refused,
    StaleVersion,
    ValidationError,
)
from inbox.events import EventBus
from inbox.model import (
    PRIORITIES,
    Conversation,
    ConversationFilter,
    Customer,
    Direction,
    Event,
    Message,
    Page,
    Status,
    User,
    message_id_for,
    new_id,
    utcnow,
)
from inbox.normalize import clean_label, clean_text
from inbox.retry import Retry, retrying
from inbox.sla import SlaPolicy
from inbox.store import Store, WriteBatch
from inbox.usecases.notifications import Notifications

log = logging.getLogger(__name__)
MAX_TEXT = 20_000
MAX_TAGS, MAX_TAG = 30, 50
MAX_SNOOZE = timedelta(days=365)  # a snooze ends within a year
SYSTEM = User(id="system", email="system", role="admin",
              password_hash="")  # noqa: S106 - the audit's actor for automatic changes; cannot sign in


@dataclass(frozen=True, slots=True)
class ConversationView:
    conversation: Conversation
    messages: tuple[Message, ...]
    customer: Customer
    timeline: tuple[Message, ...]  # the customer's history on every channel, both
    # directions (their messages, the team's replies and notes), newest first
    timeline_cursor: str | None


CHANGE_RETRY = Retry(2)  # a lost race without the agent's version: read and apply again


DeadlineAlerts = Callable[[Conversation, str, datetime], Awaitable[dict[str, str]]]
CustomerUpdate = Callable[[Conversation, datetime], Awaitable[bool]]
Resolved = Callable[[Conversation], Awaitable[None]]


class Conversations:
    """The conversations use cases; every change is versioned (see `change`)."""

    def __init__(self, store: Store, events: EventBus, sla: SlaPolicy | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store, self.events = store, events
        self.notifications = Notifications(store, events)  # mentions and assignments
        self.clock = clock  # the time of every change (the demo replays a month with its own)
        self.sla = sla or SlaPolicy()
        self.merges = ConversationMerges(store, events, self.sla, clock)  # merge, split, undo
        # who is told of a deadline at risk or breached (inbox.usecases.sla_alerts); the
        # runtime sets it, with its delivery
        self.deadline_alerts: DeadlineAlerts | None = None
        # who tells the customer we are still on it when a deadline turns at risk
        # (inbox.usecases.acks, if configured); the runtime sets it
        self.customer_update: CustomerUpdate | None = None
        # told when an agent resolves a care conversation (the CSAT survey,
        # inbox.usecases.csat); the runtime sets it
        self.on_resolved: Resolved | None = None

    async def page(self, flt: ConversationFilter, cursor: str | None,
                   limit: int) -> Page[Conversation]:
        return await self.store.list_conversations(flt, cursor, limit)

    async def customers_of(self, conversations: Sequence[Conversation]
                           ) -> dict[str, Customer]:
        """The customers of these conversations, by id (the inbox list shows their names)."""
        return await self.store.customers_by_ids([c.customer_id for c in conversations])

    async def by_reference(self, ref: int) -> Conversation | None:
        """The conversation customers know as "#<ref>", if there is one."""
        return (await self.store.conversations_by_refs([ref])).get(ref)

    async def messages(self, ids: Sequence[str]) -> dict[str, Message]:
        """The stored messages among these ids (attachments are downloaded by message)."""
        return await self.store.messages_by_ids(ids)

    async def current(self, conversation_id: str) -> Conversation:
        """The conversation as stored now, alone (NotFound if there is none)."""
        return await self.store.get_conversation(conversation_id)

    async def get(self, conversation_id: str, timeline_limit: int = 50) -> ConversationView:
        """The conversation, its messages, its customer and their cross-channel timeline."""
        conv, messages = await asyncio.gather(  # two reads at once, on two store readers
            self.store.get_conversation(conversation_id),
            self.store.conversation_messages(conversation_id))
        customer, timeline = await asyncio.gather(
            self.store.get_customer(conv.customer_id),
            self.store.customer_history(conv.customer_id, None, timeline_limit))
        return ConversationView(conv, messages, customer, timeline.items, timeline.next_cursor)

    async def change(self, conversation_id: str, actor: User, action: str,
                     change: Callable[[Conversation], Conversation],
                     expected_version: int | None = None,
                     extra: Callable[[Conversation], Awaitable[WriteBatch]] | None = None,
                     detail: Mapping[str, Any] | None = None,
                     advice: str = "Reload and try again.",
                     current: Conversation | None = None) -> Conversation:
        """Read-modify-write with optimistic concurrency.

        With the version the agent saw, a newer one raises StaleVersion naming what changed;
        without one (automatic changes, confirmed actions) a lost race is retried. `current`:
        the conversation as the caller just read it (the first attempt reads nothing)."""
        first = current

        async def attempt() -> Conversation:
            nonlocal first
            conv, first = first or await self.store.get_conversation(conversation_id), None
            refuse_merged(conv)
            if expected_version is not None and conv.version != expected_version:
                raise await self.stale(conv, expected_version, actor, advice)
            updated = replace(change(conv), version=conv.version + 1, updated_at=self.clock())
            more = await extra(updated) if extra else WriteBatch()
            logged = (changes.entry(updated, actor, action.partition(":")[0], detail),
                      audit_entry(actor, action, conversation_id))
            try:  # the version, its change record and audit entry: all or nothing
                await self.store.write(replace(more, conversations=(updated,),
                                               documents=(*more.documents, *logged)))
            except ConflictError:
                if expected_version is not None:
                    raise await self.stale(await self.store.get_conversation(conversation_id),
                                            expected_version, actor, advice) from None
                raise
            self.events.publish(Event("conversation.updated", conversation_id, None,
                                      {"action": action}))
            if (self.on_resolved is not None and updated.status == Status.RESOLVED
                    and conv.status not in (Status.RESOLVED, Status.LISTENING)
                    and actor.id != SYSTEM.id):
                await self.on_resolved(updated)
            return updated

        if expected_version is not None:  # StaleVersion is a ConflictError: never retried
            return await attempt()
        return await retrying(attempt, ConflictError, CHANGE_RETRY,
                              note="conversation changed meanwhile, trying again")

    async def stale(self, conv: Conversation, expected: int, actor: User,
                     advice: str) -> StaleVersion:
        return StaleVersion(conv.version, await changes.since(self.store, conv, expected, actor),
                            advice)

    async def assign(self, conversation_id: str, assignee: str | None, actor: User,
                     expected_version: int | None = None) -> Conversation:
        """Assign (None: unassign); the new assignee is notified unless they did it."""
        before: str | None = None

        def change(c: Conversation) -> Conversation:
            nonlocal before
            before = c.assignee
            return replace(c, assignee=assignee or None)

        updated = await self.change(conversation_id, actor, f"assign:{assignee}", change,
                                    expected_version, detail={"assignee": assignee or None})
        if updated.assignee != before:
            await self.notifications.assigned(actor, updated)
        return updated

    async def set_status(self, conversation_id: str, status: Status, actor: User,
                         expected_version: int | None = None) -> Conversation:
        if status == Status.SNOOZED:
            raise ValidationError({"status": "a snooze needs a time: snooze it until one"})
        if status == Status.MERGED:
            raise ValidationError({"status": "merge it into another conversation instead"})

        def change(c: Conversation) -> Conversation:
            c = replace(c, snoozed_until=None)  # any other status ends a snooze
            if status == Status.OPEN and c.status == Status.LISTENING:
                return self.promoted(c)  # as the promote button: in the queue with a deadline
            return self.sla.moved(c, status, self.clock())  # resolved stops every clock

        return await self.change(conversation_id, actor, f"status:{status}", change,
                                  expected_version, detail={"status": status})

    async def promote(self, conversation_id: str, actor: User,
                      expected_version: int | None = None) -> Conversation:
        """A listening hit made a care conversation: open, in the queue, its response clock
        started now, at the promotion (the team owed no answer before it: a week-old hit
        promoted is due a full target from now, not breached at once), as ingest starts
        one when a customer writes. It then counts in the SLA report like any care
        conversation (the report leaves out listening hits by status), its first response
        measured from the promotion. Refused for anything that is not a listening hit."""
        def change(c: Conversation) -> Conversation:
            if c.status != Status.LISTENING:
                raise Refused(f"this conversation is {c.status}, not a listening hit: only a "
                              "listening hit can be made a care conversation")
            return self.promoted(c)

        return await self.change(conversation_id, actor, "promote", change, expected_version,
                                 detail={"status": Status.OPEN})

    def promoted(self, c: Conversation) -> Conversation:
        """A listening hit open in the care queue, its response clock started now."""
        return self.sla.customer_wrote(c, self.clock(), status=Status.OPEN,
                                       awaiting_since=None, snoozed_until=None)

    async def snooze(self, conversation_id: str, until: datetime, actor: User,
                     expected_version: int | None = None) -> Conversation:
        """Out of the open views until `until` (or until the customer writes: ingest reopens
        it); the response clock is left as it is. ValidationError for a time that is past,
        more than a year away or without a zone, or a conversation that is not open."""
        now = self.clock()
        if until.tzinfo is None or until.utcoffset() is None:
            raise ValidationError({"until": "must be a time with its zone"})
        if until <= now:
            raise ValidationError({"until": "must be in the future"})
        if until > now + MAX_SNOOZE:
            raise ValidationError({"until": "must be within a year"})

        def change(c: Conversation) -> Conversation:
            if c.status not in (Status.OPEN, Status.PENDING, Status.SNOOZED):
                raise ValidationError({"status": f"a {c.status} conversation cannot be snoozed"})
            return replace(self.sla.moved(c, Status.SNOOZED, now), snoozed_until=until)

        return await self.change(conversation_id, actor, "snooze", change, expected_version,
                                 detail={"until": until.isoformat()})

    async def sweep_snoozed(self, now: datetime | None = None, limit: int = 500) -> int:
        """Wake the snoozed conversations whose time has come (open again, clock as it was);
        the number woken. One that changed since it was read is left to the next sweep."""
        now = now or self.clock()
        page = await self.store.list_conversations(
            ConversationFilter(status=Status.SNOOZED, order="wake"), None, limit)
        woken = 0
        for conv in page.items:
            if conv.snoozed_until is None or conv.snoozed_until > now:
                break  # the first to wake come first
            try:
                await self.change(conv.id, SYSTEM, "wake", lambda c: self.sla.moved(
                    replace(c, snoozed_until=None), Status.OPEN, now), conv.version,
                    current=conv)  # open again, its response clock as it was
            except ConflictError:  # woken by the customer, snoozed again...: seen next time
                log.info("snoozed conversation changed meanwhile, not woken now",
                         extra={"conversation": conv.id})
                continue
            woken += 1
        return woken

    async def set_tags(self, conversation_id: str, tags: Sequence[str], actor: User,
                       expected_version: int | None = None) -> Conversation:
        """The conversation's tags, all of them (see checked_tags: a ValidationError says
        what is wrong with them)."""
        clean = checked_tags(tags)
        return await self.change(conversation_id, actor, "tags",
                                  lambda c: replace(c, tags=clean), expected_version,
                                  detail={"tags": list(clean)})

    async def add_tag(self, conversation_id: str, tag: str, actor: User,
                      expected_version: int | None = None) -> Conversation:
        """One more tag, the others kept (a bulk action: several agents may tag at once)."""
        found = checked_tags([tag])
        if not found:
            raise ValidationError({"tags": "a tag must not be empty"})
        clean = found[0]

        def change(c: Conversation) -> Conversation:
            return replace(c, tags=checked_tags([*c.tags, clean]))

        return await self.change(conversation_id, actor, f"tags:{clean}", change,
                                  expected_version, detail={"added": clean})

    async def set_priority(self, conversation_id: str, priority: str, actor: User,
                           expected_version: int | None = None) -> Conversation:
        """One of PRIORITIES (low, normal, high, urgent); ValidationError otherwise."""
        if priority not in PRIORITIES:
            raise ValidationError({"priority": f"must be one of {', '.join(PRIORITIES)}"})
        return await self.change(conversation_id, actor, f"priority:{priority}",
                                  lambda c: self.sla.reprioritized(replace(c, priority=priority)),
                                  expected_version,
                                  detail={"priority": priority})

    async def correct_sentiment(self, conversation_id: str, message_id: str, label: str,
                                actor: User, expected_version: int | None = None) -> Message:
        """An agent's sentiment label for a customer's message (inbox.corrections): a new
        conversation version (its latest-sentiment field follows when it is the customer's
        latest message), audited; the model's label kept in the message's meta."""
        clean = corrections.check_label(label)
        if clean is None:
            raise ValidationError({"sentiment": "must be positive, neutral or negative"})
        messages = await self.store.conversation_messages(conversation_id)
        msg = next((m for m in messages if m.id == message_id), None)
        if msg is None:
            raise NotFound("no such message in this conversation")
        if msg.direction != Direction.INBOUND:
            raise ValidationError({"message": "only a customer's message has a sentiment"})
        fixed = corrections.corrected(msg, clean, actor, self.clock())
        latest = corrections.customer_latest(messages)

        def change(c: Conversation) -> Conversation:
            return replace(c, sentiment=clean) if latest is not None and \
                latest.id == msg.id else c

        async def extra(_: Conversation) -> WriteBatch:
            return WriteBatch(messages=(fixed,))

        await self.change(conversation_id, actor, f"sentiment:{clean}", change,
                          expected_version, extra=extra,
                          detail={"message": msg.id, "sentiment": clean,
                                  "was": msg.sentiment})
        self.events.publish(Event("message.updated", conversation_id, msg.id,
                                  {"sentiment": clean}))
        return fixed

    async def add_note(self, conversation_id: str, text: str, actor: User) -> Message:
        """An internal note: visible to the team, never sent, stops no clock.

        Append-only: written alone, without a new conversation version, so notes never
        conflict with each other or with replies (message_count counts no notes)."""
        text = checked_text(text)
        conv = await self.store.get_conversation(conversation_id)
        refuse_merged(conv)
        found = (mentions.find_mentions(text, await self.notifications.team())
                 if "@" in text else [])
        note = replace(agent_message(conv, Direction.NOTE, text, actor, "note", self.clock()),
                       meta=mentions.as_meta(found))
        await self.store.write(WriteBatch(
            messages=(note,), documents=(audit_entry(actor, "note", conversation_id),)))
        self.events.publish(Event("message.created", conversation_id, note.id,
                                  {"direction": Direction.NOTE}))
        await self.notifications.mentioned(actor, conv, text, found)
        return note

    async def sweep_sla(self, now: datetime | None = None, limit: int = 500) -> dict[str, int]:
        """Alert once when a running clock turns at risk and once when it breaches."""
        now = now or self.clock()
        counts = {"at_risk": 0, "breached": 0}
        page = await self.store.list_conversations(ConversationFilter(order="due"), None, limit)
        for conv in page.items:
            state = self.sla.state(conv, now)
            if state not in counts or conv.due_at is None or conv.status == Status.SNOOZED:
                continue  # a snoozed clock alerts once it wakes
            key = f"{conv.id}|{conv.due_at.isoformat()}|{state}"
            if await self.store.sla_alerts.put_new(key, {"at": now.isoformat()}):
                counts[state] += 1
                self.events.publish(Event(f"sla.{state}", conv.id, None, {
                    "due_at": conv.due_at.isoformat(), "assignee": conv.assignee,
                    "channel": conv.channel}))
                log.warning("response deadline %s", "breached" if state == "breached"
                            else "at risk", extra={"conversation": conv.id,
                                                   "due_at": conv.due_at.isoformat()})
                if self.deadline_alerts is not None:  # managers and the assignee told
                    delivery = await self.deadline_alerts(conv, state, now)
                    await self.store.sla_alerts.put(key, {"at": now.isoformat(),
                                                          "delivery": delivery})
                if state == "at_risk" and self.customer_update is not None:
                    await self.customer_update(conv, now)
        return counts


def refuse_merged(conv: Conversation) -> None:
    """Nothing is done on a merged conversation: its messages are in the survivor."""
    if conv.status == Status.MERGED:
        raise Refused(f"#{conv.ref} was merged into another conversation; work on that one")


# A tag is one word: letters and digits, joined by - _ . / (late-delivery, q4/2026)
_TAG = re.compile(r"[^\W_]+(?:[-_./][^\W_]+)*")


def checked_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Tags as they are stored: one line, lower case, each once, in the order given; a
    ValidationError naming the first that is too long or not one word, or too many."""
    clean = tuple(dict.fromkeys(w for w in (clean_label(str(t), MAX_TAG + 1).lower()
                                            for t in tags) if w))
    if len(clean) > MAX_TAGS:
        raise ValidationError({"tags": f"at most {MAX_TAGS} tags on a conversation"})
    for tag in clean:
        shown = tag if len(tag) <= 20 else tag[:20] + "…"
        if len(tag) > MAX_TAG:
            raise ValidationError({"tags": f"a tag has at most {MAX_TAG} characters "
                                           f"('{shown}' is longer)"})
        if not _TAG.fullmatch(tag):
            raise ValidationError({"tags": f"a tag is one word of letters and digits, "
                                           f"joined by - _ . or / ('{shown}' is not)"})
    return clean


def checked_text(text: str) -> str:
    """What an agent wrote, as customers and colleagues will read it: no control characters."""
    text = clean_text(text or "", MAX_TEXT + 1).strip()
    if not text:
        raise ValidationError({"text": "must not be empty"})
    if len(text) > MAX_TEXT:
        raise ValidationError({"text": f"must be at most {MAX_TEXT} characters"})
    return text


def agent_message(conv: Conversation, direction: Direction, text: str, actor: User,
                   prefix: str, now: datetime) -> Message:
    external = f"{prefix}:{new_id('o')}"
    return Message(id=message_id_for("agent", external), conversation_id=conv.id,
                   channel=conv.channel, external_id=external, direction=direction, text=text,
                   created_at=now, received_at=now, author_label=actor.name or actor.email,
                   agent=actor.id)
