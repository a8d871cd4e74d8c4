"""Cheap offline enrichment: language (py3langid) and sentiment (VADER)."""

from __future__ import annotations

import functools
import lzma
import struct
import threading
from array import array
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

LANGUAGES = ("en", "es", "fr", "de", "it", "pt", "nl")
MIN_LANG_CONFIDENCE = 0.5
LANG_PREFIX = 2_000  # characters the language is detected on: plenty, and a bounded cost
SENTIMENT_PREFIX = 5_000  # characters VADER scores

# A ZIP local file header (the .npz members, stored uncompressed, one after the other).
_ZIP_ENTRY = struct.Struct("<4sHHHHHIIIHH")
_ZIP_STORED, _ZIP_DESCRIPTOR = 0, 0x08


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
    """py3langid's identifier for these languages, loaded once per process straight from the
    packaged model: its .npz members are read as the LZMA stream decompresses (py3langid's
    own loader writes the 68 MB of it to a temporary file first) and only these languages'
    columns of the feature weights are kept (its own keeps all 142)."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    with lzma.open(MODEL_DIR / MODEL_FILE) as src:
        model = _npz_members(src)
    classes = model["classes"].tolist()
    unknown = set(languages) - set(classes)
    if unknown:
        raise ValueError(f"unknown language codes: {sorted(unknown)}")
    keep = [i for i, c in enumerate(classes) if c in languages]
    return LanguageIdentifier(model["ptc"][:, keep], model["pc"][keep], [classes[i] for i in keep],
                              model["nextmove"], model["out_feat"].tolist(), norm_probs=True,
                              tk_row=model["nextmove_row"])


_ARRAY_MEMBERS = {"nextmove", "nextmove_row"}  # DFA tables walked per byte: stdlib arrays
_TYPECODES = {2: "H", 4: "I", 8: "Q"}
_CHUNK = 1 << 20  # bytes decompressed at a time


def _npz_members(src: IO[bytes]) -> dict[str, Any]:
    """The arrays of an uncompressed .npz read front to back from a stream (no seeking)."""
    members: dict[str, Any] = {}
    while True:
        head = src.read(_ZIP_ENTRY.size)
        if len(head) < _ZIP_ENTRY.size or head[:4] != b"PK\x03\x04":
            return members  # the central directory: every member read
        _, _, flags, method, *_, name_size, extra_size = _ZIP_ENTRY.unpack(head)
        if method != _ZIP_STORED or flags & _ZIP_DESCRIPTOR:
            raise ValueError("unsupported language model layout")
        name = src.read(name_size).decode().removesuffix(".npy")
        src.read(extra_size)
        version = np.lib.format.read_magic(src)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(src)
        if fortran or dtype.hasobject:
            raise ValueError("unsupported language model layout")
        count = int(np.prod(shape))
        if name in _ARRAY_MEMBERS:
            table = array(_TYPECODES[dtype.itemsize], [0]) * count
            _read_into(src, memoryview(table).cast("B"))
            members[name] = table
        else:
            values = np.empty(shape, dtype)
            _read_into(src, memoryview(values.reshape(-1).view(np.uint8).data))
            members[name] = values


def _read_into(src: IO[bytes], target: memoryview) -> None:
    done = 0
    while done < len(target):
        got = src.readinto(target[done:done + _CHUNK])  # type: ignore[attr-defined]
        if not got:
            raise ValueError("truncated language model")
        done += got
