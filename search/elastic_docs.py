"""Domain dataclasses to Elasticsearch documents and back, and errors to inbox errors. Pure."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any, TypeVar

from inbox import analysis
from inbox.errors import (
    AuthFailed,
    ConflictError,
    FatalError,
    InboxError,
    QueryError,
    StoreMissing,
    StoreRefused,
    StoreUnavailable,
)
from inbox.model import ENUM_FIELDS, Attachment, Conversation, parse_enum, parse_ts, ts
from inbox.privacy import public_copy

T = TypeVar("T")

_TIME_FIELDS = frozenset({"created_at", "updated_at", "last_message_at", "received_at",
                          "awaiting_since", "first_response_at", "due_at", "resolved_at",
                          "snoozed_until", "pending_since"})
_TUPLE_FIELDS = frozenset({"tags", "author_keys"})
# lists of times, and of seconds (multi-valued fields the SLA report aggregates)
_TIMES_FIELDS = frozenset({"next_response_at", "next_response_missed"})
_NUMBERS_FIELDS = frozenset({"next_response_seconds"})
_JSON_FIELDS = frozenset({"meta"})
# JSON has one number type: a whole float can come back as an int.
_FLOAT_FIELDS = frozenset({"sentiment_score", "first_response_seconds",
                            "resolution_seconds", "paused_seconds"})


# Elasticsearch refuses an `_id` over 512 bytes, and with it the whole request (a 400
# action_request_validation_exception, not an item's error): a longer key (a Message-ID
# as thread key, an identity value, a collection key) is stored under a hashed id.
MAX_ID_BYTES = 512
_HASHED = "sha256~"  # no key of ours starts so; a key that does is hashed too
_HASHED_PREFIX = 200  # bytes of the key kept readable before its hash


def doc_id(key: str) -> str:
    """The `_id` a document with this key is stored and read under: the key itself, or
    when it is over MAX_ID_BYTES (or starts like a hashed id) "sha256~", the SHA-256 of
    the whole key and its first bytes. Distinct keys never share an id: a hashed id is
    never a key kept as it is, and two hashed ids differ as their keys' hashes do. The key
    itself stays in the document's fields (id, key, collection + key)."""
    if len(key) <= MAX_ID_BYTES // 4 and not key.startswith(_HASHED):
        return key  # the usual key: short enough in any encoding
    raw = key.encode("utf-8", "surrogatepass")
    if len(raw) <= MAX_ID_BYTES and not key.startswith(_HASHED):
        return key
    start = raw[:_HASHED_PREFIX].decode("utf-8", "ignore")
    return f"{_HASHED}{hashlib.sha256(raw).hexdigest()}:{start}"


def json_object(value: Mapping[str, Any]) -> dict[str, Any]:
    """A plain JSON object (values that JSON lacks become strings, as in the SQLite store)."""
    return dict(json.loads(json.dumps(dict(value), default=str)))


