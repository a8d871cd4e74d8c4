"""The Store port, split by role: the one way to persistence and search.

- Repository: documents by id, lists, versioned writes;
- Index: search, volume, SLA report;
- Collections (inbox.collections): typed small documents by key (users, tokens, merges...);
- Dump: restore, counts and export, for `inbox migrate`.

Each caller asks for the roles it uses; `Store` is all of them, for the composition root.
Adapters (search/) implement every role.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from inbox.collections import (  # noqa: F401 - the collection names, re-exported
    AUDIT,
    CHANGES,
    COLLECTIONS,
    CURSORS,
    DEAD_LETTER_COUNTS,
    DEAD_LETTERS,
    IDEMPOTENCY,
    LEASES,
    MERGES,
    SESSIONS,
    SLA_ALERTS,
    TOKENS,
    USERS,
    CollectionDoc,
    Collections,
)
from inbox.model import (  # noqa: F401 - FACETS re-exported
    FACETS,
    Conversation,
    ConversationFilter,
    Customer,
    Facet,
    Identity,
    Interval,
    Message,
    Page,
    QueryNode,
    RecentConversation,
    ResolutionReport,
    SearchResult,
    SlaRow,
)

# A search counts its matches exactly up to this many and then says "10,000+" (both stores,
# as Elasticsearch's track_total_hits); a store may set its `total_cap` lower (tests).
TOTAL_CAP = 10_000
REF_START = 10_001  # the first conversation's human reference ("#10001"): five digits
EXPORT_KINDS = ("customers", "identities", "conversations", "messages", "thread_keys")


@dataclass(frozen=True, slots=True)
class WriteBatch:
    """Everything one ingest batch or agent action writes, applied atomically.

    Versions: a conversation or customer with version 1 is created (ConflictError if it
    exists); version N replaces the stored version N-1 (ConflictError otherwise).
    Identities are created (ConflictError if (kind, value) is already taken).
    Messages are upserted by id (an edit replaces the stored message).
    A conversation without a `ref` keeps its stored one, or (new) gets the next free number
    from REF_START up (restore too): the human reference, unique in the store.
    Thread keys map a key to a conversation; an existing key keeps its conversation.
    Documents (collection, key, doc) are created or replaced in their collections, with the
    rest or not at all (an agent action's audit entry and change record).
    """

    customers: tuple[Customer, ...] = ()
    identities: tuple[Identity, ...] = ()
    conversations: tuple[Conversation, ...] = ()
    messages: tuple[Message, ...] = ()
    thread_keys: tuple[tuple[str, str], ...] = ()
    documents: tuple[CollectionDoc, ...] = ()
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


@dataclass(frozen=True, slots=True)
class Submitted:
    """A batch handed to the store ahead of its turn (Repository.submit_write)."""

    number: int  # the number a later batch names to be written only after this one
    done: Awaitable[None]  # ends once committed, or raises why not


class Lifecycle(Protocol):
    async def open(self) -> None:
        """Create or migrate the schema; connect."""

    async def aclose(self) -> None:
        """Release connections; pending writes are finished first."""


class Repository(Protocol):
    """Documents by id, lists, and versioned writes."""

    async def write(self, batch: WriteBatch) -> None:
        """Apply a batch atomically (see WriteBatch); raise ConflictError or StoreUnavailable."""

    @property
    def chains_writes(self) -> bool:
        """Whether submit_write may take batches ahead of their turn (the SQLite store, whose
        batches are written by a process of their own): worth planning a batch while the one
        before is written."""

    def submit_write(self, batch: WriteBatch, after: int | None) -> Submitted | None:
        """Hand a batch in now, to be written after every batch handed in before it and only
        if the one numbered `after` was committed (its end raises ConflictError otherwise);
        otherwise as `write`. None when the store cannot take it now: `write` it in its
        turn."""

    async def messages_by_ids(self, ids: Sequence[str]) -> dict[str, Message]:
        """The stored messages among these ids."""

    async def identities_by_refs(self, refs: Sequence[tuple[str, str]]
                                 ) -> dict[tuple[str, str], Identity]:
        """The stored identities among these (kind, value) pairs."""

    async def conversation_ids_by_thread_keys(self, keys: Sequence[str]) -> dict[str, str]:
        """The conversation id of each stored thread key among these."""

    async def conversations_by_ids(self, ids: Sequence[str]) -> dict[str, Conversation]:
        """The stored conversations among these ids."""

    async def conversations_by_refs(self, refs: Sequence[int]) -> dict[int, Conversation]:
        """The stored conversations among these human references (Conversation.ref)."""

    async def customers_by_ids(self, ids: Sequence[str]) -> dict[str, Customer]:
        """The stored customers among these ids, with their identities."""

    async def get_conversation(self, conversation_id: str) -> Conversation:
        """One conversation; NotFound if missing."""

    async def get_customer(self, customer_id: str) -> Customer:
        """One customer with its identities; NotFound if missing."""

    async def list_conversations(
        self, flt: ConversationFilter, cursor: str | None, limit: int
    ) -> Page[Conversation]:
        """Keyset-paged conversations: order "recent" = last_message_at desc, id desc;
        order "due" = only those with a running clock, due_at asc, id asc; order "waiting"
        = only those awaiting an answer, awaiting_since asc, id asc."""

    async def care_conversations(self, customer_ids: Sequence[str], active_since: datetime,
                                 created_by: datetime) -> list[RecentConversation]:
        """The customers' care conversations (neither listening nor merged) with activity at
        or after `active_since`: for each customer, from the newest activity down to the
        first one created at or before `created_by`. An older one can be no repeat contact's
        previous conversation (inbox.ingest) for a message created at or after `created_by`:
        that one is found first. A store may return more of them."""

    async def conversation_messages(self, conversation_id: str) -> tuple[Message, ...]:
        """Every message of a conversation, oldest first."""

    async def customer_messages(
        self, customer_id: str, cursor: str | None, limit: int
    ) -> Page[Message]:
        """The messages the customer wrote on every channel, newest first, keyset paged."""

    async def customer_history(
        self, customer_id: str, cursor: str | None, limit: int
    ) -> Page[Message]:
        """The customer's journey in both directions, newest first, keyset paged: every
        message of the customer's conversations (their own, the team's replies and notes)
        and what they wrote in anyone else's conversation (an X thread they joined)."""

    async def pending_outbound(self, limit: int) -> tuple[Message, ...]:
        """Outbound messages whose delivery is pending or failed (for the sender to retry)."""


