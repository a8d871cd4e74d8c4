"""What one email's HTML may cost to sanitise: its nesting depth and the open formatting
elements the HTML5 tree builder would reconstruct (html5ever, inside nh3, keeps both on its
stacks), checked before the HTML is sanitised."""

from __future__ import annotations

import re
from collections import Counter

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]{0,30})")
# elements that never nest (void) or that the next sibling closes: they add no depth
_FLAT = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "source", "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option",
                   "optgroup", "tbody", "thead", "tfoot", "colgroup", "rb", "rt", "rp"})


def html_too_deep(html: str, max_depth: int) -> bool:
    """Does the element nesting (counted from the tags, unclosed ones included) exceed max?"""
    if html.count("<") <= max_depth:  # a level more is a tag more
        return False
    return _too_deep(html, max_depth)


def _too_deep(html: str, max_depth: int) -> bool:
    depth = 0
    for match in _TAG.finditer(html):
        if match.group(2).lower() in _FLAT:
            continue
        if match.group(1):
            depth = max(0, depth - 1)
        else:
            depth += 1
            if depth > max_depth:
                return True
    return False


# HTML5 "formatting" elements: the tree builder keeps them in its list of active formatting
# elements and re-opens ("reconstructs") every one no longer open before the next text or
# inline element, however many blocks closed them before.
FORMATTING = frozenset({"a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small",
                        "strike", "strong", "tt", "u"})
# HTML5 "special" elements that stay open: one opened after a formatting element and still
# open when it ends keeps a copy of it in the list (the "adoption agency" clones it)
_SPECIAL = frozenset({
    "address", "applet", "article", "aside", "blockquote", "body", "button", "caption",
    "center", "colgroup", "dd", "details", "dialog", "dir", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "frameset", "h1", "h2", "h3", "h4", "h5", "h6",
    "head", "header", "hgroup", "html", "iframe", "li", "listing", "main", "marquee", "menu",
    "nav", "noembed", "noframes", "noscript", "object", "ol", "p", "plaintext", "pre",
    "script", "search", "section", "select", "style", "summary", "table", "tbody", "td",
    "template", "textarea", "tfoot", "th", "thead", "title", "tr", "ul", "xmp", "svg", "math",
    "foreignobject", "desc", "mi", "mo", "mn", "ms", "mtext", "annotation-xml"})
# elements an end tag does not reach across (HTML5 scopes), each the start of a new segment
_BOUNDARIES = frozenset({"applet", "button", "caption", "html", "marquee", "object", "ol",
                         "select", "table", "td", "template", "th", "ul", "svg", "math"})
# end tags that pop no element above theirs (</form> takes out the form alone)
_POPS_NOTHING = frozenset({"body", "html", "head", "form"})
# start tags that may close or pop other elements and do not reconstruct
_BLOCK_STARTS = _SPECIAL | frozenset({"hr", "col"})
_WS = "\t\n\f\r "
# an HTML5 tokenizer's tokens: comments, bogus comments, and tags (1: "/", 2: name) with their
# attributes, quoted values included (each part possessive: linear)
_TOKEN = re.compile(
    r"<!--(?:-?>|.*?(?:--!?>|\Z))|<[!?][^>]*+>?|</(?![A-Za-z])[^>]*+>?"
    rf"|<(/?)([A-Za-z][^{_WS}/>]*+)(?:[{_WS}/]++|[^{_WS}/>][^{_WS}/=>]*+"
    rf"(?:[{_WS}]*+=[{_WS}]*+(?:\"[^\"]*+\"?|'[^']*+'?|[^{_WS}>]*+))?+)*+>?", re.DOTALL)
# elements whose content is text up to their end tag (RCDATA, RAWTEXT)
_RAW_TEXT = {name: re.compile(rf"</{name}(?=[{_WS}/>])", re.IGNORECASE)
             for name in ("style", "xmp", "iframe", "noembed", "noframes", "title", "textarea")}
