"""Small builders of domain objects for tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from inbox.model import (
    Conversation,
    Customer,
    Identity,
    IdentityRef,
    Inbound,
    Message,
    message_id_for,
)


def at(day: int, hour: int = 12, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def customer(cid: str, name: str = "Ann", day: int = 1) -> Customer:
    return Customer(cid, name, at(day))


def conversation(vid: str, cid: str, channel: str = "email", day: int = 1,
                 **kw: Any) -> Conversation:
    base = Conversation(id=vid, customer_id=cid, channel=channel, status="open",
                        created_at=at(day), updated_at=at(day), last_message_at=at(day))
    return replace(base, **kw)


def message(ext: str, vid: str, cid: str | None, text: str, when: datetime,
            channel: str = "email", **kw: Any) -> Message:
    base = Message(id=message_id_for(channel, ext), conversation_id=vid, channel=channel,
                   external_id=ext, direction="inbound", text=text, created_at=when,
                   received_at=when, customer_id=cid)
    return replace(base, **kw)


def identity(kind: str, value: str, cid: str) -> Identity:
    return Identity(kind, value, cid, created_at=at(1))


def inbound(ext: str, text: str = "hello there", channel: str = "email",
            authors: tuple[IdentityRef, ...] = (IdentityRef("email", "ann@example.com"),),
            when: datetime | None = None, **kw: Any) -> Inbound:
    return Inbound(channel=channel, external_id=ext, authors=authors, text=text,
                   created_at=when or at(2), **kw)


# argon2 at the lowest cost: the suite hashes many passwords (production uses the settings).
CHEAP_ARGON2 = {"INBOX_ARGON2_TIME_COST": "1", "INBOX_ARGON2_MEMORY_KIB": "8",
                "INBOX_ARGON2_PARALLELISM": "1"}
