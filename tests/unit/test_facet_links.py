"""Facet links: a value is in the query once, another value of its facet replaces it, and
each active facet's chip takes it out again."""

from __future__ import annotations

from web.facet_links import Chip, chips, with_facet, with_term


def test_a_facet_is_added_once_and_replaces_its_other_value() -> None:
    assert with_facet("", "channel", "x") == "channel:x"
    assert with_facet("refund channel:x", "channel", "x") == "refund channel:x"
    assert with_facet("refund channel:x", "channel", "email") == "refund channel:email"
    assert with_facet("refund channel:x", "lang", "nl") == "refund channel:x lang:nl"
    assert with_facet("(bill OR invoice) -autopay", "sentiment", "negative") == \
        "(bill OR invoice) -autopay sentiment:negative"
    assert with_facet('bad "quote', "channel", "x") == 'bad "quote channel:x'  # as typed


def test_each_active_facet_is_a_chip_that_removes_it() -> None:
    assert chips("refund channel:x lang:nl") == [Chip("channel", "x", "refund lang:nl"),
                                                 Chip("lang", "nl", "refund channel:x")]
    assert chips("channel:x") == [Chip("channel", "x", "")]
    assert chips("refund (channel:x OR channel:email)") == []  # not one value: no chip
    assert chips('bad "quote') == []


def test_a_trending_term_is_added_once_and_a_phrase_quoted() -> None:
    assert with_term("channel:x", "router") == "channel:x router"
    assert with_term("router", "router") == "router"
    assert with_term("", "still waiting") == '"still waiting"'
