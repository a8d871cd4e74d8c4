"""What ingest plans for a batch before one store write: the plan, the overlay of the
batches planned ahead of it (pipelined ingest), what one ingest call did, and the pure
rules the planner applies to each message (inbox.ingest runs them)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from inbox.enrich import Enrichment
from inbox.model import (
    Conversation,
    Customer,
    Direction,
    Identity,
    IdentityRef,
    Inbound,
    Message,
    RecentConversation,
    Status,
    evolve,
    message_id_for,
    utcnow,
)
from inbox.ports import DeadLettered, IngestResult
from inbox.store import Submitted, WriteBatch

DIGEST_PREFIX = 16  # hex digits of meta["digest"] that tell apart messages sharing an id


class ItemFailed(Exception):
    def __init__(self, position: int, stage: str, error: Exception) -> None:
        super().__init__(position, stage, error)
        self.position, self.stage, self.error = position, stage, error


@dataclass
class Ahead:
    """A planned batch not yet written: later batches are planned over it (a batch takes
    its turn to write when every earlier one has ended)."""

    plan: Plan | None  # None: planned only once the batches before it are stored
    ended: asyncio.Future[bool]  # True: written as planned; False: stored another way
    batch: WriteBatch | None = None
    # handed to a store that chains writes as soon as planned (Store.submit_write), or as
    # soon as the batch ahead of it was
    submitted: Submitted | None = None
    visible: bool = True  # WriteBatch.visible


class Overlay:
    """What the batches planned ahead will have written: a later batch's plan reads it over
    the store (newest wins), as the store will be when its turn to write comes."""

    def __init__(self, ahead: Sequence[Ahead]) -> None:
        self.messages: dict[str, Message] = {}
        self.identities: dict[tuple[str, str], Identity] = {}
        self.keys: dict[str, str] = {}
        self.conversations: dict[str, Conversation] = {}
        for entry in ahead:
            assert entry.plan is not None and entry.batch is not None
            self.messages.update(entry.plan.messages)
            self.identities.update(entry.plan.identities)
            for key, conversation_id in entry.plan.keys.items():
                self.keys.setdefault(key, conversation_id)  # the first stays, as in the store
            self.conversations.update((c.id, c) for c in entry.batch.conversations)

    def messages_over(self, found: dict[str, Message], ids: Iterable[str]) -> dict[str, Message]:
        found.update((mid, self.messages[mid]) for mid in ids if mid in self.messages)
        return found


NO_OVERLAY = Overlay(())


@dataclass
class Plan:
    """The writes one batch will make, built up in memory before one store write."""

    customers: dict[str, Customer] = field(default_factory=dict)
    identities: dict[tuple[str, str], Identity] = field(default_factory=dict)
    conversations: dict[str, Conversation] = field(default_factory=dict)
    stored_versions: dict[str, int] = field(default_factory=dict)
    messages: dict[str, Message] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    stored: list[Message] = field(default_factory=list)
    updated: list[Message] = field(default_factory=list)
    duplicates: int = 0
    known: list[Message] = field(default_factory=list)
    touched: dict[int, set[str]] = field(default_factory=dict)  # position -> ids it writes
    # read from the store once per batch
    refs: dict[str, list[IdentityRef]] = field(default_factory=dict)
    known_identities: dict[tuple[str, str], Identity] = field(default_factory=dict)
    known_keys: dict[str, str] = field(default_factory=dict)
    loaded: dict[str, Conversation] = field(default_factory=dict)
    by_ref: dict[str, str] = field(default_factory=dict)  # "[#10482]" token -> conversation id
    # by customer: read with the batch (care_conversations), or planned ahead
    recent: dict[str, list[Conversation | RecentConversation]] = field(default_factory=dict)
    # the ids of `conversations` by customer (repeat detection reads a customer's alone)
    customer_conversations: dict[str, dict[str, None]] = field(default_factory=dict)
    now: datetime = field(default_factory=utcnow)  # when the batch is planned
    over: Overlay = field(default_factory=lambda: NO_OVERLAY)  # batches planned ahead
    ahead: frozenset[int] = frozenset()  # positions enriched apart (enrich_many), ...
    deferred: dict[int, Message] = field(default_factory=dict)  # ... and their messages
    # conversation id -> the customer's latest message, whose sentiment and language it
    # shows (those enriched apart are known once the batch is planned)
    latest: dict[str, str] = field(default_factory=dict)
    # ids of the customer messages that open a conversation: a new one, or one resolved
    opened: list[str] = field(default_factory=list)

    def put(self, conv: Conversation) -> None:
        """Write this conversation with the batch (its latest state)."""
        self.conversations[conv.id] = conv
        self.customer_conversations.setdefault(conv.customer_id, {})[conv.id] = None

    def batch(self) -> WriteBatch:
        convs = tuple(evolve(c, version=self.stored_versions[c.id] + 1)
                      if c.id in self.stored_versions else c
                      for c in self.conversations.values())
        return WriteBatch(tuple(self.customers.values()), tuple(self.identities.values()),
                          convs, tuple(self.messages.values()), tuple(self.keys.items()))

    def suspects(self, ids: Iterable[str]) -> set[int]:
        """Positions of the items that write any of these document ids."""
        named = set(ids)
        return {n for n, touched in self.touched.items() if touched & named}


@dataclass
class Outcome:
    """What one ingest call did, over every write it needed."""

    stored: list[Message] = field(default_factory=list)
    updated: list[Message] = field(default_factory=list)
    duplicates: int = 0
    known: list[Message] = field(default_factory=list)
    dead: list[DeadLettered] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)

    def add(self, plan: Plan) -> None:
        self.stored += plan.stored
        self.opened += plan.opened
        self.updated += plan.updated
        self.duplicates += plan.duplicates
        self.known += plan.known

    def result(self) -> IngestResult:
        return IngestResult(tuple(self.stored), tuple(self.updated), self.duplicates,
                            tuple(self.known), tuple(self.dead), tuple(self.opened))


def enriched(plan: Plan, found: dict[int, Enrichment | Exception]) -> None:
    """The planned messages enriched apart get their language and sentiment (an edit later
    in the same batch was enriched as it was planned, and stays)."""
    filled: dict[int, Message] = {}
    for position, msg in plan.deferred.items():
        outcome = found[position]
        if isinstance(outcome, Exception):
            raise ItemFailed(position, "enrich", outcome) from outcome
        filled[id(msg)] = evolve(msg, lang=outcome.lang, sentiment=outcome.sentiment,
                                 sentiment_score=outcome.score)
        if plan.messages.get(msg.id) is msg:
            plan.messages[msg.id] = filled[id(msg)]
    plan.stored = [filled.get(id(msg), msg) for msg in plan.stored]
    for conv_id, mid in plan.latest.items():  # the conversations show what they now know
        conv, latest = plan.conversations.get(conv_id), plan.messages.get(mid)
        if conv is not None and latest is not None:
            plan.conversations[conv_id] = evolve(conv, sentiment=latest.sentiment,
                                                 lang=latest.lang)


def opens(conv: Conversation, inbound: Inbound) -> bool:
    """Does this customer message open the conversation (a new one, or one resolved)? Then
    the customer may be acknowledged; never for automated mail or a listening hit."""
    return (inbound.direction == Direction.INBOUND and not inbound.listening
            and not inbound.automated
            and (conv.message_count == 0 or conv.status == Status.RESOLVED))


def customer_latest(conv: Conversation, msg: Message) -> bool:
    """Is this the customer's latest message in the conversation (its sentiment and
    language then the conversation's)? Automated mail is not the customer speaking."""
    return (msg.direction == Direction.INBOUND and not msg.automated
            and msg.created_at >= conv.last_message_at)


