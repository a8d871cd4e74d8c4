"""parse_email and the other pure parts of the email channel, on literal fixtures."""

from __future__ import annotations

import base64
import functools
import sysconfig
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import email_html_limits, email_text
from connectors.email import (
    AttachmentDir,
    EmailSender,
    advance,
    configure,
    fetch_plan,
    reply_recipient,
    reply_subject,
    resume_after,
)
from connectors.email_config import IMAP_SCHEMES, SMTP_SCHEMES, SmtpConfig, parse_url
from connectors.email_html_limits import html_formatting_limit, html_too_deep
from connectors.email_limits import (
    DEFAULT_LIMITS,
    ParseLimits,
    content_digest,
)
from connectors.email_parse import EmailParseError, parse_email, parse_message, simple_mailboxes
from connectors.email_text import html_to_text, split_quoted
from inbox.errors import ConfigError, Refused
from inbox.model import Attachment, Conversation, Customer, Identity, Inbound, Message
from inbox.ports import Outbound
from tests.data.email.hostile.corpus import Item, committed, corpus, generated

DATA = Path(__file__).parent.parent / "data" / "email"
STDLIB = Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data"
CORPUS = sorted(DATA.glob("*.eml")) + sorted(STDLIB.glob("msg_*.txt"))
NOT_EMAIL = {"not_an_email.bin", "msg_19.txt"}  # msg_19 is a bare digest body, no headers
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def load(name: str) -> Inbound:
    return parse_email((DATA / name).read_bytes(), now=NOW)


# --- the corpus: every file ends as a message or a clear EmailParseError ----------------------


@pytest.mark.parametrize("path", CORPUS + sorted(DATA.glob("*.bin")), ids=lambda p: p.name)
def test_corpus_parses_to_a_message_or_a_clear_error(path: Path) -> None:
    raw = path.read_bytes()
    if path.name in NOT_EMAIL:
        with pytest.raises(EmailParseError):
            parse_email(raw)
        return
    parsed = parse_message(raw, now=NOW)
    msg = parsed.inbound
    assert msg.channel == "email"
    assert msg.external_id and msg.external_id == msg.external_id.lower()
    assert msg.thread_keys == (f"mid:{msg.external_id}",)
    assert msg.created_at.tzinfo is not None and msg.created_at.utcoffset() == timedelta(0)
    assert isinstance(msg.text, str) and "\r" not in msg.text
    assert all(isinstance(a, Attachment) and a.size >= 0 for a in msg.attachments)
    assert {a.ref for a in msg.attachments if a.ref} == set(parsed.blobs)


def test_stdlib_corpus_is_present() -> None:
    assert len(list(STDLIB.glob("msg_*.txt"))) > 40


def test_gmail_reply_splits_quote_and_threads() -> None:
    msg = load("gmail_reply_alternative.eml")
    assert msg.external_id == "caf=abc123.xyz@mail.example.org"
    assert msg.meta["message_id"] == "CAF=abc123.XYZ@mail.example.org"  # case kept for replies
    assert msg.authors[0].value == "anna.kowalski@example.org"
    assert msg.authors[0].label == msg.author_name == "Anna Kowalski"
    assert msg.text == "I paid it yesterday \u2013 please check again.\n\nAnna"
    assert msg.quoted is not None and msg.quoted.startswith("On Mon, Nov 16, 2026")
    assert "> your invoice 4711 is past due." in msg.quoted
    assert msg.parent_keys == ("mid:reply-2@example.test", "mid:first-1@example.org",
                               "conv:c0123abcd")
    assert msg.created_at == datetime(2026, 11, 17, 8, 12, 44, tzinfo=UTC)
    assert msg.html is not None and "<script" not in msg.html and "class=" not in msg.html
    assert msg.meta["references"] == ["first-1@example.org", "reply-2@example.test"]
    assert not msg.automated and "reply_to" not in msg.meta


def test_html_only_outlook_reply_is_rendered_and_split() -> None:
    msg = load("outlook_html_only.eml")
    assert msg.text == "Any news on the delivery? It\u2019s been two weeks.\n\nBob"
    assert msg.quoted is not None and msg.quoted.startswith("From: Support")
    assert "ships next week" in msg.quoted
    assert "color: red" not in msg.text
    assert msg.meta["reply_to"] == "orders@contoso.example"  # one address, never a list


def test_original_message_block_is_quoted() -> None:
    msg = load("outlook_original_message.eml")
    assert msg.text == "Still waiting for an answer to this."
    assert msg.quoted is not None and msg.quoted.startswith("-----Original Message-----")


