"""Triage through HTTP: the queue's filters (sentiment, language, priority, ...) kept in the
URL, priority and tags set from the side panel and the API with clear errors, and bulk
actions that say which conversations were not changed and why."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inbox.store import WriteBatch
from tests.integration.collision_support import Team, team_fixture  # noqa: F401
from tests.integration.test_collision_api import form_fields, sign_in

pytestmark = pytest.mark.integration


async def conversations(team: Team, n: int) -> list[str]:
    return [await team.conversation(f"Case {i}: my bill is wrong") for i in range(n)]


def row(page: str, conv_id: str) -> str:
    return page.split(f'id="row-{conv_id}"', 1)[1].split('role="row"', 1)[0]


async def test_the_queue_filters_on_sentiment_language_and_priority(team: Team) -> None:
    ids = await conversations(team, 3)
    found = await team.runtime.store.conversations_by_ids(ids)
    moods = [("negative", "de", "urgent"), ("negative", "en", "normal"), ("positive", "de", "low")]
    await team.runtime.store.restore(WriteBatch(conversations=tuple(
        replace(found[cid], sentiment=s, lang=lang, priority=p)
        for cid, (s, lang, p) in zip(ids, moods, strict=True))))
    await sign_in(team, "dana")

    page = await (await team.client.get("/inbox?sentiment=negative&lang=de")).text()
    assert f'id="row-{ids[0]}"' in page and ids[1] not in page and ids[2] not in page
    assert "urgent priority" in row(page, ids[0]) and "negative" in row(page, ids[0])
    assert "Clear 2 filters" in page
    views = page.split('class="views"', 1)[1]
    mine = views.split('href="/inbox?view=mine', 1)[1].split('"', 1)[0]
    assert "sentiment=negative" in mine and "lang=de" in mine  # the views keep the filters
    opened = await (await team.client.get(
        f"/conversations/{ids[0]}?view=all&sentiment=negative&lang=de")).text()
    assert ids[1] not in opened.split('id="queue-list"', 1)[1].split("</section>", 1)[0]
    waiting = await (await team.client.get("/inbox?lang=de&order=waiting")).text()
    assert f'id="row-{ids[0]}"' in waiting and f'id="row-{ids[2]}"' in waiting
    assert 'value="waiting" selected' in waiting

    api = await team.client.get("/api/conversations?priority=low", headers=team.auth("dana"))
    assert [c["id"] for c in (await api.json())["conversations"]] == [ids[2]]
    for query, name in (("sentiment=angry", "sentiment"), ("lang=english", "lang"),
                        ("priority=critical", "priority"), ("lang=e1", "lang")):
        resp = await team.client.get(f"/api/conversations?{query}", headers=team.auth("dana"))
        assert resp.status == 400 and name in (await resp.json())["errors"]
        assert (await team.client.get(f"/inbox?{query}")).status == 400


async def test_priority_is_set_from_the_side_panel_and_the_api(team: Team) -> None:
    conv_id = await team.conversation()
    url = f"/api/conversations/{conv_id}/priority"
    resp = await team.client.post(url, json={"priority": "High", "version": 1},
                                  headers=team.auth("dana"))
    assert resp.status == 200 and (await resp.json())["conversation"]["priority"] == "high"
    stale = await team.client.post(url, json={"priority": "low", "version": 1},
                                   headers=team.auth("sam"))
    assert stale.status == 409
    assert any("Dana set the priority to high" in c for c in (await stale.json())["changes"])
    for body in ({"priority": "critical", "version": 2}, {"priority": 3}, {}):
        refused = await team.client.post(url, json=body, headers=team.auth("dana"))
        assert refused.status == 400 and "priority" in (await refused.json())["errors"]
    assert (await team.client.post(url, json={"priority": "low"},
                                   headers=team.auth("mark"))).status == 403
    assert (await team.runtime.conversations.current(conv_id)).priority == "high"

    await sign_in(team, "sam")
    action = f"/conversations/{conv_id}/priority"
    page = await (await team.client.get(f"/conversations/{conv_id}")).text()
    assert "<option selected>high</option>" in page.split(f'action="{action}"', 1)[1]
    done = await team.client.post(action, data={**form_fields(page, action),
                                                "priority": "urgent"})
    assert "Priority saved." in await done.text()
    assert "urgent priority" in row(await (await team.client.get("/inbox")).text(), conv_id)
    again = await team.client.post(action, data={**form_fields(page, action),
                                                 "priority": "low"})  # the page is stale
    assert "Not done: the conversation changed" in await again.text()
    assert (await team.runtime.conversations.current(conv_id)).priority == "urgent"


async def test_tags_are_checked_with_clear_errors(team: Team) -> None:
    conv_id = await team.conversation()
    url = f"/api/conversations/{conv_id}/tags"
    for tags, says in ((["late delivery"], "one word"), (["x" * 51], "at most 50"),
                       ([f"t{i}" for i in range(31)], "at most 30"), (["<b>"], "one word")):
        resp = await team.client.post(url, json={"tags": tags}, headers=team.auth("dana"))
        assert resp.status == 400 and says in (await resp.json())["errors"]["tags"]
    ok = await team.client.post(url, json={"tags": ["Late-Delivery", "q4/2026", "vip"],
                                           "version": 1}, headers=team.auth("dana"))
    assert (await ok.json())["conversation"]["tags"] == ["late-delivery", "q4/2026", "vip"]

    await sign_in(team, "sam")
    action = f"/conversations/{conv_id}/tags"
    page = await (await team.client.get(f"/conversations/{conv_id}")).text()
    assert 'value="late-delivery q4/2026 vip"' in page
    bad = await team.client.post(action, data={**form_fields(page, action),
                                               "tags": "vip, late delivery!"})
    assert "Not done: tags: a tag is one word" in await bad.text()
    done = await team.client.post(action, data={**form_fields(page, action),
                                                "tags": "vip, churn-risk"})
    assert "Tags saved." in await done.text()
    queue_row = row(await (await team.client.get("/inbox?tag=churn-risk")).text(), conv_id)
    assert ">vip<" in queue_row and ">churn-risk<" in queue_row


async def test_bulk_actions_say_which_conversations_were_not_changed(team: Team) -> None:
    ids = await conversations(team, 3)
    moved = await team.client.post(f"/api/conversations/{ids[1]}/assign", json={
        "assignee": "me", "version": 1}, headers=team.auth("sam"))  # Dana's page is stale
    assert moved.status == 200
    selection = [{"id": cid, "version": 1} for cid in ids] + [{"id": "v-gone", "version": 1}]
    resp = await team.client.post("/api/conversations/bulk", json={
        "action": "tag", "tag": "VIP", "conversations": selection}, headers=team.auth("dana"))
    assert resp.status == 200
    body = await resp.json()
    assert sorted(c["id"] for c in body["changed"]) == sorted([ids[0], ids[2]])
    stale, gone = body["not_changed"]
    assert (stale["id"], stale["reason"], stale["version"]) == (ids[1], "stale", 2)
    assert any("Sam assigned it" in c for c in stale["changes"])
    assert (gone["id"], gone["reason"]) == ("v-gone", "not_found")
    found = await team.runtime.store.conversations_by_ids(ids)
    assert [found[c].tags for c in ids] == [("vip",), (), ("vip",)]

    again = await team.client.post("/api/conversations/bulk", json={
        "action": "tag", "tag": "refund", "conversations": [
            {"id": ids[0], "version": 2}, {"id": ids[1], "version": 2}]},
        headers=team.auth("dana"))
    assert not (await again.json())["not_changed"]
    found = await team.runtime.store.conversations_by_ids(ids)
    assert found[ids[0]].tags == ("vip", "refund") and found[ids[1]].tags == ("refund",)

    status = await team.client.post("/api/conversations/bulk", json={
        "action": "status", "status": "pending", "conversations": [
            {"id": c.id, "version": c.version} for c in found.values()]},
        headers=team.auth("dana"))
    assert len((await status.json())["changed"]) == 3
    found = await team.runtime.store.conversations_by_ids(ids)
    assign = await team.client.post("/api/conversations/bulk", json={
        "action": "assign", "assignee": "sam@example.com", "conversations": [
            {"id": c.id, "version": c.version} for c in found.values()]},
        headers=team.auth("dana"))
    assert len((await assign.json())["changed"]) == 3
    sam = [u for u in (await team.runtime.accounts.users()) if u.email == "sam@example.com"]
    found = await team.runtime.store.conversations_by_ids(ids)
    assert {c.assignee for c in found.values()} == {sam[0].id}
    assert {c.status for c in found.values()} == {"pending"}
    assert all(c.pending_since is not None for c in found.values())  # resolution paused


@pytest.mark.parametrize(("body", "field"), [
    ({"action": "delete"}, "action"),
    ({"action": "tag", "tag": "two words"}, "tags"),
    ({"action": "tag", "tag": ""}, "tag"),
    ({"action": "status", "status": "snoozed"}, "status"),
    ({"action": "status", "status": "closed"}, "status"),
    ({"action": "assign", "assignee": "nobody@example.com"}, "assignee"),
    ({"action": "assign"}, "assignee"),
    ({"action": "tag", "tag": "vip", "conversations": []}, "conversations"),
    ({"action": "tag", "tag": "vip", "conversations": [{"id": "x"}]}, "version"),
    ({"action": "tag", "tag": "vip", "conversations": [{"id": 3, "version": 1}]},
     "conversations"),
    ({"action": "tag", "tag": "vip", "conversations": [{"id": "x", "version": 1}] * 201},
     "conversations"),
])
async def test_a_wrong_bulk_action_is_a_400_and_changes_nothing(
        team: Team, body: dict[str, object], field: str) -> None:
    conv_id = await team.conversation()
    body = {"conversations": [{"id": conv_id, "version": 1}], **body}
    resp = await team.client.post("/api/conversations/bulk", json=body,
                                  headers=team.auth("dana"))
    assert resp.status == 400 and field in (await resp.json())["errors"]
    assert (await team.runtime.conversations.current(conv_id)).version == 1


async def test_only_who_may_work_acts_in_bulk(team: Team) -> None:
    conv_id = await team.conversation()
    resp = await team.client.post("/api/conversations/bulk", json={
        "action": "status", "status": "resolved",
        "conversations": [{"id": conv_id, "version": 1}]}, headers=team.auth("mark"))
    assert resp.status == 403
    await sign_in(team, "dana")  # a session without its CSRF token
    resp = await team.client.post("/api/conversations/bulk", json={
        "action": "status", "status": "resolved",
        "conversations": [{"id": conv_id, "version": 1}]})
    assert resp.status == 403
    assert (await team.runtime.conversations.current(conv_id)).status == "open"
