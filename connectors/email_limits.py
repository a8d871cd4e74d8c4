"""Bounded MIME parsing: what one email may cost before and while it is parsed.

``bounded_parse(raw, Budget(limits))`` parses with the cheap compat32 policy and stops or
trims at each limit instead of running out of memory or CPU; the names of the limits it hit
are left in the budget, for the caller to flag. ``content_digest(raw)`` identifies a
message's content independently of the trace headers every delivery adds.
"""

from __future__ import annotations

import contextlib
import email.feedparser
import functools
import hashlib
import re
from dataclasses import dataclass, field, fields
from email import policy
from email.feedparser import BytesFeedParser
from email.message import Message
from email.utils import quote, unquote
from types import FunctionType
from typing import Any

MB = 1024 * 1024
# Headers the parser reads: always kept (first occurrence), whatever the count and byte limits.
NEEDED_HEADERS = frozenset({
    "from", "sender", "to", "cc", "reply-to", "subject", "date", "message-id", "in-reply-to",
    "references", "return-path", "mime-version", "content-type", "content-transfer-encoding",
    "content-disposition", "auto-submitted", "precedence", "list-id", "list-unsubscribe",
    "x-autoreply", "x-autorespond",
})
# Added by each hop or mailbox on the way in, so they differ between two deliveries of one mail.
TRACE_HEADERS = frozenset({
    "received", "return-path", "delivered-to", "x-original-to", "x-delivered-to", "envelope-to",
    "x-envelope-to", "x-envelope-from", "x-received", "authentication-results",
    "received-spf", "x-virus-scanned", "x-original-arrival-time", "status", "x-status",
    "x-keywords", "x-uid", "lines", "content-length",
})
PARAMETER_HEADERS = frozenset({"content-type", "content-disposition"})
TRACE_PREFIXES = ("arc-", "x-spam-", "x-ms-exchange-", "x-gm-", "x-forefront-", "x-mailscanner")


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """What one email may cost; every figure is per message.

    The defaults keep one message under about 64 MB of memory and 1 s of CPU.
    """

    max_message_bytes: int = 16 * MB  # larger mail: only this much of it is fetched and parsed
    max_lines: int = 500_000  # every line is a Python object while the parser holds it
    # one line (RFC 5322: 998): the parser holds a line in 4 bytes a character until it ends;
    # a longer line is broken (folded) every max_line_bytes
    max_line_bytes: int = 1 * MB
    max_header_bytes: int = 256 * 1024  # all header fields of all parts together
    max_headers: int = 10_000  # header fields of all parts together
    max_header_field_bytes: int = 64 * 1024  # one header field
    max_header_params: int = 100  # ";" in a Content-Type/-Disposition (parsing is quadratic)
    max_encoded_words_per_header: int = 200  # RFC 2047 =?charset?q?...?= words in one field
    max_encoded_words: int = 2_000  # ... in the whole message
    max_parts: int = 1_000  # MIME parts
    max_depth: int = 50  # multipart / message/rfc822 nesting
    max_html_chars: int = 512_000  # HTML given to the sanitizer (up to ~80 bytes each) and text
    max_html_depth: int = 256  # element nesting the sanitizer is given (it is quadratic in it)
    max_html_entities: int = 50_000  # "&" the sanitizer is given (it is quadratic in them)
    # unclosed formatting elements (<b>, <font>, <a>...) the HTML parser would keep re-opening
    max_html_open_formatting: int = 32
    # elements the HTML parser may re-open in all ("reconstruct the active formatting elements"
    # after each block: ~300 bytes and ~4 µs each, with the sanitized output growing alike)
    max_html_reconstruction: int = 100_000
    max_html_output_chars: int = 1_000_000  # sanitized HTML kept (larger: dropped, flagged)
    max_text_chars: int = 1_000_000  # plain text kept from the body parts


DEFAULT_LIMITS = ParseLimits()


class LimitHit(Exception):  # a signal to stop parsing, not an error
    """Raised inside the parser to stop at a structural limit; what was read is kept."""


