"""Unread markers: what each agent has seen of each conversation, kept in this process.

A conversation is unread for an agent when its last message is newer than what they last
opened of it. What happened before the process started counts as seen (the marks are not
stored: a restart, or another web process, starts from a clean slate instead of marking
the whole inbox unread)."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from aiohttp import web

from inbox.model import Conversation, utcnow

MAX_MARKS = 200_000  # the least recently opened are forgotten first (then: seen at start)


class Seen:
    def __init__(self, started: datetime | None = None, limit: int = MAX_MARKS) -> None:
        self._started = started or utcnow()
        self._marks: OrderedDict[tuple[str, str], datetime] = OrderedDict()
        self._limit = limit

    def opened(self, user_id: str, conv: Conversation) -> None:
        key = (user_id, conv.id)
        self._marks[key] = conv.last_message_at
        self._marks.move_to_end(key)
        while len(self._marks) > self._limit:
            self._marks.popitem(last=False)

    def unread(self, user_id: str, conv: Conversation) -> bool:
        return conv.last_message_at > self._marks.get((user_id, conv.id), self._started)


SEEN = web.AppKey("seen", Seen)
