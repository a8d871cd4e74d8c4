"""bounded_parse's shortcuts (base64 runs left out of the feed parser's line loop, boundary
regexes not compiled) give exactly the stdlib parser's message: every part's header fields,
payload, preamble, epilogue and defects, on real and generated mail."""

from __future__ import annotations

import sysconfig
from email import policy
from email.message import Message
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.email import mailbox
from connectors.email_limits import (
    _BASE64_RUN,
    _HEADER_END,
    _TRACE_FIELD,
    Budget,
    _trace_free_head,
    base64_runs,
    bounded_parse,
    simple_params,
)

DATA = Path(__file__).parent.parent / "data" / "email"
STDLIB = Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data"
FILES = sorted(DATA.glob("*.eml")) + sorted(DATA.glob("hostile/*.eml")) + \
    sorted(STDLIB.glob("msg_*.txt"))
B64 = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3"


def tree(msg: Message) -> Any:
    """Everything the parser decided about a message, nested parts included."""
    payload = msg.get_payload()
    return (msg.items(), msg.get_content_type(), msg.get_unixfrom(), msg.preamble, msg.epilogue,
            [type(d).__name__ for d in msg.defects],
            [tree(p) for p in payload] if isinstance(payload, list) else payload)


def assert_as_stdlib(raw: bytes) -> None:
    budget = Budget()
    ours = bounded_parse(raw, budget)
    assert not budget.hits, budget.hits  # within the limits the stdlib's parse is the reference
    assert tree(ours) == tree(BytesParser(policy=policy.compat32).parsebytes(raw))


@pytest.fixture(scope="module")
def bench_mail() -> list[bytes]:
    return mailbox(300)


def test_the_bench_mailbox_parses_as_the_stdlib_does(bench_mail: list[bytes]) -> None:
    assert sum(len(raw) > 100_000 for raw in bench_mail) > 5  # attachments with long runs
    for raw in bench_mail:
        assert_as_stdlib(raw)  # LF line ends, as generated
        assert_as_stdlib(raw.replace(b"\n", b"\r\n"))  # CRLF, as IMAP delivers them


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_corpus_files_parse_as_the_stdlib_does(path: Path) -> None:
    assert_as_stdlib(path.read_bytes())


def _run(lines: int, end: bytes = b"\r\n", width: int = 76) -> bytes:
    return b"".join(B64[:width] + end for _ in range(lines))


# pieces of mail: header fields, boundaries of two nested multiparts, blank lines, long base64
# runs (with the line ends, widths and neighbours a run's edges must survive), odd lines
PIECES = [
    b"Content-Type: multipart/mixed; boundary=\"b\"\r\n",
    b"Content-Type: multipart/alternative; boundary=c\r\n",
    b"Content-Type: message/rfc822\r\n", b"Content-Type: text/plain\r\n",
    b"Content-Type: message/delivery-status\r\n",
    b"Content-Transfer-Encoding: base64\r\n", b"X-Folded: a\r\n\tb\r\n",
    b"--b\r\n", b"--b--\r\n", b"--c\r\n", b"--c--\r\n", b"--b  \r\n", b"--bb\r\n",
    b"\r\n", b"\n", b"\r", b"From someone\r\n", b" continued\r\n", b"text: like a header\r\n",
    b"QUJD\r\n", b"QUJD", b"Zh0le0Z\r\n", b"-QUJD\r\n", b"=\r\n",
    _run(70), _run(200), _run(64, b"\n"), _run(80, b"\r\n", 3), _run(65).rstrip(b"\r\n"),
    _run(100, b"\r"), _run(63),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=40),
       st.sampled_from([b"", b"Subject: x\r\n", b"From: a@example.org\r\n"
                        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"]))
def test_generated_mail_parses_as_the_stdlib_does(pieces: list[bytes], head: bytes) -> None:
    raw = head + b"".join(pieces)
    if len(raw) < 8192:  # the size from which runs are left out of the line loop
        raw += b"\r\n" + _run(110)
    assert_as_stdlib(raw)


# runs with lines of one width, widths that change, a short last line, line ends mixed,
# bytes out of the alphabet, lines too long, empty lines, and what follows them
RUN_PIECES = PIECES + [
    _run(70, b"\n"), _run(66, b"\r\n", 1), _run(64, b"\n", 76) + b"QUJ\n", _run(65, b"\r\r\n"),
    b"".join(B64[:w] + b"\r\n" for w in (76, 76, 60) * 30), _run(70)[:-30] + b"-" + _run(70),
    b"A" * 999 + b"\r\n", b"A" * 998 + b"\n", _run(64)[:-2] + b"\n" + _run(64), b"QUJD!\r\n",
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(RUN_PIECES), min_size=1, max_size=30))
def test_base64_runs_are_the_runs_the_pattern_finds(pieces: list[bytes]) -> None:
    raw = b"".join(pieces)
    assert base64_runs(raw) == [found.span(1) for found in _BASE64_RUN.finditer(raw)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"\r", b"\n", b"\r\n", b"a", b"Received: x", b" "]), max_size=30))