def test_nested_multipart_rfc2047_and_attachments(tmp_path: Path) -> None:
    parsed = parse_message((DATA / "nested_multipart.eml").read_bytes())
    msg = parsed.inbound
    assert msg.subject == "Rechnung f\u00fcr M\u00e4rz (\u00fcberf\u00e4llig)"
    assert msg.author_name == "J\u00fcrgen M\u00fcller"
    assert msg.text == "Guten Tag, die Rechnung f\u00fcr M\u00e4rz ist falsch."
    names = [a.name for a in msg.attachments]
    assert names == ["attachment-1.png", "Rechnung M\u00e4rz.pdf", "attachment-3.eml"]
    pdf = msg.attachments[1]
    assert pdf.content_type == "application/pdf" and pdf.size == 1033
    store = AttachmentDir(tmp_path)
    for ref, data in parsed.blobs.items():
        store.write(ref, data)
        store.write(ref, data)  # idempotent
    assert pdf.ref is not None and store.path(pdf.ref).read_bytes().startswith(b"%PDF-1.4")


def test_charsets_decode_with_replacement_and_are_noted() -> None:
    assert load("undeclared_8bit.eml").text == "J'ai pay\u00e9 deux fois, merci de v\u00e9rifier."
    assert "decode_problems" not in load("undeclared_8bit.eml").meta
    unknown = load("unknown_charset.eml")
    assert unknown.text.startswith("Hello ") and "\ufffd" in unknown.text
    assert any("x-unknown-klingon" in p for p in unknown.meta["decode_problems"])
    broken = load("broken_utf8.eml")
    assert broken.text.startswith("valid \u00e9 then invalid \ufffd")
    assert broken.meta["decode_problems"]


def test_missing_message_id_hashes_the_raw_bytes() -> None:
    raw = (DATA / "no_message_id.eml").read_bytes()
    first, again = parse_email(raw), parse_email(raw)
    assert first.external_id.startswith("sha256:") and first.external_id == again.external_id
    assert parse_email(raw + b"x").external_id != first.external_id


@pytest.mark.parametrize("name,problem", [("no_date.eml", "no Date header"),
                                          ("invalid_date.eml", "invalid Date header")])
def test_missing_or_invalid_date_is_now_and_noted(name: str, problem: str) -> None:
    msg = load(name)
    assert msg.created_at == NOW
    assert msg.meta["date_problem"].startswith(problem)


@pytest.mark.parametrize("name", ["malformed_boundary.eml", "unterminated_multipart.eml"])
def test_malformed_multiparts_keep_their_text(name: str) -> None:
    msg = load(name)
    assert "boundary" in msg.text or "closing boundary" in msg.text
    assert msg.meta["defects"]


@pytest.mark.parametrize("name,reason", [
    ("auto_reply.eml", "auto-submitted:auto-replied"),
    ("bounce.eml", "null-return-path"),
    ("bounce.eml", "report"),
    ("list_mail.eml", "list-id"),
    ("list_mail.eml", "precedence:bulk"),
])
def test_automated_mail_is_flagged(name: str, reason: str) -> None:
    msg = load(name)
    assert msg.automated and reason in msg.meta["automated"]


def test_human_mail_is_not_automated() -> None:
    raw = b"From: a@b.example\r\nAuto-Submitted: no\r\nPrecedence: first-class\r\n\r\nhi\r\n"
    assert not parse_email(raw).automated


def test_attachment_over_the_cap_has_no_ref() -> None:
    msg = EmailMessage()
    msg["From"] = "big@example.com"
    msg["Subject"] = "huge"
    msg["Message-ID"] = "<huge@example.com>"
    msg.set_content("see attached")
    msg.add_attachment(b"\0" * (10 * 1024 * 1024 + 1), maintype="application",
                       subtype="octet-stream", filename="huge.bin")
    msg.add_attachment(b"small", maintype="text", subtype="plain", filename="small.txt")
    parsed = parse_message(msg.as_bytes())
    huge, small = parsed.inbound.attachments
    assert huge.ref is None and huge.size == 10 * 1024 * 1024 + 1
    assert small.ref is not None and parsed.blobs[small.ref] == b"small"
    assert parsed.inbound.meta["attachments_over_cap"]["names"] == ["huge.bin"]
    assert parse_message(msg.as_bytes(), max_attachment_bytes=2).inbound.attachments[1].ref is None


