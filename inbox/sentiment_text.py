"""What the sentiment model reads of a message: the customer's own words (greetings, sign-offs,
quoted text and "thanks in advance" cut), normalised, and the features of them: words and word
pairs (negated ones marked `NOT_`), customer-service phrases, the shape (ALL CAPS, "??") and,
optionally, character n-grams. Pure functions, shared by the model (inbox.sentiment) and its
training script (bench/train_sentiment.py)."""

from __future__ import annotations

import functools
import re
import unicodedata

from inbox.sentiment_phrases import (
    CONTRAST,
    GREETING,
    IN_ADVANCE,
    NEGATED_SUFFIX,
    NEGATORS,
    PHRASES,
    SENTIMENT_LANGUAGES,
    SIGN_OFF,
    THANKS_SIGN_OFF,
)

RAW_PREFIX = 4_000  # characters read of a message
PREFIX = 1_000  # characters of the customer's own words scored
NEGATION_SCOPE = 3  # words after a negator marked negated

_QUOTE_HEADER = re.compile(r"^(on|le|am|el|op|il) .{4,200}(wrote|a écrit|schrieb|escribió|"
                           r"schreef|ha scritto):$", re.I)
_GREETING_LINE = re.compile(rf"^({GREETING})\b[^.?]{{0,40}}$", re.I)
_GREETING_LEAD = re.compile(rf"^({GREETING})\b[^,!:.?\n]{{0,30}}[,!:]\s*", re.I)
_SIGN_OFF_LINE = re.compile(rf"^({SIGN_OFF})\b[\s,.!]*(\w[\w.' -]{{0,40}})?$", re.I)
_THANKS_LINE = re.compile(rf"^({THANKS_SIGN_OFF})(\s*[,!]|$)", re.I)
_TRAILING_SIGN_OFF = re.compile(
    rf"(?<=[.!?])\s*(({SIGN_OFF})\b[\s,.!]*|({THANKS_SIGN_OFF})\s*,\s*)"
    rf"(\w[\w.'-]*( \w[\w.'-]*){{0,2}})?\s*$", re.I)
_IN_ADVANCE = re.compile(rf"\b({IN_ADVANCE})\b[^.!?\n]{{0,40}}[\s,.!]*", re.I)

_URL = re.compile(r"(?:https?://|www\.)\S+")
_HANDLE = re.compile(r"@\w+")
_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*(?:st|nd|rd|th|ème|e|de|ste|ª|º)?(?!\w)")
_TOKEN = re.compile(r"_(?:url|user|num)\b|[^\W\d_]+(?:['’][^\W\d_]+)*|[.,;:!?¿¡…]|[^\w\s]")
_ELISION = re.compile(r"^(?:l|d|j|n|m|t|s|c|qu|jusqu|lorsqu|puisqu)['’](?=\w)")
_ENDS_SCOPE = frozenset(".,;:!?¿¡…")
_KEPT_MARKS = frozenset("!?")
# French "ne" (n') only announces the negation ("je n'ai toujours pas"): not one itself
# before a phrase.
_PARTICLES = frozenset({"ne", "n"})
_WINDOW = 20  # characters before a phrase searched for a negator


def customer_words(text: str) -> str:
    """The customer's own words: no quoted lines, greeting, sign-off, signature or
    "thanks in advance"; the first PREFIX characters of them."""
    lines: list[str] = []
    for raw in text[:RAW_PREFIX].replace("\r\n", "\n").replace("\\n", "\n").split("\n"):
        line = raw.strip()
        if raw.rstrip() == "--" or _QUOTE_HEADER.match(line):
            break
        if line and not line.startswith(">"):
            lines.append(line)
    if not lines:
        return ""
    if len(lines) > 1 and _GREETING_LINE.match(lines[0]):
        lines.pop(0)
    else:
        lines[0] = _GREETING_LEAD.sub("", lines[0], count=1)
    for i in range(1, len(lines)):
        if len(lines) - i <= 3 and (_SIGN_OFF_LINE.match(lines[i])
                                    or _THANKS_LINE.match(lines[i])):
            del lines[i:]
            break
    words = "\n".join(lines)
    words = _TRAILING_SIGN_OFF.sub("", words, count=1)
    return _IN_ADVANCE.sub("", words)[:PREFIX].strip()


