"""Who else is on a conversation: heartbeats in, names out, expiry, and the live events."""

from __future__ import annotations

from datetime import timedelta

from inbox.events import EventBus
from inbox.model import User, utcnow
from inbox.presence import Presence, Viewer, sentence

BEN = User("u-ben", "ben@example.com", "agent", "-", name="Ben")
ANA = User("u-ana", "ana@example.com", "agent", "-")  # no name: shown by email
CY = User("u-cy", "cy@example.com", "agent", "-", name="Cy")


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def names(viewers: tuple[Viewer, ...]) -> list[tuple[str, bool]]:
    return [(v.name, v.typing) for v in viewers]


def test_others_by_name_never_yourself() -> None:
    clock = Clock()
    presence = Presence(clock=clock)
    assert presence.heartbeat("v1", BEN) == ()
    assert names(presence.heartbeat("v1", ANA, typing=True)) == [("Ben", False)]
    assert names(presence.viewers("v1", BEN.id)) == [("ana@example.com", True)]
    assert presence.viewers("v2", BEN.id) == ()
    assert {cid: names(v) for cid, v in presence.everywhere(BEN.id).items()} == {
        "v1": [("ana@example.com", True)]}
    presence.heartbeat("v1", ANA, viewing=False)  # left the page
    assert presence.viewers("v1", BEN.id) == () and presence.everywhere(BEN.id) == {}


def test_typing_stops_soon_and_viewers_leave_after_their_last_heartbeat() -> None:
    clock = Clock()
    presence = Presence(clock=clock, ttl=timedelta(seconds=25), typing_ttl=timedelta(seconds=10))
    presence.heartbeat("v1", BEN, typing=True)
    clock.tick(9)
    assert names(presence.viewers("v1")) == [("Ben", True)]
    clock.tick(2)  # no typing heartbeat for 11 s: a closed tab, or a pause
    assert names(presence.viewers("v1")) == [("Ben", False)]
    presence.heartbeat("v1", ANA)
    clock.tick(20)
    assert names(presence.viewers("v1")) == [("ana@example.com", False)]  # Ben: 31 s ago
    clock.tick(5)
    assert presence.viewers("v1") == () and presence.everywhere() == {}


async def test_changes_are_published_once_with_every_viewer() -> None:
    clock, bus = Clock(), EventBus()
    presence = Presence(bus, clock=clock, ttl=timedelta(seconds=25))
    async with bus.subscribe() as queue:
        presence.heartbeat("v1", BEN)
        presence.heartbeat("v1", BEN)  # the same: nothing new to tell
        presence.heartbeat("v1", ANA, typing=True)
        clock.tick(30)
        presence.heartbeat("v2", CY)  # anyone's heartbeat notices who expired elsewhere
    published = [queue.get_nowait() for _ in range(queue.qsize())]
    assert [(e.kind, e.conversation_id, e.data["viewers"]) for e in published[:2]] == [
        ("presence", "v1", [{"id": "u-ben", "name": "Ben", "typing": False}]),
        ("presence", "v1", [{"id": "u-ana", "name": "ana@example.com", "typing": True},
                            {"id": "u-ben", "name": "Ben", "typing": False}])]
    assert [(e.conversation_id, e.data["viewers"]) for e in published[2:]] == [
        ("v1", []), ("v2", [{"id": "u-cy", "name": "Cy", "typing": False}])]


def test_the_registry_is_bounded() -> None:
    clock = Clock()
    presence = Presence(clock=clock, max_entries=3)
    for number in range(5):
        clock.tick(1)
        presence.heartbeat(f"v{number}", BEN)
    assert sorted(presence.everywhere()) == ["v2", "v3", "v4"]


def test_who_is_here_in_words() -> None:
    def viewer(name: str, typing: bool = False) -> Viewer:
        return Viewer(name.lower(), name, typing)

    assert sentence(()) == ""
    assert sentence((viewer("Ben"),)) == "Ben is viewing"
    assert sentence((viewer("Ben", True),)) == "Ben is typing…"
    assert sentence((viewer("Ana", True), viewer("Ben"), viewer("Cy"))) == (
        "Ana is typing…; Ben and Cy are viewing")
    assert sentence(tuple(viewer(n) for n in ("A", "B", "C"))) == "A, B and C are viewing"
    assert sentence(tuple(viewer(n, True) for n in ("A", "B", "C", "D", "E"))) == (
        "A, B and 3 others are typing…")
