"""What a search finds in customers' words, on every store: stems in five languages,
hyphenated spellings, emoji, Chinese and Japanese, and every Unicode form of the same text.
And parity: these queries find the same messages on SQLite and on Elasticsearch."""

from __future__ import annotations

import unicodedata

import pytest

from inbox.query import parse
from inbox.store import Store, WriteBatch
from search.sqlite import SqliteStore
from tests.contract.test_query_language import random_queries
from tests.factories import at, conversation, customer, message
from tests.schema_history import TO_SCHEMA_11, reopened_at
from tests.servers.osmem import FixtureStore

NFD = unicodedata.normalize("NFD", "Ich warte auf die Rückerstattung für die Rechnung")
TEXTS = {
    "en1": ("en", "I was refunded twice but the refunds never arrived"),
    "en2": ("en", "Still waiting for a refund, note that I paid"),
    "en3": ("en", "This is not what I ordered"),
    "nl1": ("nl", "De gebruikers wachten al dagen op terugbetalingen"),
    "fr1": ("fr", "J'attends toujours les remboursements de mes commandes"),
    "fr2": ("fr", "Voir les notes de la facture"),
    "de1": ("de", NFD),  # decomposed accents, as some mail clients send them
    "de2": ("de", "Die Rückerstattungen wurden nicht überwiesen"),
    "es1": ("es", "Sigo esperando los reembolsos de mis pedidos"),
    "hy1": ("en", "My e-mail and the wi-fi stopped, invoice INV-2026-0042"),
    "hy2": ("en", "Your email says the wifi is fine"),
    "tm1": ("en", "Northwind™ support № 5 took ½ a day, ﬁne print in Ｆｕｌｌ"),
    "em1": ("en", "Love the new app ❤️👍🏽"),
    "em2": ("en", "Outage again 😡😡"),
    "zh1": (None, "我在东京买的手机坏了"),
    "ja1": (None, "東京都の店舗でカードが使えません"),
    "gr1": (None, "Η παραγγελία μου άργησε, Αθήνα"),
}
CASES = [
    # stems of the message's language: every form of a word finds every other
    ("refund", {"en1", "en2"}),
    ("refunding", {"en1", "en2"}),
    ('"refund"', {"en2"}),  # quoted: as written
    ("wait", {"en2"}),
    ("terugbetaling", {"nl1"}),
    ("gebruiker", {"nl1"}),
    ("remboursement", {"fr1"}),
    ("commande", {"fr1"}),
    ("Rückerstattung", {"de1", "de2"}),
    ("ruckerstattungen", {"de1", "de2"}),  # without the accent too
    ("reembolso", {"es1"}),
    ("pedido", {"es1"}),
    ("note", {"en2", "fr2"}),  # French "notes" shares the stem; English "not" never
    ("not", {"en3", "fr2"}),  # the query's language is unknown: French "notes" too
    # hyphenated words: either spelling finds the other, the parts are words too
    ("email", {"hy1", "hy2"}),
    ("e-mail", {"hy1", "hy2"}),
    ("wifi", {"hy1", "hy2"}),
    ("WI-FI", {"hy1", "hy2"}),
    ("mail", {"hy1"}),
    ("INV-2026*", {"hy1"}),
    ("inv-2026-0042", {"hy1"}),
    ('"my e-mail and"', {"hy1"}),
    # compatibility characters and Unicode forms: one text
    ("northwind", {"tm1"}),
    ("tm", {"tm1"}),
    ("fine", {"tm1", "hy2"}),
    ("full", {"tm1"}),
    (unicodedata.normalize("NFD", "Rückerstattung"), {"de1", "de2"}),
    ('"für die rechnung"', {"de1"}),
    # emoji, whatever their variation selector or skin tone
    ("❤", {"em1"}),
    ("❤️", {"em1"}),
    ("👍", {"em1"}),
    ("😡", {"em2"}),
    # Chinese and Japanese: by their words or characters
    ("东京", {"zh1"}),
    ("手机", {"zh1"}),
    ("東京", {"ja1"}),
    ("カード", {"ja1"}),
    ("京", {"ja1", "zh1"}),
    ("東京都の店舗", {"ja1"}),
    ("东京 手机", {"zh1"}),
    # Greek without its accents
    ("αθηνα", {"gr1"}),
    ("ΑΡΓΗΣΕ", {"gr1"}),
]


async def seed(store: Store) -> dict[str, str]:
    conv = conversation("vT", "cT", "email", 3)
    msgs = [message(label, "vT", "cT", text, at(3, 1 + i), lang=lang)
            for i, (label, (lang, text)) in enumerate(TEXTS.items())]
    await store.write(WriteBatch(customers=(customer("cT"),), conversations=(conv,),
                                 messages=tuple(msgs)))
    return {label: m.id for label, m in zip(TEXTS, msgs, strict=True)}


def found(ids: dict[str, str], messages: object) -> set[str]:
    wanted = {m.id for m in messages}  # type: ignore[attr-defined]
    return {label for label, mid in ids.items() if mid in wanted}


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[q for q, _ in CASES])
async def test_customers_words_are_found_in_every_form(store: Store, query: str,
                                                      expected: set[str]) -> None:
    ids = await seed(store)
    for public in (False, True):
        result = await store.search(parse(query), None, 50, public=public)
        assert found(ids, result.messages) == expected, (query, public)
        assert result.total == len(expected)


async def test_an_edited_text_or_language_is_found_by_its_new_words(store: Store) -> None:
    ids = await seed(store)
    [old] = (await store.search(parse("wait"), None, 5)).messages
    edited = old.__class__(**{**{f: getattr(old, f) for f in old.__dataclass_fields__},
                              "text": "Sigo esperando un reembolso", "lang": "es"})
    await store.write(WriteBatch(messages=(edited,)))
    assert (await store.search(parse("wait"), None, 5)).total == 0
    assert found(ids, (await store.search(parse("reembolsos"), None, 5)).messages) == \
        {"en2", "es1"}


async def test_an_older_sqlite_file_is_indexed_again_on_open(
        sqlite_store: SqliteStore) -> None:
    ids = await seed(sqlite_store)
    store = await reopened_at(sqlite_store, TO_SCHEMA_11)  # schema 11: no stems
    try:
        for query, expected in CASES:
            result = await store.search(parse(query), None, 50)
            assert found(ids, result.messages) == expected, query
    finally:
        await store.aclose()


PIECES = ["refund", "refunds", '"refund"', "refun*", "e-mail", "email", "wi-fi", "INV-2026*",
          "❤️", "👍", "东京", "東京", "カード", "Rückerstattung", "rechnung", "gebruiker",
          "remboursement", "reembolso", "note", "not", "northwind", "αθηνα", "OR", "AND",
          "NOT", "channel:email", "lang:de", "lang:en"]


async def test_the_same_words_find_the_same_messages_on_both_stores(
        sqlite_store: SqliteStore, elastic_store: FixtureStore) -> None:
    for store in (sqlite_store, elastic_store):
        await seed(store)
    queries = [q for q, _ in CASES] + random_queries(120, seed=29, pieces=PIECES)
    differ = []
    for n, query in enumerate(queries):
        node, public = parse(query), n % 2 == 1
        answers = [[m.id for m in (await store.search(node, None, 50, public=public)).messages]
                   for store in (sqlite_store, elastic_store)]
        if answers[0] != answers[1]:
            differ.append(query)
    assert differ == []
