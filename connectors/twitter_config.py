"""Settings of the X channel, declared once: the [x] TOML table with INBOX_X_* env overrides."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.twitter_http import X_HOST, Credentials
from inbox.errors import ConfigError
from inbox.listening import query_problem
from inbox.settings import Setting, check_keys, read_table, secret, table_at

_HANDLE = re.compile(r"[A-Za-z0-9_]{1,15}")


def _token(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def _user_id(value: str) -> str:
    if not value.strip().isdigit():
        raise ValueError("must be the numeric user id of the brand account "
                         "(e.g. user_id = \"1234567890\"), not a handle")
    return value.strip()


def _handle(value: str) -> str:
    handle = value.strip().removeprefix("@")
    if not _HANDLE.fullmatch(handle):
        raise ValueError("must be an X handle: 1-15 letters, digits or _")
    return handle


def _rules(value: tuple[str, ...]) -> tuple[str, ...]:
    rules = tuple(dict.fromkeys(r.strip() for r in value if r.strip()))
    for rule in rules:
        if (problem := query_problem(rule)) is not None:
            raise ValueError(f"rule {rule[:40]!r}: {problem}")
    return rules


def _seconds(value: float) -> float:
    if not value >= 1:
        raise ValueError("must be a number of seconds >= 1, e.g. 60")
    return value


def _api_url(value: str) -> str:
    url = value.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
        raise ValueError("must be an http(s) URL, e.g. https://api.twitter.com")
    return url


_OAUTH1 = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
SETTINGS = (
    Setting("x.user_id", str, None, "numeric id of the brand account",
            env="INBOX_X_USER_ID", check=_user_id, example="1234567890"),
    Setting("x.username", str, None, "brand handle, without @", env="INBOX_X_USERNAME",
            check=_handle, example="acme"),
    Setting("x.bearer_token", str, None,
            "app-only OAuth 2 bearer token, for reading mentions and search",
            env="INBOX_X_BEARER_TOKEN", secret=True, check=_token),
    Setting("x.bearer_token_env", str, None,
            "name of an environment variable holding the bearer token", check=_token,
            example="INBOX_X_BEARER_TOKEN"),
    Setting("x.keywords", list, (), "listening rules (X search queries) imported once into "
            "the app's rules (then managed on /listening); in the environment one per line",
            env="INBOX_X_KEYWORDS", check=_rules,
            example=["acme outage", "\"acme app\" crash"]),
    Setting("x.consumer_key", str, None, "OAuth 1.0a consumer key (DMs and replies)",
            env="INBOX_X_CONSUMER_KEY", secret=True, check=_token),
    Setting("x.consumer_secret", str, None, "OAuth 1.0a consumer secret",
            env="INBOX_X_CONSUMER_SECRET", secret=True, check=_token),
    Setting("x.access_token", str, None, "OAuth 1.0a access token of the brand account",
            env="INBOX_X_ACCESS_TOKEN", secret=True, check=_token),
    Setting("x.access_token_secret", str, None, "OAuth 1.0a access token secret",
            env="INBOX_X_ACCESS_TOKEN_SECRET", secret=True, check=_token),
    Setting("x.user_token", str, None, "OAuth 2 user-context access token, instead of "
            "OAuth 1.0a, for DMs and replies", env="INBOX_X_USER_TOKEN", secret=True,
            check=_token),
    Setting("x.api_url", str, X_HOST, "base URL of the X API (or of your API gateway)",
            env="INBOX_X_API_URL", check=_api_url),
    Setting("x.mentions_interval", float, 60.0,
            "seconds between mention polls (stretched to fit the rate limit)",
            env="INBOX_X_MENTIONS_INTERVAL", check=_seconds),
    Setting("x.search_interval", float, 120.0,
            "seconds between listening polls (each searches every active rule; stretched to "
            "fit the rate limit)",
            env="INBOX_X_SEARCH_INTERVAL", check=_seconds),
    Setting("x.dm_interval", float, 60.0, "seconds between DM polls", env="INBOX_X_DM_INTERVAL",
            check=_seconds),
)


@dataclass(frozen=True, slots=True)
class XSettings:
    user_id: str
    credentials: Credentials
    username: str | None = None
    keywords: tuple[str, ...] = ()
    api_url: str = X_HOST
    mentions_interval: float = 60.0
    search_interval: float = 120.0
    dm_interval: float = 60.0
    search_margin: float = 120.0  # seconds inside the 7-day search window on fallback
    usage_cap_pause: float = 3600.0  # seconds a usage-capped stream waits before trying again
    backoff_base: float = 2.0
    backoff_cap: float = 300.0


def load_settings(config: Mapping[str, Any], env: Mapping[str, str]) -> XSettings | None:
    """The X settings, or None when neither [x] nor any INBOX_X_* variable is set."""
    section = table_at(config, "x")
    check_keys({"x": section}, SETTINGS)
    if not section and not any(env.get(s.env, "").strip() for s in SETTINGS if s.env):
        return None
    values = read_table(SETTINGS, section, env, "x")
    token = secret(values, env, "bearer_token", "x")
    values["bearer_token"] = token.strip() if token is not None else None
    if not values["user_id"]:
        raise ConfigError("x.user_id", "missing: set the numeric id of the brand account "
                          "(user_id in [x] or INBOX_X_USER_ID)")
    oauth1 = [k for k in _OAUTH1 if values[k]]
    if oauth1 and len(oauth1) < len(_OAUTH1):
        missing = next(k for k in _OAUTH1 if not values[k])
        raise ConfigError(f"x.{missing}", "missing: OAuth 1.0a needs all of " + ", ".join(_OAUTH1))
    creds = Credentials(**{k: values[k] for k in (*_OAUTH1, "bearer_token", "user_token")})
    if not (creds.bearer_token or creds.user_context):
        raise ConfigError("x.bearer_token", "no X credentials: set bearer_token (or "
                          "INBOX_X_BEARER_TOKEN) to read, plus consumer_key, consumer_secret, "
                          "access_token, access_token_secret (or user_token) for DMs and replies")
    return XSettings(
        user_id=values["user_id"], credentials=creds, username=values["username"],
        keywords=values["keywords"], api_url=values["api_url"],
        mentions_interval=values["mentions_interval"], search_interval=values["search_interval"],
        dm_interval=values["dm_interval"])
