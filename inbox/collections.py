"""Typed collections: small JSON documents by key, one collection per kind of record.

Each collection has a name typed with its key and document types (`USERS` is the string
"users" and a `CollectionName[str, UserDoc]`); `store.collection(USERS)`, or the accessor
`store.users`, is a `Collection[str, UserDoc]`. Both stores implement `collection` once over
their key-value table or index; `CollectionAccessors` derives every accessor from it.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any, Generic, NotRequired, Protocol, TypedDict, TypeVar

from inbox.errors import NotFound

K = TypeVar("K", bound=str)
D = TypeVar("D", bound=Mapping[str, Any])


class CollectionName(str, Generic[K, D]):
    """A collection's name, typed with its key and document types."""

    __slots__ = ()


# A document to create or replace in a collection, written with a WriteBatch (inbox.store).
CollectionDoc = tuple[CollectionName[str, Any], str, Mapping[str, Any]]


class Collection(Protocol[K, D]):
    """Documents by key, ordered by key."""

    async def get(self, key: K) -> D | None:
        """The document, or None."""

    async def put(self, key: K, doc: D) -> None:
        """Create or replace a document."""

    async def put_new(self, key: K, doc: D) -> bool:
        """Create a document only if the key is free; False if it existed."""

    async def swap(self, key: K, expected: D | None, doc: D) -> bool:
        """Compare and set: write only if the stored document equals `expected` (None: absent)."""

    async def delete(self, key: K) -> None:
        """Delete a document (no error if missing)."""

    async def list(self, after: K | None, limit: int) -> builtins.list[tuple[K, D]]:
        """Documents ordered by key, starting after a key."""


# --- the documents ---------------------------------------------------------------------------
# Times are ISO 8601 text; every document is plain JSON.


class UserDoc(TypedDict):
    id: str
    email: str
    role: str
    password_hash: str
    name: str | None
    created_at: str
    disabled: bool
    epoch: int  # credentials epoch (inbox.auth)
    last_sign_in: str | None
    timezone: NotRequired[str | None]  # IANA name; absent: the team's zone


class TokenDoc(TypedDict):
    email: str
    user_id: str
    epoch: int
    created_at: str
    label: str
    expires_at: NotRequired[str]


class SessionDoc(TypedDict):
    email: str
    user_id: str
    epoch: int
    csrf: str
    expires: str


CursorDoc = dict[str, Any]  # each connector's own cursor state


class DeadLetterDoc(TypedDict):
    source: str
    stage: str
    error: str
    at: str
    raw: str
    truncated: bool
    external_id: NotRequired[str]


class DeadLetterCountDoc(TypedDict):
    total: int
    stages: dict[str, int]
    last_at: str
    last_error: str


class AuditDoc(TypedDict):
    at: str
    actor: str
    action: str
    target: str


class IdempotencyDoc(TypedDict, total=False):
    message_id: str  # an agent's reply, by its client key
    key: str  # a dead letter, by the digest of its raw item


class MergeDoc(TypedDict):
    id: str
    survivor: str
    merged: str
    at: str
    by: str
    identities: list[list[str]]  # [kind, value]
    conversations: list[str]
    messages: list[str]
    undone_at: str | None
    undone_by: NotRequired[str]
    # conversation merges and splits (inbox.conversation_merge); absent on customer merges
    kind: NotRequired[str]  # "conversation" (merged into survivor) | "split" (merged: the new)
    seen: NotRequired[dict[str, int | None]]  # the versions the agent acted on
    before: NotRequired[dict[str, dict[str, Any]]]  # conversation id -> its derived fields
    after: NotRequired[dict[str, dict[str, Any]]]  # ... as the action left them


class SlaAlertDoc(TypedDict):
    at: str
    delivery: NotRequired[dict[str, str]]  # how the managers were told (app, webhook, email)


class LeaseDoc(TypedDict):
    owner: str | None
    expires: str


class ChangeDoc(TypedDict):
    at: str
    version: int
    actor_id: str
    actor: str
    action: str
    status: NotRequired[str | None]
    assignee: NotRequired[str | None]
    until: NotRequired[str]  # of a snooze: when it wakes (ISO 8601)


