"""The email channel against real servers on 127.0.0.1: Dovecot (IMAP) and aiosmtpd (SMTP).

The core is faked by tests.fakes.core.FakeCore (the ``core`` fixture): an ingest that dedupes on
(channel, external_id) like the real one, and cursors in a dict. The connector and sender under
test are real.
"""

from __future__ import annotations

import asyncio
import ssl
import sysconfig
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme

import connectors.email as email_connector
from connectors.email import (
    AttachmentDir,
    CertificateNotVerified,
    EmailConnector,
    EmailSender,
    configure,
)
from connectors.email_parse import parse_email
from inbox.errors import AuthFailed, ConfigError, FatalError, InboxError, Refused, RetryableError
from inbox.model import (
    Conversation,
    Customer,
    Identity,
    Inbound,
    Message,
    message_id_for,
)
from inbox.ports import IngestResult, Outbound
from tests.fakes.core import FakeCore
from tests.servers.dovecot import (  # noqa: F401 - fixture
    PASSWORD,
    Dovecot,
    ServerTls,
    dovecot_fixture,
    free_port,
    require_dovecot,
)
from tests.servers.smtp import SmtpServer, smtp_server_fixture  # noqa: F401 - fixture

pytestmark = pytest.mark.integration

DATA = Path(__file__).parent.parent / "data" / "email"
STDLIB = Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def make_connector(server: Dovecot, tmp_path: Path, password: str = PASSWORD,
                   **keys: Any) -> EmailConnector:
    box = {"name": "support", "url": server.url(), "password": password,
           "attachments_dir": str(tmp_path / "attachments"), **keys}
    (connector,), _ = configure({"email": {"mailboxes": [box]}}, {})
    fast = replace(connector.config, reconnect_min=0.05, reconnect_max=0.5, timeout=10)
    return EmailConnector(fast)


def mail(n: int, *, subject: str | None = None, message_id: bool = True, body: str = "") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Customer {n} <customer{n}@example.org>"
    msg["To"] = "support@example.test"
    msg["Subject"] = subject or f"question {n}"
    msg["Date"] = "Sun, 22 Nov 2026 10:00:00 +0000"
    if message_id:
        msg["Message-ID"] = f"<q{n}@example.org>"
    msg.set_content(body or f"Hello, this is question number {n}.")
    return msg.as_bytes()


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# --- sync ------------------------------------------------------------------------------------


async def test_first_sync_ingests_everything_and_leaves_mail_unseen(
        dovecot: Dovecot, core: FakeCore, tmp_path: Path) -> None:
    attached = EmailMessage()
    attached["From"] = "att@example.org"
    attached["Message-ID"] = "<att@example.org>"
    attached.set_content("see the file")
    attached.add_attachment(b"%PDF-1.4 hello", maintype="application", subtype="pdf",
                            filename="invoice.pdf")
    dovecot.append([mail(1), mail(2, message_id=False), attached.as_bytes()])
    connector = make_connector(dovecot, tmp_path)

    result = await connector.poll_once(core.ctx())

    assert len(result.stored) == 3 and result.duplicates == 0
    uidvalidity, uids = dovecot.uids()
    assert core.cursors["email:support"] == {"uidvalidity": uidvalidity, "last_uid": uids[-1]}
    assert all(b"\\Seen" not in flags for flags in dovecot.flags().values())
    by_author = {m.authors[0].value: m for m in core.messages.values()}
    assert by_author["customer2@example.org"].external_id.startswith("sha256:")
    pdf = by_author["att@example.org"].attachments[0]
    assert pdf.name == "invoice.pdf" and pdf.ref is not None
    assert AttachmentDir(tmp_path / "attachments").path(pdf.ref).read_bytes() == b"%PDF-1.4 hello"
    assert by_author["customer1@example.org"].meta["imap_uid"] == uids[0]
    status = connector.status()
    assert status["cursor"] == core.cursors["email:support"] and status["last_poll"]


