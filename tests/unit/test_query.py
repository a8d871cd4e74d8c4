"""The search language: parse, to_text, errors and helpers."""

from __future__ import annotations

import difflib
import string
import unicodedata
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inbox.errors import QueryError
from inbox.model import SEARCH_FIELDS, And, FieldTerm, Not, Or, Phrase, QueryNode, Term
from inbox.query import (
    FIELD_VALUES,
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_TERMS,
    MIN_PREFIX,
    OPERATORS,
    describe_error,
    fields_used,
    narrow,
    parse,
    resolve_me,
    to_text,
)


def error_of(query: str) -> QueryError:
    with pytest.raises(QueryError) as info:
        parse(query)
    assert info.value.query == query
    return info.value


# --- words, phrases, prefixes ------------------------------------------------------------


@pytest.mark.parametrize("query", ["", " ", "  \t\n "])
def test_empty_query_matches_all(query: str) -> None:
    assert parse(query) is None
    assert to_text(None) == ""


def test_words_and_implicit_and() -> None:
    assert parse("refund") == Term("refund")
    assert parse("  refund  late ") == And((Term("refund"), Term("late")))
    assert parse("don't well-known a- é日本") == And(
        (Term("don't"), Term("well-known"), Term("a-"), Term("é日本")))


def test_prefix_star_kept_in_term() -> None:
    assert parse("refund*") == Term("refund*")


@pytest.mark.parametrize(("query", "position"), [("*", 0), ("a *", 2), ("re*fund", 2),
                                                 ("**", 0), ("a**", 1)])
def test_star_not_at_end_is_an_error(query: str, position: int) -> None:
    assert error_of(query).position == position


def test_phrases() -> None:
    assert parse('"past due"') == Phrase("past due")
    assert parse('"say \\"hi\\" now"') == Phrase('say "hi" now')
    assert parse(r'"back\\slash"') == Phrase("back\\slash")
    assert parse(r'"c:\temp"') == Phrase("c:\\temp")  # other backslashes kept as typed
    assert parse('a"b c"d') == And((Term("a"), Phrase("b c"), Term("d")))
    assert parse('"OR"') == Phrase("OR")


@pytest.mark.parametrize(("query", "position"), [('"past due', 0), ('refund "x', 7),
                                                 ('"a\\"', 0), ('"ok" "', 5)])
def test_unterminated_phrase(query: str, position: int) -> None:
    err = error_of(query)
    assert "unterminated phrase" in err.problem
    assert err.position == position


@pytest.mark.parametrize("query", ['""', 'a ""', '"  "'])
def test_empty_phrase(query: str) -> None:
    err = error_of(query)
    assert err.problem == "empty phrase"
    assert err.position == query.index('"')


# --- exclusion, OR, grouping ----------------------------------------------------------------


def test_exclusion() -> None:
    assert parse("-autopay") == Not(Term("autopay"))
    assert parse('-"past due"') == Not(Phrase("past due"))
    assert parse("-channel:x") == Not(FieldTerm("channel", "x"))
    assert parse("-(a b)") == Not(And((Term("a"), Term("b"))))
    assert parse("--a") == Not(Not(Term("a")))
    assert parse("a-b") == Term("a-b")


@pytest.mark.parametrize(("query", "position"), [("-OR", 0), ("a -OR b", 2), ("-AND", 0),
                                                 ("a -)", 3)])
def test_a_minus_before_an_operator_or_nothing_is_an_error(query: str, position: int) -> None:
    assert error_of(query).position == position


@pytest.mark.parametrize(("query", "expected"), [
    ("Order #4411 - delayed", And((Term("Order"), Term("#4411"), Term("delayed")))),
    ("Refund & bill", And((Term("Refund"), Term("bill")))),
    ("Re: Refund – urgent | VIP", And((Term("Re:"), Term("Refund"), Term("urgent"),
                                       Term("VIP")))),
    ("a - b", And((Term("a"), Term("b")))),
    ("a -", Term("a")),
    ("(a -)", Term("a")),
    ("-- a", Term("a")),
    ("10 + 2 = 12 $", And((Term("10"), Term("2"), Term("12")))),
    ("-", None),
    ("... !!!", None),
    ("-&(a)", Not(Term("a"))),
    ("Q&A -😡", And((Term("Q&A"), Not(Term("😡"))))),  # in a word, or a symbol: kept
])
def test_punctuation_standing_alone_is_skipped_like_space(query: str,
                                                          expected: QueryNode | None) -> None:
    """A dash, ampersand or bar between the words of a pasted subject has nothing a store
    could find (no store indexes punctuation): it separates words, as a space does."""
    assert parse(query) == expected


