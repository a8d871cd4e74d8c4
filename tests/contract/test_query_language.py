"""The search language's operators and pasted text on every store, and parity: the same
query finds the same messages on SQLite (FTS5) and on Elasticsearch.

FTS5 has its own AND, OR, NOT, NEAR, column filters (name:) and '*'; every word reaches it
quoted, so what the parser reads as a word is a word on both stores."""

from __future__ import annotations

import random

import pytest

from inbox.errors import QueryError
from inbox.query import parse
from inbox.store import Store, WriteBatch
from search.sqlite import SqliteStore
from tests.contract.test_store import seed_corpus
from tests.factories import at, conversation, customer, message
from tests.servers.osmem import FixtureStore


async def seed_pasted(store: Store) -> dict[str, str]:
    """Messages with reply prefixes, times, URLs and capitalized operator words in them;
    returns label -> message id."""
    convs = [conversation(f"vP{n}", "cP", channel, 3, status=status)
             for n, channel, status in ((1, "email", "open"), (2, "webform", "open"),
                                        (3, "x", "resolved"), (4, "x", "open"))]
    msgs = {
        "p1": message("p1", "vP1", "cP", "Any news on my refund? Still waiting.", at(3, 8),
                      subject="Re: Refund request"),
        "p2": message("p2", "vP1", "cP", "Please refund order 4411", at(4, 8),
                      subject="Refund request"),
        "p3": message("p3", "vP1", "cP", "Please call me back at 10:30 tomorrow", at(5, 8),
                      subject="Note: call back"),
        "p4": message("p4", "vP2", "cP", "Outage page http://status.example.com/leeds says "
                      "nothing", at(6, 8), channel="webform"),
        "p5": message("p5", "vP4", "cP", "TERMS AND CONDITIONS are not clear", at(7, 8),
                      channel="x"),
        "p6": message("p6", "vP1", "cP", "Ratio a:b is wrong on the invoice", at(8, 8)),
        "p7": message("p7", "vP3", "cP", "Delivered? NOT delivered, the tracking says 12:30",
                      at(9, 8), channel="x"),
        "p8": message("p8", "vP1", "cP", "Our order and shipping were fine", at(10, 8)),
    }
    await store.write(WriteBatch(customers=(customer("cP", "Pat"),), conversations=tuple(convs),
                                 messages=tuple(msgs.values())))
    return {label: m.id for label, m in msgs.items()}


EVERY = {f"p{n}" for n in range(1, 9)}

PASTED_CORPUS = [
    ("Re: Refund request", {"p1"}),  # a pasted subject: its words
    ('"Re: Refund request"', {"p1"}),
    ("RE: refund", {"p1"}),
    ("Refund request", {"p1", "p2"}),
    ("Note: call back", {"p3"}),
    ("10:30", {"p3"}),
    ("12:30 OR 10:30", {"p3", "p7"}),
    ("http://status.example.com/leeds", {"p4"}),
    ("status.example.com", {"p4"}),
    ("a:b", {"p6"}),
    ("Re: OR Note:", {"p1", "p3"}),
    ("(Re: OR Fwd:) refund", {"p1"}),
    ("refund NOT Re:", {"p2"}),
    ("Re : refund", {"p1"}),  # punctuation standing alone separates words
    ("Refund - Re: & more", set()),
    ("Refund - Re:", {"p1"}),
    ("Re: refund channel:email", {"p1"}),
    ("terms AND conditions", {"p5"}),
    ('"AND"', {"p5", "p8"}),  # the word, quoted
    ("and", {"p5", "p8"}),  # lower case: a word
    ("order and shipping", {"p8"}),
    ("order AND shipping", {"p8"}),
    ("order OR shipping", {"p2", "p8"}),
    ("not", {"p5", "p7"}),
    ('"not delivered"', {"p7"}),
    ("NOT delivered", EVERY - {"p7"}),
    ("-delivered", EVERY - {"p7"}),
    ("delivered NOT tracking", set()),
    ("channel:x AND NOT status:resolved", {"p5"}),
    ("NOT channel:x AND NOT channel:email", {"p4"}),
    ("refund OR invoice AND ratio", {"p1", "p2", "p6"}),  # AND before OR
    ("(refund OR invoice) AND ratio", {"p6"}),
    ("NOT refund OR invoice", EVERY - {"p1", "p2"}),  # NOT before OR
    ("NOT (refund OR invoice)", EVERY - {"p1", "p2", "p6"}),
    ("Re:* request", {"p1", "p2"}),  # prefix "re": refund, request
    # FTS5's own syntax reaches it as words: no column filter, no NEAR, no ^
    ("text:refund", set()),  # the words "text refund", not refund in the text column
    ("refund NEAR request", set()),
    ("^refund", {"p1", "p2"}),
    ('"refund" AND "request"', {"p1", "p2"}),
]


@pytest.mark.parametrize(("query", "expected"), PASTED_CORPUS,
                         ids=[q for q, _ in PASTED_CORPUS])
async def test_pasted_text_and_operators(store: Store, query: str, expected: set[str]) -> None:
    ids = await seed_pasted(store)
    result = await store.search(parse(query), None, 50)
    assert {label for label, mid in ids.items() if mid in {m.id for m in result.messages}} \
        == expected
    assert result.total == len(expected)


# --- parity: random queries of the language's pieces, the same ids on both stores ----------

PIECES = ["refund", "Refund", "invoice", "past", "due", "bill", "order", "request", "re*",
          "Re:", "RE:", "Note:", "10:30", "a:b", "http://status.example.com/leeds", "and",
          "not", "or", '"AND"', '"past due"', '"not delivered"', "café", "😡", "NEAR",
          "text:refund", "status.example.com", ":", "-", "AND", "OR", "NOT", "(", ")",
          "channel:x", "channel:email", "sentiment:negative", "lang:en", "direction:inbound",
          "status:open", "tag:billing", "assignee:none", "after:2026-11-05"]
OPERATORS = ["AND", "OR", "NOT", "-"]


def random_queries(count: int, seed: int = 13, pieces: list[str] = PIECES) -> list[str]:
    """Queries that parse, made of pieces (operators more often than not well placed)."""
    rng = random.Random(seed)
    found: list[str] = []
    while len(found) < count:
        parts: list[str] = []
        for _ in range(rng.randint(1, 7)):
            piece = rng.choice(pieces)
            if rng.random() < 0.4:
                parts.append(rng.choice(OPERATORS))
            parts.append(piece)
        text = " ".join(parts).replace("- ", "-")
        try:
            parse(text)
        except QueryError:
            continue
        found.append(text)
    return found


async def test_the_same_query_finds_the_same_messages_on_both_stores(
        sqlite_store: SqliteStore, elastic_store: FixtureStore) -> None:
    for store in (sqlite_store, elastic_store):
        await seed_corpus(store)
        await seed_pasted(store)
    queries = [q for q, _ in PASTED_CORPUS] + random_queries(150)
    differ = []
    for n, query in enumerate(queries):
        node, public = parse(query), n % 2 == 1  # every other one over the public copy
        answers = []
        for store in (sqlite_store, elastic_store):
            result = await store.search(node, None, 50, public=public)
            answers.append(([m.id for m in result.messages], result.total,
                            await store.volume(node, "day", public=public)))
        if answers[0] != answers[1]:
            differ.append(query)
    assert differ == []
