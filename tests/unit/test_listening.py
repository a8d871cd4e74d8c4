"""Listening, pure: the X query a rule compiles to, what is wrong with a query, a hit's
priority (reach x negativity x VIP mapped onto the priority levels) and the cost estimate."""

from __future__ import annotations

import math

import pytest

from inbox.listening import (
    MAX_QUERY,
    PriorityWeights,
    compiled_query,
    monthly_cost,
    negativity_of,
    priority,
    query_problem,
    reach_of,
)
from inbox.model import PRIORITIES


def test_a_rule_compiles_to_its_query_without_retweets() -> None:
    assert compiled_query("acme outage") == "acme outage -is:retweet"
    assert compiled_query("  acme (down OR outage)  ") == "(acme (down OR outage)) -is:retweet"
    assert compiled_query("acme OR globex") == "(acme OR globex) -is:retweet"  # AND first
    assert compiled_query("acme is:retweet") == "acme is:retweet"  # asked for: kept


@pytest.mark.parametrize("query", [None, 3, ["acme"], "", "   ", "acme\x00", "acme\ndown",
                                   "acme\u202edown", "a" * (MAX_QUERY - 11)])
def test_a_bad_query_says_why(query: object) -> None:
    assert query_problem(query)


def test_a_query_fits_with_what_we_add() -> None:
    longest = "a" * (MAX_QUERY - len(" -is:retweet"))
    assert query_problem(longest) is None and len(compiled_query(longest)) == MAX_QUERY
    assert "512" in (query_problem(longest + "a") or "")
    assert query_problem("ação 🚀 lang:pt") is None
    grouped = "a OR " + "b" * (MAX_QUERY - len("() -is:retweet") - 5)
    assert query_problem(grouped) is None and len(compiled_query(grouped)) == MAX_QUERY
    assert query_problem(grouped + "b")


def test_reach_is_a_log_scale_up_to_full_reach() -> None:
    assert reach_of(None, 100_000) == reach_of(0, 100_000) == reach_of(-5, 100_000) == 0
    assert reach_of(100_000, 100_000) == 1 == reach_of(10**9, 100_000)
    assert reach_of(316, 100_000) == pytest.approx(0.5, abs=0.01)
    assert reach_of(10, 100_000) < reach_of(1_000, 100_000) < reach_of(50_000, 100_000)


def test_negativity_is_the_confidence_of_a_negative_label() -> None:
    assert negativity_of("negative", 0.9) == 0.9
    assert negativity_of("positive", 0.9) == negativity_of("neutral", 1.0) == 0
    assert negativity_of(None, None) == negativity_of("negative", None) == 0
    assert negativity_of("negative", math.nan) == 0 and negativity_of("negative", 7) == 1


def test_priority_is_reach_times_negativity_times_vip_on_the_levels() -> None:
    quiet = priority(None, None, None, False)
    assert quiet.score == 1 and quiet.level == "low"
    loud = priority(100_000, None, None, False)  # (1 + 1) x 1 x 1
    assert loud.score == 2 and loud.level == "normal"
    angry = priority(100_000, "negative", 1.0, False)  # 2 x 3
    assert angry.score == 6 and angry.level == "urgent"
    assert priority(None, "negative", 1.0, False).level == "high"  # 1 x 3
    vip = priority(None, "negative", 1.0, True)  # 1 x 3 x 2
    assert vip.score == 6 and vip.level == "urgent" and vip.vip
    assert vip.formula == ("(1 + 1 × reach 0.00) × (1 + 2 × negativity 1.00) × VIP 2 "
                           "= 6.00 → urgent")
    assert {priority(f, s, c, v).level for f in (0, 500, 10**6) for s, c in
            (("negative", 0.4), ("negative", 0.95), ("positive", 0.9))
            for v in (False, True)} <= set(PRIORITIES)


def test_the_weights_are_configurable() -> None:
    weights = PriorityWeights(reach=4, negativity=0, vip=1, reach_full=1_000,
                              levels=(2, 4, 5))
    hit = priority(1_000, "negative", 1.0, True, weights)
    assert hit.score == 5 and hit.level == "urgent" and hit.reach == 1
    assert "(1 + 4 × reach 1.00) × (1 + 0 × negativity 1.00) × VIP 1" in hit.formula
    assert priority(None, None, None, False, weights).level == "low"


def test_the_monthly_cost_is_reads_times_the_price() -> None:
    assert monthly_cost(12_345, 0.005) == 61.73
    assert monthly_cost(0, 0.005) == 0