def test_or_and_precedence() -> None:
    a, b, c, d = Term("a"), Term("b"), Term("c"), Term("d")
    assert parse("a OR b") == Or((a, b))
    assert parse("a b OR c d") == Or((And((a, b)), And((c, d))))
    assert parse("a (b OR c)") == And((a, Or((b, c))))
    assert parse("-a b OR c") == Or((And((Not(a), b)), c))
    assert parse("a or b") == And((a, Term("or"), b))
    assert parse("a Or b") == And((a, Term("Or"), b))
    assert parse("(a)OR(b)") == Or((a, b))


def test_and_is_the_implicit_and_written_out() -> None:
    a, b, c, d = Term("a"), Term("b"), Term("c"), Term("d")
    assert parse("refund AND bill") == parse("refund bill") == And((Term("refund"), Term("bill")))
    assert parse("a AND b c") == And((a, b, c))
    assert parse("a AND b OR c AND d") == Or((And((a, b)), And((c, d))))
    assert parse("a OR b AND c") == Or((a, And((b, c))))
    assert parse("(a OR b) AND c") == And((Or((a, b)), c))
    assert parse("(a)AND(b)") == And((a, b))
    assert parse('"x y" AND channel:x') == And((Phrase("x y"), FieldTerm("channel", "x")))


def test_not_is_the_minus_written_out() -> None:
    a, b = Term("a"), Term("b")
    assert parse("NOT a") == parse("-a") == Not(a)
    assert parse("a NOT b") == parse("a AND NOT b") == parse("a -b") == And((a, Not(b)))
    assert parse("NOT channel:x") == Not(FieldTerm("channel", "x"))
    assert parse('NOT "past due"') == Not(Phrase("past due"))
    assert parse("NOT (a OR b)") == parse("NOT(a OR b)") == parse("-(a OR b)")
    assert parse("NOT NOT a") == parse("-NOT a") == parse("--a") == Not(Not(a))


def test_precedence_is_not_then_and_then_or() -> None:
    a, b, c = Term("a"), Term("b"), Term("c")
    assert parse("NOT a b") == And((Not(a), b))  # NOT takes only what follows it
    assert parse("NOT a AND b OR c") == Or((And((Not(a), b)), c))
    assert parse("a OR NOT b AND c") == Or((a, And((Not(b), c))))
    assert parse("a OR b NOT c") == Or((a, And((b, Not(c)))))
    assert parse("NOT a OR b") == Or((Not(a), b))


@pytest.mark.parametrize("query", ["and", "or", "not", "And", "Not", "oR"])
def test_operators_are_capitals_only_other_spellings_are_words(query: str) -> None:
    assert parse(f"a {query} b") == And((Term("a"), Term(query), Term("b")))


@pytest.mark.parametrize("word", ["ANDROID", "NOTE", "ORDER", "NOT-a", "AND*", "ORs", "x-OR"])
def test_words_that_start_like_operators_are_words(word: str) -> None:
    assert parse(word) == Term(word)


@pytest.mark.parametrize("word", ["AND", "OR", "NOT"])
def test_a_quoted_operator_is_searched_as_a_word(word: str) -> None:
    assert parse(f'"{word}"') == Phrase(word)
    assert parse(f'terms "{word}" conditions') == And(
        (Term("terms"), Phrase(word), Term("conditions")))


