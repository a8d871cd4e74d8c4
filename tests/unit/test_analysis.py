"""The words both stores index and search (inbox.analysis)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from inbox import analysis
from inbox.analysis import (
    _ASCII_WORDS,
    _TOKENS,
    MAX_TOKEN,
    _joined,
    _pieces,
    _words,
    forms,
    index_terms,
    message_terms,
    normal,
    query_match,
)


def test_unicode_forms_and_compatibility_characters_are_one_text() -> None:
    composed = "Rückerstattung Ærø Straße"
    for form in ("NFC", "NFD", "NFKC", "NFKD"):
        assert index_terms(unicodedata.normalize(form, composed), None)[0] == \
            "ruckerstattung aero strasse"
    assert index_terms("Northwind™ № 5, ½ ﬁne Ｆｕｌｌ", None)[0] == \
        "northwind tm no 5 1 2 fine full"


def test_hyphenated_words_keep_their_parts_and_are_joined_among_the_extras() -> None:
    assert index_terms("my e-mail, WI‑FI and INV-2026-0042", None) == \
        ("my e mail wi fi and inv 2026 0042", "email wifi inv20260042")


def test_cjk_characters_and_emoji_are_words_of_their_own() -> None:
    assert index_terms("东京手机 iPhone東京 ❤️👍🏽 🇳🇱", None)[0] == \
        "东 京 手 机 iphone 東 京 ❤ 👍 🇳 🇱"
    assert query_match("东京") is not None and query_match("东京").alternatives == (("东", "京"),)


def test_stems_are_those_of_the_messages_language_once_each() -> None:
    words, extras = index_terms("Refunds, refunded and REFUNDS", "en")
    assert words == "refunds refunded and refunds"
    assert extras == "en:refund en:and"
    assert index_terms("Die Rückerstattungen", "de")[1] == "de:die de:ruckerstatt"
    assert index_terms("refunds", None)[1] == ""  # no language, no stems
    assert index_terms("refunds", "pt")[1] == ""  # nor a language without a stemmer


def test_stems_remembered_from_earlier_texts_are_the_same_stems(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A word's stem is remembered per language (most words of a mailbox recur); the
    remembered ones, and those stemmed again once the memory is full, are the same."""
    monkeypatch.setattr(analysis, "STEMS_KEPT", 3)
    texts = ["Refunds refunded", "refunded twice, 12345 and 1st", "les remboursements",
             "Refunds again", "Die Rückerstattungen", "refunding"]
    fresh = []
    for text in texts:
        analysis._local.__dict__.pop("stems", None)
        fresh.append([index_terms.__wrapped__(text, lang) for lang in ("en", "fr", "de")])
    assert [[index_terms.__wrapped__(text, lang) for lang in ("en", "fr", "de")]
             for text in texts] == fresh
    assert fresh[0][0][1] == "en:refund"  # nothing lost when "refunded" was remembered
    assert fresh[3][0][1] == "en:refund en:again"


def test_a_query_word_matches_itself_and_its_stem_per_language_never_a_plain_stem() -> None:
    match = query_match("Refunded")
    assert match is not None
    words = {a[0] for a in match.alternatives}
    assert {"refunded", "en:refund", "es:refund"} <= words
    assert "refund" not in words  # another language's word, perhaps
    assert query_match('past "due"') == query_match("past due", phrase=True)
    assert query_match("...") is None


def test_a_trailing_star_is_a_prefix_of_the_joined_word() -> None:
    match = query_match("INV-2026*")
    assert match is not None and match.prefix and match.alternatives == (("inv2026",),)


def test_forms_of_words_that_share_a_stem_meet() -> None:
    assert forms("refunds") & forms("refunding")
    assert not forms("note") & forms("nothing")
    assert forms("two words") == frozenset()


@given(st.text(max_size=300), st.sampled_from([None, "en", "nl", "fr", "de", "es", "xx"]))
def test_every_word_survives_both_stores_tokenizers_whole(text: str, lang: str | None) -> None:
    """FTS5's ascii tokenizer splits at ASCII punctuation but ':', Elasticsearch's whitespace
    tokenizer at whitespace and past 255 characters: no word may hold any of those."""
    words, extras = index_terms(text, lang)
    for token in (words + " " + extras).split(" "):
        if not token:
            continue
        assert len(token) <= MAX_TOKEN + 3
        assert not any(c.isspace() for c in token)
        assert all(c.isalnum() or c == ":" for c in token if c.isascii())
        assert token.count(":") <= 1


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=200))
def test_ascii_text_takes_a_quicker_way_to_the_same_words(text: str) -> None:
    assert _ASCII_WORDS.findall(text.lower()) == _TOKENS.findall(normal(text))


@given(st.text(alphabet=st.sampled_from("ab1-- ."), max_size=60))
def test_ascii_hyphenated_words_take_a_quicker_way_to_the_same_parts(text: str) -> None:
    runs = _ASCII_WORDS.findall(text)
    assert _pieces(text) == ([part for run in runs for part in run.split("-")],
                             [run.replace("-", "") for run in runs if "-" in run])


@given(st.text(max_size=120), st.text(max_size=60) | st.none(),
       st.sampled_from([None, "en", "fr", "xx"]))
def test_a_messages_terms_are_its_texts_words_and_their_extras_once_each(
        text: str, subject: str | None, lang: str | None) -> None:
    text_words, text_extras = index_terms(text, lang)
    subject_words, subject_extras = index_terms(subject, lang)
    both = " ".join(dict.fromkeys(f"{text_extras} {subject_extras}".split()))
    assert message_terms(text, subject, lang) == (text_words, subject_words, both)


@given(st.text(max_size=120) | st.text(alphabet=st.sampled_from("aé-\u2010 ́日"), max_size=30))
@example("\u3400-\u3400")  # a hyphen between two CJK characters joins no word
def test_a_texts_words_take_quicker_ways_to_what_a_query_reads(text: str) -> None:
    """_pieces (indexing) skips steps for ASCII and for text without hyphens or CJK: the
    same parts and joined words as _words (queries) finds the slow way."""
    words = _words(text)
    assert _pieces(text) == ([part for word in words for part in word.parts],
                             [joined for word in words if (joined := _joined(word))])
