"""A proxy in front of the Elasticsearch API that hides unrefreshed documents from search.

osmem-server makes every write searchable at once; a real cluster shows a new document to
searches only after a refresh (every second, or never with `refresh_interval: -1`), while
GET and mget see it at once. This proxy, on 127.0.0.1, forwards every request and takes
away from search hits the documents created since their index was last refreshed, as
`refresh_interval: -1` would:
- a write with refresh=true or refresh=wait_for refreshes the indices it wrote (a real
  cluster refreshes their shards; wait_for returns once a refresh made them visible);
- POST .../_refresh refreshes everything;
- `refresh_all()` is the periodic refresh, when a test wants one.
Only created documents are hidden (an updated document is searched in its new version, a
deleted one is gone at once): enough to show what a search cannot find yet.
`on_write`, when set, is awaited after a write reached the server and before its refresh
applies: a test does there what another process would do while the write is unrefreshed.
`refuse`, when set, sees each bulk request's body and may refuse the request whole with a
reason (a 400 action_request_validation_exception, as a cluster answers a request it
validates before any item, e.g. an `_id` over 512 bytes).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from search.elastic import ElasticStore
from tests.servers.osmem import FixtureStore, es_store_factory

Written = list[tuple[str, str]]  # (concrete index, _id) of the documents a write created
_HOP_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection",
                          "content-encoding", "keep-alive"})
_WRITE_ENDPOINTS = ("_bulk", "_doc", "_create", "_update")


class RefreshProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.hidden: set[tuple[str, str]] = set()
        self.on_write: Callable[[Written], Awaitable[None]] | None = None
        self.refuse: Callable[[bytes], str | None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=True)
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def refresh_all(self) -> None:
        self.hidden.clear()

    async def _handle(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        if self.refuse is not None and request.path.endswith("/_bulk"):
            reason = self.refuse(body)
            if reason is not None:
                error = {"type": "action_request_validation_exception", "reason": reason}
                return web.json_response({"error": {**error, "root_cause": [error]},
                                          "status": 400}, status=400,
                                         headers={"X-Elastic-Product": "Elasticsearch"})
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        async with self._session.request(request.method, self.upstream + request.path_qs,
                                         data=body or None, headers=headers) as resp:
            payload = await resp.read()
            status = resp.status
            out_headers = {k: v for k, v in resp.headers.items()
                           if k.lower() not in _HOP_HEADERS}
        parts = [p for p in request.path.split("/") if p]
        if status < 300 and parts and parts[-1] == "_refresh":
            self.refresh_all()
        elif status < 300 and request.method in ("POST", "PUT") and any(
                p in _WRITE_ENDPOINTS for p in parts[-2:]):
            payload = await self._written(request, payload)
        elif status < 300 and parts and parts[-1] == "_search":
            payload = self._visible(payload)
        return web.Response(status=status, body=payload, headers=out_headers)

    async def _written(self, request: web.Request, payload: bytes) -> bytes:
        answer = json.loads(payload)
        results = ([next(iter(item.values())) for item in answer.get("items", ())]
                   if "items" in answer else [answer])
        created = [(r["_index"], r["_id"]) for r in results
                   if r.get("result") == "created" and "error" not in r]
        self.hidden.update(created)
        if self.on_write is not None and created:
            await self.on_write(created)
        if request.query.get("refresh", "false") in ("", "true", "wait_for"):
            touched = {r.get("_index") for r in results}
            self.hidden = {(i, d) for i, d in self.hidden if i not in touched}
        return payload

    def _visible(self, payload: bytes) -> bytes:
        answer: dict[str, Any] = json.loads(payload)
        hits = answer.get("hits", {})
        found = hits.get("hits", [])
        kept = [h for h in found if (h.get("_index"), h.get("_id")) not in self.hidden]
        if len(kept) == len(found):
            return payload
        hits["hits"] = kept
        total = hits.get("total")
        if isinstance(total, dict):
            total["value"] = max(0, int(total.get("value", 0)) - (len(found) - len(kept)))
        return json.dumps(answer).encode()


@pytest.fixture
async def refresh_proxy(osmem_url: str) -> AsyncIterator[RefreshProxy]:
    proxy = RefreshProxy(osmem_url)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


def store_behind(proxy: RefreshProxy, like: ElasticStore | None = None) -> FixtureStore:
    """An unopened store reaching the cluster through the proxy (the indices of `like`
    when given: another process of the same deployment)."""
    extra = {"index_prefix": like.prefix} if like is not None else {}
    return es_store_factory(proxy.url, **extra)