def test_normalization_collapses_and_flattens() -> None:
    a, b, c = Term("a"), Term("b"), Term("c")
    assert parse("((a))") == a
    assert parse("(a b) c") == And((a, b, c))
    assert parse("a (b (c))") == And((a, b, c))
    assert parse("(a OR b) OR c") == Or((a, b, c))
    assert parse("a OR (b OR c)") == Or((a, b, c))
    assert parse("-(a)") == Not(a)


@pytest.mark.parametrize(("query", "problem", "position"), [
    ("OR a", "nothing before OR", 0),
    ("a OR", "nothing after OR", 2),
    ("a OR OR b", "OR right after OR", 5),
    ("(OR a)", "nothing before OR", 1),
    ("(a OR) b", "nothing after OR", 3),
    ("OR", "nothing before OR", 0),
    ("(a OR", "nothing after OR", 3),
    ("refund AND", "nothing after AND", 7),
    ("AND refund", "nothing before AND", 0),
    ("AND", "nothing before AND", 0),
    ("a AND AND b", "AND right after AND", 6),
    ("a AND OR b", "OR right after AND", 6),
    ("a OR AND b", "AND right after OR", 5),
    ("(a AND) b", "nothing after AND", 3),
    ("x (AND a)", "nothing before AND", 3),
    ("NOT", "NOT must be followed by a word, phrase, field or group", 0),
    ("refund NOT", "NOT must be followed by", 7),
    ("a NOT OR b", "NOT must be followed by", 2),
    ("a NOT AND b", "NOT must be followed by", 2),
    ("(NOT)", "NOT must be followed by", 1),
    ("a -AND b", "'-' must be directly followed", 2),
    ("a OR NOT", "NOT must be followed by", 5),
])
def test_misplaced_operators(query: str, problem: str, position: int) -> None:
    err = error_of(query)
    assert err.problem.startswith(problem) and err.position == position
    if "-" not in problem:  # says how to search the word instead
        word = problem.split()[0] if "right after" in problem else problem.split()[-1]
        word = "NOT" if problem.startswith("NOT") else word
        assert f"to search the word {word}, write it in lower case or in quotes" in err.problem


@pytest.mark.parametrize(("query", "problem", "position"), [
    ("(a", "missing ')' for '('", 0),
    ("x (a (b)", "missing ')' for '('", 2),
    ("a)", "unmatched ')'", 1),
    ("(a)) b", "unmatched ')'", 3),
    (")", "unmatched ')'", 0),
    ("a ()", "empty group '()'", 2),
    ("(", "missing ')' for '('", 0),
])
def test_unbalanced_parentheses(query: str, problem: str, position: int) -> None:
    err = error_of(query)
    assert (err.problem, err.position) == (problem, position)


# --- fields ---------------------------------------------------------------------------------


def test_the_example_query() -> None:
    query = ('refund "past due" -autopay channel:x from:@theresa sentiment:negative lang:en '
             "status:open assignee:me after:2026-11-01 before:2026-11-22 (bill OR invoice)")
    assert parse(query) == And((
        Term("refund"), Phrase("past due"), Not(Term("autopay")), FieldTerm("channel", "x"),
        FieldTerm("from", "@theresa"), FieldTerm("sentiment", "negative"),
        FieldTerm("lang", "en"), FieldTerm("status", "open"), FieldTerm("assignee", "me"),
        FieldTerm("after", "2026-11-01"), FieldTerm("before", "2026-11-22"),
        Or((Term("bill"), Term("invoice"))),
    ))


def test_field_names_case_insensitive_and_values_normalized() -> None:
    assert parse("Channel:EMAIL") == FieldTerm("channel", "email")
    assert parse("STATUS:Pending") == FieldTerm("status", "pending")
    assert parse("sentiment:Positive") == FieldTerm("sentiment", "positive")
    assert parse("lang:EN") == FieldTerm("lang", "en")
    assert parse("lang:deu") == FieldTerm("lang", "deu")
    assert parse("tag:VIP") == FieldTerm("tag", "vip")
    assert parse("from:@Theresa") == FieldTerm("from", "@Theresa")
    assert parse("assignee:ME") == FieldTerm("assignee", "me")
    assert parse("assignee:u123") == FieldTerm("assignee", "u123")
    assert parse("status:listening") == FieldTerm("status", "listening")
    assert parse("channel:webform") == FieldTerm("channel", "webform")


