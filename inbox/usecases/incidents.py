"""Incidents: one outage, many conversations linked to it. An update is written once and
sent as a reply on every linked conversation, each on its own channel, through the reply
machinery (inbox.usecases.replies: its idempotency keys mean a conversation never gets the
same update twice, whatever is clicked or retried). Resolving the incident resolves every
linked open conversation, with an optional final update. Sending runs in the background with
bounded concurrency; each conversation's outcome is recorded (sent, failed, skipped: why).

Who may do what is the permission table's (inbox.permissions): agents link, unlink and send
updates ("work"); managers and admins create and resolve incidents ("incidents")."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from inbox import auth
from inbox.audit import audit
from inbox.collections import (
    INCIDENT_DELIVERIES,
    INCIDENT_LINKS,
    INCIDENT_UPDATES,
    INCIDENTS,
    IncidentDeliveryDoc,
    IncidentDoc,
    IncidentLinkDoc,
    IncidentUpdateDoc,
    existing,
)
from inbox.errors import (
    ConflictError,
    InboxError,
    NotFound,
    Refused,
    UserError,
    ValidationError,
)
from inbox.model import (
    Channel,
    Conversation,
    Customer,
    Delivery,
    Message,
    Status,
    User,
    new_id,
)
from inbox.normalize import clean_text, required_label
from inbox.reply_options import Mode, ReplyOptions
from inbox.usecases.conversations import SYSTEM, checked_text, refuse_merged
from inbox.usecases.replies import IN_FLIGHT, Replies

log = logging.getLogger(__name__)
MAX_TITLE, MAX_DESCRIPTION = 200, 5_000
MAX_LINKED = 2_000  # conversations of one incident
MAX_INCIDENTS = 1_000  # listed at once
MAX_KEY = 200  # characters of a client's key for an update (a double click sends once)
CONCURRENCY = 4  # conversations sent to at once by one update
PAGE = 500  # documents read at once
X_HANDLE = re.compile(r"@[A-Za-z0-9_]{1,15}")  # as X allows them
OPEN, RESOLVED = "open", "resolved"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an update did on one conversation, as shown: sent, failed, skipped, resolved
    (without a message), pending (not tried yet), with why."""
    status: str
    reason: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Member:
    conversation: Conversation
    customer: Customer | None
    last: Outcome | None  # of the latest update that included it


@dataclass(frozen=True, slots=True)
class Progress:
    update: IncidentUpdateDoc
    done: int  # conversations tried
    total: int
    counts: dict[str, int]  # outcome status -> conversations


@dataclass(frozen=True, slots=True)
class IncidentView:
    incident: IncidentDoc
    members: tuple[Member, ...]
    channels: dict[str, int]  # linked conversations per channel
    last_update: Progress | None


