"""What changed in a conversation since a version an agent saw, in words an agent reads.

Every agent action that writes a conversation version records who did what (collection
`changes`, key "<conversation>/<version>/<writer>") in the same WriteBatch as the version, so
the record exists exactly when the version was written, and whoever loses a race to that
version finds the winner's record.
Versions written by ingest carry no record: the newest of them are the customer's new
messages, found by the messages' arrival times.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol, cast

from inbox import auth
from inbox.collections import CHANGES, ChangeDoc, CollectionDoc, HasChanges, HasUsers
from inbox.model import Conversation, Direction, Message, User, new_id, utcnow
from inbox.store import Repository

MAX_LISTED = 200


class ChangeLog(Repository, HasChanges, HasUsers, Protocol):
    """Where the change records, the conversations' messages and the users' names are."""


def _prefix(conversation_id: str, version: int) -> str:
    return f"{conversation_id}/{version:010d}/"


def entry(conv: Conversation, actor: User, action: str,
          detail: Mapping[str, Any] | None = None) -> CollectionDoc:
    """Who writes this version of the conversation and why: a document to write in the
    WriteBatch of the version itself."""
    doc = cast(ChangeDoc, {
        "at": conv.updated_at.isoformat(), "version": conv.version, "actor_id": actor.id,
        "actor": actor.name or actor.email, "action": action, **(detail or {})})
    return CHANGES, _prefix(conv.id, conv.version) + new_id("w"), doc


def ago(then: datetime, now: datetime) -> str:
    seconds = int((now - then).total_seconds())
    if seconds < 1:
        return "just now"
    for size, unit in ((86_400, "days"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


async def since(store: ChangeLog, conv: Conversation, version: int, viewer: User,
                now: datetime | None = None) -> list[str]:
    """What happened after `version` of the conversation (now at conv.version), oldest first."""
    if not 1 <= version < conv.version:  # also a made-up version from an API client
        return []
    now = now or utcnow()
    rows = await store.changes.list(_prefix(conv.id, version) + "~",
                                    min(2 * (conv.version - version) + 2, MAX_LISTED))
    by_version: dict[int, ChangeDoc] = {}
    for key, doc in rows:  # one record per version; the first, should there be two
        if key.startswith(f"{conv.id}/") and int(doc.get("version", 0)) <= conv.version:
            by_version.setdefault(int(doc["version"]), doc)
    logged = list(by_version.values())
    users = ({u.id: u.name or u.email for u in await auth.list_users(store)}
             if any(doc.get("assignee") for doc in logged) else {})
    events: list[tuple[datetime | None, str]] = [
        (datetime.fromisoformat(doc["at"]), _sentence(doc, viewer, users)) for doc in logged]
    unlogged = conv.version - version - len(logged)
    if unlogged > 0:
        seen = [doc for key, doc in await store.changes.list(_prefix(conv.id, version), 1)
                if key.startswith(_prefix(conv.id, version))]
        after = datetime.fromisoformat(seen[0]["at"]) if seen else None
        events.extend(_arrivals(await store.conversation_messages(conv.id), unlogged, after))
    events.sort(key=lambda e: (e[0] is None, e[0] or now))
    return [_capital(text) + ("" if at is None else f" {ago(at, now)}") for at, text in events]


def _capital(sentence: str) -> str:
    """The sentence with a capital first letter, unless it starts with an address (a user
    without a name is called by their email, which is written as it is)."""
    if "@" in sentence.split(" ", 1)[0]:
        return sentence
    return sentence[:1].upper() + sentence[1:]


# What an actor did, in words, for the actions whose sentence carries no detail
_DID = {"tags": "changed the tags", "snooze": "snoozed it",
        "promote": "made it a care conversation",
        "merge": "merged another conversation into it",
        "merged": "merged it into another conversation",
        "split": "split messages out of it", "split off": "split it off",
        "unmerge": "undid a merge", "unmerged": "undid its merge",
        "unsplit": "undid a split", "merged back": "merged it back (a split undone)"}


def _sentence(doc: Mapping[str, Any], viewer: User, users: Mapping[str, str]) -> str:
    who = "you" if doc.get("actor_id") == viewer.id else str(doc.get("actor") or "someone")
    action = str(doc.get("action", ""))
    if action == "reply":
        then = f" and set it to {doc['status']}" if doc.get("status") else ""
        return f"{who} replied{then}"
    if action == "status":
        return f"{who} set it to {doc.get('status')}"
    if action == "assign":
        assignee = doc.get("assignee")
        if not assignee:
            return f"{who} unassigned it"
        name = "you" if assignee == viewer.id else users.get(str(assignee), str(assignee))
        return f"{who} assigned it to {name}"
    if action == "priority":
        return f"{who} set the priority to {doc.get('priority')}"
    if action == "sentiment":
        return f"{who} marked a message {doc.get('sentiment')}"
    if action == "wake":
        return "it woke from snooze"
    if action in _DID:
        return f"{who} {_DID[action]}"
    if action == "reply rejected":
        return "a reply could not be delivered"
    return f"{who} changed it ({action})"


def _arrivals(messages: tuple[Message, ...], count: int, after: datetime | None
              ) -> list[tuple[datetime | None, str]]:
    """The newest `count` arrivals not written by an agent: what ingest added since."""
    arrived = [m for m in messages if m.agent is None and m.direction != Direction.NOTE
               and (after is None or m.received_at > after)]
    times = set(sorted({m.received_at for m in arrived}, reverse=True)[:count])
    new = [m for m in arrived if m.received_at in times]
    found: list[tuple[datetime | None, str]] = []
    for kind, one, many in (
            ((Direction.INBOUND, False), "the customer wrote again",
             "the customer wrote {n} new messages, the last"),
            ((Direction.INBOUND, True), "an automatic message arrived",
             "{n} automatic messages arrived, the last"),
            ((Direction.OUTBOUND, False), "a reply was sent from outside the inbox",
             "{n} replies were sent from outside the inbox, the last")):
        group = [m for m in new if (m.direction, m.automated) == kind]
        if group:
            found.append((max(m.received_at for m in group),
                          one if len(group) == 1 else many.format(n=len(group))))
    if len(times) < count:
        others = count - len(times)
        found.append((None, f"it was changed {others} more time{'s' if others > 1 else ''} "
                            "(a customer merge or a message edit)"))
    return found