def normalise(text: str) -> str:
    """NFKC, casefolded; links, @handles and numbers replaced by `_url`, `_user`, `_num`."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("’", "'")
    text = _URL.sub(" _url ", text)
    text = _HANDLE.sub(" _user ", text)
    return _NUMBER.sub(" _num ", text)


def tokens(norm: str) -> list[str]:
    """Words, placeholders, emoji and punctuation of normalised text (French elisions split)."""
    out: list[str] = []
    for tok in _TOKEN.findall(norm):
        if tok[0].isalpha():
            elided = _ELISION.match(tok)
            if elided:
                out.append(elided.group()[:-1])
                tok = tok[elided.end():]
            out.append(tok)
        elif tok[0] == "_" or tok in _ENDS_SCOPE or unicodedata.category(tok) == "So":
            out.append(tok)
    return out


@functools.cache
def _lexicon(langs: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str],
                                                 tuple[tuple[str, re.Pattern[str]], ...]]:
    negators = frozenset().union(*(NEGATORS[lang] for lang in langs))
    contrast = frozenset().union(*(CONTRAST[lang] for lang in langs))
    phrases = tuple((concept, re.compile("|".join(f"(?:{by_lang[lang]})" for lang in langs),
                                         re.M))
                    for concept, by_lang in PHRASES.items())
    return negators, contrast, phrases


def languages_for(lang: str | None) -> tuple[str, ...]:
    """The phrase lists used: the message's language's, or every language's."""
    return (lang,) if lang in SENTIMENT_LANGUAGES else SENTIMENT_LANGUAGES


def features(text: str, lang: str | None, char_ngrams: bool = False) -> set[str]:
    """The features of a message in `lang` (None: unknown, every language's phrases)."""
    words = customer_words(text)
    norm = normalise(words)
    negators, contrast, phrases = _lexicon(languages_for(lang))
    found = _shape(words)
    marked: list[str] = []
    scope = 0
    for tok in tokens(norm):
        if tok in _ENDS_SCOPE or tok in contrast:
            scope = 0
            if tok in _KEPT_MARKS or tok in contrast:
                marked.append(tok)
        elif tok in negators or tok.endswith(NEGATED_SUFFIX):
            marked.append(tok)
            scope = NEGATION_SCOPE
        else:
            marked.append("NOT_" + tok if scope else tok)
            scope = max(0, scope - 1)
    found.update("w:" + tok for tok in marked)
    found.update(f"b:{a} {b}" for a, b in zip(marked, marked[1:], strict=False))
    for concept, pattern in phrases:
        match = pattern.search(norm)
        if match:
            before = tokens(norm[max(0, match.start() - _WINDOW):match.start()])
            negated = any((t in negators and t not in _PARTICLES) or t.endswith(NEGATED_SUFFIX)
                          for t in before[-2:])
            found.add(f"p:{'NOT_' if negated else ''}{concept}")
    if lang in SENTIMENT_LANGUAGES:
        found.add("l:" + lang)
    if char_ngrams:
        found.update(_char_ngrams(marked))
    return found


def _shape(words: str) -> set[str]:
    upper, lower = sum(map(str.isupper, words)), sum(map(str.islower, words))
    shape: set[str] = set()
    if upper >= 8 and upper >= 0.7 * (upper + lower):
        shape.add("s:caps")
    if "!!" in words:
        shape.add("s:!!")
    if "??" in words or "?!" in words:
        shape.add("s:??")
    if words.rstrip().endswith("?"):
        shape.add("s:ends?")
    if not upper + lower:
        shape.add("s:noletters")
    return shape


def _char_ngrams(marked: list[str]) -> set[str]:
    grams: set[str] = set()
    for tok in marked:
        if tok[0].isalpha() and len(tok) > 3:
            padded = f" {tok} "
            for n in (4, 5):
                grams.update("c:" + padded[i:i + n] for i in range(len(padded) - n + 1))
    return grams
