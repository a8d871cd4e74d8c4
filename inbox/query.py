"""The search language: a hand-written tokenizer and a recursive-descent parser.

    refund "past due" -autopay channel:x from:@theresa after:2026-11-01 (bill OR invoice)
    Re: Refund request AND NOT (channel:x OR status:resolved)

Grammar (NOT binds tighter than AND, which binds tighter than OR; AND may be left out):

    query    := or_expr?
    or_expr  := and_expr ("OR" and_expr)*
    and_expr := unary ("AND"? unary)*
    unary    := "-" unary | "NOT" unary | primary   ("-" written directly before its operand)
    primary  := word | "phrase" | field:value | field:"quoted value" | "(" or_expr ")"

The operators are AND, OR and NOT written in capitals, as in Gmail and Lucene: "and", "or"
and "not" are words, and so is a quoted "AND". A colon makes a field only after a field
name (SEARCH_FIELDS): "Re:", "Note:", "10:30" and "http://x.y/z" are words, so a pasted
subject searches its words; punctuation standing alone ("-", "&", "|") is skipped like space.

The tokenizer is lazy, so the first problem in reading order is the one reported (after
the checks of the whole text: its length and control characters). A query holds at most
MAX_TERMS words, phrases and fields, and at most MAX_DEPTH groups and negations inside each
other, so every store can compile it, and parsing takes time and memory linear in the text
(at most MAX_LENGTH characters) with a recursion at most MAX_DEPTH levels deep.
`parse` returns None for an empty query (match everything); `to_text` prints the canonical
form, and `parse(to_text(ast)) == ast` for every AST `parse` can return.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from inbox.errors import QueryError
from inbox.model import (
    SEARCH_FIELDS,
    And,
    FieldTerm,
    Interval,
    Not,
    Or,
    Phrase,
    QueryNode,
    Term,
    ts,
)

__all__ = ["FIELD_VALUES", "OPERATORS", "bucket_of", "day_start", "describe_error", "fields_used",
           "map_assignees", "narrow", "parse", "resolve_me", "to_text"]

FIELD_VALUES: dict[str, tuple[str, ...]] = {
    "channel": ("email", "x", "webform"),
    "direction": ("inbound", "outbound", "note"),
    "status": ("open", "pending", "resolved", "listening", "snoozed"),
    "sentiment": ("positive", "neutral", "negative"),
}
"""Fields whose value comes from a fixed list (matched case-insensitively, kept lowercase)."""

# A field is a field name and a colon; "Re:", "12:30" and URLs such as "http://x" are words.
MIN_PREFIX = 2
_FIELD_RE = re.compile(r"([A-Za-z][A-Za-z0-9_]*):(.*)", re.DOTALL)
FIRST_DATE, LAST_DATE = "1970-01-01", "2261-12-31"
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LANG_RE = re.compile(r"[A-Za-z]{2,3}")
_NEEDS_QUOTES = frozenset('"()')
# Unicode categories of punctuation and of the symbols +, =, $, ^ (not So: emoji, ™).
_PUNCTUATION = frozenset({"Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk"})

MAX_LENGTH = 2000  # characters
MAX_TERMS = 50  # words, phrases and fields
MAX_DEPTH = 10  # groups and negations inside each other
# Control characters other than the usual whitespace, and lone surrogates, are never text.
_BAD_CHAR = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

_ATOM, _MINUS, _LPAREN, _RPAREN, _END = "atom", "-", "(", ")", "end"
_AND, _OR, _NOT = "AND", "OR", "NOT"
OPERATORS = (_AND, _OR, _NOT)
"""Operator words, recognized in capitals only (as in Gmail and Lucene)."""
_STARTS = frozenset({_ATOM, _MINUS, _NOT, _LPAREN})  # what may begin an operand
_OPERAND = "a word, phrase, field or group"


def _as_word(operator: str) -> str:
    """The hint after an operator's error: how to search the word instead."""
    return f" (to search the word {operator}, write it in lower case or in quotes)"


class _Token(NamedTuple):
    kind: str
    pos: int
    node: QueryNode | None = None  # for atoms: the Term, Phrase or FieldTerm


# --- tokenizer --------------------------------------------------------------------------


def _is_word_char(c: str) -> bool:
    return not c.isspace() and c not in _NEEDS_QUOTES


