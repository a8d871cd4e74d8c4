"""Customer satisfaction surveys after resolution (the text and figures: inbox.csat).

When an agent resolves a conversation (not a merge, not a listening hit), its survey is
queued once (Conversations.on_resolved); the worker's sweep sends it when due, through the
reply machinery as an automatic message (email; web form by email; X only by DM, when
allowed) with a link to the public page /csat/{token}. The customer's answer (the last one
counts) is kept per conversation with its channel, assignee and resolution time; a low
score tells the managers (in the app, by webhook, by email: inbox.usecases.delivery).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from inbox import acks, csat
from inbox.collections import CSAT, CSAT_QUEUE, CSAT_RESOLVED, CSAT_TOKENS, CsatDoc
from inbox.config import CsatSettings
from inbox.errors import Gone, InboxError, NotFound, Refused, RetryableError, ValidationError
from inbox.model import Channel, Conversation, Direction, Role, Status, message_id_for, new_id
from inbox.usecases.accounts import Accounts
from inbox.usecases.acks import Acknowledgements
from inbox.usecases.delivery import Alert, Delivery
from inbox.usecases.replies import Replies

log = logging.getLogger(__name__)
SWAP_TRIES = 5  # answers racing on one survey: read and write again this often


@dataclass(frozen=True, slots=True)
class Survey:
    """What the public page shows: which conversation, and the answer so far."""

    reference: int | None
    subject: str | None
    score: int | None
    comment: str | None


class Surveys:
    """The surveys, on the replies' store and senders, told through `delivery`."""

    def __init__(self, replies: Replies, settings: CsatSettings, accounts: Accounts,
                 delivery: Delivery, public_url: str, templates: Acknowledgements) -> None:
        """`public_url`: where customers reach this site (the survey link starts with it);
        `templates`: whose "csat" templates (per channel and language) the survey is."""
        self.replies, self.settings, self.store = replies, settings, replies.store
        self.templates = templates
        self.accounts, self.delivery = accounts, delivery
        self.public_url = public_url.rstrip("/")
        self.report_page = 1000  # surveys a report reads at a time

    # --- queue and send ------------------------------------------------------------------

    async def resolved(self, conv: Conversation) -> None:
        """An agent resolved this conversation: queue its one survey (never a second one,
        even when it is resolved again). Never raises: the resolution stands regardless."""
        if not self.settings.enabled or conv.resolved_at is None:
            return
        due = conv.resolved_at + timedelta(minutes=self.settings.delay_minutes)
        doc: CsatDoc = {
            "state": "queued", "channel": str(conv.channel), "assignee": conv.assignee,
            "resolved_at": conv.resolved_at.isoformat(), "due": _utc(due), "sent_at": None,
            "expires_at": None, "message_id": None, "reason": None, "score": None,
            "comment": None, "answered_at": None, "alerted": False}
        try:
            if await self.store.collection(CSAT).put_new(conv.id, doc):
                await self.store.collection(CSAT_QUEUE).put(f"{_utc(due)}|{conv.id}",
                                                            {"conversation_id": conv.id})
        except InboxError as exc:
            log.warning("survey not queued: %s", exc, extra={"conversation": conv.id})

    async def sweep(self, now: datetime | None = None, limit: int = 200) -> int:
        """Send the surveys that are due (the worker's job); returns how many went."""
        now = now or self.replies.clock()
        queue, sent = self.store.collection(CSAT_QUEUE), 0
        for key, entry in await queue.list(None, limit):
            if key.split("|", 1)[0] > _utc(now):
                break  # the queue is in time order: the rest is not due yet
            try:
                sent += await self._send(entry["conversation_id"], now)
            except RetryableError:  # the store is down: this one and the rest next time
                raise
            except InboxError as exc:  # one customer's problem never stops the others
                log.warning("survey not sent: %s", exc,
                            extra={"conversation": entry["conversation_id"]})
            await queue.delete(key)
        return sent

    async def _send(self, conversation_id: str, now: datetime) -> bool:
        surveys = self.store.collection(CSAT)
        doc = await surveys.get(conversation_id)
        if doc is None or doc["state"] != "queued":
            return False
        conv = await self.store.get_conversation(conversation_id)
        why = await self._unaskable(conv)
        if why is not None:
            await surveys.swap(conversation_id, doc, {**doc, "state": "skipped", "reason": why})
            log.info("survey skipped: %s", why, extra={"conversation": conv.id})
            return False
        token, token_key = csat.new_token()
        expires = now + timedelta(days=self.settings.link_days)
        external = f"csat:{new_id('o')}"
        claimed: CsatDoc = {**doc, "state": "sent", "sent_at": now.isoformat(),
                            "expires_at": expires.isoformat(),
                            "message_id": message_id_for("agent", external)}
        if not await surveys.swap(conversation_id, doc, claimed):  # another sweep has it
            return False
        await self._reported(conversation_id, claimed)
        await self.store.collection(CSAT_TOKENS).put(token_key, {
            "conversation_id": conversation_id, "expires_at": expires.isoformat()})
        customer = await self.store.get_customer(conv.customer_id)
        labels = (i.label for i in customer.identities if i.label)
        lang = acks.language(conv.lang)
        facts = acks.AckFacts(conv.channel, lang, customer.name or next(labels, None), None,
                              conv.ref, now, f"{self.public_url}/csat/{token}")
        text = acks.render(await self.templates.template("csat", conv.channel, lang), facts,
                           self.replies.sla)
        meta: dict[str, Any] = {"auto": "csat", "lang": lang}
        if conv.channel == Channel.X:
            meta["reply_mode"] = "dm"
        try:
            message = await self.replies.automatic(conv.id, text, external, meta)
        except Refused as exc:
            await surveys.put(conversation_id, {**claimed, "state": "skipped",
                                                "reason": str(exc)})
            await self.store.collection(CSAT_RESOLVED).delete(resolved_key(conversation_id,
                                                                            claimed))
            return False
        log.info("survey sent", extra={"conversation": conv.id, "delivery": message.delivery})
        return True

    async def _unaskable(self, conv: Conversation) -> str | None:
        """Why this conversation's customer cannot be surveyed now; None when they can."""
        if conv.status != Status.RESOLVED:
            return "reopened before the survey was due"
        if conv.channel not in self.replies.senders:
            return f"replies on {conv.channel} are not set up"
        if conv.channel == Channel.X:
            history = await self.store.conversation_messages(conv.id)
            last = next((m for m in reversed(history) if m.direction == Direction.INBOUND
                         and not m.automated), None)
            if not self.settings.x_dm or last is None or last.meta.get("kind") != "dm":
                return "X surveys go only by DM, to customers who wrote by DM (csat.x_dm)"
        return None

    # --- the public page -----------------------------------------------------------------

    async def survey(self, token: str) -> Survey:
        """The survey of this link (NotFound: no such link; Gone: it expired)."""
        conversation_id, doc = await self._by_token(token)
        conv = await self.store.get_conversation(conversation_id)
        return Survey(conv.ref, conv.subject, doc["score"], doc["comment"])

    async def answer(self, token: str, score: Any, comment: Any = None) -> Survey:
        """Keep the customer's answer; answering again replaces it (the last one counts).
        A low score tells the managers, once per conversation."""
        value, text = csat.checked_score(score), csat.checked_comment(comment)
        conversation_id, _ = await self._by_token(token)
        surveys = self.store.collection(CSAT)
        for _ in range(SWAP_TRIES):
            doc = await surveys.get(conversation_id)
            if doc is None:
                raise NotFound("this survey link is not valid")
            low = value <= csat.LOW and not doc["alerted"]
            answered: CsatDoc = {**doc, "score": value, "comment": text,
                                 "answered_at": self.replies.clock().isoformat(),
                                 "alerted": doc["alerted"] or low}
            if await surveys.swap(conversation_id, doc, answered):
                await self._reported(conversation_id, answered)
                break
        else:
            raise Refused("this survey is being answered right now; try again")
        conv = await self.store.get_conversation(conversation_id)
        if low:
            await self._alert(conv, answered)
        return Survey(conv.ref, conv.subject, value, text)

    async def _by_token(self, token: str) -> tuple[str, CsatDoc]:
        key = csat.token_key(token)
        found = await self.store.collection(CSAT_TOKENS).get(key) if key else None
        if found is None:
            raise NotFound("this survey link is not valid; check that it is complete")
        if datetime.fromisoformat(found["expires_at"]) <= self.replies.clock():
            raise Gone("this survey has closed; thank you all the same")
        doc = await self.store.collection(CSAT).get(found["conversation_id"])
        if doc is None:
            raise NotFound("this survey link is not valid; check that it is complete")
        return found["conversation_id"], doc

    async def _alert(self, conv: Conversation, doc: CsatDoc) -> dict[str, str]:
        """Tell the managers (the assignee's managers: the team's managers) of a low score."""
        users = await self.accounts.users_by_id()
        managers = [u.id for u in users.values() if u.role == Role.MANAGER and not u.disabled]
        assignee = users.get(doc["assignee"] or "")
        who = (assignee.name or assignee.email) if assignee else "nobody"
        link = f"/conversations/{conv.id}"
        why = (f"#{conv.ref} ({conv.channel}, resolved by {who}): the customer scored "
               f"{doc['score']} of 5")
        comment = doc["comment"] or "(no comment)"
        return await self.delivery.tell(managers, Alert(
            kind="csat.low", by="CSAT", link=link, why=why,
            subject=f"Low satisfaction score {doc['score']}/5: #{conv.ref}",
            text=f"{why}.\n\nTheir comment: {comment}\n\nOpen it: {self.public_url + link}\n",
            payload={"kind": "csat.low", "conversation": conv.id, "ref": conv.ref,
                     "channel": str(conv.channel), "assignee": doc["assignee"],
                     "score": doc["score"], "comment": doc["comment"],
                     "answered_at": doc["answered_at"], "link": self.public_url + link}),
            conv.id)

    # --- the report ----------------------------------------------------------------------

    async def report(self, since: datetime, until: datetime, zone: tzinfo
                     ) -> tuple[csat.CsatRow, ...]:
        """The figures of the surveys of conversations resolved in [since, until): read
        from the surveys in resolution order (CSAT_RESOLVED), the range alone."""
        return csat.summarize((doc for _, doc in await self._sent_between(since, until)),
                              since, until, zone)

    async def _sent_between(self, since: datetime, until: datetime
                            ) -> list[tuple[str, CsatDoc]]:
        """(conversation id, survey) of the surveys sent for conversations resolved in
        [since, until), read from CSAT_RESOLVED: the range alone."""
        index, after, end = self.store.collection(CSAT_RESOLVED), _utc(since), _utc(until)
        page = self.report_page
        found: list[tuple[str, CsatDoc]] = []
        while batch := await index.list(after, page):
            found.extend((key.split("|", 1)[1], doc) for key, doc in batch if key < end)
            if batch[-1][0] >= end or len(batch) < page:
                break
            after = batch[-1][0]
        return found

    async def _reported(self, conversation_id: str, doc: CsatDoc) -> None:
        """Keep a sent survey, as it now is, where reports read it (in resolution order).
        Each writer reads the survey again after its own put, so that of two answers at
        once the copy ends as the survey does."""
        index, key = self.store.collection(CSAT_RESOLVED), resolved_key(conversation_id, doc)
        for _ in range(SWAP_TRIES):
            await index.put(key, doc)
            latest = await self.store.collection(CSAT).get(conversation_id)
            if latest is None or latest == doc or latest["state"] != "sent":
                return
            doc = latest

    async def behind(self, since: datetime, until: datetime, zone: tzinfo, group: str,
                     key: str, measure: str) -> list[str]:
        """The conversation ids behind one count of the report (surveys sent, responses or
        satisfied, csat.CSAT_MEASURES) of row (group, key), the latest resolution first."""
        if measure not in csat.CSAT_MEASURES:
            raise ValidationError({"measure": "must be one of " + ", ".join(csat.CSAT_MEASURES)})
        return csat.behind(await self._sent_between(since, until), since, until, zone,
                           group, key, measure)

    async def documents(self, page: int = 1000) -> list[tuple[str, CsatDoc]]:
        """Every survey, by conversation id."""
        surveys, after = self.store.collection(CSAT), None
        found: list[tuple[str, CsatDoc]] = []
        while batch := await surveys.list(after, page):
            found.extend(batch)
            after = batch[-1][0]
        return found


def resolved_key(conversation_id: str, doc: CsatDoc) -> str:
    """A survey's key in CSAT_RESOLVED: its conversation's resolution time, then its id."""
    return f"{_utc(datetime.fromisoformat(doc['resolved_at']))}|{conversation_id}"


def _utc(at: datetime) -> str:
    """A time as sortable text (UTC, ISO 8601)."""
    return at.astimezone(UTC).isoformat()