@dataclass
class Budget:
    """The limits of one parse and what has been spent of them."""

    limits: ParseLimits = DEFAULT_LIMITS
    hits: set[str] = field(default_factory=set)
    parts: int = 0
    headers: int = 0
    header_bytes: int = 0
    encoded_words: int = 0
    root: Message | None = None
    armed: bool = False  # the parser calls its factory once on construction: not a part

    def hit(self, name: str) -> None:
        self.hits.add(name)

    def restart(self) -> None:
        """Nothing spent, nothing hit: the budget as new, for parsing the message again."""
        fresh = Budget(self.limits)
        for spent in fields(self):
            setattr(self, spent.name, getattr(fresh, spent.name))


class _Part(Message):
    """A compat32 Message that counts itself, its depth and its headers against a Budget."""

    def __init__(self, budget: Budget, policy: Any = policy.compat32) -> None:
        super().__init__(policy)
        self.budget = budget
        self.depth = 0
        self._seen: set[str] = set()
        self._content_type: tuple[list[Any], int, str, str] | None = None
        # header name -> its parameters, while the fields stay as when they were read
        self._params: tuple[list[Any], int, dict[str, list[Any]]] | None = None
        if budget.armed and budget.root is None:
            budget.root = self

    def get_content_type(self) -> str:
        """Message.get_content_type, kept while the fields and the default type stay (the
        feed parser and the parser's walk ask for it about 15 times a message). The fields
        change by a new list (delete, set_boundary), an added field or replace_header."""
        headers: list[Any] = self._headers  # type: ignore[attr-defined]
        known, default = self._content_type, self.get_default_type()
        if known is not None and known[0] is headers and known[1] == len(headers) \
                and known[2] == default:
            return known[3]
        found: str = super().get_content_type()
        self._content_type = (headers, len(headers), default, found)
        return found

    def _get_params_preserve(self, failobj: Any, header: str) -> Any:
        """Message._get_params_preserve, each field's parameters parsed once while the fields
        stay (the feed parser, the file name and the charset each ask for Content-Type's)."""
        headers: list[Any] = self._headers  # type: ignore[attr-defined]
        known = self._params
        if known is None or known[0] is not headers or known[1] != len(headers):
            known = self._params = (headers, len(headers), {})
        key = header.lower()
        params = known[2].get(key)
        if params is None:
            missing = object()
            value = self.get(header, missing)
            if value is missing:
                return failobj
            found = simple_params(value) if isinstance(value, str) else None
            if found is None:
                found = super()._get_params_preserve(missing, header)  # type: ignore[misc]
            params = known[2][key] = found
        return list(params)

    def replace_header(self, _name: str, _value: Any) -> None:
        self._content_type = None
        self._params = None
        super().replace_header(_name, _value)

    def attach(self, payload: Any) -> None:
        budget = self.budget
        budget.parts += 1
        if budget.parts > budget.limits.max_parts:
            budget.hit("mime_parts")
            raise LimitHit("mime_parts")
        if isinstance(payload, _Part):
            payload.depth = self.depth + 1
            if payload.depth > budget.limits.max_depth:
                budget.hit("mime_depth")
                raise LimitHit("mime_depth")
        super().attach(payload)

    def set_raw(self, name: str, value: Any) -> None:
        budget, limits = self.budget, self.budget.limits
        key = name.lower()
        budget.headers += 1
        if budget.headers > limits.max_headers and not self._needed(key):
            budget.hit("header_count")
            return
        if not isinstance(value, str):
            value = str(value)
        if len(value) > limits.max_header_field_bytes:
            budget.hit("header_field_bytes")
            value = value[:limits.max_header_field_bytes]
        if key in PARAMETER_HEADERS and value.count(";") > limits.max_header_params:
            budget.hit("header_params")
            value = ";".join(value.split(";", limits.max_header_params + 1)[:-1])
        budget.header_bytes += len(name) + len(value)
        if budget.header_bytes > limits.max_header_bytes and not self._needed(key):
            budget.hit("header_bytes")
            return
        if self is budget.root:
            self._seen.add(key)
        self._headers.append((name, value))  # type: ignore[attr-defined]  # Message.set_raw

    def _needed(self, key: str) -> bool:
        """Is this a top-level field the parser reads, not seen yet? Those survive the count
        and size limits."""
        return self is self.budget.root and key in NEEDED_HEADERS and key not in self._seen


