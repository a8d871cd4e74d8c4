"""The inbound normaliser: every Inbound passes here before ingest plans it. Pure.

Whatever a connector hands over (a mail, a post, a form), what reaches the stores is:
- text in NFC, lone surrogates replaced by U+FFFD (paired ones joined), CR LF as LF, NUL
  and the other control characters removed (tab and newline kept);
- names, labels, subjects and file names on one line, without the bidi controls that
  reorder what a reader sees (overrides, embeddings, isolates; marks too in names);
- every field capped in length (the constants below); ids and keys over their cap keep a
  prefix plus a hash of the whole value, so two long ids never become one;
- meta as plain JSON (str, int, float, bool, None, list, dict) of bounded depth and size;
- created_at aware and within 1970-2261 (what every store compares), else the received time.

What was cut is recorded in meta: ``truncated`` (field names), ``date_replaced`` (the
original date as text), ``attachments_dropped`` / ``keys_dropped`` / ``authors_dropped``
(how many).
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from inbox.model import (
    Attachment,
    Channel,
    Direction,
    IdentityKind,
    IdentityRef,
    Inbound,
    parse_enum,
)

# Caps, in characters (after cleaning) unless said otherwise.
MAX_TEXT = 500_000  # the customer's words
MAX_HTML = 1_000_000  # sanitized HTML; over the cap it is dropped (a cut tag is unsafe)
MAX_QUOTED = 200_000  # quoted earlier text
MAX_SUBJECT = 1_000
MAX_NAME = 256  # author name, identity label, attachment file name
MAX_SHORT = 64  # channel, direction, identity kind
MAX_LANG = 35  # the longest BCP 47 tag in practice
MAX_CONTENT_TYPE = 255
MAX_ID = 1_000  # external_id, identity value, revision, thread/parent key, attachment ref
MAX_KEYS = 100  # thread keys, and parent keys (References of a long thread)
MAX_AUTHORS = 20
MAX_ATTACHMENTS = 100
MAX_ATTACHMENT_SIZE = 2**53  # bytes; JSON numbers stay exact below this
MAX_META_DEPTH = 8  # nesting of dicts and lists; deeper values become None
MAX_META_ITEMS = 200  # entries per dict or list
MAX_META_NODES = 5_000  # values in the whole meta tree; the rest is dropped
MAX_META_KEY = 128
MAX_META_STRING = 10_000
MIN_YEAR, MAX_YEAR = 1970, 2261  # dates every store (and ES date_nanos) compares
MAX_MARKS = 30  # combining marks in a row (UAX #15 "stream-safe" text); more are dropped

_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 controls and DEL, except tab and newline (CR is handled before)
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROLS_AND_SPACE = re.compile("[\x00-\x1f\x7f-\x9f]")  # one-line fields
_SURROGATE_CR_CONTROL = re.compile("[\ud800-\udfff\r\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")  # embeddings, overrides, isolates
_BIDI_ALL = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")  # and marks
_HASH_LEN = 16


# Where Unicode has characters with a combining class: the basic and supplementary
# multilingual planes (2-3 are ideographs, 14 tags and selectors, 15-16 private use; plane
# 14's start is scanned too): the whole range gives the same characters (tested), in a
# tenth of the time.
_SCRIPT_PLANES = (range(0x300, 0x20000), range(0xE0000, 0xE1000))


@functools.cache
def _mark_runs() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Runs of more than MAX_MARKS characters with a combining class (built once, lazily),
    and a quick test that text has none.

    The class is written as ranges, the Basic Multilingual Plane's apart (re tests those in
    one lookup) and the others only for characters beyond it: 10x faster than one class.
    The quick test looks for as many characters in a row that are marks of that plane or
    any character beyond it: a pattern that starts with one class, which re scans for at C
    speed (3x faster than the runs' pattern finding none)."""
    marks = [c for plane in _SCRIPT_PLANES for c in plane if unicodedata.combining(chr(c))]
    basic = char_class([c for c in marks if c <= 0xFFFF])
    beyond = char_class([c for c in marks if c > 0xFFFF])
    runs = f"(?:[{basic}]|(?=[\U00010000-\U0010ffff])[{beyond}]){{{MAX_MARKS + 1},}}"
    maybe = f"[{basic}\U00010000-\U0010ffff]{{{MAX_MARKS + 1}}}"
    return re.compile(runs), re.compile(maybe)


def warm_up() -> None:
    """Build what normalising builds lazily (the marks' patterns, about 30 ms), so that no
    message waits for it: a process that ingests calls it when it starts."""
    _mark_runs()


def char_class(codes: list[int]) -> str:
    """A regex character class body of these (ascending) code points, as ranges."""
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                   for a, b in ranges)


def stream_safe(text: str) -> str:
    """At most MAX_MARKS combining marks in a row. Unicode normalisation sorts a run of marks
    in quadratic time: 40,000 of them cost seconds, so hostile text is cut to what no
    script needs (UAX #15 stream-safe format)."""
    if text.isascii():
        return text
    runs, maybe = _mark_runs()
    if maybe.search(text) is None:
        return text
    return runs.sub(lambda run: run.group()[:MAX_MARKS], text)


