"""Reversible customer merges, on every store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from inbox import merge as merges
from inbox.enrich import no_enrichment
from inbox.errors import NotFound, Refused
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.model import IdentityRef, User, utcnow
from inbox.sla import SlaPolicy
from inbox.store import Store
from tests.factories import inbound

AGENT = User("u1", "ava@example.com", "agent", "-")
ANN = (IdentityRef("email", "ann@example.com", "Ann"),)
X_ANN = (IdentityRef("x", "123", "ann_x"), IdentityRef("x_handle", "ann_x"))


async def test_merge_then_undo_restores_both_customers(store: Store) -> None:
    ingest = Ingestor(store, enrich=no_enrichment, sla=SlaPolicy(), events=EventBus()).ingest
    now = utcnow()
    mail = await ingest([inbound("<a@x>", "my bill is wrong", authors=ANN,
                                 when=now - timedelta(days=2))])
    tweet = await ingest([inbound("900", "@brand bill wrong again", channel="x",
                                  authors=X_ANN, when=now - timedelta(days=1),
                                  thread_keys=("x:tweet:900", "x:conv:900"))])
    ann, ann_x = mail.stored[0].customer_id, tweet.stored[0].customer_id
    assert ann and ann_x and ann != ann_x

    record = await merges.merge(store, ann, ann_x, AGENT)
    merged = await store.get_customer(ann)
    assert {i.kind for i in merged.identities} == {"email", "x", "x_handle"}
    assert (await store.get_customer(ann_x)).merged_into == ann
    timeline = await store.customer_messages(ann, None, 10)
    assert {m.channel for m in timeline.items} == {"email", "x"}  # one history now
    conv = await store.get_conversation(tweet.stored[0].conversation_id)
    assert conv.customer_id == ann

    later = await ingest([inbound("901", "@brand still waiting", channel="x", authors=X_ANN,
                                  thread_keys=("x:tweet:901", "x:conv:901"))])
    assert later.stored[0].customer_id == ann  # the moved identity resolves to the survivor

    with pytest.raises(Refused):
        await merges.merge(store, ann, ann_x, AGENT)  # already merged
    with pytest.raises(Refused):
        await merges.merge(store, ann, ann, AGENT)

    await merges.undo(store, ann, record["id"], AGENT)
    back = await store.get_customer(ann_x)
    assert back.merged_into is None and {i.kind for i in back.identities} == {"x", "x_handle"}
    assert {i.kind for i in (await store.get_customer(ann)).identities} == {"email"}
    ann_x_msgs = {m.external_id for m in (await store.customer_messages(ann_x, None, 10)).items}
    assert ann_x_msgs == {"900", "901"}  # with what arrived while merged
    assert {m.external_id for m in (await store.customer_messages(ann, None, 10)).items} == {
        "<a@x>"}
    for msg in (tweet.stored[0], later.stored[0]):
        assert (await store.get_conversation(msg.conversation_id)).customer_id == ann_x
    with pytest.raises(Refused):
        await merges.undo(store, ann, record["id"], AGENT)
    history = await merges.merges_of(store, ann)
    assert [r["id"] for r in history] == [record["id"]] and history[0]["undone_at"]


async def test_find_customer_by_any_identity(store: Store) -> None:
    ingest = Ingestor(store, enrich=no_enrichment, sla=SlaPolicy(), events=EventBus()).ingest
    result = await ingest([inbound("f1", channel="webform", authors=(
        IdentityRef("email", "zoe@example.com"), IdentityRef("phone", "+44 20 7946 0000"),
        IdentityRef("x_handle", "zoe_z")))])
    cid = result.stored[0].customer_id
    for text in (cid, "Zoe@Example.com", "+442079460000", "@zoe_z"):
        assert (await merges.find_customer(store, text)).id == cid
    with pytest.raises(NotFound):
        await merges.find_customer(store, "nobody@example.com")


async def test_undo_waits_for_a_newer_merge_of_the_survivor(store: Store) -> None:
    ingest = Ingestor(store, enrich=no_enrichment, sla=SlaPolicy(), events=EventBus()).ingest
    ids = []
    for name in ("a", "b", "c"):
        result = await ingest([inbound(f"<{name}@x>", authors=(
            IdentityRef("email", f"{name}@example.com"),))])
        ids.append(result.stored[0].customer_id)
    a, b, c = ids
    first = await merges.merge(store, b, a, AGENT)
    second = await merges.merge(store, c, b, AGENT)
    with pytest.raises(Refused, match="undo that merge first"):
        await merges.undo(store, b, first["id"], AGENT)
    await merges.undo(store, c, second["id"], AGENT)
    await merges.undo(store, b, first["id"], AGENT)
    for cid, address in zip(ids, ("a", "b", "c"), strict=True):
        assert [i.value for i in (await store.get_customer(cid)).identities] == [
            f"{address}@example.com"]
