"""Canned replies: team documents (name, text with variables, optional channel) that admins
and managers keep and every agent inserts, filled in for the conversation (inbox.canned)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from inbox import canned
from inbox.audit import audit
from inbox.collections import CannedDoc, existing
from inbox.errors import ValidationError
from inbox.model import Channel, User, new_id, utcnow
from inbox.normalize import clean_text, required_label
from inbox.sla import SlaPolicy
from inbox.store import Store

MAX_NAME, MAX_TEXT = 100, 5_000
MAX_REPLIES = 500  # a team's whole set, listed at once


@dataclass(frozen=True, slots=True)
class Rendered:
    """A canned reply filled in for one conversation, ready to insert."""

    id: str
    name: str
    text_rendered: str


class CannedReplies:
    def __init__(self, store: Store, sla: SlaPolicy) -> None:
        self.store, self.sla = store, sla

    async def all(self) -> list[CannedDoc]:
        """Every canned reply, by name."""
        found = [doc for _, doc in await self.store.canned.list(None, MAX_REPLIES)]
        return sorted(found, key=lambda d: (d["name"].casefold(), d["id"]))

    async def get(self, reply_id: str) -> CannedDoc:
        return await existing(self.store.canned, reply_id, "canned reply")

    async def create(self, actor: User, name: Any, text: Any, channel: Any = None
                     ) -> CannedDoc:
        fields = _checked(name, text, channel)
        existing = await self.all()
        if len(existing) >= MAX_REPLIES:
            raise ValidationError({"name": f"at most {MAX_REPLIES} canned replies; "
                                           "delete one first"})
        _name_free(existing, fields.name, None)
        now = utcnow().isoformat()
        doc: CannedDoc = {"id": new_id("k"), "name": fields.name, "text": fields.text,
                          "channel": fields.channel, "created_at": now, "updated_at": now,
                          "by": actor.email}
        await self.store.canned.put(doc["id"], doc)
        await audit(self.store, actor, "canned.add", doc["id"])
        return doc

    async def update(self, actor: User, reply_id: str, name: Any, text: Any,
                     channel: Any = None) -> CannedDoc:
        fields = _checked(name, text, channel)
        old = await self.get(reply_id)
        _name_free(await self.all(), fields.name, old["id"])
        doc: CannedDoc = {**old, "name": fields.name, "text": fields.text,
                          "channel": fields.channel, "updated_at": utcnow().isoformat(),
                          "by": actor.email}
        await self.store.canned.put(old["id"], doc)
        await audit(self.store, actor, "canned.edit", old["id"])
        return doc

    async def delete(self, actor: User, reply_id: str) -> CannedDoc:
        doc = await self.get(reply_id)
        await self.store.canned.delete(doc["id"])
        await audit(self.store, actor, "canned.delete", doc["id"])
        return doc

    async def for_conversation(self, conversation_id: str, agent: User) -> list[Rendered]:
        """The canned replies offered on this conversation's channel, filled in for it and
        for this agent."""
        conv = await self.store.get_conversation(conversation_id)
        customer = await self.store.get_customer(conv.customer_id)
        # the customer's name, else how an address names them ("Ann <ann@example.com>")
        labels = (i.label for i in customer.identities if i.label)
        facts = canned.Facts(customer_name=customer.name or next(labels, None),
                             agent_name=agent.name,
                             due_at=conv.due_at, reference=conv.ref,
                             team_zone=self.sla.calendar.zone, now=utcnow())
        filled = canned.values(facts)
        return [Rendered(d["id"], d["name"], canned.render(d["text"], filled))
                for d in await self.all() if d.get("channel") in (None, conv.channel)]

class Fields(NamedTuple):
    name: str
    text: str
    channel: str | None


def _name_free(existing: list[CannedDoc], name: str, own_id: str | None) -> None:
    """One name, one canned reply (ignoring case), so agents pick the one they mean."""
    if any(d["name"].casefold() == name.casefold() and d["id"] != own_id for d in existing):
        raise ValidationError({"name": f"a canned reply is already named {name!r}"})


def _checked(name: Any, text: Any, channel: Any) -> Fields:
    """A canned reply's fields, cleaned; ValidationError says what is wrong with each."""
    errors: dict[str, str] = {}
    clean_name = required_label(name, MAX_NAME, "name", "what agents pick it by", errors)
    clean_body = clean_text(text, MAX_TEXT + 1).strip() if isinstance(text, str) else ""
    if not clean_body:
        errors["text"] = "required: the reply, with variables like {customer_first_name}"
    elif len(clean_body) > MAX_TEXT:
        errors["text"] = f"at most {MAX_TEXT:,} characters"
    chosen = channel or None
    if chosen is not None and chosen not in {c.value for c in Channel}:
        errors["channel"] = "one of " + ", ".join(c.value for c in Channel) + ", or none"
    if errors:
        raise ValidationError(errors)
    return Fields(clean_name, clean_body, chosen)
