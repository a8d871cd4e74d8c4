"""Canned replies on every store: a team document kept, edited and deleted by key, offered on
its channel and filled in for one conversation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from inbox.errors import NotFound, ValidationError
from inbox.model import User, utcnow
from inbox.sla import Calendar, SlaPolicy
from inbox.store import Store, WriteBatch
from inbox.usecases.canned import CannedReplies
from tests.factories import conversation, customer

ADMIN = User(id="u-admin", email="admin@example.com", role="admin", password_hash="")
AGENT = User(id="u-dana", email="dana@example.com", role="agent", password_hash="", name="Dana")


async def test_canned_replies_are_kept_edited_and_deleted(store: Store) -> None:
    replies = CannedReplies(store, SlaPolicy())
    thanks = await replies.create(ADMIN, "Thanks", "Thank you, {customer_first_name}!")
    refund = await replies.create(ADMIN, "refund", "Refunded.", "email")
    assert [d["name"] for d in await replies.all()] == ["refund", "Thanks"]  # by name
    assert (await replies.get(thanks["id"]))["text"] == "Thank you, {customer_first_name}!"
    assert refund["channel"] == "email" and thanks["channel"] is None

    edited = await replies.update(ADMIN, thanks["id"], "Thanks", "Thanks a lot!", "")
    assert (await replies.get(thanks["id"])) == edited
    assert edited["text"] == "Thanks a lot!" and edited["created_at"] == thanks["created_at"]

    await replies.delete(ADMIN, refund["id"])
    assert [d["id"] for d in await replies.all()] == [thanks["id"]]
    with pytest.raises(NotFound):
        await replies.get(refund["id"])
    actions = [doc["action"] for _, doc in await store.audit.list(None, 10)]
    # every change audited (two in the same millisecond may be listed either way)
    assert sorted(actions) == ["canned.add", "canned.add", "canned.delete", "canned.edit"]


async def test_a_bad_canned_reply_is_refused_and_says_why(store: Store) -> None:
    replies = CannedReplies(store, SlaPolicy())
    with pytest.raises(ValidationError) as bad:
        await replies.create(ADMIN, "  ", 42, "fax")
    assert set(bad.value.errors) == {"name", "text", "channel"}
    await replies.create(ADMIN, "Hello", "Hi")
    with pytest.raises(ValidationError) as taken:
        await replies.create(ADMIN, "HELLO", "Hi again")
    assert "already named" in taken.value.errors["name"]
    assert len(await replies.all()) == 1


async def test_offered_on_its_channel_and_filled_in_for_the_conversation(store: Store) -> None:
    due = utcnow() + timedelta(hours=3)
    await store.write(WriteBatch(
        customers=(customer("cA", "Ann <b>Lee</b>"),),
        conversations=(conversation("vA", "cA", "email", due_at=due),
                       conversation("vX", "cA", "x"))))
    replies = CannedReplies(store, SlaPolicy(calendar=Calendar(timezone="Europe/Paris")))
    await replies.create(ADMIN, "Hello", "Hi {customer_first_name}, {agent_name} here "
                                         "about {reference}; answer {expected_answer_time}. "
                                         "{unknown} {customer_first_name")
    await replies.create(ADMIN, "Mail only", "By mail", "email")
    ref = (await store.get_conversation("vA")).ref
    on_email = await replies.for_conversation("vA", AGENT)
    assert [r.name for r in on_email] == ["Hello", "Mail only"]
    local = due.astimezone(Calendar(timezone="Europe/Paris").zone)
    assert on_email[0].text_rendered == (
        f"Hi Ann, Dana here about #{ref}; answer by {local:%A} {local.day} {local:%B}, "
        f"{local:%H:%M %Z}. {{unknown}} {{customer_first_name")
    on_x = await replies.for_conversation("vX", AGENT)
    assert [r.name for r in on_x] == ["Hello"]  # the email-only one is not offered on X
    assert "answer soon." in on_x[0].text_rendered  # no deadline
    with pytest.raises(NotFound):
        await replies.for_conversation("no-such-conversation", AGENT)
