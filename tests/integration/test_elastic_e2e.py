"""The whole path on Elasticsearch: web form -> API -> search, and `inbox migrate`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from inbox import auth
from inbox.app.cli import main, migrate
from inbox.app.config import load as load_config
from inbox.app.demo.seed import seed
from inbox.app.runtime import Runtime
from inbox.retry import Retry
from inbox.store import Store
from search.sqlite import SqliteStore
from tests.factories import CHEAP_ARGON2
from tests.servers.osmem import PlainJsonNode, es_store_factory, running_osmem
from web.app import create_app

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


async def start_app(store: Store) -> tuple[TestClient[Any, Any], Runtime]:
    config = load_config(None, {"INBOX_ENRICH": "false", **CHEAP_ARGON2})
    runtime = Runtime(config, {}, store=store, channels=False)
    await runtime.start()
    client = TestClient(TestServer(create_app(runtime.web_context()), host="127.0.0.1"))
    await client.start_server()
    return client, runtime


@pytest.fixture
async def es(osmem_url: str) -> AsyncIterator[Store]:
    store = es_store_factory(osmem_url)
    yield store
    await store.delete_indices()


async def test_form_to_api_to_search_on_elasticsearch(es: Store) -> None:
    client, runtime = await start_app(es)
    try:
        await auth.add_user(es, "admin@example.com", "admin", "correct horse battery",
                            passwords=runtime.passwords)
        token = await auth.create_token(es, "admin@example.com")
        headers = {"Authorization": f"Bearer {token}"}
        form = {"name": "Ann", "email": "ann@example.com", "x_handle": "ann_x",
                "message": "Refund for the double charge please", "idempotency_key": "e1"}
        posted = await client.post("/api/forms/contact", json=form)
        again = await client.post("/api/forms/contact", json=form)
        ref = (await posted.json())["reference"]
        assert posted.status == 201 and (await again.json())["reference"] == ref
        bad = await client.post("/api/forms/contact", json={**form, "email": "nope",
                                                            "idempotency_key": "e2"})
        assert bad.status == 400
        listing = await (await client.get("/api/conversations", headers=headers)).json()
        assert [str(c["ref"]) for c in listing["conversations"]] == [ref]
        found = await (await client.get("/api/search", headers=headers, params={
            "q": 'refund "double charge" channel:webform from:ann@example.com',
            "facets": "channel"})).json()
        assert found["total"] == 1 and found["facets"]["channel"] == [["webform", 1]]
        status = await client.post(f"/api/conversations/{ref}/status", headers=headers,
                                   json={"status": "pending", "version": 1})
        assert status.status == 200
        pending = await (await client.get("/api/search", headers=headers,
                                          params={"q": "status:pending"})).json()
        assert pending["total"] == 1  # read-your-writes after an agent action
        assert (await es.counts())["messages"] == 1
    finally:
        await client.close()
        await runtime.aclose()


async def api_snapshot(client: TestClient[Any, Any], token: str) -> dict[str, Any]:
    """What the UI would fetch: the inbox, one conversation, a customer, searches."""
    headers = {"Authorization": f"Bearer {token}"}

    async def get(path: str, **params: str) -> Any:
        resp = await client.get(path, headers=headers, params=params)
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        for key in ("next_cursor", "timeline_cursor"):  # opaque, backend-specific
            if key in body:
                body[key] = body[key] is not None
        return body

    inbox = await get("/api/conversations", status="open", limit="20")
    first = inbox["conversations"][0]
    return {
        "inbox": inbox,
        "conversation": await get(f"/api/conversations/{first['id']}"),
        "customer": await get(f"/api/customers/{first['customer_id']}"),
        "search": await get("/api/search", q="refund OR bill -channel:x", limit="30",
                            facets="channel,sentiment,lang"),
        "negative": await get("/api/search", q="sentiment:negative status:open", limit="30"),
        "csat": await get("/api/reports/csat", **{"from": "2026-11-14", "to": "2026-11-20"}),
    }


async def test_migrated_demo_store_answers_the_same(tmp_path: Path, es: Store,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    sqlite = SqliteStore(tmp_path / "demo.db")
    client, runtime = await start_app(sqlite)
    try:
        summary = await seed(runtime, now=NOW, days=5)
        before = await api_snapshot(client, summary.token)
    finally:
        await client.close()
        await runtime.aclose()

    source = SqliteStore(tmp_path / "demo.db")
    await source.open()
    await es.open()
    checkpoint = tmp_path / "migrate.json"
    try:
        assert await migrate(source, es, checkpoint) == 0
    finally:
        await source.aclose()
        await es.aclose()
    out = capsys.readouterr().out
    assert "all counts match" in out and "MISMATCH" not in out and not checkpoint.exists()
    assert f"messages       source {summary.messages:>8}  target {summary.messages:>8}  ok" in out

    client, runtime = await start_app(es)
    try:
        after = await api_snapshot(client, summary.token)
    finally:
        await client.close()
        await runtime.aclose()
    assert after == before
    assert before["csat"]["rows"][0]["responses"] > 0  # the demo's surveys, answered


def test_migrate_command_copies_and_resumes(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    src, dst = f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
    env = {"INBOX_STORE": src, "INBOX_ENRICH": "false", **CHEAP_ARGON2}
    import io
    import sys

    stdin = sys.stdin
    sys.stdin = io.StringIO("a long enough password\n")
    try:
        assert main(["users", "add", "a@example.com", "--role", "admin"], env) == 0
    finally:
        sys.stdin = stdin
    checkpoint = tmp_path / "resume.json"
    checkpoint.write_text('{"customers": null}')
    code = main(["migrate", "--from", src, "--to", dst, "--checkpoint", str(checkpoint)], env)
    out = capsys.readouterr().out
    assert code == 0 and "resuming" in out and "users" in out and "all counts match" in out
    assert main(["users", "list"], {**env, "INBOX_STORE": dst}) == 0
    assert "a@example.com" in capsys.readouterr().out


async def test_store_down_means_a_clear_error_and_nothing_acknowledged() -> None:
    with running_osmem() as url:  # a cluster of its own, to stop mid-test
        store = es_store_factory(url, client_kwargs={"node_class": PlainJsonNode,
                                                     "max_retries": 0})
        runtime = Runtime(load_config(None, {"INBOX_ENRICH": "false"}), {}, store=store,
                          channels=False)
        runtime.ingestor.store_retry = Retry(1, first=0.01, cap=0.01)
        await runtime.start()
        client = TestClient(TestServer(create_app(runtime.web_context()), host="127.0.0.1"))
        await client.start_server()
    try:  # the cluster is gone now
        resp = await client.post("/api/forms/contact", json={
            "name": "Ann", "email": "ann@example.com", "message": "are you there?"})
        body = await resp.json()
        assert resp.status == 503 and "nothing was saved" in body["error"]
        assert resp.headers["Retry-After"] == "30"
    finally:
        await client.close()
        await runtime.aclose()
