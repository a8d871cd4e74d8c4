"""The Elasticsearch adapter's pure parts: AST -> query dict, cursors, documents, errors."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

import pytest

from inbox.analysis import query_match
from inbox.errors import AuthFailed, ConflictError, QueryError, StoreRefused, StoreUnavailable
from inbox.model import (
    And,
    Attachment,
    Conversation,
    Customer,
    FieldTerm,
    Identity,
    Message,
    Not,
    Or,
    Phrase,
    SlaRow,
    Term,
)
from search.elastic_docs import classify, denormalized, error_parts, from_doc, to_doc
from search.elastic_mappings import (
    DENORMALIZED,
    KINDS,
    STORE_FIELDS,
    alias_name,
    index_number,
    mappings,
)
from search.elastic_query import (
    MATCH_ALL,
    MATCH_NONE,
    compile_query,
    conversation_order,
    decode_cursor,
    encode_cursor,
    facet_aggs,
    facet_values,
    sla_aggs,
    sla_query,
    sla_rows,
)
from tests.servers.osmem import interpolation_rank, sla_group_filter

T0 = datetime(2026, 11, 1, 10, 0, 0, 123456, tzinfo=UTC)


def stemmed(word: str, field: str = "terms") -> dict:
    """A word as it is searched: itself or any word with the same stem, per language."""
    match = query_match(word)
    assert match is not None
    return {"terms": {field: [a[0] for a in match.alternatives]}}


def test_none_matches_everything() -> None:
    assert compile_query(None) == MATCH_ALL


def test_words_are_analysed_here_and_matched_as_terms_or_phrases() -> None:
    # one word: itself and its stems in each language ("en:refund" ...), as indexed
    query = compile_query(Term("Refunded"))
    assert "refunded" in query["terms"]["terms"] and "en:refund" in query["terms"]["terms"]
    assert "refund" not in query["terms"]["terms"]  # the plain stem could be another word
    assert compile_query(Phrase("Past  Dué")) == {"match_phrase": {"terms": "past due"}}
    assert compile_query(Term("e-mail")) == stemmed("email")  # joined, as indexed
    assert compile_query(Term("東京")) == {"match_phrase": {"terms": "東 京"}}
    assert compile_query(Term("Café"), public=True) == stemmed("Café", "public_terms")


def test_a_term_without_words_matches_nothing() -> None:
    assert compile_query(Term("!!!")) == MATCH_NONE


def test_prefix_of_one_word_is_a_prefix_query_without_a_limit() -> None:
    assert compile_query(Term("Refun*")) == {"prefix": {"terms": "refun"}}
    assert compile_query(Term("INV-2026*")) == {"prefix": {"terms": "inv2026"}}


def test_prefix_after_several_words_is_an_intervals_query_without_a_limit() -> None:
    # not match_phrase_prefix, whose max_expansions silently drops matches
    assert compile_query(Phrase("past du*"), public=True) == {"intervals": {"public_terms": {
        "all_of": {"ordered": True, "max_gaps": 0, "intervals": [
            {"match": {"query": "past"}}, {"prefix": {"prefix": "du"}}]}}}}
    assert mappings("messages")["properties"]["terms"]["index_prefixes"] == {
        "min_chars": 2, "max_chars": 8}


@pytest.mark.parametrize(("node", "expected"), [
    (FieldTerm("channel", "X"), {"term": {"channel": "x"}}),
    (FieldTerm("sentiment", "negative"), {"term": {"sentiment": "negative"}}),
    (FieldTerm("lang", "EN"), {"term": {"lang": "en"}}),
    (FieldTerm("status", "open"), {"term": {"conv_status": "open"}}),
    (FieldTerm("from", "@Theresa"), {"term": {"author_keys": "theresa"}}),
    (FieldTerm("assignee", "u123"), {"term": {"conv_assignee": "u123"}}),
    (FieldTerm("assignee", "none"),
     {"bool": {"must_not": [{"exists": {"field": "conv_assignee"}}]}}),
    (FieldTerm("tag", "VIP"), {"term": {"conv_tags": "vip"}}),
    (FieldTerm("after", "2026-11-01"),
     {"range": {"created_at": {"gte": "2026-11-01T00:00:00.000000Z"}}}),
    (FieldTerm("before", "2026-11-22"),
     {"range": {"created_at": {"lt": "2026-11-22T00:00:00.000000Z"}}}),
])
def test_fields(node: FieldTerm, expected: dict) -> None:
    assert compile_query(node) == expected


def test_unknown_field_is_a_query_error() -> None:
    with pytest.raises(QueryError):
        compile_query(FieldTerm("colour", "red"))


def test_boolean_structure() -> None:
    x, bill = FieldTerm("channel", "x"), Term("bill")
    assert compile_query(Not(x)) == {"bool": {"must_not": [{"term": {"channel": "x"}}]}}
    assert compile_query(And((x, Not(x)))) == {"bool": {"filter": [
        {"term": {"channel": "x"}}, {"bool": {"must_not": [{"term": {"channel": "x"}}]}}]}}
    assert compile_query(Or((x, bill))) == {"bool": {
        "should": [{"term": {"channel": "x"}}, stemmed("bill")],
        "minimum_should_match": 1}}


def test_facets_sorted_by_count_then_value() -> None:
    assert set(facet_aggs(["channel", "lang"])) == {"facet_channel", "facet_lang"}
    aggs = {"facet_lang": {"buckets": [{"key": "fr", "doc_count": 2}, {"key": "en", "doc_count": 2},
                                       {"key": "de", "doc_count": 5}]}}
    assert facet_values(["lang"], aggs) == {"lang": (("de", 5), ("en", 2), ("fr", 2))}


def test_cursor_round_trip_and_garbage() -> None:
    assert decode_cursor(encode_cursor([1793527200000002000, "m1"])) == [
        1793527200000002000, "m1"]
    older = "eyJhIjogWzUsICJhIiwgN10sICJwIjogInBpdC1pZCJ9"  # with a point in time
    for bad in ("nonsense", encode_cursor([]), older):
        with pytest.raises(QueryError):
            decode_cursor(bad)


def test_documents_round_trip() -> None:
    msg = Message(id="m1", conversation_id="c1", channel="email", external_id="e1",
                  direction="inbound", text="hi", created_at=T0, received_at=T0,
                  author_keys=("a@x.test",), attachments=(Attachment("a.pdf", "x/y", 3),),
                  meta={"k": [1, None]}, sentiment_score=0.25)
    conv = Conversation(id="c1", customer_id="u1", channel="email", status="open",
                        created_at=T0, updated_at=T0, last_message_at=T0, tags=("vip",),
                        first_response_seconds=90.5, first_response_breached=False)
    ident = Identity(kind="email", value="a@x.test", customer_id="u1", created_at=T0)
    for obj in (msg, conv, ident):
        assert from_doc(type(obj), to_doc(obj)) == obj
    cust = Customer(id="u1", name=None, created_at=T0, identities=(ident,))
    assert "identities" not in to_doc(cust, skip=("identities",))
    assert denormalized(conv) == denormalized(to_doc(conv)) == {
        "conv_status": "open", "conv_assignee": None, "conv_tags": ["vip"]}


def test_whole_seconds_come_back_as_floats() -> None:
    conv = Conversation(id="c1", customer_id="u1", channel="x", status="open", created_at=T0,
                        updated_at=T0, last_message_at=T0, first_response_seconds=600.0,
                        first_response_breached=True)
    doc = {**to_doc(conv), "first_response_seconds": 600}  # JSON gives 600.0 back as 600
    back = from_doc(Conversation, doc)
    assert back == conv and isinstance(back.first_response_seconds, float)
    props = mappings("conversations")["properties"]
    assert props["first_response_seconds"] == {"type": "float"}
    assert props["first_response_breached"] == {"type": "boolean"}


def test_conversation_orders() -> None:
    assert conversation_order("recent") == (
        [{"last_message_at": "desc"}, {"id": "desc"}], [])
    assert conversation_order("due") == (
        [{"due_at": "asc"}, {"id": "asc"}], [{"exists": {"field": "due_at"}}])


def test_sla_query_and_aggregations() -> None:
    query = sla_query(T0, datetime(2026, 12, 1, tzinfo=UTC))
    assert query["bool"]["filter"] == [{"range": {"created_at": {
        "gte": "2026-11-01T10:00:00.123456Z", "lt": "2026-12-01T00:00:00.000000Z"}}}]
    assert query["bool"]["must_not"] == [{"terms": {"status": ["listening", "merged"]}}]
    aggs = sla_aggs()
    assert list(aggs) == ["all", "channel", "agent", "day", "channel_day"]
    assert aggs["agent"]["terms"]["missing"] == "unassigned"
    assert aggs["day"]["date_histogram"] == {
        "field": "created_at", "calendar_interval": "day", "time_zone": "UTC",
        "min_doc_count": 1}
    per_day = aggs["channel_day"]  # a daily histogram in each channel's bucket
    assert per_day["terms"]["field"] == "channel" and per_day["aggs"]["day"] == aggs["day"]
    for agg in (*[v for k, v in aggs.items() if k != "channel_day"], per_day["aggs"]["day"]):
        metrics = agg["aggs"]
        assert metrics["answered"] == {"value_count": {"field": "first_response_seconds"}}
        assert metrics["met"] == {"filter": {"term": {"first_response_breached": False}}}
        assert metrics["seconds"]["percentiles"]["percents"] == [50.0, 90.0, 95.0]


def _bucket(key: object, total: int, answered: int, met: int, pct: object,
            repeat: int = 0, switched: int = 0, later: int = 0, missed: int = 0) -> dict:
    return {"key": key, "doc_count": total, "answered": {"value": answered},
            "met": {"doc_count": met}, "seconds": {"values": pct},
            "repeat": {"doc_count": repeat}, "switched": {"doc_count": switched},
            "resolved": {"value": 0}, "resolution": {"values": {}},
            "next_answered": {"value": later}, "next_missed": {"value": missed},
            "next_seconds": {"values": pct if later else {}}}


def test_sla_rows_from_aggregations() -> None:
    keyed = {"50.0": 30.0, "90.0": 50.0, "95.0": 55.0}
    listed = [{"key": 50.0, "value": 60.0}, {"key": 90.0, "value": 60.0},
              {"key": 95.0, "value": 60.0}]
    none = {"50.0": None, "90.0": None, "95.0": None}
    day3 = int(datetime(2026, 11, 3, tzinfo=UTC).timestamp() * 1000)
    aggs = {
        "all": {"doc_count": 3, **_bucket(None, 3, 2, 1, keyed)},
        "channel": {"sum_other_doc_count": 0, "buckets": [
            _bucket("x", 1, 1, 1, listed, 1, 1, later=3, missed=1),
            _bucket("email", 2, 1, 0, keyed)]},
        "agent": {"sum_other_doc_count": 4, "buckets": [_bucket("unassigned", 1, 0, 0, none)]},
        "day": {"buckets": [_bucket(day3, 3, 2, 1, keyed)]},
        "channel_day": {"sum_other_doc_count": 0, "buckets": [
            {"key": "x", "day": {"buckets": [_bucket(day3, 1, 1, 1, listed, 1, 1)]}},
            {"key": "email", "day": {"buckets": [_bucket(day3, 2, 1, 0, keyed)]}}]},
    }
    rows, truncated = sla_rows(aggs)
    assert rows == (
        SlaRow("all", "all", 3, 2, 1, 30.0, 50.0, 55.0),
        SlaRow("channel", "email", 2, 1, 0, 30.0, 50.0, 55.0),
        SlaRow("channel", "x", 1, 1, 1, 60.0, 60.0, 60.0, repeat=1, switched=1,
               next_answered=3, next_met=2, next_p50=60.0, next_p90=60.0),
        SlaRow("agent", "unassigned", 1, 0, 0),
        SlaRow("day", "2026-11-03", 3, 2, 1, 30.0, 50.0, 55.0),
        SlaRow("channel_day", "2026-11-03 email", 2, 1, 0, 30.0, 50.0, 55.0),
        SlaRow("channel_day", "2026-11-03 x", 1, 1, 1, 60.0, 60.0, 60.0, repeat=1, switched=1),
    )
    assert truncated == ["agent"]
    empty = {"all": _bucket(None, 0, 0, 0, none), "channel": {"buckets": []},
             "agent": {"buckets": []}, "day": {"buckets": []}, "channel_day": {"buckets": []}}
    assert sla_rows(empty) == ((), [])


def test_sla_row_filters_and_ranks() -> None:
    assert sla_group_filter("channel", "x") == {"term": {"channel": "x"}}
    assert sla_group_filter("agent", "u1") == {"term": {"assignee": "u1"}}
    assert {"bool": {"must_not": [{"exists": {"field": "assignee"}}]}} in (
        sla_group_filter("agent", "unassigned")["bool"]["should"])
    assert sla_group_filter("day", "2026-11-30") == {"range": {"created_at": {
        "gte": "2026-11-30T00:00:00.000000Z", "lt": "2026-12-01T00:00:00.000000Z"}}}
    assert sla_group_filter("channel_day", "2026-11-30 x") == {"bool": {"filter": [
        sla_group_filter("day", "2026-11-30"), {"term": {"channel": "x"}}]}}
    assert interpolation_rank(10, 50.0) == (4, 0.5)
    low, weight = interpolation_rank(10, 95.0)
    assert low == 8 and abs(weight - 0.55) < 1e-9
    assert interpolation_rank(1, 90.0) == (0, 0.0)


@pytest.mark.parametrize(("cls", "kind", "extra"), [
    (Message, "messages", {*DENORMALIZED, *STORE_FIELDS}),
    (Conversation, "conversations", set()),
    (Customer, "customers", set()), (Identity, "identities", {"key"}),
])
def test_every_field_is_mapped(cls: type, kind: str, extra: set[str]) -> None:
    mapped = set(mappings(kind)["properties"])
    names = {f.name for f in fields(cls)} - {"identities"}
    assert mapped == names | extra


def test_index_names() -> None:
    assert alias_name("inbox", "messages") == "inbox-messages"
    assert index_number("inbox-thread_keys-000012") == 12
    assert len(KINDS) == len(set(KINDS))


@pytest.mark.parametrize(("status", "etype", "expected"), [
    (409, "version_conflict_engine_exception", ConflictError),
    (403, "cluster_block_exception", StoreUnavailable),
    (429, "es_rejected_execution_exception", StoreUnavailable),
    (503, "", StoreUnavailable),
    (401, "security_exception", AuthFailed),
    (400, "mapper_parsing_exception", StoreRefused),  # refused, not a 500
    (400, "search_phase_execution_exception", QueryError),
    (400, "parsing_exception", QueryError),
    (400, "query_shard_exception", QueryError),
])
def test_error_classes(status: int, etype: str, expected: type) -> None:
    assert isinstance(classify(status, etype, "why", "write"), expected)


def test_a_refused_search_says_why_and_is_the_users_to_narrow() -> None:
    body = {"error": {"type": "search_phase_execution_exception", "reason": "all shards failed",
                      "root_cause": [{"type": "illegal_state_exception", "reason":
                                      "Automaton [du*] expanded to too many terms (limit 4096)"}]}}
    etype, reason = error_parts(body)
    assert reason == ("all shards failed: Automaton [du*] expanded to too many terms "
                      "(limit 4096)")
    # Elasticsearch answers Lucene's IllegalStateException with a 500: still the query's
    for status in (400, 500):
        error = classify(status, etype, reason, "search messages")
        assert isinstance(error, QueryError) and "type more of the word" in error.problem
    error = classify(400, "parsing_exception", "unknown query [x]", "search messages")
    assert isinstance(error, QueryError) and "unknown query [x]" in error.problem