def simple_params(value: str) -> list[tuple[str, str]] | None:
    """What Message._get_params_preserve gives for a field with this value (the first item
    with "", then each parameter's lower-cased name and its value, quoted), when every
    ";" separates parameters: no quoted ";", no backslash (an escape), no "*" (RFC 2231)
    nor "<" (a value unquote strips); None for any other value. Without the stdlib's
    quote counting at each ";" and its RFC 2231 pattern (a third of the time)."""
    if "\\" in value or "*" in value or "<" in value:
        return None
    pieces = value.split(";")
    first = pieces[0]
    if "=" in first or '"' in first:
        return None
    params = [(first.strip(), "")]
    for piece in pieces[1:]:
        if piece.count('"') % 2:  # a ";" between quotes
            return None
        name, equals, quoted = piece.partition("=")
        if not equals:
            return None
        params.append((name.strip().lower(), f'"{quote(unquote(quoted.strip()))}"'))
    return params


def _line_limit_end(raw: bytes, end: int, max_lines: int) -> int | None:
    """Where raw[:end] reaches its max_lines-th line end, or None if it has fewer lines."""
    if end < max_lines:  # fewer bytes than that: fewer line ends
        return None
    seen = 0
    for start in range(0, end, MB):
        stop = min(start + MB, end)
        count = raw.count(b"\n", start, stop)
        if seen + count >= max_lines:
            pos = start - 1
            for _ in range(max_lines - seen):
                pos = raw.index(b"\n", pos + 1, stop)
            return pos + 1
        seen += count
    return None


def _feed(parser: BytesFeedParser, raw: bytes, end: int, budget: Budget) -> None:
    """Feed raw[:end] a megabyte at a time (the parser splits it into lines), breaking every
    line longer than max_line_bytes with a fold ("\\n "), flagged: a header field goes on
    (and is cut at max_header_field_bytes), base64 ignores it, text gets a line break."""
    max_line = max(1, budget.limits.max_line_bytes)
    pos = line_start = 0
    while pos < end:
        stop = min(pos + MB, end)
        newline = max(raw.rfind(b"\n", pos, stop), raw.rfind(b"\r", pos, stop))
        if newline >= 0:
            line_start = newline + 1
        elif stop - line_start > max_line:
            budget.hit("line_bytes")
            cut = max(pos, line_start + max_line)
            parser.feed(raw[pos:cut] + b"\n ")
            pos = line_start = cut
            continue
        parser.feed(raw[pos:stop])
        pos = stop


# The feed parser compiles a regex for each multipart's boundary (about 70 µs, a boundary
# is new in each mail): '(?P<sep>' + re.escape('--' + boundary) + _BOUNDARY_TAIL. That
# regex matches a line exactly when the line starts with the separator and the fixed tail
# matches from there, with the same groups: the parser below gets that match instead.
_BOUNDARY_HEAD = "(?P<sep>"
_BOUNDARY_TAIL = r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
_TAIL = re.compile(_BOUNDARY_TAIL[1:])
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


class _Boundary:
    """The boundary regex of one separator, without compiling it."""

    __slots__ = ("separator",)

    def __init__(self, separator: str) -> None:
        self.separator = separator

    def match(self, line: str) -> re.Match[str] | None:
        if not line.startswith(self.separator):
            return None
        return _TAIL.match(line, len(self.separator))


