"""Customers: the customer page (conversations, timeline, merges), merge and undo."""

from __future__ import annotations

from dataclasses import dataclass

from inbox import merge
from inbox.collections import MergeDoc
from inbox.model import Conversation, ConversationFilter, Customer, Message, User
from inbox.store import Store

CONVERSATIONS_SHOWN = 100


@dataclass(frozen=True, slots=True)
class CustomerPage:
    customer: Customer
    conversations: tuple[Conversation, ...]
    timeline: tuple[Message, ...]  # every channel, newest first
    next_cursor: str | None  # of the timeline
    merges: list[MergeDoc]  # into this customer, oldest first, undone ones too


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
        convs = await self.store.list_conversations(
            ConversationFilter(customer_id=customer.id), None, CONVERSATIONS_SHOWN)
        timeline = await self.store.customer_messages(customer.id, cursor, limit)
        return CustomerPage(customer, convs.items, timeline.items, timeline.next_cursor,
                            await merge.merges_of(self.store, customer.id))

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
