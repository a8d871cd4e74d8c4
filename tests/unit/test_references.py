"""Human conversation references: what customers see in subjects and receipts, and how a
reference in an answer's subject finds its conversation (older id tokens too)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from connectors.email_parse import parse_email
from connectors.email_smtp import reply_subject, subject_token
from inbox.enrich import no_enrichment
from inbox.events import EventBus
from inbox.ingest import Ingestor
from inbox.model import IdentityRef
from inbox.sla import SlaPolicy
from search.sqlite import SqliteStore
from tests.factories import at, conversation, inbound


@pytest.fixture
def ingestor(sqlite_store: SqliteStore) -> Ingestor:
    return Ingestor(sqlite_store, enrich=no_enrichment, sla=SlaPolicy(), events=EventBus(),
                    clock=lambda: at(22))


def test_a_reply_subject_carries_the_reference_never_the_id() -> None:
    conv = replace(conversation("v01a22b3e665fb9339d3c", "c1"), ref=10482)
    subject = reply_subject("Re: My invoice [#v01a22b3e665fb9339d3c]", subject_token(conv))
    assert subject == "Re: My invoice [#10482]"


def test_the_reference_in_an_answer_subject_is_read_back() -> None:
    raw = b"From: ann@example.com\r\nSubject: Re: My invoice [#10482]\r\n\r\nthanks\r\n"
    assert parse_email(raw).parent_keys == ("conv:10482",)


async def test_an_answer_with_the_reference_joins_its_conversation(
        ingestor: Ingestor, sqlite_store: SqliteStore) -> None:
    first = await ingestor.ingest([inbound("<a@x>")])
    conv = await sqlite_store.get_conversation(first.stored[0].conversation_id)
    assert conv.ref is not None
    by_ref = await ingestor.ingest([inbound("<b@x>", parent_keys=(f"conv:{conv.ref}",),
                                            when=at(3))])
    by_old_id = await ingestor.ingest([inbound("<c@x>", parent_keys=(f"conv:{conv.id}",),
                                               when=at(3, 13))])  # mail sent before refs
    assert by_ref.stored[0].conversation_id == conv.id == by_old_id.stored[0].conversation_id
    unknown = await ingestor.ingest([inbound("<d@x>", parent_keys=("conv:99999",),
                                             when=at(3, 14))])
    huge = await ingestor.ingest([inbound("<e@x>", parent_keys=("conv:" + "9" * 60,),
                                          when=at(3, 15))])
    assert {unknown.stored[0].conversation_id, huge.stored[0].conversation_id}.isdisjoint(
        {conv.id})


async def test_a_stranger_cannot_join_by_the_reference(ingestor: Ingestor,
                                                       sqlite_store: SqliteStore) -> None:
    first = await ingestor.ingest([inbound("<a@x>")])
    conv = await sqlite_store.get_conversation(first.stored[0].conversation_id)
    stranger = await ingestor.ingest([inbound(
        "<s@x>", authors=(IdentityRef("email", "mallory@example.net"),),
        parent_keys=(f"conv:{conv.ref}",), when=at(3))])
    assert stranger.stored[0].conversation_id != conv.id
