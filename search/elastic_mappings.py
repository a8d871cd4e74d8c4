"""Elasticsearch index layout: one index per kind behind an alias, explicit mappings.

Every kind lives in ``{prefix}-{kind}-{n:06d}`` behind the alias ``{prefix}-{kind}``: reads
go to every index behind it, new documents to its write index. Messages roll over (`inbox es
rollover`: a new numbered write index; the older ones stay behind the alias for reads and
edits). Changing a mapping means a new numbered index, a reindex and an alias swap
(``search.elastic_dump.reindex``); while one runs, the alias ``{prefix}-{kind}-next`` names
the index it fills, which every write also reaches. A field only
added to a mapping needs no reindex: open() puts the current mapping on the existing index
(conversations gained first_response_seconds and first_response_breached that way).
"""

from __future__ import annotations

from typing import Any

KINDS = ("messages", "conversations", "customers", "identities", "thread_keys", "kv")

# The words of a text, as SQLite FTS5 `unicode61 remove_diacritics 2` sees them: runs of
# letters, digits and private-use characters; folded to ASCII and lower-cased. asciifolding
# also folds letters without a decomposition ("ø" -> "o", "ß" -> "ss", "æ" -> "ae"); the
# SQLite store folds the common ones itself before indexing (search/sqlite_db.py `fold`).
# (The `pattern` tokenizer with group 0 emits the matches; it is also the variant
# osmem-server implements correctly — its split mode, group -1, indexes the separators.)
WORD_PATTERN = r"[\p{L}\p{N}\p{Co}]+"
SETTINGS: dict[str, Any] = {
    "analysis": {
        "tokenizer": {"words": {"type": "pattern", "pattern": WORD_PATTERN, "group": 0}},
        "analyzer": {
            # folding first: "İ" folds to "i", whereas lower-casing it leaves a combining dot
            "folded": {"type": "custom", "tokenizer": "words",
                       "filter": ["asciifolding", "lowercase"]},
        },
    },
}


def index_settings(shards: int = 1, replicas: int = 1) -> dict[str, Any]:
    """A new index's settings: the analysis, and the configured shards and replicas."""
    return {**SETTINGS, "number_of_shards": shards, "number_of_replicas": replicas}


# A keyword value over 32,766 bytes (Lucene's term limit) fails its document; ignore_above
# counts characters, at most 4 bytes each in UTF-8: a longer value stays in _source, is
# not indexed (no filter or aggregation finds it), and the document is stored. The core
# caps what it can (inbox.normalize: ids and keys at 1,000 characters); this is the bound
# for the rest. (Elasticsearch reference, mapping parameters: ignore_above.)
KEYWORD_CHARS = 32_766 // 4
_KW: dict[str, Any] = {"type": "keyword", "ignore_above": KEYWORD_CHARS}
_TEXT: dict[str, Any] = {"type": "text", "analyzer": "folded"}
# inbox.analysis's words, split at spaces only (the built-in analyzer: an index made by an
# older version takes the field without new settings); an array of values (text,
# subject, extras), 100 positions apart so no phrase spans two; each word's first 2 to 8
# characters indexed too (index_prefixes), so a prefix search reads one term instead of
# expanding to every word that starts with it (elastic_query._prefix_query)
_TERMS: dict[str, Any] = {"type": "text", "analyzer": "whitespace",
                          "position_increment_gap": 100,
                          "index_prefixes": {"min_chars": 2, "max_chars": 8}}
_STORED: dict[str, Any] = {"type": "text", "index": False}  # kept in _source, not searched
_OPAQUE: dict[str, Any] = {"type": "object", "enabled": False}  # any JSON object, not indexed
_TIME: dict[str, Any] = {"type": "date_nanos"}  # microseconds matter for ordering
_INT: dict[str, Any] = {"type": "integer"}

_FIELDS: dict[str, dict[str, dict[str, Any]]] = {
    "messages": {
        "id": _KW, "conversation_id": _KW, "channel": _KW, "external_id": _KW,
        "direction": _KW, "text": _STORED, "created_at": _TIME, "received_at": _TIME,
        "customer_id": _KW, "author_label": _KW, "author_keys": _KW, "subject": _STORED,
        "html": _STORED, "quoted": _STORED, "lang": _KW, "sentiment": _KW,
        "sentiment_score": {"type": "float"}, "automated": {"type": "boolean"},
        "revision": _KW, "agent": _KW, "delivery": _KW,
        "attachments": _OPAQUE, "meta": _OPAQUE,
        # denormalized from the conversation, so search can filter on them
        "conv_status": _KW, "conv_assignee": _KW, "conv_tags": _KW,
        # text and subject without contacts (inbox.privacy.public_copy), written by the
        # store: what who may not see contacts reads
        "public_text": _STORED, "public_subject": _STORED,
        # what searches match: the words of text and subject (elastic_docs.search_fields),
        # and of their public copy (who may not see contacts searches those)
        "terms": _TERMS, "public_terms": _TERMS,
    },
    "conversations": {
        "id": _KW, "customer_id": _KW, "channel": _KW, "status": _KW,
        "created_at": _TIME, "updated_at": _TIME, "last_message_at": _TIME,
        "subject": _TEXT, "assignee": _KW, "tags": _KW, "priority": _KW,
        "message_count": _INT, "awaiting_since": _TIME, "first_response_at": _TIME,
        "due_at": _TIME, "due_basis": _STORED, "first_response_seconds": {"type": "float"},
        "first_response_breached": {"type": "boolean"}, "previous_id": _KW,
        "resolved_at": _TIME, "resolution_seconds": {"type": "float"},
        "switched_channel": {"type": "boolean"}, "version": _INT, "ref": {"type": "long"},
        "snoozed_until": _TIME, "sentiment": _KW, "lang": _KW, "merged_into": _KW,
        "pending_since": _TIME, "paused_seconds": {"type": "float"},
        "next_response_at": _TIME, "next_response_seconds": {"type": "float"},
        "next_response_missed": _TIME,
    },
    "customers": {"id": _KW, "name": _TEXT, "created_at": _TIME, "merged_into": _KW,
                  "version": _INT},
    "identities": {
        "key": _KW, "kind": _KW, "value": _KW, "customer_id": _KW, "label": _KW,
        "created_at": _TIME,
    },
    "thread_keys": {"key": _KW, "conversation_id": _KW},
    "kv": {"collection": _KW, "key": _KW, "value": _OPAQUE},
}

DENORMALIZED = ("conv_status", "conv_assignee", "conv_tags")
STORE_FIELDS = ("public_text", "public_subject", "terms", "public_terms")  # the store writes them


def mappings(kind: str) -> dict[str, Any]:
    """The explicit mapping of one kind; unknown fields are refused (dynamic: strict)."""
    return {"dynamic": "strict", "properties": dict(_FIELDS[kind])}


def index_name(prefix: str, kind: str, number: int) -> str:
    return f"{prefix}-{kind}-{number:06d}"


def alias_name(prefix: str, kind: str) -> str:
    return f"{prefix}-{kind}"


def next_alias(prefix: str, kind: str) -> str:
    """The alias a running reindex puts on the index it fills (see reindex)."""
    return f"{alias_name(prefix, kind)}-next"


def index_number(index: str) -> int:
    """The generation number at the end of a concrete index name (0 if there is none)."""
    tail = index.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0
