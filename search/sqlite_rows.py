"""Rows to domain objects and back, keyset cursors, and reads shared by the store's parts."""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import sqlite3
from collections.abc import Callable, Sequence
from enum import StrEnum
from operator import attrgetter, itemgetter
from typing import Any, TypeVar

import orjson

from inbox.errors import QueryError
from inbox.model import (
    ENUM_FIELDS,
    RECENT_FIELDS,
    Attachment,
    Conversation,
    Customer,
    Identity,
    Message,
    Page,
    RecentConversation,
    parse_enum,
    parse_ts,
    ts,
)

CONVERSATION_COLUMNS = (
    "id", "customer_id", "channel", "status", "created_at", "updated_at", "last_message_at",
    "subject", "assignee", "tags", "priority", "message_count", "awaiting_since",
    "first_response_at", "due_at", "due_basis", "first_response_seconds",
    "first_response_breached", "resolved_at", "resolution_seconds", "previous_id",
    "switched_channel", "version", "ref", "snoozed_until", "sentiment", "lang", "merged_into",
    "pending_since", "paused_seconds", "next_response_at", "next_response_seconds",
    "next_response_missed",
)
MESSAGE_COLUMNS = (
    "id", "conversation_id", "channel", "external_id", "direction", "text", "created_at",
    "received_at", "customer_id", "author_label", "author_keys", "subject", "html", "quoted",
    "lang", "sentiment", "sentiment_score", "automated", "revision", "agent", "delivery",
    "attachments", "meta",
)
_BOOL_FIELDS = frozenset({"automated", "first_response_breached", "switched_channel"})
_TIME_FIELDS = frozenset({"created_at", "updated_at", "last_message_at", "received_at",
                          "awaiting_since", "first_response_at", "due_at", "resolved_at",
                          "snoozed_until", "pending_since"})
# lists of times, and of seconds (JSON arrays; the times as inbox.model.ts writes them)
_TIMES_FIELDS = frozenset({"next_response_at", "next_response_missed"})
_NUMBERS_FIELDS = frozenset({"next_response_seconds"})


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode()


MAX_CURSOR = 1000  # characters; ours are about 100


def decode_cursor(cursor: str, size: int) -> list[str]:
    """The `size` sort values (timestamps and ids, all text) of a cursor we made; QueryError
    ("invalid cursor", a 400) for anything else."""
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError("too long")
        values = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (ValueError, TypeError, RecursionError) as exc:
        raise QueryError("invalid cursor", 0, cursor) from exc
    if (not isinstance(values, list) or len(values) != size
            or not all(isinstance(v, str) and v.isascii() and v.isprintable() for v in values)):
        raise QueryError("invalid cursor", 0, cursor)
    return values


# dates, enum members and dataclasses as str() gives them, as the standard encoder did
_AS_TEXT = (orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
            | orjson.OPT_PASSTHROUGH_DATACLASS)


def dumps(value: Any) -> str:
    """JSON text of a column: orjson, or the standard encoder for what orjson refuses (an
    integer over 64 bits, a lone surrogate, a key not text), which keeps its errors."""
    try:
        return orjson.dumps(value, default=str, option=_AS_TEXT).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, default=str)


def _json_list(value: Any) -> str:
    return dumps(list(value)) if value else "[]"


def _json_attachments(value: Any) -> str:
    return dumps([[a.name, a.content_type, a.size, a.ref] for a in value]) if value else "[]"


def _json_meta(value: Any) -> str:
    return dumps(dict(value)) if value else "{}"


def _to_db(name: str) -> Callable[[Any], Any] | None:
    """How a field's value (not None) becomes its column's value; None: as it is."""
    if name in _TIME_FIELDS:
        return ts
    if name in ("tags", "author_keys") or name in _NUMBERS_FIELDS:
        return _json_list
    if name in _TIMES_FIELDS:
        return lambda value: _json_list([ts(t) for t in value])
    if name == "attachments":
        return _json_attachments
    if name == "meta":
        return _json_meta
    if name in _BOOL_FIELDS:
        return int
    if name in ENUM_FIELDS:
        return str  # the member's value: plain text pickles in a tenth of the time
    return None


_Converters = tuple[tuple[int, Callable[[Any], Any]], ...]


@functools.cache
def _writers(columns: tuple[str, ...]) -> tuple[Callable[[Any], tuple[Any, ...]], _Converters]:
    """Reads every column's field at once, and the converter of each that has one."""
    converters = tuple((n, convert) for n, convert in enumerate(map(_to_db, columns))
                       if convert is not None)
    get = attrgetter(*columns)
    return (get if len(columns) > 1 else lambda obj: (get(obj),)), converters


