"""A care team on one served app with a real SMTP server: Dana and Sam (agents), Mark
(marketing), each with an API token, and a web-form conversation to work on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from connectors.twitter import build
from connectors.twitter_config import XSettings
from connectors.twitter_http import Credentials
from inbox import auth
from inbox.app.config import load as load_config
from inbox.app.runtime import Runtime
from inbox.model import IdentityRef
from tests.factories import CHEAP_ARGON2, inbound
from tests.servers.smtp import SmtpServer
from web.app import create_app

PASSWORD = "correct horse battery"
PEOPLE = {"dana": ("agent", "Dana"), "sam": ("agent", "Sam"), "mark": ("marketing", None)}


@dataclass
class Team:
    runtime: Runtime
    smtp: SmtpServer
    client: TestClient[Any, Any]
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    @property
    def base(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    async def conversation(self, message: str = "My bill is wrong") -> str:
        """A new web-form conversation (answered by email); its id."""
        posted = await self.client.post("/api/forms/contact", json={
            "name": "Ann", "email": "ann@example.com", "message": message})
        assert posted.status == 201
        ref = int((await posted.json())["reference"])  # what the customer is told: #10001
        found = await self.runtime.conversations.by_reference(ref)
        assert found is not None
        return found.id

    async def x_post(self, mentions_brand: bool = False) -> str:
        """A conversation on an X post, with the real X sender set up (it sends nothing here);
        its id. Without mentions_brand, a keyword hit X allows no public reply to."""
        creds = Credentials(bearer_token="app", consumer_key="ck", consumer_secret="cs",
                            access_token="42-at", access_token_secret="ats")
        _, (x_sender,) = build(XSettings(user_id="42", credentials=creds, username="acme",
                                         api_url="http://127.0.0.1:9"))
        self.runtime.replies.senders["x"] = x_sender
        text = "@acme outage again?" if mentions_brand else "acme outage again?"
        hit = await self.runtime.ingest([inbound(
            "1001", text, channel="x", authors=(IdentityRef("x", "7", "@ann"),),
            meta={"tweet_id": "1001", "kind": "post", "mentions_brand": mentions_brand})])
        return hit.stored[0].conversation_id

    def replies_to_customer(self) -> list[str]:
        return [r.message.get_content().strip() for r in self.smtp.handler.received
                if "ann@example.com" in r.rcpt_tos]


@pytest.fixture(name="team")
async def team_fixture(smtp_server: SmtpServer, tmp_path: Path) -> AsyncIterator[Team]:
    env = {"INBOX_STORE": f"sqlite:///{tmp_path}/inbox.db", "INBOX_ENRICH": "false",
           "INBOX_SMTP_URL": smtp_server.url(), "INBOX_EMAIL_FROM": "support@example.test",
           **CHEAP_ARGON2}
    runtime = Runtime(load_config(None, env), env)
    await runtime.start()
    tokens = {}
    for who, (role, name) in PEOPLE.items():
        await auth.add_user(runtime.store, f"{who}@example.com", role, PASSWORD, name=name,
                            passwords=runtime.passwords)
        tokens[who] = await auth.create_token(runtime.store, f"{who}@example.com")
    client = TestClient(TestServer(create_app(runtime.web_context()), host="127.0.0.1"))
    await client.start_server()
    try:
        yield Team(runtime, smtp_server, client, tokens)
    finally:
        await client.close()
        await runtime.aclose()
