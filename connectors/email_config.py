"""Email channel settings, declared once: mailboxes (IMAP) and their SMTP accounts, secrets,
TLS trust, loaded into frozen objects with errors that name the key."""

from __future__ import annotations

import ipaddress
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from connectors.email_limits import DEFAULT_LIMITS, ParseLimits
from connectors.email_parse import DEFAULT_MAX_ATTACHMENT_BYTES
from inbox.errors import ConfigError, RetryableError
from inbox.settings import Setting, check_keys, read_table, secret, table_at

IMAP_SCHEMES = {"imap": ("plain", 143), "imaps": ("ssl", 993), "imap+starttls": ("starttls", 143)}
SMTP_SCHEMES = {"smtp": ("plain", 25), "smtps": ("ssl", 465), "smtp+starttls": ("starttls", 587)}
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
    batch_size: int = 300  # fewer store commits and IMAP round trips; parsed by 2 processes
    timeout: float = 60.0  # socket timeout of one IMAP command
    reconnect_min: float = 1.0  # first backoff delay; doubles up to reconnect_max, with jitter
    reconnect_max: float = 300.0
    ca_certs: str | None = None  # PEM bundle trusted instead of the system CA store
    limits: ParseLimits = DEFAULT_LIMITS  # what one message may cost to fetch and parse


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    endpoint: Endpoint
    from_address: str
    timeout: float = 30.0
    ca_certs: str | None = None


def tls_context(ca_certs: str | None = None) -> ssl.SSLContext:
    """A client context that verifies the certificate and the host name.

    With ca_certs only that PEM bundle is trusted (a private CA), else the system CA store.
    """
    return ssl.create_default_context(cafile=ca_certs)


class CertificateNotVerified(RetryableError):
    """The server's TLS certificate failed verification (unknown CA, wrong host, expired).

    Retryable: nothing is lost, and once the server or ca_certs is fixed the next attempt works.
    """


def not_verified(exc: ssl.SSLCertVerificationError, ep: Endpoint) -> CertificateNotVerified:
    """The verification failure of a connection to ep, with a hint at the usual fix."""
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


def _mailbox_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("set a short name of letters, digits, '-', '_' or '.', "
                         "e.g. name = \"support\"")
    return value


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be a positive number")
    return value


def _not_negative(value: int) -> int:
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _message_bytes(value: int) -> int:
    if value < 64 * 1024:
        raise ValueError("must be at least 65536")
    return value


def _ca_certs(value: str) -> str:
    """The absolute path of a loadable PEM CA bundle."""
    path = Path(value).expanduser()
    if not path.is_file():
        raise ValueError(f"no such file: {value!r}; give the path of the PEM file of the CA "
                         "that signed the server's certificate, or remove the setting to "
                         "trust the system CA store")
    try:
        tls_context(str(path))
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"{value!r} is not a readable PEM CA bundle ({exc.strerror or exc}); "
                         "give the CA certificate in PEM form (-----BEGIN CERTIFICATE-----)"
                         ) from None
    return str(path.resolve())


