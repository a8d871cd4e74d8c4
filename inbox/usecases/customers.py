"""Customers: the customer page (conversations, journey, merges), merge and undo."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from inbox import merge
from inbox.collections import MergeDoc
from inbox.model import Conversation, ConversationFilter, Customer, Message, Status, User
from inbox.store import Store

CONVERSATIONS_SHOWN = 100
# a case not closed (snoozed ones too): another one continues it
STILL_OPEN = (Status.OPEN, Status.PENDING, Status.SNOOZED)


@dataclass(frozen=True, slots=True)
class JourneyGroup:
    """One conversation of the journey with its messages of the history read."""

    conversation: Conversation
    messages: tuple[Message, ...]  # oldest first: read as the conversation went
    current: bool  # the conversation on screen (shown beside, not repeated)


@dataclass(frozen=True, slots=True)
class Journey:
    """The customer's history in both directions, grouped by conversation."""

    groups: tuple[JourneyGroup, ...]  # latest activity first
    other_open: tuple[Conversation, ...]  # theirs, open or pending, besides the one on screen
    next_cursor: str | None  # of the history: older messages


def group_journey(customer_id: str, history: Sequence[Message],
                  conversations: Sequence[Conversation], current_id: str | None = None,
                  next_cursor: str | None = None) -> Journey:
    """Group a newest-first history by conversation. Every conversation given gets a group
    (older ones with no message in this read too), each message goes under its own. The
    other open cases are the customer's own (not a thread of someone else they joined)."""
    by_id = {c.id: c for c in conversations if c.status != Status.MERGED}  # theirs: elsewhere
    grouped: dict[str, list[Message]] = {}
    for msg in history:
        if msg.conversation_id in by_id:
            grouped.setdefault(msg.conversation_id, []).append(msg)
    ordered = sorted(by_id.values(), key=lambda c: (c.last_message_at, c.id), reverse=True)
    groups = tuple(JourneyGroup(c, tuple(reversed(grouped.get(c.id, []))), c.id == current_id)
                   for c in ordered)
    other_open = tuple(c for c in ordered if c.id != current_id and c.status in STILL_OPEN
                       and c.customer_id == customer_id)
    return Journey(groups, other_open, next_cursor)


@dataclass(frozen=True, slots=True)
class CustomerPage:
    customer: Customer
    conversations: tuple[Conversation, ...]
    timeline: tuple[Message, ...]  # every channel, both directions, newest first
    next_cursor: str | None  # of the timeline
    merges: list[MergeDoc]  # into this customer, oldest first, undone ones too
    journey: Journey  # the timeline grouped by conversation


@dataclass(frozen=True, slots=True)
class Merged:
    record: MergeDoc  # its "id" undoes the merge
    other: Customer  # the customer merged into the survivor


class Customers:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def page(self, customer_id: str, cursor: str | None, limit: int) -> CustomerPage:
        """What the customer page and GET /api/customers/{id} show."""
        customer = await self.store.get_customer(customer_id)
        timeline = await self.store.customer_history(customer.id, cursor, limit)
        convs = await self._conversations(customer.id, timeline.items)
        return CustomerPage(customer, convs, timeline.items, timeline.next_cursor,
                            await merge.merges_of(self.store, customer.id),
                            group_journey(customer.id, timeline.items, convs, None,
                                          timeline.next_cursor))

    async def journey(self, customer_id: str, history: Sequence[Message],
                      current_id: str | None, next_cursor: str | None = None) -> Journey:
        """The panel beside a conversation: its customer's history (newest first, both
        directions, as Conversations.get read it) grouped by conversation."""
        convs = await self._conversations(customer_id, history)
        return group_journey(customer_id, history, convs, current_id, next_cursor)

    async def _conversations(self, customer_id: str, history: Sequence[Message]
                             ) -> tuple[Conversation, ...]:
        """The customer's conversations, and those of others they wrote in (an X thread)."""
        own = (await self.store.list_conversations(
            ConversationFilter(customer_id=customer_id), None, CONVERSATIONS_SHOWN)).items
        known = {c.id for c in own}
        missing = sorted({m.conversation_id for m in history} - known)
        others = await self.store.conversations_by_ids(missing) if missing else {}
        return (*own, *others.values())

    async def find(self, text: str) -> Customer:
        """A customer by id, or by one of its identities (email, phone, @handle, X id)."""
        return await merge.find_customer(self.store, text)

    async def merge(self, survivor_id: str, other: str, actor: User) -> Merged:
        """Merge the customer `other` names (id, email, phone or @handle) into the survivor."""
        found = await self.find(other)
        return Merged(await merge.merge(self.store, survivor_id, found.id, actor), found)

    async def undo_merge(self, survivor_id: str, merge_id: str, actor: User
                         ) -> MergeDoc:
        return await merge.undo(self.store, survivor_id, merge_id, actor)