class Incidents:
    def __init__(self, replies: Replies, concurrency: int = CONCURRENCY) -> None:
        self.replies, self.conversations = replies, replies.conversations
        self.store = replies.store
        self.incidents = self.store.collection(INCIDENTS)
        self.links = self.store.collection(INCIDENT_LINKS)
        self.updates = self.store.collection(INCIDENT_UPDATES)
        self.deliveries = self.store.collection(INCIDENT_DELIVERIES)
        self.concurrency = concurrency
        self._running: dict[str, asyncio.Task[None]] = {}

    def _now(self) -> str:
        return self.conversations.clock().isoformat()

    # --- reading ---------------------------------------------------------------------------

    async def all(self) -> list[IncidentDoc]:
        """Every incident: the open ones first, each group newest first."""
        found = [doc for _, doc in await self.incidents.list(None, MAX_INCIDENTS)]
        found.sort(key=lambda d: (d["created_at"], d["id"]), reverse=True)
        return sorted(found, key=lambda d: d["status"] != OPEN)

    async def get(self, incident_id: object) -> IncidentDoc:
        return await existing(self.incidents, incident_id, "incident")

    async def of_conversation(self, conversation_id: str) -> IncidentDoc | None:
        """The incident this conversation is linked to, if any."""
        link = await self.links.get(conversation_id)
        if link is None:
            return None
        doc = await self.incidents.get(link["incident"])
        return doc if doc is not None and conversation_id in doc["conversations"] else None

    async def view(self, incident_id: object) -> IncidentView:
        """The incident with its conversations, customers, channels and last update."""
        doc = await self.get(incident_id)
        convs = await self.store.conversations_by_ids(doc["conversations"])
        ordered = [convs[i] for i in doc["conversations"] if i in convs]
        customers = await self.store.customers_by_ids(sorted({c.customer_id for c in ordered}))
        update = await self.updates.get(doc["updates"][-1]) if doc["updates"] else None
        outcomes = await self._outcomes(update) if update else {}
        members = tuple(Member(c, customers.get(c.customer_id), outcomes.get(c.id))
                        for c in ordered)
        return IncidentView(doc, members, dict(Counter(str(c.channel) for c in ordered)),
                            _progress(update, outcomes) if update else None)

    async def progress(self, update_id: object) -> Progress:
        """How far an update is: conversations tried of all, per outcome."""
        update = await existing(self.updates, update_id, "incident update")
        return _progress(update, await self._outcomes(update))

    async def outcomes(self, update_id: object) -> dict[str, Outcome]:
        """Each tried conversation's outcome of an update, by conversation id."""
        return await self._outcomes(await existing(self.updates, update_id, "incident update"))

    async def _outcomes(self, update: IncidentUpdateDoc) -> dict[str, Outcome]:
        prefix = update["id"] + "/"
        found: dict[str, IncidentDeliveryDoc] = {}
        after = prefix
        while True:
            page = await self.deliveries.list(after, PAGE)
            mine = [(k, d) for k, d in page if k.startswith(prefix)]
            found.update((k[len(prefix):], d) for k, d in mine)
            if len(mine) < len(page) or len(page) < PAGE:
                break
            after = page[-1][0]
        sent = await self.store.messages_by_ids(
            [d["message"] for d in found.values() if d["message"]])
        return {conv: _outcome(d, sent.get(d["message"] or "")) for conv, d in found.items()}

    # --- creating and linking --------------------------------------------------------------

    async def create(self, actor: User, title: object, description: object) -> IncidentDoc:
        errors: dict[str, str] = {}
        clean_title = required_label(title, MAX_TITLE, "title", "what the outage is", errors)
        text = clean_text(description, MAX_DESCRIPTION + 1).strip() \
            if isinstance(description, str) else ""
        if description is not None and not isinstance(description, str):
            errors["description"] = "must be text"
        elif len(text) > MAX_DESCRIPTION:
            errors["description"] = f"at most {MAX_DESCRIPTION} characters"
        if errors:
            raise ValidationError(errors)
        doc: IncidentDoc = {
            "id": new_id("inc"), "title": clean_title, "description": text, "status": OPEN,
            "created_at": self._now(), "created_by": actor.email, "resolved_at": None,
            "resolved_by": None, "conversations": [], "updates": []}
        await self.incidents.put(doc["id"], doc)
        await audit(self.store, actor, "incident.create", doc["id"])
        return doc

    async def link(self, conversation_id: str, actor: User, incident_id: str,
                   expected_version: int | None = None) -> Conversation:
        """Link a conversation to an open incident (a conversation has one incident at most).
        Linking changes nothing on the conversation, so any version of it links
        (`expected_version` is accepted for the bulk machinery)."""
        del expected_version
        doc = await self.get(incident_id)
        if doc["status"] != OPEN:
            raise Refused("the incident is resolved: link conversations to an open one")
        conv = await self.conversations.current(conversation_id)
        refuse_merged(conv)
        link: IncidentLinkDoc = {"incident": doc["id"], "at": self._now(), "by": actor.email}
        if not (created := await self.links.put_new(conv.id, link)):
            other = await self.of_conversation(conv.id)
            if other is not None and other["id"] != doc["id"]:
                raise Refused(f"#{conv.ref} is linked to incident “{other['title']}”; unlink "
                              "it there first")
            await self.links.put(conv.id, link)
        if conv.id in doc["conversations"]:
            return conv

        def linked(d: IncidentDoc) -> IncidentDoc:
            if conv.id in d["conversations"]:
                return d
            if len(d["conversations"]) >= MAX_LINKED:
                raise ValidationError({"conversations": f"at most {MAX_LINKED} conversations "
                                                        "per incident"})
            return {**d, "conversations": [*d["conversations"], conv.id]}

        try:
            await self._swap(doc, linked)
        except InboxError:
            if created:
                await self.links.delete(conv.id)
            raise
        await audit(self.store, actor, f"incident.link:{doc['id']}", conv.id)
        return conv

    async def unlink(self, actor: User, incident_id: str, conversation_id: str) -> None:
        doc = await self.get(incident_id)
        if conversation_id not in doc["conversations"]:
            raise NotFound("that conversation is not linked to this incident")
        await self._swap(doc, lambda d: {**d, "conversations": [
            c for c in d["conversations"] if c != conversation_id]})
        link = await self.links.get(conversation_id)
        if link is not None and link["incident"] == doc["id"]:
            await self.links.delete(conversation_id)
        await audit(self.store, actor, f"incident.unlink:{doc['id']}", conversation_id)

    async def _swap(self, doc: IncidentDoc, change: Callable[[IncidentDoc], IncidentDoc]
                    ) -> IncidentDoc:
        """Write change(doc), again from the stored document while another writer wins."""
        for _ in range(20):
            new = change(doc)
            if new == doc or await self.incidents.swap(doc["id"], doc, new):
                return new
            doc = await self.get(doc["id"])
        raise ConflictError("the incident changed meanwhile; try again")

    # --- updates and resolution ------------------------------------------------------------

    async def send_update(self, actor: User, incident_id: str, text: object,
                          key: object = None) -> IncidentUpdateDoc:
        """Write an update once; it is sent in the background on every linked conversation.
        The same `key` (a double click, a retry) returns the first update and sends nothing
        more than it had left to send."""
        clean = checked_text(text if isinstance(text, str) else "")
        return await self._start_update(actor, incident_id, clean, key, resolve=False)

    async def resolve(self, actor: User, incident_id: str, text: object = None,
                      key: object = None) -> IncidentUpdateDoc:
        """Resolve the incident and every linked open conversation (those already resolved
        are skipped), with `text` as a final update on each if given."""
        clean = "" if text is None or (isinstance(text, str) and not text.strip()) \
            else checked_text(text if isinstance(text, str) else "")
        return await self._start_update(actor, incident_id, clean, key, resolve=True)

    async def _start_update(self, actor: User, incident_id: str, text: str, key: object,
                            resolve: bool) -> IncidentUpdateDoc:
        if key is not None and (not isinstance(key, str) or not 0 < len(key) <= MAX_KEY):
            raise ValidationError({"key": f"must be text of 1 to {MAX_KEY} characters"})
        doc = await self.get(incident_id)
        update_id = "upd" + hashlib.sha256(
            f"{doc['id']}\n{'resolve' if resolve else 'update'}\n{key or new_id('k')}"
            .encode()).hexdigest()[:32]
        update = await self.updates.get(update_id)
        if update is None:  # a new update (else the same key again: finish what it began)
            if doc["status"] != OPEN:
                raise Refused("the incident is already resolved")
            update = {"id": update_id, "incident": doc["id"], "text": text,
                      "by": actor.email, "by_id": actor.id, "at": self._now(),
                      "resolve": resolve, "conversations": list(doc["conversations"]),
                      "finished_at": None}
            if await self.updates.put_new(update_id, update):
                await audit(self.store, actor,
                            f"incident.{'resolve' if resolve else 'update'}", doc["id"])
            elif (update := await self.updates.get(update_id)) is None:
                raise ConflictError("the update is being written right now")
        await self._swap(doc, lambda d: _recorded(d, update))
        self._start(update, actor)
        return update

    def _start(self, update: IncidentUpdateDoc, actor: User | None) -> None:
        """Send an unfinished update in the background (once per process at a time)."""
        if update["finished_at"] is not None or update["id"] in self._running:
            return
        task = asyncio.create_task(self._run(update, actor), name=f"incident:{update['id']}")
        self._running[update["id"]] = task
        task.add_done_callback(lambda _: self._running.pop(update["id"], None))

    async def wait(self, update_id: str) -> None:
        """Until this process has finished sending the update (if it is sending it)."""
        task = self._running.get(update_id)
        if task is not None:
            await asyncio.shield(task)

    async def resume(self) -> int:
        """Send what unfinished updates have left (after a restart: those written at least
        IN_FLIGHT ago, which no process is likely sending); how many were started."""
        started, now, after = 0, self.conversations.clock(), None
        while page := await self.updates.list(after, PAGE):
            for key, update in page:
                if update["finished_at"] is None and key not in self._running \
                        and now - datetime.fromisoformat(update["at"]) >= IN_FLIGHT:
                    self._start(update, None)
                    started += 1
            after = page[-1][0]
        return started

    async def aclose(self) -> None:
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, update: IncidentUpdateDoc, actor: User | None) -> None:
        """Send the update; an error of the store stops it, to be resumed later."""
        try:
            await self._send_all(update, actor)
        except InboxError as exc:
            log.warning("incident update stopped", extra={"update": update["id"],
                                                          "error": str(exc)})

    async def _send_all(self, update: IncidentUpdateDoc, actor: User | None) -> None:
        if actor is None:  # resumed: sent as who wrote it (the system if they are gone)
            try:
                actor = await auth.get_user(self.store, update["by"])
            except NotFound:
                actor = SYSTEM
        gate = asyncio.Semaphore(self.concurrency)

        async def one(conversation_id: str) -> bool:
            async with gate:
                return await self._deliver(update, conversation_id, actor)

        done = await asyncio.gather(*(one(c) for c in update["conversations"]),
                                    return_exceptions=True)
        for failed in (d for d in done if isinstance(d, BaseException)):
            log.warning("incident update not sent to a conversation",
                        extra={"update": update["id"], "error": repr(failed)})
        if all(d is True for d in done):
            await self.updates.put(update["id"], {**update, "finished_at": self._now()})

    async def _deliver(self, update: IncidentUpdateDoc, conversation_id: str,
                       actor: User) -> bool:
        """Send (or resolve) on one conversation and record the outcome; False when it is to
        be tried again (the same reply is being sent right now)."""
        key = f"{update['id']}/{conversation_id}"
        if await self.deliveries.get(key) is not None:
            return True
        try:
            outcome = await self._on(update, conversation_id, actor)
        except ConflictError:
            return False
        except InboxError as exc:
            outcome = Outcome("failed", str(exc))
        await self.deliveries.put(key, {"status": outcome.status, "reason": outcome.reason,
                                        "message": outcome.message, "at": self._now()})
        return True

    async def _on(self, update: IncidentUpdateDoc, conversation_id: str,
                  actor: User) -> Outcome:
        try:
            conv = await self.conversations.current(conversation_id)
        except NotFound:
            return Outcome("skipped", "there is no such conversation")
        if conv.status == Status.MERGED:
            return Outcome("skipped", "merged into another conversation")
        if conv.status == Status.LISTENING:
            return Outcome("skipped", "a listening hit, not a care conversation")
        if update["resolve"] and conv.status == Status.RESOLVED:
            return Outcome("skipped", "already resolved")
        status = Status.RESOLVED if update["resolve"] else None
        if not update["text"]:
            await self.conversations.set_status(conv.id, Status.RESOLVED, actor)
            return Outcome("resolved")
        try:
            msg = await self._reply(conv, update, actor, status)
        except UserError as exc:
            if not update["resolve"]:
                raise
            await self.conversations.set_status(conv.id, Status.RESOLVED, actor)
            return Outcome("failed", f"resolved, but the final update was not sent: {exc}")
        return _outcome({"status": "sent", "reason": None, "message": msg.id, "at": ""}, msg)

    async def _reply(self, conv: Conversation, update: IncidentUpdateDoc, actor: User,
                     status: Status | None) -> Message:
        """The update as a reply: on X public to a post (naming the customer), else by DM
        where X allows only that."""
        send = self.replies.reply
        key, text = f"incident:{update['id']}", update["text"]
        if conv.channel != Channel.X:
            return await send(conv.id, text, actor, idempotency_key=key, status=status)
        try:  # X refuses the same post twice: each public reply names its customer
            return await send(conv.id, await self._addressed(conv, text), actor,
                              idempotency_key=key, status=status)
        except Refused:
            return await send(conv.id, text, actor, idempotency_key=key, status=status,
                              options=ReplyOptions(mode=Mode.DM))

    async def _addressed(self, conv: Conversation, text: str) -> str:
        """The text starting with the customer's X handle ("@ann "), if they have one."""
        customer = await self.store.get_customer(conv.customer_id)
        handle = next((i.label for i in customer.identities
                       if i.kind == "x" and i.label and X_HANDLE.fullmatch(i.label)), None)
        if handle is None or text.casefold().startswith(handle.casefold()):
            return text
        return f"{handle} {text}"


