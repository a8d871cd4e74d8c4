"""Races on every store: simultaneous replies, notes and merges end in one success and a
clear refusal, never in a double send, a lost note or a merge that cannot be undone."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import pytest

from inbox import merge as merges
from inbox.enrich import no_enrichment
from inbox.errors import ConflictError, StaleVersion
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.model import Conversation, Direction, IdentityRef, Status, User, utcnow
from inbox.ports import Outbound, Receipt
from inbox.sla import SlaPolicy
from inbox.store import Store
from inbox.usecases.conversations import Conversations
from inbox.usecases.replies import Replies
from tests.factories import inbound

DANA = User("u-dana", "dana@example.com", "agent", "-", name="Dana")
SAM = User("u-sam", "sam@example.com", "agent", "-", name="Sam")
ANN = (IdentityRef("email", "ann@example.com", "Ann"),)


class Outbox:
    """The email channel as seen from the customer's side: what reached them."""

    channel = "email"

    def __init__(self) -> None:
        self.sent: list[str] = []

    def check(self, out: Outbound) -> None:
        return None

    async def send(self, out: Outbound) -> Receipt:
        self.sent.append(out.message.text)
        return Receipt(provider_id=f"p{len(self.sent)}", thread_keys=())


def ingestor(store: Store) -> Ingestor:
    return Ingestor(store, enrich=no_enrichment, sla=SlaPolicy(), events=EventBus())


async def setup(store: Store) -> tuple[Replies, Outbox, Conversation]:
    outbox = Outbox()
    service = Replies(Conversations(store, EventBus()), {"email": outbox})
    result = await ingestor(store).ingest([inbound("<q1@x>", "my bill is wrong", authors=ANN,
                                                   when=utcnow() - timedelta(minutes=5),
                                                   thread_keys=("mid:<q1@x>",))])
    return service, outbox, await store.get_conversation(result.stored[0].conversation_id)


async def test_two_replies_on_one_version_reach_the_customer_once(store: Store) -> None:
    service, outbox, conv = await setup(store)
    results = await asyncio.gather(
        service.reply(conv.id, "Dana here: fixed it", DANA, expected_version=conv.version),
        service.reply(conv.id, "Sam here: fixed it", SAM, expected_version=conv.version),
        return_exceptions=True)
    (refused,) = [r for r in results if isinstance(r, BaseException)]
    (sent,) = [r for r in results if not isinstance(r, BaseException)]
    assert isinstance(refused, StaleVersion)
    winner = "Dana" if sent.agent == DANA.id else "Sam"
    assert len(refused.changes) == 1 and refused.changes[0].startswith(f"{winner} replied")
    assert "not sent" in str(refused) and refused.version == conv.version + 1
    assert outbox.sent == [sent.text]
    outbound = [m for m in await store.conversation_messages(conv.id)
                if m.direction == Direction.OUTBOUND]
    assert [m.id for m in outbound] == [sent.id]


async def test_confirmed_replies_both_go(store: Store) -> None:
    service, outbox, conv = await setup(store)
    await asyncio.gather(service.reply(conv.id, "one", DANA), service.reply(conv.id, "two", SAM))
    assert sorted(outbox.sent) == ["one", "two"]
    assert (await store.get_conversation(conv.id)).version == conv.version + 2


async def test_a_stale_reply_names_what_changed(store: Store) -> None:
    service, outbox, conv = await setup(store)
    await service.conversations.set_status(conv.id, Status.RESOLVED, SAM, conv.version)
    await ingestor(store).ingest([inbound("<q2@x>", "hello? still broken", authors=ANN,
                                          parent_keys=("mid:<q1@x>",))])
    assert (await store.get_conversation(conv.id)).version == conv.version + 2
    with pytest.raises(StaleVersion) as stale:
        await service.reply(conv.id, "Fixed", DANA, expected_version=conv.version)
    status, wrote = stale.value.changes
    assert re.fullmatch(r"Sam set it to resolved (just now|\d+ s ago)", status)
    assert re.fullmatch(r"The customer wrote again (just now|\d+ s ago)", wrote)
    assert outbox.sent == []
    with pytest.raises(StaleVersion) as mine:  # the agent's own change, seen from another tab
        await service.conversations.assign(conv.id, DANA.id, SAM, conv.version + 1)
    assert mine.value.changes == [wrote]  # only what came after that version
    await service.reply(conv.id, "Fixed", DANA, expected_version=stale.value.version)
    assert outbox.sent == ["Fixed"]


