"""The demo's sender says plainly that nothing is sent, and refuses what the real channel
would refuse (X: public replies to posts that do not mention the brand)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inbox.app.demo.seed import DemoSender
from inbox.errors import Refused
from inbox.model import Channel, Customer, Identity, IdentityKind
from inbox.ports import Outbound
from tests.factories import at, conversation, customer, message


def _outbound(channel: str, meta: dict[str, object], who: Customer) -> Outbound:
    conv = conversation("v1", who.id, channel)
    post = message("p1", "v1", who.id, "Still no signal", at(2), channel=channel,
                   author_label="@theresa", meta=meta)
    reply = message("r1", "v1", None, "Sorry, we are on it", at(3), channel=channel,
                    direction="outbound", delivery="pending")
    return Outbound(conv, who, reply, (post,))


ANN = replace(customer("c1"), identities=(
    Identity(IdentityKind.EMAIL, "ann@example.com", "c1", created_at=at(1)),))


async def test_a_demo_email_reply_says_it_was_not_sent_and_where_it_would_go() -> None:
    receipt = await DemoSender(Channel.EMAIL).send(_outbound("email", {}, ANN))
    note = str(receipt.meta["demo_note"])
    assert note.startswith("Demo: not sent.") and "by email to ann@example.com" in note


async def test_a_demo_x_reply_to_a_mention_would_be_public() -> None:
    out = _outbound("x", {"tweet_id": "2001", "mentions_brand": True}, customer("c2"))
    receipt = await DemoSender(Channel.X).send(out)
    assert "public reply to @theresa's post" in str(receipt.meta["demo_note"])
    dm = _outbound("x", {"kind": "dm"}, customer("c2"))
    assert "direct message" in str((await DemoSender(Channel.X).send(dm)).meta["demo_note"])


async def test_the_demo_refuses_what_x_and_email_would_refuse() -> None:
    hit = _outbound("x", {"tweet_id": "2002"}, customer("c2"))  # a keyword hit: no mention
    with pytest.raises(Refused, match="mention or quote @northwind_help"):
        DemoSender(Channel.X).check(hit)
    with pytest.raises(Refused):
        await DemoSender(Channel.X).send(hit)
    with pytest.raises(Refused, match="no email address"):
        DemoSender(Channel.WEBFORM).check(_outbound("webform", {}, customer("c3")))


async def test_the_demo_offers_the_real_choices_and_a_dm_on_a_keyword_hit() -> None:
    hit = _outbound("x", {"tweet_id": "2002", "author_id": "7"}, customer("c2"))
    (public, why), dm = DemoSender(Channel.X).reply_form(hit).modes
    assert public == "public" and why and "@northwind_help" in why and dm == ("dm", None)
    chosen = replace(hit, message=replace(hit.message, meta={"reply_mode": "dm"}))
    note = str((await DemoSender(Channel.X).send(chosen)).meta["demo_note"])
    assert "direct message to @theresa" in note and note.startswith("Demo: not sent.")
    form = DemoSender(Channel.WEBFORM).reply_form(_outbound("webform", {}, ANN))
    assert (form.to, form.subject) == ("ann@example.com", "Re: Your message")
