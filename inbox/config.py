"""The core's settings, declared once, and loading inbox.toml with INBOX_* overrides.

`core_settings(tables, env)` types them into the frozen `CoreSettings` that code reads; the
composition root (`inbox.app.config`) reads inbox.toml and applies the environment. Channels
declare their own settings next to their code (connectors/*) with the same
`inbox.settings.Setting`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inbox.errors import ConfigError
from inbox.settings import Setting, read_table, table_at
from inbox.sla import SlaPolicy, policy_from_config


def _port(value: int) -> int:
    if not 0 <= value <= 65535:
        raise ValueError(f"{value} is not a TCP port (0-65535)")
    return value


def _at_least(low: float) -> Any:
    def check(value: Any) -> Any:
        if value < low:
            raise ValueError(f"must be at least {low:g}, got {value:g}")
        return value
    return check


def _between(low: int, high: int) -> Any:
    def check(value: Any) -> Any:
        if not low <= value <= high:
            raise ValueError(f"must be from {low} to {high}, got {value}")
        return value
    return check


def _fraction(value: float) -> float:
    if not 0 < value < 1:
        raise ValueError(f"must be between 0 and 1 (e.g. 0.75), got {value:g}")
    return value


_PREFIX = re.compile(r"[a-z0-9][a-z0-9_.]*(-[a-z0-9_.]+)*")


def _index_prefix(value: str) -> str:
    # Elasticsearch index names: lower case, no \ / * ? " < > | space , # :, not starting
    # with - _ +; the kind and a 6-digit number follow, within 255 bytes
    if len(value) > 100 or not _PREFIX.fullmatch(value):
        raise ValueError("use lower-case letters, digits, '.', '_' and single '-' "
                         "(up to 100 characters, starting with a letter or digit), "
                         "e.g. \"inbox-eu\"")
    return value


def _dates(values: tuple[str, ...]) -> tuple[str, ...]:
    for text in values:
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a date; write dates like \"2026-12-24\"") from None
    return values


STORE = (
    Setting("store.url", str, "sqlite:///./inbox.db",
            "sqlite:///path/to/inbox.db (`?writer=thread`: no writer process), or "
            "http(s)://host:9200 for Elasticsearch",
            env="INBOX_STORE"),
    Setting("store.api_key", str, None, "Elasticsearch API key", env="INBOX_STORE_API_KEY",
            secret=True),
    Setting("store.username", str, None, "Elasticsearch basic-auth user",
            env="INBOX_STORE_USERNAME", example="inbox"),
    Setting("store.password", str, None, "Elasticsearch basic-auth password",
            env="INBOX_STORE_PASSWORD", secret=True),
    Setting("store.ca_certs", str, None, "CA bundle (PEM) for the cluster's TLS",
            env="INBOX_STORE_CA_CERTS", example="/etc/inbox/es-ca.pem"),
    Setting("store.index_prefix", str, "inbox", "Elasticsearch: the start of every index "
            "and alias name (one per deployment sharing a cluster)",
            env="INBOX_STORE_INDEX_PREFIX", check=_index_prefix),
    Setting("store.shards", int, 1, "Elasticsearch: primary shards of each new index",
            check=_between(1, 1024)),
    Setting("store.replicas", int, 1, "Elasticsearch: replicas of each new index",
            check=_between(0, 16)),
    Setting("store.rollover_max_gb", float, 50.0, "Elasticsearch: `inbox es rollover` "
            "starts a new messages index once the current one holds this many GB "
            "(primaries)", check=_at_least(0.001)),
    Setting("store.rollover_max_days", float, 30.0, "Elasticsearch: `inbox es rollover` "
            "also starts one once the current index is this many days old",
            check=_at_least(0.001)),
    Setting("store.rollover_max_docs", int, None, "Elasticsearch: `inbox es rollover` "
            "also starts one once the current index holds this many messages (unset: no "
            "limit)", check=_at_least(1), example=50000000),
)
WEB = (
    Setting("web.host", str, "127.0.0.1", "address the web server listens on", env="INBOX_HOST"),
    Setting("web.port", int, 8080, "port the web server listens on", env="INBOX_PORT",
            check=_port),
    Setting("web.public_url", str, None,
            "URL customers and agents use; https makes session cookies Secure",
            env="INBOX_PUBLIC_URL", example="https://inbox.example.com"),
    Setting("web.trust_proxy", bool, False,
            "take the client address from X-Forwarded-For (only behind your own proxy)",
            env="INBOX_TRUST_PROXY"),
)
FORMS = (
    Setting("forms.rate_limit", int, 5, "web-form posts allowed per client address per "
            "rate_window", env="INBOX_FORM_RATE_LIMIT", check=_at_least(1)),
    Setting("forms.rate_window", float, 60.0, "seconds of the web-form rate-limit window",
            check=_at_least(1)),
    Setting("forms.max_bytes", int, 65536, "largest web-form request body, in bytes",
            check=_at_least(1)),
)
IDENTITY = (
    Setting("identity.phone_region", str, None,
            "country for phone numbers written without +country code", env="INBOX_PHONE_REGION",
            example="GB"),
)
PRIVACY = (
    Setting("privacy.marketing_contacts", bool, False,
            "show marketing customers' email addresses and phone numbers (search, VoC, CSV)",
            env="INBOX_MARKETING_CONTACTS"),
)
ENRICH = (
    Setting("enrich.enabled", bool, True, "detect language and sentiment on ingest",
            env="INBOX_ENRICH"),
    Setting("enrich.workers", int, 1, "processes that enrich ingest batches, large ones "
            "while they are planned (0: the ingesting process, which then holds the models)",
            env="INBOX_ENRICH_WORKERS",
            check=_between(0, 16)),
)
WORKER = (
    Setting("worker.lease_seconds", int, 60,
            "one worker polls at a time; another takes over this long after it stops",
            env="INBOX_WORKER_LEASE", check=_at_least(1)),
)
def _webhook_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


ALERTS = (
    Setting("alerts.k", float, 3.0, "a saved search's hour is a spike above the mean plus "
            "this many standard deviations of the same hour on the previous 7 days",
            env="INBOX_ALERTS_K", check=_at_least(0)),
    Setting("alerts.minimum", int, 5, "an hour with fewer matching messages is never a spike",
            env="INBOX_ALERTS_MINIMUM", check=_at_least(1)),
    Setting("alerts.history_days", int, 7, "of the previous 7 days, how many must have "
            "customer messages before spikes are judged", env="INBOX_ALERTS_HISTORY_DAYS",
            check=_between(1, 7)),
    Setting("alerts.webhook_url", str, None, "spike alerts and response deadlines at risk or "
            "breached are POSTed here as JSON (unset: no webhook)",
            env="INBOX_ALERTS_WEBHOOK_URL", secret=True, check=_webhook_url,
            example="https://hooks.example.com/inbox"),
    Setting("alerts.webhook_attempts", int, 3, "tries of each webhook delivery in all",
            env="INBOX_ALERTS_WEBHOOK_ATTEMPTS", check=_between(1, 10)),
    Setting("alerts.webhook_timeout", float, 5.0, "seconds each webhook try may take",
            env="INBOX_ALERTS_WEBHOOK_TIMEOUT", check=_at_least(0.1)),
    Setting("alerts.sla_email", bool, True, "email the managers and the assignee when a "
            "response deadline is at risk and when it is breached (once each; they are "
            "told in the app and by the webhook either way)", env="INBOX_ALERTS_SLA_EMAIL"),
)
LISTENING = (
    Setting("listening.post_read_price", float, 0.005,
            "US$ per post read by X's pay-per-use API (docs.x.com pricing, 2026-11-30): a "
            "rule's estimated monthly cost is its last 30 days' reads times this",
            env="INBOX_LISTENING_POST_READ_PRICE", check=_at_least(0)),
    Setting("listening.reach_weight", float, 1.0, "priority of a listening hit: weight of "
            "the author's reach (0-1 from their followers)", check=_at_least(0)),
    Setting("listening.negativity_weight", float, 2.0, "priority of a listening hit: weight "
            "of its negativity (0-1, the negative label's confidence)", check=_at_least(0)),
    Setting("listening.vip_weight", float, 2.0, "priority of a listening hit: factor for a "
            "VIP customer", check=_at_least(1)),
    Setting("listening.reach_full", int, 100000, "followers that count as full reach (fewer "
            "on a log scale)", check=_at_least(1)),
    Setting("listening.normal_from", float, 1.5, "a listening hit's priority is low below "
            "this score, normal from it", check=_at_least(0)),
    Setting("listening.high_from", float, 3.0, "... high from this score", check=_at_least(0)),
    Setting("listening.urgent_from", float, 6.0, "... urgent from this score",
            check=_at_least(0)),
)
AUTH = (
    Setting("auth.token_days", int, None,
            "new API tokens expire after this many days (unset: they never expire)",
            env="INBOX_TOKEN_DAYS", check=_between(1, 3650), example=90),
    Setting("auth.argon2_time_cost", int, 3,
            "argon2 passes per password hash (existing hashes are upgraded at sign-in)",
            env="INBOX_ARGON2_TIME_COST", check=_at_least(1)),
    Setting("auth.argon2_memory_kib", int, 65536, "argon2 memory per password hash, in KiB",
            env="INBOX_ARGON2_MEMORY_KIB"),
    Setting("auth.argon2_parallelism", int, 4, "argon2 lanes per password hash",
            env="INBOX_ARGON2_PARALLELISM", check=_at_least(1)),
)
SLA = (
    Setting("sla.timezone", str, "UTC", "time zone of the business calendar (IANA name)",
            env="INBOX_TIMEZONE"),
    Setting("sla.country", str, None, "public holidays of this country (ISO code)",
            example="GB"),
    Setting("sla.holidays", list, (), "more closed days", check=_dates,
            example=["2026-12-24"]),
    Setting("sla.calendar_time", list, ("x",),
            "channels whose targets run 24/7; the others count business hours only"),
    Setting("sla.at_risk", float, 0.75, "fraction of a target elapsed that counts as at risk",
            check=_fraction),
    Setting("sla.version", str, "1", "policy version, recorded with every deadline"),
    Setting("sla.targets", dict, {"email": "8h", "webform": "8h", "x": "1h"},
            "response-time target per channel, and per channel and priority "
            "(\"email.urgent\"): durations like \"8h\", \"30m\", \"1d\" (channels not "
            "listed keep theirs; a priority not listed keeps its channel's)"),
    Setting("sla.next_targets", dict, {},
            "target of every response after the first (the customer wrote again), with the "
            "keys of sla.targets (\"email\" = \"4h\"); a key not listed keeps its "
            "sla.targets one"),
    Setting("sla.hours", dict, {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu",
                                                                  "fri")},
            "opening hours per day, mon to sun, several periods allowed (days not listed "
            "keep theirs; sat and sun are closed)"),
)
ACK = (
    Setting("ack.email", bool, True, "answer a customer's email that opens a conversation "
            "with an automatic acknowledgement saying when to expect an answer (never to "
            "auto-replies, bounces, list mail or our own addresses)", env="INBOX_ACK_EMAIL"),
    Setting("ack.x_dm", bool, False, "acknowledge an X direct message that opens a "
            "conversation with a DM (never public posts)", env="INBOX_ACK_X_DM"),
    Setting("ack.webform", bool, True, "the web form's thank-you page says when to expect "
            "an answer (its acknowledgement template)", env="INBOX_ACK_WEBFORM"),
    Setting("ack.period_hours", float, 24.0, "at most one acknowledgement per conversation "
            "in this many hours", env="INBOX_ACK_PERIOD_HOURS", check=_at_least(0)),
    Setting("ack.max_age_hours", float, 24.0, "acknowledge only messages written this "
            "recently (a first sync of an old mailbox acknowledges nothing old)",
            env="INBOX_ACK_MAX_AGE_HOURS", check=_at_least(0)),
    Setting("ack.update", bool, False, "tell the customer once per conversation that we are "
            "still working on it, with the expected answer time, when its response deadline "
            "is at risk (on email, web form by email, and X DMs when ack.x_dm is on)",
            env="INBOX_ACK_UPDATE"),
    Setting("ack.queue", bool, True, "the expected answer time also follows the queue as "
            "customers lived it: when the team took longer than the deadline to answer one "
            "in ten of the channel's customers over the last week (their p90 first response), "
            "customers are told that later time (never an earlier one)",
            env="INBOX_ACK_QUEUE"),
)
CSAT = (
    Setting("csat.enabled", bool, True, "after an agent resolves a conversation, send the "
            "customer one satisfaction survey (a link to a 1-5 score page): by email, web "
            "form conversations by email, X only by DM when csat.x_dm is on",
            env="INBOX_CSAT_ENABLED"),
    Setting("csat.delay_minutes", float, 0.0, "wait this long after the resolution before "
            "the worker's sweep sends the survey", env="INBOX_CSAT_DELAY_MINUTES",
            check=_at_least(0)),
    Setting("csat.x_dm", bool, False, "survey X customers who wrote by direct message, by DM "
            "(never a public post)", env="INBOX_CSAT_X_DM"),
    Setting("csat.link_days", float, 14.0, "how long a survey link can be answered",
            env="INBOX_CSAT_LINK_DAYS", check=_at_least(0.01)),
)
SECTIONS: dict[str, tuple[Setting, ...]] = {
    "store": STORE, "web": WEB, "forms": FORMS, "identity": IDENTITY, "privacy": PRIVACY,
    "enrich": ENRICH, "worker": WORKER, "alerts": ALERTS, "listening": LISTENING,
    "auth": AUTH, "sla": SLA, "ack": ACK, "csat": CSAT}
SETTINGS: tuple[Setting, ...] = tuple(s for group in SECTIONS.values() for s in group)
BY_KEY = {s.key: s for s in SETTINGS}


@dataclass(frozen=True, slots=True)
class StoreSettings:
    url: str
    api_key: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_certs: str | None = None
    index_prefix: str = "inbox"
    shards: int = 1
    replicas: int = 1
    rollover_max_gb: float = 50.0
    rollover_max_days: float = 30.0
    rollover_max_docs: int | None = None


@dataclass(frozen=True, slots=True)
class WebSettings:
    host: str
    port: int
    public_url: str | None
    trust_proxy: bool

    @property
    def secure_cookies(self) -> bool:
        return (self.public_url or "").startswith("https://")


@dataclass(frozen=True, slots=True)
class FormLimits:
    rate_limit: int
    rate_window: float
    max_bytes: int


@dataclass(frozen=True, slots=True)
class IdentitySettings:
    phone_region: str | None


@dataclass(frozen=True, slots=True)
class PrivacySettings:
    marketing_contacts: bool


@dataclass(frozen=True, slots=True)
class EnrichSettings:
    enabled: bool
    workers: int


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    lease_seconds: int


@dataclass(frozen=True, slots=True)
class AlertsSettings:
    k: float
    minimum: int
    history_days: int
    webhook_url: str | None = field(repr=False)
    webhook_attempts: int
    webhook_timeout: float
    sla_email: bool = True


@dataclass(frozen=True, slots=True)
class ListeningSettings:
    post_read_price: float = 0.005
    reach_weight: float = 1.0
    negativity_weight: float = 2.0
    vip_weight: float = 2.0
    reach_full: int = 100000
    normal_from: float = 1.5
    high_from: float = 3.0
    urgent_from: float = 6.0

    def __post_init__(self) -> None:
        if not self.normal_from <= self.high_from <= self.urgent_from:
            raise ConfigError("listening.high_from", "the scores must rise: normal_from <= "
                              "high_from <= urgent_from")


@dataclass(frozen=True, slots=True)
class AuthSettings:
    token_days: int | None
    argon2_time_cost: int
    argon2_memory_kib: int
    argon2_parallelism: int

    def __post_init__(self) -> None:
        if self.argon2_memory_kib < 8 * self.argon2_parallelism:
            raise ConfigError("auth.argon2_memory_kib", "must be at least 8 KiB per lane "
                              "(auth.argon2_parallelism)")


@dataclass(frozen=True, slots=True)
class AckSettings:
    """Automatic acknowledgements and updates to customers (inbox.usecases.acks)."""

    email: bool = True
    x_dm: bool = False
    webform: bool = True
    period_hours: float = 24.0
    max_age_hours: float = 24.0
    update: bool = False
    queue: bool = True


@dataclass(frozen=True, slots=True)
class CsatSettings:
    """The satisfaction survey after resolution (inbox.usecases.csat)."""

    enabled: bool = True
    delay_minutes: float = 0.0
    x_dm: bool = False
    link_days: float = 14.0


@dataclass(frozen=True, slots=True)
class CoreSettings:
    """Every setting of the core, typed; [sla] is the SLA policy it describes."""

    store: StoreSettings
    web: WebSettings
    forms: FormLimits
    identity: IdentitySettings
    privacy: PrivacySettings
    enrich: EnrichSettings
    worker: WorkerSettings
    auth: AuthSettings
    sla: SlaPolicy
    alerts: AlertsSettings = AlertsSettings(3.0, 5, 7, None, 3, 5.0)
    listening: ListeningSettings = ListeningSettings()
    ack: AckSettings = AckSettings()
    csat: CsatSettings = CsatSettings()


SECTION_TYPES: dict[str, type] = {
    "store": StoreSettings, "web": WebSettings, "forms": FormLimits,
    "identity": IdentitySettings, "privacy": PrivacySettings, "enrich": EnrichSettings,
    "worker": WorkerSettings, "alerts": AlertsSettings, "listening": ListeningSettings,
    "auth": AuthSettings, "ack": AckSettings, "csat": CsatSettings}


def core_settings(data: Mapping[str, Any], env: Mapping[str, str] | None = None
                  ) -> CoreSettings:
    """The core's settings from inbox.toml's tables and the environment (which wins)."""
    env = env or {}
    values = {name: read_table(SECTIONS[name], table_at(data, name), env) for name in SECTIONS}
    sections = {name: kind(**values[name]) for name, kind in SECTION_TYPES.items()}
    return CoreSettings(**sections, sla=policy_from_config(values["sla"]))