async def test_incremental_sync_fetches_only_new_mail(
        dovecot: Dovecot, core: FakeCore, tmp_path: Path) -> None:
    connector = make_connector(dovecot, tmp_path)
    dovecot.append([mail(1), mail(2)])
    await connector.poll_once(core.ctx())
    dovecot.append([mail(3), mail(4)])

    result = await connector.poll_once(core.ctx())
    nothing = await connector.poll_once(core.ctx())

    assert [m.external_id for m in core.batches[1]] == ["q3@example.org", "q4@example.org"]
    assert len(result.stored) == 2 and nothing.stored == () and len(core.batches) == 2
    assert core.cursors["email:support"]["last_uid"] == 4


async def test_large_mailbox_goes_in_batches_with_a_cursor_per_batch(
        dovecot: Dovecot, core: FakeCore, tmp_path: Path) -> None:
    dovecot.append([mail(n) for n in range(120)])
    connector = make_connector(dovecot, tmp_path, batch_size=50)

    await connector.poll_once(core.ctx())

    assert [len(b) for b in core.batches] == [50, 50, 20]
    assert [c["last_uid"] for c in core.cursor_saves] == [50, 100, 120]
    assert len(core.messages) == 120


async def test_move_to_moves_only_after_ingest(
        dovecot: Dovecot, core: FakeCore, tmp_path: Path) -> None:
    dovecot.append([mail(1), mail(2)])
    connector = make_connector(dovecot, tmp_path, move_to="Processed")
    seen_in_inbox: list[int] = []

    async def check_inbox(_: int) -> None:
        seen_in_inbox.append(len((await asyncio.to_thread(dovecot.uids))[1]))
    core.after_ingest = check_inbox

    await connector.poll_once(core.ctx())

    assert seen_in_inbox == [2]  # still there while the store works
    assert dovecot.uids()[1] == [] and len(dovecot.uids("Processed")[1]) == 2
    assert len(core.messages) == 2


async def test_redelivered_mail_is_recognised_from_its_header_without_fetching_it(
        dovecot: Dovecot, core: FakeCore, tmp_path: Path) -> None:
    connector = make_connector(dovecot, tmp_path)
    dovecot.append([mail(1), mail(2), mail(3, message_id=False)])
    await connector.poll_once(core.ctx())
    hop = b"Received: from mx2.example.net by mx.example.test; Mon, 30 Nov 2026 12:00:00 +0000\n"
    edited = mail(2, body="Hello, this is question number 2, and a longer one now.")
    dovecot.append([hop + mail(1), hop + mail(2), hop + mail(3, message_id=False), edited])

    again = await connector.poll_once(core.ctx())

    # the same Message-ID, headers and body size: not fetched, counted as duplicates; the
    # edited body and the mail without a Message-ID are fetched and handed to ingest
    fetched = [m.text for m in core.batches[1]]
    assert len(core.batches) == 2 and len(fetched) == 2
    assert "Hello, this is question number 2, and a longer one now." in fetched
    assert again.duplicates == 3  # 2 not fetched, the edit (FakeCore has no content digest)
    assert core.cursors["email:support"]["last_uid"] == 7


# --- push, crashes and server trouble -----------------------------------------------------------


async def test_idle_delivers_a_new_message_within_seconds(
        dovecot: Dovecot, core: FakeCore, tmp_path: Path) -> None:
    connector = make_connector(dovecot, tmp_path, poll_interval=3600)
    task = asyncio.create_task(connector.run(core.ctx()))
    try:
        await wait_until(lambda: connector.status()["idle"])
        started = asyncio.get_running_loop().time()
        await asyncio.to_thread(dovecot.append, mail(1))
        await wait_until(lambda: len(core.messages) == 1, timeout=5)
        assert asyncio.get_running_loop().time() - started < 5
        assert connector.status()["state"] in ("polling", "idle")
    finally:
        await stop(task)
    assert connector.status()["state"] == "stopped"


