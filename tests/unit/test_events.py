"""Live events carry increasing ids; a reconnect resumes after the last one it saw."""

from __future__ import annotations

from inbox.events import CLOSED, RESYNC, EventBus
from inbox.model import Event


def test_ids_increase_and_a_reconnect_gets_what_it_missed() -> None:
    bus = EventBus(replay=10)
    first = bus.publish(Event("message.created", "c1"))
    second = bus.publish(Event("message.created", "c2"))
    assert first != second and bus.last_id == second
    missed = bus.missed(first)
    assert [(m.id, m.event.conversation_id) for m in missed or []] == [(second, "c2")]
    assert bus.missed(second) == []


def test_unknown_ids_ask_for_a_resync() -> None:
    bus = EventBus(replay=3)
    old = bus.publish(Event("message.created", "c0"))
    for n in range(5):
        bus.publish(Event("message.created", f"c{n + 1}"))
    assert bus.missed(old) is None  # older than the buffer
    other = EventBus()  # a restarted server: another epoch
    assert other.missed(bus.last_id) is None
    for hostile in ("", "-", "x" * 5000, bus.last_id + "0" * 30, "٣-1", bus.last_id + "9"):
        assert bus.missed(hostile) is None


async def test_follow_replays_then_continues_and_ends_on_close() -> None:
    bus = EventBus(replay=10)
    seen = bus.publish(Event("message.created", "c1"))
    bus.publish(Event("conversation.updated", "c1"))
    async with bus.follow(seen) as feed:
        bus.publish(Event("message.created", "c2"))
        kinds = [feed.queue.get_nowait().event.kind for _ in range(2)]
        assert kinds == ["conversation.updated", "message.created"]
        bus.close_feeds()
        assert feed.queue.get_nowait().event.kind == CLOSED
    async with bus.follow("gone-7") as feed:
        assert feed.queue.get_nowait().event.kind == RESYNC


async def test_a_client_too_slow_gets_a_resync_never_a_blocked_publisher() -> None:
    bus = EventBus(buffer=2)
    async with bus.follow() as feed:
        for n in range(5):
            bus.publish(Event("message.created", f"c{n}"))
        items = [feed.queue.get_nowait() for _ in range(feed.queue.qsize())]
    assert items[0].event.kind == RESYNC  # the backlog was dropped: refetch, then go on
    assert items[-1].id == bus.last_id
