"""Fill a fresh store with the generated demo month: users, messages, agent replies."""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime

from inbox import auth
from inbox.demo import DEMO_AGENTS, DemoItem, generate
from inbox.model import (
    Conversation,
    Direction,
    Message,
    Status,
    message_id_for,
    utcnow,
)
from inbox.passwords import strength_problem
from inbox.ports import Outbound, Receipt
from inbox.runtime import Runtime
from inbox.store import WriteBatch

DEMO_USERS = (
    ("admin@northwind.example", "admin", "Ada Admin"),
    *((email, "agent", name) for email, name in DEMO_AGENTS),
    ("maya@northwind.example", "manager", "Maya Manager"),
    ("mark@northwind.example", "marketing", "Mark Marketing"),
)

class DemoSender:
    """Demo mode only: replies are recorded as sent, nothing leaves the machine."""

    def __init__(self, channel: str) -> None:
        self.channel = channel

    def check(self, out: Outbound) -> None:
        return None

    async def send(self, out: Outbound) -> Receipt:
        return Receipt(provider_id=f"demo-{out.message.id}", meta={"demo": True})


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


async def seed(runtime: Runtime, now: datetime | None = None, days: int = 30) -> SeedSummary:
    """Demo users (one fresh password for all, in the summary), a month of traffic, replies."""
    now = now or utcnow()
    password = secrets.token_urlsafe(9)
    while any(strength_problem(password, (email, name)) for email, _, name in DEMO_USERS):
        password = secrets.token_urlsafe(9)  # random, but by chance it might hold a name
    users = {}
    for email, role, name in DEMO_USERS:
        users[email] = await auth.add_user(runtime.store, email, role, password, name,
                                           passwords=runtime.passwords)
    for channel in ("email", "x", "webform"):
        runtime.service.senders.setdefault(channel, DemoSender(channel))
    items = generate(now, days=days)
    stored: dict[str, Message] = {}
    for start in range(0, len(items), 250):
        result = await runtime.ingest([i.inbound for i in items[start:start + 250]])
        stored.update({m.id: m for m in (*result.stored, *result.updated, *result.known)})
    by_conv: dict[str, list[tuple[DemoItem, Message]]] = defaultdict(list)
    for item in items:
        msg = stored.get(message_id_for(item.inbound.channel, item.inbound.external_id))
        if msg is not None:
            by_conv[msg.conversation_id].append((item, msg))
    convs, outs = [], []
    for conv_id, pairs in by_conv.items():
        conv = await runtime.store.get_conversation(conv_id)
        conv, replies = _replay(runtime, conv, pairs, users, now)
        convs.append(conv)
        outs.extend(replies)
    for start in range(0, len(convs), 200):
        chunk = convs[start:start + 200]
        ids = {c.id for c in chunk}
        await runtime.store.write(WriteBatch(
            conversations=tuple(chunk),
            messages=tuple(m for m in outs if m.conversation_id in ids)))
    token = await auth.create_token(runtime.store, DEMO_USERS[0][0])
    counts = await runtime.store.counts()
    return SeedSummary(counts["messages"], counts["customers"], counts["conversations"],
                       tuple((e, r) for e, r, _ in DEMO_USERS), password, token)


def _replay(runtime: Runtime, conv: Conversation, pairs: list[tuple[DemoItem, Message]],
            users: dict[str, auth.User], now: datetime) -> tuple[Conversation, list[Message]]:
    """The conversation's state after the agents' replies, walked in time order."""
    events: list[tuple[datetime, int, DemoItem, Message]] = []
    for item, msg in pairs:
        events.append((msg.created_at, 0, item, msg))
        if item.reply_after is not None and msg.created_at + item.reply_after <= now:
            events.append((msg.created_at + item.reply_after, 1, item, msg))
    events.sort(key=lambda e: (e[0], e[1]))
    awaiting = None
    status, assignee, tags = conv.status, conv.assignee, set(conv.tags)
    answered = conv
    replies: list[Message] = []
    for at, kind, item, msg in events:
        if item.assignee and item.assignee in users:
            assignee = users[item.assignee].id
        tags.update(item.tags)
        if kind == 0:
            if msg.direction == Direction.INBOUND and not msg.automated and \
                    status != Status.LISTENING:
                status = Status.OPEN
                awaiting = awaiting or at
            continue
        agent = users.get(item.assignee or "") or users[DEMO_AGENTS[0][0]]
        replies.append(Message(
            id=message_id_for(conv.channel, f"demo-out:{msg.id}"), conversation_id=conv.id,
            channel=conv.channel, external_id=f"demo-out:{msg.id}",
            direction=Direction.OUTBOUND, text=item.reply_text or "Thanks, we're on it.",
            created_at=at, received_at=at, author_label=agent.name or agent.email,
            agent=agent.id, delivery="sent", meta={"demo": True}))
        if awaiting is not None and answered.first_response_at is None:
            due = runtime.sla.due(conv.channel, awaiting)
            answered = runtime.sla.first_response(replace(
                answered, awaiting_since=awaiting, due_at=due[0] if due else None), at)
        awaiting = None
        status = Status.RESOLVED if item.resolve else Status.PENDING
        if item.resolve:
            answered = runtime.sla.resolved(answered, at)
    due = runtime.sla.due(conv.channel, awaiting) if awaiting else None
    last = max([conv.last_message_at, *(r.created_at for r in replies)])
    return replace(conv, status=status, assignee=assignee, tags=tuple(sorted(tags)),
                   awaiting_since=awaiting, first_response_at=answered.first_response_at,
                   first_response_seconds=answered.first_response_seconds,
                   first_response_breached=answered.first_response_breached,
                   resolved_at=answered.resolved_at if status == Status.RESOLVED else None,
                   resolution_seconds=answered.resolution_seconds
                   if status == Status.RESOLVED else None,
                   due_at=due[0] if due else None, due_basis=due[1] if due else None,
                   message_count=conv.message_count + len(replies), last_message_at=last,
                   version=conv.version + 1), replies
