"""Email channel: IMAP sync into ingest (IDLE or polling); replies in ``connectors.email_smtp``.

Parsing lives in ``connectors.email_parse`` (pure) and settings in ``connectors.email_config``;
this module is the thin I/O around them.
imapclient is blocking: every call runs in a thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import imaplib
import logging
import os
import random
import re
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from connectors.email_config import SETTINGS as SETTINGS  # declared with the channel
from connectors.email_config import CertificateNotVerified as CertificateNotVerified
from connectors.email_config import MailboxConfig, load_email, not_verified, tls_context
from connectors.email_limits import header_digest
from connectors.email_parse import CHANNEL, external_id_of
from connectors.email_pool import PROCESS_THRESHOLD as PARSE_IN_PROCESSES
from connectors.email_pool import AttachmentWriter as AttachmentWriter
from connectors.email_pool import ParseJob, ParsePool
from connectors.email_smtp import EmailSender as EmailSender  # the channel's reply sender
from connectors.email_smtp import SmtpMissing as SmtpMissing
from connectors.email_smtp import reply_recipient as reply_recipient
from connectors.email_smtp import reply_subject as reply_subject
from inbox.errors import AuthFailed, ConflictError, RetryableError
from inbox.model import Inbound
from inbox.ports import ConnectorContext, IngestResult
from inbox.retry import backoff_delay

log = logging.getLogger(__name__)
T = TypeVar("T")

IDLE_RENEW_SECONDS = 25 * 60  # RFC 2177: re-issue IDLE before the server's 30 minute timeout
NETWORK_ERRORS = (OSError, EOFError, imaplib.IMAP4.error, RetryableError, ConflictError)
FETCH_CHUNK_BYTES = 32 * 1024 * 1024  # mail one FETCH brings into memory at most (or one mail)
PIPELINE_DEPTH = 2  # batches fetched (and being parsed) ahead of the one being stored
# no more is fetched while this much mail waits to be stored: about three batches of usual mail
# (one stored, one parsed, one fetched); less and the store waits for the parse
PIPELINE_BYTES = 12 * 1024 * 1024
PARSE_WORKERS = 2  # processes parsing a bulk sync (a few new mails are parsed on a thread)


@dataclass(frozen=True, slots=True)
class _Fetched:
    """A batch fetched and parsed."""

    uids: Sequence[int]
    parsed: list[tuple[int, Inbound]]
    dead: list[tuple[int, bytes, str]]  # (uid, raw, error)
    fetched: int
    known: list[int]  # UIDs of mail already stored (identified by its header): not fetched
    size: int  # bytes fetched


class _Ahead:
    """Bytes of mail fetched and not yet stored: the feeder fetches no more while they are
    PIPELINE_BYTES or more (a poller's memory stays bounded whatever the batch size)."""

    def __init__(self) -> None:
        self.bytes = 0
        self._changed = asyncio.Condition()

    async def wait_below(self, limit: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.bytes < limit)

    async def fetched(self, size: int) -> None:
        async with self._changed:
            self.bytes += size

    async def stored(self, size: int) -> None:
        async with self._changed:
            self.bytes -= size
            self._changed.notify_all()


def configure(
    config: Mapping[str, Any], env: Mapping[str, str], *, receive: bool = True,
    send: bool = True,
) -> tuple[list[EmailConnector], list[EmailSender | SmtpMissing]]:
    """The connectors (receive) and the reply sender (send) of [[email.mailboxes]], or of the
    INBOX_EMAIL_* variables; only the settings of what is asked are read and checked."""
    settings = load_email(config, env, receive=receive, send=send)
    connectors = [EmailConnector(m) for m in settings.mailboxes]
    if not send:
        return connectors, []
    if settings.accounts:
        return connectors, [EmailSender(settings.accounts)]
    return connectors, [SmtpMissing()] if connectors else []


# --- cursor: plain values advanced by pure functions -------------------------------------------


def resume_after(cursor: Mapping[str, Any] | None, uidvalidity: int) -> int:
    """The last UID already ingested under this UIDVALIDITY; 0 means start from UID 1."""
    if not cursor or cursor.get("uidvalidity") != uidvalidity:
        return 0
    return int(cursor.get("last_uid", 0))


def advance(uidvalidity: int, last_uid: int) -> dict[str, int]:
    """The cursor covering every UID up to last_uid."""
    return {"uidvalidity": uidvalidity, "last_uid": last_uid}


def fetch_plan(uids: Sequence[int], sizes: Mapping[int, int], max_message_bytes: int,
               chunk_bytes: int = FETCH_CHUNK_BYTES) -> list[tuple[list[int], bool]]:
    """UIDs grouped into FETCHes of at most chunk_bytes (or one message) each, in UID order.

    A message over max_message_bytes is fetched alone and only in part (the flag is True).
    """
    plan: list[tuple[list[int], bool]] = []
    chunk: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if size > max_message_bytes or (chunk and total + size > chunk_bytes):
            if chunk:
                plan.append((chunk, False))
            chunk, total = [], 0
        if size > max_message_bytes:
            plan.append(([uid], True))
            continue
        chunk.append(uid)
        total += size
    if chunk:
        plan.append((chunk, False))
    return plan


# --- attachments -------------------------------------------------------------------------------


class AttachmentDir:
    """Content-addressed attachment files: ``sha256:abcd...`` lives at ``root/ab/abcd...``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, ref: str) -> Path:
        """Where the content of a ref is kept (ValueError for refs not made by this writer)."""
        algo, _, digest = ref.partition(":")
        if algo != "sha256" or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ValueError(f"not an attachment ref: {ref!r}")
        return self.root / digest[:2] / digest

    def write(self, ref: str, data: bytes) -> None:
        """Write the content once, atomically."""
        target = self.path(ref)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


# --- IMAP --------------------------------------------------------------------------------------


def quiet(client: IMAPClient) -> None:
    """Stop imaplib's trace: imapclient sets its level to 5 for its "imapclient.imaplib"
    logger, and imaplib then formats every response, each message's bytes as a repr, before
    the logger drops it (70% of a bulk fetch's CPU); a debug log would hold customers' mail."""
    client._imap.debug = 0


class _Imap:
    """One blocking IMAP session; every method runs on the session's own thread."""

    def __init__(self, config: MailboxConfig) -> None:
        self.config = config
        self.client: IMAPClient | None = None
        self.uidvalidity = 0
        self.can_idle = False

    def open(self) -> None:
        ep = self.config.imap
        context = tls_context(self.config.ca_certs)
        try:
            client = IMAPClient(ep.host, port=ep.port, ssl=ep.security == "ssl",
                                ssl_context=context, timeout=self.config.timeout)
            quiet(client)
            self.client = client
            if ep.security == "starttls":
                client.starttls(context)
        except ssl.SSLCertVerificationError as exc:
            raise not_verified(exc, ep) from None
        try:
            client.login(ep.username or "", ep.password or "")
        except LoginError as exc:
            raise AuthFailed(
                f"IMAP login as {ep.username!r} at {ep.host}:{ep.port} was refused "
                f"({_text(exc)}); check the password of mailbox {self.config.name!r}") from None
        info = client.select_folder(self.config.folder, readonly=self.config.move_to is None)
        self.uidvalidity = int(info[b"UIDVALIDITY"])
        self.can_idle = client.has_capability("IDLE")

    def uids_after(self, last_uid: int) -> list[int]:
        assert self.client is not None
        found = self.client.search(["UID", f"{last_uid + 1}:*"])
        return sorted(uid for uid in found if uid > last_uid)  # "N:*" always matches the max UID

    def sizes(self, uids: Sequence[int]) -> tuple[dict[int, int], dict[int, bytes]]:
        """The size of each message, and its header block (with the empty line ending it)."""
        assert self.client is not None
        data = self.client.fetch(list(uids), ["RFC822.SIZE", "BODY.PEEK[HEADER]"])
        return ({uid: int(item[b"RFC822.SIZE"]) for uid, item in data.items()
                 if b"RFC822.SIZE" in item},
                {uid: bytes(item[b"BODY[HEADER]"]) for uid, item in data.items()
                 if item.get(b"BODY[HEADER]")})

    def fetch(self, uids: Sequence[int]) -> dict[int, bytes]:
        assert self.client is not None
        data = self.client.fetch(list(uids), ["BODY.PEEK[]"])
        return {uid: bytes(item[b"BODY[]"]) for uid, item in data.items() if b"BODY[]" in item}

    def fetch_start(self, uid: int, size: int) -> dict[int, bytes]:
        """The first size bytes of one message (a partial FETCH), by UID."""
        assert self.client is not None
        data = self.client.fetch([uid], [f"BODY.PEEK[]<0.{size}>"])
        return {u: bytes(item[b"BODY[]<0>"]) for u, item in data.items() if b"BODY[]<0>" in item}

    def move(self, uids: Sequence[int], folder: str) -> None:
        assert self.client is not None
        if not self.client.folder_exists(folder):
            self.client.create_folder(folder)
        if self.client.has_capability("MOVE"):
            self.client.move(list(uids), folder)
        else:
            self.client.copy(list(uids), folder)
            self.client.delete_messages(list(uids))
            self.client.uid_expunge(list(uids))

    def idle_wait(self, seconds: float, stop: threading.Event) -> bool:
        """IDLE until the server reports a change (True), seconds pass or stop is set."""
        assert self.client is not None
        self.client.idle()
        try:
            # mail that came while polling or before IDLE began: reported outside idle_check
            # (imaplib keeps it; a SELECT's own count too: one poll more after a connect)
            if self.client._imap.untagged_responses.pop("EXISTS", None):
                return True
            deadline = time.monotonic() + seconds
            while not stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                responses = self.client.idle_check(timeout=min(1.0, remaining))
                if any(not (isinstance(r, tuple) and r and r[0] == b"OK") for r in responses):
                    return True
            return False
        finally:
            self.client.idle_done()

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:  # the connection may already be gone
            with contextlib.suppress(Exception):
                client.shutdown()


class _Session:
    """An _Imap driven from asyncio: calls are serialized on one dedicated thread."""

    def __init__(self, config: MailboxConfig) -> None:
        self.imap = _Imap(config)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"imap-{config.name}")
        self.stop = threading.Event()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, functools.partial(fn, *args))

    async def aclose(self) -> None:
        self.stop.set()  # ends a running IDLE within a second
        try:
            await asyncio.shield(self.call(self.imap.close))
        finally:
            self.pool.shutdown(wait=False)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _text(exc: BaseException) -> str:
    """An exception's message without bytes reprs (imapclient puts b'...' in its messages)."""
    arg = exc.args[0] if exc.args else None
    msg = arg.decode(errors="replace") if isinstance(arg, bytes) else str(exc)
    quoted = re.fullmatch(r"b(['\"])(.*)\1", msg, re.DOTALL)
    return (quoted.group(2) if quoted else msg) or type(exc).__name__


