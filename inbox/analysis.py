"""Text analysis for search: the words a message is found by, the same on every store.

Both stores index what `index_terms` returns and search what `query_match` returns; neither
analyses text itself (SQLite FTS5's `ascii` tokenizer and Elasticsearch's `whitespace`
tokenizer only split at the spaces put here), so a query finds the same messages on both,
whatever Unicode form the text or the query was written in.

The steps, in this order:
1. NFKC, then casefold: "Ｆｕｌｌ" reads "full", "ﬁ" "fi", "™" "tm", "№" "no", "½" "1⁄2",
   "Straße" "strasse"; composed and decomposed accents are one text.
2. Words: runs of letters, digits and combining marks. Each Han, kana and Hangul character
   is a word of its own (those scripts write no spaces between words: a query of several
   of them is a phrase of them). Each emoji is a word, without its variation selector,
   skin tone or joiners ("👍🏽" finds "👍").
3. Stems in the message's language (Snowball through PyStemmer), before the accents go:
   folding first would change which French and Spanish words share a stem.
4. Folding: accents removed and the letters without a decomposition folded ("ø" → "o",
   "æ" → "ae", "ł" → "l").

Besides its words in order (what phrases match), a text is indexed with extras, in a column
or array value of their own so that they never come between the words of a phrase:
- each hyphenated word joined: "e-mail" → "email", "wi-fi" → "wifi", "INV-2026-0042" →
  "inv20260042", so either spelling finds the other and an invoice number's prefix finds it;
- each word's stem in the message's language, once per message, as "lang:stem"
  ("refunded" and "refunds" in an English message → "en:refund").

A query word finds itself and every word sharing its stem in the language of its message,
for each of the five languages (the query's language is unknown): "refunded" matches
"refund", "refunds" and "refunding" in English messages, "note" matches "notes" in French
ones but never the English "not". A quoted phrase matches its words as written, in order,
unstemmed; a trailing '*' matches words starting with it.

VERSION names this analysis: the stores reindex when it changes (an index must delete a
message's words as they were added).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import regex
import Stemmer

VERSION = 1
# What else decides the words: a new stemmer or Unicode version may stem or fold differently.
ENGINE = f"pystemmer {Stemmer.version()} unicode {unicodedata.unidata_version}"
STEMMERS = {"en": "english", "nl": "dutch", "fr": "french", "de": "german", "es": "spanish"}
MAX_TOKEN = 100  # characters of a word kept (Elasticsearch's whitespace tokenizer cuts at 255)
MIN_STEMMED = 3  # shorter words are not stemmed

_CJK = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\u30fc"
_WORD_CHAR = r"[\p{L}\p{N}\p{M}\p{Co}]"
# A word (hyphenated or not) or an emoji; a word holding CJK characters is split after
_TOKENS = regex.compile(rf"{_WORD_CHAR}+(?:[-\u2010]{_WORD_CHAR}+)*"
                        r"|[\p{Extended_Pictographic}\p{Regional_Indicator}]")
_HAS_CJK = regex.compile(rf"[{_CJK}]")
_CJK_PIECES = regex.compile(rf"[{_CJK}]|[^{_CJK}]+")
# A symbol that reads as letters ("™" → "TM", "℃" → "°C") is a word apart, not glued to
# the word before it ("Northwind™" is found by "northwind").
_SYMBOL = regex.compile(r"[\p{S}\p{No}]")
_HYPHEN = regex.compile(r"[-\u2010]")
_ASCII_WORDS = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")  # _TOKENS on ASCII text
_MARKS = regex.compile(r"[\p{Mn}\p{Me}]")
_LETTER = regex.compile(r"\p{L}")
# Letters Unicode does not decompose, folded as Elasticsearch's asciifolding folds them.
_FOLD = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "ł": "l", "đ": "d",
                       "ð": "d", "þ": "th", "ı": "i", "ħ": "h"})
_local = threading.local()


def fold(word: str) -> str:
    """A casefolded word without accents; ASCII as it is."""
    if word.isascii():
        return word
    return _MARKS.sub("", unicodedata.normalize("NFKD", word)).translate(_FOLD)


@lru_cache(maxsize=1024)
def _apart(symbol: str) -> str:
    compat = unicodedata.normalize("NFKC", symbol)
    return symbol if compat == symbol else f" {compat} "


def normal(text: str) -> str:
    """NFKC, then casefolded: the form every step after reads."""
    if not text.isascii():
        text = _SYMBOL.sub(lambda m: _apart(m.group()), text)
    return unicodedata.normalize("NFKC", text).casefold()


def _stemmer(lang: str) -> Stemmer.Stemmer:
    """The language's stemmer, one per thread (a stemmer is not safe to share)."""
    found: dict[str, Stemmer.Stemmer] | None = getattr(_local, "stemmers", None)
    if found is None:
        found = _local.stemmers = {}
    if lang not in found:
        found[lang] = Stemmer.Stemmer(STEMMERS[lang])
    return found[lang]


