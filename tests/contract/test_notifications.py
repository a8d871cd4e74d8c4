"""Notifications on every store: a mention in a note and an assignment by someone else
notify that colleague only, newest first, until they mark them read."""

from __future__ import annotations

from inbox.collections import UserDoc
from inbox.events import EventBus, Feed
from inbox.model import Event, User
from inbox.store import Store, WriteBatch
from inbox.usecases.conversations import Conversations
from tests.factories import conversation, customer

DANA = User(id="u-dana", email="dana@northwind.example", role="agent", password_hash="",
            name="Dana")
SAM = User(id="u-sam", email="sam@northwind.example", role="agent", password_hash="")
BEN = User(id="u-ben", email="ben@northwind.example", role="agent", password_hash="")


def doc(u: User) -> UserDoc:
    return {"id": u.id, "email": u.email, "role": u.role, "password_hash": "h", "name": u.name,
            "created_at": "2026-11-30T09:00:00+00:00", "disabled": False, "epoch": 0,
            "last_sign_in": None}


async def setup(store: Store) -> Conversations:
    for u in (DANA, SAM, BEN):
        await store.users.put(u.email, doc(u))
    await store.write(WriteBatch(customers=(customer("cA"),),
                                 conversations=(conversation("vA", "cA", ref=4821),
                                                conversation("vB", "cA", ref=4822))))
    return Conversations(store, EventBus())


def published(feed: Feed) -> list[Event]:
    found = []
    while not feed.queue.empty():
        found.append(feed.queue.get_nowait().event)
    return found


async def test_a_mention_notifies_the_colleague_named_and_no_one_else(store: Store) -> None:
    conversations = await setup(store)
    async with conversations.events.follow() as feed:
        note = await conversations.add_note("vA", "@sam can you check? @sam @nobody @dana",
                                            DANA)
    assert note.meta["mentions"] == ["u-sam", "u-dana"]
    stored = (await store.messages_by_ids([note.id]))[note.id]
    assert stored.meta["mention_spans"] == [[0, 4], [20, 24], [33, 38]]

    notes = conversations.notifications
    (n,) = await notes.for_user(SAM)  # once, though named twice
    assert (n["kind"], n["by"], n["conversation"], n["ref"], n["link"], n["read"]) == (
        "mention", "Dana", "vA", 4821, "/conversations/vA", False)
    assert n["text"].startswith("@sam can you check?")
    assert await notes.for_user(DANA) == []  # naming yourself is no notification
    assert await notes.for_user(BEN) == []
    kinds = [(e.kind, e.data) for e in published(feed)]
    assert ("notification", {"user": "u-sam"}) in kinds  # the header's badge is told
    assert [d for k, d in kinds if k == "notification"] == [{"user": "u-sam"}]


async def test_assignment_by_someone_else_notifies_and_listing_is_newest_first(
        store: Store) -> None:
    conversations = await setup(store)
    await conversations.assign("vA", SAM.id, SAM)  # took it themself: nothing
    notes = conversations.notifications
    assert await notes.for_user(SAM) == []
    await conversations.assign("vB", SAM.id, DANA)
    await conversations.assign("vB", SAM.id, DANA)  # already theirs: no second notification
    await conversations.add_note("vA", "over to you @sam", BEN)
    found = await notes.for_user(SAM)
    assert [(n["kind"], n["conversation"]) for n in found] == [("mention", "vA"),
                                                               ("assign", "vB")]
    assert await notes.unread(SAM) == 2

    assert await notes.mark_all_read(SAM) == 2
    assert await notes.unread(SAM) == 0
    assert [n["read"] for n in await notes.for_user(SAM)] == [True, True]
    assert await notes.mark_all_read(SAM) == 0