def test_subject_token_without_other_references() -> None:
    raw = b"From: x@y.example\r\nSubject: Re: Hello [#c019a2b3c4d5e6f] again\r\n\r\nthanks\r\n"
    assert parse_email(raw).parent_keys == ("conv:c019a2b3c4d5e6f",)


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"just some words\n", b"\x00\x01\x02\xff" * 50])
def test_non_email_raises_parse_error(raw: bytes) -> None:
    with pytest.raises(EmailParseError):
        parse_email(raw)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    try:
        parse_email(raw)
    except EmailParseError:
        pass


header_names = st.sampled_from(["From", "To", "Cc", "Subject", "Date", "Message-ID", "References",
                                "In-Reply-To", "Content-Type", "Content-Transfer-Encoding",
                                "Reply-To", "Auto-Submitted", "Return-Path"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(header_names, st.text(max_size=60)), min_size=1, max_size=8),
       st.binary(max_size=500))
def test_arbitrary_headers_always_give_a_message(headers: list[tuple[str, str]],
                                                 body: bytes) -> None:
    lines = [f"{k}: {' '.join(v.split())}".encode("utf-8", "surrogatepass") for k, v in headers]
    raw = b"From: someone@example.com\r\n" + b"\r\n".join(lines) + b"\r\n\r\n" + body
    msg = parse_email(raw, now=NOW)
    assert msg.external_id and isinstance(msg.text, str)


# --- quote splitting and HTML rendering --------------------------------------------------------


@pytest.mark.parametrize("text,new,quoted", [
    ("Thanks!\n\nOn Tue, 1 Dec 2026, Support <s@x.example> wrote:\n> old", "Thanks!",
     "On Tue, 1 Dec 2026, Support <s@x.example> wrote:\n> old"),
    ("Yes.\n> Do you want A?\nNo.\n> Or B?", "Yes.\nNo.", "> Do you want A?\n> Or B?"),
    ("Danke\n\nAm 01.12.2026 um 10:00 schrieb Support <s@x.example>:\n> alt", "Danke",
     "Am 01.12.2026 um 10:00 schrieb Support <s@x.example>:\n> alt"),
    ("ok\n________________________________\nFrom: Support\nSent: Monday\nSubject: x\n\nold",
     "ok", "________________________________\nFrom: Support\nSent: Monday\nSubject: x\n\nold"),
    ("no quotes here\nat all", "no quotes here\nat all", None),
    ("> only a quote", "> only a quote", None),
    ("From: me, with love", "From: me, with love", None),
])
def test_split_quoted(text: str, new: str, quoted: str | None) -> None:
    assert split_quoted(text) == (new, quoted)


QUOTE_PIECES = ["On Mon, Anna wrote:", "Am 1. Mai schrieb Max:", "Le lundi, Zoë a écrit :",
                "-----Original Message-----", "From: a@b", "*From:* a", "Sent: Monday", "To: x",
                "_" * 12, "> quoted", "\n", " ", "on", "wrote:", "Von:", "de :", "text", "\x0b",
                "\u2028", "--", "\t", "---- Ursprüngliche Nachricht ----",
                "-- Message d'origine --", "--original message--", "-- \nSent from my phone"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(QUOTE_PIECES), max_size=30))
def test_the_quote_header_prefilter_finds_what_the_line_scan_finds(pieces: list[str]) -> None:
    lines = "".join(pieces).split("\n")
    assert email_text._quote_header_line(lines) == email_text._scan_quote_header(lines)


def test_html_to_text() -> None:
    html = ("<html><head><title>t</title><style>x{}</style></head><body><p>Hello&nbsp;<b>you</b>"
            "</p><ul><li>one</li><li>two</li></ul><blockquote>old<br>text</blockquote>"
            "<script>evil()</script></body></html>")
    assert html_to_text(html) == "Hello you\n\n- one\n- two\n\n> old\n> text"


# --- pure helpers of connectors.email -----------------------------------------------------------


def test_cursor_resumes_only_under_the_same_uidvalidity() -> None:
    assert resume_after(None, 7) == 0
    assert resume_after(advance(7, 42), 7) == 42
    assert resume_after(advance(7, 42), 8) == 0
    assert advance(8, 3) == {"uidvalidity": 8, "last_uid": 3}


