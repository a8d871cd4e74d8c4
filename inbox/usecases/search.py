"""Search: the search language for one user, what their role may see, and the voice of
the customer (volume, trending words). Pages, the API and the CSV export all go through
`messages`, so contacts stay hidden from whoever may not see them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from inbox import permissions
from inbox import query as ql
from inbox.errors import PermissionDenied, QueryError
from inbox.model import (
    AUTOMATED,
    And,
    Direction,
    Facet,
    FieldTerm,
    Interval,
    Or,
    Phrase,
    QueryNode,
    SearchResult,
    Term,
    User,
    utcnow,
)
from inbox.privacy import inbound_only, redact_message
from inbox.store import Store
from inbox.trending import Period, Sample, Trending, dated, period_of, trending, within
from inbox.usecases.accounts import Accounts

INBOUND = FieldTerm("direction", Direction.INBOUND)
# The voice of the customer: what customers wrote (listening hits included), not the team's
# replies and notes, nor auto-replies and bounces (automated inbound mail).
CUSTOMERS = (INBOUND, FieldTerm(AUTOMATED, "false"))
# ... and, for a manager's QA, the team's replies too (never the internal notes, nor the
# automatic acknowledgements, inbox.usecases.acks).
WITH_TEAM = Or((And(CUSTOMERS), And((FieldTerm("direction", Direction.OUTBOUND),
                                     FieldTerm(AUTOMATED, "false")))))
TEAM_PERMISSION = "report"  # who may include the team's replies (managers, admins)
TRENDING = 15
TREND_SAMPLE = 1000  # the newest matches of each period trending reads (2,000 in all)
SENTIMENTS = ql.FIELD_VALUES["sentiment"]  # positive, neutral, negative


def _besides_inbound(node: QueryNode | None) -> list[QueryNode]:
    """The query's top-level AND parts but direction:inbound (which `visible` may add)."""
    parts = node.nodes if isinstance(node, And) else (node,) if node is not None else ()
    return [p for p in parts if p != INBOUND]


def date_range(node: QueryNode | None, first: date | None, last: date | None
               ) -> QueryNode | None:
    """The query limited to the days first..last (both included; None: open). Its own
    after:/before: still hold: the range and the query's dates meet (the later start, the
    earlier end)."""
    extra: list[QueryNode] = []
    if first is not None:
        extra.append(FieldTerm("after", first.isoformat()))
    if last is not None and last.isoformat() < ql.LAST_DATE:  # the last day: no end at all
        extra.append(FieldTerm("before", (last + timedelta(days=1)).isoformat()))
    if not extra:
        return node
    parts = node.nodes if isinstance(node, And) else (node,) if node is not None else ()
    return And((*parts, *extra))


def searched_words(node: QueryNode | None) -> list[str]:
    """The words and phrases a query looks for (not those it excludes), to mark in hits."""
    if isinstance(node, Term | Phrase):
        return [node.text.rstrip("*")] if node.text.rstrip("*") else []
    if isinstance(node, And | Or):
        return [w for n in node.nodes for w in searched_words(n)]
    return []  # Not, fields


@dataclass(frozen=True, slots=True)
class Counts:
    """Messages of a period: all, and per sentiment (unlabelled ones only in `total`)."""

    total: int
    sentiments: dict[str, int]


@dataclass(frozen=True, slots=True)
class Comparison:
    """A period against the previous one of the same length."""

    period: Period
    now: Counts
    before: Counts

    def change(self, sentiment: str | None = None) -> int:
        if sentiment is None:
            return self.now.total - self.before.total
        return self.now.sentiments[sentiment] - self.before.sentiments[sentiment]


@dataclass(frozen=True, slots=True)
class Voc:
    """The voice of the customer for one query."""

    result: SearchResult  # a first page of messages, with facets
    volume: list[tuple[str, int]]  # (bucket start, count)
    trending: Trending  # terms that rose against the previous period, and handles
    sentiments: list[tuple[str, dict[str, int]]]  # per bucket: count per sentiment, "none"
    comparison: Comparison  # trending's period against the previous one


