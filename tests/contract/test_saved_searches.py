"""Saved searches on every store: a team document everyone who may search sees; who saved
it, managers and admins rename and delete it; a bad query is refused with its position."""

from __future__ import annotations

import pytest

from inbox.errors import NotFound, PermissionDenied, ValidationError
from inbox.model import User
from inbox.passwords import Passwords
from inbox.store import Store
from inbox.usecases.accounts import Accounts
from inbox.usecases.saved_searches import MAX_NAME, SavedSearches
from inbox.usecases.search import Search

CHEAP = Passwords(time_cost=1, memory_kib=8, parallelism=1)

MARKETING = User("u-mark", "mark@example.com", "marketing", "-", name="Mark")
OTHER = User("u-mia", "mia@example.com", "marketing", "-", name="Mia")
AGENT = User("u-dana", "dana@example.com", "agent", "-", name="Dana")
MANAGER = User("u-meg", "meg@example.com", "manager", "-", name="Meg")


async def test_saved_renamed_and_deleted_by_its_owner_or_a_manager(store: Store) -> None:
    searches = SavedSearches(store)
    refunds = await searches.create(MARKETING, "Refunds", "refund   channel:x")
    outage = await searches.create(AGENT, "outage", "outage OR down")
    assert refunds["query"] == "refund channel:x"  # as the language writes it
    assert refunds["owner"] == MARKETING.id and refunds["subscribers"] == []
    assert [d["name"] for d in await searches.all()] == ["outage", "Refunds"]  # by name

    with pytest.raises(PermissionDenied):
        await searches.rename(OTHER, refunds["id"], "Mine now")
    with pytest.raises(PermissionDenied):
        await searches.delete(AGENT, refunds["id"])
    renamed = await searches.rename(MARKETING, refunds["id"], "Refund requests")
    assert (await searches.get(refunds["id"]))["name"] == "Refund requests" == renamed["name"]
    await searches.delete(MANAGER, outage["id"])  # a manager tidies up anyone's
    assert [d["id"] for d in await searches.all()] == [refunds["id"]]
    with pytest.raises(NotFound):
        await searches.get(outage["id"])
    actions = sorted(doc["action"] for _, doc in await store.audit.list(None, 10))
    assert actions == ["search.delete", "search.rename", "search.save", "search.save"]


async def test_anyone_who_searches_subscribes_and_unsubscribes(store: Store) -> None:
    searches = SavedSearches(store)
    doc = await searches.create(MARKETING, "Refunds", "refund")
    await searches.subscribe(OTHER, doc["id"], True)
    await searches.subscribe(OTHER, doc["id"], True)  # twice is once
    await searches.subscribe(AGENT, doc["id"], True)
    assert (await searches.get(doc["id"]))["subscribers"] == [OTHER.id, AGENT.id]
    await searches.subscribe(OTHER, doc["id"], False)
    assert (await searches.get(doc["id"]))["subscribers"] == [AGENT.id]


@pytest.mark.parametrize(("name", "query", "field", "says"), [
    ("Refunds", "refund AND", "query", "at position"),
    ("Refunds", "chanel:x", "query", "at position"),
    ("Refunds", "  ", "query", "required"),
    ("Refunds", "x" * 5_000, "query", "at most"),
    ("Refunds", 42, "query", "required"),
    ("\x00\x07 \u202e", "refund", "name", "required"),
    ("n" * (MAX_NAME + 1), "refund", "name", "at most"),
    (None, "refund", "name", "required"),
])
async def test_a_bad_search_is_refused_and_says_why(store: Store, name: object, query: object,
                                                    field: str, says: str) -> None:
    searches = SavedSearches(store)
    with pytest.raises(ValidationError) as bad:
        await searches.create(MARKETING, name, query)
    assert says in bad.value.errors[field]
    assert await searches.all() == []


async def test_one_name_one_search_and_control_characters_cleaned(store: Store) -> None:
    searches = SavedSearches(store)
    doc = await searches.create(MARKETING, "Re\x07funds\n", "refund")
    assert doc["name"] == "Re funds"
    with pytest.raises(ValidationError) as taken:
        await searches.create(AGENT, "RE FUNDS", "refunds")
    assert "already saved" in taken.value.errors["name"]
    other = await searches.create(AGENT, "Outage", "outage")
    with pytest.raises(ValidationError):
        await searches.rename(AGENT, other["id"], "re funds")
    assert len(await searches.all()) == 2


async def test_marketing_may_not_save_a_lookup_by_address(store: Store) -> None:
    searches = SavedSearches(store, Search(store, Accounts(store, CHEAP)))
    with pytest.raises(ValidationError) as refused:
        await searches.create(MARKETING, "Ann", "from:ann@example.com")
    assert "not available to your role" in refused.value.errors["query"]
    assert (await searches.create(AGENT, "Ann", "from:ann@example.com"))["name"] == "Ann"
