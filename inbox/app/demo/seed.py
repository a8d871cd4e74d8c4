"""Fill a fresh store with generated traffic, replayed through the application in time order.

Customer messages go through the Ingestor and the agents' triage (assign, tags, notes) and
replies through the use cases (inbox.usecases), both on a clock that walks the generated
month: SLA clocks,
first responses, resolutions and journeys are computed by the production code, as if the
month had happened. Replies go to DemoSenders, which record and send nothing.
"""

from __future__ import annotations

import heapq
import itertools
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from connectors.email_smtp import check_email_reply, email_reply_form, reply_recipient
from connectors.twitter_send import answered_on_x, check_x_reply, x_reply_form
from inbox.app.demo import incident, listening, satisfaction
from inbox.app.demo.generator import DemoItem, stream
from inbox.app.demo.vocabulary import BRAND_HANDLE, DEMO_AGENTS, SUPPORT_EMAIL
from inbox.errors import NotFound, Refused
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.model import Channel, Message, Status, User, message_id_for, utcnow
from inbox.passwords import strength_problem
from inbox.ports import Outbound, Receipt, ReplyForm
from inbox.sla import SlaPolicy
from inbox.store import Store
from inbox.usecases.accounts import Accounts
from inbox.usecases.acks import Acknowledgements
from inbox.usecases.conversations import Conversations
from inbox.usecases.csat import Surveys
from inbox.usecases.customers import Customers
from inbox.usecases.delivery import Delivery
from inbox.usecases.incidents import Incidents
from inbox.usecases.listening import ListeningRules
from inbox.usecases.replies import Replies

DEMO_USERS = (
    ("admin@northwind.example", "admin", "Ada Admin"),
    *((email, "agent", name) for email, name in DEMO_AGENTS),
    ("maya@northwind.example", "manager", "Maya Manager"),
    ("mark@northwind.example", "marketing", "Mark Marketing"),
)
TRIAGE_AFTER = timedelta(minutes=7)  # an unanswered message is assigned and tagged this late


class Target(Protocol):
    """What seeding needs of the application (a Runtime has it all)."""

    store: Store
    events: EventBus
    sla: SlaPolicy
    ingestor: Ingestor
    replies: Replies
    accounts: Accounts
    listening: ListeningRules
    incidents: Incidents
    surveys: Surveys
    acks: Acknowledgements


class DemoSender:
    """Demo mode only: a reply is checked as its real channel would check it (refused where
    X or email would refuse it), recorded, and never sent: nothing leaves the machine. The
    receipt says so, and where the reply would have gone (meta "demo_note")."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    def check(self, out: Outbound) -> None:
        self.destination(out)

    def reply_form(self, out: Outbound) -> ReplyForm:
        """The real channel's choices (X: public or DM; email: subject and cc)."""
        if self.channel == Channel.X:
            return x_reply_form(out, BRAND_HANDLE)
        return email_reply_form(out, (SUPPORT_EMAIL,))

    def destination(self, out: Outbound) -> str:
        """Where the real channel would send this reply; Refused where it would refuse."""
        if self.channel == Channel.X:
            dm = check_x_reply(out, BRAND_HANDLE)
            who = answered_on_x(out).author_label or "the customer"
            return f"on X as a direct message to {who}" if dm else \
                f"on X as a public reply to {who}'s post"
        check_email_reply(out)
        return f"by email to {reply_recipient(out)}"

    async def send(self, out: Outbound) -> Receipt:
        where = self.destination(out)
        return Receipt(provider_id=f"demo-{out.message.id}", meta={
            "demo": True, "demo_note": f"Demo: not sent. In production this reply would go "
                                       f"out {where}; nothing leaves this machine."})