class Search:
    def __init__(self, store: Store, accounts: Accounts, marketing_contacts: bool = False
                 ) -> None:
        self.store, self.accounts = store, accounts
        self.marketing_contacts = marketing_contacts  # the privacy setting
        self.trend_sample = TREND_SAMPLE

    async def parse(self, text: str, viewer: User) -> QueryNode | None:
        """The query with assignee:me and assignee:<email> turned into user ids, limited to
        what the viewer may see (`visible`); QueryError says where it is wrong."""
        node = ql.resolve_me(ql.parse(text), viewer.id)
        if "assignee" in ql.fields_used(node):
            ids = {u.email: u.id for u in await self.accounts.users()}

            def user_id(value: str) -> str:
                if "@" not in value:
                    return value
                if value.lower() not in ids:
                    raise QueryError(f"no user {value}", text.find(value), text)
                return ids[value.lower()]

            node = ql.map_assignees(node, user_id)
        return self.visible(node, text, viewer)

    def hides_contacts(self, viewer: User) -> bool:
        """Searches of this user match the public copy of the text (Store `public=True`): no
        word, phrase or prefix finds a piece of an address or number they may not see."""
        return not permissions.sees_contacts(viewer, self.marketing_contacts)

    def visible(self, node: QueryNode | None, text: str, viewer: User) -> QueryNode | None:
        """Who may not read conversations (marketing) searches inbound customer messages
        only, and without contacts may not look customers up by address (from:)."""
        if permissions.sees_care(viewer):
            return node
        if "from" in ql.fields_used(node) and self.hides_contacts(viewer):
            raise QueryError("from: is not available to your role (customer contacts are "
                             "hidden)", max(text.lower().find("from:"), 0), text)
        if node is None:
            return INBOUND
        return And((INBOUND, *(node.nodes if isinstance(node, And) else (node,))))

    async def messages(self, viewer: User, node: QueryNode | None, cursor: str | None,
                       limit: int, facets: Sequence[Facet] = (),
                       volume: Interval | None = None) -> SearchResult:
        """The one way to search messages (node: from `parse`): contacts redacted for who
        may not see them, only customer messages for who may not read conversations."""
        hidden = self.hides_contacts(viewer)
        result = await self.store.search(node, cursor, limit, facets, public=hidden,
                                         volume=volume)
        if permissions.sees_care(viewer):
            return result
        shown = redact_message if hidden else inbound_only
        return replace(result, messages=tuple(shown(m) for m in result.messages))

    @staticmethod
    def may_include_team(viewer: User) -> bool:
        return permissions.allowed(viewer, TEAM_PERMISSION)

    def voice(self, viewer: User, node: QueryNode | None, team: bool = False) -> QueryNode:
        """The query limited to the voice of the customer; team: with the team's replies
        (QA), which only managers and admins may ask for (PermissionDenied otherwise)."""
        if team and not self.may_include_team(viewer):
            raise PermissionDenied("only managers may include the team's replies "
                                   "(the voice of the customer is the customers' own)")
        parts = _besides_inbound(node)
        return And((WITH_TEAM, *parts) if team else (*CUSTOMERS, *parts))

    async def volume(self, viewer: User, node: QueryNode | None, interval: Interval,
                     team: bool = False) -> list[tuple[str, int]]:
        """The voice of the customer's volume over time (see `voice`)."""
        return await self.store.volume(self.voice(viewer, node, team), interval,
                                       public=self.hides_contacts(viewer))

    async def voice_messages(self, viewer: User, node: QueryNode | None, cursor: str | None,
                             limit: int, team: bool = False) -> SearchResult:
        """A page of the voice of the customer's messages (the VoC's CSV export)."""
        return await self.messages(viewer, self.voice(viewer, node, team), cursor, limit)

    async def voc(self, viewer: User, node: QueryNode | None, interval: Interval,
                  facets: Sequence[Facet], team: bool = False) -> Voc:
        """Volume over time, trending terms and a first page of the matching messages, of
        the voice of the customer (see `voice`)."""
        voice = self.voice(viewer, node, team)
        result = await self.messages(viewer, voice, None, 20, facets, interval)
        newest = result.messages[0].created_at.date() if result.messages else None
        trend = await self.trending(viewer, voice, newest)
        volume = list(result.volume)
        # every match counted with its day and sentiment: the chart's colours and the
        # comparison come from those counts, no more searches; unless they are sampled, hold
        # the team's replies, or the query's own days leave the previous period out
        moods = (result.moods if not (result.sampled or team or dated(voice)) else None)
        return Voc(result, volume, trend,
                   await self.sentiment_volume(viewer, node, interval, volume, team, moods),
                   await self.compare(viewer, voice, trend.period, moods))

    async def _volume(self, viewer: User, voice: QueryNode, interval: Interval
                      ) -> list[tuple[str, int]]:
        return await self.store.volume(voice, interval, public=self.hides_contacts(viewer))

    async def sentiment_volume(self, viewer: User, node: QueryNode | None, interval: Interval,
                               volume: Sequence[tuple[str, int]], team: bool = False,
                               moods: Sequence[tuple[str, str, int]] | None = None
                               ) -> list[tuple[str, dict[str, int]]]:
        """Per bucket of `volume` (the `voice` of `node`): the customers' messages per
        sentiment, "none" for theirs without a label yet, and "team" for the team's replies
        (team: when `volume` counts them; 0 otherwise). moods: the customers' (day,
        sentiment, n) of every match, when the search counted them (else searched here)."""
        if not volume:
            return []
        per: dict[str, dict[str, int]]
        if moods is not None:
            per = {s: Counter() for s in SENTIMENTS}
            for day, mood, n in moods:
                if mood in per:
                    per[mood][ql.bucket_of(day, interval)] += n
            theirs = dict(volume)
        else:
            customers = self.voice(viewer, node)
            per = {s: dict(await self._volume(
                viewer, And((customers, FieldTerm("sentiment", s))), interval))
                for s in SENTIMENTS}
            theirs = dict(await self._volume(viewer, customers, interval) if team else volume)
        out = []
        for bucket, total in volume:
            counts = {s: per[s].get(bucket, 0) for s in SENTIMENTS}
            customer_total = theirs.get(bucket, 0)
            out.append((bucket, {**counts,
                                 "none": max(customer_total - sum(counts.values()), 0),
                                 "team": max(total - customer_total, 0)}))
        return out

    async def compare(self, viewer: User, voice: QueryNode, period: Period,
                      moods: Sequence[tuple[str, str, int]] | None = None) -> Comparison:
        """Messages of `voice` in `period` and in the previous one, in all and per
        sentiment (every match counted, none sampled): from `moods` (every match of `voice`
        by day and sentiment) when given, else one daily volume per series over both."""
        both = within(voice, Period(period.previous.start, period.end))
        start, first, end = (period.start.isoformat(), period.previous.start.isoformat(),
                             period.end.isoformat())
        split: dict[str, tuple[int, int]] = {}
        if moods is not None:
            tally: dict[str, list[int]] = {name: [0, 0] for name in ("all", *SENTIMENTS)}
            for day, mood, n in moods:
                if first <= day < end:
                    side = 0 if day >= start else 1
                    tally["all"][side] += n
                    if mood in tally:
                        tally[mood][side] += n
            split = {name: (a, b) for name, (a, b) in tally.items()}
        else:
            for name, node in (("all", both), *((s, And((both, FieldTerm("sentiment", s))))
                                                for s in SENTIMENTS)):
                days = await self._volume(viewer, node, "day")
                split[name] = (sum(n for d, n in days if d >= start),
                               sum(n for d, n in days if d < start))
        return Comparison(period, *(Counts(split["all"][i], {s: split[s][i] for s in SENTIMENTS})
                                    for i in (0, 1)))

    async def trending(self, viewer: User, voice: QueryNode, newest: date | None
                       ) -> Trending:
        """Terms that rose in the query's period (period_of) against the previous one, from
        the `trend_sample` newest messages of each."""
        period = period_of(voice, newest, utcnow().date())
        samples = []
        for p in (period, period.previous):
            found = await self.messages(viewer, within(voice, p), None, self.trend_sample)
            samples.append(Sample(found.messages, found.total))
        team_names = [n for u in await self.accounts.users() for n in (u.name, u.email)]
        return trending(period, samples[0], samples[1], team_names, TRENDING)

    @staticmethod
    def voice_text(node: QueryNode | None) -> str:
        """The query as the VoC shows it: without the direction:inbound it always means."""
        parts = _besides_inbound(node)
        return ql.to_text(None if not parts else parts[0] if len(parts) == 1
                          else And(tuple(parts)))

    @staticmethod
    def text(node: QueryNode | None) -> str:
        """The query as the search language writes it (normalized)."""
        return ql.to_text(node)
