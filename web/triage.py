"""Bulk actions from the queue, as JSON: on a selection (add a tag, set a status, assign),
each conversation carrying the version the agent saw; those not changed are listed with
why (inbox.usecases.bulk)."""

from __future__ import annotations

from functools import partial
from typing import Any

from aiohttp import web

from inbox.errors import ValidationError
from inbox.model import Status
from inbox.usecases import bulk
from inbox.usecases.conversations import checked_tags
from web import params
from web.guards import current_user
from web.keys import context
from web.serialize import json_response

BULK_ACTIONS = ("tag", "status", "assign", "incident")


def setup(app: web.Application) -> None:
    app.router.add_post("/api/conversations/bulk", bulk_action)


def targets(data: dict[str, Any]) -> list[bulk.Target]:
    """"conversations": [{"id", "version"}, ...]: each with the version the agent saw."""
    items = data.get("conversations")
    if not isinstance(items, list) or not items or len(items) > bulk.MAX_BULK:
        raise ValidationError({"conversations": f"must be a list of 1 to {bulk.MAX_BULK} "
                                                '{"id", "version"} objects'})
    found = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) \
                or not 0 < len(item["id"]) <= 100:
            raise ValidationError({"conversations": 'each must be {"id": text, "version": '
                                                    'number}'})
        version = params.json_version(item)
        if version is None:
            raise ValidationError({"version": "each conversation needs the version you saw"})
        found.append(bulk.Target(item["id"], version))
    return found


async def bulk_action(request: web.Request) -> web.Response:
    """{"action": "tag", "tag"} | {"action": "status", "status"} | {"action": "assign",
    "assignee": me, an email, a user id or null} | {"action": "incident", "incident": id}
    (link them to an open incident), with "conversations": [{"id", "version"}].
    200 with {"changed": [conversation, ...], "not_changed": [{"id", "reason" (stale,
    forbidden, not_found, refused), "error", "changes", "version"}, ...]}; a 400 when the
    action itself is wrong (nothing is changed then)."""
    data = await params.json_body(request)
    action = params.text_field(data, "action")
    if action not in BULK_ACTIONS:
        raise ValidationError({"action": f"must be one of {', '.join(BULK_ACTIONS)}"})
    selected = targets(data)
    convs, user = context(request).conversations, current_user(request)
    act: bulk.Act
    if action == "tag":
        tag = checked_tags([params.text_field(data, "tag")])
        if not tag:
            raise ValidationError({"tag": "must not be empty"})
        act = partial(convs.add_tag, tag=tag[0], actor=user)
    elif action == "status":
        status = params.choice(Status, params.text_field(data, "status"), "status")
        if status == Status.SNOOZED:
            raise ValidationError({"status": "a snooze needs a time: snooze them until one"})
        act = partial(convs.set_status, status=status, actor=user)
    elif action == "incident":
        incident = await context(request).incidents.get(params.text_field(data, "incident"))
        act = partial(context(request).incidents.link, actor=user, incident_id=incident["id"])
    else:
        if "assignee" not in data:
            raise ValidationError({"assignee": "required: me, an email address or a user "
                                               "id, or null to unassign"})
        who = await params.assignee(request, params.text_field(data, "assignee") or None)
        act = partial(convs.assign, assignee=who, actor=user)
    done = await bulk.each(selected, act)
    return json_response({"changed": done.changed, "not_changed": done.not_changed})
