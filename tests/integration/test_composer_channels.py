"""The channel-aware composer over HTTP, against a real SMTP server (aiosmtpd) and the local
X API fake: email subject and cc reach the SMTP server (hostile ones are refused, nothing
sent, the draft kept); on an X keyword hit the agent sends a DM to the post's author, and a
DM the customer does not accept is "not delivered" with the draft kept."""

from __future__ import annotations

import html

import pytest

from tests.fakes.x_api import FakeXApi
from tests.integration.collision_support import Team, team_fixture  # noqa: F401
from tests.integration.composer_support import (  # noqa: F401
    email_conversation,
    keyword_hit,
    x_api_fixture,
)
from tests.integration.test_collision_api import form_fields, sign_in

pytestmark = pytest.mark.integration


async def reply_page(team: Team, conv_id: str) -> str:
    resp = await team.client.get(f"/conversations/{conv_id}")
    assert resp.status == 200
    return await resp.text()


async def test_the_email_composer_offers_re_subject_and_the_others_as_cc(team: Team) -> None:
    conv_id = await email_conversation(team)
    await sign_in(team, "dana")
    page = await reply_page(team, conv_id)
    assert "Reply by email to <strong>ann@example.com</strong>" in page
    assert 'name="subject" value="Re: Refund"' in page  # never "Re: Re:"
    assert 'name="cc" value="bob@example.com, carol@example.com"' in page  # not us, not Ann

    resp = await team.client.post(f"/conversations/{conv_id}/reply", data={
        **form_fields(page, f"/conversations/{conv_id}/reply"), "text": "Refunded today.",
        "subject": "Re: Refund", "cc": "bob@example.com, carol@example.com"})
    assert resp.status == 200 and "Reply sent." in await resp.text()
    [sent] = team.smtp.handler.received
    mail = sent.message
    assert sorted(sent.rcpt_tos) == ["ann@example.com", "bob@example.com", "carol@example.com"]
    assert mail["To"] == "ann@example.com" and mail["Cc"] == "bob@example.com, carol@example.com"
    assert mail["Subject"].startswith("Re: Refund [#")
    assert mail["In-Reply-To"] == "<refund-1@example.com>"  # threading as before
    assert mail["References"] == "<older@example.com> <refund-1@example.com>"
    thread = await reply_page(team, conv_id)
    assert "Cc: bob@example.com, carol@example.com" in thread


async def test_a_web_form_is_answered_by_email_with_the_subject_and_cc_chosen(
        team: Team) -> None:
    ref = await team.conversation()
    await sign_in(team, "dana")
    page = await reply_page(team, ref)
    assert "Reply by email to <strong>ann@example.com</strong> (they wrote through a web form)" \
        in page and 'name="subject" value="Re: ' in page
    resp = await team.client.post(f"/api/conversations/{ref}/reply", headers=team.auth("dana"),
                                  json={"text": "We are on it.", "subject": "Your bill",
                                        "cc": ["Bob@Example.com"]})
    assert resp.status == 201
    stored = (await resp.json())["message"]
    assert stored["meta"]["cc"] == ["bob@example.com"]
    [sent] = team.smtp.handler.received
    assert sorted(sent.rcpt_tos) == ["ann@example.com", "bob@example.com"]
    assert sent.message["Cc"] == "bob@example.com"
    assert sent.message["Subject"] == stored["meta"]["subject"]
    assert sent.message["Subject"].startswith("Your bill [#")


