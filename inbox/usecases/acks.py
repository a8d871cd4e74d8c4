"""Acknowledgements and updates to customers: when a customer opens a conversation they are
told we have it and when to expect an answer; when its deadline nears (if configured), that
we are still working on it. Both go out through the reply machinery (inbox.usecases.replies)
as automated outbound messages that stop no response clock, claimed in the store first so
that no restart and no second worker sends one twice. Templates: inbox.acks."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from inbox import acks
from inbox.audit import audit
from inbox.collections import ACK_TEMPLATES, ACKS, AckDoc, AckTemplateDoc
from inbox.config import AckSettings
from inbox.errors import InboxError, Refused, ValidationError
from inbox.identity import normalize_email
from inbox.model import (
    Channel,
    Conversation,
    Direction,
    Message,
    Status,
    User,
    message_id_for,
    new_id,
    parse_ts,
)
from inbox.normalize import clean_text
from inbox.ports import IngestResult
from inbox.usecases.outlook import Outlook
from inbox.usecases.replies import Replies

log = logging.getLogger(__name__)
SAMPLE_NAME, SAMPLE_REF = "Ann Lee", 10482  # whom a template's preview is filled in for
SAMPLE_WAIT = timedelta(hours=3)  # ... and the deadline of its sample, from now
SAMPLE_LINK = "https://support.example.com/csat/sample"  # ... and their survey's link


@dataclass(frozen=True, slots=True)
class Promise:
    """What a customer writing now on a channel is told to expect (a normal-priority one)."""

    channel: str
    deadline: datetime | None  # by the SLA calendar (None: the channel has no target)
    recent_p90: float | None  # seconds (channel's counted time) nine in ten waited lately
    told: datetime | None  # the time the acknowledgement says


class Acknowledgements:
    """Acknowledgements and updates, on the replies' store, clock, SLA policy and senders."""

    def __init__(self, replies: Replies, settings: AckSettings,
                 own_addresses: Iterable[str] = ()) -> None:
        """`own_addresses`: the team's mailboxes, never acknowledged (no loops)."""
        self.replies, self.settings = replies, settings
        self.store, self.sla = replies.store, replies.sla
        self.own = frozenset(a for a in (normalize_email(x) for x in own_addresses) if a)
        self.period = timedelta(hours=settings.period_hours)
        self.max_age = timedelta(hours=settings.max_age_hours)
        self.outlook = Outlook(self.store, self.sla, replies.clock) if settings.queue else None

    # --- sending -------------------------------------------------------------------------

    async def opened(self, result: IngestResult) -> int:
        """Acknowledge the customers whose messages in this stored batch opened a
        conversation (Ingestor.on_opened); returns how many were sent."""
        by_id = {m.id: m for m in result.stored}
        oldest = self.replies.clock() - self.max_age
        sent = 0
        for mid in dict.fromkeys(result.opened):
            msg = by_id.get(mid)
            if msg is None or msg.created_at < oldest:  # old mail, first read now: no news
                continue
            try:
                sent += await self._send("ack", msg)
            except InboxError as exc:  # one customer's problem never stops the others
                log.warning("acknowledgement not sent: %s", exc,
                            extra={"conversation": msg.conversation_id})
        return sent

    async def still_working(self, conv: Conversation, now: datetime) -> bool:
        """Tell the customer once that we are still working on their conversation, with the
        expected answer time (its deadline nears: the SLA sweep's at-risk moment)."""
        if not self.settings.update or conv.status != Status.OPEN:
            return False
        history = await self.store.conversation_messages(conv.id)
        last = next((m for m in reversed(history) if _customer(m)), None)
        if last is None:
            return False
        try:
            return await self._send("update", last)
        except InboxError as exc:
            log.warning("update not sent: %s", exc, extra={"conversation": conv.id})
            return False

    def allowed(self, kind: str, msg: Message) -> bool:
        """May this customer message be answered automatically on its channel? Email when
        acknowledgements (or updates) are on; X only to direct messages, when ack.x_dm is
        on; a web form's acknowledgement is its thank-you page (updates go by mail)."""
        if not _customer(msg) or self._ours(msg) or msg.meta.get("no_auto_reply"):
            return False
        on = self.settings.update if kind == "update" else True
        if msg.channel == Channel.EMAIL:
            return on and (kind == "update" or self.settings.email)
        if msg.channel == Channel.X:
            return on and self.settings.x_dm and msg.meta.get("kind") == "dm"
        return kind == "update" and on  # web form: the thank-you page acknowledges

    def _ours(self, msg: Message) -> bool:
        """Written by (or answering to) one of the team's own addresses."""
        reply_to = msg.meta.get("reply_to")
        keys = [*msg.author_keys, *([reply_to] if isinstance(reply_to, str) else [])]
        return any(normalize_email(k) in self.own for k in keys if "@" in k)

    async def _send(self, kind: acks.Kind, msg: Message) -> bool:
        if not self.allowed(kind, msg):
            return False
        conv = await self.store.get_conversation(msg.conversation_id)
        if conv.status != Status.OPEN or conv.channel not in self.replies.senders:
            return False
        now = self.replies.clock()
        lang = acks.language(msg.lang, conv.lang)
        customer = await self.store.get_customer(conv.customer_id)
        labels = (i.label for i in customer.identities if i.label)
        facts = acks.AckFacts(conv.channel, lang, customer.name or next(labels, None),
                              await self.expected(conv.channel, conv.due_at), conv.ref, now)
        text = acks.render(await self.template(kind, conv.channel, lang), facts, self.sla)
        external = f"{kind}:{new_id('o')}"
        if not await self._claim(kind, conv.id, now, message_id_for("agent", external)):
            return False
        meta: dict[str, Any] = {"auto": kind, "lang": lang}
        if conv.channel == Channel.X:
            meta["reply_mode"] = "dm"
        try:
            sent = await self.replies.automatic(conv.id, text, external, meta)
        except Refused as exc:
            log.info("%s not sent: %s", kind, exc, extra={"conversation": conv.id})
            return False
        log.info("%s sent", kind, extra={"conversation": conv.id, "delivery": sent.delivery})
        return True

    async def _claim(self, kind: str, conversation_id: str, now: datetime,
                     message_id: str) -> bool:
        """Take the right to send: an update once per conversation, an acknowledgement once
        per period. Compare-and-set in the store: of two workers one wins, and a restart
        finds the claim."""
        claims = self.store.collection(ACKS)
        key = f"{kind}/{conversation_id}"
        old = await claims.get(key)
        if old is not None and (kind == "update" or now - parse_ts(old["at"]) < self.period):
            return False
        doc: AckDoc = {"at": now.isoformat(), "message_id": message_id}
        return await claims.swap(key, old, doc)

    async def expected(self, channel: str, due_at: datetime | None) -> datetime | None:
        """When the customer is told to expect an answer: the deadline, or the queue's
        later time (ack.queue; inbox.usecases.outlook)."""
        if self.outlook is None:
            return due_at
        return await self.outlook.expected(channel, due_at)

    async def promises(self, now: datetime | None = None) -> list[Promise]:
        """For managers: what a customer writing now on each channel is told, beside its
        deadline and how long nine in ten of its customers waited lately."""
        now = now or self.replies.clock()
        found = []
        for channel in Channel:
            due = self.sla.due(channel, now)
            deadline = due[0] if due else None
            recent = None if self.outlook is None else await self.outlook.recent(channel, now)
            told = deadline if self.outlook is None else self.outlook.told(
                channel, deadline, recent, now)
            found.append(Promise(channel.value, deadline, recent, told))
        return found

    # --- the web form's thank-you page ---------------------------------------------------

    async def receipt(self, due_at: datetime | None, reference: str,
                      lang: str | None) -> str | None:
        """What the web form's thank-you page tells the customer (the web form's
        acknowledgement template, in their language); None when ack.webform is off."""
        if not self.settings.webform:
            return None
        chosen = acks.language(lang)
        facts = acks.AckFacts(Channel.WEBFORM, chosen, None, due_at, reference,
                              self.replies.clock())
        return acks.render(await self.template("ack", Channel.WEBFORM, chosen), facts,
                           self.sla)

    # --- templates -----------------------------------------------------------------------

    async def template(self, kind: str, channel: str, lang: str) -> str:
        """The template in use: the team's, else the default."""
        doc = await self.store.collection(ACK_TEMPLATES).get(acks.template_key(kind, channel,
                                                                              lang))
        return doc["text"] if doc else acks.default_template(kind, channel, lang)

    async def templates(self) -> list[dict[str, Any]]:
        """Every template (kind x channel x language): its text, and who changed it when
        (None for a default)."""
        saved = dict(await self.store.collection(ACK_TEMPLATES).list(None, 1000))
        found = []
        for kind in acks.KINDS:
            for channel in acks.CHANNELS:
                for lang in acks.LANGS:
                    doc = saved.get(acks.template_key(kind, channel, lang))
                    found.append({
                        "kind": kind, "channel": channel, "lang": lang,
                        "text": doc["text"] if doc else acks.default_template(kind, channel,
                                                                              lang),
                        "custom": doc is not None,
                        "updated_at": doc["updated_at"] if doc else None,
                        "by": doc["by"] if doc else None})
        return found

    async def save_template(self, actor: User, kind: Any, channel: Any, lang: Any,
                            text: Any) -> AckTemplateDoc:
        """Save the team's template (ValidationError naming what is wrong)."""
        key = _checked_key(kind, channel, lang)
        body = clean_text(text, acks.MAX_TEMPLATE + 1).strip() if isinstance(text, str) else ""
        if not body:
            raise ValidationError({"text": "required: the message, with variables like "
                                           "{expected_answer_time}"})
        if len(body) > acks.MAX_TEMPLATE:
            raise ValidationError({"text": f"at most {acks.MAX_TEMPLATE:,} characters"})
        doc: AckTemplateDoc = {"text": body, "updated_at": self.replies.clock().isoformat(),
                               "by": actor.email}
        await self.store.collection(ACK_TEMPLATES).put(key, doc)
        await audit(self.store, actor, "ack_template.save", key)
        return doc

    async def reset_template(self, actor: User, kind: Any, channel: Any, lang: Any) -> None:
        """Back to the default text."""
        key = _checked_key(kind, channel, lang)
        await self.store.collection(ACK_TEMPLATES).delete(key)
        await audit(self.store, actor, "ack_template.reset", key)

    def preview(self, kind: str, channel: str, lang: str, text: str) -> str:
        """The text filled in for a sample customer ("Ann Lee", #10482) whose deadline runs
        on the live calendar from now (and a sample survey link)."""
        now = self.replies.clock()
        due = self.sla.due(channel, now)
        facts = acks.AckFacts(channel, lang, SAMPLE_NAME, due[0] if due else now + SAMPLE_WAIT,
                              SAMPLE_REF, now, SAMPLE_LINK)
        return acks.render(text, facts, self.sla)


def _customer(msg: Message) -> bool:
    """A message the customer wrote (not an auto-reply, bounce or list mail)."""
    return msg.direction == Direction.INBOUND and not msg.automated


def _checked_key(kind: Any, channel: Any, lang: Any) -> str:
    errors = {}
    if kind not in acks.KINDS:
        errors["kind"] = "one of " + ", ".join(acks.KINDS)
    if channel not in acks.CHANNELS:
        errors["channel"] = "one of " + ", ".join(acks.CHANNELS)
    if lang not in acks.LANGS:
        errors["lang"] = "one of " + ", ".join(acks.LANGS)
    if errors:
        raise ValidationError(errors)
    return acks.template_key(str(kind), str(channel), str(lang))