@pytest.mark.parametrize("subject,expected", [
    ("Help", "Re: Help [#c1]"),
    ("Re: Help", "Re: Help [#c1]"),
    ("RE: Re: AW: Help [#c1]", "Re: Help [#c1]"),
    ("Re: Help [#c0]", "Re: Help [#c1]"),
    (None, "Re: Your message [#c1]"),
])
def test_reply_subject(subject: str | None, expected: str) -> None:
    assert reply_subject(subject, "c1") == expected


def test_parse_url_decodes_user_and_defaults_ports() -> None:
    ep = parse_url("imaps://support%40example.com@mail.example.com/Support%20Box", IMAP_SCHEMES,
                   "k")
    assert (ep.username, ep.host, ep.port, ep.security, ep.path) == (
        "support@example.com", "mail.example.com", 993, "ssl", "Support Box")
    assert parse_url("smtp+starttls://h.example", SMTP_SCHEMES, "k").port == 587
    with pytest.raises(ConfigError, match="scheme"):
        parse_url("pop3://h.example", IMAP_SCHEMES, "k")
    with pytest.raises(ConfigError, match="password"):
        parse_url("imaps://u:secret@h.example", IMAP_SCHEMES, "k")


def test_configure_from_file_section() -> None:
    config = {"email": {"mailboxes": [{
        "name": "support", "url": "imaps://support%40example.com@mail.example.com/INBOX",
        "password_env": "IMAP_PW", "idle": False, "poll_interval": 30, "move_to": "Done",
        "smtp_url": "smtps://support%40example.com@smtp.example.com",
        "smtp_password": "smtp-secret", "max_attachment_bytes": 1000,
        "max_message_bytes": 2_000_000,
    }]}}
    connectors, senders = configure(config, {"IMAP_PW": "imap-secret"})
    (conn,), (sender,) = connectors, senders
    assert conn.name == "email:support" and conn.channel == "email"
    assert conn.config.imap.username == "support@example.com"
    assert conn.config.imap.password == "imap-secret"
    assert (conn.config.idle, conn.config.poll_interval, conn.config.move_to) == (False, 30, "Done")
    assert sender.accounts["support"].from_address == "support@example.com"
    assert sender.channel == "email"
    assert conn.config.limits == replace(DEFAULT_LIMITS, max_message_bytes=2_000_000)
    assert "secret" not in repr(conn.config) + repr(sender.accounts)


def test_configure_from_env() -> None:
    env = {"INBOX_EMAIL_URL": "imap://u%40x.example@127.0.0.1:1143", "INBOX_EMAIL_PASSWORD": "p",
           "INBOX_SMTP_URL": "smtp://127.0.0.1:2525", "INBOX_EMAIL_FROM": "help@x.example"}
    (conn,), (sender,) = configure({}, env)
    assert conn.name == "email:default" and conn.config.folder == "INBOX"
    assert sender.accounts["default"].from_address == "help@x.example"
    assert configure({}, {}) == ([], [])
    with pytest.raises(ConfigError) as info:
        configure({}, {"INBOX_EMAIL_URL": "imaps://u@h.example"})
    assert info.value.key == "INBOX_EMAIL_PASSWORD" and "password_env" in str(info.value)