class ThrottleDoc(TypedDict):
    attempts: int
    last: str
    next_at: str


class CannedDoc(TypedDict):
    """A canned reply: a team document, its text with {variables} (inbox.canned)."""
    id: str
    name: str
    text: str
    channel: str | None  # only offered on this channel; None: on every channel
    created_at: str
    updated_at: str
    by: str  # who last saved it (email)


class NotificationDoc(TypedDict):
    """An in-app notification for one user (inbox.usecases.notifications)."""
    id: str
    user: str  # the user id it is for
    kind: str  # "mention" (in a note) | "assign" (a conversation assigned to them) | "spike"
    # | "sla.at_risk" | "sla.breached" (a response deadline, to managers and the assignee)
    by: str  # who did it: their name or email
    by_id: str
    conversation: str  # conversation id
    ref: int | None  # the conversation's short reference ("#48213")
    link: str  # where it leads ("/conversations/<id>")
    text: str  # a short excerpt (of the note), plain text
    at: str
    read: bool


class SavedSearchDoc(TypedDict):
    """A saved search: a team document anyone who may search sees and runs
    (inbox.usecases.saved_searches); subscribers are told of its spikes (inbox.spikes)."""
    id: str
    name: str
    query: str  # as the search language writes it (normalized)
    owner: str  # user id of who saved it
    owner_email: str
    created_at: str
    subscribers: list[str]  # user ids told of its spikes (opt-in)


class SpikeStateDoc(TypedDict):
    """Where a saved search's spike detection stands (inbox.usecases.alerts)."""
    hour: str  # the last hour checked (its start, ISO 8601 UTC)
    spiking: bool  # that hour was a spike (alerted once; no alert until it falls back)
    since: str | None  # when the current spike started
    delivery: NotRequired[dict[str, str]]  # of the last alert: channel -> what happened
    # the last spike that fell back: {"since": its start, "until": the hour it fell back}
    ended: NotRequired[dict[str, str]]


class ListeningRuleDoc(TypedDict):
    """A listening rule: an X search the connector polls (inbox.usecases.listening)."""
    id: str
    name: str
    query: str  # as written; X is asked inbox.listening.compiled_query(query)
    group: str  # brand label for share of voice ("ours", "Competitor A")
    paused: bool
    created_at: str
    created_by: str  # email
    updated_at: str
    updated_by: str  # email
    version: int  # an edit of an older version is refused (409)
    error: NotRequired[str | None]  # why X refused the query when last asked (None: fine)


class ListeningCountDoc(TypedDict):
    """One rule's day: posts X served it (billed reads) and the hits it stored or met."""
    rule: str
    day: str  # YYYY-MM-DD (UTC)
    reads: int
    hits: int
    negative: int  # of the hits, labelled negative when stored
    top: NotRequired[list[dict[str, Any]]]  # [{"message": id, "score": priority}], best first


class ListeningImportDoc(TypedDict):
    """A query of x.keywords imported as a rule (never again, even once deleted)."""
    at: str
    query: str


class VipDoc(TypedDict):
    """A customer marked VIP (their listening hits rank higher)."""
    at: str
    by: str  # email


class IncidentDoc(TypedDict):
    """An incident (an outage) and the conversations linked to it (inbox.usecases.incidents)."""
    id: str
    title: str
    description: str
    status: str  # "open" | "resolved"
    created_at: str
    created_by: str  # email
    resolved_at: str | None
    resolved_by: str | None  # email
    conversations: list[str]  # linked conversation ids, in the order they were linked
    updates: list[str]  # update ids, oldest first


class IncidentLinkDoc(TypedDict):
    """Which incident a conversation is linked to (one at most)."""
    incident: str
    at: str
    by: str  # email


class IncidentUpdateDoc(TypedDict):
    """One update written once and sent as a reply on every linked conversation."""
    id: str
    incident: str
    text: str  # "" for a resolution without a final update
    by: str  # email
    by_id: str
    at: str
    resolve: bool  # the incident's resolution: resolves each linked open conversation
    conversations: list[str]  # the conversations linked when it was written
    finished_at: str | None  # every conversation tried