class Index(Protocol):
    """Search and reports over messages and conversations."""

    async def search(
        self,
        query: QueryNode | None,
        cursor: str | None,
        limit: int,
        facets: Sequence[Facet] = (),
        public: bool = False,
        volume: Interval | None = None,
    ) -> SearchResult:
        """Messages matching the AST, newest first (created_at desc, id desc), with facets
        and (volume: an interval) the volume over time as `volume()` has it. The total is
        exact up to TOTAL_CAP (beyond: `total_capped`), on every page; facets and volume
        count every match, except where the store says it counted only the `sampled`
        newest. Facets, volume and moods come with the first page only: a later page (a
        cursor) has none (no facet keys, no buckets). public: words,
        phrases and prefixes match the public copy of text and subject
        (inbox.privacy.public_copy, without contacts), for who may not see contacts. Besides
        the language's fields, `query` may hold FieldTerm(AUTOMATED, "true"/"false"): the
        message's automated flag (the voice of the customer leaves those out)."""

    async def volume(self, query: QueryNode | None, interval: Interval = "day",
                     public: bool = False) -> list[tuple[str, int]]:
        """Matching messages per UTC day, week (from Monday) or month, first to last match,
        empty buckets included: (bucket start "YYYY-MM-DD", count). public: as in search."""

    async def sla_report(self, since: datetime, until: datetime) -> tuple[SlaRow, ...]:
        """First-response counts, compliance and p50/p90/p95 (linear interpolation) of the
        care conversations created in [since, until): one row for all, then per channel,
        agent and day; with their next responses (every value of next_response_seconds
        counted, next_response_missed the ones missed, p50/p90 the same way). Computed by
        the store (SQL / aggregations)."""

    async def inbound_hours(self, since: datetime, until: datetime) -> list[tuple[datetime, int]]:
        """The customers' own messages (inbound, not automated) created in [since, until)
        per UTC hour: (the hour's start, count), oldest first, hours without any left out.
        The range's ends are taken at the hour (a time zone half an hour off UTC is counted
        by the UTC hours). Computed by the store."""

    async def hour_messages(self, hours: Sequence[datetime], cursor: str | None, limit: int
                            ) -> Page[Message]:
        """The messages inbound_hours counts (the customers' own: inbound, not automated)
        created within the given UTC hours (each an hour's start), newest first: the
        messages behind the heat map's cells."""

    async def resolution_report(self, since: datetime, until: datetime) -> ResolutionReport:
        """First-contact resolution (all, then per channel and agent) of the care
        conversations created in [since, until) and resolved, and the journey times of the
        first contacts created then (inbox.model.FcrRow, JourneyRow). Computed by the store."""

    async def resolution_ids(self, since: datetime, until: datetime, what: str, group: str,
                             key: str) -> list[str]:
        """The ids of the conversations behind one count of resolution_report, the newest
        first: what "first_contact" (an FCR row's: group all, channel or agent) or
        "journeys" (a journey row's first contacts: group "channel", key "all" or the
        channel)."""

    async def backlog(self, cutoffs: Sequence[datetime]) -> dict[tuple[str, int], int]:
        """The open conversations waiting for an answer, counted per (channel, age bucket):
        bucket k holds those whose customer started waiting before k of the `cutoffs`
        (newest first: bucket 0 waits less than the first cutoff's age, the last bucket
        longer than every one). Computed by the store."""


class Restore(Protocol):
    async def restore(self, batch: WriteBatch) -> None:
        """Upsert documents exactly as given, no version checks (migration, backups, merges)."""


class Dump(Restore, Protocol):
    """What `inbox migrate` reads and writes, besides the collections."""

    async def counts(self) -> dict[str, int]:
        """Number of documents per kind (EXPORT_KINDS and COLLECTIONS)."""

    async def export(self, kind: str, after: str | None, limit: int) -> list[Any]:
        """Stream one EXPORT_KIND ordered by id/key: dataclasses, or (key, conversation_id)."""


@runtime_checkable
class Store(Lifecycle, Repository, Index, Collections, Dump, Protocol):
    """Every role: what the composition root opens and hands out, one role per caller."""
