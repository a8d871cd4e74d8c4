"""Customer contacts hidden from who may not see them: email addresses and phone numbers.

One function finds them (`contact_spans`), for what pages show (`redact`) and for the
public copy of the text the stores index (`public_copy`): conservative (any run of seven
digits or more is a number, whatever the region) and cheap (regular expressions, a few
microseconds per message, so ingest can afford it). Disguises count: fullwidth or small
"@", spaces around it, "[at]"/"(dot)", ideographic full stops, fullwidth and other
scripts' digits, invisible characters inside an address or a number.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import replace

from inbox.model import Message
from inbox.normalize import char_class

EMAIL_HIDDEN, PHONE_HIDDEN = "[email hidden]", "[phone hidden]"
INDEX_GAP = " "  # what the public copy has in place of a contact: no word at all


def _fold_table() -> dict[int, str]:
    """Characters folded, one for one (offsets stay put), to the ASCII they stand for:
    compatibility forms (＠, ﹫, ０-９, ｏ, ．), every script's decimal digits, full stops,
    dashes and spaces."""
    table: dict[int, str] = {}
    ranges = (range(0x80, 0x10000), range(0x1D7CE, 0x1D800), range(0x1FBF0, 0x1FBFA))
    for cp in (cp for r in ranges for cp in r):
        ch = chr(cp)
        digit = unicodedata.decimal(ch, None)
        folded = str(digit) if digit is not None else unicodedata.normalize("NFKC", ch)
        if len(folded) == 1 and folded.isascii() and folded != ch:
            table[cp] = folded
        elif unicodedata.category(ch) == "Zs":
            table[cp] = " "
    for ch in "。｡︒":  # ideographic full stops
        table[ord(ch)] = "."
    for ch in "‐‑‒–—―−﹘﹣－":  # dashes
        table[ord(ch)] = "-"
    return table


_FOLD = _fold_table()
# Where a text has something to fold: str.translate looks every character up in the table
# (a 5 KB text costs 250 µs); the pattern finds the few that are there
_FOLDED = re.compile(f"[{char_class(sorted(_FOLD))}]")
# Format characters that hide inside an address or a number: dropped before matching.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069"
                        "\ufeff]+")

_LOCAL = r"[\w.!#$%&'*+/=?^`{|}~-]"
_AT = r"(?:[ \t]{0,2}@[ \t]{0,2}|[ \t]?[\[(][ \t]?at[ \t]?[\])][ \t]?)"
_DOT = r"(?:\.|[ \t]?[\[(][ \t]?dot[ \t]?[\])][ \t]?)"
# An address: a local part (from the start of its run), "@" and a domain with a dot.
_EMAIL = rf"(?<!{_LOCAL}){_LOCAL}++{_AT}[\w-]++(?:{_DOT}[\w-]++)+"
# A number: 7 digits or more, up to 3 separators between two, an optional "+" or "(" in
# front, an extension ("x12") behind; never glued to a word ("NW11556911", "CAS-8520941",
# ".../status/1234567890") and never starting inside another run of digits (which keeps
# the scan linear).
_SEP = r"[ \t.\-/()]"
# A number starts with "+" (whatever came before it: "2 +44 ..." is two numbers) or with a
# digit or "(" that does not continue a run of digits already seen.
_PHONE = (rf"(?:(?<![\w+])\+[ \t]?\(?|(?<![\w+])(?<!\w[-/])(?<!\d{_SEP})(?<!\d{_SEP}{{2}})"
          rf"(?<!\d{_SEP}{{3}})\(?)(?>\d(?:{_SEP}{{0,3}}\d){{6,}})\)?(?![-/]?(?![xX]\d)\w)")
# Dates (2026-11-30, 30.11.2026, 11/30/26) are not numbers, when nothing but a time of day
# follows them.
_DATE = (r"(?<![\w.\-/])(?:\d{4}-\d\d?-\d\d?|\d\d?[./-]\d\d?[./-](?:\d{4}|\d\d))"
         r"(?=[ T]\d\d?:\d|(?![ \t.\-/]?\d))")
_EMAILS = re.compile(_EMAIL, re.IGNORECASE)
_NUMBERS = re.compile(rf"(?=[\d+(])(?:(?P<date>{_DATE})|{_PHONE})")
# Cheap tests first: most messages hold no "@" and no seven digits.
_AT_SIGNS = re.compile(r"@|[\[(][ \t]?at[ \t]?[\])]", re.IGNORECASE)
_LOCAL_MAX, _DOMAIN_MAX = 100, 300  # characters around an "@" that an address may take
_MAYBE_NUMBER = re.compile(r"\d(?:\D{0,3}\d){6}")


def contact_spans(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, is_email) of every contact in `text`, in order."""
    if not text.isascii():
        text = _FOLDED.sub(lambda found: _FOLD[ord(found.group())], text)
    if text.isascii() or _INVISIBLE.search(text) is None:
        return _spans(text)
    visible, origins, starts = _without_invisible(text)

    def origin(offset: int, end: bool) -> int:
        # an end at a piece boundary belongs to the piece before (not after the invisibles)
        piece = max((bisect.bisect_left if end else bisect.bisect_right)(starts, offset) - 1, 0)
        return origins[piece] + offset - starts[piece]

    return [(origin(s, False), origin(e, True), m) for s, e, m in _spans(visible)]