def _recorded(doc: IncidentDoc, update: IncidentUpdateDoc) -> IncidentDoc:
    """The incident with the update in its list (once), resolved by a resolution."""
    new: IncidentDoc = {**doc}
    if update["id"] not in doc["updates"]:
        new["updates"] = [*doc["updates"], update["id"]]
    if update["resolve"] and doc["status"] == OPEN:
        new["status"], new["resolved_by"] = RESOLVED, update["by"]
        new["resolved_at"] = update["at"]
    return new


def _progress(update: IncidentUpdateDoc, outcomes: dict[str, Outcome]) -> Progress:
    counts = Counter(o.status for o in outcomes.values())
    return Progress(update, len(outcomes), len(update["conversations"]), dict(counts))


def _outcome(doc: IncidentDeliveryDoc, msg: Message | None) -> Outcome:
    """The recorded outcome, with the reply's delivery as it is now (the outbox retries a
    retryable failure: it may have been sent since)."""
    if msg is None:
        return Outcome(doc["status"], doc["reason"], doc["message"])
    if msg.delivery == Delivery.SENT:
        return Outcome("sent", None, msg.id)
    if msg.delivery == Delivery.PENDING:
        return Outcome("pending", "being sent", msg.id)
    why = str(msg.meta.get("error") or "not delivered")
    if msg.delivery == Delivery.FAILED:
        why += " (sent again automatically)"
    return Outcome("failed", why, msg.id)
