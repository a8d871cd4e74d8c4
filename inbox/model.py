"""The domain: frozen dataclasses shared by every layer. Imports nothing internal."""

from __future__ import annotations

import hashlib
import operator
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, Literal, TypeGuard, TypeVar, Union, get_args

T = TypeVar("T")
R = TypeVar("R", bound="Record")
L = TypeVar("L", bound=str)

# Choices validated once where they enter (web, CLI); the stores trust them.
Order = Literal["recent", "due", "waiting", "wake", "created"]  # of a conversation list
# A conversation's first response as the SLA report counts it: answered at all, within the
# target (met), after it (missed), or not yet (unanswered); or resolved (resolved_at set, as
# first-contact resolution counts it).
Response = Literal["answered", "met", "missed", "unanswered", "resolved", "next", "next_missed",
                   "repeat", "switched"]
Interval = Literal["day", "week", "month"]  # of a volume histogram
Facet = Literal["channel", "sentiment", "lang"]  # counted beside search results
ORDERS: tuple[Order, ...] = get_args(Order)
INTERVALS: tuple[Interval, ...] = get_args(Interval)
FACETS: tuple[Facet, ...] = get_args(Facet)


def one_of(value: str, choices: tuple[L, ...]) -> TypeGuard[L]:
    """Is the value one of the choices (then typed as one)?"""
    return value in choices


class Channel(StrEnum):
    EMAIL = "email"
    X = "x"
    WEBFORM = "webform"


class Status(StrEnum):
    OPEN = "open"
    PENDING = "pending"  # waiting on the customer
    RESOLVED = "resolved"
    LISTENING = "listening"  # voice-of-customer only, not in the care queue until promoted
    SNOOZED = "snoozed"  # out of the open views until snoozed_until or the customer writes
    MERGED = "merged"  # merged into another (merged_into): in no queue, its page leads there


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    NOTE = "note"


class Delivery(StrEnum):
    """Of an outbound message."""

    PENDING = "pending"  # stored, not yet sent (or being sent)
    SENT = "sent"
    FAILED = "failed"  # a retryable failure: sent again later
    REJECTED = "rejected"  # the channel refused it: never sent again


class Role(StrEnum):
    AGENT = "agent"
    MANAGER = "manager"
    MARKETING = "marketing"
    ADMIN = "admin"


class IdentityKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    X = "x"  # X user id: stable
    X_HANDLE = "x_handle"  # X handle: a label that can change hands, linked weakly


E = TypeVar("E", bound=StrEnum)


def parse_enum(kind: type[E], value: object) -> E:
    """The member of `kind` a value read from outside (a store, a connector, a form) names;
    ValueError naming the choices for anything else."""
    try:
        return kind(str(value))
    except ValueError:
        choices = ", ".join(kind)
        raise ValueError(f"unknown {kind.__name__.lower()} {str(value)[:40]!r}; expected one "
                         f"of {choices}") from None


STRONG_KINDS = frozenset({IdentityKind.EMAIL, IdentityKind.PHONE, IdentityKind.X})
# The enum of the dataclass fields of each name: what a store converts its text back to
ENUM_FIELDS: Mapping[str, type[StrEnum]] = {
    "channel": Channel, "status": Status, "direction": Direction, "delivery": Delivery,
    "kind": IdentityKind}


def utcnow() -> datetime:
    return datetime.now(UTC)


_TS: dict[datetime, str] = {}  # the text of recent UTC times: a batch's repeat (3 in 4)


def ts(value: datetime) -> str:
    """The stores' timestamp text: UTC with microseconds, so text order is time order."""
    if value.tzinfo is not UTC:  # not remembered: times of one zone in a repeated hour
        # (fold) are equal and hash alike, and naive ones are read as local time
        return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    text = _TS.get(value)
    if text is None:
        if len(_TS) >= 8192:
            _TS.clear()
        text = _TS[value] = value.isoformat(timespec="microseconds").replace("+00:00", "Z")
    return text


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value)  # ten times faster than strptime; "Z" is UTC


def new_id(prefix: str) -> str:
    """A time-sortable random id: prefix, 12 hex digits of milliseconds, 8 random hex digits."""
    return f"{prefix}{int(time.time() * 1000):012x}{os.urandom(4).hex()}"


def message_id_for(channel: str, external_id: str) -> str:
    """Deterministic message id: the same (channel, external_id) is the same message everywhere."""
    digest = hashlib.sha256(f"{channel}\0{external_id}".encode()).hexdigest()
    return f"m{digest[:24]}"


