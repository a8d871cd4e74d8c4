"""A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it receives.

Register the ``smtp_server`` fixture in a conftest with
``from tests.servers.smtp import smtp_server_fixture  # noqa: F401``, or use :class:`SmtpServer`.
"""

from __future__ import annotations

import asyncio
import email
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class RecordingHandler:
    """Records envelopes; recipients in ``reject`` (address -> "550 ...") are refused."""

    received: list[Received] = field(default_factory=list)
    reject: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address.lower() in self.reject:
            return self.reject[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        self.received.append(Received(envelope.mail_from or "", list(envelope.rcpt_tos), data))
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """aiosmtpd 1.4 checks readiness by connecting to ``self.port``: learn the port 0 got."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    """aiosmtpd Controller on 127.0.0.1:<free port>, optionally offering AUTH LOGIN/PLAIN.

    With ``tls`` (a server-side SSLContext) it speaks TLS: from the first byte when
    ``implicit_tls`` (smtps://), else after a STARTTLS that it requires (smtp+starttls://).
    """

    def __init__(self, credentials: tuple[str, str] | None = None, *,
                 tls: ssl.SSLContext | None = None, implicit_tls: bool = False) -> None:
        self.handler = RecordingHandler()
        self.credentials = credentials
        kwargs: dict[str, Any] = {}
        if credentials:  # aiosmtpd 1.4 ties auth_require_tls to STARTTLS, not to smtps
            kwargs = {"authenticator": self._authenticate,
                      "auth_require_tls": tls is not None and not implicit_tls}
        if tls is not None and implicit_tls:
            kwargs["ssl_context"] = tls
            self.scheme = "smtps"
        elif tls is not None:
            kwargs.update(tls_context=tls, require_starttls=True)
            self.scheme = "smtp+starttls"
        else:
            self.scheme = "smtp"
        self.controller = _Controller(self.handler, hostname="127.0.0.1", port=0, **kwargs)
        self.host = "127.0.0.1"
        self.port = 0

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def url(self, user: str | None = None) -> str:
        userinfo = f"{user.replace('@', '%40')}@" if user else ""
        return f"{self.scheme}://{userinfo}{self.host}:{self.port}"

    def start(self) -> None:
        self.controller.start()
        self.port = self.controller.port

    def stop(self) -> None:
        self.controller.stop()

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and self.credentials is not None
              and (auth_data.login.decode(), auth_data.password.decode()) == self.credentials)
        return AuthResult(success=ok, handled=False)


@pytest.fixture(name="smtp_server")
def smtp_server_fixture() -> Iterator[SmtpServer]:
    """A running recording SMTP server, stopped after the test."""
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
