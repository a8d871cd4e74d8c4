"""The HTTP side of the X connector: tweepy's AsyncClient on a redirecting, header-recording
session, error mapping onto inbox.errors, and the pure pacing rules (backoff: inbox.retry)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import tweepy.errors as tx
from tweepy.asynchronous import AsyncClient
from yarl import URL

from inbox.errors import (
    AuthFailed,
    ConfigError,
    FatalError,
    InboxError,
    RateLimited,
    Refused,
    RetryableError,
)

X_HOST = "https://api.twitter.com"
WINDOW = 15 * 60.0  # X rate-limit window, seconds
DAY = 24 * 3600.0  # the window of the 24-hour app and user limits
MAX_DETAIL = 500  # characters of an error body quoted in an error message
Clock = Callable[[], float]  # seconds since the epoch, like time.time


class UsageCapExceeded(FatalError):
    """The project's monthly post cap is spent: nothing to do but wait or upgrade."""

    def __init__(self, message: str, paused_until: float) -> None:
        self.paused_until = paused_until
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class RateLimit:
    limit: int
    remaining: int
    reset: float  # epoch seconds


def epoch_header(headers: Mapping[str, str], name: str) -> float | None:
    """A header holding epoch seconds; None when missing or not a finite number."""
    try:
        value = float(headers[name])
    except (KeyError, ValueError, TypeError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def rate_limit_from(headers: Mapping[str, str]) -> RateLimit | None:
    """The x-rate-limit-* headers; None when any is missing or unreadable (counts below
    zero read as zero)."""
    try:
        limit = int(headers["x-rate-limit-limit"])
        remaining = int(headers["x-rate-limit-remaining"])
    except (KeyError, ValueError, TypeError):
        return None
    reset = epoch_header(headers, "x-rate-limit-reset")
    if reset is None:
        return None
    return RateLimit(max(limit, 0), max(remaining, 0), reset)


def until_reset(reset: float, now: float, window: float = WINDOW) -> float:
    """Seconds until a reset time, at most one window (a reset further away is not X's)."""
    return min(max(reset - now, 0.0), window)


def next_delay(interval: float, budget: RateLimit | None, now: float, share: int = 1) -> float:
    """Seconds to the next poll: the configured interval, stretched so that the requests left
    in this window last until it resets (``share`` streams draw on the same endpoint)."""
    if budget is None or budget.reset <= now:
        return interval
    left = until_reset(budget.reset, now)
    if budget.remaining <= 0:
        return max(interval, left + 1)
    return max(interval, left * share / budget.remaining)


class _Recorded:
    """Wraps aiohttp's request context manager to see each response's headers."""

    def __init__(self, inner: Any, on_response: Callable[[aiohttp.ClientResponse], None]) -> None:
        self._inner = inner
        self._on_response = on_response

    async def __aenter__(self) -> aiohttp.ClientResponse:
        response: aiohttp.ClientResponse = await self._inner.__aenter__()
        self._on_response(response)
        return response

    async def __aexit__(self, *exc: object) -> None:
        await self._inner.__aexit__(*exc)


class XSession:
    """What AsyncClient.session is set to: sends X requests to ``base_url`` instead of the X
    host (OAuth 1.0a signatures stay those of the X URL) and records the rate-limit headers
    of the last response per path."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str = X_HOST,
                 limits: dict[str, RateLimit] | None = None) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.limits = {} if limits is None else limits

    def request(self, method: str, url: str | URL, **kwargs: Any) -> _Recorded:
        text = str(url)
        path = URL(text).path
        if text.startswith(X_HOST):
            text = self.base_url + text[len(X_HOST):]
        target: str | URL = URL(text, encoded=True) if isinstance(url, URL) else text
        return _Recorded(self.session.request(method, target, **kwargs),
                         lambda r: self._record(path, r))

    def _record(self, path: str, response: aiohttp.ClientResponse) -> None:
        budget = rate_limit_from(response.headers)
        if budget is not None:
            self.limits[path] = budget


class _NoSecretDumps(logging.Filter):
    """tweepy logs every request with its headers (the Authorization secret) at DEBUG, and
    oauthlib the signed parameters (the access token): drop those records."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("oauthlib"):
            return record.levelno > logging.DEBUG
        return not str(record.msg).startswith("Making API request")


def _guard_library_logs() -> None:
    for name in ("tweepy.asynchronous.client", "oauthlib.oauth1.rfc5849"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoSecretDumps) for f in logger.filters):
            logger.addFilter(_NoSecretDumps())


@dataclass(frozen=True, slots=True)
class Credentials:
    bearer_token: str | None = None
    consumer_key: str | None = None
    consumer_secret: str | None = None
    access_token: str | None = None
    access_token_secret: str | None = None
    user_token: str | None = None  # OAuth 2 user-context access token

    @property
    def oauth1(self) -> bool:
        return bool(self.consumer_key and self.access_token)

    @property
    def user_context(self) -> bool:
        return self.oauth1 or bool(self.user_token)

    def __repr__(self) -> str:  # never show secrets, not even in tracebacks
        return "Credentials(***)"