class Record:
    """Base of the frozen dataclasses a batch carries (inbound items, customers, messages,
    conversations ...): pickled as their field values in order, and copied with changes by
    `evolve`. The dataclass defaults look every field up again for each object (fields()):
    a third of a batch's pickling, and most of an SLA step's copying."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Callable[..., Record], tuple[Any, ...]]:
        return _made, (type(self), _layout(type(self))[1](self))


_Layout = tuple[dict[str, int], "operator.attrgetter[Any]", list[Callable[[Any, Any], None]]]
_LAYOUTS: dict[type[Record], _Layout] = {}


def _layout(kind: type[Record]) -> _Layout:
    """The position of each field, a getter of all their values in order, and the setter
    of each field's slot."""
    if (layout := _LAYOUTS.get(kind)) is None:
        names = [f.name for f in fields(kind)]  # type: ignore[arg-type]
        layout = _LAYOUTS[kind] = ({name: i for i, name in enumerate(names)},
                                   operator.attrgetter(*names),
                                   [_slot(kind, name).__set__ for name in names])
    return layout


def _slot(kind: type[Record], name: str) -> Any:
    """The descriptor of a field's slot (a Record is a frozen dataclass with slots)."""
    return next(c.__dict__[name] for c in kind.__mro__ if name in c.__dict__)


def _made(kind: type[R], values: Sequence[Any]) -> R:
    """The record of these field values (every one, in order): set slot by slot, in two
    thirds of the time of the frozen dataclass's __init__ (which has nothing else to do:
    no record has defaults made by a factory or a __post_init__ when every value is
    given)."""
    obj = object.__new__(kind)
    for put, value in zip(_layout(kind)[2], values, strict=True):
        put(obj, value)
    return obj


def evolve(obj: R, **changes: Any) -> R:
    """A copy of the record with these fields changed (dataclasses.replace, in 40% of its time)."""
    kind = type(obj)
    index, values, _ = _layout(kind)
    copy = list(values(obj))
    for name, value in changes.items():
        copy[index[name]] = value
    return _made(kind, copy)


@dataclass(frozen=True, slots=True)
class IdentityRef(Record):
    """How a connector names an author: kind + normalized value, with an optional label."""

    kind: IdentityKind
    value: str
    label: str | None = None
    # False for what a public form merely claims (a phone, an X handle): it is recorded on
    # a new customer but never decides that a message belongs to an existing one
    verified: bool = True


@dataclass(frozen=True, slots=True)
class Attachment(Record):
    name: str
    content_type: str
    size: int
    ref: str | None = None  # where the content is kept (path or store key); None when over the cap