@pytest.mark.parametrize("box,key", [
    ({"url": "imaps://h.example", "password": "p"}, "email.mailboxes[0].url"),
    ({"url": "imaps://u@h.example"}, "email.mailboxes[0].password"),
    ({"url": "imaps://u@h.example", "password_env": "NOPE"}, "email.mailboxes[0].password_env"),
    ({"url": "imap://u@mail.example.com", "password": "p"}, "email.mailboxes[0].url"),
    ({"url": "imaps://u@h.example", "password": "p", "idle": "maybe"}, "email.mailboxes[0].idle"),
    ({"url": "imaps://u@h.example", "password": "p", "pol_interval": 5},
     "email.mailboxes[0].pol_interval"),
    ({"smtp_url": "smtp://relay.example"}, "email.mailboxes[0].from_address"),
    ({"url": "imaps://u@h.example", "password": "p", "max_message_bytes": 100},
     "email.mailboxes[0].max_message_bytes"),
    ({"name": "bad name!", "url": "imaps://u@h.example", "password": "p"},
     "email.mailboxes[0].name"),
])
def test_configure_errors_name_the_key(box: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        configure({"email": {"mailboxes": [box]}}, {})
    assert info.value.key == key


def test_sender_config_repr_hides_password() -> None:
    ep = replace(parse_url("smtp://u@127.0.0.1", SMTP_SCHEMES, "k"), password="hunter2")
    sender = EmailSender({"support": SmtpConfig(ep, "a@b.example")})
    assert sender.accounts["support"].endpoint.password == "hunter2"
    assert "hunter2" not in repr(sender.accounts)


def test_two_mailboxes_share_one_sender_and_need_unique_names() -> None:
    box = {"smtp_url": "smtp://127.0.0.1:2525"}
    _, (sender,) = configure({"email": {"mailboxes": [
        {**box, "name": "support", "from_address": "support@x.example"},
        {**box, "name": "sales", "from_address": "sales@x.example"}]}}, {})
    assert list(sender.accounts) == ["support", "sales"]
    with pytest.raises(ConfigError, match="twice"):
        configure({"email": {"mailboxes": [{**box, "name": "a", "from_address": "a@x.example"},
                                           {**box, "name": "a", "from_address": "b@x.example"}]}},
                  {})


# --- hostile input: bounded parsing, identity, recipients -----------------------------------


@functools.cache
def hostile() -> dict[str, Item]:
    return {item.name: item for item in corpus(oversized_bytes=17 * 1024 * 1024)}


@pytest.mark.parametrize("name", [i.name for i in committed()] + [i.name for i in generated(0)])
def test_hostile_mail_is_stored_flagged_or_dead(name: str) -> None:
    item = hostile()[name]
    if item.outcome == "dead":
        with pytest.raises(EmailParseError):
            parse_message(item.raw, now=NOW)
        return
    msg = parse_message(item.raw, now=NOW).inbound
    assert item.limits <= set(msg.meta.get("limits", ()))
    assert bool(item.limits) == ("limits" in msg.meta)
    assert msg.authors, "the sender is always read"


def test_over_the_limits_what_was_read_is_kept() -> None:
    subject = hostile()["subject_50k_encoded_words"]
    msg = parse_email(subject.raw, now=NOW)
    assert msg.subject is not None and msg.subject.startswith("a" * 200)
    assert msg.subject.endswith("\u2026") and len(msg.subject) < 300
    assert msg.text == "hello" and msg.authors[0].value == "hostile@example.org"
    divs = parse_email(hostile()["nested_divs_100k"].raw, now=NOW)
    assert divs.html is None and divs.text == "deep"  # too deep to sanitize: text only
    ampersands = parse_email(hostile()["html_1m_ampersands"].raw, now=NOW)
    assert ampersands.text == "&" * 50_000 and ampersands.html == "&amp;" * 50_000
    parts = parse_email(hostile()["mime_parts_10k"].raw, now=NOW)
    assert parts.text.startswith("part 0\n\npart 1") and "part 998" in parts.text
    deep = parse_email(hostile()["mime_depth_2000"].raw, now=NOW)
    assert deep.meta["limits"] == ["mime_depth"] and deep.authors
    headers = parse_email(hostile()["headers_100k"].raw, now=NOW)
    assert headers.subject == "headers_100k" and headers.text == "hello"


def test_a_date_past_year_9999_in_utc_is_now_and_noted() -> None:
    msg = parse_email(b"From: a@b.example\r\nDate: Fri, 31 Dec 9999 23:59:59 -1200\r\n\r\nhi",
                      now=NOW)
    assert msg.created_at == NOW and msg.meta["date_problem"].startswith("invalid Date")


def test_references_keep_the_root_and_the_latest() -> None:
    ids = " ".join(f"<r{i}@example.org>" for i in range(2000))
    msg = parse_email(f"From: a@b.example\r\nReferences: {ids}\r\n\r\nhi".encode())
    assert msg.meta["references"][:2] == ["r0@example.org", "r1951@example.org"]
    assert len(msg.meta["references"]) == 50 and len(msg.parent_keys) == 50
    assert msg.meta["limits"] == ["references"]


def test_limits_are_settings() -> None:
    raw = hostile()["mime_parts_10k"].raw
    msg = parse_email(raw, limits=ParseLimits(max_parts=3), now=NOW)
    assert msg.meta["limits"] == ["mime_parts"] and msg.text.startswith("part 0\n\npart 1")
    assert "part 3" not in msg.text
    small = parse_email(raw[:4000], limits=ParseLimits(max_message_bytes=1000), now=NOW)
    assert small.meta["limits"] == ["message_bytes"]


def test_partial_fetch_keeps_text_and_drops_the_cut_attachment() -> None:
    raw = hostile()["oversized"].raw
    limits = ParseLimits(max_message_bytes=1024 * 1024)
    parsed = parse_message(raw[:limits.max_message_bytes], limits=limits, size=len(raw))
    msg = parsed.inbound
    assert msg.text == "see the attachment" and "message_bytes" in msg.meta["limits"]
    (big,) = msg.attachments
    assert big.name == "big.bin" and big.ref is None and parsed.blobs == {}
    assert msg.meta["attachment_cut"] == "big.bin"
    again = parse_message(b"Received: by another.hop\r\n" + raw[:limits.max_message_bytes - 26],
                          limits=limits, size=len(raw) + 26).inbound
    assert again.meta["digest"] == msg.meta["digest"]  # one message, whatever the hops


def test_html_depth_and_quote_prefix_are_bounded() -> None:
    assert not html_too_deep("<div>" * 10 + "<p>x" * 1000 + "<br>" * 1000, 20)
    assert html_too_deep("<div>" * 21, 20) and html_too_deep("<b>" * 300, 256)
    assert not html_too_deep("<div></div>" * 1000, 2)
    text = html_to_text("<blockquote>" * 100 + "deep")
    assert text == "> " * 10 + "deep"


def html_mail(html: str) -> bytes:
    return (b"From: a@example.org\r\nSubject: html\r\nContent-Type: text/html\r\n\r\n"
            + html.encode())


RECONSTRUCTION_BOMB = ("<div>" + "".join(f'<b class="c{i}">' for i in range(250)) + "</div>"
                       + "<div>x</div>" * 40_000)


def test_formatting_reconstruction_bomb_gets_no_html_copy_and_the_stripped_text() -> None:
    msg = parse_email(html_mail(RECONSTRUCTION_BOMB), now=NOW)
    assert msg.html is None and msg.meta["limits"] == ["html_open_formatting"]
    assert msg.text.split() == ["x"] * 40_000
    assert html_to_text(RECONSTRUCTION_BOMB).split() == ["x"] * 40_000  # the same guard
    for hidden in ("<!--</b>-->", '<i title="</b>">', "<style></b></style>", "<svg></b>",
                   "<form><div></form></b>", "<body><div></body></b>"):  # </b> keeps a copy
        once = "<div><b class=c><i class=d>" + hidden + "</div>" + "<div>x</div>" * 20_000
        assert html_formatting_limit(once, 32, 30_000) == "html_reconstruction", hidden
    few = "<div><b class=a><i class=b></div>" + "<div>x</div>" * 20_000  # 2 x 20,000 < budget
    assert html_formatting_limit(few, 32, 100_000) is None
    assert html_formatting_limit(few, 32, 30_000) == "html_reconstruction"
    limits = ParseLimits(max_html_reconstruction=30_000)
    assert parse_email(html_mail(few), now=NOW, limits=limits).meta["limits"] == \
        ["html_reconstruction"]


@pytest.mark.parametrize("html", [
    "<p><b>bold</b> <i>it</i> <a href=u>link</a> <font color=red>red</font></p>" * 5_000,
    "<p><font size=2>never closed, the same each time</p>" * 200 + "<p>x</p>" * 5_000,
    "<table>" + "<tr><td><font color=red>cell</td></tr>" * 200 + "<tr><td>x</td></tr>" * 5_000
    + "</table>",
    "".join(f'<p><a href="https://example.org/{i}">link {i}</p>' for i in range(200))
    + "<p>x</p>" * 5_000,
    "".join(f'<font color="#{i:06x}">x</font><br>' for i in range(5_000)),
    "<font face=Arial><b>" + "<div>a <span>b</span> c</div>" * 5_000,
])
def test_ordinary_html_is_not_taken_for_a_formatting_bomb(html: str) -> None:
    # (unclosed elements in over max_html_depth blocks hit html_depth: its count is simpler)
    assert html_formatting_limit(html, 32, 100_000) is None
    msg = parse_email(html_mail(html), now=NOW)
    assert msg.html and "limits" not in msg.meta


HTML_PIECES = ["<b>", "</b>", "<i class=x>", "<a href=u>", "</a>", "<div>", "</div>", "<p>",
               "<br>", "<table>", "<td>", "</table>", "<!-- </b> -->", "<style>", "</style>",
               "<svg>", "text", " ", "<", "</", "<font color=red>", "<blockquote>"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(HTML_PIECES), max_size=40), st.integers(0, 12),
       st.integers(0, 12), st.integers(0, 400))
