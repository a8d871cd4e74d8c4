"""Searches without contacts (Store `public=True`): no word, phrase or prefix finds a piece
of an address or a number, on every store (trending: tests/contract/test_voice.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inbox.query import parse
from inbox.store import Store, WriteBatch
from tests.factories import at, conversation, customer, message

ADDRESS, NUMBER = "florentine.quixote@privatebox.example", "2025550187"
CONTACT_WORDS = {"florentine", "quixote", "privatebox", "example", NUMBER}


async def seed(store: Store) -> None:
    """Five X posts with the contact and 'router', then background email about billing."""
    moods = ("dead", "slow", "blinking", "broken", "offline")
    posts = [message(f"x{i}", "v2", "c1", f"router {mood}: {ADDRESS} or {NUMBER}", at(20, i),
                     channel="x") for i, mood in enumerate(moods)]
    posts.append(message("x9", "v2", "c1", "router fine now", at(21), channel="x",
                         subject=f"for {ADDRESS}"))
    mails = [message(f"e{i}", "v1", "c1", f"question about billing {i % 3}", at(1 + i % 15))
             for i in range(30)]
    await store.write(WriteBatch(customers=(customer("c1"),),
                                 conversations=(conversation("v1", "c1"),
                                                conversation("v2", "c1", "x")),
                                 messages=(*posts, *mails)))


@pytest.mark.parametrize("query", [
    "florentine", "quixote", "privatebox", "example", NUMBER, "flor*", "quix*", "priv*",
    "2025*", '"florentine quixote"', '"quixote privatebox example"', "florentine quixote",
    "florentine channel:x", "quixote OR nothing"])
async def test_a_hidden_contact_is_found_only_by_who_sees_it(store: Store, query: str) -> None:
    await seed(store)
    assert (await store.search(parse(query), None, 10)).total > 0  # the care team
    hidden = await store.search(parse(query), None, 10, public=True)
    assert (hidden.total, hidden.messages) == (0, ())
    assert await store.volume(parse(query), "day", public=True) == []


async def test_other_words_are_found_as_always(store: Store) -> None:
    await seed(store)
    for query, total in (("router", 6), ('"router slow"', 1), ("rout*", 6),
                         ("router -quixote", 6), ("-quixote channel:x", 6)):
        assert (await store.search(parse(query), None, 10, public=True)).total == total, query
    assert (await store.search(parse("router -quixote"), None, 10)).total == 0
    assert sum(n for _, n in await store.volume(parse("router"), "day", public=True)) == 6


async def test_an_edited_message_is_searched_as_it_now_reads(store: Store) -> None:
    await seed(store)
    post = message("x0", "v2", "c1", "", at(20, 0), channel="x")
    await store.write(WriteBatch(messages=(replace(post, text="quixote is my cat"),)))
    found = await store.search(parse("quixote"), None, 10, public=True)
    assert [m.id for m in found.messages] == [post.id]
    await store.write(WriteBatch(messages=(replace(post, text=f"write {ADDRESS}"),)))
    assert (await store.search(parse("quixote"), None, 10, public=True)).total == 0
    assert (await store.search(parse("write"), None, 10, public=True)).total == 1
