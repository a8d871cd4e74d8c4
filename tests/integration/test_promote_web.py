"""A listening hit becomes a care conversation in one click: the button on its page (a form,
no JavaScript, CSRF and version checked) and POST /api/conversations/{id}/promote, for those
who may work; the page after it shows whether X allows a public reply."""

from __future__ import annotations

import html

import pytest

from connectors.twitter import build
from connectors.twitter_config import XSettings
from connectors.twitter_http import Credentials
from inbox.model import IdentityRef
from tests.factories import inbound
from tests.integration.collision_support import Team, team_fixture  # noqa: F401
from tests.integration.test_collision_api import form_fields, sign_in

pytestmark = pytest.mark.integration
BUTTON = "Make it a care conversation"


async def listening_hit(team: Team, post: str = "2001") -> str:
    """A post a listening rule found (it does not mention the brand), with the real X sender
    set up (it sends nothing here); the conversation's id."""
    creds = Credentials(bearer_token="app", consumer_key="ck", consumer_secret="cs",
                        access_token="42-at", access_token_secret="ats")
    _, (x_sender,) = build(XSettings(user_id="42", credentials=creds, username="acme",
                                     api_url="http://127.0.0.1:9"))
    team.runtime.replies.senders["x"] = x_sender
    hit = await team.runtime.ingest([inbound(
        post, "acme broadband down again", channel="x", listening=True,
        authors=(IdentityRef("x", "7", "@ann"),),
        meta={"tweet_id": post, "kind": "post", "author_id": "7", "mentions_brand": False})])
    return hit.stored[0].conversation_id


async def test_the_button_makes_a_hit_a_care_conversation_without_javascript(
        team: Team) -> None:
    conv_id = await listening_hit(team)
    await sign_in(team, "dana")
    assert f'data-id="{conv_id}"' not in await (await team.client.get("/inbox")).text()
    action = f"/conversations/{conv_id}/promote"
    page = await (await team.client.get(f"/conversations/{conv_id}")).text()
    assert BUTTON in page
    fields = form_fields(page, action)

    forged = await team.client.post(action, data={"version": fields["version"]})
    assert forged.status == 403  # no CSRF token: refused
    assert (await team.runtime.conversations.current(conv_id)).status == "listening"

    done = await team.client.post(action, data=fields)
    text = await done.text()
    assert done.status == 200 and "Made it a care conversation" in text
    assert BUTTON not in text and "due" in text  # its deadline is shown
    assert "No public reply:" in text  # X's rule for a post that did not mention the brand
    assert html.escape("X accepts public replies only to posts that mention or quote @acme") \
        in text and 'name="mode" value="dm"' in text  # a direct message it can be
    stored = await team.runtime.conversations.current(conv_id)
    assert stored.status == "open" and stored.due_at is not None
    assert f'data-id="{conv_id}"' in await (await team.client.get("/inbox")).text()

    again = await team.client.post(action, data=fields)  # the page's version is gone
    assert "Not done: the conversation changed" in await again.text()


async def test_the_api_promotes_for_who_may_work_and_refuses_the_rest(team: Team) -> None:
    conv_id = await listening_hit(team)
    url = f"/api/conversations/{conv_id}/promote"
    marketing = await team.client.post(url, json={"version": 1}, headers=team.auth("mark"))
    assert marketing.status == 403
    await sign_in(team, "mark")
    page = await (await team.client.get(f"/conversations/{conv_id}")).text()
    assert BUTTON not in page  # marketing reads hits, does not work them

    done = await team.client.post(url, json={"version": 1}, headers=team.auth("dana"))
    assert done.status == 200
    conv = (await done.json())["conversation"]
    assert conv["status"] == "open" and conv["version"] == 2 and conv["due_at"]

    twice = await team.client.post(url, json={}, headers=team.auth("sam"))
    assert twice.status == 409 and "not a listening hit" in await twice.text()
    stale = await team.client.post(f"/api/conversations/{await listening_hit(team, '2002')}"
                                   "/promote", json={"version": 7}, headers=team.auth("sam"))
    assert stale.status == 409
    bad = await team.client.post(url, json={"version": "2"}, headers=team.auth("dana"))
    assert bad.status == 400
