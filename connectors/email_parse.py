"""Pure parsing of one raw email into an Inbound record: no I/O, no clock unless none given.

``parse_message(raw)`` returns the Inbound plus the attachment contents (by content address)
for the caller to store; ``parse_email(raw)`` is the same without the contents.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

import nh3

from inbox.model import Attachment, IdentityRef, Inbound

CHANNEL = "email"
DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
KNOWN_HEADERS = frozenset({"from", "sender", "to", "cc", "subject", "date", "message-id",
                           "received", "return-path", "in-reply-to", "references",
                           "mime-version", "content-type", "delivered-to", "reply-to"})
CONVERSATION_TOKEN = re.compile(r"\[#([A-Za-z0-9][A-Za-z0-9_-]{0,63})\]")
_ANGLE_ID = re.compile(r"<([^<>\s]+)>")


class EmailParseError(ValueError):
    """The bytes are not an email at all (no header block)."""


@dataclass(frozen=True, slots=True)
class ParsedEmail:
    inbound: Inbound
    blobs: Mapping[str, bytes] = field(default_factory=dict)  # attachment ref -> content


def parse_email(raw: bytes, *, max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
                now: datetime | None = None) -> Inbound:
    """Parse raw RFC 5322 bytes into an Inbound; EmailParseError if it is not an email."""
    return parse_message(raw, max_attachment_bytes=max_attachment_bytes, now=now).inbound


def parse_message(raw: bytes, *, max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
                  now: datetime | None = None) -> ParsedEmail:
    """Parse raw bytes into an Inbound plus the attachment contents to store by their ref."""
    if not isinstance(raw, bytes | bytearray):
        raise EmailParseError(f"expected bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    names = {k.lower() for k, _ in msg.raw_items()}
    if not raw.strip() or not names & KNOWN_HEADERS:
        raise EmailParseError("no email header block found (From/To/Subject/Date/Message-ID...)")
    assert isinstance(msg, EmailMessage)
    meta: dict[str, Any] = {}
    problems: list[str] = []

    own_id = message_id(header(msg, "Message-ID"))
    external_id = own_id.lower() if own_id else "sha256:" + hashlib.sha256(raw).hexdigest()
    meta["message_id"] = own_id

    author, author_name = _author(msg)
    subject = header(msg, "Subject")
    subject = " ".join(subject.split()) if subject else None
    created_at = _date(msg, meta, now)

    body = _Body()
    _walk(msg, body, problems)
    text_source = body.plain if body.plain is not None else html_to_text(body.html or "")
    text, quoted = split_quoted(text_source)
    html = nh3.clean(body.html) if body.html is not None else None

    attachments, blobs = _attachments(body.attachments, max_attachment_bytes, meta)

    in_reply_to = message_ids(header(msg, "In-Reply-To"))
    references = message_ids(header(msg, "References"))
    parents = _dedupe([*in_reply_to, *reversed(references)], exclude=own_id)
    parent_keys = [f"mid:{p.lower()}" for p in parents]
    token = CONVERSATION_TOKEN.findall(subject or "")
    if token:
        parent_keys.append(f"conv:{token[-1]}")
    meta["in_reply_to"] = in_reply_to[0] if in_reply_to else None
    meta["references"] = references
    meta["to"] = addresses(msg, "To")
    meta["cc"] = addresses(msg, "Cc")
    reply_to = addresses(msg, "Reply-To")
    if reply_to:
        meta["reply_to"] = reply_to
    reasons = automated_reasons(msg)
    if reasons:
        meta["automated"] = reasons
    if problems:
        meta["decode_problems"] = problems
    if body.defects:
        meta["defects"] = sorted(body.defects)

    inbound = Inbound(
        channel=CHANNEL,
        external_id=external_id,
        authors=(IdentityRef("email", author, label=author_name),) if author else (),
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


# --- headers ---------------------------------------------------------------------------------


def header(msg: Message, name: str) -> str | None:
    """A header's decoded value, tolerating any malformation (None when absent)."""
    try:
        value = msg.get(name)
    except Exception:  # a broken header must not lose the message
        value = None
        for key, raw in msg.raw_items():
            if key.lower() == name.lower():
                value = _decode_raw_header(str(raw))
                break
    if value is None:
        return None
    text = str(value)
    return text.encode("utf-8", "replace").decode("utf-8")  # drop lone surrogates


def _decode_raw_header(raw: str) -> str:
    try:
        return str(make_header(decode_header(raw)))
    except Exception:
        return raw


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