STEMS_KEPT = 20_000  # words whose extra is remembered, per language and thread


def _stems(lang: str) -> dict[str, str]:
    """The extras ("lang:stem", or "" for none) of the words seen, one per language and
    thread: most words of a mailbox recur, and a look-up costs a tenth of stemming."""
    found: dict[str, dict[str, str]] | None = getattr(_local, "stems", None)
    if found is None:
        found = _local.stems = {}
    stems = found.get(lang)
    if stems is None or len(stems) > STEMS_KEPT:
        stems = found[lang] = {}
    return stems


def _stem_words(lang: str, words: list[str], stems: dict[str, str]) -> None:
    """Add the extras of (normal, unfolded) words to `stems`."""
    stemmable = list(filter(_stemmable, words))
    for word, stem in zip(stemmable, _stemmer(lang).stemWords(stemmable), strict=True):
        stem = stem if stem.isascii() else fold(stem)
        stems[word] = f"{lang}:{stem[:MAX_TOKEN]}" if stem else ""
    for word in words:
        stems.setdefault(word, "")


def _stemmable(word: str) -> bool:
    """Long enough, and not a number: a (normal, unfolded) word worth stemming."""
    if len(word) < MIN_STEMMED:
        return False
    return not word.isdigit() if word.isascii() else bool(_LETTER.search(word))


def _stem(lang: str, word: str) -> str | None:
    """The folded stem of a (normal, unfolded) word; None for one not stemmed."""
    if not _stemmable(word):
        return None
    return fold(_stemmer(lang).stemWord(word))[:MAX_TOKEN] or None


def _runs(text: str) -> Iterator[tuple[str, bool]]:
    """The words of a text in normal form, each with whether it is a CJK character (never
    stemmed, never joined); a hyphenated word is one run, an emoji a run of one. ASCII
    text (most mail) takes a faster way to the same words."""
    if text.isascii():
        for run in _ASCII_WORDS.findall(text.lower()):
            yield run, False
        return
    yield from _normal_runs(normal(text))


def _normal_runs(text: str) -> Iterator[tuple[str, bool]]:
    """_runs of a text in normal form."""
    cjk = _HAS_CJK.search(text) is not None
    for run in _TOKENS.findall(text):
        if not cjk or run.isascii() or not _HAS_CJK.search(run):
            yield run, False
            continue
        for piece in _CJK_PIECES.findall(run):
            yield piece, len(piece) == 1 and _HAS_CJK.match(piece) is not None


def _parts(run: str) -> list[str]:
    """A word's parts: those of a hyphenated one, or the word (none if it holds only marks)."""
    if run.isascii():
        return run.split("-") if "-" in run else [run]
    return [p for p in _HYPHEN.split(run) if fold(p)]


@dataclass(frozen=True, slots=True)
class _Word:
    parts: tuple[str, ...]  # normal, unfolded; several for a hyphenated word
    single: bool  # a CJK character or an emoji: never stemmed, never joined


def _words(text: str) -> list[_Word]:
    found = []
    for run, single in _runs(text):
        parts = (run,) if single else tuple(_parts(run))
        if parts:
            found.append(_Word(parts, single))
    return found


def _plain(part: str) -> str:
    return fold(part)[:MAX_TOKEN]


def _plain_all(parts: list[str]) -> list[str]:
    return [p[:MAX_TOKEN] if p.isascii() else fold(p)[:MAX_TOKEN] for p in parts]


def _joined(word: _Word) -> str | None:
    return "".join(word.parts) if len(word.parts) > 1 else None


