"""Elasticsearch writes on a cluster whose searches cannot see unrefreshed writes: the
stores run behind tests/servers/refresh_proxy, which hides new documents from search until
a refresh (as a real cluster does for a second, or for ever with refresh_interval -1).
The conversation fields on messages (status, assignee, tags: what `status:`, `assignee:`
and `tag:` search) stay right; background writes force no refresh; keywords are bounded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from inbox.enrich import no_enrichment
from inbox.errors import ConflictError
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.model import Conversation, IdentityRef, Status
from inbox.query import parse
from inbox.retry import Retry
from inbox.sla import SlaPolicy
from inbox.store import WriteBatch
from search.elastic_mappings import KEYWORD_CHARS, mappings
from tests.factories import at, inbound
from tests.servers.osmem import FixtureStore, opened
from tests.servers.refresh_proxy import RefreshProxy, Written, refresh_proxy, store_behind

pytestmark = pytest.mark.integration
__all__ = ["refresh_proxy"]  # the fixture


@pytest.fixture
async def poller(refresh_proxy: RefreshProxy) -> AsyncIterator[FixtureStore]:
    """The poller's process: a store behind the proxy."""
    async with opened(store_behind(refresh_proxy)) as store:
        yield store


@pytest.fixture
async def agent(refresh_proxy: RefreshProxy, poller: FixtureStore
                ) -> AsyncIterator[FixtureStore]:
    """An agent's web process on the same indices, behind the same proxy."""
    store = store_behind(refresh_proxy, like=poller)
    await store.open()
    try:
        yield store
    finally:
        await store.aclose()


def ingestor(store: FixtureStore) -> Ingestor:
    return Ingestor(store, enrich=no_enrichment, sla=SlaPolicy(), events=EventBus(),
                    clock=lambda: at(22), store_retry=Retry(0))


async def resolve_and_assign(store: FixtureStore, conversation_id: str) -> Conversation:
    """What an agent's action writes: the conversation's next version, visible at once."""
    conv = await store.get_conversation(conversation_id)
    done = replace(conv, status=Status.RESOLVED, assignee="dana", tags=("refund",),
                   version=conv.version + 1)
    await store.write(WriteBatch(conversations=(done,)))
    return done


async def found(store: FixtureStore, query: str) -> set[str]:
    result = await store.search(parse(query), None, 50)
    return {m.external_id for m in result.messages}


async def first_and_polled(poller: FixtureStore) -> str:
    """A conversation started by a form (visible), then a mail polled into it (not)."""
    ing = ingestor(poller)
    first = await ing.ingest([inbound("<t1@x>", "my order is late", thread_keys=("<t1@x>",),
                                      when=at(3))])
    polled = await ing.ingest([inbound("<t2@x>", "any news?", parent_keys=("<t1@x>",),
                                       when=at(4))], visible=False)
    (msg,), (later,) = first.stored, polled.stored
    assert later.conversation_id == msg.conversation_id
    return msg.conversation_id


async def test_a_change_after_a_poll_reaches_the_polled_message(
        refresh_proxy: RefreshProxy, poller: FixtureStore, agent: FixtureStore) -> None:
    """The issue's race: a message polled a moment ago (no refresh), then the agent
    resolves and assigns the conversation: searches find both messages by the new fields."""
    conversation_id = await first_and_polled(poller)
    await resolve_and_assign(agent, conversation_id)
    refresh_proxy.refresh_all()
    both = {"<t1@x>", "<t2@x>"}
    assert await found(agent, "status:resolved") == both
    assert await found(agent, "assignee:dana tag:refund") == both
    assert await found(agent, "status:open") == set()


async def test_a_change_while_the_poll_is_unrefreshed_reaches_its_message(
        refresh_proxy: RefreshProxy, poller: FixtureStore, agent: FixtureStore) -> None:
    """The agent's change lands between the poller's message write and any refresh: the
    agent's search cannot see the new message, so the poller's own check re-stamps it."""
    ing = ingestor(poller)
    first = await ing.ingest([inbound("<t1@x>", "my order is late", thread_keys=("<t1@x>",),
                                      when=at(3))])
    conversation_id = first.stored[0].conversation_id
    changed: list[Conversation] = []

    async def agent_acts(created: Written) -> None:
        if any("-messages-" in index for index, _ in created) and not changed:
            assert await found(agent, "any news") == set()  # the poll is not searchable yet
            changed.append(await resolve_and_assign(agent, conversation_id))

    refresh_proxy.on_write = agent_acts
    await ing.ingest([inbound("<t2@x>", "any news?", parent_keys=("<t1@x>",), when=at(4))],
                     visible=False)
    refresh_proxy.on_write = None
    assert changed, "the agent acted during the poll's write"
    refresh_proxy.refresh_all()
    both = {"<t1@x>", "<t2@x>"}
    assert await found(agent, "status:resolved assignee:dana tag:refund") == both
    assert await found(poller, "status:open") == set()


