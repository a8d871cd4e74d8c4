"""Email channel: IMAP sync into ingest (IDLE or polling), SMTP replies, and its config.

Parsing lives in ``connectors.email_parse`` (pure); this module is the thin I/O around it.
imapclient and smtplib are blocking: every call runs in a thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import imaplib
import ipaddress
import logging
import os
import random
import re
import smtplib
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from connectors.email_parse import (
    CHANNEL,
    CONVERSATION_TOKEN,
    DEFAULT_MAX_ATTACHMENT_BYTES,
    EmailParseError,
    ParsedEmail,
    parse_message,
)
from inbox.errors import (
    AuthFailed,
    ConfigError,
    ConflictError,
    FatalError,
    Refused,
    RetryableError,
)
from inbox.model import Inbound, Message
from inbox.ports import ConnectorContext, IngestResult, Outbound, Receipt

log = logging.getLogger(__name__)
T = TypeVar("T")

IDLE_RENEW_SECONDS = 25 * 60  # RFC 2177: re-issue IDLE before the server's 30 minute timeout
NETWORK_ERRORS = (OSError, EOFError, imaplib.IMAP4.error, RetryableError, ConflictError)

# --- config ------------------------------------------------------------------------------------

IMAP_SCHEMES = {"imap": ("plain", 143), "imaps": ("ssl", 993), "imap+starttls": ("starttls", 143)}
SMTP_SCHEMES = {"smtp": ("plain", 25), "smtps": ("ssl", 465), "smtp+starttls": ("starttls", 587)}
MAILBOX_KEYS = frozenset({
    "name", "url", "password", "password_env", "idle", "poll_interval", "move_to", "smtp_url",
    "smtp_password", "smtp_password_env", "from_address", "attachments_dir",
    "max_attachment_bytes", "allow_plaintext", "batch_size", "ca_certs",
})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A server parsed from an imap(s)/smtp(s) URL; the password never shows in repr."""

    scheme: str
    security: str  # plain | ssl | starttls
    host: str
    port: int
    username: str | None = None
    path: str = ""
    password: str | None = field(default=None, repr=False)

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


@dataclass(frozen=True, slots=True)
class MailboxConfig:
    name: str
    imap: Endpoint
    folder: str = "INBOX"
    idle: bool = True
    poll_interval: float = 60.0
    move_to: str | None = None
    attachments_dir: Path = Path("attachments")
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
    batch_size: int = 50
    timeout: float = 60.0  # socket timeout of one IMAP command
    reconnect_min: float = 1.0  # first backoff delay; doubles up to reconnect_max, with jitter
    reconnect_max: float = 300.0
    ca_certs: str | None = None  # PEM bundle trusted instead of the system CA store


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    endpoint: Endpoint
    from_address: str
    timeout: float = 30.0
    ca_certs: str | None = None


class CertificateNotVerified(RetryableError):
    """The server's TLS certificate failed verification (unknown CA, wrong host, expired).

    Retryable: nothing is lost, and once the server or ca_certs is fixed the next attempt works.
    """


def tls_context(ca_certs: str | None = None) -> ssl.SSLContext:
    """A client context that verifies the certificate and the host name.

    With ca_certs only that PEM bundle is trusted (a private CA), else the system CA store.
    """
    return ssl.create_default_context(cafile=ca_certs)


def _not_verified(exc: ssl.SSLCertVerificationError, ep: Endpoint) -> CertificateNotVerified:
    why = exc.verify_message or exc.reason or str(exc)
    low = why.lower()
    if "issuer" in low or "self-signed" in low or "self signed" in low:
        hint = ("; if the server uses a private CA, set ca_certs (INBOX_EMAIL_CA_CERTS) to "
                "that CA's PEM file")
    elif "hostname" in low:
        hint = "; connect with a host name the certificate was issued for"
    else:
        hint = ""
    return CertificateNotVerified(
        f"the TLS certificate of {ep.scheme}://{ep.host}:{ep.port} could not be verified "
        f"({why}){hint}")