def addresses(msg: Message, name: str) -> list[str]:
    """Lower-cased addresses of an address header."""
    value = header(msg, name)
    if not value:
        return []
    return [a.lower() for _, a in getaddresses([value]) if "@" in a]


def _author(msg: Message) -> tuple[str | None, str | None]:
    for name in ("From", "Sender", "Reply-To", "Return-Path"):
        value = header(msg, name)
        if not value:
            continue
        display, address = parseaddr(value)
        if "@" in address:
            return address.strip().lower(), (display.strip() or None)
    return None, None


def _date(msg: Message, meta: dict[str, Any], now: datetime | None) -> datetime:
    value = header(msg, "Date")
    parsed: datetime | None = None
    if value:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            parsed = None
    if parsed is None:
        meta["date_problem"] = f"invalid Date header {value!r}" if value else "no Date header"
        return now or datetime.now(UTC)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def automated_reasons(msg: Message) -> list[str]:
    """Why this mail looks machine-sent (auto-reply, bounce, list); empty if it does not."""
    reasons = []
    auto = (header(msg, "Auto-Submitted") or "").split(";")[0].strip().lower()
    if auto and auto != "no":
        reasons.append(f"auto-submitted:{auto}")
    precedence = (header(msg, "Precedence") or "").strip().lower()
    if precedence in ("bulk", "junk", "list"):
        reasons.append(f"precedence:{precedence}")
    if (header(msg, "Return-Path") or "").replace(" ", "") == "<>":
        reasons.append("null-return-path")
    if msg.get_content_type() == "multipart/report":
        reasons.append("report")
    for name in ("X-Autoreply", "X-Autorespond", "List-Id", "List-Unsubscribe"):
        if header(msg, name) is not None:
            reasons.append(name.lower())
    sender = parseaddr(header(msg, "From") or "")[1].lower()
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
    plain: str | None = None
    html: str | None = None
    attachments: list[tuple[str | None, str, bytes]] = field(default_factory=list)
    defects: set[str] = field(default_factory=set)


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
    filename = _filename(part)
    if ctype == "message/rfc822":
        body.attachments.append((filename, ctype, _rfc822_bytes(part)))
        return
    if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
        text = decode_text(part, problems)
        if ctype == "text/plain":
            body.plain = text if body.plain is None else body.plain.rstrip("\n") + "\n\n" + text
        elif body.html is None:
            body.html = text
        return
    if part.get_content_maintype() == "multipart":  # a multipart without parts (bad boundary)
        text = decode_text(part, problems)
        body.plain = text if body.plain is None else body.plain + "\n\n" + text
        return
    body.attachments.append((filename, ctype, _payload_bytes(part)))


