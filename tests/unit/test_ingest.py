"""Ingest: idempotence, identity linking, threading, edits, SLA clocks, events."""

from __future__ import annotations

from datetime import timedelta

import pytest

from inbox.enrich import Enricher, no_enrichment
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.model import IdentityRef, Status
from inbox.sla import SlaPolicy
from search.sqlite import SqliteStore
from tests.factories import at, inbound

EMAIL = IdentityRef("email", "ann@example.com")


@pytest.fixture
def events() -> EventBus:
    return EventBus()


@pytest.fixture
def ingestor(sqlite_store: SqliteStore, events: EventBus) -> Ingestor:
    return Ingestor(sqlite_store, enrich=no_enrichment, sla=SlaPolicy(), events=events,
                    clock=lambda: at(22))


def x_author(user_id: str, handle: str) -> tuple[IdentityRef, ...]:
    return (IdentityRef("x", user_id, handle), IdentityRef("x_handle", handle))


async def test_replays_store_nothing_twice(ingestor: Ingestor, sqlite_store: SqliteStore) -> None:
    batch = [inbound(f"<m{i}@x>", f"message number {i}") for i in range(5)]
    first = await ingestor.ingest(batch)
    again = await ingestor.ingest(batch + [batch[0]])
    assert len(first.stored) == 5 and first.duplicates == 0
    assert again.stored == () and again.duplicates == 6
    assert {m.id for m in again.known} == {m.id for m in first.stored}
    assert (await sqlite_store.counts())["messages"] == 5


async def test_duplicates_inside_one_batch(ingestor: Ingestor, sqlite_store: SqliteStore) -> None:
    result = await ingestor.ingest([inbound("<a@x>"), inbound("<a@x>")])
    assert len(result.stored) == 1 and result.duplicates == 1
    assert (await sqlite_store.counts())["messages"] == 1


async def test_email_addresses_are_case_insensitive(ingestor: Ingestor) -> None:
    upper = (IdentityRef("email", "Ann@Example.COM"),)
    a = await ingestor.ingest([inbound("<1@x>", authors=upper)])
    b = await ingestor.ingest([inbound("<2@x>", authors=(EMAIL,))])
    assert a.stored[0].customer_id == b.stored[0].customer_id
    assert a.stored[0].author_keys == ("ann@example.com",)


async def test_phone_numbers_link_in_e164(ingestor: Ingestor, sqlite_store: SqliteStore) -> None:
    a = await ingestor.ingest([inbound("f1", channel="webform", authors=(
        IdentityRef("email", "zoe@example.com"), IdentityRef("phone", "+44 20 7946 0000")))])
    b = await ingestor.ingest([inbound("f2", channel="webform", authors=(
        IdentityRef("email", "zoe.work@example.com"), IdentityRef("phone", "+442079460000")))])
    assert a.stored[0].customer_id == b.stored[0].customer_id
    customer = await sqlite_store.get_customer(a.stored[0].customer_id)
    assert {(i.kind, i.value) for i in customer.identities} == {
        ("email", "zoe@example.com"), ("email", "zoe.work@example.com"),
        ("phone", "+442079460000")}


async def test_web_form_with_x_handle_links_later_tweets_and_dms(ingestor: Ingestor,
                                                                 sqlite_store: SqliteStore
                                                                 ) -> None:
    form = await ingestor.ingest([inbound("form:1", channel="webform", authors=(
        IdentityRef("email", "theresa@example.com"), IdentityRef("x_handle", "@Theresa_M")))])
    tweet = await ingestor.ingest([inbound("9001", channel="x",
                                           authors=x_author("123456789012345678901", "theresa_m"),
                                           thread_keys=("x:tweet:9001", "x:conv:9001"))])
    dm = await ingestor.ingest([inbound("dm:77", channel="x",
                                        authors=x_author("123456789012345678901", "theresa_m"),
                                        thread_keys=("x:dm:5-6",))])
    owner = form.stored[0].customer_id
    assert tweet.stored[0].customer_id == owner and dm.stored[0].customer_id == owner
    kinds = {i.kind for i in (await sqlite_store.get_customer(owner)).identities}
    assert kinds == {"email", "x_handle", "x"}


async def test_a_reused_handle_does_not_link_another_account(ingestor: Ingestor) -> None:
    old = await ingestor.ingest([inbound("1", channel="x", authors=x_author("111", "sam"))])
    new = await ingestor.ingest([inbound("2", channel="x", authors=x_author("222", "sam"))])
    assert old.stored[0].customer_id != new.stored[0].customer_id