def parse_url(url: str, schemes: Mapping[str, tuple[str, int]], key: str) -> Endpoint:
    """Parse scheme://user@host:port/path (user may be %-encoded); ConfigError if invalid."""
    parts = urlsplit(url.strip())
    if parts.scheme not in schemes:
        raise ConfigError(key, f"scheme must be one of {', '.join(s + '://' for s in schemes)}, "
                               f"got {parts.scheme or 'none'!r}")
    if parts.password is not None:
        raise ConfigError(key, "remove the password from the URL; set it with the password "
                               "key or an environment variable (..._password_env)")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(key, f"invalid port: {exc}") from None
    if not parts.hostname:
        raise ConfigError(key, "missing host, e.g. imaps://user%40example.com@mail.example.com")
    security, default_port = schemes[parts.scheme]
    return Endpoint(
        scheme=parts.scheme, security=security, host=parts.hostname, port=port or default_port,
        username=unquote(parts.username) if parts.username else None,
        path=unquote(parts.path.lstrip("/")),
    )


def configure(
    config: Mapping[str, Any], env: Mapping[str, str]
) -> tuple[list[EmailConnector], list[EmailSender]]:
    """Build the connectors and senders of [[email.mailboxes]], or of INBOX_EMAIL_* env vars."""
    section = config.get("email") or {}
    if not isinstance(section, Mapping):
        raise ConfigError("email", "must be a table ([email])")
    boxes = section.get("mailboxes")
    if boxes is None:
        return _configure_env(env)
    if not isinstance(boxes, Sequence) or isinstance(boxes, str):
        raise ConfigError("email.mailboxes", "must be an array of tables ([[email.mailboxes]])")
    connectors: list[EmailConnector] = []
    accounts: dict[str, SmtpConfig] = {}
    names: set[str] = set()
    for i, box in enumerate(boxes):
        prefix = f"email.mailboxes[{i}]"
        if not isinstance(box, Mapping):
            raise ConfigError(prefix, "must be a table with at least url or smtp_url")
        name, mailbox, smtp = _mailbox(box, env, prefix,
                                       default_name="default" if len(boxes) == 1 else None)
        if name in names:
            raise ConfigError(f"{prefix}.name", f"{name!r} is used twice; names must be unique")
        names.add(name)
        if mailbox:
            connectors.append(EmailConnector(mailbox))
        if smtp:
            accounts[name] = smtp
    return connectors, [EmailSender(accounts)] if accounts else []


ENV_KEYS = {"url": "INBOX_EMAIL_URL", "password": "INBOX_EMAIL_PASSWORD",
            "smtp_url": "INBOX_SMTP_URL", "smtp_password": "INBOX_SMTP_PASSWORD",
            "from_address": "INBOX_EMAIL_FROM", "ca_certs": "INBOX_EMAIL_CA_CERTS",
            "attachments_dir": "INBOX_ATTACHMENTS_DIR"}


def _configure_env(env: Mapping[str, str]) -> tuple[list[EmailConnector], list[EmailSender]]:
    box = {key: env[var] for key, var in ENV_KEYS.items() if env.get(var)}
    if "url" not in box and "smtp_url" not in box:
        return [], []
    try:
        _, mailbox, smtp = _mailbox(box, env, "env", default_name="default")
    except ConfigError as exc:  # name the variable to fix, not a file key
        field = exc.key.partition(".")[2]
        raise ConfigError(ENV_KEYS.get(field, exc.key), str(exc).partition(": ")[2]) from None
    return ([EmailConnector(mailbox)] if mailbox else []), (
        [EmailSender({"default": smtp})] if smtp else [])


