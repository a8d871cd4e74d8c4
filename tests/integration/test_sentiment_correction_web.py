"""Agents correct a customer message's sentiment through HTTP: the conversation page's form
(CSRF, the page's version, clear refusals) and its JSON twin; marketing may not; the thread
then says who corrected it."""

from __future__ import annotations

import pytest

from tests.integration.collision_support import Team, team_fixture  # noqa: F401
from tests.integration.test_collision_api import form_fields, sign_in

pytestmark = pytest.mark.integration


async def _customer_message(team: Team) -> tuple[str, str]:
    conv_id = await team.conversation("Still waiting for my refund, charged twice")
    (msg,) = await team.runtime.store.conversation_messages(conv_id)
    return conv_id, msg.id


async def test_an_agent_corrects_a_message_from_the_conversation_page(team: Team) -> None:
    conv_id, mid = await _customer_message(team)
    await sign_in(team, "dana")
    action = f"/conversations/{conv_id}/sentiment"
    page = await (await team.client.get(f"/conversations/{conv_id}")).text()
    fields = form_fields(page, action)
    assert fields["message"] == mid

    forged = await team.client.post(action, data={**fields, "csrf": "nope",
                                                  "sentiment": "negative"},
                                    allow_redirects=False)
    assert forged.status == 403
    done = await team.client.post(action, data={**fields, "sentiment": "negative"})
    shown = await done.text()
    assert "Sentiment saved." in shown
    assert "corrected by Dana" in shown
    assert (await team.runtime.conversations.current(conv_id)).sentiment == "negative"

    stale = await team.client.post(action, data={**fields, "sentiment": "positive"})
    assert "Not done: the conversation changed" in await stale.text()
    page = await (await team.client.get(f"/conversations/{conv_id}")).text()
    fields = form_fields(page, action)
    for hostile in ("angry", "", "x" * 50_000, "<script>alert(1)</script>"):
        refused = await team.client.post(action, data={**fields, "sentiment": hostile})
        assert refused.status == 200
        text = await refused.text()
        assert "Not done: sentiment: must be positive, neutral or negative" in text
        assert "<script>alert(1)" not in text
    other = await team.client.post(action, data={**fields, "message": "m-" + "z" * 5000,
                                                  "sentiment": "positive"})
    assert "Not done: no such message in this conversation" in await other.text()
    (msg,) = await team.runtime.store.conversation_messages(conv_id)
    assert msg.sentiment == "negative"


async def test_the_json_api_corrects_and_refuses_clearly(team: Team) -> None:
    conv_id, mid = await _customer_message(team)
    url = f"/api/conversations/{conv_id}/messages/{mid}/sentiment"
    ok = await team.client.post(url, json={"sentiment": "Positive", "version": 1},
                                headers=team.auth("sam"))
    assert ok.status == 200
    body = (await ok.json())["message"]
    assert body["sentiment"] == "positive"
    assert body["meta"]["corrected_by"] == "Sam"
    assert "model_sentiment" in body["meta"]

    stale = await team.client.post(url, json={"sentiment": "neutral", "version": 1},
                                   headers=team.auth("dana"))
    assert stale.status == 409
    assert any("Sam marked a message positive" in c for c in (await stale.json())["changes"])
    for payload in ({"sentiment": "furious"}, {"sentiment": 1}, {}, {"sentiment": ["x"]},
                    {"sentiment": "neutral", "version": "2"}):
        refused = await team.client.post(url, json=payload, headers=team.auth("dana"))
        assert refused.status == 400
    garbage = await team.client.post(url, data=b"\xff{", headers={
        **team.auth("dana"), "Content-Type": "application/json"})
    assert garbage.status == 400
    missing = await team.client.post(f"/api/conversations/{conv_id}/messages/m-nope/sentiment",
                                     json={"sentiment": "neutral"}, headers=team.auth("dana"))
    assert missing.status == 404
    elsewhere = await team.client.post(f"/api/conversations/v-nope/messages/{mid}/sentiment",
                                       json={"sentiment": "neutral"},
                                       headers=team.auth("dana"))
    assert elsewhere.status == 404
    forbidden = await team.client.post(url, json={"sentiment": "negative"},
                                       headers=team.auth("mark"))
    assert forbidden.status == 403
    anonymous = await team.client.post(url, json={"sentiment": "negative"})
    assert anonymous.status == 401
    (msg,) = await team.runtime.store.conversation_messages(conv_id)
    assert msg.sentiment == "positive"


async def test_marketing_gets_no_control_and_no_way_in(team: Team) -> None:
    conv_id, mid = await _customer_message(team)
    await sign_in(team, "mark")
    refused = await team.client.post(f"/conversations/{conv_id}/sentiment",
                                     data={"message": mid, "sentiment": "positive"},
                                     allow_redirects=False)
    assert refused.status in (403, 404)
    await sign_in(team, "dana")
    page = await (await team.client.get(f"/conversations/{conv_id}")).text()
    assert page.count(f'action="/conversations/{conv_id}/sentiment"') == 1  # inbound only