def test_quoted_field_values() -> None:
    assert parse('from:"Theresa May"') == FieldTerm("from", "Theresa May")
    assert parse('tag:"Needs Review"') == FieldTerm("tag", "needs review")
    assert parse('from:"a \\"b\\""') == FieldTerm("from", 'a "b"')
    assert parse('channel:"x"') == FieldTerm("channel", "x")
    assert parse('from:"a b"c') == And((FieldTerm("from", "a b"), Term("c")))


def test_values_may_contain_colons() -> None:
    assert parse("tag:a:b") == FieldTerm("tag", "a:b")


@pytest.mark.parametrize("word", ["http://x.com", "https://x.com/a?b=c", "12:30", "a.b:c",
                                  ":x", "x-y:z", "über:x"])
def test_colon_without_identifier_is_a_plain_term(word: str) -> None:
    assert parse(word) == Term(word)


@pytest.mark.parametrize(("query", "expected"), [
    ("Re: Refund request", And((Term("Re:"), Term("Refund"), Term("request")))),
    ("RE: RE: Fwd: bill", And((Term("RE:"), Term("RE:"), Term("Fwd:"), Term("bill")))),
    ("Note: call back at 10:30", And((Term("Note:"), Term("call"), Term("back"), Term("at"),
                                      Term("10:30")))),
    ("AW: Rechnung", And((Term("AW:"), Term("Rechnung")))),
    ("colour:red", Term("colour:red")),
    ("refund Colour:red", And((Term("refund"), Term("Colour:red")))),
    ("-mailto:a", Not(Term("mailto:a"))),
    ("a:b", Term("a:b")),
    ('x:"y"', And((Term("x:"), Phrase("y")))),
    ("(a foo:)", And((Term("a"), Term("foo:")))),
    ("Re: channel:x", And((Term("Re:"), FieldTerm("channel", "x")))),
    ("Status:open", FieldTerm("status", "open")),
])
def test_a_colon_is_only_special_after_a_field_name(query: str, expected: QueryNode) -> None:
    """Pasted subjects, times and URLs are words: a colon makes a field only after one of
    the field names."""
    ast = parse(query)
    assert ast == expected
    assert parse(to_text(ast)) == ast


@pytest.mark.parametrize(("query", "position", "field"), [
    ("chanel:x", 0, "channel"), ("refund tags:vip", 7, "tag"), ('lan:"en"', 0, "lang"),
    ("(a befor:2026-01-01)", 3, "before"), ("-Stauts:open", 1, "status"),
])
def test_a_misspelt_field_name_with_a_value_is_an_error_that_names_the_field(
        query: str, position: int, field: str) -> None:
    """Searched as words it would silently find nothing."""
    err = error_of(query)
    assert err.position == position
    assert f"did you mean '{field}:'?" in err.problem and "put it in quotes" in err.problem


@pytest.mark.parametrize("query", ["chanel: x", "tags:", "tg://x", 'Re:"x"', "form:contact"])
def test_a_name_like_a_field_without_a_value_is_a_word(query: str) -> None:
    assert parse(query) is not None


@pytest.mark.parametrize(("query", "position"), [("channel:", 0), ("a channel: b", 2),
                                                 ('from:""', 0), ('tag:"  "', 0),
                                                 ("(tag:)", 1)])
def test_missing_value(query: str, position: int) -> None:
    err = error_of(query)
    assert err.problem.startswith("missing value")
    assert err.position == position


def test_unterminated_quoted_value() -> None:
    err = error_of('from:"Theresa')
    assert err.position == 5
    assert "unterminated" in err.problem