def _mailbox(
    box: Mapping[str, Any], env: Mapping[str, str], prefix: str, default_name: str | None
) -> tuple[str, MailboxConfig | None, SmtpConfig | None]:
    unknown = sorted(set(box) - MAILBOX_KEYS)
    if unknown:
        raise ConfigError(f"{prefix}.{unknown[0]}",
                          f"unknown key; known keys: {', '.join(sorted(MAILBOX_KEYS))}")
    name = box.get("name", default_name)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{prefix}.name", "set a short name of letters, digits, '-', '_' or "
                                            "'.', e.g. name = \"support\"")
    if "url" not in box and "smtp_url" not in box:
        raise ConfigError(f"{prefix}.url", "set url (imaps://user@host/INBOX) and/or smtp_url")
    allow_plain = _typed(box, "allow_plaintext", bool, False, prefix)
    ca_certs = _ca_certs(box, prefix)
    mailbox = None
    if "url" in box:
        imap = parse_url(_typed(box, "url", str, "", prefix), IMAP_SCHEMES, f"{prefix}.url")
        if not imap.username:
            raise ConfigError(f"{prefix}.url", "missing user name: imaps://user%40example.com"
                                               "@host/INBOX (write @ in the name as %40)")
        password = _secret(box, env, "password", prefix, required=True)
        _check_plaintext(imap, allow_plain, f"{prefix}.url")
        interval = _typed(box, "poll_interval", (int, float), 60, prefix)
        max_bytes = _typed(box, "max_attachment_bytes", int, DEFAULT_MAX_ATTACHMENT_BYTES, prefix)
        batch = _typed(box, "batch_size", int, 50, prefix)
        if interval <= 0 or max_bytes < 0 or batch <= 0:
            bad = "poll_interval" if interval <= 0 else "batch_size" if batch <= 0 \
                else "max_attachment_bytes"
            raise ConfigError(f"{prefix}.{bad}", "must be a positive number")
        mailbox = MailboxConfig(
            name=name, imap=replace(imap, password=password), folder=imap.path or "INBOX",
            idle=_typed(box, "idle", bool, True, prefix), poll_interval=float(interval),
            move_to=_typed(box, "move_to", str, None, prefix) or None,
            attachments_dir=Path(_typed(box, "attachments_dir", str, "attachments", prefix)),
            max_attachment_bytes=max_bytes, batch_size=batch, ca_certs=ca_certs,
        )
    smtp = None
    if "smtp_url" in box:
        endpoint = parse_url(_typed(box, "smtp_url", str, "", prefix), SMTP_SCHEMES,
                             f"{prefix}.smtp_url")
        password = _secret(box, env, "smtp_password", prefix, required=bool(endpoint.username))
        if endpoint.username:
            _check_plaintext(endpoint, allow_plain, f"{prefix}.smtp_url")
        candidates = [box.get("from_address"), endpoint.username,
                      mailbox.imap.username if mailbox else None]
        from_address = next((c for c in candidates if isinstance(c, str) and "@" in c), None)
        if not from_address:
            raise ConfigError(f"{prefix}.from_address",
                              "set the address replies are sent from, e.g. support@example.com")
        smtp = SmtpConfig(replace(endpoint, password=password), from_address.strip(),
                          ca_certs=ca_certs)
    return name, mailbox, smtp


def _typed(box: Mapping[str, Any], key: str, kind: Any, default: Any, prefix: str) -> Any:
    value = box.get(key, default)
    if value is not None and (not isinstance(value, kind) or
                              (kind is not bool and isinstance(value, bool))):
        names = " or ".join(k.__name__ for k in kind) if isinstance(kind, tuple) else kind.__name__
        raise ConfigError(f"{prefix}.{key}", f"must be {names}, got {type(value).__name__}")
    return value


def _ca_certs(box: Mapping[str, Any], prefix: str) -> str | None:
    """The absolute path of a loadable PEM CA bundle, or None for the system CA store."""
    value = _typed(box, "ca_certs", str, None, prefix)
    if value is None:
        return None
    key = f"{prefix}.ca_certs"
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(key, f"no such file: {value!r}; give the path of the PEM file of the "
                               "CA that signed the server's certificate, or remove the setting "
                               "to trust the system CA store")
    try:
        tls_context(str(path))
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(key, f"{value!r} is not a readable PEM CA bundle "
                               f"({exc.strerror or exc}); give the CA certificate in PEM "
                               "form (-----BEGIN CERTIFICATE-----)") from None
    return str(path.resolve())