async def test_polling_without_idle(dovecot: Dovecot, core: FakeCore, tmp_path: Path) -> None:
    connector = make_connector(dovecot, tmp_path, idle=False, poll_interval=0.2)
    task = asyncio.create_task(connector.run(core.ctx()))
    try:
        await wait_until(lambda: connector.status()["state"] == "waiting")
        assert connector.status()["idle"] is False and connector.status()["next_poll"]
        await asyncio.to_thread(dovecot.append, mail(1))
        await wait_until(lambda: len(core.messages) == 1, timeout=5)
    finally:
        await stop(task)


async def test_the_next_batch_is_ingested_while_one_is_stored_cursors_in_uid_order(
        dovecot: Dovecot, core: FakeCore, tmp_path: Path) -> None:
    dovecot.append([mail(n) for n in range(120)])
    connector = make_connector(dovecot, tmp_path, batch_size=50)

    async def first_waits_for_the_second(count: int) -> None:
        if count == 1:  # batch 2 comes to ingest while batch 1 is still being stored
            await wait_until(lambda: len(core.batches) >= 2)
    core.after_ingest = first_waits_for_the_second
    await connector.poll_once(replace(core.ctx(), batches_in_flight=2))

    assert [c["last_uid"] for c in core.cursor_saves] == [50, 100, 120]
    assert len(core.messages) == 120


async def test_a_cursor_save_holds_back_no_batch(
        dovecot: Dovecot, core: FakeCore, tmp_path: Path) -> None:
    """A cursor save waits for the store's turn (behind the writer process's commits): the
    next batches come to ingest meanwhile, and the cursors are still saved in UID order."""
    dovecot.append([mail(n) for n in range(120)])
    connector = make_connector(dovecot, tmp_path, batch_size=50)

    async def first_save_waits_for_the_third_batch(saves: int) -> None:
        if saves == 0:
            await wait_until(lambda: len(core.batches) == 3)
    core.before_save = first_save_waits_for_the_third_batch
    await connector.poll_once(replace(core.ctx(), batches_in_flight=2))

    assert [c["last_uid"] for c in core.cursor_saves] == [50, 100, 120]
    assert len(core.messages) == 120


async def test_a_failed_batch_holds_the_cursor_though_the_next_was_ingested(
        dovecot: Dovecot, core: FakeCore, tmp_path: Path) -> None:
    dovecot.append([mail(n) for n in range(120)])
    core.fail_on_batch = 2  # the store goes away while batch 2 is ingested

    async def first_outlasts_the_second(count: int) -> None:
        if count == 1:
            await wait_until(lambda: core.fail_on_batch is None)
    core.after_ingest = first_outlasts_the_second
    with pytest.raises(RetryableError):
        await make_connector(dovecot, tmp_path, batch_size=50).poll_once(
            replace(core.ctx(), batches_in_flight=2))
    assert [c["last_uid"] for c in core.cursor_saves] == [50]

    core.after_ingest = None
    await make_connector(dovecot, tmp_path, batch_size=50).poll_once(core.ctx())
    assert core.cursors["email:support"]["last_uid"] == 120
    assert sorted(m.external_id for m in core.messages.values()) == sorted(
        f"q{n}@example.org" for n in range(120))


async def test_killed_between_ingest_and_cursor_save_loses_and_doubles_nothing(
        dovecot: Dovecot, core: FakeCore, tmp_path: Path) -> None:
    dovecot.append([mail(n) for n in range(5)])
    connector = make_connector(dovecot, tmp_path, batch_size=2)
    stuck = asyncio.Event()

    async def hang_on_second_save(saves: int) -> None:
        if saves == 1:
            stuck.set()
            await asyncio.Event().wait()  # killed here: batch 2 ingested, cursor not saved
    core.before_save = hang_on_second_save
    task = asyncio.create_task(connector.run(core.ctx()))
    await asyncio.wait_for(stuck.wait(), 10)
    await stop(task)
    assert core.cursors["email:support"]["last_uid"] == 2 and len(core.messages) == 4

    core.before_save = None
    result = await make_connector(dovecot, tmp_path, batch_size=2).poll_once(core.ctx())

    assert result.duplicates == 2 and len(result.stored) == 1  # batch 2 again, then the rest
    assert sorted(m.external_id for m in core.messages.values()) == [
        f"q{n}@example.org" for n in range(5)]
    assert core.cursors["email:support"]["last_uid"] == 5


