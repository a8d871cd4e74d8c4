"""Telling people of an alert (a spike of a saved search, a response deadline at risk or
breached): in the app at once (a notification), by webhook and by email in the background,
so a slow webhook or mail server never holds up the job that found it. Each delivery says
what became of it, and failures are logged, never raised.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from inbox.errors import InboxError
from inbox.usecases.accounts import Accounts
from inbox.usecases.notifications import Notifications
from inbox.webhook import Webhook

log = logging.getLogger(__name__)

# An email to the people told: (recipients, subject, plain text); None: no SMTP account.
Mailer = Callable[[Sequence[str], str, str], Awaitable[None]]
NO_SMTP = "skipped: no SMTP account configured"
NO_WEBHOOK = "skipped: no webhook configured"


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # "spike", "sla.at_risk", "sla.breached": the notification's kind
    by: str  # what raised it, as the notification shows it (a saved search's name, "SLA")
    link: str  # the page it is about (a path on this site)
    why: str  # one line: what happened
    subject: str  # the email's subject
    text: str  # the email's body
    payload: dict[str, Any]  # what the webhook receives (JSON)


class Delivery:
    def __init__(self, notifications: Notifications, accounts: Accounts,
                 webhook: Webhook | None = None, mailer: Mailer | None = None,
                 email: bool = True) -> None:
        self.notifications, self.accounts = notifications, accounts
        self.webhook, self.mailer, self.email = webhook, mailer, email
        self._tasks: set[asyncio.Task[None]] = set()

    async def tell(self, user_ids: Sequence[str], alert: Alert, subject_id: str
                   ) -> dict[str, str]:
        """Notify these users in the app now; the webhook and email go in the background.
        What happened to each (the background ones: "sending"). `subject_id` names what
        the alert is about in the logs (a saved search, a conversation)."""
        await self.notifications.alert(user_ids, alert.by, alert.link, alert.why, alert.kind)
        delivery = {"app": f"{len(set(user_ids))} notified"}
        if self.webhook is not None:
            self._background(self._post(self.webhook, alert, subject_id))
            delivery["webhook"] = "sending"
        else:
            delivery["webhook"] = NO_WEBHOOK
        if self.mailer is None:
            delivery["email"] = NO_SMTP
        elif not self.email:
            delivery["email"] = "skipped: email alerts are off"
        else:
            users = await self.accounts.users_by_id()
            to = [users[u].email for u in dict.fromkeys(user_ids) if u in users
                  and not users[u].disabled]
            self._background(self._send(self.mailer, alert, subject_id, to))
            delivery["email"] = f"sending to {len(to)}"
        log.info("alert", extra={"kind": alert.kind, "about": subject_id, **delivery})
        return delivery

    def _background(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            await work

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, hook: Webhook, alert: Alert, subject_id: str) -> None:
        status = await hook.post(alert.payload)
        log.info("alert webhook", extra={"kind": alert.kind, "about": subject_id,
                                         "status": status})

    async def _send(self, mailer: Mailer, alert: Alert, subject_id: str,
                    to: list[str]) -> None:
        if not to:
            return
        try:
            await mailer(to, alert.subject, alert.text)
            log.info("alert email sent", extra={"kind": alert.kind, "about": subject_id,
                                                "recipients": len(to)})
        except InboxError as exc:
            log.warning("alert email failed", extra={"kind": alert.kind, "about": subject_id,
                                                     "error": str(exc)})

    async def aclose(self) -> None:
        """Stop the deliveries under way (the process is stopping)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def drain(self) -> None:
        """Wait for the webhook and email deliveries under way."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
