"""Replies: send an agent's answer through the conversation's channel, deliver, retry."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from inbox.audit import entry as audit_entry
from inbox.errors import (
    ConflictError,
    FatalError,
    InboxError,
    NotFound,
    Refused,
    RetryableError,
    ValidationError,
)
from inbox.model import (
    Channel,
    Conversation,
    Customer,
    Delivery,
    Direction,
    Event,
    Message,
    Status,
    User,
    message_id_for,
    new_id,
)
from inbox.ports import Composes, Outbound, ReplyForm, Sender
from inbox.reply_options import ReplyOptions
from inbox.sla import SlaPolicy
from inbox.store import WriteBatch
from inbox.usecases.conversations import (
    SYSTEM,
    Conversations,
    agent_message,
    checked_text,
    refuse_merged,
)

log = logging.getLogger(__name__)
IN_FLIGHT = timedelta(minutes=5)
NOT_SENT = ("Your reply was not sent: read what is new, then send it anyway (confirm) or "
            "change it.")

MAX_KEY = 200  # characters of a client's idempotency key
AUTOMATIC = "Automatic reply"  # the author agents see on automatic messages


def _stored(msg: Message) -> Callable[[Conversation], Message]:
    """A stored message, whatever conversation it is sent in."""
    return lambda _: msg


class Replies:
    """Replies of agents, on the conversations' store, clock and SLA policy."""

    def __init__(self, conversations: Conversations,
                 senders: Mapping[Channel, Sender] | None = None) -> None:
        self.conversations = conversations
        self.store, self.events = conversations.store, conversations.events
        self.senders: dict[Channel, Sender] = dict(senders or {})

    @property
    def sla(self) -> SlaPolicy:
        return self.conversations.sla

    def clock(self) -> datetime:
        return self.conversations.clock()

    async def _outbound(self, conversation_id: str,
                        message: Callable[[Conversation], Message]) -> Outbound:
        """What a sender needs to send the message made for the conversation: the
        conversation (read once), customer and the messages so far."""
        conv = await self.store.get_conversation(conversation_id)
        history = await self.store.conversation_messages(conversation_id)
        customer = await self.store.get_customer(conv.customer_id)
        return Outbound(conv, customer, message(conv), history)

    async def reply(self, conversation_id: str, text: str, actor: User,
                    idempotency_key: str | None = None, status: Status | None = None,
                    expected_version: int | None = None, confirm: bool = True,
                    options: ReplyOptions | None = None) -> Message:
        """Send a reply through the conversation's channel; a replayed key sends nothing.

        `options`: the agent's choices (X: public or DM; email: subject, cc), kept in the
        outbound message's meta, where its sender reads them (also when retrying).

        `status` (pending, resolved...) is set together with the reply. `expected_version`
        is the conversation version the agent answered: if anything happened since, nothing
        is sent and StaleVersion says what. None with `confirm`: send anyway; None without it:
        the version read now, so of two simultaneous replies one goes and one gets StaleVersion."""
        text = checked_text(text)
        if status == Status.SNOOZED:
            raise ValidationError({"status": "a snooze needs a time: snooze it apart"})
        if idempotency_key is not None and len(idempotency_key) > MAX_KEY:
            raise ValidationError({"idempotency_key": f"must be text of at most {MAX_KEY} "
                                                      "characters"})
        key = f"reply:{conversation_id}:{idempotency_key or new_id('k')}"
        if await self.store.idempotency.get(key) is not None:
            return await self._replayed(key)
        now = self.clock()
        chosen = options or ReplyOptions()
        out = await self._outbound(conversation_id, lambda conv: replace(  # the one read
            agent_message(conv, Direction.OUTBOUND, text, actor, "out", now),
            delivery=Delivery.PENDING, meta=chosen.meta(conv.channel)))
        current, msg = out.conversation, out.message
        refuse_merged(current)
        if expected_version is None and not confirm:
            expected_version = current.version
        if expected_version is not None and current.version != expected_version:
            raise await self.conversations.stale(current, expected_version, actor, NOT_SENT)
        self._sender(current.channel).check(out)
        if not await self.store.idempotency.put_new(key, {"message_id": msg.id}):
            return await self._replayed(key)

        async def with_reply(conv: Conversation) -> WriteBatch:
            return WriteBatch(messages=(msg,))

        def answered(c: Conversation) -> Conversation:
            c = replace(c, message_count=c.message_count + 1,
                        last_message_at=max(c.last_message_at, msg.created_at),
                        snoozed_until=c.snoozed_until if status is None else None)
            c = self.sla.answered(c, msg.created_at)
            return c if status is None else self.sla.moved(c, status, msg.created_at)

        try:
            conv = await self.conversations.change(
                conversation_id, actor, "reply", answered, expected_version, with_reply,
                {"status": status}, NOT_SENT, current=current)
        except BaseException:
            stored = await self.store.messages_by_ids([msg.id])
            if msg.id not in stored:  # nothing written: the same key may try again
                await self.store.idempotency.delete(key)
            raise
        return await self.deliver(replace(out, conversation=conv, message=msg))

    async def automatic(self, conversation_id: str, text: str, external_id: str,
                        meta: Mapping[str, Any]) -> Message:
        """Send an automatic message (an acknowledgement, an update) on the conversation's
        channel: stored as an automated outbound message (`external_id`, agent "system"),
        which the agents see in the thread; it answers nothing, so no response clock stops.

        Append-only, like a note: written alone, without a new conversation version, so an
        agent answering meanwhile is never told the conversation changed (message_count
        counts no automatic messages). Refused (nothing stored) when the channel's sender
        would refuse it."""
        now = self.clock()
        out = await self._outbound(conversation_id, lambda conv: replace(
            agent_message(conv, Direction.OUTBOUND, text, SYSTEM, "auto", now),
            id=message_id_for("agent", external_id), external_id=external_id,
            author_label=AUTOMATIC, automated=True, delivery=Delivery.PENDING,
            meta=dict(meta)))
        refuse_merged(out.conversation)
        self._sender(out.conversation.channel).check(out)
        await self.store.write(WriteBatch(messages=(out.message,), documents=(
            audit_entry(SYSTEM, "automatic reply", conversation_id),)))
        self.events.publish(Event("message.created", conversation_id, out.message.id,
                                  {"direction": Direction.OUTBOUND}))
        return await self.deliver(out)

    def _sender(self, channel: Channel) -> Sender:
        sender = self.senders.get(channel)
        if sender is None:
            raise Refused(f"replies on {channel} are not set up; configure the channel's "
                          "sending account")
        return sender

    def _probe(self, conv: Conversation, customer: Customer, history: tuple[Message, ...],
               meta: Mapping[str, Any] | None = None) -> Outbound:
        probe = agent_message(conv, Direction.OUTBOUND, "(a reply)", SYSTEM, "probe",
                              self.clock())
        return Outbound(conv, customer, replace(probe, meta=meta or {}), history)

    def unsendable(self, conv: Conversation, customer: Customer,
                   history: tuple[Message, ...]) -> str | None:
        """Why no reply can go out on this conversation now, before the agent types one (no
        sending account, X's public-reply rule, no address...); None when one can (in one
        of the ways the channel offers: on X a public reply or a DM)."""
        try:
            sender = self._sender(conv.channel)
            modes: list[str | None] = [
                m for m, _ in self.reply_form(conv, customer, history).modes] or [None]
        except Refused as exc:
            return str(exc)
        why = ""
        for mode in modes:
            try:
                sender.check(self._probe(conv, customer, history,
                                         {"reply_mode": mode} if mode else None))
            except Refused as exc:
                why = why or str(exc)
            else:
                return None
        return why

    def reply_form(self, conv: Conversation, customer: Customer,
                   history: tuple[Message, ...]) -> ReplyForm:
        """What the composer offers on this conversation (X: public or DM and why not; email:
        recipient, default subject and cc); empty where the sender offers no choice."""
        sender = self.senders.get(conv.channel)
        if not isinstance(sender, Composes):
            return ReplyForm()
        try:
            return sender.reply_form(self._probe(conv, customer, history))
        except Refused:
            return ReplyForm()

    async def _replayed(self, key: str) -> Message:
        done = await self.store.idempotency.get(key)
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
            delivery, meta["error"] = Delivery.FAILED, str(exc)
        except (FatalError, Refused) as exc:
            delivery, meta["error"] = Delivery.REJECTED, str(exc)
        except InboxError as exc:
            delivery, meta["error"] = Delivery.REJECTED, str(exc)
        else:
            delivery = Delivery.SENT
            meta.pop("error", None)
            meta.update(receipt.meta, provider_id=receipt.provider_id)
            keys = tuple((k, msg.conversation_id) for k in receipt.thread_keys)
        sent = replace(msg, delivery=delivery, meta=meta)
        await self.store.write(WriteBatch(messages=(sent,), thread_keys=keys))
        if delivery == Delivery.REJECTED and not msg.automated:  # the customer got nothing:
            # their clock runs again (an automatic message never stopped it)
            await self._restart_clock(msg)
        if delivery != Delivery.SENT:
            log.warning("reply not delivered", extra={"conversation": msg.conversation_id,
                                                      "delivery": delivery, "error": meta["error"]})
        self.events.publish(Event("message.delivery", msg.conversation_id, msg.id,
                                  {"delivery": delivery}))
        return sent

    async def _restart_clock(self, failed: Message) -> None:
        """After a rejected reply: wait again since the first customer message it answered."""
        history = await self.store.conversation_messages(failed.conversation_id)
        last_sent = max((m.created_at for m in history if m.direction == Direction.OUTBOUND
                         and m.delivery == Delivery.SENT and not m.automated), default=None)
        waiting = [m.created_at for m in history if m.direction == Direction.INBOUND
                   and not m.automated and (last_sent is None or m.created_at > last_sent)]
        if not waiting:
            return

        def change(c: Conversation) -> Conversation:
            return self.sla.reply_rejected(c, min(waiting), failed.created_at)

        await self.conversations.change(failed.conversation_id, SYSTEM, "reply rejected", change)

    async def retry_failed(self, limit: int = 50, max_attempts: int = 8) -> int:
        """Send again what failed for a retryable reason; returns how many were tried."""
        tried = 0
        for msg in await self.store.pending_outbound(limit):
            if int(msg.meta.get("attempts", 0)) >= max_attempts:
                continue
            if msg.delivery == Delivery.PENDING and self.clock() - msg.created_at < IN_FLIGHT:
                continue  # probably being sent right now
            out = await self._outbound(msg.conversation_id, _stored(msg))
            if out.conversation.channel not in self.senders:
                continue
            await self.deliver(out)
            tried += 1
        return tried
