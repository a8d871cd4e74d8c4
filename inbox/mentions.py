"""@mentions in internal notes: `@ben` (the part of a colleague's email before the @) or
`@ben@northwind.example` (the whole email), case-insensitive. Only active members of the care
team (who may read conversations) can be mentioned; an unknown or ambiguous name stays text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from inbox.collections import UserDoc
from inbox.permissions import ROLE_PERMISSIONS

# "@" at the start or after a character that cannot end an email's local part, then a
# local part and optionally "@domain"; trailing dots and hyphens are punctuation, not name.
_MENTION = re.compile(r"(?<![\w.%+\-@])@([\w.%+\-]+(?:@[\w\-]+(?:\.[\w\-]+)*)?)", re.ASCII)
MAX_MENTIONS = 20  # of one note: more are left as text


@dataclass(frozen=True, slots=True)
class Mention:
    start: int  # where "@..." starts in the text
    end: int
    user_id: str


def care_team(users: Iterable[UserDoc]) -> list[UserDoc]:
    """The users who can be mentioned: active, and allowed to read conversations."""
    return [u for u in users if not u.get("disabled")
            and "read" in ROLE_PERMISSIONS.get(u.get("role", ""), frozenset())]


def _handles(users: Iterable[UserDoc]) -> dict[str, str | None]:
    """Lower-cased handle -> user id (None: two users share that local part)."""
    found: dict[str, str | None] = {}
    for u in users:
        email = u["email"].lower()
        found[email] = u["id"]
        local = email.partition("@")[0]
        if local:
            found[local] = u["id"] if found.get(local, u["id"]) == u["id"] else None
    return found


def find_mentions(text: str, users: Iterable[UserDoc]) -> list[Mention]:
    """The mentions of known colleagues in `text`, in order (every occurrence)."""
    handles = _handles(care_team(users))
    found: list[Mention] = []
    for match in _MENTION.finditer(text):
        name = match.group(1).rstrip(".-")
        user_id = handles.get(name.lower())
        if user_id is None and "@" in name:  # "@ben@" or an unknown domain: try the local part
            name = name.partition("@")[0].rstrip(".-")
            user_id = handles.get(name.lower())
        if user_id is not None:
            found.append(Mention(match.start(), match.start() + 1 + len(name), user_id))
            if len(found) >= MAX_MENTIONS:
                break
    return found


def mentioned_ids(mentions: Sequence[Mention]) -> list[str]:
    """Each mentioned user once, in the order first mentioned."""
    return list(dict.fromkeys(m.user_id for m in mentions))


def as_meta(mentions: Sequence[Mention]) -> dict[str, Any]:
    """What a note keeps in its meta: who it mentions and where (for highlighting)."""
    if not mentions:
        return {}
    return {"mentions": mentioned_ids(mentions),
            "mention_spans": [[m.start, m.end] for m in mentions]}


def segments(text: str, meta: Mapping[str, Any] | None) -> list[tuple[str, bool]]:
    """The text cut into (part, is_mention) pieces by the spans a note's meta keeps; spans
    that do not fit the text are ignored (the template escapes every part)."""
    spans = (meta or {}).get("mention_spans")
    parts: list[tuple[str, bool]] = []
    at = 0
    for span in spans if isinstance(spans, list) else []:
        if (not isinstance(span, list) or len(span) != 2
                or not all(isinstance(i, int) for i in span)):
            continue
        start, end = span
        if start < at or end <= start or end > len(text) or text[start] != "@":
            continue
        if start > at:
            parts.append((text[at:start], False))
        parts.append((text[start:end], True))
        at = end
    if at < len(text) or not parts:
        parts.append((text[at:], False))
    return parts