@pytest.mark.parametrize(("query", "position", "problem"), [
    ("channel:fax", 8, "invalid channel 'fax', expected one of: email, x, webform"),
    ("status:closed", 7, "invalid status 'closed'"),
    ("sentiment:angry", 10, "invalid sentiment 'angry'"),
    ("a after:2026-13-01", 8, "invalid date '2026-13-01', expected YYYY-MM-DD"),
    ("before:2026-02-30", 7, "invalid date '2026-02-30'"),
    ("after:2026-1-1", 6, "invalid date '2026-1-1'"),
    ("after:20261101", 6, "invalid date"),
    ("after:yesterday", 6, "invalid date"),
    ('after:"2026-11-01 "', 6, "invalid date"),
    ("after:２０２６-11-01", 6, "invalid date"),
    ("lang:e", 5, "invalid language code 'e'"),
    ("lang:engl", 5, "invalid language code"),
    ("lang:e1", 5, "invalid language code"),
])
def test_invalid_field_values(query: str, position: int, problem: str) -> None:
    err = error_of(query)
    assert err.position == position
    assert err.problem.startswith(problem)


def test_dates_accepted() -> None:
    assert parse("after:2024-02-29 before:2026-11-22") == And(
        (FieldTerm("after", "2024-02-29"), FieldTerm("before", "2026-11-22")))


# --- to_text --------------------------------------------------------------------------------


@pytest.mark.parametrize(("node", "text"), [
    (Term("refund*"), "refund*"),
    (Phrase('say "hi"\\'), '"say \\"hi\\"\\\\"'),
    (FieldTerm("from", "Theresa May"), 'from:"Theresa May"'),
    (FieldTerm("tag", "//x"), 'tag:"//x"'),
    (FieldTerm("tag", "a(b)"), 'tag:"a(b)"'),
    (Not(Not(Term("a"))), "--a"),
    (Not(Or((Term("a"), Term("b")))), "-(a OR b)"),
    (Not(And((Term("a"), Term("b")))), "-(a b)"),
    (And((Term("a"), Or((Term("b"), Term("c"))))), "a (b OR c)"),
    (Or((And((Term("a"), Term("b"))), Term("c"))), "a b OR c"),
])
def test_to_text_canonical(node: QueryNode, text: str) -> None:
    assert to_text(node) == text
    assert parse(text) == node


@pytest.mark.parametrize("node", [
    Term("a b"), Term("-a"), Term("OR"), Term("AND"), Term("NOT"), Term("&"), Term("-"),
    Term("channel:x"), Term("*"), Term(""), Term('a"'),
    Phrase(" "), FieldTerm("colour", "red"), FieldTerm("channel", "fax"),
    FieldTerm("tag", "VIP"), FieldTerm("after", "2026-13-01"), FieldTerm("from", ""),
    And(()), Not(Term("a b")),
])
def test_to_text_rejects_inexpressible_nodes(node: QueryNode) -> None:
    with pytest.raises(ValueError):
        to_text(node)


def test_round_trip_of_the_example() -> None:
    query = ('refund "past due" -autopay channel:x from:"Theresa May" (bill OR invoice) '
             "-(a OR b c) --x")
    ast = parse(query)
    assert parse(to_text(ast)) == ast


# --- helpers --------------------------------------------------------------------------------


def test_describe_error_points_at_the_position() -> None:
    err = error_of("refund channel:fax")
    text = describe_error(err)
    lines = text.splitlines()
    assert lines[0].startswith("invalid channel 'fax'")
    assert lines[1] == "  refund channel:fax"
    assert lines[2] == "  " + " " * 15 + "^"


def test_describe_error_keeps_alignment_with_tabs_and_at_the_end() -> None:
    lines = describe_error(error_of("a\tOR")).splitlines()
    assert lines[1] == "  a OR"
    assert lines[2].index("^") == 2 + 2
    lines = describe_error(error_of("(a")).splitlines()
    assert lines[2] == "  ^"


def test_resolve_me() -> None:
    ast = parse("assignee:me (-assignee:me OR assignee:u9) refund")
    assert resolve_me(ast, "u1") == parse("assignee:u1 (-assignee:u1 OR assignee:u9) refund")
    assert ast == parse("assignee:me (-assignee:me OR assignee:u9) refund")  # pure
    assert resolve_me(None, "u1") is None
    assert resolve_me(Term("me"), "u1") == Term("me")
    assert resolve_me(FieldTerm("from", "me"), "u1") == FieldTerm("from", "me")