class IncidentDeliveryDoc(TypedDict):
    """What one update did on one conversation."""
    status: str  # "sent" | "failed" | "skipped" (a reply's own delivery may change later)
    reason: str | None  # why failed or skipped
    message: str | None  # the reply's message id
    at: str


class AckDoc(TypedDict):
    """An acknowledgement or update sent to a conversation's customer (inbox.usecases.acks)."""
    at: str  # when it was claimed (ISO 8601): the period runs from here
    message_id: str  # the outbound message it is stored as


class AckTemplateDoc(TypedDict):
    """A manager's acknowledgement or update template (inbox.acks), replacing the default."""
    text: str
    updated_at: str
    by: str  # email


class CsatDoc(TypedDict):
    """The satisfaction survey of one resolved conversation (inbox.usecases.csat)."""
    state: str  # queued | sent | skipped (no way to ask: the reason in `reason`)
    channel: str
    assignee: str | None  # a user id, at resolution
    resolved_at: str
    due: str  # when the survey goes (resolved_at + csat.delay_minutes)
    sent_at: str | None
    expires_at: str | None  # the link's end
    message_id: str | None  # the outbound message it went as
    reason: str | None
    score: int | None  # 1-5, the customer's last answer
    comment: str | None
    answered_at: str | None
    alerted: bool  # a low score was told to the managers


class CsatTokenDoc(TypedDict):
    """A survey link's token, by its sha256: the conversation it answers."""
    conversation_id: str
    expires_at: str


class PaceDoc(TypedDict):
    """Each channel's recent first responses (inbox.usecases.outlook)."""
    at: str  # when they were measured
    p90: dict[str, float]  # channel -> p90 seconds of its counted time (too few: absent)


# --- the collections -------------------------------------------------------------------------

USERS = CollectionName[str, UserDoc]("users")  # key: lower-cased email
TOKENS = CollectionName[str, TokenDoc]("tokens")  # key: sha256 of the API token
SESSIONS = CollectionName[str, SessionDoc]("sessions")  # key: sha256 of the session id
# key: connector stream name ("email:support", "x:mentions")
CURSORS = CollectionName[str, CursorDoc]("cursors")
DEAD_LETTERS = CollectionName[str, DeadLetterDoc]("dead_letters")  # key: time-sortable id
# key: source (connector stream name)
DEAD_LETTER_COUNTS = CollectionName[str, DeadLetterCountDoc]("dead_letter_counts")
AUDIT = CollectionName[str, AuditDoc]("audit")  # key: time-sortable id
IDEMPOTENCY = CollectionName[str, IdempotencyDoc]("idempotency")  # key: scope + client key
# key: survivor customer (or conversation) id + "/" + merge id
MERGES = CollectionName[str, MergeDoc]("merges")
# key: conversation id, deadline and state (each alert once)
SLA_ALERTS = CollectionName[str, SlaAlertDoc]("sla_alerts")
# key: lease name ("worker", "customer:<id>" while a merge runs)
LEASES = CollectionName[str, LeaseDoc]("leases")
# key: conversation id + "/" + version (10 digits) + "/" + writer: who changed what
CHANGES = CollectionName[str, ChangeDoc]("changes")
# key: sha256 of account and client; not migrated (transient)
THROTTLE = CollectionName[str, ThrottleDoc]("sign_in_throttle")
CANNED = CollectionName[str, CannedDoc]("canned")  # key: the canned reply's id
# key: user id + "/" + newest-first sortable id (inbox.usecases.notifications)
NOTIFICATIONS = CollectionName[str, NotificationDoc]("notifications")
SAVED_SEARCHES = CollectionName[str, SavedSearchDoc]("saved_searches")  # key: its id
SPIKE_STATES = CollectionName[str, SpikeStateDoc]("spike_states")  # key: saved search id
LISTENING_RULES = CollectionName[str, ListeningRuleDoc]("listening_rules")  # key: its id
# key: rule id + "/" + day (YYYY-MM-DD): the daily rollup of a rule's reads and hits
LISTENING_COUNTS = CollectionName[str, ListeningCountDoc]("listening_counts")
VIPS = CollectionName[str, VipDoc]("vips")  # key: customer id
# key: sha256 of the query (32 hex digits)
LISTENING_IMPORTS = CollectionName[str, ListeningImportDoc]("listening_imports")
# key: kind ("ack" | "update") + "/" + conversation id: the last one sent, claimed once
ACKS = CollectionName[str, AckDoc]("acks")
# key: kind + "/" + channel + "/" + language ("ack/email/nl")
ACK_TEMPLATES = CollectionName[str, AckTemplateDoc]("ack_templates")