async def test_email_threads_by_references(ingestor: Ingestor) -> None:
    first = await ingestor.ingest([inbound("<a@x>", thread_keys=("mid:<a@x>",))])
    reply = await ingestor.ingest([inbound("<b@x>", thread_keys=("mid:<b@x>",),
                                           parent_keys=("mid:<a@x>",), when=at(3))])
    later = await ingestor.ingest([inbound("<c@x>", thread_keys=("mid:<c@x>",),
                                           parent_keys=("mid:<b@x>", "mid:<a@x>"), when=at(4))])
    other = await ingestor.ingest([inbound("<d@x>", thread_keys=("mid:<d@x>",), when=at(4))])
    conv = first.stored[0].conversation_id
    assert reply.stored[0].conversation_id == conv == later.stored[0].conversation_id
    assert other.stored[0].conversation_id != conv


async def test_subject_token_threads_when_headers_are_lost(ingestor: Ingestor) -> None:
    first = await ingestor.ingest([inbound("<a@x>")])
    conv = first.stored[0].conversation_id
    reply = await ingestor.ingest([inbound("<b@x>", parent_keys=(f"conv:{conv}",), when=at(3))])
    assert reply.stored[0].conversation_id == conv
    unknown = await ingestor.ingest([inbound("<c@x>", parent_keys=("conv:vnope",), when=at(3))])
    assert unknown.stored[0].conversation_id != conv


async def test_a_stranger_cannot_join_a_conversation_by_its_subject_token(
        ingestor: Ingestor) -> None:
    """Conversation ids are in every reply's subject, so whoever a reply is forwarded to can
    type one: it threads only mail of the conversation's own customer."""
    first = await ingestor.ingest([inbound("<a@x>")])
    conv = first.stored[0].conversation_id
    stranger = await ingestor.ingest([inbound(
        "<s@x>", authors=(IdentityRef("email", "mallory@example.net"),),
        parent_keys=(f"conv:{conv}",), when=at(3))])
    assert stranger.stored[0].conversation_id != conv
    assert stranger.stored[0].customer_id != first.stored[0].customer_id


async def test_x_threads_by_conversation_id(ingestor: Ingestor) -> None:
    root = await ingestor.ingest([inbound("10", channel="x", authors=x_author("1", "a"),
                                          thread_keys=("x:tweet:10", "x:conv:10"))])
    reply = await ingestor.ingest([inbound("11", channel="x", authors=x_author("2", "b"),
                                           thread_keys=("x:tweet:11", "x:conv:10"),
                                           parent_keys=("x:tweet:10",), when=at(3))])
    assert root.stored[0].conversation_id == reply.stored[0].conversation_id


async def test_an_edit_updates_in_place(ingestor: Ingestor, sqlite_store: SqliteStore) -> None:
    first = await ingestor.ingest([inbound("50", "helo", channel="x", revision="50",
                                           authors=x_author("1", "a"))])
    edit = await ingestor.ingest([inbound("50", "hello", channel="x", revision="51",
                                          authors=x_author("1", "a"))])
    assert edit.stored == () and len(edit.updated) == 1
    (msg,) = await sqlite_store.conversation_messages(first.stored[0].conversation_id)
    assert msg.text == "hello" and msg.revision == "51"
    assert (await sqlite_store.counts())["messages"] == 1


async def test_sla_clock_starts_on_customer_messages_only(ingestor: Ingestor,
                                                          sqlite_store: SqliteStore) -> None:
    care = await ingestor.ingest([inbound("<a@x>", when=at(23, 10))])  # Monday 10:00 UTC
    conv = await sqlite_store.get_conversation(care.stored[0].conversation_id)
    assert conv.awaiting_since == at(23, 10)
    assert conv.due_at == at(24, 10)  # 7 business hours on Monday, 1 on Tuesday
    assert "business hours" in (conv.due_basis or "")
    auto = await ingestor.ingest([inbound("<ooo@x>", automated=True, when=at(23, 11),
                                          authors=(IdentityRef("email", "b@example.com"),))])
    auto_conv = await sqlite_store.get_conversation(auto.stored[0].conversation_id)
    assert auto_conv.due_at is None and auto_conv.awaiting_since is None
    hit = await ingestor.ingest([inbound("77", channel="x", listening=True,
                                         authors=x_author("5", "fan"))])
    hit_conv = await sqlite_store.get_conversation(hit.stored[0].conversation_id)
    assert hit_conv.status == Status.LISTENING and hit_conv.due_at is None


async def test_customer_answer_reopens_a_resolved_conversation(ingestor: Ingestor,
                                                               sqlite_store: SqliteStore
                                                               ) -> None:
    from dataclasses import replace

    first = await ingestor.ingest([inbound("<a@x>", thread_keys=("mid:<a@x>",))])
    conv = await sqlite_store.get_conversation(first.stored[0].conversation_id)
    from inbox.store import WriteBatch

    await sqlite_store.write(WriteBatch(conversations=(replace(
        conv, status="resolved", awaiting_since=None, due_at=None, version=2),)))
    back = await ingestor.ingest([inbound("<b@x>", parent_keys=("mid:<a@x>",), when=at(4))])
    reopened = await sqlite_store.get_conversation(conv.id)
    assert back.stored[0].conversation_id == conv.id
    assert reopened.status == "open" and reopened.awaiting_since == at(4)
    much_later = await ingestor.ingest([inbound("<c@x>", parent_keys=("mid:<a@x>",),
                                                when=at(4) + timedelta(days=30))])
    assert much_later.stored[0].conversation_id == conv.id  # reopened one is not resolved


