"""A proxy in front of osmem-server that adds what a real cluster has and osmem lacks.

- It accepts the official client's `compatible-with` media types (Elasticsearch does; osmem
  answers 406), so production code with a plain client reaches osmem through it.
- The tasks API for a reindex started with wait_for_completion=false: the copy runs on osmem
  when the test opens `gate`, and `GET /_tasks/<id>` reports it running until the copy is
  done (`copied` is set) and `finish` is open, as Elasticsearch does. Closing the two lets
  a test write before the copy reads the source and after, while the reindex is under way.
- The has-privileges API of a user holding `granted` privileges (`secured=True`); without it
  the request reaches osmem, which, like a cluster without security, has no such API.

It runs in a thread with its own event loop, so a test can drive it while the `inbox`
command (`main()`, which runs its own loop) talks to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

_PRODUCT = {"X-Elastic-Product": "Elasticsearch"}  # the client checks every answer for it
_PLAIN = {"application/vnd.elasticsearch+json": "application/json",
          "application/vnd.elasticsearch+x-ndjson": "application/x-ndjson"}


def _plain(value: str) -> str:
    media = value.split(";")[0].strip()
    return _PLAIN.get(media, value)


@dataclass
class Grants:
    """What the proxy's user may do: cluster privileges, and index privileges on patterns."""

    cluster: set[str] = field(default_factory=set)
    index: set[str] = field(default_factory=set)  # on every index pattern asked about


class ClusterProxy:
    def __init__(self, upstream: str, grants: Grants | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.grants = grants
        self.gate = threading.Event()  # a reindex task copies once it is set
        self.gate.set()
        self.finish = threading.Event()  # ... and is reported completed once this is set
        self.finish.set()
        self.reindex_started = threading.Event()
        self.copied = threading.Event()
        self.polls = 0  # GET /_tasks/<id> requests answered
        self._tasks: dict[str, dict[str, Any] | None] = {}
        self._ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.url = ""

    # --- lifecycle (called from the test's thread) -------------------------------------------

    def start(self) -> str:
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self.url

    def close(self) -> None:
        self.gate.set()
        self.finish.set()
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> str:
        self._session = aiohttp.ClientSession()
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        for task in self._background:
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    # --- requests ----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        path = request.path
        if path == "/_reindex" and request.query.get("wait_for_completion") == "false":
            return self._start_reindex(request, body)
        if path.startswith("/_tasks/") and path.removeprefix("/_tasks/") in self._tasks:
            return self._task(path.removeprefix("/_tasks/"))
        if path == "/_security/user/_has_privileges" and self.grants is not None:
            return self._has_privileges(json.loads(body or b"{}"))
        status, headers, answer = await self._forward(request.method, request.path_qs,
                                                      request.headers, body)
        return web.Response(status=status, body=answer, headers=headers)

    async def _forward(self, method: str, target: str, headers: Any, body: bytes
                       ) -> tuple[int, dict[str, str], bytes]:
        assert self._session is not None
        sent = {name: _plain(value) for name, value in headers.items()
                if name.lower() in ("accept", "content-type", "authorization")}
        async with self._session.request(method, self.upstream + target, data=body or None,
                                         headers=sent) as resp:
            answer = await resp.read()
            kept = {name: value for name, value in resp.headers.items()
                    if name.lower() in ("content-type", "x-elastic-product")}
            return resp.status, kept, answer

    def _start_reindex(self, request: web.Request, body: bytes) -> web.Response:
        task_id = f"proxy-node:{next(self._ids)}"
        self._tasks[task_id] = None
        query = {k: v for k, v in request.query.items() if k != "wait_for_completion"}
        target = "/_reindex?" + "&".join(f"{k}={v}" for k, v in
                                         {**query, "wait_for_completion": "true"}.items())

        async def run() -> None:
            self.reindex_started.set()
            await asyncio.to_thread(self.gate.wait)
            status, _, answer = await self._forward("POST", target, request.headers, body)
            result = json.loads(answer)
            self.copied.set()
            await asyncio.to_thread(self.finish.wait)
            self._tasks[task_id] = (result if status < 300 else
                                    {"error": result.get("error", result)})

        task = asyncio.ensure_future(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return web.json_response({"task": task_id}, headers=_PRODUCT)

    def _task(self, task_id: str) -> web.Response:
        self.polls += 1
        result = self._tasks[task_id]
        if result is None:
            return web.json_response({"completed": False, "task": {
                "action": "indices:data/write/reindex",
                "status": {"total": 0, "created": 0, "updated": 0, "version_conflicts": 0}}},
                headers=_PRODUCT)
        status = {name: result.get(name, 0) for name in
                  ("total", "created", "updated", "deleted", "version_conflicts", "noops")}
        answer: dict[str, Any] = {"completed": True, "task": {
            "action": "indices:data/write/reindex", "status": status}}
        if "error" in result:
            answer["error"] = result["error"]
        else:
            answer["response"] = result
        return web.json_response(answer, headers=_PRODUCT)

    def _has_privileges(self, asked: dict[str, Any]) -> web.Response:
        assert self.grants is not None
        cluster = {name: name in self.grants.cluster for name in asked.get("cluster", [])}
        index = {pattern: {name: name in self.grants.index for name in part["privileges"]}
                 for part in asked.get("index", []) for pattern in part["names"]}
        every = all(cluster.values()) and all(v for p in index.values() for v in p.values())
        return web.json_response({"username": "inbox-test", "has_all_requested": every,
                                  "cluster": cluster, "index": index, "application": {}},
                                 headers=_PRODUCT)


@contextlib.contextmanager
def cluster_proxy(upstream: str, grants: Grants | None = None) -> Iterator[ClusterProxy]:
    proxy = ClusterProxy(upstream, grants)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()