def test_fields_used() -> None:
    assert fields_used(None) == set()
    assert fields_used(parse("refund \"x\"")) == set()
    assert fields_used(parse("a channel:x (-from:b OR tag:c) --lang:en")) == {
        "channel", "from", "tag", "lang"}


# --- properties -----------------------------------------------------------------------------

_WORD_ALPHABET = string.ascii_letters + string.digits + "._@#+'&!?-/éßΩ日"

terms = st.one_of(
    st.builds(lambda w, star: w + star,
              st.text(_WORD_ALPHABET, min_size=1, max_size=8), st.sampled_from(["", "*"]))
    .filter(lambda w: not w.startswith("-") and w not in OPERATORS
            and any(unicodedata.category(c)[0] in "LN" for c in w)
            and not (w.endswith("*") and len(w) <= MIN_PREFIX)),
    st.sampled_from(["12:30", "http://x.com/a?b=c", "or", "and", "Not", "1:b:c", "Re:",
                     "Note:", "colour:red", "x:"]),
).map(Term)

_FREE_TEXT = st.text(string.ascii_letters + string.digits + ' "()\\-:*@_.é\t',
                     min_size=1, max_size=12).filter(lambda s: bool(s.strip()))

phrases = _FREE_TEXT.map(Phrase)

_FIELD_VALUE_STRATEGIES: dict[str, st.SearchStrategy[str]] = {
    **{name: st.sampled_from(values) for name, values in FIELD_VALUES.items()},
    "after": st.dates(date(1970, 1, 1), date(2261, 12, 31)).map(lambda d: d.isoformat()),
    "before": st.dates(date(1970, 1, 1), date(2261, 12, 31)).map(lambda d: d.isoformat()),
    "lang": st.text(string.ascii_lowercase, min_size=2, max_size=3),
    "tag": _FREE_TEXT.map(str.lower),
    "from": _FREE_TEXT,
    "assignee": st.one_of(st.just("me"), _FREE_TEXT.filter(lambda s: s.lower() != "me")),
}
assert set(_FIELD_VALUE_STRATEGIES) == set(SEARCH_FIELDS)

field_terms = st.sampled_from(SEARCH_FIELDS).flatmap(
    lambda name: _FIELD_VALUE_STRATEGIES[name].map(lambda value: FieldTerm(name, value)))


def _flat(kind: type[And] | type[Or], nodes: list[QueryNode]) -> QueryNode:
    flat: list[QueryNode] = []
    for node in nodes:
        flat.extend(node.nodes if isinstance(node, kind) else (node,))
    return kind(tuple(flat))


def _depth(node: QueryNode) -> int:
    """Groups and negations inside each other, as the parser counts them."""
    if isinstance(node, Not):
        return 1 + _depth(node.node)
    if isinstance(node, And | Or):
        return 1 + max(_depth(n) for n in node.nodes)
    return 0


asts: st.SearchStrategy[QueryNode] = st.recursive(
    st.one_of(terms, phrases, field_terms),
    lambda children: st.one_of(
        children.map(Not),
        st.lists(children, min_size=2, max_size=4).map(lambda ns: _flat(And, ns)),
        st.lists(children, min_size=2, max_size=4).map(lambda ns: _flat(Or, ns)),
    ),
    max_leaves=10,
).filter(lambda node: _depth(node) <= MAX_DEPTH)

# Text made of the language's own pieces, so that many samples parse.
_PIECES = ["a", "b*", "OR", "or", "AND", "NOT", "not", "-", "(", ")", '"', '"x y"',
           "channel:x", "-c", "Re:", "10:30",
           "from:", 'from:"T M"', "colour:red", "12:30", "*", "\\", "after:2026-02-30",
           "lang:EN", "tag:A", "http://x", ":", "\t"]
query_texts = st.one_of(
    st.text(max_size=30),
    st.lists(st.tuples(st.sampled_from(_PIECES), st.sampled_from(["", " ", " "])), max_size=12)
    .map(lambda parts: "".join(piece + sep for piece, sep in parts)),
)


@settings(max_examples=200)
@given(asts)
def test_property_round_trip(ast: QueryNode) -> None:
    assert parse(to_text(ast)) == ast