async def test_events_are_published(ingestor: Ingestor, events: EventBus) -> None:
    async with events.subscribe() as queue:
        await ingestor.ingest([inbound("<a@x>")])
        event = queue.get_nowait()
    assert event.kind == "message.created" and event.conversation_id


async def test_enrichment_detects_language_and_sentiment(sqlite_store: SqliteStore,
                                                         events: EventBus) -> None:
    ingestor = Ingestor(sqlite_store, enrich=Enricher(), sla=SlaPolicy(), events=events)
    result = await ingestor.ingest([
        inbound("<1@x>", "This is terrible, my internet has been down for a week"),
        inbound("<2@x>", "Bonjour, je n'ai plus de réseau depuis hier soir"),
        inbound("<3@x>", "Thank you so much, great service!")])
    by_ext = {m.external_id: m for m in result.stored}
    assert by_ext["<1@x>"].sentiment == "negative" and by_ext["<1@x>"].lang == "en"
    assert by_ext["<2@x>"].lang == "fr" and by_ext["<2@x>"].sentiment == "negative"
    assert by_ext["<3@x>"].sentiment == "positive"


def test_preview_titles_subjectless_conversations() -> None:
    from inbox.ingest import preview

    assert preview("  @northwind_help\nmy   signal is gone ") == "@northwind_help my signal is gone"
    long = preview("word " * 40)
    assert long is not None and long.endswith("…") and len(long) <= 80
    assert preview("   ") is None


async def test_repeat_contacts_and_channel_switches(ingestor: Ingestor,
                                                    sqlite_store: SqliteStore) -> None:
    first = await ingestor.ingest([inbound("form:1", channel="webform", when=at(2), authors=(
        EMAIL, IdentityRef("x_handle", "ann_x")))])
    tweet = await ingestor.ingest([inbound("7001", channel="x", when=at(4),
                                           authors=x_author("42", "ann_x"),
                                           thread_keys=("x:tweet:7001", "x:conv:7001"))])
    mail = await ingestor.ingest([inbound("<m@x>", when=at(5), authors=(EMAIL,))])
    much_later = await ingestor.ingest([inbound("<n@x>", when=at(20), authors=(EMAIL,))])
    convs = [await sqlite_store.get_conversation(r.stored[0].conversation_id)
             for r in (first, tweet, mail, much_later)]
    assert convs[0].previous_id is None
    assert convs[1].previous_id == convs[0].id and convs[1].switched_channel is True
    assert convs[2].previous_id == convs[1].id and convs[2].switched_channel is True
    assert convs[3].previous_id is None  # two weeks later: a new journey


async def test_a_late_message_repeats_the_conversation_of_its_own_time(
        ingestor: Ingestor, sqlite_store: SqliteStore) -> None:
    """Mail that arrives late (created before the customer's latest conversation) is a
    repeat of the conversation active when it was written, not of the latest; in the same
    batch a new message repeats the latest (the store reads each customer's conversations
    only down to the first created by the batch's oldest message)."""
    older = await ingestor.ingest([inbound("<a@x>", when=at(1), authors=(EMAIL,))])
    newer = await ingestor.ingest([inbound("<b@x>", when=at(6), authors=(EMAIL,))])
    batch = await ingestor.ingest([inbound("<late@x>", when=at(3), authors=(EMAIL,)),
                                   inbound("<next@x>", when=at(9), authors=(EMAIL,))])
    by_ext = {m.external_id: m for m in batch.stored}
    late = await sqlite_store.get_conversation(by_ext["<late@x>"].conversation_id)
    after = await sqlite_store.get_conversation(by_ext["<next@x>"].conversation_id)
    assert late.previous_id == older.stored[0].conversation_id
    assert after.previous_id == newer.stored[0].conversation_id


async def test_a_web_form_cannot_claim_someone_elses_handle_or_phone(
        ingestor: Ingestor, sqlite_store: SqliteStore) -> None:
    victim = await ingestor.ingest([inbound("dm:1", channel="x", authors=(
        IdentityRef("x", "12345", "victim"), IdentityRef("x_handle", "victim"),
        IdentityRef("phone", "+442079460000")))])
    eve = await ingestor.ingest([inbound("form:eve", channel="webform", authors=(
        IdentityRef("email", "eve@attacker.example"),
        IdentityRef("x_handle", "victim", verified=False),
        IdentityRef("phone", "+44 20 7946 0000", verified=False)))])
    assert eve.stored[0].customer_id != victim.stored[0].customer_id
    idents = (await sqlite_store.get_customer(victim.stored[0].customer_id)).identities
    assert "eve@attacker.example" not in {i.value for i in idents}
