"""The search AST compiled to an Elasticsearch bool query, and opaque cursors. Pure."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from inbox.errors import QueryError
from inbox.model import And, FieldTerm, Not, Or, Phrase, QueryNode, Term
from inbox.store import FACETS

Query = dict[str, Any]

MATCH_ALL: Query = {"match_all": {}}
MATCH_NONE: Query = {"match_none": {}}
TEXT_FIELDS = ("text", "subject")
# The words the index analyzer sees (see elastic_mappings.WORD_PATTERN); \w minus "_".
_WORD = re.compile(r"[^\W_]+")
# match_phrase_prefix expands the last word to at most this many terms (default 50).
PHRASE_PREFIX_EXPANSIONS = 1000

_KEYWORD_FIELDS = {"channel": "channel", "sentiment": "sentiment", "lang": "lang",
                   "status": "conv_status"}


def compile_query(node: QueryNode | None) -> Query:
    """The AST as a query over message documents; None matches every message."""
    if node is None:
        return MATCH_ALL
    if isinstance(node, Term | Phrase):
        return _text_query(node.text)
    if isinstance(node, Not):
        return {"bool": {"must_not": [compile_query(node.node)]}}
    if isinstance(node, And):
        return {"bool": {"filter": [compile_query(n) for n in node.nodes]}}
    if isinstance(node, Or):
        return {"bool": {"should": [compile_query(n) for n in node.nodes],
                         "minimum_should_match": 1}}
    if isinstance(node, FieldTerm):
        return _field_query(node)
    raise TypeError(f"not a query node: {node!r}")


def _text_query(text: str) -> Query:
    """Words in text or subject, consecutively; a trailing '*' makes the last one a prefix."""
    prefix = text.endswith("*")
    words = _WORD.findall(text[:-1] if prefix else text)
    if not words:
        return MATCH_NONE
    phrase = " ".join(words)
    per_field: list[Query]
    if not prefix:
        per_field = [{"match_phrase": {f: phrase}} for f in TEXT_FIELDS]
    elif len(words) == 1:
        # analysed by the index analyzer (folding included); no limit on expansions
        per_field = [{"match_bool_prefix": {f: phrase}} for f in TEXT_FIELDS]
    else:
        per_field = [{"match_phrase_prefix": {f: {
            "query": phrase, "max_expansions": PHRASE_PREFIX_EXPANSIONS}}} for f in TEXT_FIELDS]
    return {"bool": {"should": per_field, "minimum_should_match": 1}}


def day_start(value: str) -> str:
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise QueryError(f"not a date (YYYY-MM-DD): '{value}'", 0) from exc
    return day.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _field_query(node: FieldTerm) -> Query:
    name, value = node.name, node.value
    if name in _KEYWORD_FIELDS:
        return {"term": {_KEYWORD_FIELDS[name]: value.lower()}}
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


def facet_aggs(names: Sequence[str]) -> dict[str, Any]:
    """A terms aggregation per requested facet; QueryError for an unknown one."""
    aggs = {}
    for name in names:
        if name not in FACETS:
            raise QueryError(f"unknown facet '{name}' (known: {', '.join(FACETS)})", 0)
        aggs[f"facet_{name}"] = {"terms": {"field": name, "size": 1000}}
    return aggs


def facet_values(
    names: Sequence[str], aggregations: Mapping[str, Any]
) -> dict[str, tuple[tuple[str, int], ...]]:
    """(value, count) per facet, count descending then value ascending."""
    found = {}
    for name in names:
        buckets = aggregations[f"facet_{name}"]["buckets"]
        pairs = [(str(b["key"]), int(b["doc_count"])) for b in buckets]
        found[name] = tuple(sorted(pairs, key=lambda p: (-p[1], p[0])))
    return found


def encode_cursor(after: Sequence[Any], pit: str | None = None) -> str:
    """Opaque: the sort values of the last hit, and the point in time when there is one."""
    state: dict[str, Any] = {"a": list(after)}
    if pit:
        state["p"] = pit
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def decode_cursor(cursor: str) -> tuple[list[Any], str | None]:
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        after, pit = state["a"], state.get("p")
    except (ValueError, TypeError, KeyError) as exc:
        raise QueryError("invalid cursor", 0, cursor) from exc
    if not isinstance(after, list) or not after or not (pit is None or isinstance(pit, str)):
        raise QueryError("invalid cursor", 0, cursor)
    return after, pit