def preview(text: str, size: int = 80) -> str | None:
    """A one-line title for a conversation without a subject (posts, DMs)."""
    line = " ".join(text.split())
    if not line:
        return None
    return line if len(line) <= size else line[: size - 1].rsplit(" ", 1)[0] + "…"


def digest_external_id(inbound: Inbound) -> str | None:
    """The external id this item gets if another message already holds its id: its own,
    marked with its content digest (None without a digest)."""
    digest = inbound.meta.get("digest")
    if not isinstance(digest, str) or not digest:
        return None
    return f"{inbound.external_id}#{digest[:DIGEST_PREFIX]}"


def digest_id(inbound: Inbound) -> str | None:
    """The message id this item gets if another message already holds its id."""
    external_id = digest_external_id(inbound)
    return None if external_id is None else message_id_for(inbound.channel, external_id)


def distinct(earlier: Message, inbound: Inbound) -> bool:
    """Another message under the same id: both carry a content digest and they differ."""
    old, new = earlier.meta.get("digest"), inbound.meta.get("digest")
    return (isinstance(old, str) and isinstance(new, str) and bool(old) and bool(new)
            and old != new)


def newer(revision: str | None, stored: str | None) -> bool:
    """Is this revision a later edit? Numeric revisions (X post ids) grow with time."""
    if revision is None or revision == stored:
        return False
    if stored is not None and revision.isdigit() and stored.isdigit():
        return int(revision) > int(stored)
    return True
