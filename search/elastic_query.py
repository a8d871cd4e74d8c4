"""The search AST compiled to an Elasticsearch bool query, and opaque cursors. Pure."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from inbox.analysis import query_match
from inbox.errors import QueryError
from inbox.model import (
    AUTOMATED,
    And,
    Facet,
    FieldTerm,
    Not,
    Or,
    Order,
    Phrase,
    QueryNode,
    SlaRow,
    Term,
    channel_day,
    ts,
)
from inbox.query import day_start

Query = dict[str, Any]

MATCH_ALL: Query = {"match_all": {}}
MATCH_NONE: Query = {"match_none": {}}

_KEYWORD_FIELDS = {"channel": "channel", "sentiment": "sentiment", "lang": "lang",
                   "status": "conv_status", "direction": "direction"}


def compile_query(node: QueryNode | None, public: bool = False) -> Query:
    """The AST as a query over message documents; None matches every message. public:
    words match the public copy of text and subject (without contacts)."""
    if node is None:
        return MATCH_ALL
    if isinstance(node, Term | Phrase):
        return _text_query(node, "public_terms" if public else "terms")
    if isinstance(node, Not):
        return {"bool": {"must_not": [compile_query(node.node, public)]}}
    if isinstance(node, And):
        return {"bool": {"filter": [compile_query(n, public) for n in node.nodes]}}
    if isinstance(node, Or):
        return {"bool": {"should": [compile_query(n, public) for n in node.nodes],
                         "minimum_should_match": 1}}
    if isinstance(node, FieldTerm):
        return _field_query(node)
    raise TypeError(f"not a query node: {node!r}")


def _text_query(node: Term | Phrase, field: str) -> Query:
    """A word or phrase as inbox.analysis matches it, in the words of text and subject."""
    match = query_match(node.text, phrase=isinstance(node, Phrase))
    if match is None:
        return MATCH_NONE
    if match.prefix:
        return _prefix_query(match.alternatives[0], field)
    words = [a[0] for a in match.alternatives if len(a) == 1]
    queries: list[Query] = [{"match_phrase": {field: " ".join(a)}}
                            for a in match.alternatives if len(a) > 1]
    if words:
        queries.append({"terms": {field: words}})
    return queries[0] if len(queries) == 1 else {"bool": {"should": queries,
                                                          "minimum_should_match": 1}}


def _prefix_query(words: tuple[str, ...], field: str) -> Query:
    """Words, the last one a prefix ("past du*", "INV-2026*"), with every match found.

    One word: a `prefix` query, which has no limit on expansions. Several: an `intervals`
    query, the words in order without gaps, the last a `prefix` rule. Not
    `match_phrase_prefix`, which expands the last word to at most `max_expansions` terms and
    silently drops the rest. A prefix rule reads the field's `index_prefixes` (the terms
    fields have them: one term per prefix, no expansion); longer prefixes than those, or an
    index made before them, expand to at most `indices.query.bool.max_clause_count` terms
    and beyond that the search fails (a 400, never a silent cut). See
    https://www.elastic.co/guide/en/elasticsearch/reference/current/query-dsl-intervals-query.html#intervals-prefix
    """
    if len(words) == 1:
        return {"prefix": {field: words[0]}}
    rules: list[Query] = [{"match": {"query": word}} for word in words[:-1]]
    rules.append({"prefix": {"prefix": words[-1]}})
    return {"intervals": {field: {"all_of": {"ordered": True, "max_gaps": 0,
                                             "intervals": rules}}}}


def _field_query(node: FieldTerm) -> Query:
    name, value = node.name, node.value
    if name in _KEYWORD_FIELDS:
        return {"term": {_KEYWORD_FIELDS[name]: value.lower()}}
    if name == AUTOMATED:  # not in the language: the voice of the customer's own scope
        return {"term": {"automated": value == "true"}}
    if name == "from":
        return {"term": {"author_keys": value.lower().removeprefix("@")}}
    if name == "assignee":
        if value.lower() == "none":
            return {"bool": {"must_not": [{"exists": {"field": "conv_assignee"}}]}}
        return {"term": {"conv_assignee": value}}
    if name == "tag":
        return {"term": {"conv_tags": value.lower()}}
    if name == "after":
        return {"range": {"created_at": {"gte": day_start(value)}}}
    if name == "before":
        return {"range": {"created_at": {"lt": day_start(value)}}}
    raise QueryError(f"unknown field '{name}'", 0)


def facet_aggs(names: Sequence[Facet]) -> dict[str, Any]:
    """A terms aggregation per requested facet (each a keyword field of the same name)."""
    return {f"facet_{name}": {"terms": {"field": name, "size": 1000}} for name in names}


def facet_values(
    names: Sequence[Facet], aggregations: Mapping[str, Any]
) -> dict[str, tuple[tuple[str, int], ...]]:
    """(value, count) per facet, count descending then value ascending."""
    found: dict[str, tuple[tuple[str, int], ...]] = {}
    for name in names:
        buckets = aggregations[f"facet_{name}"]["buckets"]
        pairs = [(str(b["key"]), int(b["doc_count"])) for b in buckets]
        found[name] = tuple(sorted(pairs, key=lambda p: (-p[1], p[0])))
    return found


# --- conversation lists and the SLA report (conversation documents) -----------------------

CONVERSATION_ORDERS: dict[Order, list[Any]] = {
    "recent": [{"last_message_at": "desc"}, {"id": "desc"}],
    "due": [{"due_at": "asc"}, {"id": "asc"}],  # what breaches next comes first
    "waiting": [{"awaiting_since": "asc"}, {"id": "asc"}],  # who waits longest comes first
    "wake": [{"snoozed_until": "asc"}, {"id": "asc"}],  # the first to wake comes first
    "created": [{"created_at": "desc"}, {"id": "desc"}],  # the newest first
}
# A first response as the SLA report counts it (sla_aggs).
RESPONSES: dict[str, list[Query]] = {
    "answered": [{"exists": {"field": "first_response_seconds"}}],
    "met": [{"exists": {"field": "first_response_seconds"}},
            {"term": {"first_response_breached": False}}],
    "missed": [{"exists": {"field": "first_response_seconds"}},
               {"term": {"first_response_breached": True}}],
    "unanswered": [{"bool": {"must_not": [{"exists": {"field": "first_response_seconds"}}]}}],
    "resolved": [{"exists": {"field": "resolved_at"}}],
    "next": [{"exists": {"field": "next_response_at"}}],
    "next_missed": [{"exists": {"field": "next_response_missed"}}],
    "repeat": [{"exists": {"field": "previous_id"}}],
    "switched": [{"term": {"switched_channel": True}}]}
# Only conversations with a running clock have a place in the "due" order.
_ORDER_FILTERS: dict[Order, list[Query]] = {
    "due": [{"exists": {"field": "due_at"}}],
    "waiting": [{"exists": {"field": "awaiting_since"}}],
    "wake": [{"exists": {"field": "snoozed_until"}}]}


def conversation_order(order: Order) -> tuple[list[Any], list[Query]]:
    """(sort, extra filters) of a ConversationFilter.order."""
    return CONVERSATION_ORDERS[order], list(_ORDER_FILTERS.get(order, ()))


SLA_GROUPS = ("all", "channel", "agent", "day", "channel_day")
SLA_PERCENTS = (50.0, 90.0, 95.0)
# Buckets per terms aggregation: above every plausible number of channels or agents; a
# shard returning fewer than all of them is reported (sum_other_doc_count) by sla_rows.
SLA_TERMS_SIZE = 10_000
UNASSIGNED = "unassigned"


def sla_query(since: datetime, until: datetime) -> Query:
    """Care conversations (not listening hits, none merged into another) created in
    [since, until)."""
    return {"bool": {
        "filter": [{"range": {"created_at": {"gte": ts(since), "lt": ts(until)}}}],
        "must_not": [{"terms": {"status": ["listening", "merged"]}}],
    }}


def _sla_metrics() -> dict[str, Any]:
    return {
        "answered": {"value_count": {"field": "first_response_seconds"}},
        "met": {"filter": {"term": {"first_response_breached": False}}},
        "repeat": {"filter": {"exists": {"field": "previous_id"}}},
        "switched": {"filter": {"term": {"switched_channel": True}}},
        "seconds": {"percentiles": {"field": "first_response_seconds",
                                    "percents": list(SLA_PERCENTS)}},
        "resolved": {"value_count": {"field": "resolution_seconds"}},
        "resolution": {"percentiles": {"field": "resolution_seconds",
                                       "percents": list(SLA_PERCENTS)}},
        # the responses after the first: multi-valued fields, every value counted
        "next_answered": {"value_count": {"field": "next_response_seconds"}},
        "next_missed": {"value_count": {"field": "next_response_missed"}},
        "next_seconds": {"percentiles": {"field": "next_response_seconds",
                                         "percents": list(SLA_PERCENTS)}},
    }


def sla_aggs() -> dict[str, Any]:
    """One bucket aggregation per report group, each with the row's metrics under it."""
    metrics = _sla_metrics()
    return {
        "all": {"filter": MATCH_ALL, "aggs": metrics},
        "channel": {"terms": {"field": "channel", "size": SLA_TERMS_SIZE}, "aggs": metrics},
        "agent": {"terms": {"field": "assignee", "size": SLA_TERMS_SIZE,
                            "missing": UNASSIGNED}, "aggs": metrics},
        "day": _days(metrics),
        "channel_day": {"terms": {"field": "channel", "size": SLA_TERMS_SIZE},
                        "aggs": {"day": _days(metrics)}},
    }


