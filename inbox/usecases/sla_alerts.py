"""Response deadlines at risk and breached, told once each to the managers and the
conversation's assignee: in the app, by webhook and by email (inbox.usecases.delivery).
The SLA sweep (`Conversations.sweep_sla`) finds them and records each alert once."""

from __future__ import annotations

from datetime import datetime

from inbox.model import Conversation, Role
from inbox.usecases.accounts import Accounts
from inbox.usecases.delivery import Alert, Delivery

STATES = {"at_risk": "at risk", "breached": "breached"}


class SlaAlerts:
    def __init__(self, accounts: Accounts, delivery: Delivery,
                 public_url: str | None = None) -> None:
        self.accounts, self.delivery = accounts, delivery
        self.public_url = (public_url or "").rstrip("/")

    async def __call__(self, conv: Conversation, state: str, now: datetime
                       ) -> dict[str, str]:
        """Tell who must know that this conversation's response deadline turned `state`;
        what happened to each way of telling."""
        users = await self.accounts.users_by_id()
        managers = [u.id for u in users.values() if u.role == Role.MANAGER and not u.disabled]
        to = [*managers, *([conv.assignee] if conv.assignee in users else [])]
        link = f"/conversations/{conv.id}"
        due = conv.due_at.isoformat() if conv.due_at else None
        assignee = users[conv.assignee] if conv.assignee in users else None
        who = (assignee.name or assignee.email) if assignee else "nobody"
        why = (f"#{conv.ref} ({conv.channel}, assigned to {who}): the response deadline "
               f"{'passed' if state == 'breached' else 'is near'}, due {due}")
        payload = {"kind": f"sla.{state}", "conversation": conv.id, "ref": conv.ref,
                   "channel": str(conv.channel), "subject": conv.subject, "due_at": due,
                   "assignee": conv.assignee, "priority": str(conv.priority),
                   "at": now.isoformat(), "link": self.public_url + link}
        text = (f"{why}.\n\nSubject: {conv.subject or '(none)'}\n"
                f"{conv.due_basis or ''}\n\nOpen it: {self.public_url + link}\n")
        return await self.delivery.tell(to, Alert(
            kind=f"sla.{state}", by="SLA", link=link, why=why,
            subject=f"Response deadline {STATES[state]}: #{conv.ref}", text=text,
            payload=payload), conv.id)
