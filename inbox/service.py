"""Agent and manager use cases: read, assign, status, notes, replies."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from inbox import changes
from inbox.audit import audit
from inbox.errors import (
    ConflictError,
    FatalError,
    InboxError,
    NotFound,
    Refused,
    RetryableError,
    StaleVersion,
    ValidationError,
)
from inbox.events import EventBus
from inbox.model import (
    Conversation,
    ConversationFilter,
    Customer,
    Direction,
    Event,
    Message,
    Page,
    SlaRow,
    Status,
    User,
    message_id_for,
    new_id,
    utcnow,
)
from inbox.normalize import clean_label, clean_text
from inbox.ports import Outbound, Sender
from inbox.sla import SlaPolicy
from inbox.store import IDEMPOTENCY, SLA_ALERTS, Store, WriteBatch

log = logging.getLogger(__name__)
MAX_TEXT = 20_000
MAX_TAGS, MAX_TAG = 30, 50
SYSTEM = User(id="system", email="system", role="admin",
              password_hash="")  # noqa: S106 - the audit's actor for automatic changes; cannot sign in
IN_FLIGHT = timedelta(minutes=5)
NOT_SENT = ("Your reply was not sent: read what is new, then send it anyway (confirm) or "
            "change it.")


@dataclass(frozen=True, slots=True)
class ConversationView:
    conversation: Conversation
    messages: tuple[Message, ...]
    customer: Customer
    timeline: tuple[Message, ...]  # the customer's messages on every channel, newest first
    timeline_cursor: str | None


class InboxService:
    def __init__(self, store: Store, events: EventBus,
                 senders: Mapping[str, Sender] | None = None,
                 sla: SlaPolicy | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store, self.events = store, events
        self.clock = clock  # the time of every change (the demo replays a month with its own)
        self.sla = sla or SlaPolicy()
        self.senders: dict[str, Sender] = dict(senders or {})

    async def sla_report(self, since: datetime, until: datetime) -> tuple[SlaRow, ...]:
        return await self.store.sla_report(since, until)

    async def conversations(self, flt: ConversationFilter, cursor: str | None,
                            limit: int) -> Page[Conversation]:
        return await self.store.list_conversations(flt, cursor, limit)

    async def conversation(self, conversation_id: str, timeline_limit: int = 50
                           ) -> ConversationView:
        conv = await self.store.get_conversation(conversation_id)
        messages = await self.store.conversation_messages(conversation_id)
        customer = await self.store.get_customer(conv.customer_id)
        timeline = await self.store.customer_messages(customer.id, None, timeline_limit)
        return ConversationView(conv, messages, customer, timeline.items, timeline.next_cursor)

    async def customer(self, customer_id: str) -> Customer:
        return await self.store.get_customer(customer_id)

    async def _change(self, conversation_id: str, actor: User, action: str,
                      change: Callable[[Conversation], Conversation],
                      expected_version: int | None = None,
                      extra: Callable[[Conversation], Awaitable[WriteBatch]] | None = None,
                      detail: Mapping[str, Any] | None = None,
                      advice: str = "Reload and try again.") -> Conversation:
        """Read-modify-write with optimistic concurrency.

        With the version the agent saw, a newer one raises StaleVersion naming what changed;
        without one (automatic changes, confirmed actions) a lost race is retried."""
        for attempt in range(3):
            conv = await self.store.get_conversation(conversation_id)
            if expected_version is not None and conv.version != expected_version:
                raise await self._stale(conv, expected_version, actor, advice)
            updated = replace(change(conv), version=conv.version + 1, updated_at=self.clock())
            more = await extra(updated) if extra else WriteBatch()
            key = await changes.record(self.store, updated, actor, action.partition(":")[0],
                                       detail)
            try:
                await self.store.write(replace(more, conversations=(updated,)))
            except ConflictError:
                await changes.forget(self.store, key)
                if expected_version is not None:
                    raise await self._stale(await self.store.get_conversation(conversation_id),
                                            expected_version, actor, advice) from None
                if attempt == 2:
                    raise
                continue
            except BaseException:
                await changes.forget(self.store, key)
                raise
            await audit(self.store, actor, action, conversation_id)
            self.events.publish(Event("conversation.updated", conversation_id, None,
                                      {"action": action}))
            return updated
        raise ConflictError("conversation keeps changing; try again")  # pragma: no cover

    async def _stale(self, conv: Conversation, expected: int, actor: User,
                     advice: str) -> StaleVersion:
        return StaleVersion(conv.version, await changes.since(self.store, conv, expected, actor),
                            advice)

    async def assign(self, conversation_id: str, assignee: str | None, actor: User,
                     expected_version: int | None = None) -> Conversation:
        return await self._change(conversation_id, actor, f"assign:{assignee}",
                                  lambda c: replace(c, assignee=assignee or None),
                                  expected_version, detail={"assignee": assignee or None})

    async def set_status(self, conversation_id: str, status: str, actor: User,
                         expected_version: int | None = None) -> Conversation:
        if status not in set(Status):
            raise ValidationError({"status": f"must be one of {', '.join(Status)}"})

        def change(c: Conversation) -> Conversation:
            if status == Status.RESOLVED:  # resolved stops every clock
                return self.sla.resolved(c, self.clock())
            return replace(c, status=status)

        return await self._change(conversation_id, actor, f"status:{status}", change,
                                  expected_version, detail={"status": status})

    async def set_tags(self, conversation_id: str, tags: list[str], actor: User) -> Conversation:
        clean = tuple(dict.fromkeys(w for w in (clean_label(t).strip().lower() for t in tags)
                                    if w))
        if len(clean) > MAX_TAGS or any(len(t) > MAX_TAG for t in clean):
            raise ValidationError({"tags": f"at most {MAX_TAGS} tags of at most {MAX_TAG} "
                                           "characters each"})
        return await self._change(conversation_id, actor, "tags",
                                  lambda c: replace(c, tags=clean))

    async def add_note(self, conversation_id: str, text: str, actor: User) -> Message:
        """An internal note: visible to the team, never sent, stops no clock.

        Append-only: written alone, without a new conversation version, so notes never
        conflict with each other or with replies (message_count counts no notes)."""
        text = _checked_text(text)
        conv = await self.store.get_conversation(conversation_id)
        note = replace(_agent_message(conversation_id, Direction.NOTE, text, actor, "note",
                                      self.clock()),
                       channel=conv.channel)
        await self.store.write(WriteBatch(messages=(note,)))
        await audit(self.store, actor, "note", conversation_id)
        self.events.publish(Event("message.created", conversation_id, note.id,
                                  {"direction": Direction.NOTE}))
        return note

    async def reply(self, conversation_id: str, text: str, actor: User,
                    idempotency_key: str | None = None, status: str | None = None,
                    expected_version: int | None = None, confirm: bool = True) -> Message:
        """Send a reply through the conversation's channel; a replayed key sends nothing.

        `status` (pending, resolved...) is set together with the reply. `expected_version`
        is the conversation version the agent answered: if anything happened since, nothing
        is sent and StaleVersion says what. None with `confirm`: send anyway; None without it:
        the version read now, so of two simultaneous replies one goes and one gets StaleVersion."""
        text = _checked_text(text)
        if status is not None and status not in set(Status):
            raise ValidationError({"status": f"must be one of {', '.join(Status)}"})
        key = f"reply:{conversation_id}:{idempotency_key or new_id('k')}"
        if await self.store.kv_get(IDEMPOTENCY, key) is not None:
            return await self._replayed(key)
        view = await self.conversation(conversation_id, timeline_limit=1)
        if expected_version is None and not confirm:
            expected_version = view.conversation.version
        if expected_version is not None and view.conversation.version != expected_version:
            raise await self._stale(view.conversation, expected_version, actor, NOT_SENT)
        sender = self.senders.get(view.conversation.channel)
        if sender is None:
            raise Refused(f"replies on {view.conversation.channel} are not set up; configure "
                          "the channel's sending account")
        msg = replace(_agent_message(conversation_id, Direction.OUTBOUND, text, actor, "out",
                                     self.clock()),
                      channel=view.conversation.channel, delivery="pending")
        out = Outbound(view.conversation, view.customer, msg, view.messages)
        sender.check(out)
        if not await self.store.kv_put_new(IDEMPOTENCY, key, {"message_id": msg.id}):
            return await self._replayed(key)

        async def with_reply(conv: Conversation) -> WriteBatch:
            return WriteBatch(messages=(msg,))

        def answered(c: Conversation) -> Conversation:
            c = replace(c, message_count=c.message_count + 1, status=status or c.status,
                        last_message_at=max(c.last_message_at, msg.created_at))
            c = self.sla.first_response(c, msg.created_at)
            return self.sla.resolved(c, msg.created_at) if status == Status.RESOLVED else c

        try:
            conv = await self._change(conversation_id, actor, "reply", answered,
                                      expected_version, with_reply, {"status": status},
                                      NOT_SENT)
        except BaseException:
            stored = await self.store.messages_by_ids([msg.id])
            if msg.id not in stored:  # nothing written: the same key may try again
                await self.store.kv_delete(IDEMPOTENCY, key)
            raise
        return await self.deliver(replace(out, conversation=conv, message=msg))

    async def _replayed(self, key: str) -> Message:
        done = await self.store.kv_get(IDEMPOTENCY, key)
        if done is None:
            raise NotFound("reply not found")
        found = await self.store.messages_by_ids([done["message_id"]])
        if done["message_id"] not in found:
            raise ConflictError("the same reply is being sent right now")
        return found[done["message_id"]]

    async def deliver(self, out: Outbound) -> Message:
        """Send one stored outbound message and record the outcome."""
        msg = out.message
        sender = self.senders[out.conversation.channel]
        attempts = int(msg.meta.get("attempts", 0)) + 1
        meta: dict[str, Any] = {**msg.meta, "attempts": attempts}
        keys: tuple[tuple[str, str], ...] = ()
        try:
            receipt = await sender.send(out)
        except RetryableError as exc:
            delivery, meta["error"] = "failed", str(exc)
        except (FatalError, Refused) as exc:
            delivery, meta["error"] = "rejected", str(exc)
        except InboxError as exc:
            delivery, meta["error"] = "rejected", str(exc)
        else:
            delivery = "sent"
            meta.pop("error", None)
            meta.update(receipt.meta, provider_id=receipt.provider_id)
            keys = tuple((k, msg.conversation_id) for k in receipt.thread_keys)
        sent = replace(msg, delivery=delivery, meta=meta)
        await self.store.write(WriteBatch(messages=(sent,), thread_keys=keys))
        if delivery == "rejected":  # the customer got nothing: their clock runs again
            await self._restart_clock(msg)
        if delivery != "sent":
            log.warning("reply not delivered", extra={"conversation": msg.conversation_id,
                                                      "delivery": delivery, "error": meta["error"]})
        self.events.publish(Event("message.delivery", msg.conversation_id, msg.id,
                                  {"delivery": delivery}))
        return sent

    async def sweep_sla(self, now: datetime | None = None, limit: int = 500) -> dict[str, int]:
        """Alert once when a running clock turns at risk and once when it breaches."""
        now = now or self.clock()
        counts = {"at_risk": 0, "breached": 0}
        page = await self.store.list_conversations(ConversationFilter(order="due"), None, limit)
        for conv in page.items:
            state = self.sla.state(conv, now)
            if state not in counts or conv.due_at is None:
                continue
            key = f"{conv.id}|{conv.due_at.isoformat()}|{state}"
            if await self.store.kv_put_new(SLA_ALERTS, key, {"at": now.isoformat()}):
                counts[state] += 1
                self.events.publish(Event(f"sla.{state}", conv.id, None, {
                    "due_at": conv.due_at.isoformat(), "assignee": conv.assignee,
                    "channel": conv.channel}))
                log.warning("response deadline %s", "breached" if state == "breached"
                            else "at risk", extra={"conversation": conv.id,
                                                   "due_at": conv.due_at.isoformat()})
        return counts

    async def _restart_clock(self, failed: Message) -> None:
        """After a rejected reply: wait again since the first customer message it answered."""
        history = await self.store.conversation_messages(failed.conversation_id)
        last_sent = max((m.created_at for m in history if m.direction == Direction.OUTBOUND
                         and m.delivery == "sent"), default=None)
        waiting = [m.created_at for m in history if m.direction == Direction.INBOUND
                   and not m.automated and (last_sent is None or m.created_at > last_sent)]
        if not waiting:
            return

        def change(c: Conversation) -> Conversation:
            due = self.sla.due(c.channel, min(waiting))
            c = replace(c, awaiting_since=min(waiting), due_at=due[0] if due else None,
                        due_basis=due[1] if due else None)
            if c.first_response_at == failed.created_at:  # that was no response after all
                c = replace(c, first_response_at=None, first_response_seconds=None,
                            first_response_breached=None)
            return c

        await self._change(failed.conversation_id, SYSTEM, "reply rejected", change)

    async def retry_failed(self, limit: int = 50, max_attempts: int = 8) -> int:
        """Send again what failed for a retryable reason; returns how many were tried."""
        tried = 0
        for msg in await self.store.pending_outbound(limit):
            if int(msg.meta.get("attempts", 0)) >= max_attempts:
                continue
            if msg.delivery == "pending" and self.clock() - msg.created_at < IN_FLIGHT:
                continue  # probably being sent right now
            view = await self.conversation(msg.conversation_id, timeline_limit=1)
            if view.conversation.channel not in self.senders:
                continue
            await self.deliver(Outbound(view.conversation, view.customer, msg, view.messages))
            tried += 1
        return tried



def _checked_text(text: str) -> str:
    """What an agent wrote, as customers and colleagues will read it: no control characters."""
    text = clean_text(text or "", MAX_TEXT + 1).strip()
    if not text:
        raise ValidationError({"text": "must not be empty"})
    if len(text) > MAX_TEXT:
        raise ValidationError({"text": f"must be at most {MAX_TEXT} characters"})
    return text


def _agent_message(conversation_id: str, direction: str, text: str, actor: User,
                   prefix: str, now: datetime) -> Message:
    external = f"{prefix}:{new_id('o')}"
    return Message(id=message_id_for("agent", external), conversation_id=conversation_id,
                   channel="", external_id=external, direction=direction, text=text,
                   created_at=now, received_at=now, author_label=actor.name or actor.email,
                   agent=actor.id)
