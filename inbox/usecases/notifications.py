"""In-app notifications, per user: someone mentioned you in a note, or assigned you a
conversation. Kept in the notifications collection (newest first by key) and announced on the
event bus as "notification" (the header's unread badge updates without a reload)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from inbox import mentions
from inbox.collections import NotificationDoc, UserDoc
from inbox.events import EventBus
from inbox.model import Conversation, Event, User, new_id, utcnow
from inbox.store import Store

KIND = "notification"  # the event's kind; its data names the user it is for
MAX_LISTED = 100  # a user's newest notifications shown, counted and marked read
MAX_USERS = 1000  # the team read to resolve @mentions
EXCERPT = 140
_NEWEST_FIRST = 10 ** 13  # the key's time part counts down, so keys list newest first


def someone_elses(event: Event, user: User) -> bool:
    """Is this a notification event for another user (the live stream skips those)?"""
    return event.kind == KIND and event.data.get("user") != user.id


def _key(user_id: str) -> str:
    return f"{user_id}/{_NEWEST_FIRST - int(time.time() * 1000):013d}{new_id('')[-8:]}"


class Notifications:
    def __init__(self, store: Store, events: EventBus) -> None:
        self.store, self.events = store, events

    async def team(self) -> list[UserDoc]:
        """Who can be mentioned: the active care team."""
        return mentions.care_team(doc for _, doc in await self.store.users.list(None, MAX_USERS))

    async def notify(self, user_ids: Sequence[str], kind: str, actor: User,
                     conv: Conversation, text: str = "") -> None:
        """One notification for each of these users, never for the actor themself."""
        now = utcnow().isoformat()
        for user_id in dict.fromkeys(user_ids):
            if not user_id or user_id == actor.id:
                continue
            key = _key(user_id)
            doc: NotificationDoc = {
                "id": key.partition("/")[2], "user": user_id, "kind": kind,
                "by": actor.name or actor.email, "by_id": actor.id, "conversation": conv.id,
                "ref": conv.ref, "link": f"/conversations/{conv.id}",
                "text": text[:EXCERPT], "at": now, "read": False}
            await self.store.notifications.put(key, doc)
            self.events.publish(Event(KIND, conv.id, None, {"user": user_id}))

    async def alert(self, user_ids: Sequence[str], by: str, link: str, text: str,
                    kind: str = "spike") -> None:
        """One alert notification ("spike", "sla.at_risk", "sla.breached") for each of these
        users (inbox.usecases.delivery)."""
        now = utcnow().isoformat()
        for user_id in dict.fromkeys(user_ids):
            key = _key(user_id)
            doc: NotificationDoc = {
                "id": key.partition("/")[2], "user": user_id, "kind": kind, "by": by,
                "by_id": "", "conversation": "", "ref": None, "link": link,
                "text": text[:EXCERPT], "at": now, "read": False}
            await self.store.notifications.put(key, doc)
            self.events.publish(Event(KIND, None, None, {"user": user_id}))

    async def mentioned(self, actor: User, conv: Conversation, text: str,
                        found: Sequence[mentions.Mention]) -> None:
        await self.notify(mentions.mentioned_ids(found), "mention", actor, conv, text)

    async def assigned(self, actor: User, conv: Conversation) -> None:
        if conv.assignee:
            await self.notify([conv.assignee], "assign", actor, conv)

    async def _newest(self, user_id: str) -> list[tuple[str, NotificationDoc]]:
        prefix = f"{user_id}/"
        found = await self.store.notifications.list(prefix, MAX_LISTED)
        return [(k, d) for k, d in found if k.startswith(prefix)]

    async def for_user(self, user: User) -> list[NotificationDoc]:
        """The user's newest notifications, newest first."""
        return [doc for _, doc in await self._newest(user.id)]

    async def unread(self, user: User) -> int:
        return sum(1 for _, doc in await self._newest(user.id) if not doc["read"])

    async def mark_all_read(self, user: User) -> int:
        """Mark the user's notifications read; how many were unread."""
        marked = 0
        for key, doc in await self._newest(user.id):
            if not doc["read"]:
                await self.store.notifications.put(key, {**doc, "read": True})
                marked += 1
        if marked:
            self.events.publish(Event(KIND, None, None, {"user": user.id}))
        return marked
