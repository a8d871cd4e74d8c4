"""The hostile mail corpus: the small items are the .eml files here, the big ones are built.

``corpus()`` gives every item with what must become of it: "stored" (possibly flagged with
the parse limits it hit, in meta["limits"]) or "dead" (a dead letter). Nothing multi-megabyte
is committed; run ``python -m tests.data.email.hostile.corpus DIR`` to write them all out.
"""

from __future__ import annotations

import base64
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
MB = 1024 * 1024


@dataclass(frozen=True)
class Item:
    name: str
    raw: bytes
    outcome: str = "stored"  # or "dead"
    limits: frozenset[str] = frozenset()  # parse limits it must be flagged with
    core: bool = False  # needs the core's normaliser (lone surrogates, dates) to be stored


def _mail(name: str, headers: str = "", body: bytes = b"hello\r\n",
          subject: str | None = None) -> bytes:
    head = (f"From: Hostile <hostile@example.org>\r\nTo: support@example.test\r\n"
            f"Subject: {subject or name}\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: <{name}@hostile.example>\r\n{headers}")
    return head.encode() + b"\r\n" + body


def _multipart(name: str, parts: bytes, boundary: str = "b") -> bytes:
    return _mail(name, f"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
                       f"boundary={boundary}\r\n", parts + f"--{boundary}--\r\n".encode())


def _html(name: str, html: str, limits: frozenset[str]) -> Item:
    return Item(name, _mail(name, "Content-Type: text/html; charset=utf-8\r\n", html.encode()),
                limits=limits)


def formatting_bombs() -> list[Item]:
    """HTML whose unclosed formatting elements the HTML5 tree builder would re-open in every
    later block ("reconstruct the active formatting elements"): before the pre-scan the first
    took 4.5 s and 329 MB per 64 KB, and 484 KB made the sanitizer abort the process."""
    blocks = "<div>x</div>" * 40_000
    over = frozenset({"html_open_formatting"})

    def opened(tag: str, n: int = 250) -> str:
        return "".join(f'<{tag} class="c{i}">' for i in range(n))

    mixed = "".join(f'<{t} title="t{i}">' for i in range(50)
                    for t in ("b", "i", "em", "strong", "u"))
    return [
        _html("html_reconstruct_b", "<div>" + opened("b") + "</div>" + blocks, over),
        _html("html_reconstruct_i", "<div>" + opened("i") + "</div>" + blocks, over),
        _html("html_reconstruct_font", "<div>" + "".join(f'<font color="#{i:06x}">'
                                                         for i in range(250)) + "</div>" + blocks,
              over),
        _html("html_reconstruct_mixed", "<div>" + mixed + "</div>" + blocks, over),
        _html("html_reconstruct_table", "<table>" + opened("b") + "<tr><td>x</td></tr>" * 20_000
              + "</table>" + "<p>x</p>" * 20_000, over),
        # end tags the tree builder never sees: in comments, attribute values, raw text
        _html("html_reconstruct_hidden_ends", "<div>" + "".join(
            f'<b class="c{i}" title="</b>"><!--</b>--><style></b></style>' for i in range(250))
            + "</div>" + blocks, over),
        _html("html_reconstruct_adoption", "".join(f'<b class="c{i}"><div>x</b>'
                                                   for i in range(250)) + blocks, over),
        # one <a> ends the one before: however many, one stays open (the tree builder's rule)
        _html("html_unclosed_links", "".join(f'<a href="https://example.org/{i}">x'
                                             for i in range(200)) + blocks, frozenset()),
        # a few open, re-opened in every block: 80,000 re-openings, within the budget
        _html("html_reconstruct_2", "<div>" + opened("b", 2) + "</div>" + blocks,
              frozenset({"html_output_chars"})),  # the output cap: 12 bytes became 45
        # under the open-elements cap, over the re-opening budget
        _html("html_reconstruct_32", "<div>" + opened("b", 32) + "</div>" + blocks,
              frozenset({"html_reconstruction"})),
        # the most work the limits let through: 32 open, about 100,000 re-openings
        _html("html_reconstruct_at_limit", "<div>" + opened("b", 32) + "</div>"
              + "<div>x</div>" * 3_100, frozenset()),
    ]