async def test_changes_back_and_forth_end_in_the_last_one(
        refresh_proxy: RefreshProxy, poller: FixtureStore, agent: FixtureStore) -> None:
    """Resolved, then reopened by the customer's next polled mail, then resolved again: the
    messages carry the conversation's last status, whatever searches saw in between."""
    conversation_id = await first_and_polled(poller)
    await resolve_and_assign(agent, conversation_id)
    await ingestor(poller).ingest([inbound("<t3@x>", "still broken", parent_keys=("<t1@x>",),
                                           when=at(5))], visible=False)
    conv = await agent.get_conversation(conversation_id)
    assert conv.status == Status.OPEN  # the customer's answer reopened it
    refresh_proxy.refresh_all()
    assert await found(agent, "status:open") == {"<t1@x>", "<t2@x>", "<t3@x>"}
    assert await found(agent, "status:resolved") == set()


async def test_background_writes_force_no_refresh(
        refresh_proxy: RefreshProxy, poller: FixtureStore) -> None:
    """A poller's cursor, lease or audit entry is read by key (realtime), never listed right
    after: it is written without a refresh. What a user lists right after writing it (a
    canned reply) is searchable at once; a polled message too (written with wait_for)."""
    await poller.cursors.put("imap:inbox", {"uidvalidity": 1, "uid": 7})
    assert await poller.cursors.get("imap:inbox") is not None  # realtime
    assert await poller.cursors.list(None, 10) == []  # no refresh forced
    await poller.canned.put("c1", {"id": "c1", "name": "Thanks", "text": "Thank you!",
                                   "channel": None, "created_at": "2026-11-30"})
    assert [key for key, _ in await poller.canned.list(None, 10)] == ["c1"]
    polled = await ingestor(poller).ingest([inbound("<p1@x>", "polled quietly", when=at(3))],
                                           visible=False)
    assert len(polled.stored) == 1
    assert await found(poller, "quietly") == {"<p1@x>"}
    refresh_proxy.refresh_all()
    assert [key for key, _ in await poller.cursors.list(None, 10)] == ["imap:inbox"]


async def test_opening_bounds_the_keywords_of_an_older_index(poller: FixtureStore) -> None:
    """Indices made before keywords were bounded get `ignore_above` when a store opens."""
    es, alias = poller.client, poller.alias("identities")
    index = next(iter((await es.indices.get_alias(name=alias)).body))
    await es.indices.delete(index=index)
    unbounded = {name: {k: v for k, v in field.items() if k != "ignore_above"}
                 for name, field in mappings("identities")["properties"].items()}
    await es.indices.create(index=index, mappings={"dynamic": "strict", "properties": unbounded},
                            aliases={alias: {"is_write_index": True}})
    await poller.open()  # what every process does when it starts
    mapping = (await es.indices.get_mapping(index=alias)).body[index]
    assert mapping["mappings"]["properties"]["value"].get("ignore_above") == KEYWORD_CHARS


async def test_concurrent_polls_and_changes_end_consistent(
        refresh_proxy: RefreshProxy, poller: FixtureStore, agent: FixtureStore) -> None:
    """Polls and agents' changes of one conversation interleaved: every message ends with
    the conversation's last status, assignee and tags."""
    conversation_id = await first_and_polled(poller)
    ing = ingestor(poller)

    async def change(n: int) -> None:
        while True:
            conv = await agent.get_conversation(conversation_id)
            status = (Status.PENDING, Status.RESOLVED, Status.OPEN)[n % 3]
            try:
                await agent.write(WriteBatch(conversations=(replace(
                    conv, status=status, assignee=f"agent{n}", tags=(f"t{n}",),
                    version=conv.version + 1),)))
                return
            except ConflictError:
                continue

    for n in range(6):
        await asyncio.gather(
            ing.ingest([inbound(f"<r{n}@x>", f"reply {n}", parent_keys=("<t1@x>",),
                                when=at(5, n))], visible=False),
            change(n))
    refresh_proxy.refresh_all()
    conv = await agent.get_conversation(conversation_id)
    every = {m.external_id for m in await agent.conversation_messages(conversation_id)}
    assert len(every) == 8
    assert await found(agent, f"status:{conv.status}") == every
    assert await found(agent, f"assignee:{conv.assignee}") == every
    assert await found(agent, f"tag:{conv.tags[0]}") == every


async def test_a_bulk_refused_whole_is_undone_and_split_until_the_item_stands_alone(
        refresh_proxy: RefreshProxy, poller: FixtureStore) -> None:
    """The cluster refuses a whole bulk request (a 400 before any item) while it holds one
    item's message: what earlier phases wrote is undone, ingest splits the batch, the item
    is dead-lettered with the cluster's reason and the rest is stored."""
    refresh_proxy.refuse = lambda body: ("Validation Failed: 1: the request holds POISON"
                                         if b"POISON" in body else None)
    batch = [inbound(f"<ok{i}@x>", f"fine {i}", when=at(3, i),
                     authors=(IdentityRef("email", f"ok{i}@example.com"),)) for i in range(4)]
    batch.insert(2, inbound("<bad@x>", "POISON", when=at(3, 9),
                            authors=(IdentityRef("email", "bad@example.com"),)))
    result = await ingestor(poller).ingest(batch, visible=False)
    assert {m.external_id for m in result.stored} == {f"<ok{i}@x>" for i in range(4)}
    assert [(d.external_id, d.stage) for d in result.dead] == [("<bad@x>", "store")]
    assert "action_request_validation_exception" in result.dead[0].error
    assert await poller.identities_by_refs([("email", "bad@example.com")]) == {}
    counts = await poller.counts()
    assert (counts["customers"], counts["conversations"], counts["messages"]) == (4, 4, 4)