async def test_a_hundred_simultaneous_notes_are_all_kept(store: Store) -> None:
    service, outbox, conv = await setup(store)
    notes = await asyncio.gather(*(service.conversations.add_note(
        conv.id, f"note {i}", SAM if i % 2 else DANA) for i in range(100)))
    assert len({n.id for n in notes}) == 100
    stored = [m for m in await store.conversation_messages(conv.id)
              if m.direction == Direction.NOTE]
    assert sorted(m.text for m in stored) == sorted(f"note {i}" for i in range(100))
    after = await store.get_conversation(conv.id)
    assert after.version == conv.version  # notes never make anyone's view stale
    await service.reply(conv.id, "Answered", DANA, expected_version=conv.version)
    assert outbox.sent == ["Answered"]


async def customers(store: Store, *names: str) -> list[str]:
    ids = []
    for name in names:
        result = await ingestor(store).ingest([inbound(f"<{name}@x>", authors=(
            IdentityRef("email", f"{name}@example.com"),))])
        ids.append(str(result.stored[0].customer_id))
    return ids


async def assert_separate(store: Store, ids: list[str], names: tuple[str, ...]) -> None:
    for cid, name in zip(ids, names, strict=True):
        found = await store.get_customer(cid)
        assert found.merged_into is None
        assert [i.value for i in found.identities] == [f"{name}@example.com"]


async def test_crossed_merges_one_wins_and_it_can_be_undone(store: Store) -> None:
    a, b = await customers(store, "a", "b")
    results: list[Any] = await asyncio.gather(merges.merge(store, a, b, DANA),
                                              merges.merge(store, b, a, SAM),
                                              return_exceptions=True)
    (record,) = [r for r in results if isinstance(r, dict)]
    (refused,) = [r for r in results if isinstance(r, BaseException)]
    assert getattr(refused, "status", None) == 409 and "already merged" in str(refused)
    survivor, merged = record["survivor"], record["merged"]
    assert (await store.get_customer(merged)).merged_into == survivor
    assert (await store.get_customer(survivor)).merged_into is None
    await merges.undo(store, survivor, record["id"], DANA)
    await assert_separate(store, [a, b], ("a", "b"))


async def test_two_merges_into_one_survivor_both_apply(store: Store) -> None:
    a, b, c = await customers(store, "a", "b", "c")
    first, second = await asyncio.gather(merges.merge(store, a, b, DANA),
                                         merges.merge(store, a, c, SAM))
    merged = await store.get_customer(a)
    assert {i.value for i in merged.identities} == {f"{n}@example.com" for n in "abc"}
    await asyncio.gather(merges.undo(store, a, first["id"], DANA),
                         merges.undo(store, a, second["id"], SAM))
    await assert_separate(store, [a, b, c], ("a", "b", "c"))


async def test_merge_against_undo_leaves_every_merge_undoable(store: Store) -> None:
    a, b, c = await customers(store, "a", "b", "c")
    first = await merges.merge(store, a, b, DANA)
    results: list[Any] = await asyncio.gather(merges.undo(store, a, first["id"], DANA),
                                              merges.merge(store, c, a, SAM),
                                              return_exceptions=True)
    undone, second = results
    if isinstance(undone, BaseException):  # the merge into c went first: undo it, then a<-b
        assert "undo that merge first" in str(undone) and isinstance(second, dict)
        await merges.undo(store, c, second["id"], SAM)
        await merges.undo(store, a, first["id"], DANA)
    else:  # the undo went first; the merge into c applied after it
        assert isinstance(second, dict)
        await merges.undo(store, c, second["id"], SAM)
    await assert_separate(store, [a, b, c], ("a", "b", "c"))


async def test_a_merge_lock_left_by_a_dead_process_expires(store: Store) -> None:
    a, b = await customers(store, "a", "b")
    gone = (utcnow() - timedelta(seconds=1)).isoformat()
    await store.leases.put(f"customer:{a}", {"owner": "crashed:1", "expires": gone})
    record = await merges.merge(store, a, b, DANA)  # the expired lock is taken over
    later = (utcnow() + timedelta(minutes=1)).isoformat()
    await store.leases.put(f"customer:{b}", {"owner": "busy:2", "expires": later})
    with pytest.raises(ConflictError, match="being merged or separated"):
        async with merges.locked(store, [b], wait=0.1):
            pass
    assert (await store.leases.get(f"customer:{a}") or {}).get("owner") is None
    await store.leases.put(f"customer:{b}", {"owner": None, "expires": gone})
    await merges.undo(store, a, record["id"], DANA)
    await assert_separate(store, [a, b], ("a", "b"))