def _encode(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _TIME_FIELDS:
        return ts(value)
    if name == "attachments":
        return [{"name": a.name, "content_type": a.content_type, "size": a.size, "ref": a.ref}
                for a in value]
    if name in _JSON_FIELDS:
        return json_object(value)
    if name in _TUPLE_FIELDS or name in _NUMBERS_FIELDS:
        return list(value)
    if name in _TIMES_FIELDS:
        return [ts(t) for t in value]
    return value


def _decode(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in ENUM_FIELDS:
        return parse_enum(ENUM_FIELDS[name], value)
    if name in _TIME_FIELDS:
        return parse_ts(value)
    if name == "attachments":
        return tuple(Attachment(**a) for a in value)
    if name in _TUPLE_FIELDS:
        return tuple(value)
    if name in _NUMBERS_FIELDS:
        return tuple(float(v) for v in value)
    if name in _TIMES_FIELDS:
        return tuple(parse_ts(v) for v in value)
    if name in _FLOAT_FIELDS:
        return float(value)
    return value


def to_doc(obj: Any, skip: Iterable[str] = ()) -> dict[str, Any]:
    skipped = set(skip)
    return {f.name: _encode(f.name, getattr(obj, f.name)) for f in fields(obj)
            if f.name not in skipped}


def search_fields(text: str | None, subject: str | None, lang: str | None) -> dict[str, Any]:
    """What a message's document holds to be found: the public copy of its text and subject
    (without contacts), and the words of both (inbox.analysis) in `terms` and
    `public_terms`: text, subject and extras, each a value of its own (a phrase never
    spans two)."""
    public_text, public_subject = public_copy(text), public_copy(subject)
    return {"public_text": public_text, "public_subject": public_subject,
            "terms": _terms(text, subject, lang),
            "public_terms": _terms(public_text, public_subject, lang)}


def _terms(text: str | None, subject: str | None, lang: str | None) -> list[str]:
    return list(analysis.message_terms(text, subject, lang))


def from_doc(cls: type[T], source: Mapping[str, Any], **extra: Any) -> T:
    """The dataclass from a document's _source; fields it does not know are ignored."""
    values = {f.name: _decode(f.name, source[f.name]) for f in fields(cls)  # type: ignore[arg-type]
              if f.name in source}
    return cls(**values, **extra)


def denormalized(conv: Conversation | Mapping[str, Any] | None) -> dict[str, Any]:
    """The conversation fields copied onto each of its messages (search filters on them)."""
    if conv is None:
        return {"conv_status": None, "conv_assignee": None, "conv_tags": []}
    if isinstance(conv, Conversation):
        return {"conv_status": conv.status, "conv_assignee": conv.assignee,
                "conv_tags": list(conv.tags)}
    return {"conv_status": conv.get("status"), "conv_assignee": conv.get("assignee"),
            "conv_tags": list(conv.get("tags") or ())}


# --- errors -------------------------------------------------------------------------------

_UNAVAILABLE = frozenset({
    "cluster_block_exception",  # read-only index, flood-stage disk watermark
    "es_rejected_execution_exception", "circuit_breaking_exception",
    "unavailable_shards_exception", "no_shard_available_action_exception",
    "process_cluster_event_timeout_exception",
})
_MISSING = frozenset({"index_not_found_exception", "alias_not_found_exception"})
# An 8.x server refuses the `compatible-with=9` media type a 9.x client sends (400
# media_type_header_exception: "Accept version must be either version 8 or 7, but found 9").
_MEDIA_TYPE = "media_type_header_exception"


def error_parts(body: Any) -> tuple[str, str]:
    """(type, reason) from an error body or a bulk item's error; a search that failed on
    every shard ("all shards failed") gives the first root cause's reason too."""
    err = body.get("error", body) if isinstance(body, Mapping) else body
    if isinstance(err, Mapping):
        reason = str(err.get("reason", ""))
        causes = err.get("root_cause")
        if isinstance(causes, list) and causes and isinstance(causes[0], Mapping):
            cause = str(causes[0].get("reason", ""))
            if cause and cause not in reason:
                reason = f"{reason}: {cause}" if reason else cause
        caused = err.get("caused_by")
        if isinstance(caused, Mapping) and caused.get("reason"):  # which field, which value
            reason += f" (caused by {caused.get('type', '')}: {caused['reason']})"
        return str(err.get("type", "")), reason
    return str(err or ""), ""


def classify(status: int, etype: str, reason: str, action: str) -> InboxError:
    """What the caller should do about an Elasticsearch error, as an inbox error."""
    where = f"Elasticsearch {action}"
    if status == 409 or etype == "version_conflict_engine_exception":
        return ConflictError(f"{where}: changed by someone else; reload and retry ({reason})")
    if status == 413:  # the request is too large: smaller batches will pass
        return StoreRefused(f"{where}: request too large ({reason})")
    if etype in _QUERY_REFUSED and (status == 400 or _too_many(reason)):
        return QueryError(_query_problem(reason), 0)
    if etype in _MISSING:  # retrying cannot help: a human initialises or restores the store
        return StoreMissing(
            f"{where}: the inbox's indices or aliases are gone ({reason}): start the "
            "service (`inbox serve`, or any `inbox` command that opens the store) to create "
            "them empty, or copy a backup in with `inbox migrate --from ... --to ...`; check "
            "store.index_prefix when several deployments share the cluster")
    if status == 429 or status >= 500 or etype in _UNAVAILABLE:
        hint = (" (the cluster refuses writes: read-only index or disk full)"
                if etype == "cluster_block_exception" else "")
        return StoreUnavailable(f"{where} failed: {status} {etype}: {reason}{hint}")
    if status in (401, 403):
        return AuthFailed(f"{where}: credentials refused ({status} {etype}: {reason}); "
                          "`inbox es check` lists the privileges the store needs")
    if etype == _MEDIA_TYPE:
        return FatalError(f"{where}: the server refuses this client's version headers "
                          f"({reason}): install the client of the server's major version, "
                          "`pip install 'unified-inbox[es8]'` for an 8.x cluster")
    if 400 <= status < 500:  # the cluster refused what was sent: the same request fails again
        return StoreRefused(f"{where} refused: {status} {etype}: {reason}")
    return FatalError(f"{where}: {status} {etype}: {reason}")


# A search the cluster refuses: what the query asks cannot run, e.g. a prefix of an
# index made before index_prefixes expanding to more words than max_clause_count. The
# user's query text parsed (inbox.query); the error is theirs to narrow, not a 500.
_QUERY_REFUSED = frozenset({"search_phase_execution_exception", "parsing_exception",
                            "query_shard_exception", "x_content_parse_exception"})
_TOO_MANY = ("too many terms", "too many clauses", "too_many_clauses", "maxclausecount",
             "max_clause_count")


def _too_many(reason: str) -> bool:
    """An expansion over the cluster's limit (Lucene's "expanded to too many terms" is an
    IllegalStateException, which Elasticsearch answers with a 500)."""
    return any(mark in reason.lower() for mark in _TOO_MANY)


def _query_problem(reason: str) -> str:
    if _too_many(reason):
        return ("a prefix (word*) matches too many words to search at once; type more of "
                "the word")
    return f"the search could not run ({reason[:300]})"
