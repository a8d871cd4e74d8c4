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
            return await self._receipt(self._due(now), secrets.token_hex(6), None)
        item = self.channel.inbound(slug, data, now)
        result = await self.ingestor.ingest([item], source=f"webform:{slug}")
        if not (result.stored or result.known):  # kept as a dead letter for an admin: not lost
            return await self._receipt(self._due(now), result.dead[0].key, None)
        message = (result.stored or result.known)[0]
        conv = await self.ingestor.store.get_conversation(message.conversation_id)
        # the live deadline (a clock already running counts), "#10482" to read
        return await self._receipt(conv.due_at, str(conv.ref) if conv.ref
                                   else message.conversation_id, message.lang or conv.lang)

    def _due(self, received: datetime) -> datetime | None:
        """The deadline a submission received now would get."""
        due = self.sla.due(Channel.WEBFORM, received)
        return due[0] if due else None

    async def _receipt(self, due_at: datetime | None, reference: str,
                       lang: str | None) -> dict[str, Any]:
        """What the thank-you page says: the web form's acknowledgement template in the
        customer's language (ack.webform off: thanks alone), and when an answer is due."""
        body: dict[str, Any] = {"ok": True, "reference": reference}
        if self.acks is not None:
            due_at = await self.acks.expected(Channel.WEBFORM, due_at)
        if due_at is not None:
            body["expected_reply_by"] = due_at.isoformat()
        told = None
        if self.acks is not None:
            told = await self.acks.receipt(due_at, reference, lang)
        elif due_at is not None:
            facts = acks.AckFacts(Channel.WEBFORM, "en", None, due_at, reference, self.clock())
            told = acks.render(acks.default_template("ack", Channel.WEBFORM, "en"), facts,
                               self.sla)
        body["message"] = told or THANKS
        return body
