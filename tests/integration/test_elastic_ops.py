"""Operating the Elasticsearch store while it serves: rollover and reindex during writes,
aliases changed by another process, `inbox es check` and `inbox es rollover`, settings."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from inbox.app.cli import main
from inbox.app.config import load, make_store
from inbox.errors import ConfigError
from inbox.model import Message
from inbox.query import parse
from inbox.store import WriteBatch
from search.elastic import ElasticStore, reindex
from search.elastic_ops import RolloverConditions, rollover
from tests.factories import at, conversation, customer, message
from tests.servers.esproxy import ClusterProxy, Grants, cluster_proxy
from tests.servers.osmem import REAL_CLUSTER_ENV, FixtureStore, es_store_factory

pytestmark = pytest.mark.integration

CONV = conversation("v1", "c1")


def _msg(n: int, text: str = "refund please") -> Message:
    return message(f"e{n}", "v1", "c1", f"{text} {n}", at(1, 9) + timedelta(minutes=n))


def _start(n: int = 5) -> WriteBatch:
    return WriteBatch(customers=(customer("c1"),), conversations=(CONV,),
                      messages=tuple(_msg(i) for i in range(n)))


async def _stored(store: ElasticStore) -> list[tuple[str, str, str]]:
    """Every message document behind the alias: (id, index, text)."""
    hits = await store._scan("messages", {"match_all": {}}, [{"id": "asc"}],
                             source=["text"])
    return [(h["_id"], h["_index"], h["_source"]["text"]) for h in hits]


async def _assert_each_once(store: ElasticStore, texts: dict[str, str]) -> None:
    stored = await _stored(store)
    ids = [doc_id for doc_id, _, _ in stored]
    assert sorted(ids) == sorted(set(ids)), "a message is stored twice"
    assert {doc_id: text for doc_id, _, text in stored} == texts


@pytest.fixture
async def two(es_ops_url: str) -> AsyncIterator[tuple[FixtureStore, FixtureStore]]:
    """Two stores on the same indices: two processes of one deployment."""
    a = es_store_factory(es_ops_url)
    await a.open()
    b = es_store_factory(es_ops_url, index_prefix=a.prefix)
    await b.open()
    try:
        yield a, b
    finally:
        await a.delete_indices()
        await a.aclose()
        await b.aclose()


async def test_another_process_rolling_over_is_seen_at_once(
        two: tuple[FixtureStore, FixtureStore]) -> None:
    a, b = two
    await a.write(_start(3))
    assert len(await b.messages_by_ids([_msg(0).id])) == 1  # b has looked at the indices
    done = await rollover(a, RolloverConditions(), force=True)
    assert done.new is not None and done.new.endswith("-messages-000002")

    edited = replace(_msg(0), text="refund edited after the rollover")
    await b.write(WriteBatch(messages=(edited, _msg(1))))  # an edit and a replay
    await b.write(WriteBatch(messages=(_msg(7),)))
    await _assert_each_once(a, {_msg(0).id: edited.text, _msg(1).id: _msg(1).text,
                                _msg(2).id: _msg(2).text, _msg(7).id: _msg(7).text})
    where = {doc_id: index for doc_id, index, _ in await _stored(a)}
    assert where[_msg(0).id].endswith("-000001") and where[_msg(7).id].endswith("-000002")
    assert (await a.search(parse("edited"), None, 10)).total == 1


async def test_another_process_reindexing_is_seen_at_once(
        two: tuple[FixtureStore, FixtureStore]) -> None:
    a, b = two
    await a.write(_start(3))
    assert len(await b.messages_by_ids([_msg(0).id])) == 1
    moved = await reindex(a, ("messages",))
    edited = replace(_msg(0), text="refund edited after the reindex")
    await b.write(WriteBatch(messages=(edited, _msg(1))))
    await _assert_each_once(a, {_msg(0).id: edited.text, _msg(1).id: _msg(1).text,
                                _msg(2).id: _msg(2).text})
    assert {index for _, index, _ in await _stored(a)} == {moved["messages"]}
    assert [m.id for m in (await b.search(parse("edited"), None, 10)).messages] == [_msg(0).id]


async def _reindex_while(
    store: ElasticStore, proxy: ClusterProxy, kinds: Sequence[str],
    before_copy: Callable[[], Awaitable[None]], after_copy: Callable[[], Awaitable[None]],
) -> tuple[dict[str, str], list[tuple[str, int, int]]]:
    """Reindex, writing while the copy has not read the source yet and after it has
    (the proxy holds the task at both points)."""
    for event in (proxy.gate, proxy.finish, proxy.copied, proxy.reindex_started):
        event.clear()
    seen: list[tuple[str, int, int]] = []
    running = asyncio.ensure_future(reindex(store, kinds, poll_seconds=0.01,
                                            progress=lambda *p: seen.append(p)))
    try:
        assert await asyncio.to_thread(proxy.reindex_started.wait, 30)
        await before_copy()
        proxy.gate.set()
        assert await asyncio.to_thread(proxy.copied.wait, 30)
        await after_copy()
        proxy.finish.set()
        return await running, seen
    finally:
        proxy.gate.set()
        proxy.finish.set()
        if not running.done():
            await asyncio.wait([running])


async def test_reindex_while_writing_and_editing_loses_nothing_and_doubles_nothing(
        ops_store: FixtureStore, es_ops_proxy: ClusterProxy) -> None:
    store = ops_store
    await store.write(_start(4))
    texts = {m.id: m.text for m in _start(4).messages}

    async def write(*msgs: Message) -> None:
        await store.write(WriteBatch(messages=msgs))
        texts.update({m.id: m.text for m in msgs})

    async def before_copy() -> None:
        await write(_msg(10), replace(_msg(0), text="refund edited before the copy"))

    async def after_copy() -> None:  # the copy has read the source: carried over by writes
        await write(_msg(11), replace(_msg(1), text="refund edited after the copy"),
                    replace(_msg(10), text="refund edited twice"))
        resolved = replace(CONV, status="resolved", version=2, updated_at=at(2))
        await store.write(WriteBatch(conversations=(resolved,)))  # re-stamps the messages

    moved, progress = await _reindex_while(store, es_ops_proxy, ("messages",),
                                           before_copy, after_copy)
    assert moved["messages"].endswith("-messages-000002")
    assert progress[-1][0] == "messages" and progress[-1][1] >= 5  # copied, from the task
    await _assert_each_once(store, texts)
    assert {index for _, index, _ in await _stored(store)} == {moved["messages"]}
    found = await store.search(parse("status:resolved"), None, 20)
    assert found.total == len(texts)  # the conversation's change reached every message
    assert (await store.search(parse("twice"), None, 5)).total == 1  # words of the edit


async def test_reindex_carries_over_deletions_during_the_copy(
        ops_store: FixtureStore, es_ops_proxy: ClusterProxy) -> None:
    letters = ops_store.dead_letters
    doc = {"source": "x", "stage": "parse", "error": "e", "at": "t", "raw": "x",
           "truncated": False}
    for key in ("d1", "d2", "d3"):
        await letters.put(key, {**doc, "raw": key})

    async def before_copy() -> None:
        await letters.delete("d1")

    async def after_copy() -> None:
        await letters.delete("d2")
        await letters.put("d4", {**doc, "raw": "d4"})

    await _reindex_while(ops_store, es_ops_proxy, ("kv",), before_copy, after_copy)
    assert [key for key, _ in await letters.list(None, 10)] == ["d3", "d4"]


async def test_rollover_while_writing_and_editing(ops_store: FixtureStore) -> None:
    store = ops_store
    await store.write(_start(1))
    texts = {_msg(0).id: _msg(0).text}

    async def writer() -> None:
        for n in range(1, 16):
            edit = replace(_msg(n - 1), text=f"refund edited {n}")
            await store.write(WriteBatch(messages=(_msg(n), edit)))
            texts.update({_msg(n).id: _msg(n).text, edit.id: edit.text})

    async def roll() -> None:
        for _ in range(3):
            await rollover(store, RolloverConditions(), force=True)
            await asyncio.sleep(0)

    await asyncio.gather(writer(), roll())
    await _assert_each_once(store, texts)
    gens = await store._generations("messages")
    assert len(gens.read) == 4 and gens.write.endswith("-000004")
    assert (await store.search(parse("refund"), None, 50)).total == 16


async def test_rollover_waits_for_its_conditions(ops_store: FixtureStore) -> None:
    await ops_store.write(_start(3))
    kept = await rollover(ops_store, RolloverConditions(max_gb=None, max_days=None,
                                                        max_docs=4))
    assert kept.new is None and kept.why == "no condition met"
    done = await rollover(ops_store, RolloverConditions(max_gb=50, max_days=30, max_docs=3))
    assert done.new is not None and done.why == "3 documents >= 3"


# --- the commands ---------------------------------------------------------------------------

def _cli(capsys: pytest.CaptureFixture[str], env: dict[str, str], *argv: str
         ) -> tuple[int, str, str]:
    code = main(list(argv), env)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def prefix(es_ops_url: str) -> Iterator[str]:
    """A fresh index prefix on the test server; its indices are dropped afterwards."""
    store = es_store_factory(es_ops_url)
    yield store.prefix
    asyncio.run(store.delete_indices())


def test_es_rollover_command(capsys: pytest.CaptureFixture[str], es_ops_url: str,
                             prefix: str) -> None:
    env = {"INBOX_STORE": es_ops_url, "INBOX_STORE_INDEX_PREFIX": prefix}
    code, out, _ = _cli(capsys, env, "es", "rollover")
    assert code == 0 and out == f"{prefix}-messages-000001 stays the write index: no " \
                                "condition met\n"
    code, out, _ = _cli(capsys, env, "es", "rollover", "--force")
    assert code == 0 and out.startswith(f"rolled over: new messages go to {prefix}-messages-"
                                        "000002 (forced)")


def test_es_check_lists_missing_privileges(capsys: pytest.CaptureFixture[str], osmem_url: str,
                                           prefix: str) -> None:
    grants = Grants(cluster=set(), index={"read", "write"})
    with cluster_proxy(osmem_url, grants) as proxy:
        env = {"INBOX_STORE": proxy.url, "INBOX_STORE_INDEX_PREFIX": prefix}
        code, out, _ = _cli(capsys, env, "es", "check")
        assert code == 1
        assert out.splitlines() == [
            "inbox-test lacks 1 privilege(s) the store needs for serving (add --ops for "
            "creating the indices, rollover and reindex):",
            f"  missing index {prefix}-*: view_index_metadata"]
        grants.index |= {"view_index_metadata"}
        code, out, _ = _cli(capsys, env, "es", "check")
        assert code == 0 and "every privilege the store needs" in out
        code, out, _ = _cli(capsys, env, "es", "check", "--ops")
        assert code == 1 and f"  missing index {prefix}-*: manage" in out.splitlines()
        assert "  missing cluster: monitor" in out.splitlines()


def test_es_check_on_a_server_without_security(capsys: pytest.CaptureFixture[str],
                                               es_ops_url: str, prefix: str) -> None:
    code, out, _ = _cli(capsys, {"INBOX_STORE": es_ops_url, "INBOX_STORE_INDEX_PREFIX": prefix},
                        "es", "check")
    if os.environ.get(REAL_CLUSTER_ENV):  # a real cluster answers for its own security
        assert out.startswith("the server has no security") or f"{prefix}-*" in out
        return
    assert code == 0 and out.startswith("the server has no security")


def test_es_commands_refuse_a_sqlite_store(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Any) -> None:
    code, _, err = _cli(capsys, {"INBOX_STORE": f"sqlite:///{tmp_path}/i.db"}, "es", "check")
    assert code == 2 and "applies to an Elasticsearch store" in err


async def test_prefix_shards_and_replicas_come_from_the_settings(es_ops_url: str) -> None:
    prefix = es_store_factory(es_ops_url).prefix
    config = load(None, {"INBOX_STORE": es_ops_url, "INBOX_STORE_INDEX_PREFIX": prefix})
    settings = replace(config.core.store, shards=2, replicas=0)
    store = make_store(settings)
    assert isinstance(store, ElasticStore)
    store = es_store_factory(es_ops_url, index_prefix=settings.index_prefix,
                             shards=settings.shards, replicas=settings.replicas)
    await store.open()
    try:
        index = f"{prefix}-messages-000001"
        got = (await store.client.indices.get_settings(index=index)).body
        assert got[index]["settings"]["index"]["number_of_shards"] == "2"
        assert got[index]["settings"]["index"]["number_of_replicas"] == "0"
    finally:
        await store.delete_indices()
        await store.aclose()
    with pytest.raises(ConfigError, match="store.index_prefix"):
        load(None, {"INBOX_STORE_INDEX_PREFIX": "Inbox*"})


def test_migrate_reindex_command_prints_progress(capsys: pytest.CaptureFixture[str],
                                                 es_ops_url: str, prefix: str) -> None:
    env = {"INBOX_STORE": es_ops_url, "INBOX_STORE_INDEX_PREFIX": prefix}
    code, out, _ = _cli(capsys, env, "migrate", "--reindex")
    lines = out.splitlines()
    assert code == 0
    assert "messages       0/0 copied" in lines
    assert f"messages       now on {prefix}-messages-000002" in lines
    assert f"kv             now on {prefix}-kv-000002" in lines


async def test_repeats_arriving_out_of_order_keep_the_later_write(
        ops_store: FixtureStore, es_ops_proxy: ClusterProxy) -> None:
    """Two writers' repeats into the index a reindex fills may arrive in either order."""
    es, alias = ops_store.client, ops_store.alias("kv")
    doc = {"collection": "dead_letters", "key": "k", "value": {"raw": "first"}}

    async def after_copy() -> None:
        first = (await es.index(index=alias, id="dead_letters:k", document=doc)).body
        later = {**doc, "value": {"raw": "later"}}
        second = (await es.index(index=alias, id="dead_letters:k", document=later)).body
        await ops_store._carry_over([("index", later, second)], True)
        await ops_store._carry_over([("index", doc, first)], True)  # late: dropped

    async def nothing() -> None:
        return None

    await _reindex_while(ops_store, es_ops_proxy, ("kv",), nothing, after_copy)
    assert await ops_store.dead_letters.get("k") == {"raw": "later"}


async def test_a_write_landing_on_an_index_the_reindex_left_reaches_the_new_one(
        two: tuple[FixtureStore, FixtureStore]) -> None:
    """b found the message on the old index just before a reindex swapped the alias away:
    its edit lands there, and b repeats it where the alias now points."""
    a, b = two
    await a.write(_start(2))
    old = (await b._generations("messages")).write
    await reindex(a, ("messages",))
    edited = replace(_msg(0), text="refund edited on the old index")
    hit = (await b._messages_where([edited.id], source=True))[0]
    doc = {**hit["_source"], "text": edited.text}
    landed = (await b.client.index(index=old, id=edited.id, document=doc)).body
    await b._carry_over([("index", doc, landed)], True)
    await _assert_each_once(a, {_msg(0).id: edited.text, _msg(1).id: _msg(1).text})
