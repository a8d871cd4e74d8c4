"""Sentiment (issue 13): the customer-service phrases read right in every language, email
boilerplate never decides the label, the evaluation set scores far above chance, and the
committed weights are the ones the training script makes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.sentiment_eval import EVAL_SET, evaluate, read_labelled, sample_per_language
from bench.train_sentiment import CHAR_NGRAMS, TRAIN_SET, C, train
from inbox.enrich import Enricher
from inbox.sentiment import MODEL_PATH, SentimentModel, sentiment_model
from inbox.sentiment_text import customer_words, features

NEGATIVE = [
    ("en", "@NorthwindMobile still waiting for the engineer, day 5"),
    ("en", "great, another outage 🙃"),
    ("nl", "Ik wacht nog steeds op mijn terugbetaling"),
    ("nl", "Top hoor, wéér storing"),
    ("fr", "J'attends toujours mon remboursement, aucune réponse depuis deux semaines"),
    ("de", "Ich warte immer noch auf den Techniker"),
    ("de", "Super, mal wieder kein Internet"),
    ("es", "Sigo esperando el reembolso, nadie me contesta"),
    ("es", "Genial, otra vez sin fibra"),
]
POSITIVE = [
    ("en", "thanks, fixed now!"),
    ("nl", "Bedankt, het werkt weer!"),
    ("fr", "Merci, c'est réglé !"),
    ("de", "Danke, funktioniert wieder!"),
    ("es", "¡Gracias, ya funciona!"),
]
NEGATED_NEGATIVE = [
    ("en", "not bad at all, the new router is quick"),
    ("nl", "Niet slecht, echt niet slecht"),
    ("fr", "Pas mal du tout, le service"),
    ("de", "Nicht schlecht, ich kann mich nicht beschweren"),
    ("es", "No está nada mal el nuevo servicio"),
]
POLITE_COMPLAINTS = [
    ("en", "Dear team,\n\nI was charged twice for my October bill and nobody has replied to my "
           "two emails about it. Could you please refund the second payment?\n\n"
           "Kind regards,\nMartha Lee"),
    ("fr", "Bonjour,\n\nJ'ai été prélevé deux fois ce mois-ci et personne ne répond à mes "
           "mails.\n\nCordialement,\nMarc Dupuis"),
    ("de", "Sehr geehrte Damen und Herren,\n\nSie haben mir den Monat doppelt abgebucht und auf "
           "meine Mails kommt keine Antwort.\n\nMit freundlichen Grüßen\nKlaus Berg"),
]


@pytest.mark.parametrize(("lang", "text"), NEGATIVE + POLITE_COMPLAINTS)
def test_complaints_still_waiting_and_sarcasm_are_negative(lang: str, text: str) -> None:
    found = sentiment_model()(text, lang)
    assert found is not None and found.label == "negative"


@pytest.mark.parametrize(("lang", "text"), POSITIVE)
def test_thanks_for_a_fix_is_positive(lang: str, text: str) -> None:
    found = sentiment_model()(text, lang)
    assert found is not None and found.label == "positive"


@pytest.mark.parametrize(("lang", "text"), NEGATED_NEGATIVE)
def test_a_negated_complaint_is_not_negative(lang: str, text: str) -> None:
    found = sentiment_model()(text, lang)
    assert found is not None and found.label != "negative"


def test_a_question_mentioning_a_refund_is_neutral() -> None:
    found = sentiment_model()("How long does a refund usually take?", "en")
    assert found is not None and found.label == "neutral"


def test_greeting_sign_off_and_thanks_in_advance_are_not_scored() -> None:
    email = ("Hello,\n\nMy router is still not working. Thanks in advance for your help.\n\n"
             "Kind regards,\nMartha Lee\n\n> On Monday you wrote: we are sorry")
    assert customer_words(email) == "My router is still not working."
    assert customer_words("Hola, no tengo señal. Saludos, Ana") == "no tengo señal."
    assert customer_words("Hi,\n\nthe bill is wrong.\n\nThanks,\nIona") == "the bill is wrong."
    assert customer_words("Fixed now. Thank you.") == "Fixed now. Thank you."  # not a sign-off


def test_phrases_are_found_in_each_language_and_negated_when_they_are() -> None:
    assert "p:still_waiting" in features("ik wacht nog steeds", "nl")
    assert "p:charged_twice" in features("Zweimal abgebucht!", "de")
    assert "p:no_reply" in features("personne ne répond", "fr")
    assert "p:resolved" in features("ya está solucionado", "es")
    assert "p:NOT_resolved" in features("immer noch nicht behoben", "de")
    # French "n'" announces a negation, it does not negate "toujours pas"
    assert "p:still_waiting" in features("je n'ai toujours pas de réseau", "fr")


def test_the_languages_read_and_the_unknown_one() -> None:
    model = sentiment_model()
    unknown = model("??", None)
    assert unknown is not None and unknown.label == "negative"  # all-languages model
    assert model("Ancora nessuna risposta", "it") is None  # a language it does not read
    assert model("   ", "en") is None
    found = model("thanks, fixed now!", "und")
    assert found is not None and 0.333 <= found.confidence <= 1


def test_spanish_french_and_german_messages_get_a_sentiment_on_ingest() -> None:
    enrich = Enricher()
    for text in ("Hola, sigo sin internet desde el lunes y nadie me llama",
                 "Bonjour, je n'ai plus de réseau depuis hier soir et personne ne répond",
                 "Ich warte immer noch auf meine Erstattung, keine Antwort seit Wochen"):
        assert enrich(text).sentiment == "negative"


HOSTILE = ["!" * 100_000, "a " * 50_000, "\\n" * 20_000, "On " + "x" * 5_000 + " wrote:",
           "🙃" * 50_000, "Hello. " + "Regards, " * 500 + "Bob", "\x00\x1b[31m" * 1_000,
           "1.2.3." * 20_000, "not " * 10_000, "\ud800abc"]


@given(st.one_of(st.text(max_size=3_000), st.sampled_from(HOSTILE)),
       st.sampled_from([None, "en", "nl", "fr", "de", "es", "it", "und", "xx-🙃"]))
def test_any_text_gets_a_label_or_none_never_an_error(text: str, lang: str | None) -> None:
    found = sentiment_model()(text, lang)
    assert found is None or (found.label in ("negative", "neutral", "positive")
                             and 0.333 <= found.confidence <= 1)


def test_the_evaluation_set_scores_far_above_chance() -> None:
    rows = sample_per_language(read_labelled(EVAL_SET), 40)
    result = evaluate(rows).by_lang
    assert result["all"].n == 200
    assert result["all"].macro_f1 >= 0.6  # target 0.75 on the whole set; chance is 0.33
    assert all(result[lang].macro_f1 >= 0.45 for lang in ("en", "nl", "fr", "de", "es"))


def test_the_committed_weights_are_what_the_training_script_makes() -> None:
    made = train(read_labelled(TRAIN_SET), C, CHAR_NGRAMS)
    committed = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert made == committed, "run `python -m bench.train_sentiment` and commit the weights"


def test_a_model_file_of_another_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        SentimentModel({"format": 0})
