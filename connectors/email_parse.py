"""Pure parsing of one raw email into an Inbound record: no I/O, no clock unless none given.

``parse_message(raw)`` returns the Inbound plus the attachment contents (by content address)
for the caller to store; ``parse_email(raw)`` is the same without the contents. Parsing is
bounded by ``ParseLimits`` (``connectors.email_limits``): the limits a message hit are listed
in ``meta["limits"]``.
"""

from __future__ import annotations

import binascii
import codecs
import hashlib
import itertools
import mimetypes
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from connectors.email_limits import (
    DEFAULT_LIMITS,
    Budget,
    ParseLimits,
    body_size,
    bounded_parse,
    message_digests,
)
from connectors.email_text import render_html, split_quoted
from inbox.identity import normalize_email
from inbox.model import Attachment, Channel, IdentityKind, IdentityRef, Inbound

CHANNEL = Channel.EMAIL
DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
KNOWN_HEADERS = frozenset({"from", "sender", "to", "cc", "subject", "date", "message-id",
                           "received", "return-path", "in-reply-to", "references",
                           "mime-version", "content-type", "delivered-to", "reply-to"})
MAX_LISTED_ADDRESSES = 100  # To/Cc addresses kept in meta
MAX_REFERENCES = 50  # References ids kept: each becomes a thread key the store indexes
MAX_ADDRESS_FIELD_CHARS = 32_000  # of an address field given to the address parser
CONVERSATION_TOKEN = re.compile(r"\[#([A-Za-z0-9][A-Za-z0-9_-]{0,63})\]")
_ANGLE_ID = re.compile(r"<([^<>\s]+)>")
_MESSAGE_ID_FIELD = re.compile(rb"^message-id[ \t]*:", re.IGNORECASE | re.MULTILINE)
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[QqBb]\?[^?\s]*\?=")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
# text codecs whose decoding is superlinear or interprets escapes: never a mail charset
_UNSAFE_CODECS = frozenset({"punycode", "idna", "unicode-escape", "raw-unicode-escape"})


class EmailParseError(ValueError):
    """The bytes are not an email at all (no header block)."""


@dataclass(frozen=True, slots=True)
class ParsedEmail:
    inbound: Inbound
    blobs: Mapping[str, bytes] = field(default_factory=dict)  # attachment ref -> content


def parse_email(raw: bytes, *, max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
                now: datetime | None = None, limits: ParseLimits = DEFAULT_LIMITS) -> Inbound:
    """Parse raw RFC 5322 bytes into an Inbound; EmailParseError if it is not an email."""
    return parse_message(raw, max_attachment_bytes=max_attachment_bytes, now=now,
                         limits=limits).inbound