def _secret(box: Mapping[str, Any], env: Mapping[str, str], key: str, prefix: str,
            required: bool) -> str | None:
    if key in box:
        return str(_typed(box, key, str, "", prefix))
    var = box.get(f"{key}_env")
    if var is not None:
        if not isinstance(var, str) or var not in env:
            raise ConfigError(f"{prefix}.{key}_env", f"environment variable {var!r} is not set")
        return env[var]
    if required:
        raise ConfigError(f"{prefix}.{key}", f"set {key} or {key}_env (the name of an "
                                             "environment variable holding it)")
    return None


def _check_plaintext(endpoint: Endpoint, allowed: bool, key: str) -> None:
    if endpoint.security == "plain" and not endpoint.loopback and not allowed:
        raise ConfigError(key, f"{endpoint.scheme}:// would send the password unencrypted to "
                               f"{endpoint.host}; use {endpoint.scheme}s:// or "
                               f"{endpoint.scheme}+starttls://, or set allow_plaintext = true")


# --- cursor: plain values advanced by pure functions -------------------------------------------


def resume_after(cursor: Mapping[str, Any] | None, uidvalidity: int) -> int:
    """The last UID already ingested under this UIDVALIDITY; 0 means start from UID 1."""
    if not cursor or cursor.get("uidvalidity") != uidvalidity:
        return 0
    return int(cursor.get("last_uid", 0))


def advance(uidvalidity: int, last_uid: int) -> dict[str, int]:
    """The cursor covering every UID up to last_uid."""
    return {"uidvalidity": uidvalidity, "last_uid": last_uid}


# --- attachments -------------------------------------------------------------------------------


class AttachmentWriter(Protocol):
    def write(self, ref: str, data: bytes) -> None:
        """Keep an attachment's content under its ref ("sha256:<hex>"); idempotent."""

    def path(self, ref: str) -> Path:
        """Where the content of a ref is kept (ValueError for refs it did not make)."""


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
            self.client = client
            if ep.security == "starttls":
                client.starttls(context)
        except ssl.SSLCertVerificationError as exc:
            raise _not_verified(exc, ep) from None
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

    def fetch(self, uids: Sequence[int]) -> dict[int, bytes]:
        assert self.client is not None
        data = self.client.fetch(list(uids), ["BODY.PEEK[]"])
        return {uid: bytes(item[b"BODY[]"]) for uid, item in data.items() if b"BODY[]" in item}

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
                 ) -> None:
        self.config = config
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
                    delay = self._backoff(self._failures)
                    self._state = "reconnecting"
                    self._next_poll = datetime.now(UTC) + timedelta(seconds=delay)
                    log.warning("email connection failed, retrying in %.1fs", delay,
                                extra={"stream": self.name, "error": self._last_error,
                                       "failures": self._failures})
                    await asyncio.sleep(delay)
        finally:
            self._idle = False
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
                await self._poll(session, ctx)
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

    async def _poll(self, session: _Session, ctx: ConnectorContext) -> IngestResult:
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
        stored: list[Message] = []
        updated: list[Message] = []
        duplicates = 0
        for start in range(0, len(uids), self.config.batch_size):
            batch = uids[start:start + self.config.batch_size]
            raws = await session.call(session.imap.fetch, batch)
            parsed, dead = await asyncio.to_thread(self._parse_batch, raws)
            for uid, raw, error in dead:
                log.warning("unparseable email sent to dead letters",
                            extra={"stream": self.name, "uid": uid, "error": error})
                await ctx.dead_letter(self.name, raw, error)
            result = await ctx.ingest([p for _, p in parsed]) if parsed else IngestResult()
            stored += result.stored
            updated += result.updated
            duplicates += result.duplicates
            if self.config.move_to and parsed:
                await session.call(session.imap.move, [uid for uid, _ in parsed],
                                   self.config.move_to)
            self._cursor = advance(uidvalidity, batch[-1])
            await ctx.save_cursor(self.name, self._cursor)
            log.info("email batch ingested", extra={
                "stream": self.name, "fetched": len(raws), "stored": len(result.stored),
                "duplicates": result.duplicates, "dead": len(dead), "last_uid": batch[-1]})
        self._last_poll = datetime.now(UTC)
        return IngestResult(stored=tuple(stored), updated=tuple(updated), duplicates=duplicates)

    def _parse_batch(
        self, raws: Mapping[int, bytes]
    ) -> tuple[list[tuple[int, Inbound]], list[tuple[int, bytes, str]]]:
        parsed: list[tuple[int, Inbound]] = []
        dead: list[tuple[int, bytes, str]] = []
        for uid in sorted(raws):
            raw = raws[uid]
            try:
                result: ParsedEmail = parse_message(
                    raw, max_attachment_bytes=self.config.max_attachment_bytes)
            except EmailParseError as exc:
                dead.append((uid, raw, str(exc)))
                continue
            except Exception as exc:  # one odd mail must not stop the mailbox
                log.exception("email parser failed", extra={"stream": self.name, "uid": uid})
                dead.append((uid, raw, f"parser failed: {type(exc).__name__}: {exc}"))
                continue
            for ref, data in result.blobs.items():
                self.attachments.write(ref, data)
            meta = {**result.inbound.meta, "mailbox": self.config.name,
                    "folder": self.config.folder, "imap_uid": uid}
            parsed.append((uid, replace(result.inbound, meta=meta)))
        return parsed, dead

    def _backoff(self, failures: int) -> float:
        ceiling = min(self.config.reconnect_max, self.config.reconnect_min * 2 ** (failures - 1))
        return random.uniform(ceiling / 2, ceiling)

    def _failed(self, exc: BaseException) -> None:
        self._last_error = f"{type(exc).__name__}: {_text(exc)}"
        self._last_error_at = datetime.now(UTC)
        self._state = "failed" if isinstance(exc, AuthFailed) else "error"
        if isinstance(exc, AuthFailed):
            log.error("email login refused; fix the credentials and restart",
                      extra={"stream": self.name, "error": self._last_error})