def _surrogates_fixed(text: str) -> str:
    if _SURROGATE.search(text) is None:
        return text
    # UTF-16 round trip: paired surrogates become the character, lone ones U+FFFD
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def clean_text(text: str, cap: int) -> str:
    """Multi-line text: NFC, no lone surrogates, LF line ends, no controls but tab/LF."""
    text = str(text)[: cap * 2]
    if text.isascii():  # no surrogates, marks or decompositions: only controls to remove
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        return (text if text.isprintable() else _CONTROLS.sub("", text))[:cap]
    if _SURROGATE_CR_CONTROL.search(text) is not None:  # else these three change nothing
        text = _surrogates_fixed(text)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = _CONTROLS.sub("", text)
    return unicodedata.normalize("NFC", stream_safe(text))[:cap]


def clean_label(text: str, cap: int = MAX_NAME, marks: bool = True) -> str:
    """One-line text (names, labels, file names, subjects): controls become spaces, bidi
    overrides/embeddings/isolates are removed (and the LRM/RLM/ALM marks when `marks`)."""
    if type(text) is str and text.isascii() and text.isprintable():  # nothing to remove
        return text[: cap * 2].strip()[:cap]
    text = _surrogates_fixed(str(text)[: cap * 2])
    text = (_BIDI_ALL if marks else _BIDI_CONTROLS).sub("", text)
    text = _CONTROLS_AND_SPACE.sub(" ", text)
    return unicodedata.normalize("NFC", stream_safe(text)).strip()[:cap]


def required_label(value: object, cap: int, field: str, why: str,
                   errors: dict[str, str]) -> str:
    """A form's required one-line label, cleaned (clean_label); what is wrong with it goes
    to errors[field] ("required: " + why, or too long)."""
    clean = clean_label(value, cap + 1) if isinstance(value, str) else ""
    if not clean:
        errors[field] = f"required: {why}"
    elif len(clean) > cap:
        errors[field] = f"at most {cap} characters"
    return clean


def clean_id(value: str, cap: int = MAX_ID) -> str:
    """An identifier or key: one line; over the cap, a prefix plus a hash of the whole."""
    if type(value) is str and len(value) <= cap and value.isascii() and value.isprintable():
        return value  # the usual id: nothing to remove or cut
    text = _CONTROLS_AND_SPACE.sub("", _surrogates_fixed(str(value)))
    if len(text) <= cap:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:_HASH_LEN]
    return f"{text[: cap - _HASH_LEN - 1]}#{digest}"


def _optional(value: str | None, clean: Any, *args: Any) -> str | None:
    if value is None:
        return None
    return clean(value, *args) or None


class _Budget:
    def __init__(self, nodes: int) -> None:
        self.left = nodes
        self.cut = False


_COLLECTIONS = (list, tuple, set, frozenset)


def clean_json(value: Any, depth: int = MAX_META_DEPTH, budget: _Budget | None = None) -> Any:
    """A plain JSON value of bounded depth, size and string length (meta)."""
    budget = budget or _Budget(MAX_META_NODES)
    budget.left -= 1
    if budget.left < 0:
        budget.cut = True
        return None
    if isinstance(value, str):  # the usual value first
        if len(value) > MAX_META_STRING:
            budget.cut = True
        elif type(value) is str and value.isascii() and value.isprintable():
            return value  # nothing to clean
        return clean_text(value, MAX_META_STRING)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    kind = type(value)  # a dict or a list: no ABC check
    mapping = kind is dict or (kind is not list and isinstance(value, Mapping))
    if mapping or kind is list or isinstance(value, _COLLECTIONS):
        if depth <= 0:
            budget.cut = True
            return None
        items = list(value.items()) if mapping else list(value)
        if len(items) > MAX_META_ITEMS:
            budget.cut = True
            items = items[:MAX_META_ITEMS]
        if mapping:
            return {key if type(key) is str and len(key) <= MAX_META_KEY and key.isascii()
                    and key.isprintable() else clean_id(str(key), MAX_META_KEY):
                    item if _plain(item, budget) else clean_json(item, depth - 1, budget)
                    for key, item in items}
        return [item if _plain(item, budget) else clean_json(item, depth - 1, budget)
                for item in items]
    return clean_text(str(value), MAX_META_STRING)  # datetimes, decimals ...: as text


def _plain(value: Any, budget: _Budget) -> bool:
    """A value kept as it is (counted in the budget): None, a bool or a short printable ASCII
    string, most of any meta. Anything else goes through clean_json."""
    kind = type(value)
    if value is None or kind is bool or (kind is str and len(value) <= MAX_META_STRING
                                         and value.isascii() and value.isprintable()):
        if budget.left > 0:
            budget.left -= 1
            return True
    return False


def storable_time(when: datetime) -> bool:
    """Is this aware time within what every store holds (MIN_YEAR-MAX_YEAR: Elasticsearch's
    date_nanos refuses a document with a date before 1970 or after 2262-04-11)? The one
    rule for dates the core writes: received ones (bounded_time) and computed ones (SLA
    deadlines)."""
    return MIN_YEAR <= when.astimezone(UTC).year <= MAX_YEAR