def _subparts(part: Message) -> Iterator[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        yield from (sub for sub in payload if isinstance(sub, Message))


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return None
    if not name:
        return None
    name = str(name).encode("utf-8", "replace").decode("utf-8")
    return name.replace("/", "_").replace("\\", "_").strip() or None


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""


def _rfc822_bytes(part: Message) -> bytes:
    inner = next(_subparts(part), None)
    if inner is None:
        return _payload_bytes(part)
    try:
        return bytes(inner.as_bytes(policy=policy.SMTP))
    except Exception:
        return str(inner).encode("utf-8", "replace")


def decode_text(part: Message, problems: list[str]) -> str:
    """A text part's content as str: declared charset, else UTF-8, never an exception."""
    data = _payload_bytes(part)
    declared = part.get_param("charset")
    charset = str(declared).strip().strip('"').lower() if declared else "us-ascii"
    try:
        return _normalize_newlines(data.decode(charset))
    except LookupError:
        problems.append(f"unknown charset {charset!r}")
        charset = "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("utf-8")  # undeclared 8-bit text is most often UTF-8
    except UnicodeDecodeError:
        text = data.decode(charset, errors="replace")
        problems.append(f"undecodable bytes in {charset} text replaced")
    else:
        if charset not in ("us-ascii", "ascii", "utf-8"):
            problems.append(f"text is not valid {charset}, decoded as utf-8")
    return _normalize_newlines(text)


def _normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _attachments(
    parts: list[tuple[str | None, str, bytes]], cap: int, meta: dict[str, Any]
) -> tuple[tuple[Attachment, ...], dict[str, bytes]]:
    attachments: list[Attachment] = []
    blobs: dict[str, bytes] = {}
    over: list[str] = []
    for n, (filename, ctype, data) in enumerate(parts, start=1):
        name = filename or f"attachment-{n}{mimetypes.guess_extension(ctype) or '.bin'}"
        ref: str | None = None
        if len(data) > cap:
            over.append(name)
        else:
            ref = "sha256:" + hashlib.sha256(data).hexdigest()
            blobs[ref] = data
        attachments.append(Attachment(name=name, content_type=ctype, size=len(data), ref=ref))
    if over:
        meta["attachments_over_cap"] = {"names": over, "max_bytes": cap}
    return tuple(attachments), blobs


# --- HTML to text and quote splitting --------------------------------------------------------

_BLOCK = frozenset({"p", "div", "section", "article", "header", "footer", "table", "tr", "ul",
                    "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "hr", "blockquote",
                    "dl", "dt", "dd", "address"})
_SKIP = frozenset({"script", "style", "head", "title", "template", "noscript"})


class _TextRenderer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.quote_depth = 0
        self.skip_depth = 0
        self.pre = 0

    def newline(self) -> None:
        line = "".join(self.current)
        line = line if self.pre else " ".join(line.split())
        prefix = "> " * self.quote_depth
        self.lines.append(prefix + line if line or self.quote_depth else line)
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip_depth += 1
        elif tag == "br":
            self.newline()
        elif tag in _BLOCK:
            if self.current:
                self.newline()
            if tag == "blockquote":
                self.quote_depth += 1
            elif tag == "li":
                self.current.append("- ")
            elif tag == "pre":
                self.pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in _BLOCK:
            if self.current:
                self.newline()
            if tag == "blockquote":
                self.quote_depth = max(0, self.quote_depth - 1)
            elif tag == "pre":
                self.pre = max(0, self.pre - 1)
            elif tag in ("p", "div", "table", "ul", "ol"):
                self.lines.append("")

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.pre:
            chunks = data.split("\n")
            for chunk in chunks[:-1]:
                self.current.append(chunk)
                self.newline()
            self.current.append(chunks[-1])
        else:
            self.current.append(data)


def html_to_text(html: str) -> str:
    """Plain-text rendering of an HTML body; blockquotes become '> ' lines."""
    renderer = _TextRenderer()
    try:
        renderer.feed(html)
        renderer.close()
    except Exception:  # HTMLParser is lenient; this is a last resort
        return re.sub(r"<[^>]*>", " ", html)
    if renderer.current:
        renderer.newline()
    text = "\n".join(renderer.lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


_ON_WROTE = re.compile(
    r"^\s*(On\b.{0,300}\bwrote|Am\b.{0,300}\bschrieb\b.{0,200}|Le\b.{0,300}\ba écrit\s*)\s*:\s*$",
    re.IGNORECASE)
_ON_START = re.compile(r"^\s*(On|Am|Le)\s", re.IGNORECASE)
_ORIGINAL = re.compile(r"^\s*-{2,}\s*(Original Message|Ursprüngliche Nachricht|Message d'origine)"
                       r"\s*-{2,}\s*$", re.IGNORECASE)
_OUTLOOK_FROM = re.compile(r"^\s*\*?(From|Von|De)\s*:\*?\s", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(Sent|Date|Gesendet|Envoyé|To|Subject)\s*:", re.IGNORECASE)
_RULE = re.compile(r"^\s*_{10,}\s*$")


def split_quoted(text: str) -> tuple[str, str | None]:
    """Split what the sender newly wrote from the earlier mail they quoted below or inline."""
    lines = text.split("\n")
    cut = _quote_header_line(lines)
    head, tail = lines[:cut], lines[cut:]
    new = [line for line in head if not line.lstrip().startswith(">")]
    inline = [line for line in head if line.lstrip().startswith(">")]
    quoted_lines = inline + ([""] if inline and tail else []) + tail
    new_text = "\n".join(new).strip()
    quoted = "\n".join(quoted_lines).strip()
    if not new_text:  # nothing but a quote (a bare forward): keep it all as the text
        return text.strip(), None
    return new_text, quoted or None


def _quote_header_line(lines: list[str]) -> int:
    for i, line in enumerate(lines):
        if _ORIGINAL.match(line) or _ON_WROTE.match(line):
            return i
        if _ON_START.match(line) and i + 1 < len(lines) and \
                _ON_WROTE.match(line + " " + lines[i + 1].strip()):
            return i
        if _OUTLOOK_FROM.match(line) and any(_OUTLOOK_NEXT.match(x) for x in lines[i + 1:i + 4]):
            return i - 1 if i > 0 and _RULE.match(lines[i - 1]) else i
    return len(lines)