def _pieces(text: str) -> tuple[list[str], list[str]]:
    """A text's words in order (normal, unfolded; a hyphenated word's parts) and its
    hyphenated words joined."""
    if text.isascii():  # most mail: the quickest way to the same
        runs = _ASCII_WORDS.findall(text.lower())
        if "-" not in text:
            return runs, []
        hyphenated = [run.replace("-", "") for run in runs if "-" in run]
        return ("-".join(runs).split("-") if hyphenated else runs), hyphenated
    text = normal(text)
    if "-" not in text and "\u2010" not in text and _HAS_CJK.search(text) is None:
        # each run a word, kept unless it is only marks (as _parts)
        return [run for run in _TOKENS.findall(text) if run.isascii() or fold(run)], []
    found: list[str] = []
    joined: list[str] = []
    for run, single in _normal_runs(text):
        if single:
            found.append(run)
            continue
        if run.isascii() and "-" not in run:  # the usual word, even in other text
            found.append(run)
            continue
        parts = _parts(run)
        found += parts
        if len(parts) > 1 and (word := "".join(parts)):  # not the "-" between CJK characters
            joined.append(word)
    return found, joined


@lru_cache(maxsize=64)  # the store asks for a text's words and extras one after the other
def index_terms(text: str | None, lang: str | None) -> tuple[str, str]:
    """(words, extras) of a text in a language ("en", ...; None or another: no stems),
    each space-separated: what the stores index. The extras: the joined hyphenated words,
    then the stems, each once, in the order they first occur."""
    if not text:
        return "", ""
    found, joined = _pieces(text)
    plain = text.isascii() and max(map(len, found), default=0) <= MAX_TOKEN
    extras = dict.fromkeys(joined if plain else _plain_all(joined))
    if lang in STEMMERS:
        stems = _stems(lang)
        unique = dict.fromkeys(found + joined) if joined else dict.fromkeys(found)
        new = [word for word in unique if word not in stems]
        if new:
            _stem_words(lang, new, stems)
        for word in unique:
            stem = stems[word]
            if stem:
                extras[stem] = None
    return " ".join(found if plain else _plain_all(found)), " ".join(extras)


@lru_cache(maxsize=2048)  # the messages of a thread share their subject ("Re: ...")
def _subject_terms(subject: str | None, lang: str | None) -> tuple[str, str]:
    """index_terms of a subject (at most 1,000 characters: some MB for 2,048 of them)."""
    return index_terms.__wrapped__(subject, lang)


def words(text: str | None, lang: str | None) -> str:
    """The words of a text, in order (phrases match them)."""
    return index_terms(text, lang)[0]


def extras(text: str | None, subject: str | None, lang: str | None) -> str:
    """The extras of a message's text and subject together."""
    return message_terms(text, subject, lang)[2]


def message_terms(text: str | None, subject: str | None, lang: str | None
                  ) -> tuple[str, str, str]:
    """What a store indexes for a message: the words of its text, those of its subject,
    and the extras of both together."""
    text_words, text_extras = index_terms(text, lang)
    subject_words, subject_extras = _subject_terms(subject, lang)
    if not subject_extras and (text or "").isascii():  # ASCII extras: each once, one space
        return text_words, subject_words, text_extras
    both = " ".join(dict.fromkeys(f"{text_extras} {subject_extras}".split()))
    return text_words, subject_words, both


@dataclass(frozen=True, slots=True)
class Match:
    """What a searched word or phrase matches: any of the alternatives, each a sequence of
    words in order (one word, or a phrase); with prefix, the last word of the one
    alternative is the start of a word."""

    alternatives: tuple[tuple[str, ...], ...]
    prefix: bool = False


def query_match(text: str, phrase: bool = False) -> Match | None:
    """A query's word (or quoted phrase) as the stores match it; None when it holds no word
    (it matches nothing). A trailing '*' makes it a prefix."""
    prefix = text.endswith("*")
    found = _words(text[:-1] if prefix else text)
    if not found:
        return None
    if phrase or len(found) > 1 or found[0].single:
        sequence = tuple(_plain(p) for w in found for p in w.parts)
        return Match((sequence,), prefix)
    word = found[0]
    whole = _joined(word) or word.parts[0]
    if prefix:
        return Match(((_plain(whole),),), prefix=True)
    alternatives = {_plain(whole): None}
    for lang in STEMMERS:
        stem = _stem(lang, whole)
        if stem is not None:
            alternatives[f"{lang}:{stem}"] = None
    return Match(tuple((a,) for a in alternatives))


@lru_cache(maxsize=4096)
def forms(word: str) -> frozenset[str]:
    """What one word is found by (itself, its stem in each language): two words with a form
    in common find each other. Empty for what is not one word."""
    match = query_match(word)
    if match is None or len(match.alternatives[0]) != 1:
        return frozenset()
    return frozenset(a[0] for a in match.alternatives)


def spans(text: str) -> Iterator[tuple[int, int]]:
    """Where the words of a text (as written, not normalised) start and end."""
    return (m.span() for m in _TOKENS.finditer(text))
