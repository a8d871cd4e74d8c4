"""The ingest pipeline: dedupe -> identity -> threading -> enrich -> SLA -> store -> publish."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Protocol

from inbox import deadletters, identity
from inbox.collections import HasDeadLetters
from inbox.corrections import keep_correction
from inbox.enrich import EnrichMany, Enrichment
from inbox.errors import (
    AuthFailed,
    ConfigError,
    ConflictError,
    InboxError,
    NotFound,
    RetryableError,
    StoreMissing,
    StoreRefused,
    StoreUnavailable,
)
from inbox.events import EventBus
from inbox.ingest_plan import (
    NO_OVERLAY,
    Ahead,
    ItemFailed,
    Outcome,
    Overlay,
    Plan,
    customer_latest,
    digest_external_id,
    digest_id,
    distinct,
    enriched,
    newer,
    opens,
    preview,
)
from inbox.model import (
    STRONG_KINDS,
    Conversation,
    Customer,
    Direction,
    Event,
    Identity,
    IdentityKind,
    IdentityRef,
    Inbound,
    Message,
    RecentConversation,
    Status,
    evolve,
    message_id_for,
    new_id,
    utcnow,
)
from inbox.normalize import normalize_inbound, warm_up
from inbox.ports import DeadLettered, IngestResult
from inbox.retry import CONFLICTS, Retry, Sleep, retrying
from inbox.sla import SlaPolicy
from inbox.store import Repository

log = logging.getLogger(__name__)
MAX_MERGE_HOPS = 5  # merged into one merged into another...: followed this far
REOPEN_WINDOW = timedelta(days=7)  # a resolved thread answered within this window reopens
MAX_REF_DIGITS = 12  # a longer number in "[#...]" is no reference of ours
REPEAT_WINDOW = timedelta(days=7)  # a new conversation this soon after another is a repeat
# The store's or the configuration's problems, not the item's: never a reason to set an
# item aside (the caller keeps its cursor; the error tells a human what to fix).
_NOT_THE_ITEM = (ConflictError, RetryableError, AuthFailed, StoreMissing, ConfigError)
STORE_RETRY = Retry(2, first=0.5, cap=1.0)  # a store blip: two tries more, within 1.5 s


class IngestStore(Repository, HasDeadLetters, Protocol):
    """Where ingest reads and writes: the documents, and the dead letters."""


class _Poison(Exception):
    """An item failed at a stage of planning (enrich, sla)."""

    def __init__(self, stage: str, error: Exception) -> None:
        super().__init__(stage, error)
        self.stage, self.error = stage, error


class _Refused(Exception):
    """The store refused a planned batch; `suspects` are the positions it named."""

    def __init__(self, items: list[Inbound], suspects: set[int], error: StoreRefused) -> None:
        super().__init__(error)
        self.items, self.suspects, self.error = items, suspects, error


class _stage:  # noqa: N801 - used as a function; a class is cheaper per message
    """An item's error at a stage of planning, told apart from the store's."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if isinstance(exc, Exception) and not isinstance(exc, _NOT_THE_ITEM):
            raise _Poison(self.name, exc) from exc