def _from_db(name: str) -> Callable[[Any], Any] | None:
    """How a column's stored value (not NULL) becomes the field's value; None: as it is."""
    if name in ENUM_FIELDS:
        kind = ENUM_FIELDS[name]
        members: dict[Any, StrEnum] = {m.value: m for m in kind}
        return lambda value: members.get(value) or parse_enum(kind, value)
    if name in _TIME_FIELDS:
        return parse_ts
    if name in ("tags", "author_keys"):
        return lambda value: () if value == "[]" else tuple(json.loads(value))
    if name in _NUMBERS_FIELDS:
        return lambda value: () if value == "[]" else tuple(map(float, json.loads(value)))
    if name in _TIMES_FIELDS:
        return lambda value: () if value == "[]" else tuple(map(parse_ts, json.loads(value)))
    if name == "attachments":
        return lambda value: () if value == "[]" else tuple(Attachment(*a)
                                                            for a in json.loads(value))
    if name == "meta":
        return json.loads
    if name in _BOOL_FIELDS:
        return bool
    return None


R = TypeVar("R")


def _row_reader(kind: Callable[..., R], columns: tuple[str, ...], remember: int = 0
                ) -> Callable[[sqlite3.Row], R]:
    """`kind` (a dataclass whose fields are `columns`, in order) from a row holding those
    columns: each value read by position and converted by its column's _from_db. With
    `remember`, the objects of that many distinct rows are kept, keyed by all their values
    (a changed row is a new object): the same rows read again (an inbox page every agent
    opens) are not converted again."""
    if columns != tuple(f.name for f in dataclasses.fields(kind)):  # type: ignore[arg-type]
        raise TypeError(f"the columns are not the fields of {kind}")
    converters = tuple(_from_db(c) for c in columns)
    getters: dict[tuple[str, ...], Callable[[sqlite3.Row], tuple[Any, ...]]] = {}

    def make(values: tuple[Any, ...]) -> R:
        return kind(*[value if convert is None or value is None else convert(value)
                      for convert, value in zip(converters, values, strict=True)])

    if remember:
        make = functools.lru_cache(maxsize=remember)(make)

    def read(row: sqlite3.Row) -> R:
        names = tuple(row.keys())  # SELECT * or SELECT id, *: their positions, found once
        get = getters.get(names)
        if get is None:
            position = {name: i for i, name in reversed(list(enumerate(names)))}
            get = getters[names] = itemgetter(*(position[c] for c in columns))
        return make(get(row))

    return read


def row_values(obj: Any, columns: Sequence[str]) -> list[Any]:
    """The object's `columns` as the row holds them (converters found once per columns)."""
    get, converters = _writers(tuple(columns))
    values = list(get(obj))
    for n, convert in converters:
        if values[n] is not None:
            values[n] = convert(values[n])
    return values


# conversation rows are small (a subject of at most 1,000 characters): some MB for 4,096
to_conversation = _row_reader(Conversation, CONVERSATION_COLUMNS, remember=4096)
to_message = _row_reader(Message, MESSAGE_COLUMNS)
to_recent = _row_reader(RecentConversation, RECENT_FIELDS, remember=4096)
to_identity = _row_reader(Identity, ("kind", "value", "customer_id", "label", "created_at"),
                          remember=4096)


def placeholders(n: int) -> str:
    return ",".join("?" * n)


def to_customer(conn: sqlite3.Connection, row: sqlite3.Row) -> Customer:
    idents = conn.execute("SELECT * FROM identities WHERE customer_id=? ORDER BY created_at, kind",
                          (row["id"],))
    return Customer(id=row["id"], name=row["name"], created_at=parse_ts(row["created_at"]),
                    merged_into=row["merged_into"],
                    identities=tuple(to_identity(i) for i in idents), version=row["version"])


def message_page(where: str, params: list[Any], cursor: str | None, limit: int
                 ) -> Callable[[sqlite3.Connection], Page[Message]]:
    """A keyset page of the messages (m, joined with their conversation c) matching a
    condition, newest first."""
    if cursor:
        where = f"({where}) AND (m.created_at, m.id) < (?, ?)"
        params = [*params, *decode_cursor(cursor, 2)]
    sql = (f"SELECT m.* FROM messages m JOIN conversations c ON c.id = m.conversation_id "
           f"WHERE {where} ORDER BY m.created_at DESC, m.id DESC LIMIT ?")

    def op(conn: sqlite3.Connection) -> Page[Message]:
        rows = conn.execute(sql, [*params, limit + 1]).fetchall()
        more = len(rows) > limit
        last = rows[limit - 1] if more else None
        return Page(tuple(to_message(r) for r in rows[:limit]),
                    encode_cursor([last["created_at"], last["id"]]) if last else None)

    return op