@settings(max_examples=200)
@given(query_texts)
def test_property_parse_returns_or_raises_query_error(query: str) -> None:
    try:
        parse(query)
    except QueryError as err:
        assert 0 <= err.position <= len(query)
        assert err.query == query
        assert err.problem
        describe_error(err)


@settings(max_examples=200)
@given(query_texts)
def test_property_canonical_form_is_idempotent(query: str) -> None:
    try:
        ast = parse(query)
    except QueryError:
        return
    text = to_text(ast)
    assert parse(text) == ast
    assert to_text(parse(text)) == text


@settings(max_examples=200)
@given(st.lists(asts, max_size=3), st.data())
def test_property_an_unknown_name_and_colon_is_a_word_wherever_it_is(
        items: list[QueryNode], data: st.DataObject) -> None:
    pieces = [f"({to_text(item)})" for item in items]
    name = data.draw(st.builds(str.__add__, st.sampled_from(string.ascii_letters),
                               st.text(string.ascii_letters + string.digits + "_", max_size=8))
                     .filter(lambda n: not difflib.get_close_matches(n.lower(), SEARCH_FIELDS,
                                                                     cutoff=0.8)))
    at = data.draw(st.integers(0, len(pieces)))
    word = data.draw(st.sampled_from([f"{name}:red", f"{name}:", f"{name}:12:30"]))
    ast = parse(" ".join([*pieces[:at], word, *pieces[at:]]))
    expected = [*items[:at], Term(word), *items[at:]]
    assert ast == (_flat(And, expected) if items else Term(word))


@pytest.mark.parametrize("text", ["before:0999-01-01", "after:2262-01-01"])
def test_dates_outside_what_stores_compare_are_errors(text: str) -> None:
    with pytest.raises(QueryError, match="out of range") as err:
        parse(text)
    assert err.value.position == text.index(":") + 1


# --- limits: every store compiles what parses --------------------------------------------


@pytest.mark.parametrize(("query", "position"), [
    ("(" * 28 + "a" + ")" * 28, MAX_DEPTH),  # the group one too deep
    ("-" * 41 + "a", MAX_DEPTH),
    ("a " + "(-" * 6 + "b" + ")" * 6, 2 + MAX_DEPTH),
])
def test_nesting_deeper_than_the_limit_is_an_error_at_the_first_level_too_deep(
        query: str, position: int) -> None:
    err = error_of(query)
    assert err.position == position and "nested too deeply" in err.problem


def test_nesting_up_to_the_limit_parses() -> None:
    assert parse("(" * (MAX_DEPTH - 1) + "-a" + ")" * (MAX_DEPTH - 1)) == Not(Term("a"))


def test_too_many_terms_is_an_error_at_the_first_one_too_many() -> None:
    words = [f"w{i}" for i in range(MAX_TERMS + 5)]
    query = " ".join(words)
    err = error_of(query)
    assert "too many terms" in err.problem
    assert err.position == query.index(words[MAX_TERMS])
    assert parse(" ".join(words[:MAX_TERMS])) is not None


def test_overlong_query_is_an_error() -> None:
    assert "too long" in error_of("a" * (MAX_LENGTH + 1)).problem


@pytest.mark.parametrize(("query", "position"), [
    ("refund\x00", 6), ("a \x1b[31m", 2), ("x \ud800", 2), ("\x7f", 0)])
def test_control_characters_and_lone_surrogates_are_errors_at_their_position(
        query: str, position: int) -> None:
    err = error_of(query)
    assert err.position == position and "is not allowed" in err.problem


def test_tabs_and_newlines_separate_words() -> None:
    assert parse("a\tb\r\nc") == And((Term("a"), Term("b"), Term("c")))


def test_direction_field() -> None:
    assert parse("direction:Inbound") == FieldTerm("direction", "inbound")
    assert "expected one of: inbound, outbound, note" in error_of("direction:in").problem


