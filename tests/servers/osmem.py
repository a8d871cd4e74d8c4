"""osmem-server (an in-memory Elasticsearch-API server) on 127.0.0.1 for tests.

Import the fixtures into a conftest (``from tests.servers.osmem import osmem_url,
elastic_store``). With ``INBOX_TEST_ES_URL`` set, the same tests run on that real cluster
instead; every store gets its own index prefix and drops its indices afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elastic_transport import AiohttpHttpNode, ApiResponseMeta, HttpHeaders
from elastic_transport._node._base import NodeApiResponse
from elastic_transport.client_utils import DEFAULT, DefaultType
from elasticsearch import AsyncElasticsearch

from inbox.model import SlaRow, ts
from inbox.store import percentile_rank
from search.elastic import ElasticStore
from search.elastic_client import calling
from search.elastic_mappings import KINDS
from search.elastic_query import MATCH_ALL, SLA_PERCENTS, UNASSIGNED, Query, sla_query
from tests.servers import unavailable

REAL_CLUSTER_ENV = "INBOX_TEST_ES_URL"


# The points in time opened through the test nodes and not closed yet (id -> target), and
# where every one was opened: tests assert that the store leaves none open. REFUSE_PITS:
# the statuses the next openings are refused with, as a cluster may (one each).
OPEN_PITS: dict[str, str] = {}
PITS_OPENED: list[str] = []
REFUSE_PITS: list[int] = []
_OPEN_PIT = re.compile(r"^/([^/?]+)/_pit(\?.*)?$")


class PitLedgerNode(AiohttpHttpNode):
    """Records in OPEN_PITS the points in time the store opens and closes; refuses the
    next ones while REFUSE_PITS holds a status."""

    async def perform_request(  # type: ignore[override]
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: HttpHeaders | None = None,
        request_timeout: DefaultType | float | None = DEFAULT,
    ) -> NodeApiResponse:
        if method == "POST" and _OPEN_PIT.match(target) and REFUSE_PITS:
            status = REFUSE_PITS.pop(0)
            refusal = {"error": {"type": "exception", "reason": "point in time refused"},
                       "status": status}
            meta = ApiResponseMeta(status, "1.1", HttpHeaders({
                "content-type": "application/json"}), 0.0, self.config)
            return NodeApiResponse(meta, json.dumps(refusal).encode())
        resp = await self._send(method, target, body, headers, request_timeout)
        if resp.meta.status < 300:
            if method == "POST" and _OPEN_PIT.match(target):
                OPEN_PITS[json.loads(resp.body)["id"]] = target
                PITS_OPENED.append(target)
            elif method == "DELETE" and target.split("?")[0] == "/_pit" and body:
                OPEN_PITS.pop(json.loads(body)["id"], None)
        return resp

    async def _send(self, method: str, target: str, body: bytes | None,
                    headers: HttpHeaders | None,
                    request_timeout: DefaultType | float | None) -> NodeApiResponse:
        return await super().perform_request(method, target, body=body, headers=headers,
                                             request_timeout=request_timeout)


class PlainJsonNode(PitLedgerNode):
    """What osmem-server needs to serve the official client: plain JSON media types (it
    answers 406 to `compatible-with=9`), and Elasticsearch's point-in-time endpoints
    (`POST /{index}/_pit`, `DELETE /_pit`) sent to its OpenSearch ones
    (`/{index}/_search/point_in_time`); searches with a `pit` body it takes as they are."""

    async def _send(self, method: str, target: str, body: bytes | None,
                    headers: HttpHeaders | None,
                    request_timeout: DefaultType | float | None) -> NodeApiResponse:
        plain = HttpHeaders(headers or {})
        for name in ("accept", "content-type"):
            value = plain.get(name)
            if value and "vnd.elasticsearch" in value:
                plain[name] = "application/x-ndjson" if "ndjson" in value else "application/json"
        opening = _OPEN_PIT.match(target) if method == "POST" else None
        if opening:
            target = f"/{opening.group(1)}/_search/point_in_time{opening.group(2) or ''}"
        elif method == "DELETE" and target.split("?")[0] == "/_pit" and body:
            target = "/_search/point_in_time"
            body = json.dumps({"pit_id": [json.loads(body)["id"]]}).encode()
        resp = await super()._send(method, target, body, plain, request_timeout)
        if opening and resp.meta.status < 300:  # OpenSearch answers pit_id, ES id
            found = json.loads(resp.body)
            resp = NodeApiResponse(resp.meta, json.dumps({"id": found["pit_id"],
                                                          **found}).encode())
        return resp


class FixtureStore(ElasticStore):
    """ElasticStore with what only tests do: drop its indices."""

    async def delete_indices(self) -> None:
        """Drop every index of this prefix, by name (Elasticsearch 8+ refuses wildcard
        deletes by default: action.destructive_requires_name); the store may be closed."""
        es = self._es or AsyncElasticsearch(self.url, **self._client_args)
        try:
            with calling("delete indices"):
                patterns = ",".join(f"{self.prefix}-{kind}-*" for kind in KINDS)
                found = await es.options(ignore_status=404).indices.get(
                    index=patterns, expand_wildcards="all")
                names = [name for name, entry in found.body.items()
                         if isinstance(entry, dict) and "mappings" in entry]
                if names:
                    await es.options(ignore_status=404).indices.delete(index=",".join(names))
        finally:
            if es is not self._es:
                await es.close()


def sla_group_filter(group: str, key: str) -> Query:
    """The conversations of one SLA report row (within sla_query)."""
    if group == "all":
        return MATCH_ALL
    if group == "channel":
        return {"term": {"channel": key}}
    if group == "agent":
        if key != UNASSIGNED:
            return {"term": {"assignee": key}}
        return {"bool": {"should": [{"term": {"assignee": key}},  # as `missing` merges them
                                    {"bool": {"must_not": [{"exists": {"field": "assignee"}}]}}],
                         "minimum_should_match": 1}}
    if group == "day":
        day = datetime.strptime(key, "%Y-%m-%d").replace(tzinfo=UTC)
        return {"range": {"created_at": {"gte": ts(day), "lt": ts(day + timedelta(days=1))}}}
    if group == "channel_day":
        day_key, channel = key.split(" ", 1)
        return {"bool": {"filter": [sla_group_filter("day", day_key),
                                    sla_group_filter("channel", channel)]}}
    raise ValueError(f"unknown SLA group {group!r}")


def interpolation_rank(count: int, percent: float) -> tuple[int, float]:
    """The store contract's percentile rank (inbox.store.percentile_rank) for a percent."""
    return percentile_rank(count, percent / 100)


