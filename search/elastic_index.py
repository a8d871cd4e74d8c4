"""The Elasticsearch store's index: searches and reports as queries and aggregations."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from inbox.model import (
    Facet,
    Interval,
    Message,
    Page,
    QueryNode,
    ResolutionReport,
    SearchResult,
    SlaRow,
    ts,
)
from inbox.store import TOTAL_CAP
from search.chains import from_rows, resolution_report, resolution_slots
from search.elastic_client import MESSAGE_ORDER, ElasticBase
from search.elastic_docs import from_doc
from search.elastic_query import (
    compile_query,
    facet_aggs,
    facet_values,
    sla_aggs,
    sla_query,
    sla_rows,
)

log = logging.getLogger(__name__)


class ElasticIndex(ElasticBase):
    """Index part of ElasticStore."""

    total_cap = TOTAL_CAP

    async def search(
        self,
        query: QueryNode | None,
        cursor: str | None,
        limit: int,
        facets: Sequence[Facet] = (),
        public: bool = False,
        volume: Interval | None = None,
    ) -> SearchResult:
        # Counted exactly up to the cap, then "10,000+" (as the SQLite store): counting
        # every match of a common word would read all of them on every page.
        extra: dict[str, Any] = {"track_total_hits": self.total_cap}
        # Facets, volume and moods describe the whole search: asked once, with its first
        # page; a later page (a cursor) counts none of them (the Index contract).
        counting = cursor is None
        aggs = facet_aggs(facets) if counting else {}
        if volume and counting:
            aggs["volume"] = {"date_histogram": {"field": "created_at",
                                                 "calendar_interval": volume}}
            aggs["moods"] = {"date_histogram": {"field": "created_at",
                                                "calendar_interval": "day", "min_doc_count": 1},
                             "aggs": {"sentiment": {"terms": {"field": "sentiment",
                                                              "missing": "", "size": 10}}}}
        if aggs:
            extra["aggs"] = aggs
        hits, nxt, resp = await self._page("messages", compile_query(query, public),
                                           MESSAGE_ORDER, cursor, limit, **extra)
        total = resp["hits"]["total"]
        found = resp.get("aggregations", {})
        return SearchResult(
            messages=tuple(from_doc(Message, h["_source"]) for h in hits),
            next_cursor=nxt,
            total=min(int(total["value"]), self.total_cap),
            facets=facet_values(facets, found) if counting else {},
            total_capped=total.get("relation") == "gte" or int(total["value"]) > self.total_cap,
            volume=tuple(_buckets(found["volume"])) if volume and counting else (),
            moods=tuple(_moods(found["moods"])) if volume and counting else (),
        )

    async def sla_report(self, since: datetime, until: datetime) -> tuple[SlaRow, ...]:
        """Counted by the cluster: one aggregation per group. The percentiles are TDigest
        estimates (exact for small groups, close for large ones), not SQLite's exact
        interpolation."""
        resp = await self._search("conversations", "SLA report", size=0,
                                  query=sla_query(since, until), aggs=sla_aggs(),
                                  track_total_hits=False)
        rows, truncated = sla_rows(resp["aggregations"])
        if truncated:
            log.warning("SLA report groups cut short (more keys than buckets)",
                        extra={"groups": truncated})
        return rows

    async def inbound_hours(self, since: datetime, until: datetime) -> list[tuple[datetime, int]]:
        """An hourly date histogram (UTC) of the customers' own messages."""
        resp = await self._search("messages", "hours", size=0, track_total_hits=False,
                                  query={"bool": {"filter": [
                                      {"range": {"created_at": {"gte": ts(_hour(since)),
                                                                "lt": ts(_hour(until))}}},
                                      {"term": {"direction": "inbound"}},
                                      {"term": {"automated": False}}]}},
                                  aggs={"hours": {"date_histogram": {
                                      "field": "created_at", "fixed_interval": "1h",
                                      "min_doc_count": 1}}})
        return [(datetime.fromtimestamp(int(b["key"]) / 1000, UTC), int(b["doc_count"]))
                for b in resp["aggregations"]["hours"]["buckets"]]

    async def hour_messages(self, hours: Sequence[datetime], cursor: str | None, limit: int
                            ) -> Page[Message]:
        """The customers' own messages (as inbound_hours counts them) within the hours."""
        if not hours:
            return Page((), None)
        within = [{"range": {"created_at": {"gte": ts(h), "lt": ts(h + timedelta(hours=1))}}}
                  for h in hours]
        query = {"bool": {"filter": [{"term": {"direction": "inbound"}},
                                     {"term": {"automated": False}},
                                     {"bool": {"should": within, "minimum_should_match": 1}}]}}
        hits, nxt, _ = await self._page("messages", query, MESSAGE_ORDER, cursor, limit)
        return Page(tuple(from_doc(Message, h["_source"]) for h in hits), nxt)

    async def resolution_report(self, since: datetime, until: datetime) -> ResolutionReport:
        """The care conversations created in the range and every repeat contact since (they
        hold the chains), read a page at a time; counted by search.chains."""
        rows = await self._chain_rows(since, until)
        return await asyncio.to_thread(_resolution, rows, since, until)  # numpy, off the loop

    async def resolution_ids(self, since: datetime, until: datetime, what: str, group: str,
                             key: str) -> list[str]:
        """As resolution_report, then the conversations of one count (chains
        .resolution_slots)."""
        rows = await self._chain_rows(since, until)

        def slots() -> list[str]:
            chains, in_range = from_rows(rows, since, until)
            return [rows[k]["id"] for k in resolution_slots(chains, in_range, what, group, key)]

        return await asyncio.to_thread(slots)

    async def _chain_rows(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        query = sla_query(since, until)
        query["bool"]["filter"] = [{"range": {"created_at": {"gte": ts(since)}}}, {"bool": {
            "should": [{"range": {"created_at": {"lt": ts(until)}}},
                       {"exists": {"field": "previous_id"}}], "minimum_should_match": 1}}]
        hits = await self._scan("conversations", query, [{"id": "asc"}],
                                source=list(_CHAIN_FIELDS))
        return [{"id": doc["id"], "previous_id": doc.get("previous_id"),
                 "created_at": _time(doc["created_at"]),
                 "resolved_at": _time(doc.get("resolved_at")),
                 "channel": doc["channel"], "assignee": doc.get("assignee")}
                for doc in (hit["_source"] for hit in hits)]

    async def backlog(self, cutoffs: Sequence[datetime]) -> dict[tuple[str, int], int]:
        """A filters aggregation of the waiting open conversations per channel: bucket k
        between the k-th and (k+1)-th cutoff (inbox.store.Index.backlog)."""
        edges: list[tuple[str | None, str | None]] = [
            (ts(newer) if newer else None, ts(older) if older else None)
            for newer, older in zip([None, *cutoffs], [*cutoffs, None], strict=True)]
        buckets = {str(k): {"range": {"awaiting_since": {
            **({"lt": newer} if newer else {}), **({"gte": older} if older else {})}}}
            for k, (newer, older) in enumerate(edges)}
        resp = await self._search("conversations", "backlog", size=0, query={"bool": {
            "filter": [{"term": {"status": "open"}}, {"exists": {"field": "awaiting_since"}}]}},
            aggs={"channel": {"terms": {"field": "channel", "size": 100},
                              "aggs": {"age": {"filters": {"filters": buckets}}}}})
        found: dict[tuple[str, int], int] = {}
        for channel in resp["aggregations"]["channel"]["buckets"]:
            for k, bucket in channel["age"]["buckets"].items():
                if bucket["doc_count"]:
                    found[(str(channel["key"]), int(k))] = int(bucket["doc_count"])
        return found

    async def volume(self, query: QueryNode | None, interval: Interval = "day",
                     public: bool = False) -> list[tuple[str, int]]:
        """Matching messages per calendar day, week (from Monday) or month, UTC."""
        aggs = {"volume": {"date_histogram": {"field": "created_at",
                                              "calendar_interval": interval}}}
        resp = await self._search("messages", "volume", query=compile_query(query, public),
                                  size=0, aggs=aggs, track_total_hits=False)
        return _buckets(resp["aggregations"]["volume"])


_CHAIN_FIELDS = ("id", "previous_id", "created_at", "resolved_at", "channel", "assignee")


def _resolution(rows: list[dict[str, Any]], since: datetime, until: datetime
                ) -> ResolutionReport:
    chains, in_range = from_rows(rows, since, until)
    return resolution_report(chains, in_range)


def _hour(at: datetime) -> datetime:
    """The UTC hour `at` falls in (as the SQLite store counts hours)."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def _buckets(agg: dict[str, Any]) -> list[tuple[str, int]]:
    """A date histogram's buckets as (start day, count)."""
    return [(datetime.fromtimestamp(int(b["key"]) / 1000, UTC).date().isoformat(),
             int(b["doc_count"])) for b in agg["buckets"]]


def _moods(agg: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(day, sentiment or "", count) from a daily histogram with a sentiment terms agg."""
    return [(day, str(s["key"]), int(s["doc_count"]))
            for (day, _), b in zip(_buckets(agg), agg["buckets"], strict=True)
            for s in b["sentiment"]["buckets"]]
