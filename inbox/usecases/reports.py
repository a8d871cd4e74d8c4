"""Reports: response-time SLA compliance and what breaches next."""

from __future__ import annotations

from datetime import datetime

from inbox.model import Conversation, ConversationFilter, SlaRow
from inbox.sla import SlaPolicy
from inbox.store import Store


class Reports:
    def __init__(self, store: Store, sla: SlaPolicy) -> None:
        self.store, self.sla = store, sla

    async def sla_rows(self, since: datetime, until: datetime) -> tuple[SlaRow, ...]:
        """First responses of the care conversations created in [since, until): all, then
        per channel, agent and day."""
        return await self.store.sla_report(since, until)

    async def next_due(self, limit: int = 20) -> tuple[Conversation, ...]:
        """The running clocks that end first."""
        page = await self.store.list_conversations(ConversationFilter(order="due"), None, limit)
        return page.items
