"""osmem-server (an in-memory Elasticsearch-API server) on 127.0.0.1 for tests.

Import the fixtures into a conftest (``from tests.servers.osmem import osmem_url,
elastic_store``). With ``INBOX_TEST_ES_URL`` set, the same tests run on that real cluster
instead; every store gets its own index prefix and drops its indices afterwards.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elastic_transport import AiohttpHttpNode, HttpHeaders
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


class PlainJsonNode(AiohttpHttpNode):
    """Sends plain JSON media types: osmem-server answers 406 to `compatible-with=9`."""

    async def perform_request(  # type: ignore[override]
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: HttpHeaders | None = None,
        request_timeout: DefaultType | float | None = DEFAULT,
    ) -> NodeApiResponse:
        plain = HttpHeaders(headers or {})
        for name in ("accept", "content-type"):
            value = plain.get(name)
            if value and "vnd.elasticsearch" in value:
                plain[name] = "application/x-ndjson" if "ndjson" in value else "application/json"
        return await super().perform_request(method, target, body=body, headers=plain,
                                             request_timeout=request_timeout)


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
    raise ValueError(f"unknown SLA group {group!r}")


def interpolation_rank(count: int, percent: float) -> tuple[int, float]:
    """The store contract's percentile rank (inbox.store.percentile_rank) for a percent."""
    return percentile_rank(count, percent / 100)


class OsmemStore(FixtureStore):
    """On osmem-server. Elasticsearch's percentiles digest is exact for small groups (linear
    interpolation between ranks, as SQLite); osmem-server's answers the nearest rank instead
    (the median of 600..6000 in steps of 600 is 3600, not 3300). So the SLA report's
    percentiles are read here from the two values next to each rank, with sorted searches."""

    async def sla_report(self, since: datetime, until: datetime) -> tuple[SlaRow, ...]:
        rows = await super().sla_report(since, until)
        return tuple([await self._exact_percentiles(since, until, row) for row in rows])

    async def _exact_percentiles(self, since: datetime, until: datetime, row: SlaRow) -> SlaRow:
        first = await self._exact(since, until, row, "first_response_seconds", row.answered)
        done = await self._exact(since, until, row, "resolution_seconds", row.resolved)
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
        found = []
        for percent in SLA_PERCENTS:
            low, weight = interpolation_rank(count, percent)
            resp = await self._search("conversations", "SLA report", query=query, from_=low,
                                      size=2, sort=[{field: "asc"}, {"id": "asc"}],
                                      source=[field])
            near = [float(h["_source"][field]) for h in resp["hits"]["hits"]]
            if not near:
                return None  # changed under us: keep the aggregation's figures
            found.append(near[0] + weight * (near[-1] - near[0]))
        return found


def store_kwargs(url: str) -> dict[str, Any]:
    """ElasticStore arguments for a test: a fresh index prefix; the node class for osmem."""
    kwargs: dict[str, Any] = {"index_prefix": f"test-{uuid.uuid4().hex[:12]}"}
    if not os.environ.get(REAL_CLUSTER_ENV):
        kwargs["client_kwargs"] = {"node_class": PlainJsonNode}
    return kwargs


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


@pytest.fixture
async def elastic_store(osmem_url: str) -> AsyncIterator[FixtureStore]:
    """An open, empty ElasticStore; its indices are deleted afterwards."""
    store = es_store_factory(osmem_url)
    await store.open()
    try:
        yield store
    finally:
        await store.delete_indices()
        await store.aclose()


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
    store = es_store_factory(es_ops_url)
    await store.open()
    try:
        yield store
    finally:
        await store.delete_indices()
        await store.aclose()
