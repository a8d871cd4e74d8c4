"""The inbound normaliser: what any connector hands over becomes what every store holds."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from inbox import normalize as n
from inbox.model import Attachment, IdentityKind, IdentityRef, Inbound
from tests.factories import at, inbound

NOW = at(22)


def test_text_is_nfc_with_lf_and_no_controls() -> None:
    text = n.clean_text("Cafe\u0301\r\nline\rtwo\x00\x07\tend\x85\x7f", 100)
    assert text == "Café\nline\ntwo\tend"
    assert unicodedata.is_normalized("NFC", text)


def test_lone_surrogates_are_replaced_and_pairs_joined() -> None:
    assert n.clean_text("a\ud800b\udfffc", 100) == "a\ufffdb\ufffdc"
    assert n.clean_text("\ud83d\ude00 ok", 100) == "😀 ok"
    assert n.clean_text("end\ud83d", 100).encode("utf-8") == "end\ufffd".encode()


def test_labels_are_one_line_without_bidi_controls() -> None:
    spoof = "invoice\u202egpj.exe"  # shows as "invoiceexe.jpg"
    assert n.clean_label(spoof) == "invoicegpj.exe"
    assert n.clean_label("Ann\u2066\u200f\u061c\nSmith\t") == "Ann Smith"
    subject = "שלום \u200fworld"
    assert n.clean_label(subject, marks=False) == subject  # subjects keep the marks
    assert len(n.clean_label("x" * 10_000)) == n.MAX_NAME


def test_long_ids_keep_a_prefix_and_stay_distinct() -> None:
    a, b = n.clean_id("<" + "a" * 5000 + "1>"), n.clean_id("<" + "a" * 5000 + "2>")
    assert len(a) == len(b) == n.MAX_ID and a != b and a.startswith("<aaa")
    assert n.clean_id("<ok@x>") == "<ok@x>"
    assert n.clean_id("mid:<a\x00\nb@x>") == "mid:<ab@x>"


def test_meta_is_plain_bounded_json() -> None:
    deep: dict[str, object] = {}
    node = deep
    for _ in range(50):
        node["d"] = {}
        node = node["d"]  # type: ignore[assignment]
    meta = n.clean_json({"deep": deep, "big": list(range(10_000)), "nan": float("nan"),
                         "huge": 2**80, "when": at(1), "s": "x" * 50_000, "k\x00ey": "\ud800",
                         "tuple": (1, 2)})
    json.dumps(meta, allow_nan=False).encode("utf-8")  # strict JSON, encodable
    assert len(meta["big"]) == n.MAX_META_ITEMS
    assert meta["nan"] == "nan" and meta["huge"] == str(2**80)
    assert len(meta["s"]) == n.MAX_META_STRING and meta["key"] == "\ufffd"
    assert meta["tuple"] == [1, 2] and meta["when"].startswith("2026-11-01")
    depth, node = 0, meta["deep"]
    while isinstance(node, dict) and node.get("d") is not None:
        depth, node = depth + 1, node["d"]
    assert depth < n.MAX_META_DEPTH


def test_meta_total_size_is_bounded() -> None:
    wide = {f"k{i}": [{"v": "x" * 100} for _ in range(150)] for i in range(150)}
    meta = n.clean_json(wide)
    assert len(json.dumps(meta)) < 3 * n.MAX_META_NODES * 120


def test_every_field_is_capped() -> None:
    item = Inbound(
        channel="email", external_id="<" + "i" * 5000 + ">",
        authors=tuple(IdentityRef("email", f"a{i}@x.com", "N" * 1000) for i in range(50)),
        text="t" * (n.MAX_TEXT + 10), created_at=at(2), author_name="\u202e" + "n" * 1000,
        subject="s" * 5_000_000, html="<p>" + "h" * n.MAX_HTML + "</p>", quoted="q" * 10**6,
        thread_keys=tuple(f"mid:<{i}@x>" for i in range(500)),
        parent_keys=("k" * 5000,), lang="x" * 100, revision="r" * 5000,
        attachments=tuple(Attachment("f\u202eexe.txt" * 100, "t/" * 500, 2**70, "ref")
                          for _ in range(300)),
        meta={"digest": "ab" * 32})
    out = n.normalize_inbound(item, NOW)
    assert len(out.text) == n.MAX_TEXT and len(out.subject or "") == n.MAX_SUBJECT
    assert out.html is None  # a cut tag would be unsafe: the text remains
    assert len(out.quoted or "") == n.MAX_QUOTED
    assert out.author_name == "n" * n.MAX_NAME
    assert len(out.external_id) == n.MAX_ID and len(out.revision or "") == n.MAX_ID
    assert len(out.authors) == n.MAX_AUTHORS and len(out.authors[0].label or "") == n.MAX_NAME
    assert len(out.thread_keys) == n.MAX_KEYS and len(out.parent_keys[0]) == n.MAX_ID
    assert len(out.lang or "") == n.MAX_LANG
    assert len(out.attachments) == n.MAX_ATTACHMENTS
    att = out.attachments[0]
    assert "\u202e" not in att.name and len(att.name) == n.MAX_NAME
    assert att.size == n.MAX_ATTACHMENT_SIZE and len(att.content_type) == n.MAX_CONTENT_TYPE
    assert out.meta["digest"] == "ab" * 32
    assert out.meta["attachments_dropped"] == 200 and out.meta["authors_dropped"] == 30
    assert out.meta["thread_keys_dropped"] == 400
    assert {"text", "html", "quoted", "subject", "author_name"} <= set(out.meta["truncated"])


def test_dates_outside_the_stores_range_become_the_received_time() -> None:
    for bad in (datetime(9999, 12, 31, 23, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC),
                datetime(1969, 12, 31, tzinfo=UTC), datetime(2262, 1, 1, tzinfo=UTC),
                datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))):
        out = n.normalize_inbound(inbound("<a@x>", when=bad), NOW)
        assert out.created_at == NOW and out.meta["date_replaced"].startswith(str(bad)[:4])
    good = n.normalize_inbound(inbound("<a@x>", when=at(3)), NOW)
    assert good.created_at == at(3) and "date_replaced" not in good.meta


def test_naive_dates_are_taken_as_utc() -> None:
    out = n.normalize_inbound(inbound("<a@x>", when=datetime(2026, 11, 3, 12)), NOW)
    assert out.created_at == at(3) and out.created_at.tzinfo is not None


def test_clean_input_passes_unchanged() -> None:
    item = inbound("<a@x>", "Hello 👋 שלום", subject="Refund", author_name="Ann",
                   thread_keys=("mid:<a@x>",), meta={"mailbox": "support", "n": 1})
    assert n.normalize_inbound(item, NOW) == item


def test_long_runs_of_combining_marks_are_cut_to_what_no_script_needs() -> None:
    """Normalising a run of marks sorts it in quadratic time (seconds for 40,000): runs are
    cut to 30 marks (UAX #15 stream-safe), ordinary accents and scripts are untouched."""
    hostile = "a" + "\u0316\u0301" * 40_000 + " next"
    cleaned = n.clean_text(hostile, 500_000)
    assert cleaned == unicodedata.normalize("NFC", "a" + "\u0316\u0301" * 15) + " next"
    assert n.clean_label("Zalgo" + "\u0301" * 5000) == unicodedata.normalize(
        "NFC", "Zalgo" + "\u0301" * 30)
    for ordinary in ("Grüße aus Köln", "नमस्ते दुनिया", "Việt Nam", "שָׁלוֹם", "e\u0301" * 50):
        assert n.stream_safe(ordinary) == ordinary
    supplementary = "x" + "\U0001d165" * 20 + "\u0301" * 20 + "\U000e0100" + " y"
    assert n.stream_safe(supplementary) == ("x" + "\U0001d165" * 20 + "\u0301" * 10
                                            + "\U000e0100 y")  # a selector: no mark


# marks of both planes, characters beyond the first plane that are no marks, and others
_MARKS_AND_OTHERS = st.sampled_from(["\u0301", "\u0316", "\u05b8", "\u3099", "\U0001d165",
                                     "\U000e0100", "\U0001f600", "a", "\u00e9", " ", "\u4e2d"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_MARKS_AND_OTHERS, st.integers(1, 40)), max_size=8))