def _without_invisible(text: str) -> tuple[str, list[int], list[int]]:
    """The text without invisible characters; where each visible piece starts in `text`
    and in the result."""
    pieces: list[str] = []
    origins: list[int] = []
    starts: list[int] = []
    pos = length = 0
    for found in [*_INVISIBLE.finditer(text), None]:
        piece = text[pos:found.start() if found else len(text)]
        origins.append(pos)
        starts.append(length)
        pieces.append(piece)
        length += len(piece)
        pos = found.end() if found else len(text)
    return "".join(pieces), origins, starts


def _around_at_signs(text: str) -> list[tuple[int, int]]:
    """The stretches of text within reach of an "@", merged (so each is scanned once)."""
    ranges: list[tuple[int, int]] = []
    for at in _AT_SIGNS.finditer(text):
        start, end = max(at.start() - _LOCAL_MAX, 0), at.end() + _DOMAIN_MAX
        if ranges and start <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], end)
        else:
            ranges.append((start, end))
    return ranges


def _spans(text: str) -> list[tuple[int, int, bool]]:
    found: list[tuple[int, int, bool]] = []
    for start, end in _around_at_signs(text):  # an address lies around an "@": look there
        found += [(m.start(), m.end(), True) for m in _EMAILS.finditer(text, start, end)]
    if _MAYBE_NUMBER.search(text):
        found += [(m.start(), m.end(), False) for m in _NUMBERS.finditer(text)
                  if m.lastgroup != "date"]
    if not found:
        return found
    merged = [min(found)]
    for start, end, is_email in sorted(found)[1:]:  # a number inside an address: one
        last = merged[-1]
        if start < last[1]:
            merged[-1] = (last[0], max(last[1], end), last[2] or is_email)
        else:
            merged.append((start, end, is_email))
    return merged


def _replace(text: str, email: str, phone: str) -> str:
    spans = contact_spans(text)
    if not spans:
        return text
    parts, last = [], 0
    for start, end, is_email in spans:
        parts += [text[last:start], email if is_email else phone]
        last = end
    return "".join(parts) + text[last:]


def redact(text: str | None) -> str | None:
    """`text` with every email address and phone number replaced by a placeholder."""
    return _replace(text, EMAIL_HIDDEN, PHONE_HIDDEN) if text else text


def public_copy(text: str | None) -> str | None:
    """The text the stores index for who may not see contacts: every contact gone, so no
    search, prefix or trending word can find a piece of one."""
    return _replace(text, INDEX_GAP, INDEX_GAP) if text else text


def inbound_only(message: Message) -> Message:
    """What who is not in the care team may see of a customer's message: no quoted earlier
    text nor HTML (both carry the agents' replies the customer quoted)."""
    return replace(message, quoted=None, html=None)


def redact_message(message: Message) -> Message:
    """What who sees neither contacts nor care (inbound_only) may see of a message:
    redacted text, subject, author and ids; no quote, HTML, attachments or channel
    metadata (they hold replies, addresses and headers)."""
    return replace(
        inbound_only(message), text=redact(message.text) or "",
        subject=redact(message.subject), author_label=redact(message.author_label),
        external_id=redact(message.external_id) or "", author_keys=(), html=None,
        attachments=(), meta={k: v for k, v in message.meta.items() if k in _META_SHOWN})


_META_SHOWN = ("kind", "url")  # a direct message or not, the public X post's address
