"""Settings declared once: the TOML file, INBOX_* environment overrides, and `inbox init`."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inbox.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Setting:
    key: str  # dotted path in the TOML file
    env: str | None
    default: Any
    help: str
    secret: bool = False


SETTINGS = (
    Setting("store.url", "INBOX_STORE", "sqlite:///./inbox.db",
            "sqlite:///path/to/inbox.db, or http(s)://host:9200 for Elasticsearch"),
    Setting("store.api_key", "INBOX_STORE_API_KEY", None, "Elasticsearch API key", secret=True),
    Setting("store.username", "INBOX_STORE_USERNAME", None, "Elasticsearch basic-auth user"),
    Setting("store.password", "INBOX_STORE_PASSWORD", None, "Elasticsearch basic-auth password",
            secret=True),
    Setting("store.ca_certs", "INBOX_STORE_CA_CERTS", None, "CA bundle for the cluster's TLS"),
    Setting("web.host", "INBOX_HOST", "127.0.0.1", "address the web server listens on"),
    Setting("web.port", "INBOX_PORT", 8080, "port the web server listens on"),
    Setting("web.public_url", "INBOX_PUBLIC_URL", None,
            "URL customers and agents use; https makes session cookies Secure"),
    Setting("web.trust_proxy", "INBOX_TRUST_PROXY", False,
            "take the client address from X-Forwarded-For (only behind your own proxy)"),
    Setting("forms.rate_limit", "INBOX_FORM_RATE_LIMIT", 5,
            "web-form posts allowed per client address per rate_window"),
    Setting("forms.rate_window", None, 60, "seconds of the web-form rate-limit window"),
    Setting("forms.max_bytes", None, 65536, "largest web-form request body"),
    Setting("identity.phone_region", "INBOX_PHONE_REGION", None,
            "country for phone numbers written without +country code (e.g. GB)"),
    Setting("privacy.marketing_contacts", "INBOX_MARKETING_CONTACTS", False,
            "show marketing customers' email addresses and phone numbers (search, VoC, CSV)"),
    Setting("enrich.enabled", "INBOX_ENRICH", True, "detect language and sentiment on ingest"),
    Setting("worker.lease_seconds", "INBOX_WORKER_LEASE", 60,
            "one worker polls at a time; another takes over this long after it stops"),
    Setting("auth.token_days", "INBOX_TOKEN_DAYS", None,
            "new API tokens expire after this many days (unset: they never expire)"),
    Setting("auth.argon2_time_cost", "INBOX_ARGON2_TIME_COST", 3,
            "argon2 passes per password hash (existing hashes are upgraded at sign-in)"),
    Setting("auth.argon2_memory_kib", "INBOX_ARGON2_MEMORY_KIB", 65536,
            "argon2 memory per password hash, in KiB"),
    Setting("auth.argon2_parallelism", "INBOX_ARGON2_PARALLELISM", 4,
            "argon2 lanes per password hash"),
    Setting("sla.timezone", "INBOX_TIMEZONE", "UTC", "time zone of the business calendar"),
    Setting("sla.country", None, None, "public holidays of this country (ISO code)"),
)
BY_KEY = {s.key: s for s in SETTINGS}


def _coerce(setting: Setting, value: Any) -> Any:
    if setting.default is None or value is None:
        return value
    kind = type(setting.default)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("1", "true", "yes", "on"):
            return True
        if str(value).lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(setting.key, f"'{value}' is not true/false")
    if kind is int:
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(setting.key, f"'{value}' is not a whole number") from exc
    return str(value)


def load(path: str | Path | None, env: Mapping[str, str]) -> dict[str, Any]:
    """The configuration: file (if any), then environment overrides, then defaults."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError("--config", f"no such file {path}; run `inbox init` to "
                              "write one") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("--config", f"{path} is not valid TOML: {exc}") from exc
    for setting in SETTINGS:
        section, _, name = setting.key.partition(".")
        table = data.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(section, "must be a table: write it as [" + section + "]")
        if setting.env and env.get(setting.env):
            table[name] = env[setting.env]
        table[name] = _coerce(setting, table.get(name, setting.default))
    return data


def get(config: Mapping[str, Any], key: str) -> Any:
    section, _, name = key.partition(".")
    return config.get(section, {}).get(name, BY_KEY[key].default if key in BY_KEY else None)


def template() -> str:
    """A commented inbox.toml listing every setting with its default."""
    lines = ["# unified-inbox configuration. Every key can also be set by the INBOX_* variable",
             "# named beside it; secrets belong in the environment, not in this file.", ""]
    section = None
    for s in SETTINGS:
        sec, _, name = s.key.partition(".")
        if sec != section:
            lines += ([""] if section else []) + [f"[{sec}]"]
            section = sec
        env = f" (env {s.env})" if s.env else ""
        lines.append(f"# {s.help}{env}")
        value = "" if s.default is None else _toml(s.default)
        lines.append(f"# {name} = {value}" if s.default is None or s.secret else
                     f"{name} = {value}")
    lines += EXTRA_TEMPLATE
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


EXTRA_TEMPLATE = [
    "",
    "# Response-time targets: durations like \"8h\", \"30m\", \"1d\". Channels listed in",
    "# calendar_time run 24/7; the others count business hours only.",
    "[sla.targets]",
    "email = \"8h\"",
    "webform = \"8h\"",
    "x = \"1h\"",
    "",
    "[sla.hours]",
    "mon = [\"09:00-17:00\"]",
    "tue = [\"09:00-17:00\"]",
    "wed = [\"09:00-17:00\"]",
    "thu = [\"09:00-17:00\"]",
    "fri = [\"09:00-17:00\"]",
    "",
    "# Public web forms, served at /forms/<slug>.",
    "[forms.contact]",
    "title = \"Contact us\"",
    "topics = [\"Billing\", \"Technical problem\", \"Other\"]",
    "",
    "# Email: one table per mailbox (or INBOX_EMAIL_URL / INBOX_SMTP_URL for a single one).",
    "# [[email.mailboxes]]",
    "# name = \"support\"",
    "# url = \"imaps://support%40example.com@mail.example.com:993/INBOX\"",
    "# password_env = \"INBOX_EMAIL_PASSWORD\"",
    "# smtp_url = \"smtp+starttls://support%40example.com@mail.example.com:587\"",
    "# smtp_password_env = \"INBOX_SMTP_PASSWORD\"",
    "# from_address = \"support@example.com\"",
    "",
    "# X: the brand account and listening rules (or INBOX_X_* variables).",
    "# [x]",
    "# user_id = \"1234567890\"",
    "# bearer_token_env = \"INBOX_X_BEARER_TOKEN\"",
    "# keywords = [\"northwind outage\", \"\\\"northwind mobile\\\" refund\"]",
]