# --- SMTP --------------------------------------------------------------------------------------

_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|antw|vs)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


def reply_subject(subject: str | None, conversation_id: str) -> str:
    """'Re: <subject> [#<conversation id>]' without stacking Re: or the token."""
    base = CONVERSATION_TOKEN.sub("", subject or "")
    base = " ".join(_REPLY_PREFIX.sub("", base).split()) or "Your message"
    return f"Re: {base} [#{conversation_id}]"


def _last_inbound(history: Sequence[Message]) -> Message | None:
    inbound = [m for m in history if m.direction == "inbound"]
    human = [m for m in inbound if not m.automated]
    candidates = human or inbound
    return candidates[-1] if candidates else None


def reply_recipients(out: Outbound) -> list[str]:
    """Reply-To of the last inbound message, else the address it came from, else the customer's."""
    known = [i.value for i in out.customer.identities if i.kind == "email"]
    last = _last_inbound(out.history)
    if last is not None:
        reply_to = last.meta.get("reply_to")
        if reply_to:
            return [reply_to] if isinstance(reply_to, str) else list(reply_to)
        used = [k for k in last.author_keys if k in known]
        if used:
            return used[:1]
    return known[:1]


class EmailSender:
    """Sends agent replies by SMTP, threaded under the customer's last email.

    One sender serves every mailbox: a reply goes out through the SMTP account of the mailbox
    the customer last wrote to (inbound meta "mailbox"), else through the first account.
    """

    def __init__(self, accounts: Mapping[str, SmtpConfig], *, channel: str = CHANNEL) -> None:
        if not accounts:
            raise ValueError("EmailSender needs at least one SMTP account")
        self.accounts = dict(accounts)
        self.channel = channel

    def for_channel(self, channel: str) -> EmailSender:
        """The same sender registered for another channel (web form replies go by email)."""
        return EmailSender(self.accounts, channel=channel)

    def account(self, out: Outbound) -> SmtpConfig:
        """The SMTP account to answer this conversation from."""
        last = _last_inbound(out.history)
        name = last.meta.get("mailbox") if last is not None else None
        return self.accounts.get(str(name), next(iter(self.accounts.values())))

    def check(self, out: Outbound) -> None:
        """Refused if the customer has no email address to answer."""
        if not any(i.kind == "email" for i in out.customer.identities):
            raise Refused("this customer has no email address; reply on another channel")

    def build(self, out: Outbound) -> EmailMessage:
        """The reply as an EmailMessage with Message-ID, threading headers and subject token."""
        self.check(out)
        from_address = self.account(out).from_address
        msg = EmailMessage()
        msg["Message-ID"] = make_msgid(idstring=out.message.id,
                                       domain=from_address.rpartition("@")[2] or None)
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["From"] = from_address
        msg["To"] = ", ".join(reply_recipients(out))
        last = _last_inbound(out.history)
        parent = _email_id(last) if last is not None else None
        if last is not None and parent:
            refs = [r for r in last.meta.get("references") or [] if r != parent]
            msg["In-Reply-To"] = f"<{parent}>"
            msg["References"] = " ".join(f"<{r}>" for r in [*refs, parent])
        subject = out.conversation.subject or (last.subject if last else None)
        msg["Subject"] = reply_subject(subject, out.conversation.id)
        msg.set_content(out.message.text)
        return msg

    async def send(self, out: Outbound) -> Receipt:
        """Deliver the reply; RetryableError for temporary failures, FatalError for permanent."""
        msg = self.build(out)
        recipients = [a.addr_spec for a in msg["To"].addresses]
        refused = await asyncio.to_thread(self._deliver, self.account(out), msg, recipients)
        mid = str(msg["Message-ID"]).strip().strip("<>")
        log.info("email reply sent", extra={"conversation": out.conversation.id,
                                            "recipients": len(recipients)})
        meta: dict[str, Any] = {
            "message_id": mid, "to": recipients, "subject": str(msg["Subject"]),
            "in_reply_to": str(msg["In-Reply-To"]).strip("<>") if msg["In-Reply-To"] else None,
            "references": re.findall(r"<([^<>]+)>", str(msg["References"] or "")),
        }
        if refused:
            meta["refused"] = {k: f"{code} {_decode(text)}" for k, (code, text) in refused.items()}
        return Receipt(provider_id=mid.lower(), thread_keys=(f"mid:{mid.lower()}",), meta=meta)

    @staticmethod
    def _deliver(account: SmtpConfig, msg: EmailMessage, recipients: list[str]
                 ) -> dict[str, tuple[int, bytes]]:
        ep, timeout = account.endpoint, account.timeout
        context = tls_context(account.ca_certs)
        try:
            smtp = (smtplib.SMTP_SSL(ep.host, ep.port, timeout=timeout, context=context)
                    if ep.security == "ssl" else smtplib.SMTP(ep.host, ep.port, timeout=timeout))
            with smtp:
                if ep.security == "starttls":
                    smtp.starttls(context=context)
                if ep.username:
                    smtp.login(ep.username, ep.password or "")
                return smtp.send_message(msg, from_addr=account.from_address,
                                         to_addrs=recipients)
        except smtplib.SMTPAuthenticationError as exc:
            raise AuthFailed(f"SMTP login as {ep.username!r} at {ep.host}:{ep.port} was refused "
                             f"({exc.smtp_code} {_decode(exc.smtp_error)}); check smtp_password"
                             ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            why = "; ".join(f"{r}: {c} {_decode(t)}" for r, (c, t) in exc.recipients.items())
            if all(code >= 500 for code in codes):
                raise FatalError(f"recipient refused: {why}") from None
            raise RetryableError(f"recipient temporarily refused: {why}") from None
        except ssl.SSLCertVerificationError as exc:
            raise _not_verified(exc, ep) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise FatalError(f"SMTP server {ep.host}:{ep.port}: {exc}") from None
        except smtplib.SMTPResponseException as exc:
            why = f"{exc.smtp_code} {_decode(exc.smtp_error)}"
            if exc.smtp_code >= 500:
                raise FatalError(f"SMTP server rejected the reply: {why}") from None
            raise RetryableError(f"SMTP server deferred the reply: {why}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise RetryableError(f"SMTP server {ep.host}:{ep.port} unreachable: "
                                 f"{type(exc).__name__}: {exc}") from None


def _email_id(message: Message) -> str | None:
    mid = message.meta.get("message_id")
    if mid:
        return str(mid)
    if message.channel == CHANNEL and not message.external_id.startswith("sha256:"):
        return message.external_id
    return None


def _decode(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
