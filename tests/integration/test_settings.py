"""A channel asks only for the settings it uses: polling mail needs IMAP, replies need SMTP."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from inbox.app.cli import main
from inbox.app.config import load as load_config
from inbox.app.runtime import Runtime
from inbox.errors import ConfigError
from tests.factories import CHEAP_ARGON2
from tests.servers.dovecot import PASSWORD, Dovecot
from web.app import create_app

pytestmark = pytest.mark.integration


def customer_mail(text: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ann Example <ann@example.com>"
    msg["To"] = "support@example.test"
    msg["Subject"] = "Where is my parcel?"
    msg["Message-ID"] = "<parcel-1@example.com>"
    msg.set_content(text)
    return bytes(msg)


def imap_env(dovecot: Dovecot, tmp_path: Path) -> dict[str, str]:
    return {"INBOX_STORE": f"sqlite:///{tmp_path}/inbox.db", "INBOX_ENRICH": "false",
            "INBOX_EMAIL_URL": dovecot.url(), "INBOX_EMAIL_PASSWORD": PASSWORD,
            "INBOX_ATTACHMENTS_DIR": str(tmp_path / "attachments"), **CHEAP_ARGON2}


def test_poll_email_with_imap_settings_only(dovecot: Dovecot, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # an SMTP account only half set up (no password, no from address): polling never reads it
    env = {**imap_env(dovecot, tmp_path), "INBOX_SMTP_URL": "smtp://mailer@127.0.0.1:9"}
    dovecot.append(customer_mail("My parcel never arrived."))
    assert main(["poll", "--channel", "email", "--once"], env) == 0
    out, err = capsys.readouterr()
    assert "email:default: stored 1" in out and "error" not in err

    with pytest.raises(ConfigError) as caught:  # a process that replies needs it complete
        Runtime(load_config(None, env), env)
    assert caught.value.key == "INBOX_SMTP_PASSWORD"

    env = imap_env(dovecot, tmp_path)  # no SMTP at all: a reply says what to set
    assert main(["search", "parcel", "--json"], env) == 0
    (found,) = json.loads(capsys.readouterr().out)["messages"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    assert main(["users", "add", "ava@example.com", "--role", "agent"], env) == 0
    assert main(["users", "token", "ava@example.com"], env) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    status, error = asyncio.run(reply(env, found["conversation_id"], token))
    assert 400 <= status < 500
    assert "INBOX_SMTP_URL" in error and "smtp_url" in error


async def reply(env: dict[str, str], conversation_id: str, token: str) -> tuple[int, str]:
    """Answer through the JSON API of a process that reads mail but has no SMTP account."""
    runtime = Runtime(load_config(None, env), env)
    await runtime.start()
    client = TestClient(TestServer(create_app(runtime.web_context()), host="127.0.0.1"))
    await client.start_server()
    try:
        resp = await client.post(f"/api/conversations/{conversation_id}/reply",
                                 json={"text": "On its way!"},
                                 headers={"Authorization": f"Bearer {token}"})
        return resp.status, (await resp.json())["error"]
    finally:
        await client.close()
        await runtime.aclose()