class OsmemStore(FixtureStore):
    """On osmem-server. Elasticsearch's percentiles digest is exact for small groups (linear
    interpolation between ranks, as SQLite); osmem-server's answers the nearest rank instead
    (the median of 600..6000 in steps of 600 is 3600, not 3300). So the SLA report's
    percentiles are read here from the two values next to each rank (_values_at)."""

    value_page = 1000  # distinct values per composite aggregation page

    async def sla_report(self, since: datetime, until: datetime) -> tuple[SlaRow, ...]:
        rows = await super().sla_report(since, until)
        return tuple([await self._exact_percentiles(since, until, row) for row in rows])

    async def _exact_percentiles(self, since: datetime, until: datetime, row: SlaRow) -> SlaRow:
        first = await self._exact(since, until, row, "first_response_seconds", row.answered)
        done = await self._exact(since, until, row, "resolution_seconds", row.resolved)
        later = await self._exact(since, until, row, "next_response_seconds", row.next_answered)
        if later:  # distinct values counted each (a fixture's seconds are)
            row = replace(row, next_p50=later[0], next_p90=later[1])
        if first:
            row = replace(row, p50=first[0], p90=first[1], p95=first[2])
        if done:
            row = replace(row, resolution_p50=done[0], resolution_p90=done[1])
        return row

    async def _exact(self, since: datetime, until: datetime, row: SlaRow, field: str,
                     count: int) -> list[float] | None:
        if not count:
            return None
        query = {"bool": {"filter": [sla_query(since, until), sla_group_filter(row.group, row.key),
                                     {"exists": {"field": field}}]}}
        ranks = [interpolation_rank(count, percent) for percent in SLA_PERCENTS]
        wanted = {r for low, _ in ranks for r in (low, min(low + 1, count - 1))}
        values = await self._values_at(query, field, wanted)
        if len(values) < len(wanted):
            return None  # changed under us: keep the aggregation's figures
        return [values[low] + weight * (values[min(low + 1, count - 1)] - values[low])
                for low, weight in ranks]

    async def _values_at(self, query: Query, field: str, ranks: set[int]) -> dict[int, float]:
        """The value at each rank of the field's sorted values: the distinct values in
        order with their counts (a composite aggregation, a page of `value_page` at a
        time), so any group size works (paging hits with `from` stops at 10,000)."""
        found: dict[int, float] = {}
        seen, after = 0, None
        while len(found) < len(ranks):
            source = {"values": {"composite": {
                "size": self.value_page, "sources": [{"v": {"terms": {"field": field}}}],
                **({"after": after} if after else {})}}}
            resp = await self._search("conversations", "SLA report", size=0, query=query,
                                      aggs=source)
            agg = resp["aggregations"]["values"]
            if not agg["buckets"]:
                break
            for bucket in agg["buckets"]:
                n = int(bucket["doc_count"])
                found.update({r: float(bucket["key"]["v"]) for r in ranks if seen <= r < seen + n})
                seen += n
            after = agg.get("after_key")
            if after is None:
                break
        return found