def test_the_html_checks_shortcut_says_what_the_full_scan_says(
        pieces: list[str], depth: int, most_open: int, reopenings: int) -> None:
    html = "".join(pieces)
    assert html_too_deep(html, depth) == email_html_limits._too_deep(html, depth)
    assert html_formatting_limit(html, most_open, reopenings) == \
        email_html_limits._formatting_scan(html, most_open, reopenings)


def test_an_overlong_line_is_broken_and_parsing_goes_on() -> None:
    mb = 1024 * 1024
    raw = (b"From: a@example.org\r\nX-Long: " + b"h" * 3 * mb + b"\r\nSubject: long\r\n\r\n"
           + b"x" * 3 * mb + b"\r\nsecond line\r\n")
    limits = ParseLimits(max_line_bytes=mb, max_text_chars=4 * mb)
    msg = parse_email(raw, now=NOW, limits=limits)
    assert msg.meta["limits"] == ["header_field_bytes", "line_bytes"]
    assert msg.subject == "long" and msg.authors[0].value == "a@example.org"  # read after it
    *pieces, last = msg.text.split("\n")  # broken every megabyte, nothing lost
    assert "".join(p.strip() for p in pieces) == "x" * 3 * mb and last == "second line"
    assert len(pieces) == 3


def test_an_unwrapped_base64_attachment_survives_the_line_limit() -> None:
    data = bytes(range(256)) * 12_000  # 3 MB: 4 MB of base64 on one line
    raw = (b"From: a@example.org\r\nSubject: att\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\nhi\r\n--q\r\n"
           b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; "
           b"filename=a.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + base64.b64encode(data) + b"\r\n--q--\r\n")
    parsed = parse_message(raw, now=NOW)
    (attachment,) = parsed.inbound.attachments
    assert attachment.ref and parsed.blobs[attachment.ref] == data
    assert parsed.inbound.text == "hi" and parsed.inbound.meta["limits"] == ["line_bytes"]


def test_oversized_sanitizer_output_is_dropped_and_flagged() -> None:
    limits = ParseLimits(max_html_output_chars=100)
    msg = parse_email(html_mail("<p>hello <b>there</b></p>" * 20), now=NOW, limits=limits)
    assert msg.html is None and msg.meta["limits"] == ["html_output_chars"]
    assert msg.text.split()[:3] == ["hello", "there", "hello"]


def test_digest_ignores_trace_headers_and_line_ends() -> None:
    raw = (DATA / "hostile" / "shared_message_id_1.eml").read_bytes()
    redelivered = (b"Return-Path: <alice@example.org>\r\nDelivered-To: support@example.test\r\n"
                   b"Received: from mx2 by mx3; Mon, 23 Nov 2026\r\n\tcontinued\r\n"
                   b"ARC-Seal: i=1; cv=none\r\n" + raw.replace(b"\r\n", b"\n"))
    assert content_digest(redelivered) == content_digest(raw)
    assert parse_email(redelivered).meta["digest"] == parse_email(raw).meta["digest"]
    other = (DATA / "hostile" / "shared_message_id_2.eml").read_bytes()
    first, second = parse_email(raw), parse_email(other)
    assert first.external_id == second.external_id == "shared@hostile.example"
    assert first.meta["digest"] != second.meta["digest"]
    assert content_digest(raw.replace(b"first", b"First")) != content_digest(raw)
    assert len(first.meta["digest"]) == 64


def test_addresses_never_come_from_display_names() -> None:
    msg = parse_email((DATA / "hostile" / "encoded_display_name.eml").read_bytes())
    assert msg.authors[0].value == "real@y.example"
    assert msg.author_name == "evil@x.example,"  # decoded, but only ever a name
    assert msg.meta["to"] == ["support@example.test"]
    assert msg.meta["reply_to"] == "real@y.example"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_an_encoded_display_name_never_becomes_an_address(name: str) -> None:
    encoded = Header(name, "utf-8").encode(linesep="\r\n")
    raw = (f"From: {encoded} <real@y.example>\r\nReply-To: {encoded} <real@y.example>\r\n"
           f"To: {encoded} <support@x.example>\r\n\r\nhi").encode()
    msg = parse_email(raw)
    assert msg.authors[0].value == "real@y.example"
    assert msg.meta["reply_to"] == "real@y.example" and msg.meta["to"] == ["support@x.example"]


# address fields made of the pieces the common-mailbox reader must tell from the rest
ADDRESS_PIECES = [
    "a@b.example", "x.y+z@mail.example.org", "Anna", "M\u00fcller", "J.", '"Smith, J"', '""',
    "=?utf-8?q?Zo=C3=AB?=", "<", ">", "<a@b.example>", "@", ",", ", ", " ", "\t", "(c)", ":",
    ";", "\\", '"', ".", "..", "[1.2.3.4]", "\u00a0", "\r\n ", "a@b@c", "<@route:a@b.example>",
    "g: a@b.example;", "a @ b.example", "-"]


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(ADDRESS_PIECES), max_size=12) | st.lists(st.text(max_size=8),
                                                                          max_size=6))
