"""Elasticsearch errors as inbox errors, rollover conditions, and where writes go."""

from __future__ import annotations

import pytest

from inbox.errors import (
    AuthFailed,
    ConflictError,
    FatalError,
    StoreMissing,
    StoreRefused,
    StoreUnavailable,
)
from search.elastic_client import carry_targets, generations
from search.elastic_docs import classify
from search.elastic_ops import GB, RolloverConditions, conditions_met


@pytest.mark.parametrize(("status", "etype", "expected"), [
    (409, "version_conflict_engine_exception", ConflictError),
    (413, "", StoreRefused),
    (429, "es_rejected_execution_exception", StoreUnavailable),
    (503, "unavailable_shards_exception", StoreUnavailable),
    (403, "cluster_block_exception", StoreUnavailable),  # read-only: disk full
    (401, "security_exception", AuthFailed),
    (403, "security_exception", AuthFailed),
    (404, "index_not_found_exception", StoreMissing),
    (400, "illegal_argument_exception", StoreRefused),
    (400, "mapper_parsing_exception", StoreRefused),
    (400, "media_type_header_exception", FatalError),
])
def test_each_error_says_what_to_do(status: int, etype: str, expected: type) -> None:
    assert type(classify(status, etype, "why", "write")) is expected


def test_a_missing_index_says_how_to_initialise_and_is_not_retried() -> None:
    error = classify(404, "index_not_found_exception", "no such index [inbox-kv]", "kv put")
    assert not isinstance(error, StoreUnavailable) and error.status == 503  # type: ignore[attr-defined]
    assert "no such index [inbox-kv]" in str(error)
    assert "`inbox serve`" in str(error) and "inbox migrate" in str(error)


def test_other_client_errors_are_not_server_errors() -> None:
    error = classify(400, "illegal_argument_exception", "Result window is too large", "search")
    assert error.status < 500  # type: ignore[attr-defined]
    assert "Result window is too large" in str(error)


def test_a_client_of_another_major_names_the_extra_to_install() -> None:
    error = classify(400, "media_type_header_exception",
                     "Accept version must be either version 8 or 7, but found 9", "open")
    assert "unified-inbox[es8]" in str(error)


def test_credentials_refused_point_to_the_check() -> None:
    assert "inbox es check" in str(classify(403, "security_exception", "no", "search"))


def test_rollover_conditions() -> None:
    cond = RolloverConditions(max_gb=50, max_days=30, max_docs=None)
    assert conditions_met(cond, 10 * GB, 86400.0, 10**9) == []
    assert conditions_met(cond, 50 * GB, 31 * 86400.0, 1) == [
        "size 50.0 GB >= 50 GB", "age 31.0 days >= 30 days"]
    assert conditions_met(RolloverConditions(None, None, 100), 0, 0, 100) == [
        "100 documents >= 100"]


def test_generations_read_oldest_first_and_find_the_write_index() -> None:
    behind = {"p-messages-000002": {"is_write_index": True},
              "p-messages-000001": {"is_write_index": False}}
    gens = generations("p-messages", behind, {"p-messages-000003": {}})
    assert gens.read == ("p-messages-000001", "p-messages-000002")
    assert gens.write == "p-messages-000002" and gens.next == "p-messages-000003"
    single = generations("p-kv", {"p-kv-000001": {}}, {})
    assert single.write == "p-kv-000001" and single.next is None


def test_generations_of_a_missing_alias_say_how_to_initialise() -> None:
    with pytest.raises(StoreMissing, match="inbox serve"):
        generations("p-messages", {}, {})


def test_where_a_write_is_carried_over() -> None:
    behind = {"p-m-000001": {}}
    assert carry_targets("p-m-000001", behind, {}) == ()  # nothing running
    assert carry_targets("p-m-000001", behind, {"p-m-000002": {}}) == ("p-m-000002",)
    assert carry_targets("p-m-000002", behind, {"p-m-000002": {}}) == ()  # written there
    # the reindex swapped the alias after the write landed on the old index
    swapped = {"p-m-000002": {"is_write_index": True}}
    assert carry_targets("p-m-000001", swapped, {}) == ("p-m-000002",)
    # ... and the next reindex has begun already: both
    assert carry_targets("p-m-000001", swapped, {"p-m-000003": {}}) == (
        "p-m-000002", "p-m-000003")
    rolled = {"p-m-000001": {"is_write_index": False}, "p-m-000002": {"is_write_index": True}}
    assert carry_targets("p-m-000001", rolled, {}) == ()  # a rollover keeps old documents
