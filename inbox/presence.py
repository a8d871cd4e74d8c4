"""Who else is viewing or typing a conversation: a small in-memory registry of the serving
process, fed by the agents' heartbeats.

An entry lives `ttl` after its last heartbeat; "typing" holds `typing_ttl` after the last
heartbeat that said so (a closed tab stops typing soon, and leaves a little later). A change
of who is there, or of who types, is published as a "presence" event (data: the viewers, each
{"id", "name", "typing"}), so live clients update without asking; entries that expired are
noticed, and published, on the next heartbeat of anyone.

One process, one registry: with several web processes, each knows the agents it serves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from inbox.events import EventBus
from inbox.model import Event, User, utcnow

TTL = timedelta(seconds=25)
TYPING_TTL = timedelta(seconds=10)
MAX_ENTRIES = 10_000  # every conversation open in every tab of a big team, many times over


@dataclass(frozen=True, slots=True)
class Viewer:
    """Someone on a conversation, as others see them: by name, never by id."""

    id: str  # the user's id: a client leaves itself out; never shown
    name: str
    typing: bool


@dataclass(slots=True)
class _Entry:
    name: str
    seen: datetime
    typed: datetime | None


def display_name(user: User) -> str:
    return user.name or user.email


class Presence:
    """Heartbeats in, viewers out; clock injectable for tests."""

    def __init__(self, events: EventBus | None = None, clock: Callable[[], datetime] = utcnow,
                 ttl: timedelta = TTL, typing_ttl: timedelta = TYPING_TTL,
                 max_entries: int = MAX_ENTRIES) -> None:
        self.events, self.clock = events, clock
        self.ttl, self.typing_ttl, self.max_entries = ttl, typing_ttl, max_entries
        self._by_conv: dict[str, dict[str, _Entry]] = {}
        self._shown: dict[str, tuple[Viewer, ...]] = {}  # as last published, per conversation

    def heartbeat(self, conversation_id: str, user: User, typing: bool | None = None,
                  viewing: bool = True) -> tuple[Viewer, ...]:
        """`user` is on the conversation, or left it (viewing=False); the others there now.

        typing: True while keys are pressed, False when the agent stopped (sent, left the
        box); None says nothing of it (a typing flag then lapses after typing_ttl)."""
        now = self.clock()
        here = self._by_conv.setdefault(conversation_id, {})
        if viewing:
            entry = here.get(user.id)
            if entry is None:
                here[user.id] = _Entry(display_name(user), now, now if typing else None)
            else:
                entry.name, entry.seen = display_name(user), now
                if typing is not None:
                    entry.typed = now if typing else None
            self._bound(now)
        else:
            here.pop(user.id, None)
        self._expire(now)
        return self.viewers(conversation_id, user.id)

    def viewers(self, conversation_id: str, exclude: str | None = None) -> tuple[Viewer, ...]:
        """Who is on the conversation now (but `exclude`, a user id), by name."""
        now = self.clock()
        return tuple(v for v in self._current(conversation_id, now) if v.id != exclude)

    def everywhere(self, exclude: str | None = None) -> dict[str, tuple[Viewer, ...]]:
        """Every conversation someone (but `exclude`) is on, with who."""
        now = self.clock()
        found = {cid: tuple(v for v in self._current(cid, now) if v.id != exclude)
                 for cid in list(self._by_conv)}
        return {cid: viewers for cid, viewers in found.items() if viewers}

    def _current(self, conversation_id: str, now: datetime) -> tuple[Viewer, ...]:
        here = self._by_conv.get(conversation_id, {})
        return tuple(sorted(
            (Viewer(uid, e.name, e.typed is not None and now - e.typed < self.typing_ttl)
             for uid, e in here.items() if now - e.seen < self.ttl),
            key=lambda v: (v.name.lower(), v.id)))

    def _expire(self, now: datetime) -> None:
        """Drop what expired and publish every conversation whose viewers changed."""
        for cid in list(self._by_conv) + [c for c in self._shown if c not in self._by_conv]:
            here = self._by_conv.get(cid, {})
            for uid in [uid for uid, e in here.items() if now - e.seen >= self.ttl]:
                del here[uid]
            if not here:
                self._by_conv.pop(cid, None)
            current = self._current(cid, now)
            if current != self._shown.get(cid, ()):
                self._publish(cid, current)

    def _bound(self, now: datetime) -> None:
        """At most max_entries entries: the least recently seen go first."""
        count = sum(len(here) for here in self._by_conv.values())
        if count <= self.max_entries:
            return
        oldest = sorted((e.seen, cid, uid) for cid, here in self._by_conv.items()
                        for uid, e in here.items())[:count - self.max_entries]
        for _, cid, uid in oldest:
            self._by_conv[cid].pop(uid, None)

    def _publish(self, conversation_id: str, viewers: tuple[Viewer, ...]) -> None:
        if viewers:
            self._shown[conversation_id] = viewers
        else:
            self._shown.pop(conversation_id, None)
        if self.events is not None:
            self.events.publish(Event("presence", conversation_id, None, {
                "viewers": [{"id": v.id, "name": v.name, "typing": v.typing}
                            for v in viewers]}))


def _names(names: list[str]) -> str:
    if len(names) > 3:
        return f"{', '.join(names[:2])} and {len(names) - 2} others"
    return " and ".join(filter(None, (", ".join(names[:-1]), names[-1])))


def sentence(viewers: tuple[Viewer, ...]) -> str:
    """Who else is here, in words: "Ben is typing…; Ana and Cy are viewing" ("" for none)."""
    parts = []
    for doing, names in (("typing…", [v.name for v in viewers if v.typing]),
                         ("viewing", [v.name for v in viewers if not v.typing])):
        if names:
            parts.append(f"{_names(names)} {'is' if len(names) == 1 else 'are'} {doing}")
    return "; ".join(parts)
