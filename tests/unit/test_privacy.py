"""Contacts hidden from who may not see them: addresses and numbers, nothing else."""

from __future__ import annotations

import pytest

from inbox.privacy import EMAIL_HIDDEN, PHONE_HIDDEN, public_copy, redact, redact_message
from tests.factories import at, message

# What a red team got past the first redaction (region US, PhoneNumberMatcher), and more.
HIDDEN_NUMBERS = [
    "07700 900144", "07911 123456", "06 12 34 56 78", "0151 23456789", "+44 7700 900461",
    "2 0 2 5 5 5 0 1 9 9", "2025550187", "(212) 555-0134", "+1-212-555-0134",
    "+44 20 7946 0000", "020 7946 0000", "06.12.34.56.78", "0151/23456789",
    "２０２５５５５０１８７", "٢٠٢٥٥٥٥٠١٨٧", "202\u200b555\u200b0187", "4111 1111 1111 1111",
]
HIDDEN_ADDRESSES = [
    "olga@example.org", "olga＠example.org", "olga﹫example.org", "olga @ example.org",
    "olga@example。org", "olga@example．org", "ｏｌｇａ＠ｅｘａｍｐｌｅ．ｏｒｇ",
    "olga [at] example [dot] org", "olga(AT)example(dot)org", "ol\u200bga@exam\u00adple.org",
    "ann.b+tag@example.co.uk", "jörg@bücher.de", "o'brien@x.ie",
    "florentine.quixote@privatebox.example",
]


@pytest.mark.parametrize("number", HIDDEN_NUMBERS)
def test_numbers_are_hidden_whatever_their_region_or_disguise(number: str) -> None:
    assert redact(f"call {number} today") == f"call {PHONE_HIDDEN} today"
    assert redact(f"{number}.") == f"{PHONE_HIDDEN}."


@pytest.mark.parametrize("address", HIDDEN_ADDRESSES)
def test_addresses_are_hidden_whatever_their_disguise(address: str) -> None:
    assert redact(f"write {address}, please") == f"write {EMAIL_HIDDEN}, please"


@pytest.mark.parametrize(("text", "shown"), [
    ("Ann <ann@example.com>", f"Ann <{EMAIL_HIDDEN}>"),
    ("+1-212-555-0134; ann@example.com", f"{PHONE_HIDDEN}; {EMAIL_HIDDEN}"),
    ("I have 2 +44 7700 900461", f"I have 2 {PHONE_HIDDEN}"),  # a count, then a number
    ("2025550187@example.com", EMAIL_HIDDEN),  # a number inside an address: one contact
    ("(212) 555-0134x12 or 2025550187 ext. 4", f"{PHONE_HIDDEN}x12 or {PHONE_HIDDEN} ext. 4"),
])
def test_addresses_and_numbers_together(text: str, shown: str) -> None:
    assert redact(text) == shown


@pytest.mark.parametrize("text", [
    "my bill is 12 euros too high", "order 12345 of 2026-11-01 at 10:30", "@northwind rocks",
    "order NW11556911 and case CAS-852094", "ticket INC-20251130-0042 and ref 11556911NW",
    "on 30.11.2026 14:00 and 2026-11-30T09:15", "due 11/30/26", "5 x 1234 = 6170",
    "see https://x.com/theresa/status/1862015558871234567", "mail me at home",
    "user@localhost", "@support.team rocks", "", "a" * 50_000])
def test_other_text_is_kept(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize("text", [
    "1" * 50_000, "1 " * 25_000 + "a", "1-" * 25_000, "a@" * 25_000, "@ " * 25_000,
    "a." * 25_000 + "@", ("1 1 1 x" * 10_000), "2026-11-01 " * 5_000, "a@b" * 20_000,
    "\u200b1" * 25_000, "＠ａ" * 25_000])
def test_hostile_text_takes_one_pass(text: str) -> None:
    """Long runs of what contacts are made of: done in milliseconds, no contact left
    behind (the figures are in bench/README.md; nothing is timed here)."""
    shown = redact(text)
    assert shown is not None and "@b" not in shown.replace("a@b", "")


def test_the_public_copy_has_no_word_of_a_contact() -> None:
    copy = public_copy("Florentine: florentine.quixote@privatebox.example or 2025550187")
    assert copy is not None
    assert copy.split() == ["Florentine:", "or"]
    assert public_copy("no contacts here") == "no contacts here"
    assert public_copy(None) is None


def test_a_message_keeps_its_words_and_loses_its_contacts_and_quotes() -> None:
    m = message("<a@mail.example.com>", "v1", "c1", "refund to ann@example.com", at(2),
                subject="from +44 20 7946 0000", author_label="Ann <ann@example.com>",
                author_keys=("ann@example.com",), html="<p>ann@example.com</p>",
                quoted="On Mon, Support wrote:\n> Hi Fatima", meta={"kind": "dm", "headers": "x"})
    shown = redact_message(m)
    assert shown.text == f"refund to {EMAIL_HIDDEN}"
    assert shown.subject == f"from {PHONE_HIDDEN}"
    assert shown.author_label == f"Ann <{EMAIL_HIDDEN}>"
    assert shown.quoted is None and shown.html is None
    assert shown.author_keys == () and shown.meta == {"kind": "dm"}
    assert "example.com" not in shown.external_id
    assert (shown.id, shown.customer_id, shown.created_at) == (m.id, m.customer_id, m.created_at)