def test_text_the_quick_test_passes_has_no_run_to_cut(runs: list[tuple[str, int]]) -> None:
    """stream_safe skips text its quick test finds no run in: the same result as the cut of
    every run, whatever the mix of marks, characters beyond the first plane and others."""
    text = "".join(char * count for char, count in runs)
    cut = n._mark_runs()[0].sub(lambda run: run.group()[:n.MAX_MARKS], text)
    assert n.stream_safe(text) == cut


_ODD_TEXT = st.text(st.sampled_from("a é中\r\n\t\x00\x0b\x1f\x7f\x85\x9f\ud800\udc00\u0301"),
                    max_size=30)


@settings(max_examples=300, deadline=None)
@given(_ODD_TEXT)
def test_text_is_cleaned_as_each_step_would(text: str) -> None:
    """clean_text skips the steps that would change nothing: the same text as all of them."""
    steps = n._CONTROLS.sub("", n._surrogates_fixed(text).replace("\r\n", "\n").replace("\r", "\n"))
    assert n.clean_text(text, 100) == unicodedata.normalize("NFC", n.stream_safe(steps))


def test_every_combining_mark_is_looked_for() -> None:
    """The mark runs' pattern is built from the planes where Unicode has marks: every
    character with a combining class in this Python's Unicode lies there."""
    marks = {c for c in range(0x110000) if unicodedata.combining(chr(c))}
    assert marks <= {c for plane in n._SCRIPT_PLANES for c in plane}


_LABELS = st.one_of(st.none(),
                    st.sampled_from(["Ann", " Ann", "Ann\t", "", "x" * (n.MAX_NAME + 1)]),
                    st.text(st.sampled_from("ab \t\n\x00\u202e\u200fé"), max_size=6))
_VALUES = st.one_of(st.sampled_from(["ann@example.com", "", "x" * (n.MAX_ID + 1)]), _ODD_TEXT)


@given(st.sampled_from([IdentityKind.EMAIL, IdentityKind.X, "phone", "EMAIL", "x_handle\n"]),
       _VALUES, _LABELS, st.sampled_from([True, False, 1, 0, "yes"]))
def test_an_author_left_as_it_is_is_the_one_cleaning_makes(
        kind: str, value: str, label: str | None, verified: object) -> None:
    """An author reference handed over clean is kept as it is (no copy): the same as the
    one every cleaning step makes, whatever its kind, value, label and flag."""
    ref = IdentityRef(kind, value, label, verified)  # type: ignore[arg-type]
    try:
        kept = n._author(ref)
    except ValueError:  # a kind no member names: refused either way
        return
    assert kept == IdentityRef(n._member(IdentityKind, kind), n.clean_id(value),
                               n._optional(label, n.clean_label), bool(verified))
    assert type(kept.kind) is IdentityKind and type(kept.verified) is bool
