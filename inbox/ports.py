"""What connectors and senders see of the core: plain callables and small records."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from inbox.model import Conversation, Customer, Inbound, Message


@dataclass(frozen=True, slots=True)
class IngestResult:
    stored: tuple[Message, ...] = ()  # new messages
    updated: tuple[Message, ...] = ()  # edits of stored messages
    duplicates: int = 0  # already stored, nothing written
    known: tuple[Message, ...] = ()  # the stored messages those duplicates matched


@dataclass(frozen=True, slots=True)
class ConnectorContext:
    """Handed to a connector: where batches go and where its cursors live.

    Contract: call ``ingest`` with a batch, and only after it returned save the cursor that
    covers that batch. A raw item that cannot be parsed goes to ``dead_letter`` (the cursor
    still advances past it).
    """

    ingest: Callable[[Sequence[Inbound]], Awaitable[IngestResult]]
    load_cursor: Callable[[str], Awaitable[dict[str, Any] | None]]
    save_cursor: Callable[[str, Mapping[str, Any]], Awaitable[None]]
    dead_letter: Callable[[str, bytes | str, str], Awaitable[None]]  # source, raw, error


class Connector(Protocol):
    name: str  # unique stream name, e.g. "email:support", "x:mentions"
    channel: str

    async def poll_once(self, ctx: ConnectorContext) -> IngestResult:
        """Fetch everything new once, ingest it, advance cursors."""

    async def run(self, ctx: ConnectorContext) -> None:
        """Run until cancelled: push (IDLE) or scheduled polls, reconnecting with backoff."""

    def status(self) -> dict[str, Any]:
        """Last poll, next poll, remaining budget, last error: JSON-able."""


@dataclass(frozen=True, slots=True)
class Outbound:
    """A reply to send: the stored outbound message and what it answers."""

    conversation: Conversation
    customer: Customer
    message: Message  # direction outbound, delivery pending
    history: tuple[Message, ...]  # the conversation so far, oldest first


@dataclass(frozen=True, slots=True)
class Receipt:
    provider_id: str  # Message-ID, tweet id, DM event id
    thread_keys: tuple[str, ...] = ()  # keys a customer's answer will carry ("mid:<...>")
    meta: Mapping[str, Any] = field(default_factory=dict)


class Sender(Protocol):
    channel: str

    def check(self, out: Outbound) -> None:
        """Raise Refused before anything is sent if this reply can't be delivered."""

    async def send(self, out: Outbound) -> Receipt:
        """Deliver; RetryableError to retry later, FatalError/Refused to give up."""