INCIDENTS = CollectionName[str, IncidentDoc]("incidents")  # key: its id
INCIDENT_LINKS = CollectionName[str, IncidentLinkDoc]("incident_links")  # key: conversation id
INCIDENT_UPDATES = CollectionName[str, IncidentUpdateDoc]("incident_updates")  # key: its id
# key: update id + "/" + conversation id
INCIDENT_DELIVERIES = CollectionName[str, IncidentDeliveryDoc]("incident_deliveries")
CSAT = CollectionName[str, CsatDoc]("csat")  # key: conversation id
# key: due time (ISO 8601, UTC) + "|" + conversation id: the surveys still to send, in order
CSAT_QUEUE = CollectionName[str, dict[str, str]]("csat_queue")
CSAT_TOKENS = CollectionName[str, CsatTokenDoc]("csat_tokens")  # key: sha256 of the token
# key: resolved time (ISO 8601, UTC) + "|" + conversation id: each sent survey as in CSAT,
# in time order, so that a report reads its range only
CSAT_RESOLVED = CollectionName[str, CsatDoc]("csat_resolved")

# each channel's recent first responses (inbox.usecases.outlook); key: "pace"
QUEUE_PACE = CollectionName[str, PaceDoc]("queue_pace")

# What `inbox migrate` copies (the sign-in throttle and the pace are transient).
COLLECTIONS: tuple[CollectionName[str, Any], ...] = (
    USERS, TOKENS, SESSIONS, CURSORS, DEAD_LETTERS, AUDIT, IDEMPOTENCY, MERGES, SLA_ALERTS,
    LEASES, CHANGES, DEAD_LETTER_COUNTS, CANNED, NOTIFICATIONS, SAVED_SEARCHES, SPIKE_STATES,
    LISTENING_RULES, LISTENING_COUNTS, VIPS, LISTENING_IMPORTS, INCIDENTS, INCIDENT_LINKS,
    INCIDENT_UPDATES, INCIDENT_DELIVERIES, ACKS, ACK_TEMPLATES, CSAT, CSAT_QUEUE, CSAT_TOKENS,
    CSAT_RESOLVED)


# --- what a caller asks for ------------------------------------------------------------------


class HasCollection(Protocol):
    def collection(self, name: CollectionName[K, D]) -> Collection[K, D]:
        """The collection of this name."""


class HasUsers(Protocol):
    @property
    def users(self) -> Collection[str, UserDoc]: ...


class HasTokens(Protocol):
    @property
    def tokens(self) -> Collection[str, TokenDoc]: ...


class HasSessions(Protocol):
    @property
    def sessions(self) -> Collection[str, SessionDoc]: ...


class HasCursors(Protocol):
    @property
    def cursors(self) -> Collection[str, CursorDoc]: ...


class HasIdempotency(Protocol):
    @property
    def idempotency(self) -> Collection[str, IdempotencyDoc]: ...


class HasDeadLetters(HasIdempotency, Protocol):
    """Dead letters, their counts per source, and the keys that keep each one once."""

    @property
    def dead_letters(self) -> Collection[str, DeadLetterDoc]: ...

    @property
    def dead_letter_counts(self) -> Collection[str, DeadLetterCountDoc]: ...


class HasAudit(Protocol):
    @property
    def audit(self) -> Collection[str, AuditDoc]: ...


class HasMerges(Protocol):
    @property
    def merges(self) -> Collection[str, MergeDoc]: ...


class HasSlaAlerts(Protocol):
    @property
    def sla_alerts(self) -> Collection[str, SlaAlertDoc]: ...


class HasLeases(Protocol):
    @property
    def leases(self) -> Collection[str, LeaseDoc]: ...


class HasChanges(Protocol):
    @property
    def changes(self) -> Collection[str, ChangeDoc]: ...


