"""Cheap offline enrichment: language and sentiment (inbox.sentiment: en, nl, fr, de, es; the
score is the label's confidence, 0.33 to 1).

The language is the channel's own where it gives one (X's `lang`), otherwise fastText's
lid.176.ftz (inbox.language_fasttext) guesses it from a text of three words or more. The
models are loaded when first used, once per process: a process that leaves enrichment to a
worker (inbox.enrich_pool) never holds them."""

from __future__ import annotations

import functools
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from inbox.sentiment import SentimentModel, sentiment_model

LANGUAGES = ("en", "es", "fr", "de", "it", "pt", "nl")
MIN_LANG_CONFIDENCE = 0.5
LANG_PREFIX = 2_000  # characters the language is detected on: plenty, and a bounded cost


@dataclass(frozen=True, slots=True)
class Enrichment:
    lang: str | None
    sentiment: str | None
    score: float | None  # the sentiment's confidence: its probability, 0.33 to 1


# Each (text, lang) of a batch enriched, or the exception it raised.
EnrichMany = Callable[[Sequence[tuple[str, str | None]]], Awaitable[list["Enrichment | Exception"]]]


class Enricher:
    """Language and sentiment for a message; models load lazily, once."""

    def __init__(self, languages: tuple[str, ...] = LANGUAGES) -> None:
        self._languages = list(languages)
        self._lock = threading.Lock()
        self._langid: Any = None
        self._sentiment: SentimentModel | None = None

    def _models(self) -> tuple[Any, SentimentModel]:
        if self._sentiment is None:
            with self._lock:
                if self._sentiment is None:
                    self._langid = language_identifier(tuple(self._languages))
                    self._sentiment = sentiment_model()
        return self._langid, self._sentiment

    def __call__(self, text: str, lang: str | None = None) -> Enrichment:
        langid, sentiment = self._models()
        if lang is None and len(text[:LANG_PREFIX].split(None, 3)) >= 3:
            guess, confidence = langid.classify(_prefix(text, LANG_PREFIX))
            lang = guess if confidence >= MIN_LANG_CONFIDENCE else None
        found = sentiment(text, lang)  # None in a language it does not read
        if found is None:
            return Enrichment(lang, None, None)
        return Enrichment(lang, found.label, found.confidence)


_NOTHING = Enrichment(None, None, None)


def no_enrichment(text: str, lang: str | None = None) -> Enrichment:
    return _NOTHING if lang is None else Enrichment(lang, None, None)


def _prefix(text: str, size: int) -> str:
    """The text's first `size` characters, cut at a space (no word cut in two)."""
    if len(text) <= size:
        return text
    cut = text[:size]
    space = cut.rfind(" ")
    return cut[:space] if space > size // 2 else cut


@functools.cache
def language_identifier(languages: tuple[str, ...] = LANGUAGES) -> Any:
    """fastText's identifier for these languages, loaded once per process
    (inbox.language_fasttext)."""
    from inbox.language_fasttext import FastTextIdentifier

    return FastTextIdentifier(languages)
