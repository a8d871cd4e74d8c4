"""Elasticsearch document ids and keyword bounds: what the cluster would refuse is shaped
before a request is sent."""

from __future__ import annotations

from search.elastic_docs import MAX_ID_BYTES, doc_id
from search.elastic_mappings import KEYWORD_CHARS, KINDS, mappings


def test_short_keys_are_their_own_id() -> None:
    for key in ("email:ann@example.com", "m0123456789abcdef", "cursors:imap:inbox", "ü" * 128,
                "x" * MAX_ID_BYTES):
        assert doc_id(key) == key


def test_long_keys_are_hashed_within_the_limit_and_stay_distinct() -> None:
    keys = ["x" * (MAX_ID_BYTES + 1), "x" * MAX_ID_BYTES + "y", "ü" * 257, "😀" * 129,
            "<" + "a" * 5000 + "@x>", "\ud800" * 300]
    ids = [doc_id(k) for k in keys]
    assert len(set(ids)) == len(keys)
    for key, hashed in zip(keys, ids, strict=True):
        assert hashed != key and hashed.startswith("sha256~")
        assert len(hashed.encode("utf-8")) <= MAX_ID_BYTES
        assert doc_id(key) == hashed  # the same key, the same id: lookups find it


def test_a_key_that_looks_hashed_is_hashed_itself() -> None:
    """A hostile key spelt like another key's hashed id never lands on that document."""
    victim = "thread:" + "v" * 600
    forged = doc_id(victim)
    assert doc_id(forged) != forged and doc_id(forged) != doc_id(victim)


def test_every_keyword_field_is_bounded_below_the_term_limit() -> None:
    assert KEYWORD_CHARS * 4 <= 32_766  # the most bytes a character takes in UTF-8
    for kind in KINDS:
        for name, field in mappings(kind)["properties"].items():
            if field["type"] == "keyword":
                assert field.get("ignore_above") == KEYWORD_CHARS, (kind, name)
