"""What connectors and senders see of the core: plain callables and small records."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from inbox.model import Channel, Conversation, Customer, Inbound, Message


@dataclass(frozen=True, slots=True)
class DeadLettered:
    """An item of a batch set aside instead of stored: where it failed and why."""

    external_id: str
    stage: str  # normalize | plan | enrich | sla | store (connectors: parse)
    error: str
    key: str  # the dead letter's key (`inbox dead-letters`, GET /api/dead-letters)


@dataclass(frozen=True, slots=True)
class IngestResult:
    stored: tuple[Message, ...] = ()  # new messages
    updated: tuple[Message, ...] = ()  # edits of stored messages
    duplicates: int = 0  # already stored, nothing written
    known: tuple[Message, ...] = ()  # the stored messages those duplicates matched
    dead: tuple[DeadLettered, ...] = ()  # items dead-lettered instead of stored
    # ids of the stored customer messages that opened a conversation (a new one, or one
    # resolved before): whom an acknowledgement may answer (inbox.usecases.acks)
    opened: tuple[str, ...] = ()

    def __add__(self, other: IngestResult) -> IngestResult:
        """Two results as one (a poll of several batches)."""
        return IngestResult(self.stored + other.stored, self.updated + other.updated,
                            self.duplicates + other.duplicates, self.known + other.known,
                            self.dead + other.dead, self.opened + other.opened)


class DeadLetterSink(Protocol):
    async def __call__(self, source: str, raw: bytes | str, error: str,
                       stage: str = "parse") -> None:
        """Keep an item that failed (raw bytes or text) with its error; the cursor moves on."""


StoredMeta = Callable[[str, Sequence[str]], Awaitable[Mapping[str, Mapping[str, Any]]]]


@dataclass(frozen=True, slots=True)
class ActiveRule:
    """A listening rule to poll: its id and the query the channel is asked."""

    id: str
    query: str


class ListeningPort(Protocol):
    """The listening rules as the X connector follows them (inbox.usecases.listening)."""

    async def active(self) -> Sequence[ActiveRule]:
        """The rules to poll now (not paused)."""

    async def counted(self, rule_id: str, reads: int, hits: Sequence[Message],
                      new: Sequence[Message] = ()) -> None:
        """A rule's poll read `reads` posts and found `hits` (`new`: stored by it)."""

    async def refused(self, rule_id: str, error: str | None) -> None:
        """X refused the rule's query (error), or no longer does (None)."""


@dataclass(frozen=True, slots=True)
class ConnectorContext:
    """Handed to a connector: where batches go and where its cursors live.

    Contract: call ``ingest`` with a batch, and only after it returned save the cursor that
    covers that batch. A raw item that cannot be parsed goes to ``dead_letter`` (the cursor
    still advances past it). ``ingest`` itself dead-letters items that fail inside the core
    (reported in IngestResult.dead) and raises only when the store is unavailable: then
    keep the cursor and retry later.
    """

    ingest: Callable[[Sequence[Inbound]], Awaitable[IngestResult]]
    load_cursor: Callable[[str], Awaitable[dict[str, Any] | None]]
    save_cursor: Callable[[str, Mapping[str, Any]], Awaitable[None]]
    dead_letter: DeadLetterSink  # (source, raw, error, stage="parse")
    # (channel, external ids) -> the meta of those of them already stored, by external id:
    # lets a connector skip fetching what it would hand ingest only to hear "duplicate"
    stored_meta: StoredMeta | None = None
    # ingest for batches whose items inbox.normalize.normalize_inbound made already (in a
    # connector's worker processes): they are not normalised again
    ingest_normalized: Callable[[Sequence[Inbound]], Awaitable[IngestResult]] | None = None
    # the listening rules kept in the store (None: the connector's configured keywords)
    listening: ListeningPort | None = None
    # how many batches a connector may have in ingest at once, handed in in order (moves
    # and cursors still in order): PIPELINED_BATCHES when the store chains writes
    # (Store.chains_writes), so that a batch is planned while the ones before are written
    batches_in_flight: int = 1


# A connector's batches in ingest at once with a store that chains writes: one written,
# the next planned, and one more planned ahead, so that a batch slow to plan or to write
# holds back neither side (2: 7,968-8,158/s, 3: 8,234-8,538/s, medians of 5-6 alternating
# runs of bench.ingest; 4 is no better than 3)
PIPELINED_BATCHES = 3


class Connector(Protocol):
    name: str  # unique stream name, e.g. "email:support", "x:mentions"
    channel: Channel

    async def poll_once(self, ctx: ConnectorContext) -> IngestResult:
        """Fetch everything new once, ingest it, advance cursors."""

    async def run(self, ctx: ConnectorContext) -> None:
        """Run until cancelled: push (IDLE) or scheduled polls, reconnecting with backoff."""

    def status(self) -> dict[str, Any]:
        """JSON-able; every connector gives at least "state" (its own word), "last_poll",
        "next_poll", "last_error", "last_error_at" (ISO) and "failures" (consecutive failed
        attempts it is retrying itself), which /api/connectors folds into its top-level
        state and last error (inbox.supervisor.merged)."""


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
    channel: Channel

    def check(self, out: Outbound) -> None:
        """Raise Refused before anything is sent if this reply can't be delivered."""

    async def send(self, out: Outbound) -> Receipt:
        """Deliver; RetryableError to retry later, FatalError/Refused to give up."""


@dataclass(frozen=True, slots=True)
class ReplyForm:
    """What the composer offers on a conversation before the agent types, from its sender.

    modes (X): each way a reply can go out ("public", "dm"), in order, with why X would
    refuse it (None: it can go); to, subject, cc (email): where a reply goes, and the
    subject and cc it gets unless the agent changes them."""

    modes: tuple[tuple[str, str | None], ...] = ()
    to: str | None = None
    subject: str | None = None
    cc: tuple[str, ...] = ()


@runtime_checkable
class Composes(Protocol):
    """A sender that tells the composer its choices (see ReplyForm)."""

    def reply_form(self, out: Outbound) -> ReplyForm:
        """The choices for a reply on out's conversation (out.message is a probe)."""


class WebForm(Protocol):
    """One public web form, as its page shows it."""

    @property
    def slug(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def intro(self) -> str: ...
    @property
    def topics(self) -> tuple[str, ...]: ...


class WebFormChannel(Protocol):
    """The web form channel: its configured forms, and a submission as an Inbound."""

    @property
    def honeypot(self) -> str:
        """The hidden field only bots fill in."""

    def form(self, slug: str) -> WebForm | None:
        """The form served at /forms/<slug>, if configured."""

    def inbound(self, slug: str, data: Mapping[str, Any], received: datetime) -> Inbound:
        """The submitted fields as an Inbound; ValidationError naming every bad field."""