class EmailConnector:
    """Syncs one IMAP folder into ingest; cursor {"uidvalidity", "last_uid"} per mailbox."""

    channel = CHANNEL

    def __init__(self, config: MailboxConfig, *, attachments: AttachmentWriter | None = None,
                 rng: random.Random | None = None) -> None:
        self.config = config
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self.name = f"email:{config.name}"
        self.attachments = attachments or AttachmentDir(config.attachments_dir)

        self._state = "stopped"
        self._idle = False
        self._last_poll: datetime | None = None
        self._next_poll: datetime | None = None
        self._last_error: str | None = None
        self._last_error_at: datetime | None = None
        self._failures = 0
        self._cursor: dict[str, Any] | None = None
        self._pool: ParsePool | None = None  # parse workers, kept while the connector runs

    def attachment_file(self, ref: str) -> Path | None:
        """Where this mailbox keeps an attachment's content, if it has it."""
        try:
            path = self.attachments.path(ref)
        except ValueError:
            return None
        return path if path.is_file() else None

    async def poll_once(self, ctx: ConnectorContext) -> IngestResult:
        """Connect, ingest everything new in batches, save the cursor after each, disconnect."""
        try:
            session = await self._open()
            try:
                result = await self._poll(session, ctx)
            finally:
                await session.aclose()
                self._close_pool()
        except Exception as exc:
            self._failed(exc)
            raise
        self._state = "ok"
        return result

    async def run(self, ctx: ConnectorContext) -> None:
        """Poll, then IDLE (or sleep poll_interval), until cancelled; reconnect with backoff."""
        try:
            while True:
                try:
                    await self._serve(ctx)
                except AuthFailed as exc:
                    self._failed(exc)
                    raise
                except NETWORK_ERRORS as exc:
                    self._failed(exc)
                    self._failures += 1
                    delay = backoff_delay(self._failures, self._rng, self.config.reconnect_min,
                                          self.config.reconnect_max)
                    self._state = "reconnecting"
                    self._next_poll = datetime.now(UTC) + timedelta(seconds=delay)
                    log.warning("email connection failed, retrying in %.1fs", delay,
                                extra={"stream": self.name, "error": self._last_error,
                                       "failures": self._failures})
                    await asyncio.sleep(delay)
        finally:
            self._idle = False
            self._close_pool()
            if self._state != "failed":
                self._state = "stopped"

    def status(self) -> dict[str, Any]:
        """Last poll, next poll, last error, IDLE on/off and the cursor: JSON-able."""
        return {
            "name": self.name, "channel": self.channel, "folder": self.config.folder,
            "state": self._state, "idle": self._idle, "last_poll": _iso(self._last_poll),
            "next_poll": _iso(self._next_poll), "last_error": self._last_error,
            "last_error_at": _iso(self._last_error_at), "failures": self._failures,
            "cursor": self._cursor,
        }

    # --- internals ---

    async def _serve(self, ctx: ConnectorContext) -> None:
        session = await self._open()
        try:
            while True:
                await self._poll(session, ctx, keep=False)
                self._failures = 0
                if self.config.idle and session.imap.can_idle:
                    self._state, self._idle, self._next_poll = "idle", True, None
                    await session.call(session.imap.idle_wait, IDLE_RENEW_SECONDS, session.stop)
                else:
                    self._state, self._idle = "waiting", False
                    self._next_poll = datetime.now(UTC) + timedelta(
                        seconds=self.config.poll_interval)
                    await asyncio.sleep(self.config.poll_interval)
        finally:
            self._idle = False
            await session.aclose()

    async def _open(self) -> _Session:
        session = _Session(self.config)
        self._state = "connecting"
        try:
            await session.call(session.imap.open)
        except BaseException:
            await session.aclose()
            raise
        return session

    async def _poll(self, session: _Session, ctx: ConnectorContext, keep: bool = True
                    ) -> IngestResult:
        """Everything after the cursor, in batches: the next batch is fetched and parsed while
        the previous one is stored; batches are stored and their cursors saved in UID order.
        keep=False returns nothing (a running poller's memory does not grow with the sync)."""
        self._state = "polling"
        uidvalidity = session.imap.uidvalidity
        cursor = await ctx.load_cursor(self.name)
        self._cursor = dict(cursor) if cursor else None
        last = resume_after(cursor, uidvalidity)
        if cursor and cursor.get("uidvalidity") != uidvalidity:
            log.warning("UIDVALIDITY changed, resyncing the folder from UID 1",
                        extra={"stream": self.name, "old": cursor.get("uidvalidity"),
                               "new": uidvalidity})
        uids = await session.call(session.imap.uids_after, last)
        size = self.config.batch_size
        batches = [uids[start:start + size] for start in range(0, len(uids), size)]
        ready: asyncio.Queue[asyncio.Task[_Fetched] | None] = asyncio.Queue(PIPELINE_DEPTH)
        ahead = _Ahead()
        feeder = asyncio.create_task(self._feed(session, ctx, batches, ready, ahead))
        total = IngestResult()
        storing: list[asyncio.Task[IngestResult]] = []  # in UID order
        ingesting: list[asyncio.Future[None]] = []  # each ends once its batch's ingest returned
        try:
            while (task := await ready.get()) is not None:
                # with batches_in_flight > 1, a batch's ingest starts while the one before
                # is stored (planned over what that one will write); its move and cursor
                # wait for that one's. The next batch is handed in once a batch's ingest has
                # returned, not its move and cursor: a cursor save waits for the writer
                # process's commit (0.15-0.25 s of a 5,000-mail first sync)
                ingesting.append(asyncio.get_running_loop().create_future())
                storing.append(asyncio.create_task(self._store(
                    session, ctx, uidvalidity, await task, ahead,
                    storing[-1] if storing else None, ingesting[-1])))
                while len(ingesting := [i for i in ingesting if not i.done()]) >= \
                        ctx.batches_in_flight:
                    await asyncio.wait(ingesting, return_when=asyncio.FIRST_COMPLETED)
                while storing and storing[0].done():
                    result = await storing.pop(0)
                    total += result if keep else IngestResult()
            while storing:
                result = await storing.pop(0)
                total += result if keep else IngestResult()
            await feeder  # its error, if it stopped early
        finally:
            feeder.cancel()
            for store_task in storing:
                store_task.cancel()
            while not ready.empty():
                if (task := ready.get_nowait()) is not None:
                    task.cancel()
            await asyncio.gather(feeder, *storing, return_exceptions=True)
        self._last_poll = datetime.now(UTC)
        return total

    async def _feed(self, session: _Session, ctx: ConnectorContext,
                    batches: Sequence[Sequence[int]],
                    ready: asyncio.Queue[asyncio.Task[_Fetched] | None], ahead: _Ahead) -> None:
        """Fetch batch after batch; each one's parse runs on while the next is fetched, as
        long as less than PIPELINE_BYTES of mail waits to be stored."""
        try:
            for batch in batches:
                await ahead.wait_below(PIPELINE_BYTES)
                raws, full, known = await self._fetch(session, ctx, batch)
                await ahead.fetched(sum(map(len, raws.values())))
                await ready.put(asyncio.create_task(self._parse(batch, raws, full, known)))
                del raws  # the parse holds it until the mail is parsed
        finally:
            await ready.put(None)

    async def _store(self, session: _Session, ctx: ConnectorContext, uidvalidity: int,
                     fetched: _Fetched, ahead: _Ahead,
                     after: asyncio.Task[IngestResult] | None = None,
                     ingested: asyncio.Future[None] | None = None) -> IngestResult:
        """Dead letters, ingest, move and cursor of one batch, in that order; the move and
        the cursor once the batch before (`after`) has ended (its error is raised here).
        `ingested` ends once the ingest has returned (or failed)."""
        try:
            result = await self._ingest(ctx, fetched)
        finally:
            if ingested is not None and not ingested.done():
                ingested.set_result(None)
        batch, parsed = fetched.uids, fetched.parsed
        if after is not None:
            await asyncio.shield(after)
        # a resync's known messages are not kept; those not fetched count as duplicates
        result = replace(result, known=(), duplicates=result.duplicates + len(fetched.known))
        moved = sorted([uid for uid, _ in parsed] + fetched.known)
        if self.config.move_to and moved:
            await session.call(session.imap.move, moved, self.config.move_to)
        self._cursor = advance(uidvalidity, batch[-1])
        await ctx.save_cursor(self.name, self._cursor)
        log.info("email batch ingested", extra={
            "stream": self.name, "fetched": fetched.fetched, "stored": len(result.stored),
            "duplicates": result.duplicates, "dead": len(fetched.dead), "last_uid": batch[-1]})
        await ahead.stored(fetched.size)
        return result

    async def _ingest(self, ctx: ConnectorContext, fetched: _Fetched) -> IngestResult:
        """A batch's unparseable mail dead-lettered, the rest ingested."""
        for uid, raw, error in fetched.dead:
            log.warning("unparseable email sent to dead letters",
                        extra={"stream": self.name, "uid": uid, "error": error})
            await ctx.dead_letter(self.name, raw, error)
        ingest = ctx.ingest_normalized or ctx.ingest  # the parse normalised them
        parsed = fetched.parsed
        return await ingest([p for _, p in parsed]) if parsed else IngestResult()

    async def _fetch(self, session: _Session, ctx: ConnectorContext, batch: Sequence[int]
                     ) -> tuple[dict[int, bytes], dict[int, int], list[int]]:
        """A batch's mail, fetched a bounded number of bytes at a time; the full size of the
        messages fetched only in part; the UIDs of the mail already stored (not fetched)."""
        limit = self.config.limits.max_message_bytes
        sizes, heads = await session.call(session.imap.sizes, batch)
        known = await self._known(ctx, sizes, heads)
        raws: dict[int, bytes] = {}
        full: dict[int, int] = {}
        wanted = [uid for uid in batch if uid not in known]
        if len(wanted) >= PARSE_IN_PROCESSES:
            self._parser().start()  # the workers start while the mail is fetched
        for chunk, partial in fetch_plan(wanted, sizes, limit):
            if partial:
                got = await session.call(session.imap.fetch_start, chunk[0], limit)
                full.update({uid: sizes[uid] for uid in got})
            else:
                got = await session.call(session.imap.fetch, chunk)
            raws.update(got)
        return raws, full, sorted(known)

    async def _known(self, ctx: ConnectorContext, sizes: Mapping[int, int],
                     heads: Mapping[int, bytes]) -> set[int]:
        """The UIDs whose mail is stored already: the same Message-ID, the same header fields
        (trace headers aside) and the same body size as a stored message."""
        if ctx.stored_meta is None:
            return set()
        external = {uid: eid for uid, head in heads.items()
                    if uid in sizes and (eid := external_id_of(head))}
        if not external:
            return set()
        stored = await ctx.stored_meta(self.channel, sorted(set(external.values())))
        return {uid for uid, eid in external.items() if eid in stored
                and header_digest(heads[uid], sizes[uid]) == stored[eid].get("header_digest")}

    async def _parse(self, batch: Sequence[int], raws: dict[int, bytes],
                     full: dict[int, int], known: list[int]) -> _Fetched:
        ok, bad = await self._parser().parse(raws, full) if raws else ([], [])
        for uid, inbound in ok:
            if "limits" in inbound.meta:
                log.warning("email over parse limits stored in part", extra={
                    "stream": self.name, "uid": uid, "limits": inbound.meta["limits"]})
        return _Fetched(batch, ok, [(uid, raws[uid], error) for uid, error in bad], len(raws),
                        known, sum(map(len, raws.values())))

    def _parser(self) -> ParsePool:
        if self._pool is None:
            self._pool = ParsePool(ParseJob(self.config, self.attachments),
                                   workers=PARSE_WORKERS)
        return self._pool

    def _close_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def _failed(self, exc: BaseException) -> None:
        self._last_error = f"{type(exc).__name__}: {_text(exc)}"
        self._last_error_at = datetime.now(UTC)
        self._state = "failed" if isinstance(exc, AuthFailed) else "error"
        if isinstance(exc, AuthFailed):
            log.error("email login refused; fix the credentials and restart",
                      extra={"stream": self.name, "error": self._last_error})