def test_common_mailboxes_are_read_as_the_stdlib_reads_them(pieces: list[str]) -> None:
    value = "".join(pieces)
    fast = simple_mailboxes(value)
    assert fast is None or fast == getaddresses([value]), value


def test_common_mailboxes_take_the_short_way() -> None:
    value = '"Smith, J"  <js@x.example>, Zo\u00eb =?utf-8?q?D?= <z@y.example>,bare@z.example'
    assert simple_mailboxes(value) == getaddresses([value]) == [
        ("Smith, J", "js@x.example"), ("Zo\u00eb =?utf-8?q?D?=", "z@y.example"),
        ("", "bare@z.example")]
    assert simple_mailboxes("a@b.example (comment)") is None


def test_reply_to_is_one_valid_address_or_ignored() -> None:
    many = parse_email(hostile()["reply_to_200"].raw)
    assert "reply_to" not in many.meta and "200 addresses" in many.meta["reply_to_ignored"]
    bad = parse_email(b"From: a@b.example\r\nReply-To: not an address\r\n\r\nhi\r\n")
    assert "reply_to" not in bad.meta and bad.meta["reply_to_ignored"]
    one = parse_email(b"From: a@b.example\r\nReply-To: Billing <Billing@B.example>\r\n\r\nhi\r\n")
    assert one.meta["reply_to"] == "billing@b.example"