@dataclass(frozen=True, slots=True)
class Inbound(Record):
    """One customer message as a connector saw it, before ingest."""

    channel: Channel
    external_id: str
    authors: tuple[IdentityRef, ...]
    text: str
    created_at: datetime
    author_name: str | None = None
    subject: str | None = None
    html: str | None = None  # already sanitized
    quoted: str | None = None  # earlier text the customer quoted (kept apart from what they wrote)
    thread_keys: tuple[str, ...] = ()  # keys naming this message's thread ("x:conv:1", "mid:<a@b>")
    parent_keys: tuple[str, ...] = ()  # keys of messages this one answers (In-Reply-To, References)
    lang: str | None = None
    listening: bool = False  # a keyword hit: voice of the customer, not a care conversation
    automated: bool = False  # auto-reply, bounce, list mail: starts no SLA clock, no auto-ack
    revision: str | None = None  # an edit of an earlier message updates it in place
    attachments: tuple[Attachment, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    # connectors may see our own outbound (sent from elsewhere)
    direction: Direction = Direction.INBOUND


@dataclass(frozen=True, slots=True)
class Identity(Record):
    kind: IdentityKind
    value: str
    customer_id: str
    label: str | None = None
    created_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class Customer(Record):
    id: str
    name: str | None
    created_at: datetime
    identities: tuple[Identity, ...] = ()
    merged_into: str | None = None  # set while merged into another customer (reversible)
    version: int = 1


@dataclass(frozen=True, slots=True)
class Message(Record):
    id: str
    conversation_id: str
    channel: Channel
    external_id: str
    direction: Direction
    text: str
    created_at: datetime
    received_at: datetime
    customer_id: str | None = None
    author_label: str | None = None  # display name, handle or address as the channel showed it
    author_keys: tuple[str, ...] = ()  # normalized values `from:` matches (address, handle, id)
    subject: str | None = None
    html: str | None = None
    quoted: str | None = None
    lang: str | None = None
    sentiment: str | None = None  # positive | neutral | negative
    sentiment_score: float | None = None
    automated: bool = False
    revision: str | None = None
    agent: str | None = None  # user id of the agent who wrote an outbound message or note
    delivery: Delivery | None = None  # of an outbound message
    attachments: tuple[Attachment, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Conversation(Record):
    id: str
    customer_id: str
    channel: Channel
    status: Status
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime
    subject: str | None = None
    assignee: str | None = None
    tags: tuple[str, ...] = ()
    priority: str = "normal"
    message_count: int = 0
    awaiting_since: datetime | None = None  # oldest unanswered customer message
    first_response_at: datetime | None = None
    due_at: datetime | None = None  # when the running response clock breaches
    due_basis: str | None = None  # how due_at was computed, for humans
    first_response_seconds: float | None = None  # in the policy's time (business or 24/7)
    first_response_breached: bool | None = None  # answered after the deadline
    resolved_at: datetime | None = None
    resolution_seconds: float | None = None  # created to resolved, in the policy's time
    previous_id: str | None = None  # the customer's previous conversation, if this one
    # started within the repeat-contact window of it (a repeat contact, any channel)
    switched_channel: bool | None = None  # that previous conversation was on another channel
    version: int = 1
    # What customers and agents call it ("#10482"): a short number, unique, given by the
    # store when the conversation is first written without one (Repository.write)
    ref: int | None = None
    snoozed_until: datetime | None = None  # when a snoozed conversation opens again
    # of the customer's latest message (ingest keeps them; the queue filters on them)
    sentiment: str | None = None  # positive | neutral | negative
    lang: str | None = None
    # the conversation this one was merged into (status MERGED; inbox.conversation_merge):
    # its page, its #ref and customer answers threading into it lead there
    merged_into: str | None = None
    # Resolution paused while waiting on the customer (status PENDING; inbox.sla): when the
    # current wait began, and the time of the earlier ones, in the policy's time
    pending_since: datetime | None = None
    paused_seconds: float = 0.0
    # The responses after the first (inbox.sla, next-response targets): when each was given,
    # its time in the policy's time, and when those were given that missed their deadline
    next_response_at: tuple[datetime, ...] = ()
    next_response_seconds: tuple[float, ...] = ()
    next_response_missed: tuple[datetime, ...] = ()


@dataclass(frozen=True, slots=True)
class RecentConversation:
    """What ingest reads of a customer's recent care conversation (Store.care_conversations):
    enough to tell whether a new conversation repeats it, and on which channel it was."""

    id: str
    customer_id: str
    channel: Channel
    status: Status
    created_at: datetime
    last_message_at: datetime


RECENT_FIELDS = tuple(f.name for f in fields(RecentConversation))  # what the stores read


# What a conversation's priority can be, lowest first ("normal" unless an agent set one)
PRIORITIES = ("low", "normal", "high", "urgent")


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    role: str
    password_hash: str
    name: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    disabled: bool = False
    epoch: int = 0  # credentials epoch: sessions and tokens of an older epoch are revoked
    last_sign_in: datetime | None = None
    timezone: str | None = None  # the zone pages show times in (None: the team's, SLA calendar)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    status: Status | None = None
    channel: Channel | None = None
    assignee: str | None = None  # a user id, or "none" for unassigned
    customer_id: str | None = None
    tag: str | None = None  # conversations carrying this tag
    priority: str | None = None  # one of PRIORITIES
    sentiment: str | None = None  # of the customer's latest message
    lang: str | None = None  # ditto ("en")
    order: Order = "recent"  # recent: last_message_at desc; due: running clocks, due_at asc;
    # waiting: conversations awaiting an answer, the oldest unanswered message first;
    # wake: snoozed conversations, the first to wake first; created: the newest first
    # The conversations behind a report's number (inbox.usecases.reports.drill):
    created_since: datetime | None = None  # created at or after
    created_until: datetime | None = None  # created before
    care: bool = False  # care conversations only: no listening hits, none merged away
    response: Response | None = None  # their first response (answered, met, missed,
    # unanswered), their resolution (resolved), their responses after the first: some
    # (next), one after its target (next_missed); or a repeat contact (repeat: a previous
    # conversation within 7 days; switched: ... on another channel)
    awaiting_after: datetime | None = None  # the customer waits since this time or later
    awaiting_before: datetime | None = None  # ... since before this time (the backlog's ages)


def channel_day(day: str, channel: str) -> str:
    """The key of an SLA report row of one channel on one UTC day (group "channel_day")."""
    return f"{day} {channel}"


@dataclass(frozen=True, slots=True)
class SlaRow:
    """First-response figures of one group of conversations (created in the report's range)."""

    group: str  # all | channel | agent | day | channel_day
    key: str  # the channel, the assignee's user id ("unassigned"), the day (YYYY-MM-DD),
    # the day and channel ("2026-11-01 email", channel_day)
    conversations: int  # care conversations (listening hits and merged ones excluded)
    answered: int
    met: int  # answered within the target
    p50: float | None = None  # seconds, in the policy's time
    p90: float | None = None
    p95: float | None = None
    repeat: int = 0  # conversations that repeat a recent one of the same customer
    switched: int = 0  # ... and came on another channel than that one
    resolved: int = 0  # resolved, with their time to resolution below
    resolution_p50: float | None = None
    resolution_p90: float | None = None
    # responses after the first (next-response targets) of these conversations
    next_answered: int = 0
    next_met: int = 0  # given within their target
    next_p50: float | None = None  # seconds, in the policy's time
    next_p90: float | None = None

    @property
    def compliance(self) -> float | None:
        return None if not self.answered else self.met / self.answered

    @property
    def next_compliance(self) -> float | None:
        return None if not self.next_answered else self.next_met / self.next_answered

    @property
    def repeat_rate(self) -> float | None:
        return None if not self.conversations else self.repeat / self.conversations


@dataclass(frozen=True, slots=True)
class FcrRow:
    """First-contact resolution of one group of the care conversations created in the
    report's range and resolved: those with no repeat contact (a new conversation of the
    same customer, any channel, linked by previous_id) within 7 days of their resolution."""

    group: str  # all | channel | agent
    key: str  # the channel, the assignee's user id ("unassigned")
    resolved: int
    first_contact: int  # resolved at the first contact

    @property
    def rate(self) -> float | None:
        return None if not self.resolved else self.first_contact / self.resolved


@dataclass(frozen=True, slots=True)
class JourneyRow:
    """End-to-end journey times of the first contacts created in the report's range whose
    repeat-contact chain (previous_id links) is all resolved: from the first contact's
    creation to the chain's last resolution, wall-clock seconds, per channel of the first
    contact ("all": every channel)."""

    channel: str
    journeys: int
    p50: float | None = None
    p90: float | None = None


@dataclass(frozen=True, slots=True)
class ResolutionReport:
    """First-contact resolution (all, then per channel and agent) and journey times."""

    fcr: tuple[FcrRow, ...] = ()
    journeys: tuple[JourneyRow, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchResult:
    messages: tuple[Message, ...]
    next_cursor: str | None
    total: int  # exact up to the store's cap (TOTAL_CAP); beyond, the cap, total_capped
    facets: Mapping[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    total_capped: bool = False  # more than `total` match ("10,000+")
    volume: tuple[tuple[str, int], ...] = ()  # (bucket start, count), when asked for
    sampled: int = 0  # facets and volume count only this many newest matches (0: all)
    # with volume: (day, sentiment or "" for none, count) of the counted matches
    moods: tuple[tuple[str, str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Event:
    """A change published to subscribers (live updates)."""

    kind: str  # message.created | conversation.updated | ...
    conversation_id: str | None = None
    message_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


# --- The search language AST (parsed by inbox/query.py, compiled by each Store) ---------


@dataclass(frozen=True, slots=True)
class Term:
    text: str


@dataclass(frozen=True, slots=True)
class Phrase:
    text: str


@dataclass(frozen=True, slots=True)
class FieldTerm:
    name: str  # one of SEARCH_FIELDS
    value: str


@dataclass(frozen=True, slots=True)
class Not:
    node: QueryNode


@dataclass(frozen=True, slots=True)
class And:
    nodes: tuple[QueryNode, ...]


@dataclass(frozen=True, slots=True)
class Or:
    nodes: tuple[QueryNode, ...]


QueryNode = Union[Term, Phrase, FieldTerm, Not, And, Or]  # noqa: UP007

# A field the stores compile but the language has not: the voice of the customer leaves out
# automated messages (auto-replies, bounces) with FieldTerm(AUTOMATED, "false").
AUTOMATED = "automated"
SEARCH_FIELDS = ("channel", "direction", "from", "status", "assignee", "sentiment", "lang", "tag",
                 "after", "before")