def _tokens(query: str) -> Iterator[_Token]:
    """Yield tokens left to right, raising QueryError when a bad one is reached."""
    i, n = 0, len(query)
    while True:
        while i < n and query[i].isspace():
            i += 1
        if i >= n:
            yield _Token(_END, n)
            return
        c = query[i]
        if c in "()":
            yield _Token(_LPAREN if c == "(" else _RPAREN, i)
            i += 1
        elif c == '"':
            text, end = _read_quoted(query, i, "unterminated phrase (missing closing '\"')")
            if not text.strip():
                raise QueryError("empty phrase", i, query)
            yield _Token(_ATOM, i, Phrase(text))
            i = end
        else:
            j = i
            while j < n and _is_word_char(query[j]):
                j += 1
            word = query[i:j]
            if _is_punctuation(word) and (c != "-" or j == n or query[j] not in '"('):
                i = j  # "-", "&", "|", "–" standing alone, as in a pasted subject: no word
            elif c == "-":
                yield _Token(_MINUS, i)
                i += 1
            elif word in OPERATORS:
                yield _Token(word, i)
                i = j
            else:
                node, end = _word(query, i, j)
                yield _Token(_ATOM, i, node)
                i = end


def _is_punctuation(word: str) -> bool:
    """Only punctuation and symbols that no store indexes (not '*', nor emoji): nothing to
    search, so it is skipped like the space around it."""
    return "*" not in word and all(unicodedata.category(c) in _PUNCTUATION for c in word)


def _read_quoted(query: str, start: int, unterminated: str) -> tuple[str, int]:
    """Read the double-quoted string at `start`: (content, index after the closing quote).

    Inside quotes \\" is a quote and \\\\ a backslash; any other backslash is kept as typed.
    """
    out: list[str] = []
    k, n = start + 1, len(query)
    while k < n:
        c = query[k]
        if c == "\\" and k + 1 < n and query[k + 1] in '"\\':
            out.append(query[k + 1])
            k += 2
        elif c == '"':
            return "".join(out), k + 1
        else:
            out.append(c)
            k += 1
    raise QueryError(unterminated, start, query)


def _word(query: str, i: int, j: int) -> tuple[QueryNode, int]:
    """The word query[i:j] as a Term or FieldTerm, and where its token ends."""
    word = query[i:j]
    m = _FIELD_RE.fullmatch(word)
    if m is not None and m.group(1).lower() not in SEARCH_FIELDS:
        _check_misspelt_field(m.group(1), m.group(2) or query[j:j + 1], i, query)
    if m is None or m.group(1).lower() not in SEARCH_FIELDS or m.group(2).startswith("//"):
        star = word.find("*")
        if star != -1 and (star != len(word) - 1 or len(word) == 1):
            problem = "'*' alone matches nothing" if len(word) == 1 else (
                "'*' is only allowed at the end of a word (prefix search)")
            raise QueryError(problem, i + star, query)
        if star != -1 and len(word) - 1 < MIN_PREFIX:  # "a*": most of the vocabulary
            raise QueryError(f"a prefix search needs at least {MIN_PREFIX} characters "
                             "before '*'", i + star, query)
        return Term(word), j
    name, raw = m.group(1), m.group(2)
    field = name.lower()
    value_pos = i + len(name) + 1
    if raw == "" and j < len(query) and query[j] == '"':
        raw, j = _read_quoted(query, j, f"unterminated quoted value for '{field}:'")
    if not raw.strip():
        raise QueryError(f"missing value after '{field}:' (write {field}:value without a "
                         "space; to search these words, put them in quotes)", i, query)
    return FieldTerm(field, _field_value(field, raw, value_pos, query)), j


def _check_misspelt_field(name: str, value: str, pos: int, query: str) -> None:
    """A QueryError for a name before a colon that is nearly a field's, with a value right
    after the colon ("chanel:x", "tags:vip"): a typo, not a word to search."""
    close = difflib.get_close_matches(name.lower(), SEARCH_FIELDS, n=1, cutoff=0.8)
    if close and value.strip() and not value.startswith("//"):
        raise QueryError(f"unknown field '{name}': did you mean '{close[0]}:'? (to search "
                         "the text, put it in quotes)", pos, query)


def _field_value(field: str, raw: str, pos: int, query: str) -> str:
    """Validate and normalize a field's value; QueryError at `pos` when it is invalid."""
    allowed = FIELD_VALUES.get(field)
    if allowed is not None:
        if raw.lower() not in allowed:
            raise QueryError(f"invalid {field} '{raw}', expected one of: {', '.join(allowed)}",
                             pos, query)
        return raw.lower()
    if field in ("after", "before"):
        try:
            if not _DATE_RE.fullmatch(raw):
                raise ValueError(raw)
            date.fromisoformat(raw)
        except ValueError:
            raise QueryError(f"invalid date '{raw}', expected YYYY-MM-DD", pos, query) from None
        if not FIRST_DATE <= raw <= LAST_DATE:  # what every store can compare (ES date_nanos)
            raise QueryError(f"date '{raw}' out of range: use {FIRST_DATE} to {LAST_DATE}",
                             pos, query)
        return raw
    if field == "lang":
        if not _LANG_RE.fullmatch(raw):
            raise QueryError(f"invalid language code '{raw}', expected 2 or 3 letters (e.g. en)",
                             pos, query)
        return raw.lower()
    if field == "tag":
        return raw.lower()
    if field == "assignee" and raw.lower() == "me":
        return "me"
    return raw  # from (kept as typed, "@" included: the store normalizes), assignee