class HasThrottle(Protocol):
    @property
    def throttle(self) -> Collection[str, ThrottleDoc]: ...


class HasCanned(Protocol):
    @property
    def canned(self) -> Collection[str, CannedDoc]: ...


class HasNotifications(Protocol):
    @property
    def notifications(self) -> Collection[str, NotificationDoc]: ...


class HasSavedSearches(Protocol):
    @property
    def saved_searches(self) -> Collection[str, SavedSearchDoc]: ...

    @property
    def spike_states(self) -> Collection[str, SpikeStateDoc]: ...


class HasListening(Protocol):
    @property
    def listening_rules(self) -> Collection[str, ListeningRuleDoc]: ...

    @property
    def listening_counts(self) -> Collection[str, ListeningCountDoc]: ...

    @property
    def vips(self) -> Collection[str, VipDoc]: ...


MAX_KEY = 64  # a team document's id is short: a longer one names none


async def existing(collection: Collection[str, D], key: object, what: str) -> D:
    """The document under `key` (any value an API sent); NotFound naming `what` if none."""
    name = str(key)[:MAX_KEY]
    doc = await collection.get(name)
    if doc is None:
        raise NotFound(f"no {what} {name!r}")
    return doc


class Collections(HasCollection, HasUsers, HasTokens, HasSessions, HasCursors, HasDeadLetters,
                  HasAudit, HasIdempotency, HasMerges, HasSlaAlerts, HasLeases, HasChanges,
                  HasThrottle, HasCanned, HasNotifications, HasSavedSearches, HasListening,
                  Protocol):
    """Every typed collection."""


class CollectionAccessors:
    """Every accessor over `collection`, which each store implements."""

    def collection(self, name: CollectionName[K, D]) -> Collection[K, D]:
        raise NotImplementedError

    @property
    def users(self) -> Collection[str, UserDoc]:
        return self.collection(USERS)

    @property
    def tokens(self) -> Collection[str, TokenDoc]:
        return self.collection(TOKENS)

    @property
    def sessions(self) -> Collection[str, SessionDoc]:
        return self.collection(SESSIONS)

    @property
    def cursors(self) -> Collection[str, CursorDoc]:
        return self.collection(CURSORS)

    @property
    def dead_letters(self) -> Collection[str, DeadLetterDoc]:
        return self.collection(DEAD_LETTERS)

    @property
    def dead_letter_counts(self) -> Collection[str, DeadLetterCountDoc]:
        return self.collection(DEAD_LETTER_COUNTS)

    @property
    def audit(self) -> Collection[str, AuditDoc]:
        return self.collection(AUDIT)

    @property
    def idempotency(self) -> Collection[str, IdempotencyDoc]:
        return self.collection(IDEMPOTENCY)

    @property
    def merges(self) -> Collection[str, MergeDoc]:
        return self.collection(MERGES)

    @property
    def sla_alerts(self) -> Collection[str, SlaAlertDoc]:
        return self.collection(SLA_ALERTS)

    @property
    def leases(self) -> Collection[str, LeaseDoc]:
        return self.collection(LEASES)

    @property
    def changes(self) -> Collection[str, ChangeDoc]:
        return self.collection(CHANGES)

    @property
    def throttle(self) -> Collection[str, ThrottleDoc]:
        return self.collection(THROTTLE)

    @property
    def canned(self) -> Collection[str, CannedDoc]:
        return self.collection(CANNED)

    @property
    def notifications(self) -> Collection[str, NotificationDoc]:
        return self.collection(NOTIFICATIONS)

    @property
    def saved_searches(self) -> Collection[str, SavedSearchDoc]:
        return self.collection(SAVED_SEARCHES)

    @property
    def spike_states(self) -> Collection[str, SpikeStateDoc]:
        return self.collection(SPIKE_STATES)

    @property
    def listening_rules(self) -> Collection[str, ListeningRuleDoc]:
        return self.collection(LISTENING_RULES)

    @property
    def listening_counts(self) -> Collection[str, ListeningCountDoc]:
        return self.collection(LISTENING_COUNTS)

    @property
    def vips(self) -> Collection[str, VipDoc]:
        return self.collection(VIPS)
