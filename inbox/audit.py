"""The audit log: who did what to which conversation or customer, kept in the store."""

from __future__ import annotations

from inbox.collections import HasAudit
from inbox.model import User, new_id, utcnow


async def audit(store: HasAudit, actor: User, action: str, target: str) -> None:
    await store.audit.put(new_id("a"), {"at": utcnow().isoformat(), "actor": actor.email,
                                        "action": action, "target": target})
