"""Acknowledgement templates: every default fills in completely in every language, the
expected time is the live deadline in the team's zone and the customer's language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.email_parse import parse_email
from inbox import acks
from inbox.sla import Calendar, SlaPolicy

POLICY = SlaPolicy(Calendar("Europe/Amsterdam"))
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # a Monday
DUE = datetime(2026, 12, 1, 13, 5, tzinfo=UTC)  # Tuesday, 14:05 in Amsterdam


@pytest.mark.parametrize("lang", acks.LANGS)
@pytest.mark.parametrize("channel", acks.CHANNELS)
@pytest.mark.parametrize("kind", acks.KINDS)
def test_every_default_fills_in_completely(kind: str, channel: str, lang: str) -> None:
    facts = acks.AckFacts(channel, lang, "Ann Lee", DUE, 10482, NOW, "https://x.test/csat/t")
    text = acks.render(acks.default_template(kind, channel, lang), facts, POLICY)
    assert "{" not in text and "#10482" in text
    assert ("https://x.test/csat/t" in text) if kind == "csat" else ("14:05" in text)


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", "by Tuesday 1 December, 14:05 CET"),
    ("nl", "uiterlijk dinsdag 1 december, 14:05 CET"),
    ("fr", "d'ici mardi 1 décembre à 14:05 CET"),
    ("de", "bis Dienstag, 1. Dezember, 14:05 Uhr CET"),
    ("es", "antes del martes 1 de diciembre, 14:05 CET"),
])
def test_the_expected_time_reads_in_the_customers_language(lang: str, expected: str) -> None:
    assert acks.answer_time(DUE, POLICY, NOW, lang) == expected


def test_no_running_deadline_reads_soon() -> None:
    assert acks.answer_time(None, POLICY, NOW, "en") == "soon"
    assert acks.answer_time(NOW - timedelta(minutes=1), POLICY, NOW, "nl") == "zo snel mogelijk"


def test_business_hours_are_explained_and_round_the_clock_channels_say_so() -> None:
    assert acks.business_hours(POLICY, "email", "en") == POLICY.calendar.describe()
    assert "Mon-Fri 09:00-17:00" in acks.business_hours(POLICY, "email", "en")
    assert acks.business_hours(POLICY, "x", "de") == "rund um die Uhr"


def test_the_detected_language_picks_the_template_else_english() -> None:
    assert acks.language("nl-BE") == "nl" and acks.language(None, "fr") == "fr"
    assert acks.language("pt", None) == "en" and acks.language() == "en"


@pytest.mark.parametrize(("header", "subject", "quiet"), [
    ("X-Auto-Response-Suppress: OOF, AutoReply", "Hello", True),
    ("X-Mailer: Outlook", "Automatic reply: your invoice", True),
    ("X-Mailer: Outlook", "Abwesenheitsnotiz: Rechnung", True),
    ("X-Mailer: Outlook", "Out of office printers are broken", False),  # a person wrote it
])
def test_mail_asking_for_no_auto_reply_is_marked(header: str, subject: str,
                                                  quiet: bool) -> None:
    raw = (f"From: Ann <ann@example.com>\r\nTo: support@example.test\r\nSubject: {subject}\r\n"
           f"Message-ID: <q1@example.com>\r\n{header}\r\n\r\nHi\r\n").encode()
    parsed = parse_email(raw)
    assert bool(parsed.meta.get("no_auto_reply")) is quiet and not parsed.automated