# --- parser -----------------------------------------------------------------------------


def _check_text(query: str) -> None:
    if len(query) > MAX_LENGTH:
        raise QueryError(f"query too long: at most {MAX_LENGTH} characters", MAX_LENGTH, query)
    bad = _BAD_CHAR.search(query)
    if bad is not None:
        raise QueryError(f"character U+{ord(bad.group()):04X} is not allowed in a query",
                         bad.start(), query)


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self._tokens = _tokens(query)
        self._peeked: _Token | None = None
        self.depth = 0
        self.terms = 0

    def peek(self) -> _Token:
        if self._peeked is None:
            self._peeked = next(self._tokens)
        return self._peeked

    def take(self) -> _Token:
        token = self.peek()
        if token.kind != _END:
            self._peeked = None
        return token

    def error(self, problem: str, pos: int) -> QueryError:
        return QueryError(problem, pos, self.query)

    def query_node(self) -> QueryNode | None:
        node = self.or_expr()
        token = self.peek()
        if token.kind == _RPAREN:
            raise self.error("unmatched ')'", token.pos)
        return node

    def or_expr(self) -> QueryNode | None:
        """None when there is nothing before the next ')' or the end."""
        first = self.and_expr()
        if first is None:
            token = self.peek()
            if token.kind in (_OR, _AND):
                raise self.error(f"nothing before {token.kind}{_as_word(token.kind)}", token.pos)
            return None
        branches = [first]
        while self.peek().kind == _OR:
            or_token = self.take()
            branch = self.and_expr()
            if branch is None:
                raise self.missing_operand(or_token)
            branches.append(branch)
        return _combine(Or, branches)

    def and_expr(self) -> QueryNode | None:
        """None when no operand comes next."""
        items: list[QueryNode] = []
        while True:
            kind = self.peek().kind
            if kind == _AND and items:
                and_token = self.take()
                if self.peek().kind not in _STARTS:
                    raise self.missing_operand(and_token)
            elif kind not in _STARTS:
                return _combine(And, items) if items else None
            items.append(self.unary())

    def missing_operand(self, operator: _Token) -> QueryError:
        """The error for AND or OR with no operand after it."""
        token = self.peek()
        if token.kind in (_AND, _OR):
            return self.error(f"{token.kind} right after {operator.kind}{_as_word(token.kind)}",
                              token.pos)
        return self.error(f"nothing after {operator.kind}{_as_word(operator.kind)}", operator.pos)

    def unary(self) -> QueryNode:
        token = self.take()
        if token.kind == _ATOM:
            self.terms += 1
            if self.terms > MAX_TERMS:
                raise self.error(f"too many terms: at most {MAX_TERMS} words, phrases and "
                                 f"fields", token.pos)
            assert token.node is not None
            return token.node
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nested too deeply: at most {MAX_DEPTH} groups, '-' and NOT "
                             f"inside each other", token.pos)
        node = self.group(token) if token.kind == _LPAREN else self.negation(token)
        self.depth -= 1
        return node

    def negation(self, token: _Token) -> QueryNode:
        if self.peek().kind not in _STARTS:
            if token.kind == _NOT:
                raise self.error(f"NOT must be followed by {_OPERAND}{_as_word(_NOT)}", token.pos)
            raise self.error(f"'-' must be directly followed by {_OPERAND}", token.pos)
        return Not(self.unary())

    def group(self, token: _Token) -> QueryNode:
        inner = self.or_expr()
        if self.peek().kind != _RPAREN:
            raise self.error("missing ')' for '('", token.pos)
        if inner is None:
            raise self.error("empty group '()'", token.pos)
        self.take()
        return inner


def _combine(kind: type[And] | type[Or], nodes: list[QueryNode]) -> QueryNode:
    """And/Or of `nodes`, flattening children of the same kind; a single node stands alone."""
    flat: list[QueryNode] = []
    for node in nodes:
        flat.extend(node.nodes if isinstance(node, kind) else (node,))
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def parse(query: str) -> QueryNode | None:
    """Parse a search query; None for an empty query (match all). Raises QueryError."""
    _check_text(query)
    return _Parser(query).query_node()


# --- printing ---------------------------------------------------------------------------


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _term_text(text: str) -> str:
    try:
        tokens = list(_tokens(text))
    except QueryError:
        tokens = []
    if len(tokens) != 2 or tokens[0].node != Term(text):
        raise ValueError(f"Term({text!r}) cannot be written in the search language")
    return text