def bounded_time(value: Any, received: datetime) -> tuple[datetime, str | None]:
    """An aware UTC time within the stores' range (MIN_YEAR-MAX_YEAR), or, for anything else
    (out of range, naive overflow, not a datetime at all), ``received`` and the original as
    text for meta["date_replaced"]. Connectors with their own date text use it too."""
    try:
        when = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        when = when.astimezone(UTC)
        if storable_time(when):
            return when, None
    except (AttributeError, OverflowError, ValueError, TypeError):
        pass
    return received, clean_text(str(value), 100)


def _keys(keys: Iterable[str], meta: dict[str, Any], what: str) -> tuple[str, ...]:
    if not keys:  # most messages have no parent keys
        return ()
    cleaned = list(dict.fromkeys(k for k in (clean_id(k) for k in keys) if k))
    if len(cleaned) > MAX_KEYS:
        meta[f"{what}_dropped"] = len(cleaned) - MAX_KEYS
    return tuple(cleaned[:MAX_KEYS])


E = TypeVar("E", bound=StrEnum)


def _member(kind: type[E], value: object) -> E:
    """A member of the enum (most connectors give one), or the one its cleaned text names."""
    return value if type(value) is kind else parse_enum(kind, clean_id(str(value), MAX_SHORT))


def _author(ref: IdentityRef) -> IdentityRef:
    if _clean_ref(ref):
        return ref  # the usual author: a connector's own, nothing to clean
    return IdentityRef(_member(IdentityKind, ref.kind), clean_id(ref.value),
                       _optional(ref.label, clean_label), bool(ref.verified))


def _clean_ref(ref: IdentityRef) -> bool:
    """Would cleaning leave this reference as it is (every test of cleaning, at once)?"""
    value, label = ref.value, ref.label
    return (type(ref) is IdentityRef and type(ref.kind) is IdentityKind
            and type(value) is str and len(value) <= MAX_ID and value.isascii()
            and value.isprintable() and type(ref.verified) is bool
            and (label is None or (type(label) is str and 0 < len(label) <= MAX_NAME
                                   and label.isascii() and label.isprintable()
                                   and label == label.strip())))


def _attachment(att: Attachment) -> Attachment:
    try:
        size = min(max(int(att.size), 0), MAX_ATTACHMENT_SIZE)
    except (TypeError, ValueError, OverflowError):
        size = 0
    return Attachment(clean_label(att.name) or "attachment",
                      clean_label(att.content_type, MAX_CONTENT_TYPE) or
                      "application/octet-stream", size, _optional(att.ref, clean_id))


def normalize_inbound(item: Inbound, received: datetime) -> Inbound:
    """The Inbound as the stores may take it (see the module docstring)."""
    budget = _Budget(MAX_META_NODES)
    raw_meta = item.meta if isinstance(item.meta, Mapping) else {}
    meta: dict[str, Any] = clean_json(dict(raw_meta), MAX_META_DEPTH, budget)
    cut = [name for name, value, cap in (
        ("text", item.text, MAX_TEXT), ("html", item.html, MAX_HTML),
        ("quoted", item.quoted, MAX_QUOTED), ("subject", item.subject, MAX_SUBJECT),
        ("author_name", item.author_name, MAX_NAME)) if value is not None and len(value) > cap]
    if budget.cut:
        cut.append("meta")
    created_at, replaced = bounded_time(item.created_at, received)
    if replaced is not None:
        meta["date_replaced"] = replaced
    authors = list(item.authors)
    if len(authors) > MAX_AUTHORS:
        meta["authors_dropped"] = len(authors) - MAX_AUTHORS
    attachments = list(item.attachments)
    if len(attachments) > MAX_ATTACHMENTS:
        meta["attachments_dropped"] = len(attachments) - MAX_ATTACHMENTS
    html = item.html if item.html is None or len(item.html) <= MAX_HTML else None
    thread_keys = _keys(item.thread_keys, meta, "thread_keys")
    parent_keys = _keys(item.parent_keys, meta, "parent_keys")
    if cut:
        meta["truncated"] = cut
    return Inbound(  # every field, made anew (a replace() costs twice as much)
        channel=_member(Channel, item.channel),
        external_id=clean_id(item.external_id),
        authors=tuple(_author(r) for r in authors[:MAX_AUTHORS]),
        text=clean_text(item.text or "", MAX_TEXT),
        created_at=created_at,
        author_name=_optional(item.author_name, clean_label),
        subject=_optional(item.subject, clean_label, MAX_SUBJECT, False),
        html=_optional(html, clean_text, MAX_HTML),
        quoted=_optional(item.quoted, clean_text, MAX_QUOTED),
        thread_keys=thread_keys,
        parent_keys=parent_keys,
        lang=_optional(item.lang, clean_id, MAX_LANG),
        listening=bool(item.listening),
        automated=bool(item.automated),
        revision=_optional(item.revision, clean_id),
        attachments=tuple(_attachment(a) for a in attachments[:MAX_ATTACHMENTS]),
        direction=_member(Direction, item.direction),
        meta=meta,
    )
