"""The audit log: who did what to which conversation or customer, kept in the store."""

from __future__ import annotations

from inbox.collections import AUDIT, AuditDoc, CollectionDoc, HasAudit
from inbox.model import User, new_id, utcnow


def _doc(actor: User, action: str, target: str) -> AuditDoc:
    return {"at": utcnow().isoformat(), "actor": actor.email, "action": action,
            "target": target}


def entry(actor: User, action: str, target: str) -> CollectionDoc:
    """The audit entry of an action, to write in the action's own WriteBatch."""
    return AUDIT, new_id("a"), _doc(actor, action, target)


async def audit(store: HasAudit, actor: User, action: str, target: str) -> None:
    await store.audit.put(new_id("a"), _doc(actor, action, target))
