"""Collision safety through HTTP: presence (who else views or types, by name, expiring, for
viewers only), every stale action refused with what changed, pages that carry the version,
and no reply box where no reply can go out."""

from __future__ import annotations

import asyncio
import html
import json
import re
from datetime import timedelta
from typing import Any

import pytest

from inbox.model import utcnow
from tests.integration.collision_support import PASSWORD, Team, team_fixture  # noqa: F401

pytestmark = pytest.mark.integration


async def sign_in(t: Team, who: str) -> None:
    t.client.session.cookie_jar.clear()
    resp = await t.client.post("/login", data={"email": f"{who}@example.com",
                                               "password": PASSWORD}, allow_redirects=False)
    assert resp.status == 303


def form_fields(page: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to `action`."""
    form = page.split(f'action="{action}"', 1)[1].split("</form>", 1)[0]
    return {name: html.unescape(value) for name, value in
            re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form)}


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> Any:
        return self.now


async def test_colleagues_show_by_name_while_they_view_or_type(team: Team) -> None:
    ref = await team.conversation()
    clock = Clock()
    team.runtime.presence.clock = clock  # the registry's time, moved by the test
    url = f"/api/conversations/{ref}/presence"
    first = await team.client.post(url, json={"typing": True}, headers=team.auth("dana"))
    assert first.status == 200
    assert await first.json() == {"viewers": [], "summary": "", "version": 1}
    seen = await (await team.client.get(url, headers=team.auth("sam"))).json()
    assert seen == {"viewers": [{"name": "Dana", "typing": True}],
                    "summary": "Dana is typing…", "version": 1}
    await team.client.post(url, json={}, headers=team.auth("sam"))
    dana_sees = await (await team.client.get(url, headers=team.auth("dana"))).json()
    assert dana_sees["viewers"] == [{"name": "Sam", "typing": False}]  # never herself
    queue = await (await team.client.get("/api/presence", headers=team.auth("sam"))).json()
    assert queue == {"conversations": {ref: [{"name": "Dana", "typing": True}]}}

    await sign_in(team, "sam")  # the page, without JavaScript, says it too
    page = await (await team.client.get(f"/conversations/{ref}")).text()
    assert "Dana is typing…" in page and ref not in page.split('class="presence"')[1][:80]

    clock.now += timedelta(seconds=12)  # Dana stopped typing (no heartbeat since)
    assert (await (await team.client.get(url, headers=team.auth("sam"))).json())[
        "summary"] == "Dana is viewing"
    clock.now += timedelta(seconds=20)  # ... and closed the tab without a word
    assert (await (await team.client.get(url, headers=team.auth("sam"))).json())[
        "viewers"] == []
    await team.client.post(url, json={"typing": False}, headers=team.auth("dana"))
    await team.client.post(url, json={"viewing": False}, headers=team.auth("dana"))  # left
    assert (await (await team.client.get(url, headers=team.auth("sam"))).json())[
        "viewers"] == []


async def test_presence_is_for_those_who_may_read_the_conversation(team: Team) -> None:
    ref = await team.conversation()
    url = f"/api/conversations/{ref}/presence"
    for method, path in (("GET", url), ("POST", url), ("GET", "/api/presence")):
        denied = await team.client.request(method, path, json={}, headers=team.auth("mark"))
        assert denied.status == 403, path  # marketing reads no conversation
        anonymous = await team.client.request(method, path, json={})
        assert anonymous.status == 401, path
    unknown = await team.client.post("/api/conversations/v-nope/presence", json={},
                                     headers=team.auth("dana"))
    assert unknown.status == 404  # no entries for conversations that do not exist
    bad = await team.client.post(url, json={"typing": "yes"}, headers=team.auth("dana"))
    assert bad.status == 400 and "typing" in (await bad.json())["errors"]
    await sign_in(team, "dana")
    forged = await team.client.post(url, json={"typing": True})
    assert forged.status == 403  # a session's POST carries its CSRF token
    page = await (await team.client.get(f"/conversations/{ref}")).text()
    token = form_fields(page, f"/conversations/{ref}/note")["csrf"]
    ok = await team.client.post(url, json={"typing": True}, headers={"X-CSRF-Token": token})
    assert ok.status == 200
    assert team.runtime.presence.viewers(ref)[0].typing


async def test_every_stale_action_is_refused_with_what_changed(team: Team) -> None:
    ref = await team.conversation()
    base = f"/api/conversations/{ref}"
    sam = await team.client.post(f"{base}/reply", json={"text": "Sam: refunded", "version": 1},
                                 headers=team.auth("sam"))
    assert sam.status == 201
    for action, body in (("reply", {"text": "Dana: refunded"}),
                         ("assign", {"assignee": "me"}), ("status", {"status": "pending"}),
                         ("tags", {"tags": ["billing"]})):
        stale = await team.client.post(f"{base}/{action}", json={**body, "version": 1},
                                       headers=team.auth("dana"))
        refused = await stale.json()
        assert stale.status == 409, action
        assert refused["version"] == 2 and len(refused["changes"]) == 1, action
        assert re.fullmatch(r"Sam replied (just now|\d+ s ago)", refused["changes"][0])
    conv = await team.runtime.store.get_conversation(ref)
    assert (conv.version, conv.assignee, conv.status, conv.tags) == (2, None, "open", ())
    assert team.replies_to_customer() == ["Sam: refunded"]  # one reply, not two
    note = await team.client.post(f"{base}/notes", json={"text": "Sam has it"},
                                  headers=team.auth("dana"))
    assert note.status == 201  # notes never conflict: appended, no version
    resolved = await team.client.post(f"{base}/status", json={"status": "resolved",
                                                              "version": 2},
                                      headers=team.auth("sam"))
    assert resolved.status == 200
    late = await team.client.post(f"{base}/status", json={"status": "pending", "version": 2},
                                  headers=team.auth("dana"))
    assert re.fullmatch(r"Sam set it to resolved (just now|\d+ s ago)",
                        (await late.json())["changes"][0])


async def test_page_actions_carry_the_version_and_say_what_changed(team: Team) -> None:
    ref = await team.conversation()
    await sign_in(team, "dana")
    page = await (await team.client.get(f"/conversations/{ref}")).text()
    status_form = form_fields(page, f"/conversations/{ref}/status")
    assign_form = form_fields(page, f"/conversations/{ref}/assign")
    await team.client.post(f"/api/conversations/{ref}/status",
                           json={"status": "resolved", "version": 1}, headers=team.auth("sam"))
    over = await team.client.post(f"/conversations/{ref}/status",
                                  data={**status_form, "status": "pending"})
    shown = await over.text()
    assert re.search(r"Not done: the conversation changed since you opened it\. Sam set it "
                     r"to resolved (just now|\d+ s ago)\.", shown)
    unversioned = await team.client.post(f"/conversations/{ref}/assign", data={
        "csrf": assign_form["csrf"], "assignee": "dana@example.com"})
    assert "this page is out of date" in await unversioned.text()
    conv = await team.runtime.store.get_conversation(ref)
    assert (conv.status, conv.assignee) == ("resolved", None)


async def test_no_reply_box_where_no_reply_can_go_out(team: Team) -> None:
    conv_id = await team.x_post()
    await sign_in(team, "dana")
    page = await (await team.client.get(f"/conversations/{conv_id}")).text()
    assert 'class="reply"' not in page  # nothing to type into
    assert "No reply can be sent on this conversation." in page
    assert html.escape("X accepts public replies only to posts that mention or quote @acme") \
        in page
    assert 'class="note"' in page  # the team can still take notes
    ref = await team.conversation()
    page = await (await team.client.get(f"/conversations/{ref}")).text()
    assert 'class="reply"' in page and "No reply can be sent" not in page


async def test_presence_changes_are_pushed_on_the_live_stream(team: Team) -> None:
    ref = await team.conversation()
    stream = await team.client.get("/api/events", headers=team.auth("sam"))
    assert stream.status == 200

    async def next_presence() -> dict[str, Any]:
        fields: dict[str, str] = {}
        while True:  # Server-Sent Events: "field: value" lines, a blank line ends an event
            line = (await stream.content.readline()).decode().rstrip("\n")
            if line:
                name, _, value = line.partition(": ")
                fields[name] = value
            elif fields.get("event") == "presence":
                return dict(json.loads(fields["data"]))
            else:
                fields = {}

    for typing in (True, False, True):  # a change each time: one is enough to be seen
        await team.client.post(f"/api/conversations/{ref}/presence", json={"typing": typing},
                               headers=team.auth("dana"))
        try:
            event = await asyncio.wait_for(next_presence(), 5)
            break
        except TimeoutError:
            continue
    else:
        raise AssertionError("no presence event on the live stream")
    assert event["conversation_id"] == ref
    (dana,) = event["data"]["viewers"]
    assert dana["name"] == "Dana" and dana["typing"] == typing
    stream.close()
