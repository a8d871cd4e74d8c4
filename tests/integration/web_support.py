"""A running web app with one signed-in user per role and a seeded conversation."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from inbox import auth
from inbox.app.config import load as load_config
from inbox.app.runtime import Runtime
from inbox.model import IdentityRef, Role
from inbox.store import Store
from tests.factories import inbound
from tests.integration.test_web import RecordingSender
from web.app import create_app

PASSWORD = "correct horse battery"
CUSTOMER_EMAIL, CUSTOMER_PHONE = "ann.customer@example.com", "+1 212 555 0134"
INBOUND_TEXT = f"My bill is wrong, call me on {CUSTOMER_PHONE} or write {CUSTOMER_EMAIL}"
NOTE_TEXT, REPLY_TEXT = "internal: VIP, offer a refund", "Sorry about the bill, fixed now"


@dataclass
class RoleWeb:
    client: TestClient[Any, Any]
    runtime: Runtime
    tokens: dict[str, str]  # role -> API token
    ids: dict[str, str]  # conversation, customer, message

    def auth(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}

    async def sign_in(self, role: str) -> None:
        """A browser session for `role` in the client's cookie jar."""
        self.client.session.cookie_jar.clear()
        resp = await self.client.post("/login", data={"email": f"{role}@example.com",
                                                      "password": PASSWORD},
                                      allow_redirects=False)
        assert resp.status == 303, await resp.text()

    async def csrf(self, path: str = "/") -> str:
        page = await (await self.client.get(path)).text()
        found = re.search(r'name="csrf" value="([^"]+)"', page)
        assert found, page
        return found.group(1)


async def start_web(store: Store | None = None, env: Mapping[str, str] | None = None,
                    db: str = "") -> AsyncIterator[RoleWeb]:
    """The app on `store` (or SQLite at `db`): users and tokens for every role, and one
    email conversation with an inbound message (contacts in its text), a note, a reply
    (and no automatic acknowledgement unless `env` turns INBOX_ACK_EMAIL on)."""
    config = load_config(None, {"INBOX_STORE": f"sqlite:///{db}", "INBOX_ENRICH": "false",
                                "INBOX_ACK_EMAIL": "false", **(env or {})})
    runtime = Runtime(config, {}, store=store, channels=False)
    await runtime.start()
    runtime.replies.senders["email"] = RecordingSender("email")
    tokens = {}
    for role in Role:
        await auth.add_user(runtime.store, f"{role}@example.com", role, PASSWORD)
        tokens[role] = await auth.create_token(runtime.store, f"{role}@example.com")
    result = await runtime.ingest([inbound(
        "<m1@example.com>", INBOUND_TEXT, subject=f"Bill for {CUSTOMER_EMAIL}",
        authors=(IdentityRef("email", CUSTOMER_EMAIL, f"Ann <{CUSTOMER_EMAIL}>"),))])
    message = result.stored[0]
    admin = await auth.get_user(runtime.store, "admin@example.com")
    await runtime.conversations.add_note(message.conversation_id, NOTE_TEXT, admin)
    await runtime.replies.reply(message.conversation_id, REPLY_TEXT, admin)
    ids = {"conversation": message.conversation_id, "customer": message.customer_id or "",
           "message": message.id}
    client = TestClient(TestServer(create_app(runtime.web_context()), host="127.0.0.1"))
    await client.start_server()
    try:
        yield RoleWeb(client, runtime, tokens, ids)
    finally:
        await client.close()
        await runtime.aclose()