def _field_text(node: FieldTerm) -> str:
    if node.name not in SEARCH_FIELDS:
        raise ValueError(f"unknown field {node.name!r}")
    try:
        value = _field_value(node.name, node.value, 0, "")
        valid = bool(node.value.strip()) and value == node.value
    except QueryError:
        valid = False
    if not valid:
        raise ValueError(f"{node.name}:{node.value!r} is not a valid, normalized field value")
    value = node.value
    if value.startswith("//") or any(c.isspace() or c in _NEEDS_QUOTES for c in value):
        value = _quote(value)
    return f"{node.name}:{value}"


def to_text(node: QueryNode | None) -> str:
    """The canonical text of `node`: "" for None. ValueError for a leaf no query can express
    (e.g. Term("a b"), an unknown field, a blank phrase)."""
    if node is None:
        return ""
    if isinstance(node, Term):
        return _term_text(node.text)
    if isinstance(node, Phrase):
        if not node.text.strip():
            raise ValueError("a phrase cannot be blank")
        return _quote(node.text)
    if isinstance(node, FieldTerm):
        return _field_text(node)
    if isinstance(node, Not):
        inner = to_text(node.node)
        return f"-({inner})" if isinstance(node.node, And | Or) else f"-{inner}"
    if not node.nodes:
        raise ValueError(f"empty {type(node).__name__}")
    if isinstance(node, And):
        return " ".join(f"({to_text(n)})" if isinstance(n, And | Or) else to_text(n)
                        for n in node.nodes)
    return " OR ".join(f"({to_text(n)})" if isinstance(n, Or) else to_text(n) for n in node.nodes)


# --- helpers for callers ----------------------------------------------------------------


def describe_error(err: QueryError) -> str:
    """The problem, then the query with a caret under the offending position (for the CLI)."""
    shown = "".join(" " if c.isspace() else c for c in err.query)
    return f"{err.problem} (at position {err.position})\n  {shown}\n  {' ' * err.position}^"


def narrow(text: str, addition: str) -> str:
    """The query `text` AND `addition` as query text, for links that add a facet or a word:
    `refund OR bill` narrowed by `channel:x` is `(refund OR bill) channel:x`, not the OR of
    refund and `bill channel:x`. Adding what the query already requires changes nothing.
    Either one not parsing: the two side by side, as typed (the link shows the error)."""
    try:
        node, extra = parse(text), parse(addition)
    except QueryError:
        return f"{text} {addition}".strip()
    if node is None or extra is None:
        return to_text(node or extra)
    required = node.nodes if isinstance(node, And) else (node,)
    return to_text(node if extra in required else _combine(And, [node, extra]))


def bucket_of(day: str, interval: Interval) -> str:
    """The start of the volume bucket a day (YYYY-MM-DD) falls in: the day, its week's
    Monday or its month's first day (as Elasticsearch's calendar intervals)."""
    if interval == "day":
        return day
    if interval == "month":
        return day[:8] + "01"
    start = date.fromisoformat(day)
    return (start - timedelta(days=start.weekday())).isoformat()


def day_start(value: str) -> str:
    """What after:/before: compare with: the start of that UTC day, as a store timestamp."""
    try:
        return ts(datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC))
    except ValueError as exc:
        raise QueryError(f"not a date (YYYY-MM-DD): '{value}'", 0) from exc


def resolve_me(node: QueryNode | None, user_id: str) -> QueryNode | None:
    """`node` with every assignee:me replaced by assignee:<user_id>."""
    return map_assignees(node, lambda value: user_id if value == "me" else value)


def map_assignees(node: QueryNode | None, fn: Callable[[str], str]) -> QueryNode | None:
    """`node` with every assignee:<value> replaced by assignee:<fn(value)> (pure)."""
    if node is None or isinstance(node, Term | Phrase):
        return node
    if isinstance(node, FieldTerm):
        return FieldTerm("assignee", fn(node.value)) if node.name == "assignee" else node
    if isinstance(node, Not):
        return Not(_mapped(node.node, fn))
    return type(node)(tuple(_mapped(n, fn) for n in node.nodes))


def _mapped(node: QueryNode, fn: Callable[[str], str]) -> QueryNode:
    result = map_assignees(node, fn)
    assert result is not None
    return result


def fields_used(node: QueryNode | None) -> set[str]:
    """The names of the fields `node` filters on."""
    if node is None or isinstance(node, Term | Phrase):
        return set()
    if isinstance(node, FieldTerm):
        return {node.name}
    if isinstance(node, Not):
        return fields_used(node.node)
    return set().union(*(fields_used(n) for n in node.nodes))