def generated(oversized_bytes: int = 20 * MB) -> list[Item]:
    """The items too big to commit; oversized_bytes sizes the one over max_message_bytes."""
    words = " ".join("=?utf-8?q?a?=" for _ in range(50_000))
    divs = "<div>" * 100_000 + "deep" + "</div>" * 100_000
    quotes = "<blockquote>x<br>" * 50_000
    flat_parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i
                          for i in range(10_000))
    deep_head = b"".join(b"Content-Type: multipart/mixed; boundary=d%d\r\n\r\n--d%d\r\n"
                         % (i, i) for i in range(2_000))
    deep_tail = b"".join(b"\r\n--d%d--\r\n" % i for i in reversed(range(2_000)))
    nested_messages = b"From: core@example.org\r\nSubject: core\r\n\r\ncore text\r\n"
    for i in range(3_000):
        nested_messages = (b"From: fwd%d@example.org\r\nContent-Type: message/rfc822\r\n\r\n"
                           % i + nested_messages)
    many_headers = "".join(f"X-Filler-{i}: {i}\r\n" for i in range(100_000))
    reply_to = ", ".join(f"person{i}@example.org" for i in range(200))
    payload = base64.encodebytes(b"\xa5" * (oversized_bytes * 3 // 4))
    return [
        Item("subject_50k_encoded_words", _mail("subject_50k_encoded_words", subject=words),
             limits=frozenset({"encoded_words", "header_field_bytes"})),
        Item("nested_divs_100k", _mail("nested_divs_100k", "Content-Type: text/html\r\n",
                                       divs.encode()),
             limits=frozenset({"html_chars", "html_depth"})),
        Item("nested_blockquotes_50k", _mail("nested_blockquotes_50k",
                                             "Content-Type: text/html\r\n", quotes.encode()),
             limits=frozenset({"html_depth"})),
        Item("html_flat_3mb", _mail("html_flat_3mb", "Content-Type: text/html\r\n",
                                    b"<p>big <b>newsletter</b></p>\n" * 100_000),
             limits=frozenset({"html_chars"})),
        Item("html_250k_comment_openers",
             _mail("html_250k_comment_openers", "Content-Type: text/html\r\n", b"<!--" * 250_000),
             limits=frozenset({"html_chars"})),
        Item("html_1m_ampersands", _mail("html_1m_ampersands", "Content-Type: text/html\r\n",
                                         b"&" * 1_000_000),
             limits=frozenset({"html_entities"})),
        Item("html_1m_stray_lt", _mail("html_1m_stray_lt", "Content-Type: text/html\r\n",
                                       b"<" * 1_000_000), limits=frozenset({"html_chars"})),
        Item("mime_parts_10k", _multipart("mime_parts_10k", flat_parts),
             limits=frozenset({"mime_parts"})),
        Item("mime_depth_2000", _mail("mime_depth_2000", "MIME-Version: 1.0\r\n",
                                      b"").rstrip(b"\r\n") + b"\r\n" + deep_head
             + b"Content-Type: text/plain\r\n\r\ndeep inside" + deep_tail,
             limits=frozenset({"mime_depth"})),
        Item("rfc822_depth_3000", _mail("rfc822_depth_3000", "Content-Type: message/rfc822\r\n",
                                        nested_messages),
             limits=frozenset({"mime_depth"})),
        Item("filename_60k_semicolons", _multipart(
            "filename_60k_semicolons", b"--b\r\nContent-Type: application/pdf\r\n"
            b"Content-Disposition: attachment; filename=\"" + b";" * 60_000 + b"\"\r\n\r\n"
            b"%PDF\r\n"), limits=frozenset({"header_params"})),
        Item("headers_100k", _mail("headers_100k", many_headers),
             limits=frozenset({"header_count"})),
        Item("lines_2m", _mail("lines_2m", body=b"\n" * 2_000_000 + b"end\r\n"),
             limits=frozenset({"lines"})),
        Item("text_8mb_one_line", _mail("text_8mb_one_line", body=b"x" * (8 * MB)),
             limits=frozenset({"text_chars"})),  # and line_bytes, when read whole
        Item("header_15mb_one_line", _mail("header_15mb_one_line",
                                           "X-Filler: " + "x" * (15 * MB) + "\r\n"),
             limits=frozenset({"header_field_bytes"})),  # and line_bytes, when read whole
        Item("reply_to_200", _mail("reply_to_200", f"Reply-To: {reply_to}\r\n")),
        Item("address_comment_nesting", _mail("address_comment_nesting",
                                              "Cc: " + "(" * 20_000 + "\r\n"),
             limits=frozenset({"address_nesting"})),
        Item("punycode_charset", _mail("punycode_charset",
                                       "Content-Type: text/plain; charset=punycode\r\n",
                                       b"a" * 200_000 + b"-" + b"9" * 200_000)),
        Item("oversized", _mail("oversized", "MIME-Version: 1.0\r\nContent-Type: multipart/mixed;"
                                " boundary=o\r\n", b"--o\r\nContent-Type: text/plain\r\n\r\n"
                                b"see the attachment\r\n--o\r\nContent-Type: application/"
                                b"octet-stream\r\nContent-Disposition: attachment; filename="
                                b"big.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                                + payload + b"--o--\r\n"),
             limits=frozenset({"message_bytes"})),
        *formatting_bombs(),
    ]


FILES: dict[str, Item] = {  # the committed files: what must become of each
    "utf7_lone_surrogate": Item("", b"", core=True),
    "date_year_9999": Item("", b"", core=True),
    "nul_bytes": Item("", b""),
    "bidi_filename": Item("", b""),
    "no_headers": Item("", b"", outcome="dead"),
    "shared_message_id_1": Item("", b""),
    "shared_message_id_2": Item("", b"", core=True),  # stored too: same id, other content
    "encoded_display_name": Item("", b""),
    "bad_base64": Item("", b""),
    "bad_quoted_printable": Item("", b""),
    "unknown_charset": Item("", b""),
    "truncated": Item("", b""),
}


def committed() -> list[Item]:
    items = []
    for path in sorted(HERE.glob("*.eml")):
        spec = FILES[path.stem]
        items.append(Item(path.stem, path.read_bytes(), spec.outcome, spec.limits, spec.core))
    return items


def corpus(oversized_bytes: int = 20 * MB) -> list[Item]:
    """Every hostile item, the committed ones first."""
    return committed() + generated(oversized_bytes)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-mail")
    target.mkdir(parents=True, exist_ok=True)
    for item in corpus():
        (target / f"{item.name}.eml").write_bytes(item.raw)
    print(f"wrote {len(corpus())} items to {target}")
