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
from typing import Any

import pytest
from elastic_transport import AiohttpHttpNode, HttpHeaders
from elastic_transport._node._base import NodeApiResponse
from elastic_transport.client_utils import DEFAULT, DefaultType

from search.elastic import ElasticStore
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


def store_kwargs(url: str) -> dict[str, Any]:
    """ElasticStore arguments for a test: a fresh index prefix; the node class for osmem."""
    kwargs: dict[str, Any] = {"index_prefix": f"test-{uuid.uuid4().hex[:12]}"}
    if not os.environ.get(REAL_CLUSTER_ENV):
        kwargs["client_kwargs"] = {"node_class": PlainJsonNode}
    return kwargs


def es_store_factory(url: str, **overrides: Any) -> ElasticStore:
    """An unopened ElasticStore on the test server, with its own indices."""
    return ElasticStore(url, **{**store_kwargs(url), **overrides})


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
async def elastic_store(osmem_url: str) -> AsyncIterator[ElasticStore]:
    """An open, empty ElasticStore; its indices are deleted afterwards."""
    store = es_store_factory(osmem_url)
    await store.open()
    try:
        yield store
    finally:
        await store.delete_indices()
        await store.aclose()
