"""Keys longer than Elasticsearch's 512-byte `_id` (a Message-ID and the thread keys made
of it, an identity value, a collection key) are stored, found and threaded on every store:
the Elasticsearch store keeps them under a hashed id (search.elastic_docs.doc_id)."""

from __future__ import annotations

import pytest

from inbox.enrich import no_enrichment
from inbox.errors import ConflictError
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.model import Customer, Identity, IdentityKind, IdentityRef, message_id_for
from inbox.retry import Retry
from inbox.sla import SlaPolicy
from inbox.store import Store, WriteBatch
from tests.factories import at, inbound

LONG_ID = "<" + "ü" * 400 + "@mail.example.com>"  # 800 bytes: over the 512-byte limit
LONG_VALUE = "x" * 300 + "ø" * 200  # no valid address is this long; a restore may hold one


def ingestor(store: Store) -> Ingestor:
    return Ingestor(store, enrich=no_enrichment, sla=SlaPolicy(), events=EventBus(),
                    clock=lambda: at(22), store_retry=Retry(0))


async def test_a_long_message_id_is_stored_threaded_and_never_doubled(store: Store) -> None:
    author = (IdentityRef("email", "long@example.com"),)
    first = inbound(LONG_ID, "the first mail", authors=author, thread_keys=(LONG_ID,),
                    when=at(3))
    reply = inbound("<short@x>", "a reply to it", authors=author,
                    thread_keys=("<short@x>",), parent_keys=(LONG_ID,), when=at(4))
    ing = ingestor(store)
    stored = await ing.ingest([first])
    answered = await ing.ingest([reply])
    assert stored.dead == () and answered.dead == ()
    (msg,), (second,) = stored.stored, answered.stored
    assert second.conversation_id == msg.conversation_id  # the long key threads
    found = await store.messages_by_ids([message_id_for("email", LONG_ID)])
    assert [m.external_id for m in found.values()] == [LONG_ID]
    assert await store.conversation_ids_by_thread_keys([LONG_ID]) == {
        LONG_ID: msg.conversation_id}
    again = await ing.ingest([first])
    assert again.stored == () and again.duplicates == 1
    assert (await store.counts())["messages"] == 2


async def test_a_collection_key_over_the_id_limit(store: Store) -> None:
    key = "poller:" + "ß" * 600
    other = "poller:" + "ß" * 599 + "s"
    cursors = store.cursors
    await cursors.put(key, {"cursor": "1"})
    assert await cursors.get(key) == {"cursor": "1"}
    assert await cursors.get(other) is None
    assert await cursors.swap(key, {"cursor": "1"}, {"cursor": "2"})
    assert not await cursors.put_new(key, {"cursor": "3"})
    assert await cursors.list(None, 10) == [(key, {"cursor": "2"})]
    await cursors.delete(key)
    assert await cursors.get(key) is None


async def test_an_identity_value_over_the_id_limit(store: Store) -> None:
    cust = Customer("c-long", "Long", at(1))
    ident = Identity(IdentityKind.PHONE, LONG_VALUE, cust.id, created_at=at(1))
    await store.write(WriteBatch(customers=(cust,), identities=(ident,)))
    known = await store.identities_by_refs([("phone", LONG_VALUE), ("phone", LONG_VALUE[:-1])])
    assert list(known) == [("phone", LONG_VALUE)] and known[("phone", LONG_VALUE)].customer_id \
        == cust.id
    assert [i.value for i in (await store.get_customer(cust.id)).identities] == [LONG_VALUE]
    taken = Identity(IdentityKind.PHONE, LONG_VALUE, "c-other", created_at=at(2))
    with pytest.raises(ConflictError):
        await store.write(WriteBatch(customers=(Customer("c-other", None, at(2)),),
                                     identities=(taken,)))


ODD_IDS = ('<"quoted"@x>', "<back\\slash@x>", "<🦜 ünïcode@x>", "<[json], {not}@x>")


async def test_a_lookup_of_a_thousand_keys_of_any_shape_finds_the_stored_ones(
        store: Store) -> None:
    """A batch's reads by key (messages, thread keys, identities) find exactly what is
    stored, however many keys and whatever characters they hold (quotes, backslashes,
    brackets, astral characters), and a key no store could hold is simply not found."""
    author = (IdentityRef("email", "odd@example.com"),)
    stored = await ingestor(store).ingest([
        inbound(i, f"mail {n}", authors=author, thread_keys=(i,), when=at(3 + n))
        for n, i in enumerate(ODD_IDS)])
    assert stored.dead == () and len(stored.stored) == len(ODD_IDS)
    absent = [f"<absent-{n}@x>" for n in range(1200)]
    unstorable = ["<lone \ud800 surrogate@x>"]
    ids = [message_id_for("email", i) for i in (*absent, *ODD_IDS)]
    found = await store.messages_by_ids([*ids, *unstorable])
    assert sorted(m.external_id for m in found.values()) == sorted(ODD_IDS)
    keys = await store.conversation_ids_by_thread_keys([*absent, *ODD_IDS, *unstorable])
    assert sorted(keys) == sorted(ODD_IDS)
    assert set(keys.values()) == {m.conversation_id for m in stored.stored}
    refs = [("email", f"nobody{n}@example.com") for n in range(1200)]
    known = await store.identities_by_refs([*refs, ("email", "odd@example.com")])
    assert list(known) == [("email", "odd@example.com")]