@dataclass
class Clock:
    """The replay's time: set forward by the replay, read by the ingestor and the service."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class SeedSummary:
    messages: int
    customers: int
    conversations: int
    users: tuple[tuple[str, str], ...]
    password: str
    token: str

    def __str__(self) -> str:
        return (f"{self.messages} messages from {self.customers} customers in "
                f"{self.conversations} conversations")


async def seed(target: Target, now: datetime | None = None, days: int = 30, *,
               customers: int = 120, journeys: int | None = None, seed: int = 7,
               batch: int = 250, agents: bool = True,
               progress: Callable[[int], None] | None = None) -> SeedSummary:
    """Demo users (one fresh password for all, in the summary), then `days` of generated
    traffic up to `now` (see `generator.stream`), replayed; without `agents`, only the
    customers' messages. `progress` hears how many customer messages are in, after each
    batch."""
    now = now or utcnow()
    store = target.store
    password = secrets.token_urlsafe(9)
    while any(strength_problem(password, (email, name)) for email, _, name in DEMO_USERS):
        password = secrets.token_urlsafe(9)  # random, but by chance it might hold a name
    users = {email: await target.accounts.add_user(email, role, password, name)
             for email, role, name in DEMO_USERS}
    for channel in Channel:  # replies from the pages after seeding are recorded too
        target.replies.senders.setdefault(channel, DemoSender(channel))
    clock = Clock(now - timedelta(days=days))
    replay = _Replay(
        Ingestor(store, enrich=target.ingestor.enrich, sla=target.sla, events=target.events,
                 phone_region=target.ingestor.phone_region, clock=clock),
        Replies(Conversations(store, target.events, target.sla, clock=clock),
                target.replies.senders),
        Customers(store), clock, users, batch, agents, progress)
    surveys = Surveys(replay.replies, target.surveys.settings, target.accounts,  # low scores:
                      Delivery(replay.replies.conversations.notifications, target.accounts),
                      target.surveys.public_url, target.surveys.templates)  # in the app only
    replay.replies.conversations.on_resolved = surveys.resolved  # the agents' resolutions
    if agents:  # each customer who opens a conversation is told when to expect an answer
        replay.ingestor.on_opened = Acknowledgements(replay.replies, target.acks.settings,
                                                     target.acks.own).opened
    await replay.run(stream(now, days=days, seed=seed, customers=customers,
                            journeys=journeys))
    if agents:
        await satisfaction.plant(surveys, now, seed)
    await listening.plant(target.listening, replay.ingestor, replay.hits, now, days, seed)
    if agents:
        await incident.plant(target.incidents, users[DEMO_USERS[-2][0]], users[DEMO_USERS[1][0]])
    token = await target.accounts.create_token(DEMO_USERS[0][0], days=None)
    counts = await store.counts()
    return SeedSummary(counts["messages"], counts["customers"], counts["conversations"],
                       tuple((e, r) for e, r, _ in DEMO_USERS), password, token)


@dataclass
class _Replay:
    """Customer messages in batches, each agent action at its moment, in time order.

    A batch is ingested early when a reply is due on one of its threads, so that every reply
    sees exactly the messages that had arrived before it; triage waits for the batch."""

    ingestor: Ingestor
    replies: Replies  # on the replay's clock, as its conversations
    customers: Customers
    clock: Clock
    users: dict[str, User]
    size: int
    agents: bool
    progress: Callable[[int], None] | None
    pending: list[DemoItem] = field(default_factory=list)
    threads: set[int] = field(default_factory=set)  # of the pending items
    agenda: list[tuple[datetime, int, DemoItem, bool]] = field(default_factory=list)
    placed: dict[str, tuple[str, str]] = field(default_factory=dict)  # message id ->
    # (conversation id, customer id), for the actions still to come
    tags: dict[str, set[str]] = field(default_factory=dict)  # conv id -> tags put on it
    assigned: dict[str, str] = field(default_factory=dict)  # conv id -> assignee
    ingested: int = 0
    hits: list[Message] = field(default_factory=list)  # listening hits, for their rules
    order: Iterator[int] = field(default_factory=itertools.count)  # ties on the agenda

    async def run(self, items: Iterable[DemoItem]) -> None:
        for item in items:
            await self.actions_until(item.inbound.created_at)
            self.pending.append(item)
            self.threads.add(item.thread)
            if self.agents and item.reply_after is not None:
                self.plan(item.inbound.created_at + item.reply_after, item, True)
            elif self.agents and _triaged(item):
                self.plan(item.inbound.created_at + TRIAGE_AFTER, item, False)
            if len(self.pending) >= self.size:
                await self.flush()
        await self.actions_until(None)
        await self.flush()

    def plan(self, at: datetime, item: DemoItem, reply: bool) -> None:
        heapq.heappush(self.agenda, (at, next(self.order), item, reply))

    async def actions_until(self, until: datetime | None) -> None:
        while self.agenda and (until is None or self.agenda[0][0] <= until):
            at, _, item, reply = heapq.heappop(self.agenda)
            if item.thread in self.threads and not reply and until is not None:
                self.plan(at + TRIAGE_AFTER, item, reply)  # triage waits for the next batch
                continue
            if item.thread in self.threads:
                await self.flush()
            self.clock.now = at
            place = self.placed.pop(
                message_id_for(item.inbound.channel, item.inbound.external_id), None)
            if place is not None:
                await self.act(*place, item, reply)

    async def flush(self) -> None:
        if not self.pending:
            return
        self.clock.now = max(self.clock.now, self.pending[-1].inbound.created_at)
        result = await self.ingestor.ingest([i.inbound for i in self.pending], visible=False)
        planned = {message_id_for(i.inbound.channel, i.inbound.external_id) for i in self.pending
                   if self.agents and (i.reply_after is not None or _triaged(i))}
        self.hits += [m for m in result.stored if "rule" in m.meta]
        for msg in (*result.stored, *result.updated, *result.known):
            if msg.id in planned and msg.customer_id is not None:
                self.placed[msg.id] = (msg.conversation_id, msg.customer_id)
        self.ingested += len(self.pending)
        self.pending.clear()
        self.threads.clear()
        if self.progress is not None:
            self.progress(self.ingested)

    async def act(self, conv_id: str, customer_id: str, item: DemoItem, reply: bool) -> None:
        """What the agent does about one customer message: triage, then perhaps reply."""
        agent = self.users.get(item.assignee or "") or self.users[DEMO_AGENTS[0][0]]
        conversations, replies = self.replies.conversations, self.replies
        if item.merge_with:
            await self.merge(item.merge_with, customer_id, agent)
        if item.assignee and self.assigned.get(conv_id) != agent.id:
            await conversations.assign(conv_id, agent.id, agent)
            self.assigned[conv_id] = agent.id
        known = self.tags.setdefault(conv_id, set())
        if not set(item.tags) <= known:
            known.update(item.tags)
            await conversations.set_tags(conv_id, sorted(known), agent)
            priority = next((p for t, p in PRIORITY_OF_TAG.items() if t in known), None)
            if priority:
                await conversations.set_priority(conv_id, priority, agent)
        if item.note:
            await conversations.add_note(conv_id, item.note, agent)
        if reply and item.reply_text:
            await replies.reply(conv_id, item.reply_text, agent,
                                idempotency_key=f"demo:{item.inbound.external_id}",
                                status=Status.RESOLVED if item.resolve else Status.PENDING)

    async def merge(self, identity: str, customer_id: str, agent: User) -> None:
        """The agent sees it is the same person as on the other channel, and merges."""
        try:
            survivor = await self.customers.find(identity)
            if survivor.id != customer_id:
                await self.customers.merge(survivor.id, customer_id, agent)
        except (NotFound, Refused):  # linked already, or merged meanwhile: nothing to do
            return


PRIORITY_OF_TAG = {"churn-risk": "urgent", "vip": "high"}  # what the demo's agents do


def _triaged(item: DemoItem) -> bool:
    """Does an agent act on this message even when nobody answers it?"""
    return bool(item.assignee or item.tags or item.note or item.merge_with)
