"""Settings of the X channel, declared once: the [x] TOML section with INBOX_X_* env overrides."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.twitter_http import X_HOST, Credentials
from inbox.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Setting:
    key: str
    env: str | None
    kind: str  # secret | id | handle | rules | seconds | url | name
    default: Any
    help: str


SETTINGS = (
    Setting("bearer_token", "INBOX_X_BEARER_TOKEN", "secret", None,
            "app-only OAuth 2 bearer token, used for reading mentions and search"),
    Setting("bearer_token_env", None, "name", None,
            "name of an environment variable holding the bearer token"),
    Setting("user_id", "INBOX_X_USER_ID", "id", None, "numeric id of the brand account"),
    Setting("username", "INBOX_X_USERNAME", "handle", None, "brand handle, without @"),
    Setting("keywords", "INBOX_X_KEYWORDS", "rules", (),
            "listening rules (X search queries); in the env one per line"),
    Setting("consumer_key", "INBOX_X_CONSUMER_KEY", "secret", None, "OAuth 1.0a consumer key"),
    Setting("consumer_secret", "INBOX_X_CONSUMER_SECRET", "secret", None,
            "OAuth 1.0a consumer secret"),
    Setting("access_token", "INBOX_X_ACCESS_TOKEN", "secret", None,
            "OAuth 1.0a access token of the brand account (DMs and replies)"),
    Setting("access_token_secret", "INBOX_X_ACCESS_TOKEN_SECRET", "secret", None,
            "OAuth 1.0a access token secret"),
    Setting("user_token", "INBOX_X_USER_TOKEN", "secret", None,
            "OAuth 2 user-context access token (instead of OAuth 1.0a) for DMs and replies"),
    Setting("api_url", "INBOX_X_API_URL", "url", X_HOST, "base URL of the X API"),
    Setting("mentions_interval", "INBOX_X_MENTIONS_INTERVAL", "seconds", 60.0,
            "seconds between mention polls (stretched to fit the rate limit)"),
    Setting("search_interval", "INBOX_X_SEARCH_INTERVAL", "seconds", 120.0,
            "seconds between polls of each listening rule"),
    Setting("dm_interval", "INBOX_X_DM_INTERVAL", "seconds", 60.0,
            "seconds between DM polls"),
)
_BY_KEY = {s.key: s for s in SETTINGS}
_OAUTH1 = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
_HANDLE = re.compile(r"[A-Za-z0-9_]{1,15}")
MAX_QUERY = 512  # recent search query length limit


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


def _convert(s: Setting, value: Any, from_env: bool) -> Any:
    name = f"x.{s.key}"
    if s.kind in ("secret", "name"):
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(name, "must be a non-empty string")
        return value.strip()
    if s.kind == "id":
        text = str(value).strip() if isinstance(value, str | int) else ""
        if not text.isdigit():
            raise ConfigError(name, "must be the numeric user id of the brand account "
                              "(e.g. user_id = \"1234567890\"), not a handle")
        return text
    if s.kind == "handle":
        handle = str(value).strip().removeprefix("@")
        if not _HANDLE.fullmatch(handle):
            raise ConfigError(name, "must be an X handle: 1-15 letters, digits or _")
        return handle
    if s.kind == "rules":
        if from_env:
            value = str(value).splitlines()
        if not isinstance(value, list | tuple) or not all(isinstance(r, str) for r in value):
            raise ConfigError(name, 'must be a list of search queries, e.g. '
                              'keywords = ["acme outage", "\\"acme app\\" crash"]')
        rules = tuple(dict.fromkeys(r.strip() for r in value if r.strip()))
        for rule in rules:
            if len(rule) + len(" -is:retweet") > MAX_QUERY:
                raise ConfigError(name, f"rule {rule[:40]!r}... is longer than {MAX_QUERY} "
                                  "characters; split it into several rules")
        return rules
    if s.kind == "seconds":
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = -1.0
        if isinstance(value, bool) or not seconds >= 1:
            raise ConfigError(name, "must be a number of seconds >= 1, e.g. 60")
        return seconds
    url = str(value).strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
        raise ConfigError(name, "must be an http(s) URL, e.g. https://api.twitter.com")
    return url


def load_settings(config: Mapping[str, Any], env: Mapping[str, str]) -> XSettings | None:
    """The X settings, or None when neither [x] nor any INBOX_X_* variable is set."""
    section = config.get("x") or {}
    if not isinstance(section, Mapping):
        raise ConfigError("x", "must be a table: [x] with keys " + ", ".join(_BY_KEY))
    for key in section:
        if key not in _BY_KEY:
            raise ConfigError(f"x.{key}", "unknown key; known keys: " + ", ".join(_BY_KEY))
    in_env = {s.key: env[s.env] for s in SETTINGS
              if s.env and env.get(s.env, "").strip()}
    if not section and not in_env:
        return None
    values: dict[str, Any] = {}
    for s in SETTINGS:
        if s.key in in_env:
            values[s.key] = _convert(s, in_env[s.key], from_env=True)
        elif section.get(s.key) is not None:
            values[s.key] = _convert(s, section[s.key], from_env=False)
        else:
            values[s.key] = s.default
    if not values["bearer_token"] and values["bearer_token_env"]:
        var = values["bearer_token_env"]
        if not env.get(var, "").strip():
            raise ConfigError("x.bearer_token_env", f"environment variable {var} is not set; "
                              "export it or set bearer_token")
        values["bearer_token"] = env[var].strip()
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
