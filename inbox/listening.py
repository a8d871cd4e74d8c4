"""Listening rules, pure: the X query a rule compiles to (the one function the connector
builds its search request with and the page shows), checking a rule's query, a listening
hit's priority (reach x negativity x VIP) and the estimated monthly cost of a rule."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from inbox.model import PRIORITIES

MAX_QUERY = 512  # X recent search: a query of at most 512 characters
NO_RETWEETS = "-is:retweet"  # what we add: a retweet is no one's message
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def compiled_query(query: str) -> str:
    """The query X is asked: the rule's own, without retweets unless it names them. X
    applies AND (a space) before OR, so a query with an OR is grouped first: `a OR b`
    becomes `(a OR b) -is:retweet`, never `a OR (b -is:retweet)`."""
    query = query.strip()
    if "is:retweet" in query:
        return query
    return f"({query}) {NO_RETWEETS}" if " OR " in query else f"{query} {NO_RETWEETS}"


def query_problem(query: object) -> str | None:
    """What is wrong with a rule's query (None: X may be asked it)."""
    if not isinstance(query, str) or not query.strip():
        return "required: the X search query, e.g. acme (outage OR down)"
    if _CONTROLS.search(query):
        return "must be one line, without control characters"
    if len(compiled_query(query)) > MAX_QUERY:
        return (f"too long: {len(compiled_query(query))} characters with the "
                f"{NO_RETWEETS!r} we add, X allows {MAX_QUERY}; split it into several rules")
    return None


# --- priority of a listening hit ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriorityWeights:
    """How much each factor lifts a hit's priority (settings listening.*)."""

    reach: float = 1.0  # weight of reach (0..1, from the author's followers)
    negativity: float = 2.0  # weight of negativity (0..1, the negative label's confidence)
    vip: float = 2.0  # factor of a VIP customer (1: VIPs count like anyone)
    reach_full: int = 100_000  # followers that count as full reach (log scale below)
    levels: tuple[float, float, float] = (1.5, 3.0, 6.0)  # scores from normal, high, urgent


DEFAULT_WEIGHTS = PriorityWeights()


@dataclass(frozen=True, slots=True)
class Priority:
    score: float
    level: str  # one of inbox.model.PRIORITIES
    reach: float
    negativity: float
    vip: bool
    followers: int | None
    formula: str  # this hit's numbers in the formula, for the page


def reach_of(followers: int | None, reach_full: int) -> float:
    """0 (no followers, or unknown) to 1 (reach_full or more), on a log scale."""
    if not followers or followers <= 0:
        return 0.0
    return min(1.0, math.log10(1 + followers) / math.log10(1 + max(1, reach_full)))


def negativity_of(sentiment: str | None, score: float | None) -> float:
    """The confidence of a negative label (0 for any other label, or none)."""
    if sentiment != "negative" or score is None or not math.isfinite(score):
        return 0.0
    return max(0.0, min(1.0, score))


def priority(followers: int | None, sentiment: str | None, sentiment_score: float | None,
             vip: bool, weights: PriorityWeights = DEFAULT_WEIGHTS) -> Priority:
    """score = (1 + w_reach x reach) x (1 + w_neg x negativity) x (w_vip if VIP else 1),
    mapped onto the priority levels by weights.levels (low below the first)."""
    reach = reach_of(followers, weights.reach_full)
    negativity = negativity_of(sentiment, sentiment_score)
    vip_factor = weights.vip if vip else 1.0
    score = (1 + weights.reach * reach) * (1 + weights.negativity * negativity) * vip_factor
    level = PRIORITIES[sum(score >= t for t in weights.levels)]
    formula = (f"(1 + {weights.reach:g} × reach {reach:.2f}) × "
               f"(1 + {weights.negativity:g} × negativity {negativity:.2f}) × "
               f"VIP {vip_factor:g} = {score:.2f} → {level}")
    return Priority(round(score, 4), level, round(reach, 4), round(negativity, 4), vip,
                    followers, formula)


# --- cost -----------------------------------------------------------------------------------

DEFAULT_POST_READ_PRICE = 0.005  # US$ per post read, X API pay-per-use (docs.x.com, 2026-11)


def monthly_cost(reads_30_days: int, price: float) -> float:
    """The estimated monthly cost: the posts read in the last 30 days x the price of one."""
    return round(reads_30_days * price, 2)