async def test_uidvalidity_reset_resyncs_without_duplicates(
        dovecot: Dovecot, core: FakeCore, tmp_path: Path) -> None:
    dovecot.append([mail(1), mail(2, message_id=False), mail(3)])
    connector = make_connector(dovecot, tmp_path)
    await connector.poll_once(core.ctx())
    old = core.cursors["email:support"]["uidvalidity"]

    dovecot.reset_uidvalidity()
    dovecot.append(mail(4))
    result = await connector.poll_once(core.ctx())

    assert core.cursors["email:support"]["uidvalidity"] != old
    assert result.duplicates == 3 and len(result.stored) == 1
    assert len(core.messages) == 4


async def test_no_more_mail_is_fetched_while_what_was_fetched_waits_to_be_stored(
        dovecot: Dovecot, core: FakeCore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poller's memory is bounded by the mail waiting to be stored (PIPELINE_BYTES), not by
    a number of batches: with room for one batch and a half, a second batch is fetched (and
    parsed) while the first is stored, a third only once the first is stored."""
    mails = [mail(n) for n in range(30)]
    dovecot.append(mails)
    monkeypatch.setattr(email_connector, "PIPELINE_BYTES", sum(map(len, mails[:10])) * 3 // 2)
    connector = make_connector(dovecot, tmp_path, batch_size=10)
    fetched: list[int] = []  # the store is asked about each batch's mail as it is fetched
    release = asyncio.Event()

    async def stored_meta(channel: str, ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        fetched.append(len(ids))
        return await core.stored_meta(channel, ids)

    async def slow_ingest(batch: Sequence[Inbound]) -> IngestResult:
        await release.wait()
        return await core.ingest(batch)

    task = asyncio.create_task(connector.poll_once(
        replace(core.ctx(), ingest=slow_ingest, stored_meta=stored_meta)))
    await wait_until(lambda: len(fetched) >= 2)
    await asyncio.sleep(0.5)  # time enough for an eager feeder to fetch the third batch
    assert fetched == [10, 10]
    release.set()
    result = await task
    assert fetched == [10, 10, 10] and len(result.stored) == 30


@pytest.mark.parametrize("break_it", ["kick", "restart"])
async def test_server_disconnect_mid_fetch_reconnects_and_loses_nothing(
        dovecot: Dovecot, core: FakeCore, tmp_path: Path, break_it: str) -> None:
    dovecot.append([mail(n) for n in range(120)])
    connector = make_connector(dovecot, tmp_path, batch_size=40)

    async def break_after_first_batch(batches: int) -> None:
        if batches == 1:
            await asyncio.to_thread(dovecot.kick if break_it == "kick" else dovecot.restart)
    core.after_ingest = break_after_first_batch
    task = asyncio.create_task(connector.run(core.ctx()))
    try:
        await wait_until(lambda: len(core.messages) == 120, timeout=30)
        # it notices the break: mid-fetch, or at the latest on the IDLE connection (on a busy
        # machine the fetch can be done before the server goes down)
        await wait_until(lambda: connector.status()["last_error"] is not None)
        await wait_until(lambda: connector.status()["idle"])
    finally:
        await stop(task)

    assert core.cursors["email:support"]["last_uid"] == 120
    assert {m.external_id for m in core.messages.values()} == {
        f"q{n}@example.org" for n in range(120)}


async def test_server_down_at_start_is_retried_with_backoff(
        dovecot: Dovecot, core: FakeCore, tmp_path: Path) -> None:
    dovecot.append(mail(1))
    dovecot.stop()
    connector = make_connector(dovecot, tmp_path)
    task = asyncio.create_task(connector.run(core.ctx()))
    try:
        await wait_until(lambda: connector.status()["failures"] >= 2)
        assert connector.status()["state"] == "reconnecting"
        await asyncio.to_thread(dovecot.start)
        await wait_until(lambda: len(core.messages) == 1)
        await wait_until(lambda: connector.status()["failures"] == 0)
    finally:
        await stop(task)


async def test_wrong_password_is_auth_failed_without_retrying(
        dovecot: Dovecot, core: FakeCore, tmp_path: Path) -> None:
    connector = make_connector(dovecot, tmp_path, password="wrong")

    with pytest.raises(AuthFailed, match="refused"):
        await connector.poll_once(core.ctx())
    with pytest.raises(AuthFailed):
        await asyncio.wait_for(connector.run(core.ctx()), 10)

    status = connector.status()
    assert status["state"] == "failed" and "AuthFailed" in status["last_error"]
    assert "wrong" not in status["last_error"]
    assert dovecot.log().count("auth failed") <= 2  # one per attempt: no tight retry loop


# --- odd real-world MIME through the poller -----------------------------------------------------


async def test_odd_mime_corpus_ends_as_messages_or_dead_letters(
        dovecot: Dovecot, core: FakeCore, tmp_path: Path) -> None:
    files = sorted(DATA.glob("*.eml")) + sorted(STDLIB.glob("msg_*.txt"))
    raws = [p.read_bytes() for p in files]
    huge = EmailMessage()
    huge["From"] = "huge@example.org"
    huge["Message-ID"] = "<huge@example.org>"
    huge.set_content("a big one")
    huge.add_attachment(b"\xff" * 200_000, maintype="application", subtype="octet-stream",
                        filename="big.bin")
    raws.append(huge.as_bytes())
    dovecot.append(raws)
    connector = make_connector(dovecot, tmp_path, max_attachment_bytes=100_000, batch_size=20)

    await connector.poll_once(core.ctx())

    assert core.submitted + len(core.dead) == len(raws)  # every mail: a message or a dead letter
    assert [d[2] for d in core.dead] and all("no email header" in d[2] for d in core.dead)
    assert core.dead[0][0] == "email:support" and isinstance(core.dead[0][1], bytes)
    assert core.cursors["email:support"]["last_uid"] == len(raws)
    big = core.messages[("email", "huge@example.org")].attachments[0]
    assert big.ref is None and big.size == 200_000


# --- SMTP replies ----------------------------------------------------------------------------


def conversation_with(inbound: Inbound, *, email: str | None = "anna@example.org",
                      channel: str = "email") -> Outbound:
    conv = Conversation(id="c0123abcd", customer_id="u1", channel=channel, status="open",
                        created_at=NOW, updated_at=NOW, last_message_at=NOW,
                        subject=inbound.subject)
    identities = (Identity("email", email, "u1"),) if email else ()
    customer = Customer(id="u1", name="Anna", created_at=NOW, identities=identities)
    stored = Message(
        id=message_id_for(channel, inbound.external_id), conversation_id=conv.id, channel=channel,
        external_id=inbound.external_id, direction="inbound", text=inbound.text,
        created_at=inbound.created_at, received_at=NOW, customer_id="u1",
        author_keys=tuple(a.value for a in inbound.authors), subject=inbound.subject,
        meta=dict(inbound.meta))
    reply = Message(id="mreply1", conversation_id=conv.id, channel=channel,
                    external_id="pending-1", direction="outbound",
                    text="We found your payment, all good now.", created_at=NOW,
                    received_at=NOW, delivery="pending")
    return Outbound(conversation=conv, customer=customer, message=reply, history=(stored,))


def customer_mail(**headers: str) -> Inbound:
    msg = EmailMessage()
    msg["From"] = "Anna <Anna@Example.org>"
    msg["To"] = "support@example.test"
    msg["Subject"] = "Re: Re: My invoice"
    msg["Message-ID"] = "<Anna-2@Example.org>"
    msg["References"] = "<anna-1@example.org> <ours-1@example.test>"
    msg["In-Reply-To"] = "<ours-1@example.test>"
    for k, v in headers.items():
        msg[k.replace("_", "-")] = v
    msg.set_content("I paid already.")
    return parse_email(msg.as_bytes())


def make_sender(server: SmtpServer, user: str | None = None, password: str | None = None
                ) -> EmailSender:
    box: dict[str, Any] = {"name": "support", "smtp_url": server.url(user),
                           "from_address": "support@example.test"}
    if password is not None:
        box["smtp_password"] = password
    _, (sender,) = configure({"email": {"mailboxes": [box]}}, {})
    return sender


async def test_reply_is_threaded_under_the_customers_mail(smtp_server: SmtpServer) -> None:
    out = conversation_with(customer_mail())
    receipt = await make_sender(smtp_server).send(out)

    (got,) = smtp_server.received
    msg = got.message
    assert got.rcpt_tos == ["anna@example.org"] and got.mail_from == "support@example.test"
    assert msg["In-Reply-To"] == "<Anna-2@Example.org>"
    assert msg["References"].split() == ["<anna-1@example.org>", "<ours-1@example.test>",
                                         "<Anna-2@Example.org>"]
    assert msg["Subject"] == "Re: My invoice [#c0123abcd]"
    assert msg["From"] == "support@example.test"
    assert msg["Message-ID"].endswith("@example.test>")
    assert msg.get_content().strip() == "We found your payment, all good now."
    assert receipt.provider_id == msg["Message-ID"].strip("<>").lower()
    assert receipt.thread_keys == (f"mid:{receipt.provider_id}",)
    assert receipt.meta["to"] == ["anna@example.org"]


async def test_customer_answer_to_our_reply_threads_back(
        smtp_server: SmtpServer, dovecot: Dovecot, core: FakeCore, tmp_path: Path) -> None:
    receipt = await make_sender(smtp_server).send(conversation_with(customer_mail()))
    ours = smtp_server.received[0].message
    answer = EmailMessage()
    answer["From"] = "anna@example.org"
    answer["Subject"] = f"Re: {ours['Subject']}"
    answer["Message-ID"] = "<anna-3@example.org>"
    answer["In-Reply-To"] = ours["Message-ID"]
    answer["References"] = f"{ours['References']} {ours['Message-ID']}"
    answer.set_content(f"Thanks!\n\nOn Sunday Support wrote:\n> {ours.get_content()}")
    dovecot.append(answer.as_bytes())

    await make_connector(dovecot, tmp_path).poll_once(core.ctx())

    (got,) = core.messages.values()
    assert got.parent_keys[0] == receipt.thread_keys[0]
    assert "conv:c0123abcd" in got.parent_keys
    assert got.subject is not None and got.subject.count("[#c0123abcd]") == 1
    assert got.text == "Thanks!"


async def test_reply_goes_to_reply_to_when_the_customer_set_one(smtp_server: SmtpServer) -> None:
    out = conversation_with(customer_mail(Reply_To="Anna Billing <billing@example.org>"))
    await make_sender(smtp_server).send(out)
    assert smtp_server.received[0].rcpt_tos == ["billing@example.org"]


async def test_webform_conversations_are_answered_by_email(smtp_server: SmtpServer) -> None:
    form = Inbound(channel="webform", external_id="form-1", authors=(), text="Call me",
                   created_at=NOW, subject="Contact form")
    sender = make_sender(smtp_server)  # the runtime answers web forms with the email sender
    receipt = await sender.send(conversation_with(form, channel="webform"))
    msg = smtp_server.received[0].message
    assert smtp_server.received[0].rcpt_tos == ["anna@example.org"]
    assert msg["In-Reply-To"] is None and msg["Subject"] == "Re: Contact form [#c0123abcd]"
    assert receipt.provider_id


async def test_reply_goes_out_through_the_mailbox_the_customer_wrote_to(
        smtp_server: SmtpServer) -> None:
    box = {"smtp_url": smtp_server.url()}
    _, (sender,) = configure({"email": {"mailboxes": [
        {**box, "name": "support", "from_address": "support@example.test"},
        {**box, "name": "sales", "from_address": "sales@shop.example"}]}}, {})
    inbound = customer_mail()
    await sender.send(conversation_with(replace(inbound, meta={**inbound.meta,
                                                               "mailbox": "sales"})))
    msg = smtp_server.received[0].message
    assert msg["From"] == "sales@shop.example" and msg["Message-ID"].endswith("@shop.example>")


def test_check_refuses_a_customer_without_email(smtp_server: SmtpServer) -> None:
    out = conversation_with(customer_mail(), email=None)
    with pytest.raises(Refused):
        make_sender(smtp_server).check(out)


@pytest.mark.parametrize("reply,error", [("550 5.1.1 no such user", FatalError),
                                         ("450 4.2.1 mailbox busy", RetryableError)])
async def test_recipient_rejections(smtp_server: SmtpServer, reply: str,
                                    error: type[Exception]) -> None:
    smtp_server.handler.reject["anna@example.org"] = reply
    with pytest.raises(error, match=reply.split()[0]):
        await make_sender(smtp_server).send(conversation_with(customer_mail()))


async def test_unreachable_smtp_server_is_retryable() -> None:
    box = {"name": "support", "smtp_url": f"smtp://127.0.0.1:{free_port()}",
           "from_address": "support@example.test"}
    _, (sender,) = configure({"email": {"mailboxes": [box]}}, {})
    with pytest.raises(RetryableError, match="unreachable"):
        await sender.send(conversation_with(customer_mail()))


@pytest.fixture
def smtp_with_auth() -> Iterator[SmtpServer]:
    server = SmtpServer(credentials=("support@example.test", "smtp-pass"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated:DeprecationWarning")
async def test_smtp_auth(smtp_with_auth: SmtpServer) -> None:
    good = make_sender(smtp_with_auth, "support@example.test", "smtp-pass")
    await good.send(conversation_with(customer_mail()))
    assert len(smtp_with_auth.received) == 1
    bad = make_sender(smtp_with_auth, "support@example.test", "nope")
    with pytest.raises(AuthFailed, match="smtp_password"):
        await bad.send(conversation_with(customer_mail()))


# --- TLS: a private CA (trustme) and real TLS servers on 127.0.0.1 --------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[ServerTls, trustme.LeafCert]:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost, as PEM files."""
    root = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    (root / "server.pem").write_bytes(b"".join(b.bytes() for b in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(root / "server.key"))
    return ServerTls(root / "server.pem", root / "server.key", root / "ca.pem"), leaf


@pytest.fixture
def tls_dovecot(pki: tuple[ServerTls, trustme.LeafCert]) -> Iterator[Dovecot]:
    """Dovecot requiring TLS: STARTTLS on .port, imaps on .imaps_port."""
    server = Dovecot(require_dovecot(), tls=pki[0])
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture(params=["smtps", "smtp+starttls"])
def tls_smtp(request: pytest.FixtureRequest, pki: tuple[ServerTls, trustme.LeafCert]
             ) -> Iterator[SmtpServer]:
    """aiosmtpd with implicit TLS (smtps) or required STARTTLS, and AUTH only over TLS."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    pki[1].configure_cert(context)
    server = SmtpServer(("support@example.test", "smtp-pass"), tls=context,
                        implicit_tls=request.param == "smtps")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("scheme", ["imaps", "imap+starttls"])
async def test_first_sync_over_tls_with_a_private_ca(
        tls_dovecot: Dovecot, core: FakeCore, tmp_path: Path, scheme: str) -> None:
    assert tls_dovecot.tls is not None
    tls_dovecot.append([mail(1), mail(2)])
    connector = make_connector(tls_dovecot, tmp_path, url=tls_dovecot.url(scheme=scheme),
                               ca_certs=str(tls_dovecot.tls.ca_file))

    result = await connector.poll_once(core.ctx())

    assert len(result.stored) == 2 and core.cursors["email:support"]["last_uid"] == 2
    logins = tls_dovecot.logins()
    assert len(logins) >= 2 and all(", TLS," in line for line in logins)  # the connector's too


@pytest.mark.parametrize("scheme", ["imaps", "imap+starttls"])
async def test_untrusted_imap_certificate_is_reported_and_retried(
        tls_dovecot: Dovecot, core: FakeCore, tmp_path: Path, scheme: str) -> None:
    tls_dovecot.append(mail(1))
    logins = len(tls_dovecot.logins())
    connector = make_connector(tls_dovecot, tmp_path, url=tls_dovecot.url(scheme=scheme))

    with pytest.raises(CertificateNotVerified, match="could not be verified") as caught:
        await connector.poll_once(core.ctx())
    assert isinstance(caught.value, RetryableError) and "ca_certs" in str(caught.value)
    task = asyncio.create_task(connector.run(core.ctx()))
    try:
        await wait_until(lambda: connector.status()["failures"] >= 2)
        status = connector.status()
        assert not task.done() and status["state"] == "reconnecting"
        assert "certificate" in status["last_error"] and "could not be verified" in status[
            "last_error"]
    finally:
        await stop(task)
    assert core.messages == {} and len(tls_dovecot.logins()) == logins  # no password was sent


@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated:DeprecationWarning")
async def test_reply_over_tls_with_a_private_ca_arrives(
        tls_smtp: SmtpServer, pki: tuple[ServerTls, trustme.LeafCert]) -> None:
    box = {"name": "support", "smtp_url": tls_smtp.url("support@example.test"),
           "smtp_password": "smtp-pass", "from_address": "support@example.test",
           "ca_certs": str(pki[0].ca_file)}
    _, (sender,) = configure({"email": {"mailboxes": [box]}}, {})

    receipt = await sender.send(conversation_with(customer_mail()))

    (got,) = tls_smtp.received
    assert got.rcpt_tos == ["anna@example.org"]
    assert got.message["Message-ID"].strip("<>").lower() == receipt.provider_id


async def test_untrusted_smtp_certificate_is_an_inbox_error(tls_smtp: SmtpServer) -> None:
    box = {"name": "support", "smtp_url": tls_smtp.url("support@example.test"),
           "smtp_password": "smtp-pass", "from_address": "support@example.test"}
    _, (sender,) = configure({"email": {"mailboxes": [box]}}, {})

    with pytest.raises(CertificateNotVerified, match="could not be verified") as caught:
        await sender.send(conversation_with(customer_mail()))

    assert isinstance(caught.value, InboxError) and not isinstance(caught.value, ssl.SSLError)
    assert "ca_certs" in str(caught.value) and tls_smtp.received == []


def test_ca_certs_must_be_a_pem_file(tmp_path: Path) -> None:
    box = {"name": "support", "url": "imaps://support%40example.test@127.0.0.1/INBOX",
           "password": "x", "ca_certs": str(tmp_path / "missing.pem")}
    with pytest.raises(ConfigError, match="no such file") as caught:
        configure({"email": {"mailboxes": [box]}}, {})
    assert caught.value.key == "email.mailboxes[0].ca_certs"

    env = {"INBOX_EMAIL_URL": box["url"], "INBOX_EMAIL_PASSWORD": "x",
           "INBOX_EMAIL_CA_CERTS": str(tmp_path / "missing.pem")}
    with pytest.raises(ConfigError, match="PEM file of the CA") as caught:
        configure({}, env)
    assert caught.value.key == "INBOX_EMAIL_CA_CERTS"

    (tmp_path / "junk.pem").write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="not a readable PEM CA bundle"):
        configure({"email": {"mailboxes": [{**box, "ca_certs": str(tmp_path / "junk.pem")}]}},
                  {})


def test_ca_certs_applies_to_imap_and_smtp(pki: tuple[ServerTls, trustme.LeafCert]) -> None:
    env = {"INBOX_EMAIL_URL": "imaps://support%40example.test@127.0.0.1/INBOX",
           "INBOX_EMAIL_PASSWORD": "x", "INBOX_SMTP_URL": "smtps://127.0.0.1",
           "INBOX_EMAIL_CA_CERTS": str(pki[0].ca_file)}
    (connector,), (sender,) = configure({}, env)
    assert connector.config.ca_certs == str(pki[0].ca_file.resolve())
    assert sender.accounts["default"].ca_certs == connector.config.ca_certs
