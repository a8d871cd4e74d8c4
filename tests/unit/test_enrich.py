"""The language model as our loader reads it classifies as py3langid's own loader does."""

from __future__ import annotations

from datetime import UTC, datetime

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from inbox.app.demo.generator import generate
from inbox.enrich import LANGUAGES, language_identifier


def test_our_model_loader_classifies_as_py3langids_own() -> None:
    theirs = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    theirs.set_languages(LANGUAGES)
    ours = language_identifier(LANGUAGES)
    texts = [i.inbound.text for i in generate(datetime(2026, 11, 1, tzinfo=UTC), days=3,
                                              customers=100)]
    texts += ["", "ok", "¿Dónde está mi pedido?", "Wo ist meine Bestellung?", "注文"]
    assert len(texts) > 100
    assert [ours.classify(t) for t in texts] == [theirs.classify(t) for t in texts]
    assert ours.nb_classes == theirs.nb_classes