def _days(metrics: dict[str, Any]) -> dict[str, Any]:
    return {"date_histogram": {"field": "created_at", "calendar_interval": "day",
                               "time_zone": "UTC", "min_doc_count": 1}, "aggs": metrics}


def _percentiles(agg: Mapping[str, Any]) -> dict[float, float | None]:
    """Percent -> value from a percentiles result, keyed ({"50.0": v}) or not ([{key, value}])."""
    values = agg.get("values") or {}
    pairs: Iterable[tuple[Any, Any]]
    if isinstance(values, Mapping):
        pairs = values.items()
    else:
        pairs = ((v["key"], v.get("value")) for v in values)
    return {float(k): None if v is None else float(v) for k, v in pairs}


def _day_key(bucket: Mapping[str, Any]) -> str:
    """A daily bucket's day: its start, epoch milliseconds (UTC)."""
    return datetime.fromtimestamp(int(bucket["key"]) / 1000, UTC).date().isoformat()


def _sla_buckets(group: str, agg: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(row key, bucket) of one group's aggregation."""
    if group == "all":
        return [("all", agg)]
    if group == "day":
        return [(_day_key(b), b) for b in agg["buckets"]]
    if group == "channel_day":  # a daily histogram in each channel's bucket
        return [(channel_day(_day_key(d), str(b["key"])), d)
                for b in agg["buckets"] for d in b["day"]["buckets"]]
    return [(str(b["key"]), b) for b in agg["buckets"]]


def sla_rows(aggregations: Mapping[str, Any]) -> tuple[tuple[SlaRow, ...], list[str]]:
    """The report rows (group by group, by key within a group), and the groups cut short."""
    rows: list[SlaRow] = []
    truncated: list[str] = []
    for group in SLA_GROUPS:
        agg = aggregations[group]
        if agg.get("sum_other_doc_count"):
            truncated.append(group)
        found = []
        for key, bucket in _sla_buckets(group, agg):
            total = int(bucket["doc_count"])
            if not total:  # no conversations: no row (as with GROUP BY)
                continue
            answered = int(bucket["answered"]["value"] or 0)
            values = _percentiles(bucket["seconds"]) if answered else {}
            res = _percentiles(bucket["resolution"]) if bucket["resolved"]["value"] else {}
            later = int(bucket["next_answered"]["value"] or 0)
            nxt = _percentiles(bucket["next_seconds"]) if later else {}
            found.append(SlaRow(group, key, total, answered,
                                int(bucket["met"]["doc_count"]),
                                p50=values.get(SLA_PERCENTS[0]),
                                p90=values.get(SLA_PERCENTS[1]),
                                p95=values.get(SLA_PERCENTS[2]),
                                repeat=int(bucket["repeat"]["doc_count"]),
                                resolved=int(bucket["resolved"]["value"] or 0),
                                resolution_p50=res.get(SLA_PERCENTS[0]),
                                resolution_p90=res.get(SLA_PERCENTS[1]),
                                switched=int(bucket["switched"]["doc_count"]),
                                next_answered=later,
                                next_met=later - int(bucket["next_missed"]["value"] or 0),
                                next_p50=nxt.get(SLA_PERCENTS[0]),
                                next_p90=nxt.get(SLA_PERCENTS[1])))
        rows.extend(sorted(found, key=lambda r: r.key))
    return tuple(rows), truncated


def encode_cursor(after: Sequence[Any]) -> str:
    """Opaque: the sort values of the last hit (pages hold no point in time)."""
    return base64.urlsafe_b64encode(json.dumps({"a": list(after)}).encode()).decode()


MAX_CURSOR = 1000  # characters: a few sort values



def _sort_value(value: Any) -> bool:
    """What a sort value of ours can be: text (ids, timestamps) or a number (epoch ms)."""
    if isinstance(value, str):
        return value.isascii() and value.isprintable()
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -2**63 <= value < 2**63
    return isinstance(value, float) and math.isfinite(value)


def decode_cursor(cursor: str) -> list[Any]:
    """The sort values of a cursor we made; QueryError ("invalid cursor", a 400) for
    anything else (a cursor of an older version, which held a point in time, too: its
    reader starts again from the first page)."""
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError("too long")
        state = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        after = state["a"]
        if set(state) != {"a"}:
            raise ValueError("not ours")
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise QueryError("invalid cursor", 0, cursor) from exc
    if (not isinstance(after, list) or not 1 <= len(after) <= 2
            or not all(_sort_value(v) for v in after)):
        raise QueryError("invalid cursor", 0, cursor)
    return after
