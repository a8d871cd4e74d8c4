"""Listening rules: team documents (a name, an X query, a brand group, paused or not) the X
connector polls, added, edited, paused and deleted in the app (permission "listening");
everyone who may search sees them with their hit volume, estimated monthly cost, share of
voice and top hits. Rules of x.keywords are imported once (by query text).

The connector reports each rule's poll (`counted`): a daily rollup per rule (posts read,
hits, negative hits) keeps the counts cheap at any number of stored messages, and each new
hit's conversation gets its priority (inbox.listening.priority)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from inbox.audit import audit
from inbox.collections import (
    LISTENING_IMPORTS,
    ListeningCountDoc,
    ListeningImportDoc,
    ListeningRuleDoc,
    existing,
)
from inbox.errors import ConflictError, NotFound, ValidationError
from inbox.listening import (
    DEFAULT_POST_READ_PRICE,
    DEFAULT_WEIGHTS,
    Priority,
    PriorityWeights,
    compiled_query,
    monthly_cost,
    priority,
    query_problem,
)
from inbox.model import ConversationFilter, Message, User, new_id, utcnow
from inbox.normalize import required_label
from inbox.ports import ActiveRule
from inbox.store import Store
from inbox.usecases.conversations import SYSTEM, Conversations

log = logging.getLogger(__name__)

MAX_NAME, MAX_GROUP = 100, 60
MAX_RULES = 200  # X bills every read: more rules than this is a mistake
DEFAULT_GROUP = "ours"
VIP_TAG = "vip"  # a customer with a conversation tagged so is a VIP
TOP_PER_DAY = 5  # highest-priority hits kept per rule and day for the page


@dataclass(frozen=True, slots=True)
class Volume:
    today: int
    week: int
    month: int
    reads_month: int  # posts X served the rule in the last 30 days (billed)
    negative_month: int


@dataclass(frozen=True, slots=True)
class GroupShare:
    group: str
    hits: int
    share: float  # of all groups' hits, 0..1
    negative: int
    negative_share: float  # of this group's hits, 0..1


@dataclass(frozen=True, slots=True)
class TopHit:
    message: Message
    rule: ListeningRuleDoc | None
    priority: Priority


def _day(at: datetime) -> str:
    return at.date().isoformat()


def _key(rule_id: str, day: str) -> str:
    return f"{rule_id}/{day}"


class ListeningRules:
    def __init__(self, store: Store, conversations: Conversations | None = None,
                 weights: PriorityWeights = DEFAULT_WEIGHTS,
                 post_read_price: float = DEFAULT_POST_READ_PRICE) -> None:
        """conversations: sets the priority of new hits (None: counts only)."""
        self.store, self.conversations = store, conversations
        self.weights, self.post_read_price = weights, post_read_price
        self.clock = utcnow

    # --- the rules -----------------------------------------------------------------------

    async def all(self) -> list[ListeningRuleDoc]:
        """Every rule, by group then name."""
        found = [doc for _, doc in await self.store.listening_rules.list(None, MAX_RULES + 1)]
        return sorted(found, key=lambda d: (d["group"].casefold(), d["name"].casefold(),
                                            d["id"]))

    async def get(self, rule_id: object) -> ListeningRuleDoc:
        return await existing(self.store.listening_rules, rule_id, "listening rule")

    async def active(self) -> list[ActiveRule]:
        """What the connector polls: each rule not paused, with the query X is asked."""
        return [ActiveRule(d["id"], compiled_query(d["query"]))
                for d in await self.all() if not d["paused"]]

    async def create(self, actor: User, name: Any, query: Any, group: Any = DEFAULT_GROUP,
                     paused: Any = False, *, audited: bool = True) -> ListeningRuleDoc:
        fields = _checked(name, query, group, paused)
        rules = await self.all()
        if len(rules) >= MAX_RULES:
            raise ValidationError({"name": f"at most {MAX_RULES} listening rules; delete "
                                           "one first"})
        _unique(rules, fields, None)
        now = self.clock().isoformat()
        doc: ListeningRuleDoc = {"id": new_id("r"), **fields, "created_at": now,  # type: ignore[typeddict-item]
                                 "created_by": actor.email, "updated_at": now,
                                 "updated_by": actor.email, "version": 1}
        await self.store.listening_rules.put(doc["id"], doc)
        if audited:
            await audit(self.store, actor, "listening.add", doc["id"])
        return doc

    async def update(self, actor: User, rule_id: object, version: Any, name: Any = None,
                     query: Any = None, group: Any = None, paused: Any = None
                     ) -> ListeningRuleDoc:
        """Change what is given (None: unchanged) of the version the editor saw; an older
        version is refused (ConflictError, 409) naming who changed it since."""
        old = await self.get(rule_id)
        if not isinstance(version, int) or isinstance(version, bool):
            raise ValidationError({"version": "required: the version you edited (a number)"})
        if version != old["version"]:
            raise ConflictError(f"The rule changed since you loaded it: {old['updated_by']} "
                                f"saved version {old['version']}. Reload and try again.")
        fields = _checked(old["name"] if name is None else name,
                          old["query"] if query is None else query,
                          old["group"] if group is None else group,
                          old["paused"] if paused is None else paused)
        _unique(await self.all(), fields, old["id"])
        new: ListeningRuleDoc = {**old, **fields,  # type: ignore[typeddict-item]
                                 "updated_at": self.clock().isoformat(),
                                 "updated_by": actor.email, "version": old["version"] + 1}
        if new["query"] != old["query"]:
            new.pop("error", None)  # X is asked the new query: its refusal is to come
        if not await self.store.listening_rules.swap(old["id"], old, new):
            raise ConflictError("The rule changed meanwhile. Reload and try again.")
        edited = any(fields[k] != old[k] for k in ("name", "query", "group"))
        action = ("listening.edit" if edited or fields["paused"] == old["paused"] else
                  "listening.pause" if fields["paused"] else "listening.resume")
        await audit(self.store, actor, action, old["id"])
        return new

    async def delete(self, actor: User, rule_id: object) -> ListeningRuleDoc:
        doc = await self.get(rule_id)
        await self.store.listening_rules.delete(doc["id"])
        await audit(self.store, actor, "listening.delete", doc["id"])
        return doc

    async def import_keywords(self, keywords: Iterable[str]) -> list[ListeningRuleDoc]:
        """Rules of x.keywords, each imported once (by query text): one already a rule, or
        imported before (and maybe deleted since in the app), is left alone. One that
        cannot be a rule (its name taken by another rule) is skipped with a warning."""
        made: list[ListeningRuleDoc] = []
        imports = self.store.collection(LISTENING_IMPORTS)
        for keyword in keywords:
            digest = hashlib.sha256(keyword.strip().encode()).hexdigest()[:32]
            claimed: ListeningImportDoc = {"at": self.clock().isoformat(), "query": keyword}
            if not await imports.put_new(digest, claimed):  # imported (by another process)
                continue
            if not any(r["query"].strip() == keyword.strip() for r in await self.all()):
                try:
                    made.append(await self.create(SYSTEM, keyword[:MAX_NAME], keyword,
                                                  audited=False))
                    await audit(self.store, SYSTEM, "listening.import", made[-1]["id"])
                except ValidationError as exc:
                    log.warning("x.keywords rule not imported", extra={
                        "rule": keyword[:100], "error": str(exc)})
        return made

    # --- what the connector reports -------------------------------------------------------

    async def counted(self, rule_id: str, reads: int, hits: Sequence[Message],
                      new: Sequence[Message] = ()) -> None:
        """A poll of a rule read `reads` posts; `hits` are the messages it found (new or
        already stored), `new` those stored by this poll: each gets its priority."""
        ranked = await self._ranked(hits)
        await self.record(rule_id, _day(self.clock()), reads, hits, ranked)
        await self.prioritize(new, ranked)

    async def refused(self, rule_id: str, error: str | None) -> None:
        """X refused the rule's query (error), or no longer does (None): kept on the rule
        for the page, without a new version (it is no one's edit)."""
        for _ in range(3):
            doc = await self.store.listening_rules.get(rule_id)
            if doc is None or doc.get("error") == error:
                return
            if await self.store.listening_rules.swap(rule_id, doc, {**doc, "error": error}):
                return

    async def _ranked(self, hits: Sequence[Message]) -> dict[str, Priority]:
        return {m.id: await self.priority_of(m) for m in hits}

    async def record(self, rule_id: str, day: str, reads: int, hits: Sequence[Message],
                     ranked: dict[str, Priority] | None = None) -> None:
        """Add a poll to the rule's rollup of `day`: reads, hits, negative hits, and the
        best hits by priority."""
        if not reads and not hits:
            return  # a quiet poll: nothing to add
        ranked = ranked if ranked is not None else await self._ranked(hits)
        scored = [{"message": m.id, "score": ranked[m.id].score} for m in hits]
        key = _key(rule_id, day)
        for _ in range(10):
            old = await self.store.listening_counts.get(key)
            base: ListeningCountDoc = old or {"rule": rule_id, "day": day, "reads": 0,
                                              "hits": 0, "negative": 0}
            best = {t["message"]: t for t in [*base.get("top", []), *scored]}
            doc: ListeningCountDoc = {
                **base, "reads": base["reads"] + reads, "hits": base["hits"] + len(hits),
                "negative": base["negative"] + sum(m.sentiment == "negative" for m in hits),
                "top": sorted(best.values(), key=lambda t: -t["score"])[:TOP_PER_DAY]}
            if await self.store.listening_counts.swap(key, old, doc):
                return
        raise ConflictError(f"the rollup {key} kept changing meanwhile")

    async def prioritize(self, hits: Sequence[Message],
                         ranked: dict[str, Priority] | None = None) -> None:
        """Give each hit's conversation the priority the hit has, while the conversation
        has the default one (an agent's choice is never overridden)."""
        if self.conversations is None:
            return
        for message in hits:
            level = (ranked[message.id] if ranked and message.id in ranked
                     else await self.priority_of(message)).level
            if level == "normal":
                continue
            try:
                conv = await self.conversations.current(message.conversation_id)
                if conv.priority == "normal":
                    await self.conversations.set_priority(conv.id, level, SYSTEM)
            except NotFound:
                continue

    # --- what the page shows --------------------------------------------------------------

    async def priority_of(self, message: Message) -> Priority:
        """This hit's priority: its author's reach, its negativity, its customer's VIP mark."""
        followers = message.meta.get("followers")
        vip = message.customer_id is not None and await self.vip(message.customer_id) is not None
        return priority(followers if isinstance(followers, int) else None, message.sentiment,
                        message.sentiment_score, vip, self.weights)

    async def set_vip(self, actor: User, customer_id: str, on: bool) -> None:
        await self.store.get_customer(customer_id)  # NotFound for no such customer
        if on:
            await self.store.vips.put(customer_id, {"at": self.clock().isoformat(),
                                                    "by": actor.email})
        else:
            await self.store.vips.delete(customer_id)
        await audit(self.store, actor, "customer.vip" if on else "customer.unvip", customer_id)

    async def vip(self, customer_id: str) -> str | None:
        """Why the customer is a VIP: "marked" (the customer's VIP mark), "tagged" (a
        conversation of theirs carries the tag vip, as agents tag them), or None."""
        if await self.store.vips.get(customer_id) is not None:
            return "marked"
        tagged = await self.store.list_conversations(
            ConversationFilter(customer_id=customer_id, tag=VIP_TAG), None, 1)
        return "tagged" if tagged.items else None

    async def _days(self, rule_id: str, days: int) -> list[ListeningCountDoc]:
        """The rule's rollup of the last `days` days (today included)."""
        first = _day(self.clock() - timedelta(days=days))
        found = await self.store.listening_counts.list(_key(rule_id, first), days + 1)
        return [d for k, d in found if k.startswith(rule_id + "/")]

    async def volume(self, rule_id: str) -> Volume:
        now = self.clock()
        docs = await self._days(rule_id, 30)
        since = {n: _day(now - timedelta(days=n - 1)) for n in (1, 7, 30)}

        def hits(n: int) -> int:
            return sum(d["hits"] for d in docs if d["day"] >= since[n])

        month = [d for d in docs if d["day"] >= since[30]]
        return Volume(hits(1), hits(7), hits(30), sum(d["reads"] for d in month),
                      sum(d["negative"] for d in month))

    def cost(self, volume: Volume) -> float:
        """Estimated monthly cost: the last 30 days' reads x the price of a post read."""
        return monthly_cost(volume.reads_month, self.post_read_price)

    async def share_of_voice(self, days: int = 30) -> list[GroupShare]:
        """Hits per group of the last `days` days, with its share of all and its negative
        share; groups by hits, most first."""
        groups: dict[str, list[int]] = {}
        for rule in await self.all():
            counted = groups.setdefault(rule["group"], [0, 0])
            for doc in await self._days(rule["id"], days - 1):
                counted[0] += doc["hits"]
                counted[1] += doc["negative"]
        total = sum(h for h, _ in groups.values())
        return sorted((GroupShare(g, h, h / total if total else 0.0, n, n / h if h else 0.0)
                       for g, (h, n) in groups.items()), key=lambda s: (-s.hits, s.group))

    async def top_hits(self, days: int = 7, limit: int = 10) -> list[TopHit]:
        """The highest-priority hits of the last `days` days, as the weights rank them now."""
        rules = {r["id"]: r for r in await self.all()}
        ids = {t["message"]: rule_id for rule_id in rules
               for doc in await self._days(rule_id, days - 1)
               for t in doc.get("top", [])}
        found = await self.store.messages_by_ids(sorted(ids))
        ranked = [TopHit(m, rules.get(ids[m.id]), await self.priority_of(m))
                  for m in found.values()]
        ranked.sort(key=lambda t: t.message.id)
        ranked.sort(key=lambda t: (t.priority.score, t.message.created_at), reverse=True)
        return ranked[:limit]  # the best first; of equals, the newest


def _unique(rules: list[ListeningRuleDoc], fields: dict[str, Any], own: str | None) -> None:
    """One name and one query per rule: the team finds the one they mean, X bills once."""
    for r in rules:
        if r["id"] == own:
            continue
        if r["name"].casefold() == fields["name"].casefold():
            raise ValidationError({"name": f"a rule is already named {fields['name']!r}"})
        if r["query"].strip() == fields["query"]:
            raise ValidationError({"query": f"the rule {r['name']!r} has this query"})


def _checked(name: Any, query: Any, group: Any, paused: Any) -> dict[str, Any]:
    """The rule's fields, cleaned; ValidationError says what is wrong with each."""
    errors: dict[str, str] = {}
    clean_name = required_label(name, MAX_NAME, "name", "what the team calls the rule", errors)
    clean_group = required_label(group, MAX_GROUP, "group", "the brand it listens for, e.g. "
                                 "ours or Competitor A", errors)
    if (problem := query_problem(query)) is not None:
        errors["query"] = problem
    if not isinstance(paused, bool):
        errors["paused"] = "true or false"
    if errors:
        raise ValidationError(errors)
    return {"name": clean_name, "query": str(query).strip(), "group": clean_group,
            "paused": paused}
