"""The voice of the customer counts the customers' own messages on every store: not the
team's replies, notes, auto-replies or bounces; with the team's replies only for a
manager's QA. Trending leaves out stop words, names, numbers and addresses, and compares
the period with the one before."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from inbox.errors import PermissionDenied
from inbox.model import FACETS, Interval, Message, User
from inbox.passwords import Passwords
from inbox.store import Store, WriteBatch
from inbox.usecases.accounts import Accounts
from inbox.usecases.search import Search, date_range
from search.sqlite import SqliteStore
from tests.factories import at, conversation, customer, message
from tests.schema_history import TO_SCHEMA_10, reopened_at

CHEAP = Passwords(time_cost=1, memory_kib=8, parallelism=1)
MANAGER = User("u-meg", "meg@example.com", "manager", "-", name="Meg")
ADMIN = User("u-ada", "ada@example.com", "admin", "-", name="Ada")
AGENT = User("u-dana", "dana@example.com", "agent", "-", name="Dana")
MARKETING = User("u-mark", "mark@example.com", "marketing", "-", name="Mark")


def _said(ext: str, text: str, when: datetime, **kw: object) -> Message:
    channel = "x" if ext.startswith("x") else "email"
    return message(ext, "v2" if channel == "x" else "v1", "c1", text, when, channel, **kw)


async def seed(store: Store) -> None:
    """7 customer messages (5 mails, 2 X posts), 4 replies, 2 notes, 2 auto-replies."""
    said = [_said(f"in{i}", f"my router is broken again, day {i}", at(10 + i)) for i in range(5)]
    said += [_said(f"x{i}", "router broken here too #outage", at(12, i)) for i in range(2)]
    replies = [_said(f"out{i}", "Apologies for the inconvenience, engineer booked. Carmen",
                     at(10 + i, 14), direction="outbound") for i in range(4)]
    notes = [_said(f"note{i}", "escalated internally to engineering squad", at(11, 15 + i),
                   direction="note") for i in range(2)]
    robots = [_said(f"auto{i}", "Automatic reply: out of office until monday", at(13, i),
                    automated=True) for i in range(2)]
    await store.write(WriteBatch(customers=(customer("c1"),),
                                 conversations=(conversation("v1", "c1"),
                                                conversation("v2", "c1", "x")),
                                 messages=(*said, *replies, *notes, *robots)))


def _search(store: Store) -> Search:
    return Search(store, Accounts(store, CHEAP))


@pytest.mark.parametrize("viewer", [MANAGER, MARKETING])
async def test_only_the_customers_voice_is_counted(store: Store, viewer: User) -> None:
    await seed(store)
    search = _search(store)
    for text in ("", "router OR apologies OR escalated OR automatic", "after:2026-11-01"):
        node = await search.parse(text, viewer)
        voc = await search.voc(viewer, node, "day", FACETS)
        assert voc.result.total == 7, text
        assert {m.direction for m in voc.result.messages} == {"inbound"}
        assert not any(m.automated for m in voc.result.messages)
        assert sum(n for _, n in voc.volume) == 7
        assert dict(voc.result.facets["channel"]) == {"email": 5, "x": 2}
        assert sum(n for _, n in await search.volume(viewer, node, "week")) == 7
        exported = await search.voice_messages(viewer, node, None, 100)
        assert len(exported.messages) == 7
    terms = {t.term for t in (await search.voc(viewer, None, "day", FACETS)).trending.terms}
    assert {"router", "broken again"} <= terms
    assert not terms & {"apologies", "inconvenience", "engineer", "escalated", "automatic",
                        "office", "carmen"}


async def test_the_team_option_adds_replies_not_notes_for_managers(store: Store) -> None:
    await seed(store)
    search = _search(store)
    for viewer in (MANAGER, ADMIN):
        voc = await search.voc(viewer, None, "day", FACETS, team=True)
        assert voc.result.total == 11
        assert {m.direction for m in voc.result.messages} == {"inbound", "outbound"}
        assert sum(n for _, n in voc.volume) == 11
        assert sum(n for _, n in voc.result.facets["channel"]) == 11
        terms = {t.term for t in voc.trending.terms}
        assert "apologies" in terms and "escalated" not in terms
        assert len((await search.voice_messages(viewer, None, None, 100, True)).messages) == 11
    for viewer in (AGENT, MARKETING):
        with pytest.raises(PermissionDenied, match="only managers"):
            await search.voc(viewer, None, "day", FACETS, team=True)
        with pytest.raises(PermissionDenied):
            await search.volume(viewer, None, "day", team=True)


async def test_the_plain_search_still_finds_replies_and_notes(store: Store) -> None:
    await seed(store)
    search = _search(store)
    found = await search.messages(MANAGER, await search.parse("", MANAGER), None, 50)
    assert found.total == 15  # search (the agents' tool) is unchanged


async def test_trending_against_the_previous_period(store: Store) -> None:
    """A planted topic in the week of Nov 8 rises against the week before; stop words,
    the team's and the authors' names, numbers, handles and addresses never trend."""
    search = _search(store)
    await Accounts(store, CHEAP).add_user("carmen@example.com", "agent",
                                          "correct horse battery 9", name="Carmen Ruiz")
    background = ["Question about my invoice for this month", "How do I change my plan?",
                  "Is the invoice for this month ready?"]
    before = [_said(f"b{i}", background[i % 3], at(1 + i % 7, 9 + i % 5)) for i in range(12)]
    before.append(_said("b-router", "fibre router dropping since monday", at(3)))
    now = [_said(f"n{i}", background[i % 3], at(8 + i % 7, 9 + i % 5)) for i in range(12)]
    planted = [_said(f"p{i}", f"Hi Carmen, the fibre router keeps dropping, still waiting "
                              f"for the engineer. Order 2026{i:04d}, ring 555-01{i:02d} or "
                              f"write to theresa.k@example.org @acme_help", at(9 + i % 4, 10 + i),
                     author_label="Theresa Kowalski") for i in range(8)]
    await store.write(WriteBatch(customers=(customer("c1"),),
                                 conversations=(conversation("v1", "c1"),
                                                conversation("v2", "c1", "x")),
                                 messages=(*before, *now, *planted)))
    node = await search.parse("after:2026-11-08 before:2026-11-15", MANAGER)
    found = (await search.voc(MANAGER, node, "day", FACETS)).trending
    assert (found.period.start.isoformat(), found.period.end.isoformat()) == (
        "2026-11-08", "2026-11-15")
    assert found.period.previous.start.isoformat() == "2026-11-01"
    terms = {t.term: t for t in found.terms}
    assert {"dropping", "engineer", "fibre router"} <= set(terms)
    assert "still waiting" in terms  # a stop word inside a complaint's phrase
    planted = terms["fibre router"]
    assert (planted.count, planted.previous, planted.change) == (8, 1, 7)
    assert not {"fibre", "router"} & set(terms)  # only ever in the phrase: it says more
    assert (terms["engineer"].count, terms["engineer"].previous) == (8, 0)
    assert not set(terms) & {"hi", "the", "for", "still", "to", "or"}  # stop words
    words = {w for t in terms for w in t.split()}
    assert not words & {"carmen", "ruiz", "theresa", "kowalski", "example", "org", "acme_help",
                        "k"}  # names, addresses, handles
    assert not any(c.isdigit() for w in words for c in w)
    assert "invoice" not in terms  # as frequent as the week before
    assert found.handles == [("@acme_help", 8)]
    assert not found.sampled


async def test_trending_never_shows_a_disguised_contact_to_anyone(store: Store) -> None:
    search = _search(store)
    posts = [_said(f"x{i}", f"router dead, mail florentine [at] privatebox (dot) example or "
                            f"call 202 555 01{i:02d}", at(20, i)) for i in range(5)]
    await store.write(WriteBatch(customers=(customer("c1"),),
                                 conversations=(conversation("v2", "c1", "x"),),
                                 messages=tuple(posts)))
    for viewer in (MANAGER, MARKETING):
        terms = {t.term for t in (await search.voc(viewer, None, "day", FACETS)).trending.terms}
        assert "router dead" in terms
        assert not {w for t in terms for w in t.split()} & {"florentine", "privatebox",
                                                             "example", "dot", "at"}


async def test_an_older_sqlite_file_learns_which_messages_were_automated(
        sqlite_store: SqliteStore) -> None:
    await seed(sqlite_store)
    store = await reopened_at(sqlite_store, TO_SCHEMA_10)
    try:
        search = _search(store)
        voc = await search.voc(MANAGER, None, "day", FACETS)
        assert voc.result.total == 7 and sum(n for _, n in voc.volume) == 7
        await store.write(WriteBatch(messages=(_said("auto9", "Undeliverable", at(14),
                                                     automated=True),)))
        assert (await search.voc(MANAGER, None, "day", FACETS)).result.total == 7
        everything = await search.messages(MANAGER, None, None, 1)
        assert everything.total == 16
    finally:
        await store.aclose()


@pytest.mark.parametrize("text", ["after:1970-01-01 before:2261-12-31", "before:1970-01-02",
                                  "after:2261-12-31", "after:2026-11-20 before:2026-11-01",
                                  "-router", "(router OR after:2026-11-01) -before:2026-11-02"])
async def test_any_period_gives_a_trending_answer(store: Store, text: str) -> None:
    await seed(store)
    search = _search(store)
    found = (await search.voc(MANAGER, await search.parse(text, MANAGER), "day",
                              FACETS)).trending
    assert found.period.start < found.period.end


async def test_a_period_of_more_messages_than_the_sample_is_estimated(store: Store) -> None:
    search = _search(store)
    search.trend_sample = 4
    await seed(store)  # 7 customer messages, all saying "router"
    found = (await search.voc(MANAGER, await search.parse(
        "after:2026-11-08 before:2026-11-15", MANAGER), "day", FACETS)).trending
    assert found.sampled
    assert {t.term: t.count for t in found.terms}["router"] == 7  # 4 of 4, times 7 / 4


async def test_a_listening_hit_is_the_customers_voice(store: Store) -> None:
    await seed(store)
    hit = message("hit1", "v3", "c1", "anyone else's router broken?", at(12, 9), "x")
    await store.write(WriteBatch(conversations=(conversation("v3", "c1", "x",
                                                             status="listening"),),
                                 messages=(hit,)))
    search = _search(store)
    voc = await search.voc(MARKETING, await search.parse("status:listening", MARKETING),
                           "day", FACETS)
    assert [m.id for m in voc.result.messages] == [hit.id]
    assert (await search.voc(MARKETING, None, "day", FACETS)).result.total == 8


async def test_a_range_sentiment_per_day_and_the_period_before(store: Store) -> None:
    """The VoC's date range, its sentiment per bucket (customers only, the team apart) and
    the comparison with the previous period: the same answers on every store."""
    await seed(store)  # a mail and a reply a day Nov 10-14 (not 14), 2 posts on Nov 12
    labelled = [_said(f"s{i}", "awful outage", at(13, 9 + i), sentiment=label)
                for i, label in enumerate(("negative", "negative", "positive"))]
    await store.write(WriteBatch(messages=tuple(labelled)))
    search = _search(store)
    node = date_range(await search.parse("", MANAGER), date(2026, 11, 12), date(2026, 11, 13))
    voc = await search.voc(MANAGER, node, "day", FACETS, team=True)
    assert voc.volume == [("2026-11-12", 4), ("2026-11-13", 5)]  # with 1 reply each day
    assert voc.sentiments == [
        ("2026-11-12", {"positive": 0, "neutral": 0, "negative": 0, "none": 3, "team": 1}),
        ("2026-11-13", {"positive": 1, "neutral": 0, "negative": 2, "none": 1, "team": 1})]
    cmp = voc.comparison
    assert (cmp.period.start, cmp.period.end) == (date(2026, 11, 12), date(2026, 11, 14))
    assert (cmp.now.total, cmp.before.total, cmp.change()) == (9, 4, 5)
    assert (cmp.now.sentiments["negative"], cmp.change("negative")) == (2, 2)
    only = await search.voc(MARKETING, date_range(await search.parse(
        "after:2026-11-13", MARKETING), date(2026, 11, 10), None), "day", ())
    assert only.volume == [("2026-11-13", 4), ("2026-11-14", 1)]  # the later start holds


@pytest.mark.parametrize("text, interval", [("", "day"), ("router", "week"), ("", "month")])
async def test_sentiment_bars_and_comparison_from_the_counts_equal_searching_them(
        store: Store, text: str, interval: Interval) -> None:
    """Without dates of its own, the VoC takes its sentiment bars and its comparison from
    the one search's counts (day and sentiment of every match): the same answers as the
    searches per sentiment it would make otherwise."""
    await seed(store)
    await store.write(WriteBatch(messages=tuple(
        _said(f"m{i}", "router still awful", at(10 + i % 5, 9 + i), sentiment=label)
        for i, label in enumerate(("negative", "positive", "neutral", "negative") * 3))))
    search = _search(store)
    node = await search.parse(text, MARKETING)
    voc = await search.voc(MARKETING, node, interval, FACETS)
    voice = search.voice(MARKETING, node)
    assert voc.result.moods and not voc.result.sampled  # the counted path was taken
    assert voc.sentiments == await search.sentiment_volume(MARKETING, node, interval,
                                                           voc.volume, False, None)
    assert voc.comparison == await search.compare(MARKETING, voice, voc.trending.period, None)
    assert voc.comparison.now.total + voc.comparison.before.total > 0
