"""Incidents on every store: many conversations linked to one outage (one incident each), an
update sent once on each (merged and listening ones skipped, a refused one failed with why),
never twice for the same key, each update's outcomes apart; resolving resolves the open ones."""

from __future__ import annotations

from datetime import datetime

import pytest

from inbox.errors import Refused
from inbox.events import EventBus
from inbox.model import Status, User
from inbox.store import Store, WriteBatch
from inbox.usecases.conversations import Conversations
from inbox.usecases.incidents import Incidents, Outcome
from inbox.usecases.replies import IN_FLIGHT, Replies
from tests.factories import conversation, customer
from tests.integration.test_web import RecordingSender

MARIA = User(id="u-maria", email="maria@northwind.example", role="manager", password_hash="")
OPEN = [f"v{i:02d}" for i in range(12)]


async def setup(store: Store) -> tuple[Incidents, RecordingSender]:
    convs = [conversation(v, "cA", ref=100 + i) for i, v in enumerate(OPEN)]
    convs += [conversation("vM", "cA", ref=200, status=Status.MERGED, merged_into="v00"),
              conversation("vL", "cA", ref=201, status=Status.LISTENING),
              conversation("vR", "cA", ref=202, status=Status.RESOLVED)]
    await store.write(WriteBatch(customers=(customer("cA"),), conversations=tuple(convs)))
    sender = RecordingSender("email")
    return Incidents(Replies(Conversations(store, EventBus()), {"email": sender}),
                     concurrency=3), sender


async def test_an_update_reaches_each_linked_conversation_once(store: Store) -> None:
    incidents, sender = await setup(store)
    outage = await incidents.create(MARIA, "Payments down", "Card payments fail.")
    for conv in (*OPEN, "vL", "vR", "vM"):
        if conv == "vM":  # a merged conversation is not linked: its survivor is
            with pytest.raises(Refused):
                await incidents.link(conv, MARIA, outage["id"])
            continue
        await incidents.link(conv, MARIA, outage["id"])
    await incidents.link("v00", MARIA, outage["id"])  # again: nothing changes
    assert len((await incidents.get(outage["id"]))["conversations"]) == 14
    other = await incidents.create(MARIA, "Login fails", "")
    with pytest.raises(Refused, match="Payments down"):  # one incident per conversation
        await incidents.link("v01", MARIA, other["id"])

    sender.reject_next = 1
    first = await incidents.send_update(MARIA, outage["id"], "We are on it.", "k1")
    await incidents.wait(first["id"])
    outcomes = await incidents.outcomes(first["id"])
    statuses = sorted(o.status for o in outcomes.values())
    assert statuses == ["failed"] + ["sent"] * 12 + ["skipped"]
    assert outcomes["vL"].reason == "a listening hit, not a care conversation"
    [failed] = [o for o in outcomes.values() if o.status == "failed"]
    assert failed.reason == "550 mailbox unavailable"
    assert len(sender.sent) == 12  # resolved ones still hear of the outage

    again = await incidents.send_update(MARIA, outage["id"], "We are on it.", "k1")
    await incidents.wait(again["id"])
    assert again["id"] == first["id"] and len(sender.sent) == 12
    second = await incidents.send_update(MARIA, outage["id"], "Fixed soon.", "k2")
    await incidents.wait(second["id"])
    assert len(sender.sent) == 25 and len(await incidents.outcomes(first["id"])) == 14
    view = await incidents.view(outage["id"])
    assert view.channels == {"email": 14} and view.last_update is not None
    assert (view.last_update.done, view.last_update.total) == (14, 14)
    assert {m.last.status for m in view.members if m.last} == {"sent", "skipped"}

    await incidents.unlink(MARIA, outage["id"], "v01")
    assert await incidents.of_conversation("v01") is None
    await incidents.link("v01", MARIA, other["id"])
    mine = await incidents.of_conversation("v01")
    assert mine is not None and mine["id"] == other["id"]


async def test_resolving_resolves_the_open_ones_and_skips_the_resolved(store: Store) -> None:
    incidents, sender = await setup(store)
    outage = await incidents.create(MARIA, "Payments down", "")
    for conv in ("v00", "v01", "vR"):
        await incidents.link(conv, MARIA, outage["id"])
    done = await incidents.resolve(MARIA, outage["id"], None, "r")
    await incidents.wait(done["id"])
    outcomes = await incidents.outcomes(done["id"])
    assert {k: o.status for k, o in outcomes.items()} == {
        "v00": "resolved", "v01": "resolved", "vR": "skipped"}
    convs = await store.conversations_by_ids(["v00", "v01"])
    assert {c.status for c in convs.values()} == {Status.RESOLVED}
    assert sender.sent == []  # no final update: nothing sent

    # with a final update: sent with the resolution; where it cannot go, resolved anyway
    await store.write(WriteBatch(conversations=(conversation("vX", "cA", channel="x",
                                                             ref=300),)))
    final = await incidents.create(MARIA, "Login fails", "")
    for conv in ("v02", "vX"):
        await incidents.link(conv, MARIA, final["id"])
    done = await incidents.resolve(MARIA, final["id"], "Fixed, sorry.", "r")
    await incidents.wait(done["id"])
    outcomes = await incidents.outcomes(done["id"])
    assert outcomes["v02"].status == "sent" and [o.message.text for o in sender.sent] == [
        "Fixed, sorry."]
    assert outcomes["vX"] == Outcome("failed", "resolved, but the final update was not sent: "
                                     "replies on x are not set up; configure the channel's "
                                     "sending account")
    convs = await store.conversations_by_ids(["v02", "vX"])
    assert {c.status for c in convs.values()} == {Status.RESOLVED}
    assert (await incidents.get(outage["id"]))["status"] == "resolved"
    assert (await incidents.all())[0]["status"] == "resolved"
    later = await incidents.create(MARIA, "Later", "")
    assert [d["id"] for d in await incidents.all()] == [  # open first, then newest first
        later["id"], final["id"], outage["id"]]
    with pytest.raises(Refused):
        await incidents.send_update(MARIA, outage["id"], "more", "k")


async def test_an_update_a_restart_interrupted_is_finished_once(store: Store) -> None:
    incidents, sender = await setup(store)
    outage = await incidents.create(MARIA, "Payments down", "")
    for conv in OPEN[:5]:
        await incidents.link(conv, MARIA, outage["id"])
    update = await incidents.send_update(MARIA, outage["id"], "On it.", "k")
    await incidents.aclose()  # the process stops before sending
    assert sender.sent == []

    now = datetime.fromisoformat(update["at"])
    later = Incidents(Replies(Conversations(store, EventBus(), clock=lambda: now),
                              {"email": sender}))
    assert await later.resume() == 0  # written just now: maybe being sent elsewhere
    now += IN_FLIGHT
    assert await later.resume() == 1  # Maria is no user of this store: sent as the system
    await later.wait(update["id"])
    assert len(sender.sent) == 5 and await later.resume() == 0
    assert (await later.progress(update["id"])).counts == {"sent": 5}
