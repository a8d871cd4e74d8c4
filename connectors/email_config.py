"""Email channel settings: mailbox and SMTP URLs, secrets, TLS trust, checked with clear errors."""

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
from inbox.errors import ConfigError

IMAP_SCHEMES = {"imap": ("plain", 143), "imaps": ("ssl", 993), "imap+starttls": ("starttls", 143)}
SMTP_SCHEMES = {"smtp": ("plain", 25), "smtps": ("ssl", 465), "smtp+starttls": ("starttls", 587)}
MAILBOX_KEYS = frozenset({
    "name", "url", "password", "password_env", "idle", "poll_interval", "move_to", "smtp_url",
    "smtp_password", "smtp_password_env", "from_address", "attachments_dir",
    "max_attachment_bytes", "max_message_bytes", "allow_plaintext", "batch_size", "ca_certs",
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


ENV_KEYS = {"url": "INBOX_EMAIL_URL", "password": "INBOX_EMAIL_PASSWORD",
            "smtp_url": "INBOX_SMTP_URL", "smtp_password": "INBOX_SMTP_PASSWORD",
            "from_address": "INBOX_EMAIL_FROM", "ca_certs": "INBOX_EMAIL_CA_CERTS",
            "attachments_dir": "INBOX_ATTACHMENTS_DIR"}


def read_mailbox(
    box: Mapping[str, Any], env: Mapping[str, str], prefix: str, default_name: str | None
) -> tuple[str, MailboxConfig | None, SmtpConfig | None]:
    """One mailbox table (or the env settings): its name, IMAP and SMTP settings, checked."""
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
        max_message = _typed(box, "max_message_bytes", int, DEFAULT_LIMITS.max_message_bytes,
                             prefix)
        if interval <= 0 or max_bytes < 0 or batch <= 0 or max_message < 64 * 1024:
            bad = "poll_interval" if interval <= 0 else "batch_size" if batch <= 0 \
                else "max_attachment_bytes" if max_bytes < 0 else "max_message_bytes"
            raise ConfigError(f"{prefix}.{bad}", "must be a positive number"
                              if bad != "max_message_bytes" else "must be at least 65536")
        mailbox = MailboxConfig(
            name=name, imap=replace(imap, password=password), folder=imap.path or "INBOX",
            idle=_typed(box, "idle", bool, True, prefix), poll_interval=float(interval),
            move_to=_typed(box, "move_to", str, None, prefix) or None,
            attachments_dir=Path(_typed(box, "attachments_dir", str, "attachments", prefix)),
            max_attachment_bytes=max_bytes, batch_size=batch, ca_certs=ca_certs,
            limits=replace(DEFAULT_LIMITS, max_message_bytes=max_message),
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