class _FeedParserRe:
    """The re module as the feed parser below sees it: a boundary regex is a _Boundary."""

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)

    @staticmethod
    def compile(pattern: Any, flags: int = 0) -> Any:
        if flags == 0 and isinstance(pattern, str) and pattern.startswith(_BOUNDARY_HEAD) \
                and pattern.endswith(_BOUNDARY_TAIL):
            escaped = pattern[len(_BOUNDARY_HEAD):-len(_BOUNDARY_TAIL)]
            separator = _ESCAPED.sub(r"\1", escaped)
            if re.escape(separator) == escaped:  # exactly the pattern of this separator
                return _Boundary(separator)
        return re.compile(pattern, flags)


def _parsegen_with(globals_: dict[str, Any]) -> Any:
    """The stdlib feed parser's own parsing code, run with these module globals."""
    code = email.feedparser.FeedParser._parsegen  # type: ignore[attr-defined]
    return FunctionType(code.__code__, globals_, code.__name__, code.__defaults__,
                        code.__closure__)


class _FeedParser(BytesFeedParser):
    """The stdlib BytesFeedParser, its boundary regexes not compiled (see _Boundary)."""

    _parsegen = _parsegen_with({**vars(email.feedparser), "re": _FeedParserRe()})


def bounded_parse(raw: bytes, budget: Budget) -> Message:
    """Parse raw (compat32), trimmed or stopped at the budget's limits; hits go in the budget."""
    limits = budget.limits
    end = len(raw)
    if end > limits.max_message_bytes:
        budget.hit("message_bytes")
        end = limits.max_message_bytes
    cut = _line_limit_end(raw, end, limits.max_lines)
    if cut is not None and cut < end:
        budget.hit("lines")
        end = cut
    msg = _parse_with_holes(raw, budget) if end == len(raw) else None
    if msg is None:
        msg = _parse(raw, end, budget)
    budget.root = None  # parsed: no cycle (part, budget, root) leaves the tree to the GC
    return msg


def _parse(raw: bytes, end: int, budget: Budget) -> Message:
    """Parse raw[:end] with the feed parser; at a structural limit, what was read."""
    parser = _FeedParser(_factory=functools.partial(_Part, budget), policy=policy.compat32)
    budget.armed = True
    try:
        _feed(parser, raw, end, budget)
        msg = parser.close()
    except (LimitHit, RecursionError) as exc:
        if isinstance(exc, RecursionError):
            budget.hit("mime_depth")
        if budget.root is None:
            raise
        msg = budget.root  # everything read up to the limit, the part in progress empty
        with contextlib.suppress(RecursionError):
            for part in msg.walk():
                if part.get_payload() is None:
                    part.set_payload("")
    return msg


# A run of lines of base64 characters alone after a blank line (an attachment's body): the
# feed parser treats every such line alike wherever it is (none can be a header field, a
# continuation, a boundary or a blank line), so it can be given one line in its place and the
# run put back in the string that line ends up in. Worth it from this many lines.
HOLE_MIN_LINES = 64
HOLE_MIN_MESSAGE_BYTES = 8 * 1024
_BASE64_RUN = re.compile(rb"\n\r?\n((?:[A-Za-z0-9+/=]{1,998}+\r?\n){%d,})" % HOLE_MIN_LINES)
_BLANK_LINE = re.compile(rb"\n\r?\n")
_RUN_LINES = re.compile(rb"(?:[A-Za-z0-9+/=]{1,998}+\r?\n)*+")
_HOLE_MARK = b"Zh0le"  # + the run's number + "Z": the line in a run's place
_HOLE = re.compile(_HOLE_MARK.decode() + r"(\d+)Z")


def base64_runs(raw: bytes) -> list[tuple[int, int]]:
    """The spans of _BASE64_RUN's runs in raw (its group), as its finditer gives them, in
    a fraction of the time: the lines of one width (an encoder's: all but the last) are
    checked at C speed (their bytes less the base64 alphabet are their line ends alone,
    each where a line of that width ends); the lines after them, or all of them when that
    check fails, by _RUN_LINES."""
    runs: list[tuple[int, int]] = []
    pos = 0
    while (blank := _BLANK_LINE.search(raw, pos)) is not None:
        start = blank.end()
        uniform, lines = _uniform_lines(raw, start)
        end = _RUN_LINES.match(raw, uniform).end()  # type: ignore[union-attr]
        if lines + raw.count(b"\n", uniform, end) >= HOLE_MIN_LINES:
            runs.append((start, end))
            pos = end
        else:
            pos = blank.start() + 1
    return runs