def store_kwargs(url: str) -> dict[str, Any]:
    """ElasticStore arguments for a test: a fresh index prefix; the node class (osmem's,
    or on a real cluster one that only keeps OPEN_PITS)."""
    node = PitLedgerNode if os.environ.get(REAL_CLUSTER_ENV) else PlainJsonNode
    return {"index_prefix": f"test-{uuid.uuid4().hex[:12]}",
            "client_kwargs": {"node_class": node}}


def es_store_factory(url: str, **overrides: Any) -> FixtureStore:
    """An unopened ElasticStore on the test server, with its own indices."""
    cls = FixtureStore if os.environ.get(REAL_CLUSTER_ENV) else OsmemStore
    return cls(url, **{**store_kwargs(url), **overrides})


@contextlib.contextmanager
def running_osmem() -> Iterator[str]:
    """A private osmem-server on 127.0.0.1 (skip if it can't start; fail on CI)."""
    try:
        from osmem_server import OsmemError, OsmemServer
    except ImportError as exc:
        unavailable(f"osmem-server is not installed: {exc}")
    try:
        server = OsmemServer.start(addr="127.0.0.1:0", japanese=False)
    except (OsmemError, OSError) as exc:
        unavailable(f"osmem-server did not start: {exc}")
    try:
        yield server.url
    finally:
        server.close()
        if server.process.stdout:  # OsmemServer.close() leaves the pipe open
            server.process.stdout.close()


@pytest.fixture(scope="session")
def osmem_url() -> Iterator[str]:
    """The URL of an Elasticsearch API for the session: INBOX_TEST_ES_URL or osmem-server."""
    real = os.environ.get(REAL_CLUSTER_ENV)
    if real:
        yield real
        return
    with running_osmem() as url:
        yield url


@contextlib.asynccontextmanager
async def opened(store: FixtureStore) -> AsyncIterator[FixtureStore]:
    """The store, open; its indices are deleted and it is closed afterwards."""
    await store.open()
    try:
        yield store
    finally:
        await store.delete_indices()
        await store.aclose()


@pytest.fixture
async def elastic_store(osmem_url: str) -> AsyncIterator[FixtureStore]:
    """An open, empty ElasticStore; its indices are deleted afterwards."""
    async with opened(es_store_factory(osmem_url)) as store:
        yield store


@pytest.fixture(scope="session")
def es_ops_proxy(osmem_url: str) -> Iterator[Any]:
    """The test server behind a proxy adding what operations need and osmem-server lacks
    (the tasks API that a reindex follows, with gates a test can hold it at;
    tests.servers.esproxy). On a real cluster (INBOX_TEST_ES_URL) the rest passes through."""
    from tests.servers.esproxy import cluster_proxy

    with cluster_proxy(osmem_url) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def es_ops_url(es_ops_proxy: Any) -> str:
    return str(es_ops_proxy.url)


@pytest.fixture
async def ops_store(es_ops_url: str) -> AsyncIterator[FixtureStore]:
    """An open, empty ElasticStore reached through es_ops_url (reindex works on it)."""
    async with opened(es_store_factory(es_ops_url)) as store:
        yield store
