"""Stores written before the public copy existed get it on upgrade: SQLite's schema
migration on open, Elasticsearch's `inbox migrate --reindex`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from inbox.model import Message
from inbox.query import parse
from inbox.store import WriteBatch
from search.elastic import ElasticStore, reindex
from search.elastic_docs import denormalized, to_doc
from search.elastic_mappings import SETTINGS, alias_name, index_name, mappings
from search.sqlite import SqliteStore
from search.sqlite_schema import SCHEMA_VERSION
from tests.factories import at, conversation, customer, message
from tests.schema_history import TO_SCHEMA_4, reopened_at
from tests.servers.osmem import es_store_factory

pytestmark = pytest.mark.integration

TEXT = "router dead, write florentine.quixote@privatebox.example or call 2025550187"
CONV = conversation("v1", "c1")
MESSAGES = tuple(message(f"e{i}", "v1", "c1", f"{TEXT} ({i})", at(1 + i)) for i in range(3))

# Schema 2 as it was: no per-message facts, rollup or blocks, no SLA log.
TO_SCHEMA_2 = TO_SCHEMA_4 + """
DROP TABLE sla_log;
DROP TRIGGER message_facts_ai; DROP TRIGGER message_facts_ad; DROP TRIGGER message_facts_au;
DROP TABLE message_facts; DROP TABLE message_rollup; DROP TABLE message_blocks;
PRAGMA user_version=2;
"""
# Schema 1 as it was: no public copy, the vocabularies over the full text.
DOWNGRADE = TO_SCHEMA_2 + """
DROP TRIGGER messages_public_ai; DROP TRIGGER messages_public_ad;
DROP TRIGGER messages_public_au; DROP TABLE public_vocab; DROP TABLE public_words;
DROP TABLE messages_public;
ALTER TABLE messages DROP COLUMN public_text; ALTER TABLE messages DROP COLUMN public_subject;
CREATE VIRTUAL TABLE messages_vocab USING fts5vocab (messages_fts, 'row');
CREATE VIRTUAL TABLE messages_words USING fts5vocab (messages_fts, 'instance');
PRAGMA user_version=1;
"""


async def _hidden_total(store: SqliteStore | ElasticStore, query: str) -> int:
    return (await store.search(parse(query), None, 10, public=True)).total


async def test_sqlite_schema_1_gets_the_public_copy_on_open(tmp_path: Path) -> None:
    path = tmp_path / "inbox.db"
    store = SqliteStore(path)
    await store.open()
    await store.write(WriteBatch(customers=(customer("c1"),), conversations=(CONV,),
                                 messages=MESSAGES))
    store = await reopened_at(store, DOWNGRADE)
    try:
        assert await _hidden_total(store, "router") == 3
        assert await _hidden_total(store, "quix*") == 0
        assert (await store.search(parse("quix*"), None, 10)).total == 3
        await store.write(WriteBatch(messages=(MESSAGES[0],)))  # upserts keep it exact
        assert await _hidden_total(store, "router") == 3
    finally:
        await store.aclose()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("INSERT INTO messages_public (messages_public) "
                            "VALUES ('integrity-check')").rowcount == 1


async def test_sqlite_schema_2_gets_its_counts_on_open(tmp_path: Path) -> None:
    """A store of the previous release is migrated in place: its messages are counted
    from the new rollup and facts exactly as they were searched before."""
    path = tmp_path / "inbox.db"
    store = SqliteStore(path)
    await store.open()
    msgs = [message(f"e{i}", "v1", "c1", f"router {'dead' if i % 3 else 'fine'}",
                    at(1 + i % 20), channel=("email", "x")[i % 2],
                    sentiment=("negative", "positive", None)[i % 3]) for i in range(60)]
    await store.write(WriteBatch(customers=(customer("c1"),), conversations=(CONV,),
                                 messages=tuple(msgs)))
    store = await reopened_at(store, TO_SCHEMA_2)
    try:
        for query in ("", "dead", "channel:x", "sentiment:negative -fine"):
            result = await store.search(parse(query), None, 5, ("channel", "sentiment"),
                                        volume="week")
            expected = [m for m in msgs if _matches(query, m)]
            assert result.total == len(expected)
            assert sum(n for _, n in result.facets["channel"]) == len(expected)
            assert sum(n for _, n in result.volume) == len(expected)
            newest = sorted(expected, key=lambda m: (m.created_at, m.id), reverse=True)[:5]
            assert [m.id for m in result.messages] == [m.id for m in newest]
    finally:
        await store.aclose()


def _matches(query: str, msg: Message) -> bool:
    return {"": True, "dead": "dead" in msg.text, "channel:x": msg.channel == "x",
            "sentiment:negative -fine": msg.sentiment == "negative" and "fine" not in msg.text
            }[query]


async def test_elastic_reindex_writes_the_public_copy(
        ops_store: ElasticStore, es_ops_url: str, caplog: pytest.LogCaptureFixture) -> None:
    await ops_store.write(WriteBatch(customers=(customer("c1"),), conversations=(CONV,)))
    for msg in MESSAGES:  # as an older version indexed them: no public copy
        await ops_store.client.index(index=ops_store.alias("messages"), id=msg.id,
                                         document={**to_doc(msg), **denormalized(CONV)},
                                         refresh=True)
    assert await _hidden_total(ops_store, "router") == 0
    again = es_store_factory(es_ops_url, index_prefix=ops_store.prefix)
    await again.open()  # the operator is told what to run
    await again.aclose()
    assert any("inbox migrate --reindex" in r.getMessage() for r in caplog.records)
    caplog.clear()

    await reindex(ops_store, ("messages",))
    assert await _hidden_total(ops_store, "router") == 3
    assert await _hidden_total(ops_store, "quix*") == 0
    assert (await ops_store.search(parse("quix*"), None, 10)).total == 3
    assert await ops_store.conversation_messages("v1") == MESSAGES
    again = es_store_factory(es_ops_url, index_prefix=ops_store.prefix)
    await again.open()
    await again.aclose()
    assert not any("inbox migrate --reindex" in r.getMessage() for r in caplog.records)


async def test_an_elastic_index_of_an_older_version_takes_the_words_and_keeps_working(
        es_ops_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """An index made before the words existed (text analysed by the cluster, no `terms`):
    opening gives it the new fields, new messages are found at once, the older ones after
    `inbox migrate --reindex`."""
    first = es_store_factory(es_ops_url)
    await first.open()
    es, prefix = first.client, first.prefix
    old_fields = {k: v for k, v in mappings("messages")["properties"].items()
                  if k not in ("terms", "public_terms")}
    old_fields.update({f: {"type": "text", "analyzer": "folded"}
                       for f in ("text", "subject", "public_text", "public_subject")})
    try:
        await es.indices.delete(index=index_name(prefix, "messages", 1))
        await es.indices.create(index=index_name(prefix, "messages", 1), settings=SETTINGS,
                                mappings={"dynamic": "strict", "properties": old_fields},
                                aliases={alias_name(prefix, "messages"):
                                         {"is_write_index": True}})
        old = message("o1", "v1", "c1", "The refunds never came", at(1), lang="en")
        await es.index(index=alias_name(prefix, "messages"), id=old.id, refresh=True,
                       document={**to_doc(old), **denormalized(CONV)})
    finally:
        await first.aclose()
    store = es_store_factory(es_ops_url, index_prefix=prefix)
    await store.open()
    try:
        assert any("inbox migrate --reindex" in r.getMessage() for r in caplog.records)
        new = message("n1", "v1", "c1", "Still no refund", at(2), lang="en")
        await store.write(WriteBatch(customers=(customer("c1"),), conversations=(CONV,),
                                     messages=(new,)))
        assert [m.id for m in (await store.search(parse("refunded"), None, 5)).messages] == \
            [new.id]
        await reindex(store, ("messages",))
        assert [m.id for m in (await store.search(parse("refunded"), None, 5)).messages] == \
            [new.id, old.id]
    finally:
        await store.aclose()
