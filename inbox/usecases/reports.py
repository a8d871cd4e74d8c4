"""Reports: response-time SLA compliance and what breaches next."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import get_args

from inbox.errors import ValidationError
from inbox.model import (
    Channel,
    Conversation,
    ConversationFilter,
    Page,
    Response,
    SlaRow,
)
from inbox.sla import SlaPolicy
from inbox.store import Store

GROUPS = ("all", "channel", "agent", "day")  # SlaRow.group
RESPONSES: tuple[Response, ...] = get_args(Response)


def drill_filter(since: datetime, until: datetime, group: str = "all", key: str = "all",
                 response: str | None = None) -> ConversationFilter:
    """The conversations behind one number of the SLA report: its group and key (a row) and,
    for the answered / within-target / missed columns, their first response. The report's
    days are UTC days ("day" rows), within the report's range."""
    if group not in GROUPS:
        raise ValidationError({"group": "must be one of " + ", ".join(GROUPS)})
    if response is not None and response not in RESPONSES:
        raise ValidationError({"response": "must be one of " + ", ".join(RESPONSES)})
    flt = ConversationFilter(created_since=since, created_until=until, care=True,
                             response=next((r for r in RESPONSES if r == response), None),
                             order="created")
    if group == "channel":
        if key not in {c.value for c in Channel}:
            raise ValidationError({"key": "must be one of " + ", ".join(c.value for c in Channel)})
        return replace(flt, channel=Channel(key))
    if group == "agent":
        return replace(flt, assignee="none" if key == "unassigned" else key)
    if group == "day":
        try:
            start = datetime.combine(datetime.strptime(key, "%Y-%m-%d").date(), time(), UTC)
        except ValueError as exc:
            raise ValidationError({"key": "must be a day like 2026-11-01"}) from exc
        return replace(flt, created_since=max(since, start),
                       created_until=min(until, start + timedelta(days=1)))
    return flt


class Reports:
    def __init__(self, store: Store, sla: SlaPolicy) -> None:
        self.store, self.sla = store, sla

    async def sla_rows(self, since: datetime, until: datetime) -> tuple[SlaRow, ...]:
        """First responses of the care conversations created in [since, until): all, then
        per channel, agent and day."""
        return await self.store.sla_report(since, until)

    async def drill(self, flt: ConversationFilter, cursor: str | None, limit: int
                    ) -> Page[Conversation]:
        """A page of the conversations behind a report's number (drill_filter), newest first."""
        return await self.store.list_conversations(flt, cursor, limit)

    async def next_due(self, limit: int = 20) -> tuple[Conversation, ...]:
        """The running clocks that end first."""
        page = await self.store.list_conversations(ConversationFilter(order="due"), None, limit)
        return page.items
