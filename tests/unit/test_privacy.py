"""Contacts hidden from who may not see them: addresses and numbers, nothing else."""

from __future__ import annotations

import pytest

from inbox.privacy import EMAIL_HIDDEN, PHONE_HIDDEN, redact, redact_message
from tests.factories import at, message


@pytest.mark.parametrize(("text", "shown"), [
    ("write ann.b+tag@example.co.uk please", f"write {EMAIL_HIDDEN} please"),
    ("Ann <ann@example.com>", f"Ann <{EMAIL_HIDDEN}>"),
    ("jörg@bücher.de, o'brien@x.ie", f"{EMAIL_HIDDEN}, {EMAIL_HIDDEN}"),
    ("call +44 20 7946 0000 now", f"call {PHONE_HIDDEN} now"),
    ("or (212) 555-0134", f"or {PHONE_HIDDEN}"),
    ("+1-212-555-0134; ann@example.com", f"{PHONE_HIDDEN}; {EMAIL_HIDDEN}"),
])
def test_addresses_and_numbers_are_hidden(text: str, shown: str) -> None:
    assert redact(text) == shown


@pytest.mark.parametrize("text", [
    "my bill is 12 euros too high", "order 12345 of 2026-11-01 at 10:30", "@northwind rocks",
    "mail me at home", "user@localhost", "", "a" * 50_000, "1" * 50_000])
def test_other_text_is_kept(text: str) -> None:
    assert redact(text) == text


def test_a_region_finds_numbers_written_without_country_code() -> None:
    assert redact("ring 020 7946 0000", "GB") == f"ring {PHONE_HIDDEN}"


def test_a_message_keeps_its_words_and_loses_its_contacts() -> None:
    m = message("<a@mail.example.com>", "v1", "c1", "refund to ann@example.com", at(2),
                subject="from +44 20 7946 0000", author_label="Ann <ann@example.com>",
                author_keys=("ann@example.com",), html="<p>ann@example.com</p>",
                quoted="> bob@example.com wrote", meta={"kind": "dm", "headers": "x"})
    shown = redact_message(m)
    assert shown.text == f"refund to {EMAIL_HIDDEN}"
    assert shown.subject == f"from {PHONE_HIDDEN}"
    assert shown.author_label == f"Ann <{EMAIL_HIDDEN}>"
    assert shown.quoted == f"> {EMAIL_HIDDEN} wrote"
    assert shown.author_keys == () and shown.html is None and shown.meta == {"kind": "dm"}
    assert "example.com" not in shown.external_id
    assert (shown.id, shown.customer_id, shown.created_at) == (m.id, m.customer_id, m.created_at)