BOX = "email.mailboxes[]"
COMMON = (
    Setting(f"{BOX}.name", str, None, "short name of the mailbox (\"default\" when there is "
            "only one)", check=_mailbox_name, example="support"),
    Setting(f"{BOX}.allow_plaintext", bool, False, "allow imap:// and smtp:// with a password "
            "to a host other than this one"),
    Setting(f"{BOX}.ca_certs", str, None, "PEM file of a private CA, trusted for IMAP and SMTP "
            "instead of the system CA store", env="INBOX_EMAIL_CA_CERTS", check=_ca_certs,
            example="/etc/inbox/mail-ca.pem"),
)
IMAP = (
    Setting(f"{BOX}.url", str, None, "IMAP folder to read: imap://, imaps:// or "
            "imap+starttls://user%40example.com@host:port/FOLDER",
            env="INBOX_EMAIL_URL",
            example="imaps://support%40example.com@mail.example.com:993/INBOX"),
    Setting(f"{BOX}.password", str, None, "IMAP password", env="INBOX_EMAIL_PASSWORD",
            secret=True),
    Setting(f"{BOX}.password_env", str, None, "name of an environment variable holding the "
            "IMAP password", example="INBOX_EMAIL_PASSWORD"),
    Setting(f"{BOX}.idle", bool, True, "new mail arrives by IMAP IDLE (else by polling)"),
    Setting(f"{BOX}.poll_interval", float, 60.0, "seconds between polls without IDLE",
            check=_positive),
    Setting(f"{BOX}.move_to", str, None, "folder mail is moved to once stored (default: left "
            "where it is)", example="Archive"),
    Setting(f"{BOX}.attachments_dir", str, "attachments", "directory attachments are kept in",
            env="INBOX_ATTACHMENTS_DIR"),
    Setting(f"{BOX}.max_attachment_bytes", int, DEFAULT_MAX_ATTACHMENT_BYTES,
            "larger attachments are listed but not kept", check=_not_negative),
    Setting(f"{BOX}.max_message_bytes", int, DEFAULT_LIMITS.max_message_bytes,
            "larger mail is fetched only in part", check=_message_bytes),
    Setting(f"{BOX}.batch_size", int, 300, "messages fetched and stored together",
            check=_positive),
)
SMTP = (
    Setting(f"{BOX}.smtp_url", str, None, "SMTP server for replies: smtp://, smtps:// or "
            "smtp+starttls://user%40example.com@host:port", env="INBOX_SMTP_URL",
            example="smtp+starttls://support%40example.com@mail.example.com:587"),
    Setting(f"{BOX}.smtp_password", str, None, "SMTP password", env="INBOX_SMTP_PASSWORD",
            secret=True),
    Setting(f"{BOX}.smtp_password_env", str, None, "name of an environment variable holding "
            "the SMTP password", example="INBOX_SMTP_PASSWORD"),
    Setting(f"{BOX}.from_address", str, None, "address replies are sent from (default: the "
            "SMTP or IMAP user name, if it is an address)", env="INBOX_EMAIL_FROM",
            example="support@example.com"),
)
SETTINGS = COMMON + IMAP + SMTP
_ENV_OF = {s.name: s.env for s in SETTINGS if s.env}


@dataclass(frozen=True, slots=True)
class EmailSettings:
    """The mailboxes to read and the SMTP account of each mailbox that answers."""

    mailboxes: tuple[MailboxConfig, ...] = ()
    accounts: Mapping[str, SmtpConfig] = field(default_factory=dict)


def load_email(config: Mapping[str, Any], env: Mapping[str, str], *, receive: bool = True,
               send: bool = True) -> EmailSettings:
    """[[email.mailboxes]], or one mailbox from INBOX_EMAIL_* variables, checked.

    Only the settings of what is asked are read: receiving needs no SMTP account.
    """
    section = table_at(config, "email")
    check_keys({"email": section}, SETTINGS)
    boxes = section.get("mailboxes")
    if boxes is None:
        if not any(env.get(_ENV_OF[key], "").strip() for key in ("url", "smtp_url")):
            return EmailSettings()
        try:
            return _load([({}, "env")], env, env, receive, send, default_name="default")
        except ConfigError as exc:  # name the variable to fix, not a file key
            name = exc.key.rpartition(".")[2]
            raise ConfigError(_ENV_OF.get(name) or exc.key,
                              str(exc).partition(": ")[2]) from None
    tables = [(box, f"email.mailboxes[{i}]") for i, box in enumerate(boxes)]
    return _load(tables, {}, env, receive, send,
                 default_name="default" if len(boxes) == 1 else None)


