"""Composition root: config -> store + ingest + use cases + connectors + scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from connectors.twitter import ListeningStream
from connectors.webform import WebForms
from inbox import deadletters
from inbox.app.config import configure_channels, make_store, resolve
from inbox.config import AlertsSettings, ListeningSettings
from inbox.enrich import Enricher, no_enrichment
from inbox.enrich_pool import shared_pool
from inbox.errors import InboxError
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.lease import Lease
from inbox.listening import PriorityWeights
from inbox.model import Channel, message_id_for, utcnow
from inbox.passwords import Passwords
from inbox.ports import PIPELINED_BATCHES, Connector, ConnectorContext, IngestResult
from inbox.presence import Presence
from inbox.store import Store
from inbox.supervisor import RESTART_MAX, RESTART_MIN, Supervisor
from inbox.usecases.accounts import Accounts
from inbox.usecases.acks import Acknowledgements
from inbox.usecases.alerts import AlertSettings, Mailer, SpikeAlerts
from inbox.usecases.canned import CannedReplies
from inbox.usecases.connectors import ConnectorStatus
from inbox.usecases.conversations import Conversations
from inbox.usecases.csat import Surveys
from inbox.usecases.customers import Customers
from inbox.usecases.dead_letters import DeadLetters
from inbox.usecases.delivery import Delivery
from inbox.usecases.forms import Forms
from inbox.usecases.incidents import Incidents
from inbox.usecases.listening import ListeningRules
from inbox.usecases.replies import Replies
from inbox.usecases.reports import Reports
from inbox.usecases.saved_searches import SavedSearches
from inbox.usecases.search import Search
from inbox.usecases.sla_alerts import SlaAlerts
from inbox.webhook import Webhook
from web.context import WebContext

log = logging.getLogger(__name__)


class Runtime:
    """Everything one process runs; build with Runtime(config, env), then `await start()`."""

    def __init__(self, config: Mapping[str, Any], env: Mapping[str, str],
                 store: Store | None = None, channels: bool = True,
                 replies: bool = True) -> None:
        """`config` as `inbox.app.config.load` returns it; `channels=False` builds no connectors
        and no senders, `replies=False` no senders (polling needs no sending account)."""
        self.config = resolve(config)  # typed, whoever built the mapping
        self.settings = self.config.core
        self.env = env
        self.store = store or make_store(self.settings.store)
        self.events = EventBus()
        self.presence = Presence(self.events)  # who views or types what, in this process
        self.sla = self.settings.sla
        enabled, workers = self.settings.enrich.enabled, self.settings.enrich.workers
        pool = shared_pool(workers) if enabled and workers else None
        # once the workers run (start_enrichment) every batch goes to them: this process
        # loads the models only if one fails
        enrich = pool.enricher if pool else Enricher() if enabled else no_enrichment
        self._enrich_pool = pool
        self.ingestor = Ingestor(self.store, enrich=enrich, sla=self.sla, events=self.events,
                                 enrich_many=pool.many if pool else None,
                                 phone_region=self.settings.identity.phone_region)
        self.connectors, senders = configure_channels(
            self.config, env, send=replies) if channels else ([], {})
        self.passwords = Passwords.from_settings(self.settings.auth)  # argon2 cost
        self._tasks: list[asyncio.Task[None]] = []
        self._jobs: list[asyncio.Task[None]] = []
        self._scheduler: Any = None
        self.supervisors: dict[str, Supervisor] = {}  # by connector name, while workers run
        # the use cases: the one way pages, the API and the CLI read and change anything
        self.conversations = Conversations(self.store, self.events, self.sla)
        self.replies = Replies(self.conversations, senders)
        self.incidents = Incidents(self.replies)
        self.customers = Customers(self.store)
        self.reports = Reports(self.store, self.sla)
        self.accounts = Accounts(self.store, self.passwords, self.settings.auth.token_days)
        self.search = Search(self.store, self.accounts,
                             self.settings.privacy.marketing_contacts)
        self.dead_letters = DeadLetters(self.store)
        self.canned = CannedReplies(self.store, self.sla)
        self.saved_searches = SavedSearches(self.store, self.search)
        self.listening = ListeningRules(self.store, self.conversations,
                                        _weights(self.settings.listening),
                                        self.settings.listening.post_read_price)
        alert_settings = _alert_settings(self.settings.alerts)
        self.alerts = SpikeAlerts(self.store, self.search, self.accounts,
                                  self.conversations.notifications, alert_settings,
                                  _mailer(senders), self.settings.web.public_url)
        delivery = Delivery(self.conversations.notifications, self.accounts,
                            alert_settings.webhook, _mailer(senders),
                            self.settings.alerts.sla_email)
        self.sla_alerts = SlaAlerts(self.accounts, delivery, self.settings.web.public_url)
        self.conversations.deadline_alerts = self.sla_alerts
        # customers told when to expect an answer, and that we are still on it
        self.acks = Acknowledgements(self.replies, self.settings.ack, _own_addresses(senders))
        self.ingestor.on_opened = self.acks.opened
        self.conversations.customer_update = self.acks.still_working
        # a survey after an agent resolves; a low score tells the managers
        web = self.settings.web
        self.surveys = Surveys(self.replies, self.settings.csat, self.accounts, delivery,
                               web.public_url or f"http://{web.host}:{web.port}", self.acks)
        self.conversations.on_resolved = self.surveys.resolved
        self.status = ConnectorStatus(self.connectors, self.supervisors, self.dead_letters,
                                      lambda: self.leader)
        self.forms = Forms(WebForms.from_config(self.config), self.ingestor, self.sla,
                           acks=self.acks)
        self.restart_backoff = (RESTART_MIN, RESTART_MAX)  # seconds, first and longest wait
        self.lease: Lease | None = None
        self._closed = False

    def context_for(self, connector: Connector | None) -> ConnectorContext:
        """What a connector is handed: its dead letters are filed under its name."""
        source = connector.name if connector is not None else None

        bulk_ingest = functools.partial(self.ingestor.ingest, visible=False, source=source)
        normalized_ingest = functools.partial(bulk_ingest, normalized=True)

        return ConnectorContext(bulk_ingest, self.load_cursor, self.save_cursor,
                                self.dead_letter, self.stored_meta, normalized_ingest,
                                self.listening,
                                PIPELINED_BATCHES if self.store.chains_writes else 1)

    async def ingest(self, batch: Sequence[Any], source: str | None = None) -> IngestResult:
        """Ingest whose result searches see at once (web forms, imports)."""
        return await self.ingestor.ingest(batch, source=source)

    async def stored_meta(self, channel: str, external_ids: Sequence[str]
                          ) -> dict[str, Mapping[str, Any]]:
        """The meta of the stored messages among these external ids of a channel."""
        ids = {message_id_for(channel, e): e for e in external_ids}
        found = await self.store.messages_by_ids(sorted(ids))
        return {ids[mid]: msg.meta for mid, msg in found.items()}

    async def load_cursor(self, name: str) -> dict[str, Any] | None:
        return await self.store.cursors.get(name)

    async def save_cursor(self, name: str, value: Mapping[str, Any]) -> None:
        await self.store.cursors.put(name, dict(value))

    async def dead_letter(self, source: str, raw: bytes | str, error: str,
                          stage: str = "parse") -> None:
        """Keep an item a connector could not parse (raw) with its error and stage."""
        await deadletters.record(self.store, source, stage, error, raw)

    def web_context(self) -> WebContext:
        """What the web app is given: the use cases, the events and the web settings."""
        return WebContext(
            conversations=self.conversations, replies=self.replies, customers=self.customers,
            reports=self.reports, accounts=self.accounts, search=self.search,
            dead_letters=self.dead_letters, connectors=self.status, forms=self.forms,
            events=self.events, web=self.settings.web, form_limits=self.settings.forms,
            health=self.health, presence=self.presence, canned=self.canned,
            saved_searches=self.saved_searches, listening=self.listening,
            incidents=self.incidents, acks=self.acks, surveys=self.surveys)

    async def health(self) -> None:
        """The store answers (StoreUnavailable otherwise)."""
        await self.store.users.get("-")

    async def start(self) -> None:
        await self.store.open()
        for connector in self.connectors:  # x.keywords become rules once; then the app's
            if isinstance(connector, ListeningStream):
                await self.listening.import_keywords(connector.keywords)

    def start_enrichment(self) -> None:
        """Start the enrichment workers now, if configured: they load the models while the
        pollers connect (otherwise the first batch starts them, and waits)."""
        if self._enrich_pool is not None:
            self._enrich_pool.start()

    def warm_reports(self) -> None:
        """Make one small report in the background, so that the store has loaded what
        reports read (the SQLite store's columns of every conversation: seconds at a million)
        before a manager opens the first one (a web process's start)."""
        async def warm() -> None:
            now = utcnow()
            try:
                await self.reports.sla_rows(now - timedelta(days=1), now)
            except InboxError as exc:
                log.warning("reports not warmed", extra={"error": str(exc)})

        self._tasks.append(asyncio.create_task(warm(), name="warm-reports"))

    async def start_workers(self) -> None:
        """Pollers, reply retries and SLA sweeps, while this process holds the worker lease."""
        self.start_enrichment()
        self.lease = Lease(self.store, "worker",
                           timedelta(seconds=self.settings.worker.lease_seconds))
        self._tasks.append(asyncio.create_task(self._keep_lease(), name="worker-lease"))

    async def _keep_lease(self) -> None:
        assert self.lease is not None
        waiting_logged = False
        try:
            while True:
                try:
                    held = await self.lease.acquire()
                except InboxError as exc:
                    log.warning("worker lease check failed", extra={"error": str(exc)})
                    held = False
                if held and self._scheduler is None:
                    self._start_jobs()
                    log.info("worker lease taken; pollers running")
                elif not held and self._scheduler is not None:
                    await self._stop_jobs()
                    log.warning("worker lease lost; pollers stopped")
                elif not held and not waiting_logged:
                    log.info("another worker holds the lease; waiting")
                    waiting_logged = True
                await asyncio.sleep(self.lease.ttl.total_seconds() / 3)
        finally:
            await self._stop_jobs()
            with contextlib.suppress(InboxError):
                await self.lease.release()

    @property
    def leader(self) -> bool:
        """Does this process run the pollers now?"""
        return self._scheduler is not None

    def _start_jobs(self) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        for connector in self.connectors:
            low, high = self.restart_backoff
            supervisor = Supervisor(connector, self.context_for(connector), low=low, high=high)
            self.supervisors[connector.name] = supervisor
            self._jobs.append(asyncio.create_task(supervisor.run(),
                                                  name=f"connector:{connector.name}"))
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        for job_id, what, work in (("retry-replies", "reply retry", self.replies.retry_failed),
                                   ("sla-sweep", "SLA sweep", self.conversations.sweep_sla),
                                   ("snooze-wake", "snooze wake-up",
                                    self.conversations.sweep_snoozed),
                                   ("spike-alerts", "spike alerts", self.alerts.check),
                                   ("incident-updates", "incident updates",
                                    self.incidents.resume),
                                   ("csat-surveys", "CSAT surveys", self.surveys.sweep)):
            self._scheduler.add_job(self._job(what, work), "interval", seconds=60, id=job_id,
                                    coalesce=True, max_instances=1)
        if self.acks.outlook is not None:  # the pace customers' expected times follow (10 min)
            self._scheduler.add_job(self._job("queue pace", self.acks.outlook.refresh),
                                    "interval", seconds=600, id="queue-pace",
                                    next_run_time=utcnow(), coalesce=True, max_instances=1)
        self._scheduler.start()

    async def _stop_jobs(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        await _cancel(self._jobs)

    @staticmethod
    def _job(what: str, work: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
        """A scheduled job that logs the inbox errors of one run and tries again next time."""
        async def run() -> None:
            try:
                await work()
            except InboxError as exc:
                log.warning("%s failed", what, extra={"error": str(exc)})

        return run

    async def poll_once(self, channel: str | None = None) -> dict[str, IngestResult]:
        """Poll every (or one channel's) connector once."""
        results = {}
        for connector in self.connectors:
            if channel in (None, connector.channel):
                results[connector.name] = await connector.poll_once(self.context_for(connector))
        return results

    async def aclose(self) -> None:
        """Stop everything and close the store; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        await _cancel(self._tasks)
        await self._stop_jobs()
        await self.incidents.aclose()
        await self.alerts.aclose()
        await self.sla_alerts.delivery.aclose()
        await self.store.aclose()


def _alert_settings(found: AlertsSettings) -> AlertSettings:
    hook = (Webhook(found.webhook_url, found.webhook_attempts, found.webhook_timeout)
            if found.webhook_url else None)
    return AlertSettings(found.k, found.minimum, found.history_days, hook)


def _weights(found: ListeningSettings) -> PriorityWeights:
    return PriorityWeights(found.reach_weight, found.negativity_weight, found.vip_weight,
                           found.reach_full,
                           (found.normal_from, found.high_from, found.urgent_from))


def _mailer(senders: Mapping[Any, object]) -> Mailer | None:
    """The email sender's way to send a notice to the team; None without an SMTP account."""
    notice = getattr(senders.get(Channel.EMAIL), "send_notice", None)
    return notice if callable(notice) else None


def _own_addresses(senders: Mapping[Any, object]) -> list[str]:
    """The team's own mail addresses (the email sender's accounts): never acknowledged."""
    accounts = getattr(senders.get(Channel.EMAIL), "accounts", None)
    if not isinstance(accounts, Mapping):
        return []
    return [str(getattr(a, "from_address", "")) for a in accounts.values()]


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel tasks, wait until they are done, forget them."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    tasks.clear()
