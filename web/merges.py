"""Merging conversations and splitting messages out, from the conversation page (the JSON
twins are in web/api.py): "Merge into…", "Split into a new conversation" and the banner
that undoes either (inbox.conversation_merge)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from inbox.collections import MergeDoc
from inbox.conversation_merge import SPLIT, Outcome, name
from inbox.errors import InboxError, StaleVersion, ValidationError
from inbox.model import Conversation
from web import params
from web.guards import current_user
from web.keys import context
from web.references import REFERENCE
from web.render import back
from web.serialize import read_form

ACTIONS = ("merge", "split")  # POST /conversations/{id}/<action>
UNDO_ROUTE = "/conversations/{id}/merges/{merge}/undo"
SHOWN = 5  # the newest merges and splits the page can undo
MAX_TARGET = 100


def setup(app: web.Application) -> None:
    app.router.add_post(UNDO_ROUTE, undo)


@dataclass(frozen=True, slots=True)
class Undoable:
    """A merge into, or a split out of, the conversation on screen, not undone yet."""

    record: MergeDoc
    other: Conversation | None  # the one merged in, or split off

    @property
    def at(self) -> datetime:
        return datetime.fromisoformat(self.record["at"])

    @property
    def split(self) -> bool:
        return self.record.get("kind") == SPLIT


async def undoable(request: web.Request, conv: Conversation) -> list[Undoable]:
    """For the page's undo banner: the newest merges and splits still standing."""
    found = [r for r in await context(request).conversations.merges.history(conv.id)
             if not r["undone_at"]][-SHOWN:]
    if not found:
        return []
    convs = await context(request).conversations.store.conversations_by_ids(
        [r["merged"] for r in found])
    return [Undoable(r, convs.get(r["merged"])) for r in reversed(found)]


async def target(request: web.Request, text: str) -> tuple[str, int | None]:
    """The conversation an agent names: "#10482" or "10482" (its reference), or its id, with
    ":<version>" when picked from the page's list (the version the page showed)."""
    text, _, raw_version = text.strip()[:MAX_TARGET].partition(":")
    version = params.form_version({"version": raw_version})
    found = REFERENCE.fullmatch(text.strip())
    if found:
        conv = await context(request).conversations.by_reference(int(found.group(1)))
        if conv is None:
            raise ValidationError({"into": f"no conversation #{found.group(1)}"})
        return conv.id, version
    if not text:
        raise ValidationError({"into": "pick a conversation or type its #reference"})
    return text, version


async def act(request: web.Request, conv_id: str, action: str, form: Any) -> web.Response:
    """The page's "Merge into…" and "Split" forms; back to the survivor (merge) or to this
    conversation (split), with what happened and the banner that undoes it."""
    merges, user = context(request).conversations.merges, current_user(request)
    try:
        version = params.form_version(form)
        if version is None:
            raise ValidationError({"version": "this page is out of date; reload it"})
        if action == "merge":
            picked = str(form.get("ref", "")).strip() or str(form.get("into", ""))
            into, into_version = await target(request, picked)
            done = await merges.merge(conv_id, into, user, version, into_version)
            raise back(f"/conversations/{done.survivor.id}", said(done))
        message = str(form.get("message", ""))
        done = await merges.split(conv_id, message, user, version,
                                  later=form.get("later") == "1")
        raise back(f"/conversations/{conv_id}", said(done))
    except StaleVersion as exc:
        what = ". ".join(exc.changes) or "Someone changed it"
        flash = (f"Not done: the conversation changed since you opened it. {what}. Check it "
                 "below, then try again if still needed.")
    except InboxError as exc:
        flash = f"Not done: {exc}"
    raise back(f"/conversations/{conv_id}", flash)


def messages(count: int) -> str:
    return f"{count} message" + ("" if count == 1 else "s")


def said(done: Outcome) -> str:
    """What the agent reads after a merge or split."""
    if done.record.get("kind") == SPLIT:
        return (f"Split {messages(len(done.record['messages']))} into a new conversation, "
                f"{name(done.other)}. You can undo it below.")
    return f"Merged {name(done.other)} into this conversation. You can undo it below."


async def undo(request: web.Request) -> web.Response:
    conv_id = request.match_info["id"]
    form = await read_form(request)
    try:
        done = await context(request).conversations.merges.undo(
            conv_id, request.match_info["merge"], current_user(request),
            params.form_version(form))
        if done.record.get("kind") == SPLIT:
            flash = "The split is undone: its messages are back in this conversation."
        else:
            flash = f"The merge is undone: {name(done.other)} is a conversation of its own again."
        if done.repeated:
            flash = "Already undone. " + flash
    except StaleVersion as exc:
        what = ". ".join(exc.changes) or "Someone changed it"
        flash = f"Not undone: the conversation changed since you opened it. {what}."
    except InboxError as exc:
        flash = f"Not undone: {exc}"
    raise back(f"/conversations/{conv_id}", flash)
