"""The X test rig shared by the X connector's test modules: the fake X API with OAuth 1.0a,
the connector's streams built against it, and small helpers."""

from __future__ import annotations

import gc
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.twitter import (
    DmStream,
    ListeningStream,
    MentionsStream,
    XSender,
    build,
)
from connectors.twitter_config import XSettings
from connectors.twitter_http import Credentials
from inbox.model import Conversation, Customer, Inbound, Message
from inbox.ports import Outbound
from tests.fakes.core import as_message
from tests.fakes.x_api import (
    X_EPOCH_MS,
    FakeXApi,
    ManualClock,
)


def outbound(history: Sequence[Inbound], text: str) -> Outbound:
    now = datetime.now(UTC)
    conversation = Conversation(id="c1", customer_id="u1", channel="x", status="open",
                                created_at=now, updated_at=now, last_message_at=now)
    reply = Message(id="m-out", conversation_id="c1", channel="x", external_id="pending:1",
                    direction="outbound", text=text, created_at=now, received_at=now,
                    delivery="pending")
    return Outbound(conversation, Customer(id="u1", name=None, created_at=now), reply,
                    tuple(as_message(i) for i in history))


@pytest.fixture
async def fake() -> AsyncIterator[FakeXApi]:
    """The fake X API, checking OAuth 1.0a signatures and refusing the app token for DMs."""
    async with FakeXApi(clock=ManualClock(), bearer_token="app-token",
                        oauth1_secrets=("cs", "ats")) as server:
        yield server


def settings_for(server: FakeXApi, **overrides: Any) -> XSettings:
    creds = Credentials(bearer_token="app-token", consumer_key="ck", consumer_secret="cs",
                        access_token=f"{server.brand_id}-at", access_token_secret="ats")
    return replace(XSettings(user_id=server.brand_id, credentials=creds, username="acme",
                             api_url=server.url, keywords=("acme outage",)), **overrides)


@dataclass
class Streams:
    mentions: MentionsStream
    listen: ListeningStream  # following x.keywords: FakeCore has no rules in a store
    dms: DmStream
    sender: XSender


@pytest.fixture
async def x(fake: FakeXApi) -> AsyncIterator[Streams]:
    streams, senders = build(settings_for(fake), clock=fake.clock, sleep=fake.clock.sleep,
                             rng=random.Random(1), page_size=5)
    by_name = {s.name: s for s in streams}
    yield Streams(by_name["x:mentions"], by_name["x:listen"], by_name["x:dms"],
                  senders[0])  # no aclose: every poll and send closes the session it opened
    gc.collect()  # an unclosed aiohttp session would warn here, and warnings are errors


def customer(server: FakeXApi, name: str = "theresa") -> str:
    return server.add_user(name, name.title())


def snowflake_at(ts: float) -> str:
    return str((int(ts * 1000) - X_EPOCH_MS) << 22)
