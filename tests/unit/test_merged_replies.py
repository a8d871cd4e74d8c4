"""Replies in a conversation merged from two channels answer on the survivor's channel, in
reply to the customer's last message on that channel (never to a post from the other)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from connectors.email_config import SMTP_SCHEMES, SmtpConfig, parse_url
from connectors.email_smtp import EmailSender
from inbox.model import (
    Channel,
    Conversation,
    Customer,
    Delivery,
    Direction,
    Identity,
    IdentityKind,
    Message,
    Status,
)
from inbox.ports import Outbound

NOW = datetime(2026, 11, 30, 9, tzinfo=UTC)


def message(mid: str, channel: Channel, minutes: int, **kw: object) -> Message:
    return Message(id=mid, conversation_id="v1", channel=channel, external_id=f"ext-{mid}",
                   direction=Direction.INBOUND, text=mid,
                   created_at=NOW + timedelta(minutes=minutes),
                   received_at=NOW, customer_id="c1", **kw)  # type: ignore[arg-type]


def test_an_email_reply_answers_the_last_mail_not_a_later_post() -> None:
    customer = Customer("c1", "Ann", NOW, identities=(
        Identity(IdentityKind.EMAIL, "ann@example.com", "c1"),
        Identity(IdentityKind.X, "42", "c1")))
    conv = Conversation("v1", "c1", Channel.EMAIL, Status.OPEN, NOW, NOW, NOW, subject="Bill",
                        ref=10482)
    mail = message("m-mail", Channel.EMAIL, 0, meta={"message_id": "a1@example.com"},
                   author_keys=("ann@example.com",))
    post = message("m-post", Channel.X, 5, meta={"tweet_id": "777"}, author_keys=("42",))
    reply = replace(message("m-out", Channel.EMAIL, 10), direction=Direction.OUTBOUND,
                    delivery=Delivery.PENDING)
    endpoint = parse_url("smtp://127.0.0.1:2525", SMTP_SCHEMES, "k")
    built = EmailSender({"support": SmtpConfig(endpoint, "help@x.example")}).build(
        Outbound(conv, customer, reply, (mail, post)))
    assert built["To"] == "ann@example.com"
    assert built["In-Reply-To"] == "<a1@example.com>"
    assert "[#10482]" in built["Subject"]