_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


def _uniform_lines(raw: bytes, start: int) -> tuple[int, int]:
    """Where the lines of base64 characters of the first line's width from start end (line
    end included; 1-998 characters and a CRLF or LF line end, as the first's), found by
    where their line ends are, and how many they are; (start, 0) when those lines have any
    other byte."""
    width = raw.find(b"\n", start) + 1 - start
    crlf = width > 1 and raw[start + width - 2] == 13  # "\r"
    if not 1 <= width - 1 - crlf <= 998:
        return start, 0
    ends = raw[start + width - 1::width]  # the last byte of each line of that width
    lines = len(ends) - len(ends.lstrip(b"\n"))
    stop = start + lines * width
    if crlf and raw[start + width - 2:stop:width] != b"\r" * lines:
        return start, 0
    if raw[start:stop].translate(None, _BASE64_ALPHABET) != (b"\r\n" if crlf else b"\n") * lines:
        return start, 0  # another byte, or a line end where a line of that width has none
    return stop, lines


def _parse_with_holes(raw: bytes, budget: Budget) -> Message | None:
    """The parse of raw, its long base64 runs kept out of the feed parser's line-by-line
    work; None when that cannot be sure to give the same result (the budget is then as new).

    Same result: each run becomes one line of letters and digits found nowhere in raw
    (it stays a whole line: a run starts after a line end and ends before one), which lands
    in the payload, preamble or epilogue the run would have, then is replaced by the run.
    Not taken when a limit is hit (what the parse keeps then is not all strings) nor when
    a stretch between runs could hold a line over max_line_bytes (_feed would break it at
    offsets the holes shift).
    """
    if len(raw) < HOLE_MIN_MESSAGE_BYTES:
        return None
    runs = base64_runs(raw)
    if not runs:
        return None
    max_line = budget.limits.max_line_bytes
    pieces: list[bytes] = []
    texts: list[str] = []
    pos = 0
    for n, (start, stop) in enumerate(runs):
        stop -= 2 if raw[stop - 2:stop] == b"\r\n" else 1  # the run's last line end stays
        if start - pos > max_line:
            return None
        pieces += (raw[pos:start], b"%s%dZ" % (_HOLE_MARK, n))
        texts.append(raw[start:stop].decode("ascii"))
        pos = stop
    if len(raw) - pos > max_line:
        return None
    pieces.append(raw[pos:])
    # a mark found in the parse is one put in: none is in what is parsed of raw (a mark is a
    # line of its own, so none can start in raw and end in a mark)
    if any(_HOLE_MARK in piece for piece in pieces[::2]):
        return None
    skeleton = b"".join(pieces)
    try:
        msg = _parse(skeleton, len(skeleton), budget)
    except Exception:  # whatever it is, the parse of raw itself says it
        budget.restart()
        return None
    mark = _HOLE_MARK.decode()
    filled: list[int] = []

    def fill(found: re.Match[str]) -> str:
        filled.append(int(found.group(1)))
        return texts[int(found.group(1))]

    if not budget.hits:
        for part in msg.walk():
            for name in ("_payload", "preamble", "epilogue"):
                value = getattr(part, name)
                if isinstance(value, str) and mark in value:
                    setattr(part, name, _HOLE.sub(fill, value))
    if budget.hits or sorted(filled) != list(range(len(texts))):
        budget.restart()
        return None
    return msg


# --- content identity ------------------------------------------------------------------------

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_TRACE_FIELD = re.compile(
    rb"^(?:" + b"|".join(re.escape(n.encode()) for n in sorted(TRACE_HEADERS)) + rb"|"
    + b"|".join(re.escape(p.encode()) + rb"[!-9;-~]*" for p in TRACE_PREFIXES)
    + rb")[ \t]*:[^\n]*\n(?:[ \t][^\n]*\n)*", re.IGNORECASE | re.MULTILINE)


