"""Cheap offline enrichment: language (py3langid) and sentiment (VADER)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

LANGUAGES = ("en", "es", "fr", "de", "it", "pt", "nl")
MIN_LANG_CONFIDENCE = 0.5


@dataclass(frozen=True, slots=True)
class Enrichment:
    lang: str | None
    sentiment: str | None
    score: float | None


class Enricher:
    """Language and sentiment for a message; models load lazily, once."""

    def __init__(self, languages: tuple[str, ...] = LANGUAGES) -> None:
        self._languages = list(languages)
        self._lock = threading.Lock()
        self._langid: Any = None
        self._vader: Any = None

    def _models(self) -> tuple[Any, Any]:
        with self._lock:
            if self._langid is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                ident.set_languages(self._languages)
                self._vader = SentimentIntensityAnalyzer()
                self._langid = ident
        return self._langid, self._vader

    def __call__(self, text: str, lang: str | None = None) -> Enrichment:
        langid, vader = self._models()
        if lang is None and len(text.split()) >= 3:
            guess, confidence = langid.classify(text)
            lang = guess if confidence >= MIN_LANG_CONFIDENCE else None
        if lang not in (None, "en") or not text.strip():
            return Enrichment(lang, None, None)  # VADER's lexicon is English
        score = float(vader.polarity_scores(text[:5000])["compound"])
        label = "positive" if score >= 0.05 else "negative" if score <= -0.05 else "neutral"
        return Enrichment(lang, label, round(score, 4))


def no_enrichment(text: str, lang: str | None = None) -> Enrichment:
    return Enrichment(lang, None, None)
