"""Conversations for the channel-aware composer's tests, on the collision tests' team (a
served app with a real SMTP server): an email with others in To/Cc, and an X keyword hit
answered through the real X sender against the local X API fake."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest

from connectors.twitter import build
from inbox.model import IdentityRef
from tests.factories import inbound
from tests.fakes.x_api import FakeXApi
from tests.integration.collision_support import Team
from tests.integration.x_support import settings_for


async def email_conversation(team: Team) -> str:
    """A customer's email to support with Bob in To and Carol in Cc; the conversation id."""
    got = await team.runtime.ingest([inbound(
        "refund-1@example.com", "Where is my refund?", subject="Re: RE: Refund",
        meta={"message_id": "refund-1@example.com", "references": ["older@example.com"],
              "to": ["support@example.test", "bob@example.com"],
              "cc": ["Carol@Example.com", "ann@example.com"]})])
    return got.stored[0].conversation_id


@pytest.fixture(name="x_api")
async def x_api_fixture(team: Team) -> AsyncIterator[FakeXApi]:
    """The X fake, with the team's X replies sent to it through the real X sender."""
    async with FakeXApi(oauth1_secrets=("cs", "ats")) as fake:
        _, (sender,) = build(settings_for(fake), rng=random.Random(1))
        team.runtime.replies.senders["x"] = sender
        yield fake


async def keyword_hit(team: Team, fake: FakeXApi, accepts_dms: bool = True,
                      mentions_brand: bool = False) -> str:
    """A post that does not mention @acme (found by listening), or with mentions_brand one
    that does; the conversation id."""
    author = fake.add_user("ann_x", "Ann", accepts_dms=accepts_dms)
    text = "@acme outage again?" if mentions_brand else "acme outage again?"
    post = fake.add_tweet(author, text)
    got = await team.runtime.ingest([inbound(
        post, text, channel="x", authors=(IdentityRef("x", author, "@ann_x"),),
        meta={"kind": "tweet", "tweet_id": post, "author_id": author,
              "mentions_brand": mentions_brand, "quotes_brand": False})])
    return got.stored[0].conversation_id