def outbound(inbound: Inbound, identities: tuple[str, ...] = ("anna@example.org",)) -> Outbound:
    conv = Conversation(id="c1", customer_id="u1", channel="email", status="open",
                        created_at=NOW, updated_at=NOW, last_message_at=NOW)
    customer = Customer(id="u1", name="Anna", created_at=NOW,
                        identities=tuple(Identity("email", e, "u1") for e in identities))
    last = Message(id="m1", conversation_id="c1", channel="email",
                   external_id=inbound.external_id, direction="inbound", text=inbound.text,
                   created_at=NOW, received_at=NOW, customer_id="u1",
                   author_keys=tuple(a.value for a in inbound.authors), meta=dict(inbound.meta))
    reply = Message(id="m2", conversation_id="c1", channel="email", external_id="p1",
                    direction="outbound", text="hi", created_at=NOW, received_at=NOW)
    return Outbound(conversation=conv, customer=customer, message=reply, history=(last,))


def test_reply_recipient_is_exactly_one_validated_address() -> None:
    head = b"From: Anna <anna@example.org>\r\nMessage-ID: <r@example.org>\r\n"
    assert reply_recipient(outbound(parse_email(head + b"\r\nhi\r\n"))) == "anna@example.org"
    billing = parse_email(head + b"Reply-To: billing@example.org\r\n\r\nhi\r\n")
    assert reply_recipient(outbound(billing)) == "billing@example.org"
    many = parse_email(head + b"Reply-To: " + b", ".join(
        b"p%d@example.org" % i for i in range(200)) + b"\r\n\r\nhi\r\n")
    assert reply_recipient(outbound(many)) == "anna@example.org"
    legacy = replace(billing, meta={**billing.meta, "reply_to": ["x@example.org",
                                                                 "y@example.org"]})
    assert reply_recipient(outbound(legacy)) == "anna@example.org"  # stored lists: never all
    with pytest.raises(Refused):
        reply_recipient(outbound(parse_email(b"From: nobody\r\nSubject: x\r\n\r\nhi"), ()))


def test_fetch_plan_bounds_each_fetch() -> None:
    sizes = {1: 10, 2: 10, 3: 500, 4: 10, 5: 30}
    assert fetch_plan([1, 2, 3, 4, 5], sizes, max_message_bytes=100, chunk_bytes=25) == [
        ([1, 2], False), ([3], True), ([4], False), ([5], False)]
    assert fetch_plan([1, 2], {}, 100) == [([1, 2], False)]  # sizes unknown: one fetch
