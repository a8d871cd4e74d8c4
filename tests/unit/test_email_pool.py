"""Parsing in worker processes: the same result as on a thread, and a worker that dies on a
mail costs that mail alone (dead-lettered), never the batch."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from connectors.email import AttachmentDir
from connectors.email_config import Endpoint, MailboxConfig
from connectors.email_pool import (
    PROCESS_THRESHOLD,
    WORKER_NICE,
    ParseJob,
    ParsePool,
    parse_fetched,
)
from inbox.normalize import normalize_inbound

DEADLY = b"\x00kills-the-worker\x00"


class DiesOnDeadly(AttachmentDir):
    """Writes attachments, except that the process dies on the one holding DEADLY (as a
    crash inside a C extension would take a worker down)."""

    def write(self, ref: str, data: bytes) -> None:
        if DEADLY in data:
            os._exit(70)
        super().write(ref, data)


class NotesPriority(AttachmentDir):
    """Writes attachments, and the priority (niceness) of the process that writes them."""

    def write(self, ref: str, data: bytes) -> None:
        super().write(ref, data)
        (self.root / "nice").write_text(str(os.nice(0)))


def mail(n: int, attachment: bytes | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Customer {n} <c{n}@example.org>"
    msg["To"] = "support@example.test"
    msg["Subject"] = f"question {n}"
    msg["Message-ID"] = f"<q{n}@example.org>"
    msg.set_content(f"Question number {n}.")
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="octet-stream",
                           filename="f.bin")
    return msg.as_bytes()


def job(root: Path, writer: type[AttachmentDir] = AttachmentDir) -> ParseJob:
    config = MailboxConfig("support", Endpoint("imap", "plain", "127.0.0.1", 143, "u"))
    return ParseJob(config, writer(root))


async def test_workers_parse_as_a_thread_does(tmp_path: Path) -> None:
    raws = {uid: mail(uid, b"data %d" % uid if uid % 3 == 0 else None)
            for uid in range(1, PROCESS_THRESHOLD + 5)}
    raws[7] = b"not an email at all"
    pool = ParsePool(job(tmp_path / "a"))
    try:
        in_workers = await pool.parse(raws, {})
    finally:
        pool.close()
    on_thread = parse_fetched(job(tmp_path / "b"), raws, {})

    assert [uid for uid, _ in in_workers[0]] == [uid for uid, _ in on_thread[0]]
    assert [i.external_id for _, i in in_workers[0]] == [i.external_id for _, i in on_thread[0]]
    assert in_workers[1] == on_thread[1] and [uid for uid, _ in on_thread[1]] == [7]
    assert sorted(p.name for p in (tmp_path / "a").rglob("*") if p.is_file()) == \
        sorted(p.name for p in (tmp_path / "b").rglob("*") if p.is_file())


async def test_a_mail_that_kills_a_worker_is_dead_lettered_and_the_rest_parsed(
        tmp_path: Path) -> None:
    raws = {uid: mail(uid) for uid in range(1, PROCESS_THRESHOLD + 5)}
    raws[5] = mail(5, b"before " + DEADLY + b" after")
    pool = ParsePool(job(tmp_path, DiesOnDeadly))
    try:
        parsed, dead = await pool.parse(raws, {})
        again, _ = await pool.parse({uid: mail(uid) for uid in range(100, 120)}, {})
    finally:
        pool.close()

    assert [uid for uid, _ in dead] == [5] and "worker died" in dead[0][1]
    assert sorted(uid for uid, _ in parsed) == sorted(set(raws) - {5})
    assert len(again) == 20  # a fresh pool took over


def test_parsed_mail_comes_normalised_so_ingest_takes_it_as_it_is(tmp_path: Path) -> None:
    """The parse (in the workers) normalises each mail: what ingest_normalized skips doing
    again is already done, for the odd mail of the corpus as for plain mail."""
    corpus = {n: path.read_bytes() for n, path in enumerate(
        sorted((Path(__file__).parent.parent / "data" / "email").glob("*.eml")), start=1)}
    corpus[100] = mail(100).replace(b"Question number", b"Question\x00 \xe2\x80\xae number")
    parsed, _ = parse_fetched(job(tmp_path), corpus, {})
    assert len(parsed) >= 10
    now = datetime.now(UTC)
    for _, item in parsed:
        assert normalize_inbound(item, now) == item
    (odd,) = [i for uid, i in parsed if uid == 100]
    assert "\x00" not in odd.text


async def test_workers_parse_at_a_lower_priority_than_the_poller(tmp_path: Path) -> None:
    """The store a bulk sync waits on gets a core before the workers parsing ahead of it."""
    raws = {uid: mail(uid, b"data") for uid in range(1, PROCESS_THRESHOLD + 1)}
    pool = ParsePool(job(tmp_path, NotesPriority))
    try:
        parsed, _ = await pool.parse(raws, {})
    finally:
        pool.close()
    assert len(parsed) == len(raws)
    assert int((tmp_path / "nice").read_text()) == min(19, os.nice(0) + WORKER_NICE)
    one = ParsePool(job(tmp_path / "one", NotesPriority))  # a few mails: on a thread
    try:
        few, _ = await one.parse({1: mail(1, b"x")}, {})
    finally:
        one.close()
    assert len(few) == 1 and int((tmp_path / "one" / "nice").read_text()) == os.nice(0)
