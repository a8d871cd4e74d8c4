"""The audit log: who did what to which conversation or customer, kept in the store."""

from __future__ import annotations

from inbox.model import User, new_id, utcnow
from inbox.store import AUDIT, Store


async def audit(store: Store, actor: User, action: str, target: str) -> None:
    await store.kv_put(AUDIT, new_id("a"), {"at": utcnow().isoformat(), "actor": actor.email,
                                             "action": action, "target": target})
