"""Email bodies as text: HTML sanitized and rendered as text within the parse limits, and what
the sender newly wrote split from the earlier mail they quoted. Pure."""

from __future__ import annotations

import itertools
import re
from html import unescape
from html.parser import HTMLParser

import nh3

from connectors.email_html_limits import html_formatting_limit, html_too_deep
from connectors.email_limits import (
    DEFAULT_LIMITS,
    Budget,
    ParseLimits,
)

MAX_QUOTE_PREFIX = 10  # "> " levels written for nested blockquotes in the text rendering


def render_html(html: str, budget: Budget, *, text: bool = True) -> tuple[str | None, str]:
    """The sanitized HTML (None when unsafe to sanitize or too big) and its text rendering
    ("" without text: when the mail's text/plain part gives its text).

    Everything the sanitizer's HTML5 tree builder could be made to do beyond the limits is
    found by linear scans first; such HTML gets no sanitized copy, and its text comes from
    the linear tag stripper.
    """
    limits = budget.limits
    if len(html) > limits.max_html_chars:
        budget.hit("html_chars")
        html = html[:limits.max_html_chars]
    if html_too_deep(html, limits.max_html_depth):
        budget.hit("html_depth")
        return None, strip_tags(html) if text else ""
    if html.count("&") > limits.max_html_entities:  # the sanitizer is quadratic in them
        budget.hit("html_entities")
        cut = next(itertools.islice(_AMPERSAND.finditer(html), limits.max_html_entities, None))
        html = html[:cut.start()]
    over = html_formatting_limit(html, limits.max_html_open_formatting,
                                 limits.max_html_reconstruction)
    if over:
        budget.hit(over)
        return None, strip_tags(html) if text else ""
    clean = sanitize_html(html)
    if len(clean) > limits.max_html_output_chars:  # a safety net: the scans should prevent it
        budget.hit("html_output_chars")
        return None, strip_tags(html) if text else ""
    return clean, _render(clean) if text else ""


# --- HTML to text --------------------------------------------------------

_BLOCK = frozenset({"p", "div", "section", "article", "header", "footer", "table", "tr", "ul",
                    "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "hr", "blockquote",
                    "dl", "dt", "dd", "address"})
_SKIP = frozenset({"script", "style", "head", "title", "template", "noscript"})
_DROPPED_WITH_CONTENT = {"script", "style", "title", "template", "noscript"}
# one sanitizer for every mail (nh3.clean builds its rules anew each call: 40% of its time)
_CLEANER = nh3.Cleaner(clean_content_tags=_DROPPED_WITH_CONTENT)
_AMPERSAND = re.compile("&")
_ANY_TAG = re.compile(r"<[^<>]*(?:>|\Z)")  # [^<>]: a stray "<" ends the match: linear


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
        prefix = "> " * min(self.quote_depth, MAX_QUOTE_PREFIX)
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


def sanitize_html(html: str) -> str:
    """Safe, well-formed HTML to show: no scripts, styles, comments or stray '<'.

    Unbounded: give it only HTML that passed the checks of _render_html (html_to_text does).
    """
    return _CLEANER.clean(html)


def strip_tags(html: str) -> str:
    """The text of HTML too deep to sanitize, in linear time: tags become spaces."""
    return "\n".join(" ".join(line.split()) for line in
                     unescape(_ANY_TAG.sub(" ", html)).splitlines()).strip("\n")


def html_to_text(html: str, limits: ParseLimits = DEFAULT_LIMITS) -> str:
    """Plain-text rendering of an HTML body; blockquotes become '> ' lines. Bounded as mail is."""
    return render_html(html, Budget(limits))[1]


def _render(clean: str) -> str:
    """Text of sanitized HTML (stdlib HTMLParser is quadratic on some malformed input)."""
    renderer = _TextRenderer()
    try:
        renderer.feed(clean)
        renderer.close()
    except Exception:  # HTMLParser is lenient; this is a last resort
        return strip_tags(clean)
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


# where any of the patterns above could match a line (most mail has no such line at all);
# [^\S\n]: the spaces of one line, as in a match of the line alone (linear)
_MAYBE_QUOTE_HEADER = re.compile(
    r"^[^\S\n]*(?:-{2,}[^\S\n]*(?:Original Message|Ursprüngliche Nachricht|Message d'origine)"
    r"|On\b|Am\b|Le\b|\*?(?:From|Von|De)[^\S\n]*:)", re.IGNORECASE | re.MULTILINE)


def _quote_header_line(lines: list[str]) -> int:
    if _MAYBE_QUOTE_HEADER.search("\n".join(lines)) is None:
        return len(lines)
    return _scan_quote_header(lines)


def _scan_quote_header(lines: list[str]) -> int:
    for i, line in enumerate(lines):
        if _ORIGINAL.match(line) or _ON_WROTE.match(line):
            return i
        if _ON_START.match(line) and i + 1 < len(lines) and \
                _ON_WROTE.match(line + " " + lines[i + 1].strip()):
            return i
        if _OUTLOOK_FROM.match(line) and any(_OUTLOOK_NEXT.match(x) for x in lines[i + 1:i + 4]):
            return i - 1 if i > 0 and _RULE.match(lines[i - 1]) else i
    return len(lines)
