"""Customer acknowledgements and "still working on it" updates: their templates, pure.

An acknowledgement tells a customer who opened a conversation that we have it and when to
expect an answer; an update, sent once when the response deadline nears, that we are still
on it. Each is a template per kind, channel and language, written with the variables of
canned replies (inbox.canned) plus {business_hours}; the defaults below are used until a
manager saves their own. The expected answer time is the conversation's live deadline
(`due_at`) in the team's time zone, in the customer's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from babel.dates import format_datetime

from inbox import canned
from inbox.sla import SlaPolicy

Kind = Literal["ack", "update", "csat"]
KINDS: tuple[Kind, ...] = get_args(Kind)
KIND_NAMES: Mapping[str, str] = {"ack": "Acknowledgement", "update": "Still working on it",
                                 "csat": "Satisfaction survey"}
CHANNELS = ("email", "x", "webform")  # webform: the thank-you page and the update mail
LANGS = ("en", "nl", "fr", "de", "es")
LANG_NAMES: Mapping[str, str] = {"en": "English", "nl": "Nederlands", "fr": "Français",
                                 "de": "Deutsch", "es": "Español"}
VARIABLES = (*canned.VARIABLES, "business_hours", "survey_link")  # the link: surveys only
MAX_TEMPLATE = 5000  # characters of a template

# the deadline as each language writes it (babel patterns), the words around it
_WHEN: Mapping[str, tuple[str, str, str]] = {  # lang -> (pattern, before, no deadline)
    "en": ("EEEE d MMMM, HH:mm", "by", "soon"),
    "nl": ("EEEE d MMMM, HH:mm", "uiterlijk", "zo snel mogelijk"),
    "fr": ("EEEE d MMMM 'à' HH:mm", "d'ici", "dès que possible"),
    "de": ("EEEE, d. MMMM, HH:mm 'Uhr'", "bis", "so bald wie möglich"),
    "es": ("EEEE d 'de' MMMM, HH:mm", "antes del", "lo antes posible"),
}
_ROUND_THE_CLOCK: Mapping[str, str] = {
    "en": "round the clock", "nl": "dag en nacht", "fr": "24 h/24, 7 j/7",
    "de": "rund um die Uhr", "es": "las 24 horas, todos los días"}

_EMAIL = {
    "en": "Hello {customer_first_name},\n\nThank you for your message: this automatic reply "
          "confirms that we have it. Our team will answer {expected_answer_time}. "
          "Our opening hours: {business_hours}.\n\nYour reference is {reference}; keep it in "
          "the subject if you write again about this.\n\nThe support team",
    "nl": "Hallo {customer_first_name},\n\nBedankt voor uw bericht: dit automatische antwoord "
          "bevestigt dat we het hebben ontvangen. Ons team antwoordt {expected_answer_time}. "
          "Onze openingstijden: {business_hours}.\n\nUw referentie is {reference}; laat die in "
          "het onderwerp staan als u hierover opnieuw schrijft.\n\nHet supportteam",
    "fr": "Bonjour {customer_first_name},\n\nMerci pour votre message : cette réponse "
          "automatique confirme que nous l'avons bien reçu. Notre équipe vous répondra "
          "{expected_answer_time}. Nos horaires : {business_hours}.\n\nVotre référence est "
          "{reference} ; gardez-la dans l'objet si vous nous écrivez à nouveau à ce "
          "sujet.\n\nL'équipe support",
    "de": "Hallo {customer_first_name},\n\nvielen Dank für Ihre Nachricht: Diese automatische "
          "Antwort bestätigt, dass sie bei uns angekommen ist. Unser Team antwortet "
          "{expected_answer_time}. Unsere Öffnungszeiten: {business_hours}.\n\nIhre Referenz ist "
          "{reference}; lassen Sie sie im Betreff, wenn Sie uns dazu erneut schreiben.\n\n"
          "Ihr Support-Team",
    "es": "Hola {customer_first_name}:\n\nGracias por su mensaje: esta respuesta automática "
          "confirma que lo hemos recibido. Nuestro equipo le responderá "
          "{expected_answer_time}. Nuestro horario: {business_hours}.\n\nSu referencia es "
          "{reference}; manténgala en el asunto si nos vuelve a escribir sobre esto.\n\n"
          "El equipo de soporte",
}
_SHORT = {
    "en": "Thank you, we have your message. You can expect an answer "
          "{expected_answer_time}. Opening hours: {business_hours}. Reference {reference}.",
    "nl": "Bedankt, we hebben uw bericht ontvangen. U krijgt antwoord "
          "{expected_answer_time}. Openingstijden: {business_hours}. Referentie {reference}.",
    "fr": "Merci, nous avons bien reçu votre message. Vous aurez une réponse "
          "{expected_answer_time}. Horaires : {business_hours}. Référence {reference}.",
    "de": "Danke, wir haben Ihre Nachricht erhalten. Sie bekommen eine Antwort "
          "{expected_answer_time}. Öffnungszeiten: {business_hours}. Referenz {reference}.",
    "es": "Gracias, hemos recibido su mensaje. Recibirá una respuesta "
          "{expected_answer_time}. Horario: {business_hours}. Referencia {reference}.",
}
_UPDATE_EMAIL = {
    "en": "Hello {customer_first_name},\n\nWe are still working on your message "
          "({reference}) and have not forgotten you. You can expect our answer "
          "{expected_answer_time}.\n\nThe support team",
    "nl": "Hallo {customer_first_name},\n\nWe werken nog aan uw bericht ({reference}) en "
          "zijn u niet vergeten. U krijgt ons antwoord {expected_answer_time}.\n\n"
          "Het supportteam",
    "fr": "Bonjour {customer_first_name},\n\nNous travaillons toujours sur votre message "
          "({reference}) et ne vous oublions pas. Vous aurez notre réponse "
          "{expected_answer_time}.\n\nL'équipe support",
    "de": "Hallo {customer_first_name},\n\nwir arbeiten noch an Ihrer Nachricht "
          "({reference}) und haben Sie nicht vergessen. Sie bekommen unsere Antwort "
          "{expected_answer_time}.\n\nIhr Support-Team",
    "es": "Hola {customer_first_name}:\n\nSeguimos trabajando en su mensaje ({reference}) "
          "y no nos olvidamos de usted. Recibirá nuestra respuesta "
          "{expected_answer_time}.\n\nEl equipo de soporte",
}
_UPDATE_SHORT = {
    "en": "We are still working on your message ({reference}). You can expect our answer "
          "{expected_answer_time}.",
    "nl": "We werken nog aan uw bericht ({reference}). U krijgt ons antwoord "
          "{expected_answer_time}.",
    "fr": "Nous travaillons toujours sur votre message ({reference}). Vous aurez notre "
          "réponse {expected_answer_time}.",
    "de": "Wir arbeiten noch an Ihrer Nachricht ({reference}). Sie bekommen unsere Antwort "
          "{expected_answer_time}.",
    "es": "Seguimos trabajando en su mensaje ({reference}). Recibirá nuestra respuesta "
          "{expected_answer_time}.",
}

_CSAT_EMAIL = {
    "en": "Hello {customer_first_name},\n\nWe have resolved your conversation {reference}. "
          "How satisfied are you with our help? One click answers (1 = very unsatisfied, "
          "5 = very satisfied):\n\n{survey_link}\n\nThank you,\nThe support team",
    "nl": "Hallo {customer_first_name},\n\nWe hebben uw vraag {reference} afgehandeld. Hoe "
          "tevreden bent u over onze hulp? Eén klik is genoeg (1 = zeer ontevreden, 5 = zeer "
          "tevreden):\n\n{survey_link}\n\nDank u,\nHet supportteam",
    "fr": "Bonjour {customer_first_name},\n\nNous avons résolu votre demande {reference}. "
          "Êtes-vous satisfait de notre aide ? Un clic suffit (1 = très insatisfait, "
          "5 = très satisfait) :\n\n{survey_link}\n\nMerci,\nL'équipe support",
    "de": "Hallo {customer_first_name},\n\nwir haben Ihr Anliegen {reference} erledigt. Wie "
          "zufrieden sind Sie mit unserer Hilfe? Ein Klick genügt (1 = sehr unzufrieden, "
          "5 = sehr zufrieden):\n\n{survey_link}\n\nDanke,\nIhr Support-Team",
    "es": "Hola {customer_first_name}:\n\nHemos resuelto su consulta {reference}. ¿Está "
          "satisfecho con nuestra ayuda? Basta un clic (1 = muy insatisfecho, 5 = muy "
          "satisfecho):\n\n{survey_link}\n\nGracias,\nEl equipo de soporte",
}
_CSAT_SHORT = {
    "en": "We resolved {reference}. How satisfied are you, 1 to 5? {survey_link}",
    "nl": "We hebben {reference} afgehandeld. Hoe tevreden bent u, 1 tot 5? {survey_link}",
    "fr": "Nous avons résolu {reference}. Êtes-vous satisfait, de 1 à 5 ? {survey_link}",
    "de": "Wir haben {reference} erledigt. Wie zufrieden sind Sie, 1 bis 5? {survey_link}",
    "es": "Hemos resuelto {reference}. ¿Está satisfecho, de 1 a 5? {survey_link}",
}


def default_template(kind: str, channel: str, lang: str) -> str:
    """The text used until a manager saves one: a mail for email (and a web form's update
    and survey, which go by mail), a short text for X DMs and the web form's thank-you
    page."""
    lang = lang if lang in LANGS else "en"
    if kind == "csat":
        return (_CSAT_SHORT if channel == "x" else _CSAT_EMAIL)[lang]
    if kind == "update":
        return (_UPDATE_SHORT if channel == "x" else _UPDATE_EMAIL)[lang]
    return (_EMAIL if channel == "email" else _SHORT)[lang]


def template_key(kind: str, channel: str, lang: str) -> str:
    """The key of a saved template ("ack/email/nl")."""
    return f"{kind}/{channel}/{lang}"


def language(*detected: str | None) -> str:
    """The first detected language there is a template for; English otherwise."""
    for lang in detected:
        short = (lang or "").lower().replace("_", "-").split("-")[0]
        if short in LANGS:
            return short
    return "en"


def answer_time(due_at: datetime | None, policy: SlaPolicy, now: datetime,
                lang: str) -> str:
    """The deadline in the team's zone in the customer's language ("by Monday 30 November,
    14:05 GMT", "uiterlijk maandag 30 november, 14:05 CET"); "soon" when none is running."""
    pattern, before, none = _WHEN.get(lang, _WHEN["en"])
    if due_at is None or due_at <= now:
        return none
    local = due_at.astimezone(policy.calendar.zone)
    return f"{before} {format_datetime(local, pattern, locale=lang)} {local:%Z}".strip()


def business_hours(policy: SlaPolicy, channel: str, lang: str) -> str:
    """When the channel's clock runs: the calendar's opening hours, or round the clock."""
    target = policy.targets.get(channel)
    if target is not None and not target.business_hours:
        return _ROUND_THE_CLOCK.get(lang, _ROUND_THE_CLOCK["en"])
    return policy.calendar.describe()


@dataclass(frozen=True, slots=True)
class AckFacts:
    """What a template is filled with, for one conversation."""

    channel: str
    lang: str
    customer_name: str | None
    due_at: datetime | None
    reference: int | str | None  # "10482" ("#10482" to read)
    now: datetime
    survey_link: str = ""  # a satisfaction survey's link (inbox.usecases.csat)


def values(facts: AckFacts, policy: SlaPolicy) -> dict[str, str]:
    """Every variable's text (the canned replies' ones, localized, and business_hours)."""
    filled = canned.values(canned.Facts(facts.customer_name, None, facts.due_at, None,
                                        policy.calendar.zone, facts.now))
    filled["reference"] = f"#{facts.reference}" if facts.reference else ""
    filled["expected_answer_time"] = answer_time(facts.due_at, policy, facts.now, facts.lang)
    filled["business_hours"] = business_hours(policy, facts.channel, facts.lang)
    filled["survey_link"] = facts.survey_link
    return filled


def render(text: str, facts: AckFacts, policy: SlaPolicy) -> str:
    """The template filled in for these facts (unknown {variables} stay as typed)."""
    return canned.render(text, values(facts, policy))