class Ingestor:
    """Turns Inbound batches into stored messages, idempotently.

    Batches ingested at once (pollers pipelining their batches, several channels) are
    planned one at a time and written in the order they came: a batch is planned while the
    one before it is written, over what that one will write (Overlay). When a write does
    not go as planned (a conflict, a refused document, the store down), the batches planned
    over it are planned again from the store."""

    def __init__(
        self,
        store: IngestStore,
        *,
        enrich: Callable[[str, str | None], Enrichment],
        sla: SlaPolicy,
        enrich_many: EnrichMany | None = None,
        events: EventBus,
        phone_region: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        store_retry: Retry = STORE_RETRY,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.store, self.enrich, self.sla, self.events = store, enrich, sla, events
        # a batch's new messages enriched together while it is planned (other processes)
        self.enrich_many = enrich_many
        self.phone_region = phone_region
        self.clock = clock
        self.store_retry = store_retry  # retries and waits while the store is down
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._sleep = sleep
        self._lock = asyncio.Lock()  # one planner at a time per process; the store checks too
        # told of each stored batch that opened conversations (the runtime sets it: the
        # customers' acknowledgements, inbox.usecases.acks); its errors never fail ingest
        self.on_opened: Callable[[IngestResult], Awaitable[object]] | None = None
        warm_up()  # the first message waits for nothing built lazily
        self._pipelined = False  # whether batches came in at once: written ahead then
        self._ahead: list[Ahead] = []  # batches planned, in order, whose write has not ended

    async def ingest(self, batch: Sequence[Inbound], visible: bool = True,
                     source: str | None = None, normalized: bool = False) -> IngestResult:
        """Store a batch; replays of stored messages are counted, not written.

        An item that fails (normalising, planning, enrichment, SLA arithmetic, or refused by
        the store) is dead-lettered under `source` (default: its channel) with its stage,
        and the rest is stored. Raises StoreUnavailable when the store is down (after
        retries): nothing is dead-lettered then, the caller keeps its cursor.
        visible=False (pollers' bulk ingest) lets searches catch up a moment later.
        normalized=True: every item was made by `normalize_inbound` already (a connector's
        parse workers do it on the other cores); they are not normalised again."""
        if not batch:
            return IngestResult()
        out = Outcome()
        entry = Ahead(None, asyncio.get_running_loop().create_future(), visible=visible)
        written = False
        try:
            async with self._lock:
                ahead = self._ahead[-1] if self._ahead else None
                before = ahead.ended if ahead is not None else None
                items = (list(batch) if normalized
                         else await self._normalized(batch, source, out))
                if all(a.plan is not None for a in self._ahead):
                    entry.plan = await self._planned_ahead(items)
                    entry.batch = entry.plan.batch() if entry.plan is not None else None
                    self._submit(entry, ahead)
                self._ahead.append(entry)
            refused = None
            # written after the batch before if handed in chained to it (when planned, or
            # since, once that one was); otherwise in its turn, once that one has ended as
            # planned (a batch not planned waits for its turn too: planned then)
            if ((entry.submitted is not None or before is None or await asyncio.shield(before)
                 or entry.submitted is not None) and entry.plan is not None):
                try:
                    written = await self._written(items, entry, visible)
                except _Refused as exc:
                    refused = exc
            if not written and entry.submitted is not None and before is not None:
                await asyncio.shield(before)  # every earlier batch has ended
            if written:
                out.add(entry.plan)  # type: ignore[arg-type]
            else:  # every earlier batch has ended: planned again from the store
                entry.plan = None  # no later batch is planned over this plan
                async with self._lock:
                    if refused is not None:
                        await self._split(refused, visible, source, out)
                    else:
                        await self._store(items, visible, source, out)
        finally:
            if entry in self._ahead:
                self._ahead.remove(entry)
            if not entry.ended.done():
                entry.ended.set_result(written)
        for msg in out.stored:
            self.events.publish(Event("message.created", msg.conversation_id, msg.id,
                                      {"channel": msg.channel}))
        for msg in out.updated:
            self.events.publish(Event("message.updated", msg.conversation_id, msg.id, {}))
        result = out.result()
        if result.opened and self.on_opened is not None:
            try:
                await self.on_opened(result)
            except InboxError as exc:  # stored all the same: the caller moves its cursor on
                log.warning("after ingest: %s", exc, extra={"opened": len(result.opened)})
        return result

    async def _planned_ahead(self, items: list[Inbound]) -> Plan | None:
        """The batch planned over the batches ahead of it; None when it is to be planned
        from the store in its turn (an item failed to plan: it is dead-lettered then; the
        store is down or conflicting: retried then)."""
        if not items:
            return Plan()
        try:
            return await self._plan(items, Overlay(self._ahead) if self._ahead else NO_OVERLAY)
        except (ItemFailed, ConflictError, StoreUnavailable):
            return None

    def _submit(self, entry: Ahead, ahead: Ahead | None) -> None:
        """Once batches come in at once (a pipelining poller), a store that chains writes
        (the SQLite store's writer process) is handed each batch as soon as it is planned,
        to be written after the batch ahead of it, and only if that one was written as
        planned. A batch whose batch ahead was not handed in so is handed in with it (when
        that one is, in its turn), or written in its turn."""
        self._pipelined = self._pipelined or ahead is not None
        while True:
            plan = entry.plan
            if not (self._pipelined and plan is not None and entry.batch is not None
                    and plan.messages and (ahead is None or ahead.submitted is not None)
                    and entry.submitted is None and self.store.chains_writes):
                return
            entry.submitted = self.store.submit_write(
                replace(entry.batch, visible=entry.visible),
                ahead.submitted.number if ahead is not None and ahead.submitted else None)
            # the batches planned behind it, which waited for it to be handed in
            behind = self._ahead.index(entry) + 1 if entry in self._ahead else len(self._ahead)
            if entry.submitted is None or behind == len(self._ahead):
                return
            ahead, entry = entry, self._ahead[behind]

    async def _written(self, items: list[Inbound], entry: Ahead, visible: bool) -> bool:
        """Write a batch planned over the batches ahead (handed in already, or in its turn
        now): False when it must be planned again; _Refused when the store refused a
        document."""
        plan = entry.plan
        assert plan is not None and entry.batch is not None
        if entry.submitted is None:
            self._submit(entry, None)  # its turn: no batch is ahead of it now
        try:
            if entry.submitted is not None:
                await entry.submitted.done
            elif plan.messages:
                await self.store.write(replace(entry.batch, visible=visible))
        except StoreRefused as exc:
            raise _Refused(items, plan.suspects(exc.ids), exc) from exc
        except (ConflictError, StoreUnavailable) as exc:
            # a writer process that stopped may have committed it, its answer lost
            if not (isinstance(exc, StoreUnavailable) and entry.submitted is not None
                    and await self._found(plan.stored)):
                log.info("a batch planned ahead is planned again", extra={"error": str(exc)})
                return False
        return True

    async def _found(self, messages: Sequence[Message]) -> bool:
        """Whether these new messages, written in one batch, are all in the store now."""
        try:
            return bool(messages) and len(await self.store.messages_by_ids(
                [m.id for m in messages])) == len(messages)
        except RetryableError:
            return False

    async def _normalized(self, batch: Sequence[Inbound], source: str | None,
                          out: Outcome) -> list[Inbound]:
        items = []
        received = self.clock()
        for item in batch:
            try:
                items.append(normalize_inbound(item, received))
            except Exception as exc:  # noqa: BLE001 - set aside with its error
                await self._dead(item, "normalize", exc, source, out)
        return items

    async def _store(self, items: list[Inbound], visible: bool, source: str | None,
                     out: Outcome) -> None:
        """Plan and write; a refused write is split until the refused items stand alone."""
        if not items:
            return
        try:
            out.add(await self._attempt(items, visible, source, out))
        except _Refused as refused:
            await self._split(refused, visible, source, out)

    async def _split(self, refused: _Refused, visible: bool, source: str | None,
                     out: Outcome) -> None:
        """Store a refused batch's items apart from the ones the store named (or in halves
        when it named none), until the refused items stand alone: dead-lettered."""
        items, suspects, error = refused.items, refused.suspects, refused.error
        if len(items) == 1:
            await self._dead(items[0], "store", error, source, out)
            return
        log.warning("store refused part of a batch, splitting it",
                    extra={"items": len(items), "named": len(suspects), "error": str(error)})
        if suspects and len(suspects) < len(items):
            await self._store([i for n, i in enumerate(items) if n not in suspects], visible,
                              source, out)
            for n in sorted(suspects):
                await self._store([items[n]], visible, source, out)
            return
        half = len(items) // 2
        await self._store(items[:half], visible, source, out)
        await self._store(items[half:], visible, source, out)

    async def _attempt(self, items: list[Inbound], visible: bool, source: str | None,
                       out: Outcome) -> Plan:
        """One plan + write, planned again on a conflict and retried after a wait while the
        store is unavailable; an item failing to plan is dead-lettered and the rest planned
        again."""
        items = list(items)

        async def write() -> Plan:
            while True:
                try:
                    return await self._write(items, visible)
                except ItemFailed as failed:
                    await self._dead(items[failed.position], failed.stage, failed.error,
                                     source, out)
                    del items[failed.position]  # only once it is kept: a retry plans it again
                    if not items:
                        return Plan()

        async def planned() -> Plan:
            return await retrying(write, ConflictError, CONFLICTS,
                                  note="ingest conflict, planning again")

        # past the retries the caller keeps its cursor / tells the client to retry
        return await retrying(planned, StoreUnavailable, self.store_retry, rng=self._rng,
                              sleep=self._sleep, note="store unavailable, retrying ingest")

    async def _write(self, items: list[Inbound], visible: bool) -> Plan:
        plan = await self._plan(items)
        if plan.messages:
            try:
                await self.store.write(replace(plan.batch(), visible=visible))
            except StoreRefused as exc:
                raise _Refused(items, plan.suspects(exc.ids), exc) from exc
        return plan

    async def _dead(self, item: Inbound, stage: str, error: BaseException, source: str | None,
                    out: Outcome) -> None:
        text = f"{type(error).__name__}: {error}"
        external_id = str(getattr(item, "external_id", ""))
        key = await deadletters.record(self.store, source or str(getattr(item, "channel", "")),
                                       stage, text, deadletters.inbound_json(item), external_id)
        out.dead.append(DeadLettered(external_id, stage, text, key))

    async def _plan(self, items: Sequence[Inbound], over: Overlay = NO_OVERLAY) -> Plan:
        plan = Plan(now=self.clock(), over=over)  # one clock reading: the batch's arrival
        ids = [message_id_for(i.channel, i.external_id) for i in items]
        existing = over.messages_over(await self.store.messages_by_ids(ids), ids)
        # the ids of items re-keyed by their digest, read only where one may be: rare
        repeated = {mid for mid, count in Counter(ids).items() if count > 1}
        alternates = [digest_id(items[n]) for n, mid in enumerate(ids) if mid in repeated
                      or (mid in existing and distinct(existing[mid], items[n]))]
        if wanted := [a for a in alternates if a is not None]:
            existing.update(over.messages_over(await self.store.messages_by_ids(wanted),
                                               wanted))
        ordered = sorted(range(len(items)), key=lambda n: items[n].created_at)
        fresh = [n for n in ordered
                 if ids[n] not in existing or distinct(existing[ids[n]], items[n])]
        ahead = None
        if self.enrich_many is not None and fresh:
            ahead = asyncio.ensure_future(
                self.enrich_many([(items[n].text, items[n].lang) for n in fresh]))
            plan.ahead = frozenset(fresh)
        try:
            await self._prefetch(plan, [(n, items[n]) for n in fresh])
            for n in ordered:
                try:
                    await self._place(plan, n, ids[n], items[n], existing)
                except _NOT_THE_ITEM:
                    raise
                except _Poison as poison:
                    raise ItemFailed(n, poison.stage, poison.error) from poison.error
                except Exception as exc:
                    raise ItemFailed(n, "plan", exc) from exc
            if ahead is not None:
                enriched(plan, dict(zip(fresh, await ahead, strict=True)))
        finally:
            if ahead is not None and not ahead.done():
                ahead.cancel()
        return plan

    async def _place(self, plan: Plan, position: int, mid: str, inbound: Inbound,
                     existing: dict[str, Message]) -> None:
        """Plan one item: a new message, an edit, a duplicate, or a distinct message that
        shares its id with another (re-keyed by its content digest)."""
        earlier = plan.messages.get(mid) or existing.get(mid)
        if earlier is not None and newer(inbound.revision, earlier.revision):
            with _stage("enrich"):
                plan.messages[mid] = await self._edited(earlier, inbound)
            plan.updated.append(plan.messages[mid])
            plan.touched[position] = {mid, earlier.conversation_id}
            return
        alternate = digest_external_id(inbound)
        if earlier is not None and alternate is not None and distinct(earlier, inbound):
            inbound = replace(inbound, external_id=alternate)
            mid = message_id_for(inbound.channel, inbound.external_id)
            earlier = plan.messages.get(mid) or existing.get(mid)
        if earlier is not None:
            plan.duplicates += 1
            plan.known.append(earlier)
            return
        await self._add(plan, position, mid, inbound)

    async def _prefetch(self, plan: Plan, positioned: list[tuple[int, Inbound]]) -> None:
        """Everything the batch needs from the store, in three reads."""
        fresh = [i for _, i in positioned]
        refs: set[tuple[str, str]] = set()
        for n, item in positioned:
            try:
                refs.update((r.kind, r.value) for r in self._refs(plan, item))
            except Exception as exc:
                raise ItemFailed(n, "plan", exc) from exc
        keys = {k for i in fresh for k in (*i.thread_keys, *i.parent_keys)}
        # two rounds of two reads at once: the second needs what the first found
        over = plan.over
        plan.known_identities, plan.known_keys = await asyncio.gather(
            self.store.identities_by_refs(sorted(refs)),
            self.store.conversation_ids_by_thread_keys(
                sorted(k for k in keys if not k.startswith("conv:"))))
        plan.known_identities.update((r, over.identities[r]) for r in refs
                                     if r in over.identities)
        for key in keys:
            if key in over.keys:
                plan.known_keys.setdefault(key, over.keys[key])
        tokens = {k.removeprefix("conv:") for k in keys if k.startswith("conv:")}
        numbers = sorted(int(t) for t in tokens if t.isdigit() and len(t) <= MAX_REF_DIGITS)
        conv_ids = {*plan.known_keys.values(), *(t for t in tokens if not t.isdigit())}
        customers = {i.customer_id for i in plan.known_identities.values()}
        since = min((i.created_at for i in fresh), default=None)
        plan.loaded, read, referenced = await asyncio.gather(
            self.store.conversations_by_ids(sorted(conv_ids)),
            self.store.care_conversations(sorted(customers), since - REPEAT_WINDOW, since)
            if since is not None else _nothing(),
            self.store.conversations_by_refs(numbers) if numbers else _no_refs())
        plan.loaded.update((c, over.conversations[c]) for c in conv_ids
                           if c in over.conversations)
        for ref, conv in referenced.items():  # a human reference ("[#10482]") names it too
            conv = over.conversations.get(conv.id, conv)
            plan.loaded.setdefault(conv.id, conv)
            plan.by_ref[str(ref)] = conv.id
        await self._load_survivors(plan)
        recent: list[Conversation | RecentConversation] = list(read)
        if since is not None:
            ahead = {c.id: c for c in over.conversations.values() if c.customer_id in customers
                     and c.last_message_at >= since - REPEAT_WINDOW}
            recent = [*(c for c in read if c.id not in ahead), *ahead.values()]
        for care in recent:
            plan.recent.setdefault(care.customer_id, []).append(care)

    async def _load_survivors(self, plan: Plan) -> None:
        """The conversations the loaded ones were merged into (a read only when some were):
        a customer answer threading into a merged conversation lands in its survivor."""
        wanted = {c.merged_into for c in plan.loaded.values() if c.merged_into}
        for _ in range(MAX_MERGE_HOPS):
            wanted -= plan.loaded.keys()
            if not wanted:
                return
            found = await self.store.conversations_by_ids(sorted(wanted))
            plan.loaded.update(found)
            wanted = {c.merged_into for c in found.values() if c.merged_into}

    def _refs(self, plan: Plan, inbound: Inbound) -> list[IdentityRef]:
        if inbound.external_id not in plan.refs:
            plan.refs[inbound.external_id] = [
                r for r in (identity.normalize_ref(r, self.phone_region)
                            for r in inbound.authors) if r is not None]
        return plan.refs[inbound.external_id]

    async def _edited(self, earlier: Message, inbound: Inbound) -> Message:
        found = await self._enrich_one(inbound.text, inbound.lang)
        return keep_correction(earlier, replace(
            earlier, text=inbound.text, html=inbound.html, revision=inbound.revision,
            lang=found.lang, sentiment=found.sentiment, sentiment_score=found.score,
            meta=dict(inbound.meta)))  # an agent's sentiment label stays

    async def _enrich_one(self, text: str, lang: str | None) -> Enrichment:
        """One item's enrichment: by enrich_many's workers when there are (this process then
        never loads the models)."""
        if self.enrich_many is None:
            return self.enrich(text, lang)
        (found,) = await self.enrich_many([(text, lang)])
        if isinstance(found, Exception):
            raise found
        return found

    async def _add(self, plan: Plan, position: int, mid: str, inbound: Inbound) -> None:
        refs = self._refs(plan, inbound)
        customer_id = await self._customer(plan, refs, inbound)
        now = plan.now
        conversation = self._thread(plan, inbound, customer_id, now)
        if position in plan.ahead:  # enriched apart, filled in once the batch is planned
            found = Enrichment(inbound.lang, None, None)
        else:
            with _stage("enrich"):
                found = self.enrich(inbound.text, inbound.lang)
        msg = Message(
            id=mid, conversation_id=conversation.id, channel=inbound.channel,
            external_id=inbound.external_id, direction=inbound.direction, text=inbound.text,
            created_at=inbound.created_at, received_at=now, customer_id=customer_id,
            author_label=inbound.author_name or next((r.label or r.value for r in refs), None),
            author_keys=identity.author_keys(refs), subject=inbound.subject, html=inbound.html,
            quoted=inbound.quoted, lang=found.lang, sentiment=found.sentiment,
            sentiment_score=found.score, automated=inbound.automated,
            revision=inbound.revision, attachments=inbound.attachments, meta=dict(inbound.meta),
        )
        if opens(conversation, inbound):
            plan.opened.append(mid)
        with _stage("sla"):
            after = self._after_message(conversation, msg, inbound, now)
        if position in plan.ahead:
            plan.deferred[position] = msg
        if customer_latest(conversation, msg):
            plan.latest[conversation.id] = mid
        plan.messages[mid] = msg
        plan.stored.append(msg)
        plan.put(after)
        plan.touched[position] = {mid, conversation.id, customer_id}
        for key in (*inbound.thread_keys, *inbound.parent_keys):
            # a key stored (or written by a batch ahead) keeps its conversation: not sent
            if not key.startswith("conv:") and key not in plan.known_keys:
                plan.keys.setdefault(key, conversation.id)

    async def _customer(self, plan: Plan, refs: list[IdentityRef],
                        inbound: Inbound) -> str:
        pairs = [(r.kind, r.value) for r in refs]
        known = {p: plan.identities.get(p) or plan.known_identities[p] for p in pairs
                 if p in plan.identities or p in plan.known_identities}
        kinds: dict[str, frozenset[str]] = {}
        strong_match = any(kind in STRONG_KINDS for kind, _ in known)
        if not strong_match and any(r.kind == IdentityKind.X for r in refs):
            for (kind, _), ident in known.items():  # may this handle link this X account?
                if kind not in STRONG_KINDS and ident.customer_id not in kinds:
                    kinds[ident.customer_id] = await self._identity_kinds(plan,
                                                                          ident.customer_id)
        res = identity.resolve(refs, known, kinds)
        customer_id = res.customer_id
        if customer_id is None:
            customer_id = new_id("c")
            plan.customers[customer_id] = Customer(customer_id, inbound.author_name,
                                                   inbound.created_at)
        for ref in res.new_refs:
            plan.identities[(ref.kind, ref.value)] = Identity(ref.kind, ref.value, customer_id,
                                                              ref.label)
        if res.conflicts:
            log.info("identity owned by another customer, not moved",
                     extra={"customer": customer_id, "kinds": [r.kind for r in res.conflicts]})
        return customer_id

    async def _identity_kinds(self, plan: Plan, customer_id: str) -> frozenset[str]:
        kinds = {i.kind for i in (*plan.identities.values(), *plan.over.identities.values())
                 if i.customer_id == customer_id}
        if customer_id not in plan.customers:
            try:
                kinds |= {i.kind for i in (await self.store.get_customer(customer_id)).identities}
            except NotFound:
                pass
        return frozenset(kinds)

    def _thread(self, plan: Plan, inbound: Inbound, customer_id: str, now: datetime
                ) -> Conversation:
        conv = None
        for key in (*inbound.parent_keys, *inbound.thread_keys):
            token = key.startswith("conv:")  # a [#id] in a subject: anyone can type one
            conv_id = key.removeprefix("conv:") if token else \
                plan.keys.get(key) or plan.known_keys.get(key)
            if token:  # "[#10482]": a reference; "[#v01a2...]" (older mail): an id
                conv_id = plan.by_ref.get(conv_id or "", conv_id)
            conv = plan.conversations.get(conv_id or "") or plan.loaded.get(conv_id or "")
            conv = _survivor(plan, conv)
            if conv is not None and token and conv.customer_id != customer_id:
                conv = None  # only the conversation's own customer joins it by its id
            if conv is not None:
                break
        if conv is not None:
            if conv.id not in plan.conversations:
                plan.stored_versions[conv.id] = conv.version
            if not self._starts_new(conv, inbound):
                return conv
        created = inbound.created_at
        previous = None
        if not inbound.listening and not inbound.automated:
            previous = self._previous(plan, customer_id, created)
        conv = Conversation(
            id=new_id("v"), customer_id=customer_id, channel=inbound.channel,
            status=Status.LISTENING if inbound.listening else Status.OPEN, created_at=created,
            updated_at=now, last_message_at=created,
            subject=inbound.subject or preview(inbound.text), message_count=0,
            previous_id=None if previous is None else previous.id,
            switched_channel=None if previous is None else previous.channel != inbound.channel,
        )
        plan.put(conv)
        return conv

    def _previous(self, plan: Plan, customer_id: str, created: datetime
                  ) -> Conversation | RecentConversation | None:
        """The customer's latest care conversation, if this contact repeats it."""
        candidates: list[Conversation | RecentConversation] = [
            plan.conversations[c] for c in plan.customer_conversations.get(customer_id, ())]
        candidates.extend(plan.recent.get(customer_id, ()))  # read with the batch
        care = [c for c in candidates if c.status not in (Status.LISTENING, Status.MERGED)
                and c.created_at <= created <= c.last_message_at + REPEAT_WINDOW]
        return max(care, key=lambda c: c.last_message_at, default=None)

    def _starts_new(self, conv: Conversation, inbound: Inbound) -> bool:
        """A reply to a thread resolved long ago starts a fresh conversation."""
        return (conv.status == Status.RESOLVED
                and inbound.created_at - conv.last_message_at > REOPEN_WINDOW)

    def _after_message(self, conv: Conversation, msg: Message, inbound: Inbound,
                       now: datetime) -> Conversation:
        status = conv.status
        customer_wrote = msg.direction == Direction.INBOUND and not msg.automated
        if customer_wrote and not inbound.listening and status != Status.OPEN:
            status = Status.OPEN  # a customer answer reopens; a brand mention promotes
        changes: dict[str, Any] = {
            "status": status, "message_count": conv.message_count + 1,
            "last_message_at": max(conv.last_message_at, msg.created_at), "updated_at": now,
            "subject": conv.subject or msg.subject}
        if status == Status.OPEN and conv.snoozed_until is not None:
            changes["snoozed_until"] = None  # the customer wrote: a snooze ends at once
        if customer_latest(conv, msg):
            changes.update(sentiment=msg.sentiment, lang=msg.lang)
        if customer_wrote:
            return self.sla.customer_wrote(conv, msg.created_at, **changes)
        return evolve(conv, **changes)


def _survivor(plan: Plan, conv: Conversation | None) -> Conversation | None:
    """The conversation a merged one was merged into (followed along a chain of merges);
    None when it is not at hand (then the message starts a new conversation)."""
    for _ in range(MAX_MERGE_HOPS + 1):
        if conv is None or conv.merged_into is None:
            return conv
        conv = plan.conversations.get(conv.merged_into) or plan.loaded.get(conv.merged_into)
    return None


async def _nothing() -> list[RecentConversation]:
    return []


async def _no_refs() -> dict[int, Conversation]:
    return {}