def _load(tables: list[tuple[Mapping[str, Any], str]], overrides: Mapping[str, str],
          env: Mapping[str, str], receive: bool, send: bool, default_name: str | None
          ) -> EmailSettings:
    """The mailboxes of these tables; `overrides` are the variables that win over a table
    (all of env for the one mailbox the environment describes, none for file tables)."""
    mailboxes: list[MailboxConfig] = []
    accounts: dict[str, SmtpConfig] = {}
    names: set[str] = set()
    for box, where in tables:
        values = read_table(COMMON, box, overrides, where)
        name = values["name"] or default_name
        if name is None:
            raise ConfigError(f"{where}.name", "set a short name of letters, digits, '-', '_' "
                                               "or '.', e.g. name = \"support\"")
        if name in names:
            raise ConfigError(f"{where}.name", f"{name!r} is used twice; names must be unique")
        names.add(name)
        imap_url = IMAP[0].read(box, overrides)
        if not (imap_url or SMTP[0].read(box, overrides)):
            raise ConfigError(f"{where}.url", "set url (imaps://user@host/INBOX) and/or smtp_url")
        if receive:
            imap = read_table(IMAP, box, overrides, where)
            if mailbox := _mailbox(name, {**values, **imap}, env, where):
                mailboxes.append(mailbox)
        if send:
            smtp = read_table(SMTP, box, overrides, where)
            if account := _account({**values, **smtp}, imap_url, env, where):
                accounts[name] = account
    return EmailSettings(tuple(mailboxes), accounts)


def _mailbox(name: str, values: Mapping[str, Any], env: Mapping[str, str],
             where: str) -> MailboxConfig | None:
    if values["url"] is None:
        return None
    imap = parse_url(values["url"], IMAP_SCHEMES, f"{where}.url")
    if not imap.username:
        raise ConfigError(f"{where}.url", "missing user name: imaps://user%40example.com"
                                          "@host/INBOX (write @ in the name as %40)")
    password = secret(values, env, "password", where)
    if password is None:
        raise ConfigError(f"{where}.password", "set password or password_env (the name of an "
                                               "environment variable holding it)")
    _check_plaintext(imap, values["allow_plaintext"], f"{where}.url")
    return MailboxConfig(
        name=name, imap=replace(imap, password=password), folder=imap.path or "INBOX",
        idle=values["idle"], poll_interval=values["poll_interval"],
        move_to=values["move_to"] or None, attachments_dir=Path(values["attachments_dir"]),
        max_attachment_bytes=values["max_attachment_bytes"], batch_size=values["batch_size"],
        ca_certs=values["ca_certs"],
        limits=replace(DEFAULT_LIMITS, max_message_bytes=values["max_message_bytes"]))


def _account(values: Mapping[str, Any], imap_url: str | None, env: Mapping[str, str],
             where: str) -> SmtpConfig | None:
    if values["smtp_url"] is None:
        return None
    endpoint = parse_url(values["smtp_url"], SMTP_SCHEMES, f"{where}.smtp_url")
    password = secret(values, env, "smtp_password", where)
    if endpoint.username:
        if password is None:
            raise ConfigError(f"{where}.smtp_password", "set smtp_password or "
                              "smtp_password_env (the name of an environment variable "
                              "holding it), or remove the user name from smtp_url")
        _check_plaintext(endpoint, values["allow_plaintext"], f"{where}.smtp_url")
    imap_user = unquote(urlsplit(imap_url).username or "") if imap_url else None
    candidates = [values["from_address"], endpoint.username, imap_user]
    from_address = next((c for c in candidates if isinstance(c, str) and "@" in c), None)
    if not from_address:
        raise ConfigError(f"{where}.from_address",
                          "set the address replies are sent from, e.g. support@example.com")
    return SmtpConfig(replace(endpoint, password=password), from_address.strip(),
                      ca_certs=values["ca_certs"])


def _check_plaintext(endpoint: Endpoint, allowed: bool, key: str) -> None:
    if endpoint.security == "plain" and not endpoint.loopback and not allowed:
        raise ConfigError(key, f"{endpoint.scheme}:// would send the password unencrypted to "
                               f"{endpoint.host}; use {endpoint.scheme}s:// or "
                               f"{endpoint.scheme}+starttls://, or set allow_plaintext = true")
