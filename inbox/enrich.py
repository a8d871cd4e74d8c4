"""Cheap offline enrichment: language (py3langid) and sentiment (VADER).

The models (and numpy) are imported when first used: a process that leaves enrichment to
a worker (inbox.enrich_pool) never holds them."""

from __future__ import annotations

import functools
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

LANGUAGES = ("en", "es", "fr", "de", "it", "pt", "nl")
MIN_LANG_CONFIDENCE = 0.5
LANG_PREFIX = 2_000  # characters the language is detected on: plenty, and a bounded cost
SENTIMENT_PREFIX = 5_000  # characters VADER scores


@dataclass(frozen=True, slots=True)
class Enrichment:
    lang: str | None
    sentiment: str | None
    score: float | None


# Each (text, lang) of a batch enriched, or the exception it raised.
EnrichMany = Callable[[Sequence[tuple[str, str | None]]], Awaitable[list["Enrichment | Exception"]]]


class Enricher:
    """Language and sentiment for a message; models load lazily, once."""

    def __init__(self, languages: tuple[str, ...] = LANGUAGES) -> None:
        self._languages = list(languages)
        self._lock = threading.Lock()
        self._langid: Any = None
        self._vader: Any = None

    def _models(self) -> tuple[Any, Any]:
        if self._langid is None:
            with self._lock:
                if self._langid is None:
                    self._vader = _vader()
                    self._langid = language_identifier(tuple(self._languages))
        return self._langid, self._vader

    def __call__(self, text: str, lang: str | None = None) -> Enrichment:
        langid, vader = self._models()
        if lang is None and len(text[:LANG_PREFIX].split(None, 3)) >= 3:
            guess, confidence = langid.classify(_prefix(text, LANG_PREFIX))
            lang = guess if confidence >= MIN_LANG_CONFIDENCE else None
        if lang not in (None, "en") or not text.strip():
            return Enrichment(lang, None, None)  # VADER's lexicon is English
        score = float(vader.polarity_scores(text[:SENTIMENT_PREFIX])["compound"])
        label = "positive" if score >= 0.05 else "negative" if score <= -0.05 else "neutral"
        return Enrichment(lang, label, round(score, 4))


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
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@functools.cache
def language_identifier(languages: tuple[str, ...] = LANGUAGES) -> Any:
    """py3langid's identifier for these languages, loaded once per process
    (inbox.language_model)."""
    from inbox.language_model import load_identifier

    return load_identifier(languages)
