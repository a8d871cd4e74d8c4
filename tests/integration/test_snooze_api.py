"""Snooze through HTTP: POST /api/conversations/{id}/snooze moves a conversation from the
open queue to the Snoozed view (with its wake time) until it wakes; stale versions, bad
times and roles without the right are refused with a clear 4xx."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from inbox.model import utcnow
from tests.integration.collision_support import Team, team_fixture  # noqa: F401
from tests.integration.test_collision_api import form_fields, sign_in

pytestmark = pytest.mark.integration


def in_hours(hours: float) -> str:
    return (utcnow() + timedelta(hours=hours)).isoformat()


async def test_a_snoozed_conversation_moves_to_the_snoozed_view_until_it_wakes(
        team: Team) -> None:
    conv_id = await team.conversation()
    url = f"/api/conversations/{conv_id}/snooze"
    until = (utcnow() + timedelta(hours=3)).replace(microsecond=0)
    resp = await team.client.post(url, json={"until": until.isoformat().replace("+00:00", "Z"),
                                             "version": 1}, headers=team.auth("dana"))
    assert resp.status == 200
    conv = (await resp.json())["conversation"]
    assert conv["status"] == "snoozed" and conv["version"] == 2
    await sign_in(team, "dana")
    open_queue = await (await team.client.get("/inbox")).text()
    assert f'data-id="{conv_id}"' not in open_queue and ">Snoozed</a>" in open_queue
    snoozed = await (await team.client.get("/inbox?view=snoozed")).text()
    row = snoozed.split(f'data-id="{conv_id}"', 1)[1].split('role="row"', 1)[0]
    assert "wakes <time" in row and "in 3 h" in row
    page = await (await team.client.get(f"/conversations/{conv_id}")).text()
    assert "Snoozed: wakes" in page

    assert await team.runtime.conversations.sweep_snoozed(until) == 1
    assert f'data-id="{conv_id}"' in await (await team.client.get("/inbox")).text()


async def test_a_stale_snooze_is_refused_with_what_changed(team: Team) -> None:
    conv_id = await team.conversation()
    assigned = await team.client.post(f"/api/conversations/{conv_id}/assign", json={
        "assignee": "me", "version": 1}, headers=team.auth("sam"))
    assert assigned.status == 200
    resp = await team.client.post(f"/api/conversations/{conv_id}/snooze", json={
        "until": in_hours(1), "version": 1}, headers=team.auth("dana"))
    assert resp.status == 409
    body = await resp.json()
    assert body["version"] == 2 and any("Sam assigned it" in c for c in body["changes"])


@pytest.mark.parametrize("body", [
    {"until": "yesterday"}, {"until": 1764000000}, {"until": "2026-12-01T09:00:00"},
    {"until": "x" * 10_000}, {}, {"until": "9999-12-31T23:59:59+00:00"},
    {"until": "2020-01-01T00:00:00Z"}, {"until": "\u0661\u0669\u0669\u0669-01-01T00:00Z"},
    {"until": in_hours(1), "version": "2"}])
async def test_a_bad_time_is_a_clear_400(team: Team, body: object) -> None:
    conv_id = await team.conversation()
    resp = await team.client.post(f"/api/conversations/{conv_id}/snooze", json=body,
                                  headers=team.auth("dana"))
    assert resp.status == 400
    assert "until" in await resp.text() or "version" in await resp.text()
    stored = await team.runtime.conversations.current(conv_id)
    assert stored.status == "open" and stored.version == 1


async def test_a_time_beyond_a_year_is_refused(team: Team) -> None:
    conv_id = await team.conversation()
    resp = await team.client.post(f"/api/conversations/{conv_id}/snooze", json={
        "until": in_hours(366 * 24)}, headers=team.auth("dana"))
    assert resp.status == 400 and "within a year" in await resp.text()


async def test_only_who_may_work_snoozes(team: Team) -> None:
    conv_id = await team.conversation()
    resp = await team.client.post(f"/api/conversations/{conv_id}/snooze", json={
        "until": in_hours(1)}, headers=team.auth("mark"))
    assert resp.status == 403
    assert (await team.runtime.conversations.current(conv_id)).status == "open"


async def test_the_page_snoozes_without_javascript_in_the_agents_zone(team: Team) -> None:
    conv_id = await team.conversation()
    await sign_in(team, "dana")
    action = f"/conversations/{conv_id}/snooze"
    page = await (await team.client.get(f"/conversations/{conv_id}")).text()
    zone = ZoneInfo(team.runtime.conversations.sla.calendar.timezone)
    wall = (utcnow() + timedelta(days=2)).astimezone(zone).replace(
        hour=9, minute=0, second=0, microsecond=0)
    done = await team.client.post(action, data={
        **form_fields(page, action), "until": wall.strftime("%Y-%m-%dT%H:%M")})
    assert done.status == 200 and "Snoozed until" in await done.text()
    assert (await team.runtime.conversations.current(conv_id)).snoozed_until == wall
    stale = await team.client.post(action, data={  # the page's version is gone by now
        **form_fields(page, action), "until": wall.strftime("%Y-%m-%dT%H:%M")})
    assert "Not done: the conversation changed" in await stale.text()
    past = await (await team.client.get(f"/conversations/{conv_id}")).text()
    refused = await team.client.post(action, data={
        **form_fields(past, action), "until": "2020-01-01T09:00"})
    assert "must be in the future" in await refused.text()