def _update_lf(digest: Any, data: bytes, start: int = 0, end: int | None = None) -> None:
    """Hash data[start:end] with CRLF line ends as LF, a megabyte at a time (no full copy)."""
    end = len(data) if end is None else min(end, len(data))
    carry = b""
    for pos in range(start, end, MB):
        chunk = carry + data[pos:min(pos + MB, end)]
        carry = b"\r" if chunk.endswith(b"\r") else b""
        digest.update(_lf(chunk[:len(chunk) - len(carry)]))
    digest.update(carry)


_LONE_CR = re.compile(rb"\r(?!\n)")


def _lf(data: bytes) -> bytes:
    """data with its CRLF line ends as LF."""
    if b"\r" not in data:
        return data
    if _LONE_CR.search(data) is None:  # every CR ends a line: dropping them all is faster
        return data.translate(None, b"\r")
    return data.replace(b"\r\n", b"\n")


def content_digest(raw: bytes, *, body_size: int | None = None, body_prefix: int | None = None
                   ) -> str:
    """sha256 hex of the message without its trace headers (Received, Delivered-To, ...).

    The same message delivered twice has one digest; line endings do not matter. For a mail
    fetched only in part, give the full body's size and the prefix length to hash.
    """
    return _content_digest(raw, *_trace_free_head(raw), body_size, body_prefix)


def header_digest(raw: bytes, size: int | None = None) -> str:
    """What identifies a message without its body: sha256 of its header fields less the trace
    headers, and its body's size. raw is the whole message, or at least its header block
    with the empty line that ends it (an IMAP BODY[HEADER]); size: the whole message's size
    (default len(raw)). Two deliveries of one mail have the same; an edit of the body in
    place that keeps its size and every header is the one change it cannot tell."""
    return _header_digest(*_trace_free_head(raw), len(raw) if size is None else size)


def message_digests(raw: bytes, size: int | None = None, *, body_size: int | None = None,
                    body_prefix: int | None = None) -> tuple[str, str]:
    """content_digest(raw, body_size=..., body_prefix=...) and header_digest(raw, size),
    the header block read once for both."""
    head, body_start = _trace_free_head(raw)
    return (_content_digest(raw, head, body_start, body_size, body_prefix),
            _header_digest(head, body_start, len(raw) if size is None else size))


def _trace_free_head(raw: bytes) -> tuple[bytes, int]:
    """The header fields less the trace fields (LF line ends, an LF at the end), and where
    the body starts."""
    found = _BLANK_LINE.search(raw)  # where _HEADER_END is, found faster (it starts with \n)
    if found is None:
        head_end = body_start = len(raw)
    else:
        head_end, body_start = found.start(), found.end()
        head_end -= head_end > 0 and raw[head_end - 1] == 13  # "\r"
    head = raw[:head_end].replace(b"\r\n", b"\n") + b"\n"
    return _TRACE_FIELD.sub(b"", head), body_start


def _content_digest(raw: bytes, head: bytes, body_start: int, body_size: int | None,
                    body_prefix: int | None) -> str:
    digest = hashlib.sha256()
    _update_lf(digest, head)
    digest.update(b"\n")
    body_end = None if body_prefix is None else body_start + body_prefix
    _update_lf(digest, raw, body_start, body_end)
    if body_size is not None:
        digest.update(b"\0size:%d" % body_size)
    return digest.hexdigest()


def _header_digest(head: bytes, body_start: int, size: int) -> str:
    return f"{hashlib.sha256(head).hexdigest()[:32]}:{size - body_start}"


def body_size(raw_size: int, raw: bytes) -> int | None:
    """Size of the body of a message of raw_size bytes whose first bytes are raw."""
    end = _HEADER_END.search(raw)
    return raw_size - end.end() if end else None
