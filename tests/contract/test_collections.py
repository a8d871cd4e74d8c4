"""The typed collections and the Store's roles: every backend passes the same tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from inbox import collections as kv
from inbox.collections import CollectionName, LeaseDoc, MergeDoc, UserDoc
from inbox.migrate import copy_store
from inbox.store import Dump, Index, Lifecycle, Repository, Store
from search.sqlite import SqliteStore

ACCESSORS = {  # accessor -> the collection it is
    "users": kv.USERS, "tokens": kv.TOKENS, "sessions": kv.SESSIONS, "cursors": kv.CURSORS,
    "dead_letters": kv.DEAD_LETTERS, "dead_letter_counts": kv.DEAD_LETTER_COUNTS,
    "audit": kv.AUDIT, "idempotency": kv.IDEMPOTENCY, "merges": kv.MERGES,
    "sla_alerts": kv.SLA_ALERTS, "leases": kv.LEASES, "changes": kv.CHANGES,
    "throttle": kv.THROTTLE, "canned": kv.CANNED, "saved_searches": kv.SAVED_SEARCHES,
    "spike_states": kv.SPIKE_STATES, "listening_rules": kv.LISTENING_RULES,
    "listening_counts": kv.LISTENING_COUNTS, "vips": kv.VIPS,
    "notifications": kv.NOTIFICATIONS,
}


def user(email: str, epoch: int = 0) -> UserDoc:
    return {"id": "u-" + email, "email": email, "role": "agent", "password_hash": "h",
            "name": None, "created_at": "2026-11-30T09:00:00+00:00", "disabled": False,
            "epoch": epoch, "last_sign_in": None}


async def test_every_store_plays_every_role(store: Store) -> None:
    assert isinstance(store, Store)
    for role in (Lifecycle, Repository, Index, Dump):
        members = {n: m for n, m in vars(role).items() if not n.startswith("_")}
        assert members and all(hasattr(store, n) for n in members), role
        assert all(callable(getattr(store, n)) for n, m in members.items()
                   if not isinstance(m, property)), role
    assert all(hasattr(store, name) for name in ACCESSORS)


async def test_each_accessor_is_its_own_collection(store: Store) -> None:
    for name in ACCESSORS:
        await getattr(store, name).put("k", {"from": name})
    for name, collection in ACCESSORS.items():
        assert await getattr(store, name).get("k") == {"from": name}
        assert await store.collection(collection).get("k") == {"from": name}
        assert [k for k, _ in await getattr(store, name).list(None, 10)] == ["k"]


async def test_documents_round_trip_by_key_in_key_order(store: Store) -> None:
    await store.users.put("b@x.com", user("b@x.com"))
    await store.users.put("a@x.com", user("a@x.com"))
    await store.users.put("a@x.com", user("a@x.com", epoch=3))  # replaces
    assert await store.users.get("a@x.com") == user("a@x.com", epoch=3)
    assert await store.users.get("missing") is None
    assert [k for k, _ in await store.users.list(None, 10)] == ["a@x.com", "b@x.com"]
    assert await store.users.list("a@x.com", 10) == [("b@x.com", user("b@x.com"))]
    assert [k for k, _ in await store.users.list(None, 1)] == ["a@x.com"]
    await store.users.delete("b@x.com")
    await store.users.delete("never-there")
    assert [k for k, _ in await store.users.list(None, 10)] == ["a@x.com"]
    record: MergeDoc = {"id": "g1", "survivor": "c1", "merged": "c2", "at": "t", "by": "a@x",
                        "identities": [["email", "x@y.z"]], "conversations": ["v1"],
                        "messages": [], "undone_at": None}
    await store.merges.put("c1/g1", record)
    assert await store.merges.get("c1/g1") == record


async def test_put_new_only_takes_a_free_key(store: Store) -> None:
    assert await store.idempotency.put_new("k1", {"message_id": "m1"}) is True
    assert await store.idempotency.put_new("k1", {"message_id": "m2"}) is False
    assert await store.idempotency.get("k1") == {"message_id": "m1"}


async def test_swap_writes_only_over_the_expected_document(store: Store) -> None:
    a1: LeaseDoc = {"owner": "a", "expires": "1"}
    b1: LeaseDoc = {"owner": "b", "expires": "1"}
    a2: LeaseDoc = {"owner": "a", "expires": "2"}
    assert await store.leases.swap("worker", None, a1) is True
    assert await store.leases.swap("worker", None, b1) is False  # taken
    assert await store.leases.swap("worker", b1, a2) is False  # not what is stored
    assert await store.leases.swap("worker", {"expires": "1", "owner": "a"}, a2) is True
    assert await store.leases.get("worker") == a2


async def test_values_json_lacks_are_kept_as_text(store: Store) -> None:
    when = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    odd = CollectionName[str, dict[str, Any]]("cursors")
    await store.collection(odd).put("email:a", {"since": when, "uid": 5})
    assert await store.cursors.get("email:a") == {"since": str(when), "uid": 5}
    assert await store.collection(odd).swap("email:a", {"since": when, "uid": 5},
                                            {"uid": 6}) is True


async def test_migrate_copies_every_collection_but_the_throttle(store: Store, tmp_path: Any
                                                                ) -> None:
    await store.users.put("a@x.com", user("a@x.com"))
    await store.audit.put("a1", {"at": "t", "actor": "a@x.com", "action": "merge",
                                 "target": "c1"})
    await store.throttle.put("pair", {"attempts": 1, "last": "t", "next_at": "t"})
    target = SqliteStore(tmp_path / "copy.db")
    await target.open()
    try:
        report = await copy_store(store, target)
        assert report["users"] == (1, 1) and report["audit"] == (1, 1)
        assert "sign_in_throttle" not in report
        assert await target.users.get("a@x.com") == user("a@x.com")
        assert await target.throttle.get("pair") is None
    finally:
        await target.aclose()