class XApi:
    """One aiohttp session and two tweepy clients (app reads, user-context DMs and posts),
    shared by every X stream and the sender. Callers hold the session open with
    ``async with api.opened():``; it closes when the last holder leaves (``aclose()`` closes
    it at once; a later call opens a new one)."""

    def __init__(self, creds: Credentials, base_url: str = X_HOST, timeout: float = 30.0) -> None:
        self._creds = creds
        self.base_url = base_url
        self._timeout = timeout
        self._session: XSession | None = None
        self._clients: dict[str, tuple[AsyncClient, bool]] = {}
        self._holders = 0
        self.limits: dict[str, RateLimit] = {}  # last x-rate-limit-* seen per path
        _guard_library_logs()

    @contextlib.asynccontextmanager
    async def opened(self) -> AsyncIterator[XApi]:
        self._holders += 1
        try:
            yield self
        finally:
            self._holders -= 1
            if self._holders == 0:
                await self.aclose()

    def _xsession(self) -> XSession:
        if self._session is None or self._session.session.closed:
            http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))
            self._session = XSession(http, self.base_url, self.limits)
            self._clients.clear()
        return self._session

    def _client(self, kind: str) -> tuple[AsyncClient, bool]:
        """The client for "read" or "user" requests and its user_auth flag."""
        session = self._xsession()
        if kind not in self._clients:
            c = self._creds
            if kind == "read" and (c.bearer_token or c.user_token):
                client, user_auth = AsyncClient(c.bearer_token or c.user_token,
                                                return_type=dict), False
            elif c.oauth1:
                client, user_auth = AsyncClient(
                    consumer_key=c.consumer_key, consumer_secret=c.consumer_secret,
                    access_token=c.access_token, access_token_secret=c.access_token_secret,
                    return_type=dict), True
            elif c.user_token:
                client, user_auth = AsyncClient(c.user_token, return_type=dict), False
            else:
                raise ConfigError("x.consumer_key", "DMs and replies need user-context "
                                  "credentials: set consumer_key, consumer_secret, access_token "
                                  "and access_token_secret (or user_token)")
            client.session = session
            self._clients[kind] = (client, user_auth)
        return self._clients[kind]

    async def call(self, kind: str, method: str, **params: Any) -> dict[str, Any]:
        """``AsyncClient.<method>(**params)`` with None values dropped; JSON as a dict."""
        client, user_auth = self._client(kind)
        args = {k: v for k, v in params.items() if v is not None}
        try:
            result = await getattr(client, method)(user_auth=user_auth, **args)
        except (TimeoutError, tx.TweepyException, aiohttp.ClientError):
            raise
        except Exception as exc:  # JSON that is not JSON, too deep, or breaks tweepy's reading
            raise RetryableError(f"X API reply could not be read ({method}): "
                                 f"{type(exc).__name__}: {str(exc)[:200]}") from exc
        if not isinstance(result, dict):
            raise RetryableError(f"X API reply to {method} is not a JSON object but "
                                 f"{type(result).__name__}")
        return result

    def rate_limit(self, path: str) -> RateLimit | None:
        return self.limits.get(path)

    async def aclose(self) -> None:
        # detached before closing: a caller that opens the API while this one closes gets
        # a new session, which is then not lost (nor left unclosed) when this one ends
        session, self._session = self._session, None
        self._clients.clear()
        if session is not None:
            await session.session.close()


async def _error_body(exc: tx.HTTPException) -> dict[str, Any]:
    try:
        body = await exc.response.json(content_type=None)
    except Exception:  # an unreadable error body is just empty
        return {}
    return body if isinstance(body, dict) else {}


def _detail(exc: tx.HTTPException, body: Mapping[str, Any]) -> str:
    parts = [str(body[k]) for k in ("title", "detail") if body.get(k)]
    parts += [str(m) for m in exc.api_messages if str(m) not in parts]
    return ("; ".join(parts) or str(exc))[:MAX_DETAIL]


def is_usage_cap(body: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
    text = " ".join(str(body.get(k, "")) for k in ("title", "type", "detail")).lower()
    return ("usagecap" in text or "usage-capped" in text or "usage cap" in text
            or headers.get("x-app-limit-24hour-remaining") == "0"
            or headers.get("x-user-limit-24hour-remaining") == "0")


async def as_inbox_error(exc: BaseException, now: float, cap_pause: float = 3600.0,
                         refuse_4xx: bool = False) -> InboxError | None:
    """Map a tweepy/aiohttp exception onto inbox.errors; None when it is not an API error."""
    if isinstance(exc, InboxError):
        return exc
    if isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError | ConnectionError):
        return RetryableError(f"X API unreachable: {type(exc).__name__}: {exc}")
    if not isinstance(exc, tx.HTTPException):
        return None
    body = await _error_body(exc)
    detail = _detail(exc, body)
    status = exc.response.status
    headers = exc.response.headers
    if isinstance(exc, tx.TooManyRequests):
        if is_usage_cap(body, headers):
            resets = [now + until_reset(r, now, DAY) for h in ("x-app-limit-24hour-reset",
                                                               "x-user-limit-24hour-reset")
                      if (r := epoch_header(headers, h)) is not None]
            until = max([now + cap_pause, *resets])
            return UsageCapExceeded(f"X usage cap exceeded: {detail}", until)
        budget = rate_limit_from(headers)
        wait = until_reset(budget.reset, now) + 1 if budget else 60.0
        return RateLimited(f"X rate limit reached: {detail}", max(1.0, wait))
    if isinstance(exc, tx.Unauthorized) or (isinstance(exc, tx.Forbidden) and not refuse_4xx):
        return AuthFailed(f"X refused the credentials ({status}): {detail}")
    if isinstance(exc, tx.TwitterServerError):
        return RetryableError(f"X API error {status}: {detail}")
    if refuse_4xx:
        return Refused(f"X refused it ({status}): {detail}")
    return FatalError(f"X API request failed ({status}): {detail}")