@pytest.mark.parametrize("text", ["a*", "refund a*", "7*", "é*"])
def test_a_one_character_prefix_is_refused(text: str) -> None:
    """It would read most of the word index (every word starting with that letter)."""
    with pytest.raises(QueryError) as err:
        parse(text)
    assert "at least 2 characters before '*'" in err.value.problem
    assert err.value.position == text.index("*")
    assert parse("ab*") == Term("ab*")


# --- hostile queries: a QueryError at a position, in bounded time, memory and recursion ----

_TERMS_OVER = " OR ".join(f"w{i}" for i in range(MAX_TERMS + 1))

HOSTILE = [  # (query, position, words of the problem)
    ("refund " * 1500, MAX_LENGTH, "too long"),  # 10,500 characters
    ("(" * 5000 + "a" + ")" * 5000, MAX_LENGTH, "too long"),
    ("(" * 1000 + "a" + ")" * 999, MAX_DEPTH, "nested too deeply"),
    ("NOT " * 499 + "a", 4 * MAX_DEPTH, "nested too deeply"),
    ("-" * 1999 + "a", MAX_DEPTH, "nested too deeply"),
    ("NOT (" * 399, 25, "nested too deeply"),  # the 11th: the 6th NOT, at 5 * 5
    (" OR ".join(["a"] * 3000), MAX_LENGTH, "too long"),
    (" OR ".join(["a"] * 399), 5 * MAX_TERMS, "too many terms"),
    (_TERMS_OVER, _TERMS_OVER.rindex("w"), "too many terms"),
    (" AND ".join(["a"] * 333), 6 * MAX_TERMS, "too many terms"),
    ("OR " * 666, 0, "nothing before OR"),
    ("a " + "AND " * 499, 6, "AND right after AND"),
    ('"' * 1999, 0, "empty phrase"),
    ('"' + "a" * 1998, 0, "unterminated phrase"),
    ("(" * 3 + ")" * 1996, 2, "empty group"),
    (")" * 1999, 0, "unmatched ')'"),
    ("a\x00b", 1, "U+0000"),
    ("Re: refund \ud83d", 11, "U+D83D"),
    ("\udcff", 0, "U+DCFF"),  # an undecodable byte of a command line (surrogateescape)
    ("\u202e" + "a\x1b", 2, "U+001B"),
]


@pytest.mark.parametrize(("query", "position", "problem"), HOSTILE,
                         ids=[f"{q[:12]!r}x{len(q)}" for q, _, _ in HOSTILE])
def test_hostile_queries_are_query_errors_at_a_position(query: str, position: int,
                                                        problem: str) -> None:
    err = error_of(query)
    assert (err.position, problem in err.problem) == (position, True), err.problem
    describe_error(err)


def test_the_longest_deepest_query_allowed_parses() -> None:
    """Up to the limits everything parses: 50 terms, 10 levels, 2,000 characters."""
    deep = "(" * (MAX_DEPTH - 1) + "NOT a" + ")" * (MAX_DEPTH - 1)
    words = " OR ".join(f"w{i:03}" for i in range(MAX_TERMS - 1))
    query = (deep + " AND (" + words + ")").ljust(MAX_LENGTH)
    assert len(query) == MAX_LENGTH
    assert parse(query) == And((Not(Term("a")), Or(tuple(Term(f"w{i:03}")
                                                          for i in range(MAX_TERMS - 1)))))


@pytest.mark.parametrize(("text", "addition", "expected"), [
    ("refund OR bill", "channel:x", "(refund OR bill) channel:x"),  # not refund OR (...)
    ("refund", "channel:x", "refund channel:x"),
    ("", "channel:x", "channel:x"),
    ("refund channel:x", "channel:x", "refund channel:x"),  # already required: unchanged
    ("channel:x", "channel:x", "channel:x"),
    ("a b OR c", "d", "(a b OR c) d"),
    ("NOT a", "b", "-a b"),
    ("Re: Refund – urgent", "lang:en", "Re: Refund urgent lang:en"),
    ("(a", "channel:x", "(a channel:x"),  # a query in error stays as typed
])
def test_narrow_adds_a_filter_that_every_match_must_meet(text: str, addition: str,
                                                         expected: str) -> None:
    assert narrow(text, addition) == expected
