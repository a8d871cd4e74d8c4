"""The Store port: the one way to persistence and search. Adapters live in search/."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from inbox.model import (
    Conversation,
    ConversationFilter,
    Customer,
    Identity,
    Message,
    Page,
    QueryNode,
    SearchResult,
    SlaRow,
)

# Auxiliary collections kept as small JSON documents, by key.
USERS = "users"  # key: lower-cased email
TOKENS = "tokens"  # key: sha256 of the API token
SESSIONS = "sessions"  # key: session id
CURSORS = "cursors"  # key: connector stream name ("email:support", "x:mentions")
DEAD_LETTERS = "dead_letters"  # key: time-sortable id
DEAD_LETTER_COUNTS = "dead_letter_counts"  # key: source (connector stream name)
AUDIT = "audit"  # key: time-sortable id
IDEMPOTENCY = "idempotency"  # key: scope + client key
MERGES = "merges"  # key: survivor customer id + "/" + merge id
SLA_ALERTS = "sla_alerts"  # key: conversation id, deadline and state (each alert once)
LEASES = "leases"  # key: lease name ("worker", "customer:<id>" while a merge runs)
CHANGES = "changes"  # key: conversation id + "/" + version (10 digits): who changed what
COLLECTIONS = (USERS, TOKENS, SESSIONS, CURSORS, DEAD_LETTERS, AUDIT, IDEMPOTENCY, MERGES,
               SLA_ALERTS, LEASES, CHANGES, DEAD_LETTER_COUNTS)

EXPORT_KINDS = ("customers", "identities", "conversations", "messages", "thread_keys")
FACETS = ("channel", "sentiment", "lang")


@dataclass(frozen=True, slots=True)
class WriteBatch:
    """Everything one ingest batch or agent action writes, applied atomically.

    Versions: a conversation or customer with version 1 is created (ConflictError if it
    exists); version N replaces the stored version N-1 (ConflictError otherwise).
    Identities are created (ConflictError if (kind, value) is already taken).
    Messages are upserted by id (an edit replaces the stored message).
    Thread keys map a key to a conversation; an existing key keeps its conversation.
    """

    customers: tuple[Customer, ...] = ()
    identities: tuple[Identity, ...] = ()
    conversations: tuple[Conversation, ...] = ()
    messages: tuple[Message, ...] = ()
    thread_keys: tuple[tuple[str, str], ...] = ()
    # Searches see the batch as soon as write returns (agent actions, web forms). Pollers'
    # bulk ingest sets False: lookups by id stay exact, searches catch up within the store's
    # refresh interval (about a second on Elasticsearch; SQLite is always immediate).
    visible: bool = True


def percentile_rank(count: int, fraction: float) -> tuple[int, float]:
    """Where a percentile of `count` sorted values lies, as every store reports it: (index
    of the lower neighbour, weight of the upper one), interpolated linearly."""
    position = fraction * (count - 1)
    low = int(position)
    return low, position - low


@runtime_checkable
class Store(Protocol):
    async def open(self) -> None:
        """Create or migrate the schema; connect."""

    async def aclose(self) -> None:
        """Release connections; pending writes are finished first."""

    async def write(self, batch: WriteBatch) -> None:
        """Apply a batch atomically (see WriteBatch); raise ConflictError or StoreUnavailable."""

    async def restore(self, batch: WriteBatch) -> None:
        """Upsert documents exactly as given, no version checks (migration and backups)."""

    async def messages_by_ids(self, ids: Sequence[str]) -> dict[str, Message]:
        """The stored messages among these ids."""

    async def identities(self, refs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Identity]:
        """The stored identities among these (kind, value) pairs."""

    async def thread_keys(self, keys: Sequence[str]) -> dict[str, str]:
        """The conversation id of each stored thread key among these."""

    async def conversations_by_ids(self, ids: Sequence[str]) -> dict[str, Conversation]:
        """The stored conversations among these ids."""

    async def get_conversation(self, conversation_id: str) -> Conversation:
        """One conversation; NotFound if missing."""

    async def list_conversations(
        self, flt: ConversationFilter, cursor: str | None, limit: int
    ) -> Page[Conversation]:
        """Keyset-paged conversations: order "recent" = last_message_at desc, id desc;
        order "due" = only those with a running clock, due_at asc, id asc."""

    async def active_conversations(self, customer_ids: Sequence[str], since: datetime
                                   ) -> list[Conversation]:
        """The conversations of these customers with activity at or after `since`."""

    async def conversation_messages(self, conversation_id: str) -> tuple[Message, ...]:
        """Every message of a conversation, oldest first."""

    async def get_customer(self, customer_id: str) -> Customer:
        """One customer with its identities; NotFound if missing."""

    async def customers_by_ids(self, ids: Sequence[str]) -> dict[str, Customer]:
        """The stored customers among these ids, with their identities."""

    async def customer_messages(
        self, customer_id: str, cursor: str | None, limit: int
    ) -> Page[Message]:
        """The customer's timeline across every channel, newest first, keyset paged."""

    async def search(
        self,
        query: QueryNode | None,
        cursor: str | None,
        limit: int,
        facets: Sequence[str] = (),
        public: bool = False,
    ) -> SearchResult:
        """Messages matching the AST, newest first (created_at desc, id desc), with facets.
        public: words, phrases and prefixes match the public copy of text and subject
        (inbox.privacy.public_copy, without contacts), for who may not see contacts."""

    async def sla_report(self, since: datetime, until: datetime) -> tuple[SlaRow, ...]:
        """First-response counts, compliance and p50/p90/p95 (linear interpolation) of the
        care conversations created in [since, until): one row for all, then per channel,
        agent and day. Computed by the store (SQL / aggregations)."""

    async def volume(self, query: QueryNode | None, interval: str = "day",
                     public: bool = False) -> list[tuple[str, int]]:
        """Matching messages per UTC day, week (from Monday) or month, first to last match,
        empty buckets included: (bucket start "YYYY-MM-DD", count). public: as in search."""

    async def trending(self, query: QueryNode | None, size: int = 10, public: bool = False
                       ) -> list[tuple[str, float]]:
        """Words unusually frequent in (a recent sample of) the matching messages compared
        with all messages, best first; only words in at least 3 matching messages. The
        words come from the public copy of the text, for everyone (a contact is never a
        trend, only noise); public: the query matches as in search."""

    async def pending_outbound(self, limit: int) -> tuple[Message, ...]:
        """Outbound messages whose delivery is pending or failed (for the sender to retry)."""

    async def kv_get(self, collection: str, key: str) -> dict[str, Any] | None:
        """A document of an auxiliary collection, or None."""

    async def kv_put(self, collection: str, key: str, value: Mapping[str, Any]) -> None:
        """Create or replace a document."""

    async def kv_put_new(self, collection: str, key: str, value: Mapping[str, Any]) -> bool:
        """Create a document only if the key is free; False if it existed."""

    async def kv_swap(self, collection: str, key: str, expected: Mapping[str, Any] | None,
                      value: Mapping[str, Any]) -> bool:
        """Compare and set: write only if the stored document equals `expected` (None: absent)."""

    async def kv_delete(self, collection: str, key: str) -> None:
        """Delete a document (no error if missing)."""

    async def kv_list(
        self, collection: str, after: str | None, limit: int
    ) -> list[tuple[str, dict[str, Any]]]:
        """Documents ordered by key, starting after a key."""

    async def counts(self) -> dict[str, int]:
        """Number of documents per kind (EXPORT_KINDS and COLLECTIONS)."""

    async def export(self, kind: str, after: str | None, limit: int) -> list[Any]:
        """Stream one EXPORT_KIND ordered by id/key: dataclasses, or (key, conversation_id)."""