# content the tags alone cannot tell apart from tags (script escapes, noscript, foreign
# content): after one of these no end tag is trusted to remove a formatting element
_UNCERTAIN = frozenset({"script", "noscript", "svg", "math"})
NOAHS_ARK = 3  # identical formatting elements (name and attributes) the HTML5 list keeps


class _Specials:
    """The special elements open, as far as tags alone tell; pops only what is surely popped."""

    def __init__(self) -> None:
        self.segments: list[tuple[str, list[str], Counter[str]]] = [("", [], Counter())]
        self.depth = 0

    def start(self, name: str) -> None:
        if name in _BOUNDARIES:
            self.segments.append((name, [], Counter()))
        else:
            self.segments[-1][1].append(name)
            self.segments[-1][2][name] += 1
        self.depth += 1

    def end(self, name: str) -> None:
        if name in _POPS_NOTHING:
            return
        boundary, names, counts = self.segments[-1]
        if counts[name]:
            while True:
                popped = names.pop()
                counts[popped] -= 1
                self.depth -= 1
                if popped == name:
                    return
        elif boundary == name:
            self.segments.pop()
            self.depth -= len(names) + 1


def html_formatting_limit(html: str, max_open: int, max_reconstruction: int) -> str | None:
    """Would an HTML5 tree builder re-open formatting elements beyond the limits? Linear.

    Returns the name of the limit hit ("html_open_formatting": more formatting elements in
    the list at once than max_open; "html_reconstruction": more re-openings in all than
    max_reconstruction), or None. It follows that list from the tags alone, removing an
    element only where HTML5 surely does, and counts a re-opening of the whole list at each
    text or inline tag after an end tag or a block: an upper bound of the tree builder's work,
    for real mail far below it.
    """
    tags = html.count("<")  # each token is a tag; each element in the list a start tag
    if tags * tags <= max_reconstruction and len(_START_TAG.findall(html)) <= max_open:
        return None  # too few to reach either limit (at most a re-opening of each per token)
    return _formatting_scan(html, max_open, max_reconstruction)


_START_TAG = re.compile(r"<[A-Za-z]")


def _formatting_scan(html: str, max_open: int, max_reconstruction: int) -> str | None:
    active: list[tuple[str, str, int]] = []  # (name, whole tag, special depth when opened)
    specials = _Specials()
    work, dirty, end, trusted = 0, False, 0, True
    while (match := _TOKEN.search(html, end)) is not None:
        name = match.group(2)
        closing, name = match.group(1), (name or "").lower()
        inline = bool(name) and not closing and name not in _BLOCK_STARTS
        if (inline or match.start() > end) and dirty:  # text or an inline tag: reconstruct
            work += len(active)
            if work > max_reconstruction:
                return "html_reconstruction"
            dirty = False
        end = match.end()
        if not name:  # a comment
            continue
        if not closing:
            if name == "plaintext":  # the rest is text
                break
            if name in _UNCERTAIN:
                trusted = False
            elif name in _RAW_TEXT and trusted:
                found = _RAW_TEXT[name].search(html, end)
                end = found.start() if found else len(html)
        if closing or not inline:
            dirty = True  # an end tag or a block may pop formatting elements off the stack
        if name in _SPECIAL:
            if closing:
                specials.end(name)
            else:
                specials.start(name)
            continue
        if name not in FORMATTING:
            continue
        last = next((n for n in range(len(active) - 1, -1, -1) if active[n][0] == name), None)
        if closing:  # gone unless a special element opened inside it is still open
            if trusted and last is not None and active[last][2] >= specials.depth:
                del active[last]
            continue
        if name == "a" and last is not None:  # an <a> ends the open one
            del active[last]
        tag = match.group(0)
        same = [n for n, entry in enumerate(active) if entry[1] == tag]
        if len(same) >= NOAHS_ARK:
            del active[same[0]]
        active.append((name, tag, specials.depth))
        if len(active) > max_open:
            return "html_open_formatting"
    return None
