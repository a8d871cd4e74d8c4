"""The agent's choices for a reply (X public or DM, email subject and cc): checked in one
place, hostile input refused with the field named; the defaults the composer offers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from connectors.email_config import Endpoint, SmtpConfig
from connectors.email_smtp import EmailSender, default_cc, default_subject, email_reply_form
from connectors.twitter_send import check_x_reply, x_reply_form
from inbox.errors import Refused, ValidationError
from inbox.model import Customer, Identity, IdentityKind
from inbox.ports import Outbound
from inbox.reply_options import MAX_CC, MAX_SUBJECT, Mode, ReplyOptions, reply_options
from tests.factories import at, conversation, customer, message

ANN = replace(customer("c1"), identities=(
    Identity(IdentityKind.EMAIL, "ann@example.com", "c1", created_at=at(1)),))


def _refused(field: str, **raw: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        reply_options(**raw)
    assert list(caught.value.errors) == [field]
    return caught.value.errors[field]


def test_empty_choices_mean_the_channel_defaults() -> None:
    assert reply_options() == ReplyOptions()
    assert reply_options("", "  ", "") == ReplyOptions(None, None, ())


def test_mode_is_public_or_dm() -> None:
    assert reply_options(mode="dm").mode == Mode.DM
    assert reply_options(mode="public").mode == Mode.PUBLIC
    assert _refused("mode", mode="both") == "must be public or dm"
    _refused("mode", mode=["dm"])


def test_a_subject_is_one_bounded_line() -> None:
    assert reply_options(subject="  Re:  your   refund ").subject == "Re: your refund"
    for injected in ("Hi\r\nBcc: everyone@example.com", "Hi\nX: y", "Hi\x00", "Hi\u2028there"):
        assert "one line" in _refused("subject", subject=injected)
    assert str(MAX_SUBJECT) in _refused("subject", subject="s" * (MAX_SUBJECT + 1))
    _refused("subject", subject=5)


def test_cc_takes_a_list_or_text_normalised_and_deduplicated() -> None:
    found = reply_options(cc="Bob@Example.com, carol@example.com;bob@example.com\ndan@x.org")
    assert found.cc == ("bob@example.com", "carol@example.com", "dan@x.org")
    assert reply_options(cc=["bob@example.com"]).cc == ("bob@example.com",)


def test_hostile_cc_is_refused_with_a_clear_reason() -> None:
    many = ", ".join(f"u{i}@example.com" for i in range(1000))
    assert f"at most {MAX_CC}" in _refused("cc", cc=many)
    assert f"at most {MAX_CC}" in _refused("cc", cc=["a@example.com"] * (MAX_CC + 1))
    assert f"at most {MAX_CC}" in _refused("cc", cc="a" * 1_000_000)
    assert "'not-an-address' is not a valid" in _refused("cc", cc="not-an-address")
    assert "line breaks" in _refused("cc", cc=["bob@example.com\r\nBcc: x@example.com"])
    assert "…" in _refused("cc", cc=["x" * 400 + "@example.com"])  # quoted, but cut short
    _refused("cc", cc=[{"address": "bob@example.com"}])
    _refused("cc", cc=7)


def test_each_channel_takes_only_its_own_choices() -> None:
    assert ReplyOptions(mode=Mode.DM).meta("x") == {"reply_mode": "dm"}
    email = ReplyOptions(subject="Re: hi", cc=("bob@example.com",))
    assert email.meta("email") == email.meta("webform") == {
        "subject": "Re: hi", "cc": ["bob@example.com"]}
    with pytest.raises(ValidationError, match="only replies on X"):
        ReplyOptions(mode=Mode.DM).meta("email")
    with pytest.raises(ValidationError, match="only email replies"):
        email.meta("x")


# --- the defaults the composer offers ------------------------------------------------------

def _email_out(meta: dict[str, Any], who: Customer = ANN, subject: str | None = None
               ) -> Outbound:
    conv = replace(conversation("v1", who.id, "email"), subject=subject)
    mail = message("e1", "v1", who.id, "Where is my refund?", at(2), author_keys=(
        "ann@example.com",), meta=meta)
    reply = message("r1", "v1", None, "(a reply)", at(3), direction="outbound",
                    delivery="pending")
    return Outbound(conv, who, reply, (mail,))


def test_the_default_subject_never_stacks_re() -> None:
    assert default_subject("Re: RE: Aw: Refund [#10482]") == "Re: Refund"
    assert default_subject(None) == "Re: Your message"


def test_the_default_cc_is_the_others_on_the_customers_last_email() -> None:
    out = _email_out({"to": ["support@acme.test", "bob@example.com"],
                      "cc": ["Carol@Example.com", "ann@example.com", "bad address"]})
    assert default_cc(out, ["Support@acme.test"]) == ("bob@example.com", "carol@example.com")
    form = email_reply_form(_email_out({"to": ["support@acme.test"]}, subject="Refund"),
                            ["support@acme.test"])
    assert (form.to, form.subject, form.cc) == ("ann@example.com", "Re: Refund", ())


def test_the_sender_puts_the_chosen_subject_and_cc_in_the_headers() -> None:
    sender = EmailSender({"default": SmtpConfig(
        Endpoint("smtp", "plain", "127.0.0.1", 25), "support@acme.test")})
    out = _email_out({"to": ["support@acme.test"]}, subject="Refund")
    out = replace(out, conversation=replace(out.conversation, ref=10482), message=replace(
        out.message, meta={"subject": "Your refund [#1]", "cc": ["bob@example.com",
                                                                 "ann@example.com"]}))
    built = sender.build(out)
    assert built["Subject"] == "Your refund [#10482]"
    assert built["Cc"] == "bob@example.com"  # the customer is in To already
    plain = sender.build(replace(out, message=replace(out.message, meta={})))
    assert plain["Subject"] == "Re: Refund [#10482]" and plain["Cc"] is None


# --- X: public reply or DM ------------------------------------------------------------------

def _x_out(meta: dict[str, Any], mode: str | None = None) -> Outbound:
    who = customer("c2")
    conv = conversation("v2", who.id, "x")
    post = message("p1", "v2", who.id, "acme outage again", at(2), channel="x", meta=meta)
    reply = message("r1", "v2", None, "Sorry, we are on it", at(3), channel="x",
                    direction="outbound", delivery="pending",
                    meta={"reply_mode": mode} if mode else {})
    return Outbound(conv, who, reply, (post,))


HIT = {"kind": "tweet", "tweet_id": "2002", "author_id": "7"}  # a keyword hit


def test_a_keyword_hit_offers_a_dm_and_says_why_not_public() -> None:
    (public, why), (dm, dm_why) = x_reply_form(_x_out(HIT), "acme").modes
    assert (public, dm, dm_why) == ("public", "dm", None)
    assert why is not None and "only to posts that mention or quote @acme" in why
    assert check_x_reply(_x_out(HIT, "dm"), "acme") is True
    with pytest.raises(Refused, match="mention or quote @acme"):
        check_x_reply(_x_out(HIT), "acme")  # no choice: as the customer wrote, in public


def test_a_mention_offers_both_and_a_dm_conversation_only_a_dm() -> None:
    mention = {**HIT, "mentions_brand": True}
    assert x_reply_form(_x_out(mention), "acme").modes == (("public", None), ("dm", None))
    assert check_x_reply(_x_out(mention), "acme") is False
    dm = {"kind": "dm", "dm_conversation_id": "7-1000", "sender_id": "7"}
    assert x_reply_form(_x_out(dm), "acme").modes == (("dm", None),)
    with pytest.raises(Refused, match="no post to reply to in public"):
        check_x_reply(_x_out(dm, "public"), "acme")
    with pytest.raises(Refused, match="no author id"):
        check_x_reply(_x_out({"kind": "tweet", "tweet_id": "1"}, "dm"), "acme")
