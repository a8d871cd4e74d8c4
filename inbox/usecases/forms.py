"""Public web forms: a customer's submission becomes a message with a receipt that says
when to expect an answer. The web form channel (a port) validates; limits are the web's."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from inbox import acks
from inbox.errors import NotFound
from inbox.ingest import Ingestor
from inbox.model import Channel, utcnow
from inbox.ports import WebForm, WebFormChannel
from inbox.sla import SlaPolicy
from inbox.usecases.acks import Acknowledgements

log = logging.getLogger(__name__)
THANKS = "Thank you, we have your message and will answer as soon as we can."


class Forms:
    def __init__(self, channel: WebFormChannel, ingestor: Ingestor, sla: SlaPolicy,
                 clock: Callable[[], datetime] = utcnow,
                 acks: Acknowledgements | None = None) -> None:
        """`acks`: the acknowledgement templates the thank-you page is written with (None:
        the English default)."""
        self.channel, self.ingestor, self.sla, self.clock = channel, ingestor, sla, clock
        self.acks = acks

    @property
    def honeypot(self) -> str:
        return self.channel.honeypot

    def form(self, slug: str) -> WebForm:
        found = self.channel.form(slug)
        if found is None:
            raise NotFound("no such form")
        return found

    async def submit(self, slug: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and store (searches see it at once); returns what the customer is told.
        A filled honeypot is dropped with the same answer; an item that cannot be stored is
        kept as a dead letter, whose key is the reference."""
        now = self.clock()
        if data.get(self.honeypot):
            log.info("web form honeypot filled; dropped", extra={"form": slug})
            return self._receipt(now, reference=secrets.token_hex(6))
        item = self.channel.inbound(slug, data, now)
        result = await self.ingestor.ingest([item], source=f"webform:{slug}")
        if not (result.stored or result.known):  # kept as a dead letter for an admin: not lost
            return self._receipt(now, reference=result.dead[0].key)
        message = (result.stored or result.known)[0]
        conv = await self.ingestor.store.get_conversation(message.conversation_id)
        body = self._receipt(message.created_at, reference=str(conv.ref) if conv.ref
                             else message.conversation_id)  # "#10482" to read
        if conv.due_at is not None:  # the live deadline (a clock already running counts)
            body["expected_reply_by"] = conv.due_at.isoformat()
        if self.acks is not None:
            told = await self.acks.receipt(conv, message)
            body["message"] = told or THANKS
        return body

    def _receipt(self, received: datetime, reference: str) -> dict[str, Any]:
        due = self.sla.due(Channel.WEBFORM, received)
        body: dict[str, Any] = {"ok": True, "reference": reference}
        if due is not None:
            body["expected_reply_by"] = due[0].isoformat()
            facts = acks.AckFacts(Channel.WEBFORM, "en", None, due[0], None, self.clock())
            body["message"] = acks.render(acks.default_template("ack", Channel.WEBFORM, "en"),
                                          facts, self.sla)
        else:
            body["message"] = THANKS
        return body