def parse_message(raw: bytes, *, max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
                  now: datetime | None = None, limits: ParseLimits = DEFAULT_LIMITS,
                  size: int | None = None) -> ParsedEmail:
    """Parse raw bytes into an Inbound plus the attachment contents to store by their ref.

    size: the whole message's size when raw is only its first bytes (a partial fetch).
    """
    if not isinstance(raw, bytes | bytearray):
        raise EmailParseError(f"expected bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    budget = Budget(limits)
    msg = bounded_parse(raw, budget)
    headers = Headers(msg, budget)
    if not raw or raw.isspace() or not set(headers.first) & KNOWN_HEADERS:
        raise EmailParseError("no email header block found (From/To/Subject/Date/Message-ID...)")
    partial = size is not None and size > len(raw)
    if partial:
        budget.hit("message_bytes")
    meta: dict[str, Any] = {}
    problems: list[str] = []

    own_id = message_id(headers.raw("Message-ID"))
    external_id = own_id.lower() if own_id else "sha256:" + hashlib.sha256(raw).hexdigest()
    meta["message_id"] = own_id
    meta["digest"], meta["header_digest"] = _digests(raw, size if partial else None, limits)

    author, author_name = _author(headers)
    subject = headers.text("Subject")
    subject = " ".join(subject.split()) if subject else None
    created_at = _date(headers, meta, now)

    truncated = "message_bytes" in budget.hits or "lines" in budget.hits
    body = _Body(budget, cut=_last_leaf(msg) if truncated else None)
    _walk(msg, body, problems)
    html, text_source = (None, "") if body.html is None else \
        render_html(body.html, budget, text=body.plain is None)
    if body.plain is not None:
        text_source = body.plain
    if len(text_source) > limits.max_text_chars:
        budget.hit("text_chars")
        text_source = text_source[:limits.max_text_chars]
    text, quoted = split_quoted(text_source)

    attachments, blobs = _attachments(body.attachments, max_attachment_bytes, meta)

    in_reply_to = message_ids(headers.raw("In-Reply-To"))
    references = message_ids(headers.raw("References"))
    if len(references) > MAX_REFERENCES:  # the thread's root and its latest ancestors
        budget.hit("references")
        references = references[:1] + references[1 - MAX_REFERENCES:]
    in_reply_to = in_reply_to[:1]
    parents = _dedupe([*in_reply_to, *reversed(references)], exclude=own_id)
    parent_keys = [f"mid:{p.lower()}" for p in parents]
    token = CONVERSATION_TOKEN.findall(subject or "")
    if token:
        parent_keys.append(f"conv:{token[-1]}")
    meta["in_reply_to"] = in_reply_to[0] if in_reply_to else None
    meta["references"] = references
    meta["to"] = headers.addresses("To")
    meta["cc"] = headers.addresses("Cc")
    _reply_to(headers, meta)
    reasons = automated_reasons(headers, msg)
    if reasons:
        meta["automated"] = reasons
    if quiet := no_auto_reply(headers, subject):
        meta["no_auto_reply"] = quiet  # inbox.usecases.acks sends it no acknowledgement
    if problems:
        meta["decode_problems"] = problems
    if body.defects:
        meta["defects"] = sorted(body.defects)
    if budget.hits:
        meta["limits"] = sorted(budget.hits)

    inbound = Inbound(
        channel=CHANNEL,
        external_id=external_id,
        authors=(IdentityRef(IdentityKind.EMAIL, author, label=author_name),) if author else (),
        text=text,
        created_at=created_at,
        author_name=author_name,
        subject=subject,
        html=html,
        quoted=quoted,
        thread_keys=(f"mid:{external_id}",),
        parent_keys=tuple(_dedupe(parent_keys)),
        automated=bool(reasons),
        attachments=attachments,
        meta=meta,
    )
    return ParsedEmail(inbound, blobs)


def external_id_of(header: bytes) -> str | None:
    """The external id parse_message would give a message, from its header block (an IMAP
    BODY[HEADER]); None without a Message-ID (the id is then the digest of the whole
    message). A cheap read of the first Message-ID field, for looking the message up: what
    decides that two messages are one is their header digest."""
    found = _MESSAGE_ID_FIELD.search(header)
    if found is None:
        return None
    lines = header[found.end():].split(b"\n")
    value = [lines[0]]
    for line in lines[1:]:
        if not line.startswith((b" ", b"\t")):
            break
        value.append(line)
    own_id = message_id(b"".join(value).decode("utf-8", "replace"))
    return own_id.lower() if own_id else None


def _digests(raw: bytes, size: int | None, limits: ParseLimits) -> tuple[str, str]:
    """The content and header digests; size: the whole message's, when raw is its start."""
    if size is None:
        return message_digests(raw)
    prefix = max(0, limits.max_message_bytes - limits.max_header_bytes)
    return message_digests(raw, size, body_size=body_size(size, raw), body_prefix=prefix)


# --- headers ---------------------------------------------------------------------------------


def _unfold(value: str) -> str:
    """The header value as text: folds removed, raw 8-bit bytes read as UTF-8."""
    if value.isascii():  # the common case, at once
        return _FOLD.sub("", value) if "\n" in value else value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # compat32 keeps undecodable bytes as lone surrogates
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        value = value.encode("utf-8", "replace").decode("utf-8")
    return _FOLD.sub("", value)


def decode_words(value: str, budget: Budget) -> str:
    """RFC 2047 encoded words decoded, at most as many as the budget allows (flagged beyond)."""
    value = _unfold(value)
    if "=?" not in value:
        return value
    limits = budget.limits
    allowed = max(0, min(limits.max_encoded_words_per_header,
                         limits.max_encoded_words - budget.encoded_words))
    extra = next(itertools.islice(_ENCODED_WORD.finditer(value), allowed, None), None)
    if extra is not None:
        budget.hit("encoded_words")
        value = value[:extra.start()].rstrip() + " \u2026"
    budget.encoded_words += allowed if extra is not None else value.count("=?")
    try:
        parts = decode_header(value)
    except Exception:  # a malformed word: keep the text as it came
        return value
    return "".join(_decode_chunk(data, charset) for data, charset in parts)


def _decode_chunk(data: bytes | str, charset: str | None) -> str:
    if isinstance(data, str):
        return data
    if charset is None:
        return data.decode("raw-unicode-escape", "replace")
    return decode_bytes(data, charset)


def decode_bytes(data: bytes, charset: str) -> str:
    """data in the charset, UTF-8 if it is unknown or unsafe, bad bytes replaced."""
    try:
        if codecs.lookup(charset).name in _UNSAFE_CODECS:
            charset = "utf-8"
    except LookupError:
        charset = "utf-8"
    return data.decode(charset, "replace")


class Headers:
    """The top-level header fields of a message (first occurrence of each), decoded on demand,
    each address field once."""

    def __init__(self, msg: Message, budget: Budget) -> None:
        self.budget = budget
        self._mailboxes: dict[str, list[tuple[str, str]]] = {}
        self.first: dict[str, str] = {}
        for name, value in msg.raw_items():
            self.first.setdefault(name.lower(), value if isinstance(value, str) else str(value))

    def raw(self, name: str) -> str | None:
        """The field unfolded, without RFC 2047 decoding (ids, dates, addresses)."""
        value = self.first.get(name.lower())
        return None if value is None else _unfold(value)

    def text(self, name: str) -> str | None:
        """The field decoded (RFC 2047 words, 8-bit UTF-8)."""
        value = self.first.get(name.lower())
        return None if value is None else decode_words(value, self.budget)

    def mailboxes(self, name: str) -> list[tuple[str, str]]:
        """(display name, address) pairs of an address field.

        Addresses are parsed first and names decoded after, so an address can never come out
        of an encoded display name.
        """
        key = name.lower()
        if key not in self._mailboxes:
            self._mailboxes[key] = self._parse_mailboxes(name)
        return list(self._mailboxes[key])

    def _parse_mailboxes(self, name: str) -> list[tuple[str, str]]:
        value = self.raw(name)
        if not value:
            return []
        if len(value) > MAX_ADDRESS_FIELD_CHARS:
            self.budget.hit("address_field_chars")
            value = value[:MAX_ADDRESS_FIELD_CHARS]
        pairs = simple_mailboxes(value)
        if pairs is None:
            try:
                pairs = getaddresses([value])
            except RecursionError:  # nested comments or groups: the stdlib parser recurses
                self.budget.hit("address_nesting")
                return []
        return [(decode_words(n, self.budget).strip(), a.strip()) for n, a in pairs if "@" in a]

    def addresses(self, name: str) -> list[str]:
        """Lower-cased addresses of an address field, at most MAX_LISTED_ADDRESSES."""
        return [a.lower() for _, a in self.mailboxes(name)[:MAX_LISTED_ADDRESSES]]


# The common address fields, read without the stdlib's character-by-character parser:
# "addr@dom.ain" and "Display Name <addr@dom.ain>" (words or "quoted words", no comments,
# routes, groups, escapes or odd spacing), separated by commas.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]++"
_ADDR_SPEC = rf"{_ATOM}(?:\.{_ATOM})*+@{_ATOM}(?:\.{_ATOM})*+"
_WORD = r'(?:[^()<>@,:;"\[\]\\\s]++|"[^"\\\r\n]*+")'
_MAILBOX = re.compile(rf"[ \t]*+(?:(?P<bare>{_ADDR_SPEC})|(?P<name>{_WORD}(?:[ \t]++{_WORD})*+)?"
                      rf"[ \t]*+<(?P<route>{_ADDR_SPEC})>)[ \t]*+(?:,|\Z)")
_PHRASE_WORD = re.compile(_WORD)


def simple_mailboxes(value: str) -> list[tuple[str, str]] | None:
    """What email.utils.getaddresses([value]) gives when value is a list of common mailboxes
    (see _MAILBOX); None for any other value."""
    pairs: list[tuple[str, str]] = []
    pos = 0
    while pos < len(value) or not pairs:
        found = _MAILBOX.match(value, pos)
        if found is None:
            return None
        if found["bare"]:
            pairs.append(("", found["bare"]))
        else:
            words = _PHRASE_WORD.findall(found["name"] or "")
            pairs.append((" ".join(w[1:-1] if w[:1] == '"' else w for w in words),
                          found["route"]))
        if found.end() == len(value) and value[-1:] == ",":
            return None  # a trailing comma: the stdlib gives an empty pair more
        pos = found.end()
    return pairs


def message_id(value: str | None) -> str | None:
    """The first <id> of a Message-ID header, without brackets (None if empty)."""
    ids = message_ids(value)
    if ids:
        return ids[0]
    bare = (value or "").strip().strip("<>").strip()
    return bare.split()[0] if bare else None


def message_ids(value: str | None) -> list[str]:
    """Every <id> in an In-Reply-To/References header, in header order."""
    return _ANGLE_ID.findall(value or "")


def _author(headers: Headers) -> tuple[str | None, str | None]:
    for name in ("From", "Sender", "Reply-To", "Return-Path"):
        found = headers.mailboxes(name)
        if found:
            display, address = found[0]
            return address.lower(), (" ".join(display.split()) or None)
    return None, None


def _reply_to(headers: Headers, meta: dict[str, Any]) -> None:
    """meta["reply_to"]: the one valid Reply-To address; a list or an invalid one is ignored."""
    if headers.raw("Reply-To") is None:
        return
    found = headers.mailboxes("Reply-To")
    valid = normalize_email(found[0][1]) if len(found) == 1 else None
    if valid:
        meta["reply_to"] = valid
    else:
        why = f"{len(found)} addresses" if len(found) > 1 else "no valid address"
        meta["reply_to_ignored"] = f"Reply-To has {why}; replies go to the sender"


def _date(headers: Headers, meta: dict[str, Any], now: datetime | None) -> datetime:
    value = headers.raw("Date")
    parsed: datetime | None = None
    if value:
        try:
            parsed = parsedate_to_datetime(value)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            parsed = parsed.astimezone(UTC)
        except (TypeError, ValueError, IndexError, OverflowError):
            parsed = None
    if parsed is None:
        meta["date_problem"] = f"invalid Date header {value[:200]!r}" if value else \
            "no Date header"
        return now or datetime.now(UTC)
    return parsed


# Out-of-office subjects of mail clients that send no Auto-Submitted header
_OUT_OF_OFFICE = re.compile(
    r"^\s*(automatic reply|auto[- ]?reply|autoreply|out of (the )?office|abwesenheitsnotiz|"
    r"automatische antwort|automatisch antwoord|afwezigheidsbericht|r[ée]ponse automatique|"
    r"absence du bureau|respuesta autom[áa]tica|fuera de la oficina)\s*:", re.IGNORECASE)


def no_auto_reply(headers: Headers, subject: str | None) -> list[str]:
    """Why this mail must get no automatic reply though a person may have written it: the
    sender asks for none (X-Auto-Response-Suppress), or its subject says out of office."""
    reasons = []
    suppress = (headers.raw("X-Auto-Response-Suppress") or "").lower()
    if any(w in suppress for w in ("all", "oof", "autoreply")):
        reasons.append(f"x-auto-response-suppress:{suppress.strip()[:60]}")
    if subject and _OUT_OF_OFFICE.match(subject):
        reasons.append("out-of-office subject")
    return reasons


def automated_reasons(headers: Headers, msg: Message) -> list[str]:
    """Why this mail looks machine-sent (auto-reply, bounce, list); empty if it does not."""
    reasons = []
    auto = (headers.raw("Auto-Submitted") or "").split(";")[0].strip().lower()
    if auto and auto != "no":
        reasons.append(f"auto-submitted:{auto[:100]}")
    for header in ("Precedence", "X-Precedence"):
        precedence = (headers.raw(header) or "").strip().lower()
        if precedence in ("bulk", "junk", "list", "auto_reply"):
            reasons.append(f"precedence:{precedence}")
    if (headers.raw("Return-Path") or "").replace(" ", "") == "<>":
        reasons.append("null-return-path")
    if msg.get_content_type() in ("multipart/report", "message/delivery-status"):
        reasons.append("report")
    for name in ("X-Autoreply", "X-Autorespond", "X-Autogenerated", "X-AutoReply-From",
                 "X-Mail-Autoreply", "X-FC-MachineGenerated", "List-Id", "List-Unsubscribe",
                 "List-Post"):
        if headers.raw(name) is not None:
            reasons.append(name.lower())
    found = headers.mailboxes("From")
    sender = found[0][1].lower() if found else ""
    if sender.split("@")[0] in ("mailer-daemon", "postmaster"):
        reasons.append("mailer-daemon")
    return reasons


def _dedupe(items: list[str], exclude: str | None = None) -> list[str]:
    seen = {exclude.lower()} if exclude else set()
    out = []
    for item in items:
        if item.lower() not in seen:
            seen.add(item.lower())
            out.append(item)
    return out


# --- body ------------------------------------------------------------------------------------


@dataclass
class _Body:
    budget: Budget
    cut: Message | None = None  # the part a truncation cut short
    plain: str | None = None
    html: str | None = None
    # (file name, content type, content or None when cut short, size)
    attachments: list[tuple[str | None, str, bytes | None, int]] = field(default_factory=list)
    defects: set[str] = field(default_factory=set)

    def attach(self, filename: str | None, ctype: str, part: Message) -> None:
        if part is self.cut:  # not decoded: only its first bytes were read
            read = part.get_payload()
            size = len(read) if isinstance(read, str) else 0
            self.attachments.append((filename, ctype, None, size))
            return
        data = _rfc822_bytes(part) if ctype == "message/rfc822" else _payload_bytes(part)
        self.attachments.append((filename, ctype, data, len(data)))

    def add_plain(self, text: str) -> None:
        if self.plain is not None and len(self.plain) >= self.budget.limits.max_text_chars:
            self.budget.hit("text_chars")
            return
        self.plain = text if self.plain is None else self.plain.rstrip("\n") + "\n\n" + text


def _walk(part: Message, body: _Body, problems: list[str]) -> None:
    """Pick the text/plain and text/html bodies; everything else is an attachment."""
    ctype = part.get_content_type()
    body.defects.update(type(d).__name__ for d in part.defects)
    if part.is_multipart() and ctype != "message/rfc822":
        subparts = list(_subparts(part))
        if ctype == "multipart/alternative":
            readable = [p for p in subparts if p.get_content_type() in ("text/plain", "text/html")
                        or p.get_content_maintype() == "multipart"]
            subparts = readable or subparts[-1:]
        for sub in subparts:
            _walk(sub, body, problems)
        return
    disposition = (part.get_content_disposition() or "").lower()
    filename = _filename(part, body.budget)
    if ctype == "message/rfc822":
        body.attach(filename, ctype, part)
        return
    if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
        limits = body.budget.limits
        text = decode_text(part, problems, limits.max_text_chars if ctype == "text/plain"
                           else limits.max_html_chars)
        if ctype == "text/plain":
            body.add_plain(text)
        elif body.html is None:
            body.html = text
        return
    if part.get_content_maintype() == "multipart":  # a multipart without parts (bad boundary)
        body.add_plain(decode_text(part, problems, body.budget.limits.max_text_chars))
        return
    body.attach(filename, ctype, part)


def _subparts(part: Message) -> Iterator[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        yield from (sub for sub in payload if isinstance(sub, Message))


def _last_leaf(msg: Message) -> Message | None:
    """The part that ends the message: the one a truncation cut."""
    leaf = None
    for part in msg.walk():
        if not part.is_multipart():
            leaf = part
    return leaf


def _filename(part: Message, budget: Budget) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return None
    if not name:
        return None
    name = decode_words(str(name), budget)
    return name.replace("/", "_").replace("\\", "_").strip() or None


def _payload_bytes(part: Message) -> bytes:
    payload = part.get_payload()
    if isinstance(payload, str) and \
            str(part.get("content-transfer-encoding", "")).strip().lower() == "base64":
        return _base64(payload)
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""


def _base64(text: str) -> bytes:
    """Decoded base64, whatever the damage, in a third of the stdlib's memory (no line split)."""
    try:
        return binascii.a2b_base64(text)
    except (binascii.Error, ValueError):  # bad padding, a cut-off end, non-ASCII junk
        clean = _NOT_BASE64.sub("", text)
        rest = len(clean) % 4  # 2 or 3: padding left off; 1: a character too many
        return binascii.a2b_base64(clean[:-1] if rest == 1 else clean + "=" * (-rest % 4))


_RFC822_POLICY = policy.compat32.clone(linesep="\r\n", mangle_from_=False)


def _rfc822_bytes(part: Message) -> bytes:
    inner = next(_subparts(part), None)
    if inner is None:
        return _payload_bytes(part)
    try:
        return bytes(inner.as_bytes(policy=_RFC822_POLICY))
    except Exception:  # a part the parse stopped in (a limit) has no payload to write
        return b""


def decode_text(part: Message, problems: list[str], max_chars: int | None = None) -> str:
    """A text part's content as str: declared charset, else UTF-8, never an exception.

    With max_chars only the bytes that can make that many characters are decoded.
    """
    data = _payload_bytes(part)
    if max_chars is not None and len(data) > 4 * max_chars:  # 4: the widest UTF-8/32 char
        data = data[:4 * max_chars]
    charset = part.get_content_charset() or "us-ascii"
    try:
        if codecs.lookup(charset).name in _UNSAFE_CODECS:
            raise LookupError(charset)
        return _normalize_newlines(data.decode(charset))
    except LookupError:
        problems.append(f"unknown charset {charset[:100]!r}")
        charset = "utf-8"
    except UnicodeError:
        pass
    try:
        text = data.decode("utf-8")  # undeclared 8-bit text is most often UTF-8
    except UnicodeDecodeError:
        text = data.decode(charset, errors="replace")
        problems.append(f"undecodable bytes in {charset[:100]} text replaced")
    else:
        if charset not in ("us-ascii", "ascii", "utf-8"):
            problems.append(f"text is not valid {charset[:100]}, decoded as utf-8")
    return _normalize_newlines(text)


def _normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _attachments(
    parts: list[tuple[str | None, str, bytes | None, int]], cap: int, meta: dict[str, Any]
) -> tuple[tuple[Attachment, ...], dict[str, bytes]]:
    attachments: list[Attachment] = []
    blobs: dict[str, bytes] = {}
    over: list[str] = []
    for n, (filename, ctype, data, size) in enumerate(parts, start=1):
        name = filename or f"attachment-{n}{mimetypes.guess_extension(ctype) or '.bin'}"
        ref: str | None = None
        if data is None:
            meta["attachment_cut"] = name  # only its first bytes were read: not kept
        elif size > cap:
            over.append(name)
        else:
            ref = "sha256:" + hashlib.sha256(data).hexdigest()
            blobs[ref] = data
        attachments.append(Attachment(name=name, content_type=ctype, size=size, ref=ref))
    if over:
        meta["attachments_over_cap"] = {"names": over, "max_bytes": cap}
    return tuple(attachments), blobs
