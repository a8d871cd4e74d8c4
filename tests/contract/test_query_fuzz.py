"""Fuzzing the search language: any text either is a QueryError (with a position inside it)
or an AST that every store searches, counts, charts and mines for trends without error."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inbox.errors import QueryError
from inbox.model import SEARCH_FIELDS
from inbox.query import FIELD_VALUES, parse
from inbox.store import FACETS, Store

FUZZ = settings(max_examples=120, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

_VALUES = [v for values in FIELD_VALUES.values() for v in values] + [
    "2026-11-01", "1969-12-31", "2262-01-01", "me", "none", "@ann", "a@b.c", "en", "x*", ""]
PIECES = st.one_of(
    st.sampled_from(["(", ")", "-", '"', "OR", "or", "AND", "*", "\\", ":", "a*", "*a",
                     "NEAR", "NOT", "^", "{", "}", "'", "+", "rowid", "\t", "\n", "é", "ß",
                     "日本", "💥", "\u200f", "\x00", "\x1b", "\ud800", "ﬁ", "İ", "'; DROP"]),
    st.builds(lambda f, v: f"{f}:{v}", st.sampled_from([*SEARCH_FIELDS, "Channel", "nope"]),
              st.sampled_from(_VALUES)),
    st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=6),
)
QUERIES = st.one_of(
    st.text(max_size=40),
    st.lists(st.tuples(PIECES, st.sampled_from(["", " "])), max_size=25)
    .map(lambda parts: "".join(p + sep for p, sep in parts)),
    st.integers(1, 60).map(lambda n: "(" * n + "a" + ")" * n),
    st.integers(1, 60).map(lambda n: "-" * n + "a"),
)


@FUZZ
@given(text=QUERIES)
async def test_any_text_is_a_query_error_or_a_query_every_store_runs(store: Store,
                                                                     text: str) -> None:
    try:
        node = parse(text)
    except QueryError as err:
        assert 0 <= err.position <= len(text) and err.problem
        return
    result = await store.search(node, None, 5, FACETS)
    assert result.total >= 0
    await store.volume(node, "week", public=True)  # the public copy's index takes it too