async def test_hostile_subject_and_cc_are_refused_nothing_sent_the_draft_kept(
        team: Team) -> None:
    conv_id = await email_conversation(team)
    url = f"/api/conversations/{conv_id}/reply"
    many = ", ".join(f"u{i}@example.com" for i in range(1000))
    for body, field in (({"subject": "Hi\r\nBcc: all@example.com"}, "subject"),
                        ({"subject": "s" * 100_000}, "subject"),
                        ({"cc": many}, "cc"),
                        ({"cc": ["bob@example.com\nBcc: all@example.com"]}, "cc"),
                        ({"cc": "not an address"}, "cc"),
                        ({"mode": "dm"}, "mode")):  # no DMs by email
        resp = await team.client.post(url, headers=team.auth("dana"),
                                      json={"text": "Refunded.", **body})
        assert resp.status == 400, body
        assert field in (await resp.json())["errors"], body

    await sign_in(team, "dana")
    page = await reply_page(team, conv_id)
    resp = await team.client.post(f"/conversations/{conv_id}/reply", data={
        **form_fields(page, f"/conversations/{conv_id}/reply"), "text": "My kept draft",
        "subject": "Hi\r\nBcc: all@example.com", "cc": "bob@example.com"})
    shown = await resp.text()
    assert resp.status == 400
    assert "Your reply was not sent: subject: must be one line" in shown
    assert ">My kept draft</textarea>" in shown and 'value="bob@example.com"' in shown
    assert team.smtp.handler.received == []
    messages = await team.runtime.store.conversation_messages(conv_id)
    assert [m.direction for m in messages] == ["inbound"]  # nothing stored either


# --- X: public reply or DM ---------------------------------------------------------------------

async def test_a_dm_chosen_on_a_keyword_hit_reaches_the_author(team: Team,
                                                              x_api: FakeXApi) -> None:
    conv_id = await keyword_hit(team, x_api)
    await sign_in(team, "dana")
    page = await reply_page(team, conv_id)
    assert "No reply can be sent" not in page
    assert 'value="public" aria-describedby="x-rule" disabled' in page
    assert 'value="dm" aria-describedby="x-rule" checked' in page
    assert html.escape("X accepts public replies only to posts that mention or quote @acme") \
        in page and "only if they accept direct messages" in page

    resp = await team.client.post(f"/api/conversations/{conv_id}/reply",
                                  headers=team.auth("dana"),
                                  json={"text": "Sorry! Could you DM us your account?"})
    assert resp.status == 409 and "mention or quote @acme" in (await resp.json())["error"]
    resp = await team.client.post(f"/api/conversations/{conv_id}/reply",
                                  headers=team.auth("dana"),
                                  json={"text": "Sorry! Which town are you in?", "mode": "dm"})
    assert resp.status == 201
    meta = (await resp.json())["message"]["meta"]
    assert (meta["kind"], meta["reply_mode"]) == ("dm", "dm")
    [dm] = x_api.posted_dms
    author = x_api.user_by_name("ann_x")
    assert author is not None
    assert dm["path"] == f"/2/dm_conversations/with/{author['id']}/messages"
    assert dm["body"] == {"text": "Sorry! Which town are you in?"}
    assert x_api.posted_tweets == []
    assert "sent as a DM" in await reply_page(team, conv_id)


async def test_a_dm_the_customer_does_not_accept_is_not_delivered_and_the_draft_kept(
        team: Team, x_api: FakeXApi) -> None:
    conv_id = await keyword_hit(team, x_api, accepts_dms=False)
    await sign_in(team, "dana")
    page = await reply_page(team, conv_id)
    resp = await team.client.post(f"/conversations/{conv_id}/reply", data={
        **form_fields(page, f"/conversations/{conv_id}/reply"), "text": "Please DM us",
        "mode": "dm"})
    shown = await resp.text()
    assert resp.status == 200
    assert "Not delivered: your reply did not reach the customer" in shown
    assert "You cannot send messages to this user" in shown
    assert "may not accept direct messages from @acme" in shown
    assert ">Please DM us</textarea>" in shown
    assert 'value="dm" aria-describedby="x-rule" checked' in shown  # the choice kept too
    [out] = [m for m in await team.runtime.store.conversation_messages(conv_id)
             if m.direction == "outbound"]
    assert out.delivery == "rejected" and out.meta["reply_mode"] == "dm"