def test_the_header_block_ends_at_the_first_blank_line(pieces: list[bytes]) -> None:
    """What the content and header digests take as the header block: up to the first blank
    line (its CR included), found by a faster pattern than this one."""
    raw = b"".join(pieces)
    found = _HEADER_END.search(raw)
    head_end, body_start = (found.start(), found.end()) if found else (len(raw), len(raw))
    head = raw[:head_end].replace(b"\r\n", b"\n") + b"\n"
    assert _trace_free_head(raw) == (_TRACE_FIELD.sub(b"", head), body_start)


_PARAMETER = st.tuples(
    st.sampled_from([";", "; ", ";\r\n ", " ;\t"]),
    st.sampled_from(["charset", "Name", "boundary*", "filename*0*", "x y", "", "é"]),
    st.sampled_from(["=", " = ", "", "=="]),
    st.sampled_from(['"utf-8"', "koi8-R", '"a;b"', '"a\\"b"', "<a>", '""', "x y", '"é"', "",
                     '"=?utf-8?q?x?="', '"a', "\x1c"]))


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["text/plain", "Multipart/Mixed", " attachment ", "a=b", '"x"', '"a', ""]),
       st.lists(_PARAMETER, max_size=4), st.sampled_from(["", ";", " ", '"', "\r\n"]))
def test_simple_parameters_are_the_stdlibs(first: str, parameters: list[tuple[str, ...]],
                                           end: str) -> None:
    """A field's parameters read without the stdlib's parser are what it reads, or left to it."""
    value = first + "".join("".join(parameter) for parameter in parameters) + end
    msg = Message()
    msg["Content-Type"] = value
    found = simple_params(value)
    assert found is None or found == msg._get_params_preserve(None, "content-type")


def test_a_parts_content_type_follows_every_change_of_its_fields() -> None:
    msg = bounded_parse(b"Subject: x\r\nContent-Type: text/plain\r\n\r\nbody\r\n", Budget())
    assert msg.get_content_type() == "text/plain"
    msg.replace_header("Content-Type", "text/html")
    assert msg.get_content_type() == "text/html"
    msg.set_type("image/png")
    assert msg.get_content_type() == "image/png"
    del msg["Content-Type"]
    assert msg.get_content_type() == "text/plain"
    msg.set_default_type("message/rfc822")
    assert msg.get_content_type() == "message/rfc822"
    msg["Content-Type"] = "multipart/mixed"
    assert msg.get_content_maintype() == "multipart"
    msg.set_boundary("b")
    assert msg.get_content_type() == "multipart/mixed" and msg.get_boundary() == "b"


def test_a_parts_parameters_follow_every_change_of_its_fields() -> None:
    msg = bounded_parse(b"Subject: x\r\nContent-Type: text/plain; charset=koi8-r; name=a.txt"
                        b"\r\n\r\nbody\r\n", Budget())
    assert (msg.get_content_charset(), msg.get_filename()) == ("koi8-r", "a.txt")
    msg.replace_header("Content-Type", "text/plain; charset=utf-8")
    assert (msg.get_content_charset(), msg.get_filename()) == ("utf-8", None)
    msg.set_param("charset", "latin-1")
    assert msg.get_content_charset() == "latin-1"
    msg.del_param("charset")
    assert msg.get_content_charset() is None
    msg["Content-Disposition"] = "attachment; filename=b.txt"
    assert (msg.get_filename(), msg.get_content_disposition()) == ("b.txt", "attachment")
    del msg["Content-Disposition"]
    assert msg.get_filename() is None
    msg.set_type("multipart/mixed")
    msg.set_boundary("c")
    assert msg.get_boundary() == "c" and msg.get_params()[0] == ("multipart/mixed", "")
    params = msg.get_params()
    params.append(("x", "y"))  # a caller's copy: the part's own stay
    assert msg.get_params() == [("multipart/mixed", ""), ("boundary", "c")]
