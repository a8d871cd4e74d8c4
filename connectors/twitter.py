"""X (Twitter) channel: mentions, keyword listening and DM streams; replies in twitter_send.

Each stream is one Connector with its own cursor, saved only after ``ctx.ingest`` returned:
    x:mentions        {"since_id": newest mention id}
    x:listen:<rule>#<query digest>  {"since_id": newest hit id}  (falls back to the 7-day
                      search window; a rule's edited query starts a cursor of its own)
    x:dms             {"last_event_id": newest DM event id}
    (and "unreadable": digests of served items without a readable id, dead-lettered once)
Every field of every reply is hostile: an item that cannot be read is dead-lettered alone
(stage parse, its JSON kept) and the cursor moves past it; see twitter_parse.
Polls are paced by the x-rate-limit-* headers of each endpoint; 429 waits for the reset, a
usage cap pauses the stream, 5xx/network errors back off, 401/403 stop it.
Listening is one stream, "x:listen", that follows the rules kept in the store
(ConnectorContext.listening; x.keywords without one): each poll reads the rules not paused
and searches each, its share of the search rate budget one over their number.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import tweepy.errors as tx

from connectors.twitter_config import SETTINGS as SETTINGS  # declared with the channel
from connectors.twitter_config import XSettings, load_settings
from connectors.twitter_http import (
    Clock,
    RateLimit,
    UsageCapExceeded,
    XApi,
    as_inbox_error,
    next_delay,
)
from connectors.twitter_parse import (
    is_retweet,
    json_object,
    newest,
    parse_dm,
    parse_tweet,
    snowflake_time,
    x_id,
)
from connectors.twitter_send import XSender as XSender  # the channel's reply sender
from inbox.errors import AuthFailed, InboxError, RateLimited, RetryableError
from inbox.listening import compiled_query
from inbox.model import Channel, Inbound
from inbox.ports import ActiveRule, ConnectorContext, IngestResult
from inbox.retry import backoff_delay

log = logging.getLogger(__name__)

TWEET_FIELDS = ["author_id", "conversation_id", "created_at", "referenced_tweets",
                "in_reply_to_user_id", "lang", "public_metrics", "entities",
                "edit_history_tweet_ids", "withheld"]
TWEET_EXPANSIONS = ["author_id", "referenced_tweets.id", "in_reply_to_user_id"]
USER_FIELDS = ["username", "name", "profile_image_url", "verified", "public_metrics"]
DM_EVENT_FIELDS = ["id", "text", "event_type", "created_at", "sender_id", "dm_conversation_id",
                   "participant_ids", "referenced_tweets", "attachments"]
DM_EXPANSIONS = ["sender_id", "participant_ids"]
SEARCH_WINDOW = timedelta(days=7)

Sleep = Callable[[float], Awaitable[Any]]


def _minted(item_id: str) -> datetime:
    """When an id was minted; the epoch for an id whose time is out of range."""
    try:
        return snowflake_time(item_id)
    except (ValueError, OverflowError, OSError):
        return datetime.fromtimestamp(0, UTC)


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts is not None else None


MAX_TOKEN = 1_000  # a next_token longer than this (or not text) ends the pagination
MAX_UNREADABLE = 1_000  # digests of id-less items remembered in a cursor


def _id_of(item: Any) -> str | None:
    return x_id(item.get("id")) if isinstance(item, Mapping) else None


def _raw(item: Any) -> str:
    """The item as the JSON X sent (ASCII: lone surrogates survive as escapes)."""
    try:
        return json.dumps(item, sort_keys=True)
    except (ValueError, TypeError, RecursionError):  # nested past what json writes back
        return repr(item)[:1_000_000]


def _digest(item: Any) -> str:
    return hashlib.sha256(_raw(item).encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Page:
    """One X API page read defensively: what is not of its JSON type is absent."""

    data: list[Any]
    includes: Mapping[str, Any]
    errors: Any
    next_token: str | None

    @classmethod
    def read(cls, body: Mapping[str, Any]) -> Page:
        data = body.get("data")
        found = body.get("meta")
        meta: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        includes = body.get("includes")
        token = meta.get("next_token")
        return cls(
            data=data if isinstance(data, list) else [] if data is None else [data],
            includes=includes if isinstance(includes, Mapping) else {},
            errors=body.get("errors"),
            next_token=token if isinstance(token, str) and 0 < len(token) <= MAX_TOKEN
            else None)


class Seen:
    """What one poll met: the newest id, and the items without a readable id (dead-lettered
    once: the digests of those still served are kept in the cursor, so a server that keeps
    sending one never dead-letters it twice)."""

    def __init__(self, cursor: Mapping[str, Any], key: str) -> None:
        old = cursor.get("unreadable")
        self.known = {d for d in old if isinstance(d, str)} if isinstance(old, list) else set()
        self.met: list[str] = []
        self.newest = self._floor = x_id(cursor.get(key))
        self._key, self._before = key, dict(cursor)
        self._tokens: set[str] = set()

    def new_token(self, token: str | None) -> bool:
        """Is this a next_token to follow (a server repeating one would loop forever)?"""
        if token is None or token in self._tokens:
            return False
        self._tokens.add(token)
        return True

    def fresh(self, item: Any) -> bool:
        """Count the item; False when the cursor already covers it (a server that ignores
        since_id) or it is an id-less item already dead-lettered."""
        item_id = _id_of(item)
        if item_id is not None:
            self.newest = newest([self.newest, item_id])
            return self._floor is None or int(item_id) > int(self._floor)
        digest = _digest(item)
        if digest not in self.met:
            self.met.append(digest)
        return digest not in self.known

    def cursor(self) -> dict[str, Any] | None:
        """The cursor to save, or None when it did not change."""
        new: dict[str, Any] = {self._key: self.newest} if self.newest else {}
        if self.met:
            new["unreadable"] = self.met[-MAX_UNREADABLE:]
        return new if new != self._before and new else None


class XStream:
    """Poll loop, pacing, error policy and status shared by the three kinds of stream."""

    channel = Channel.X
    min_page = 1  # the endpoint's smallest max_results

    def __init__(self, name: str, api: XApi, settings: XSettings, *, endpoint: str,
                 interval: float, share: int = 1, clock: Clock = time.time,
                 sleep: Sleep = asyncio.sleep, rng: random.Random | None = None,
                 page_size: int = 100) -> None:
        self.name = name
        self._api = api
        self._settings = settings
        self._endpoint = endpoint
        self._interval = interval
        self._share = share
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._page_size = max(self.min_page, min(100, page_size))
        self._failures = 0
        self._last_poll: float | None = None
        self._next_poll: float | None = None
        self._last_error: str | None = None
        self._last_error_at: float | None = None
        self._alert: str | None = None
        self._paused_until: float | None = None
        self._stopped = False
        self._last_result: IngestResult | None = None

    async def _poll(self, ctx: ConnectorContext) -> IngestResult:
        raise NotImplementedError

    async def poll_once(self, ctx: ConnectorContext) -> IngestResult:
        """Fetch everything new once, ingest it, advance the cursor; errors as inbox.errors."""
        self._last_poll = self._clock()
        try:
            async with self._api.opened():
                result = await self._poll(ctx)
        except Exception as exc:
            mapped = await as_inbox_error(exc, self._clock(), self._settings.usage_cap_pause)
            self._failed(str(mapped or exc))
            if mapped is None or mapped is exc:
                raise
            raise mapped from exc
        self._last_error = self._alert = None
        self._failures = 0
        self._last_result = result
        return result

    async def step(self, ctx: ConnectorContext) -> float | None:
        """One scheduled poll; the seconds until the next, or None when the stream stopped."""
        now = self._clock()
        if self._stopped:
            return None
        if self._paused_until is not None and now < self._paused_until:
            return self._paused_until - now
        self._paused_until = None
        try:
            await self.poll_once(ctx)
        except UsageCapExceeded as exc:
            self._paused_until = exc.paused_until
            self._alert = f"paused until {_iso(exc.paused_until)}: {exc}"
            log.error("X stream paused: %s", exc, extra={"stream": self.name})
            return max(1.0, exc.paused_until - now)
        except RateLimited as exc:
            log.warning("X rate limited for %.0fs", exc.retry_after, extra={"stream": self.name})
            return exc.retry_after
        except RetryableError as exc:
            delay = self._backoff()
            log.warning("X poll failed, retrying in %.1fs: %s", delay, exc,
                        extra={"stream": self.name, "failures": self._failures})
            return delay
        except InboxError as exc:  # refused credentials, a bad rule, a config error: a human
            self._stopped = True
            hint = "; fix the credentials and restart" if isinstance(exc, AuthFailed) else ""
            self._alert = f"stopped: {exc}{hint}"
            log.error("X stream stopped: %s", exc, extra={"stream": self.name})
            return None
        except Exception as exc:  # a bug or an unexpected reply: keep the stream alive, slowly
            self._failed(f"{type(exc).__name__}: {exc}")
            log.exception("X poll crashed", extra={"stream": self.name})
            return self._backoff()
        return next_delay(self._interval, self.budget(), self._clock(), self._share)

    async def run(self, ctx: ConnectorContext) -> None:
        """Poll on the budgeted schedule until cancelled (returns if the stream stopped;
        the runtime's supervisor runs it again later, as on a fresh start)."""
        self._stopped = False
        async with self._api.opened():
            while (delay := await self.step(ctx)) is not None:
                self._next_poll = self._clock() + delay
                await self._sleep(delay)
        self._next_poll = None

    def budget(self) -> RateLimit | None:
        return self._api.rate_limit(self._endpoint)

    def _backoff(self) -> float:
        """One more failure in a row: the seconds to wait before trying again."""
        self._failures += 1
        return backoff_delay(self._failures, self._rng, self._settings.backoff_base,
                             self._settings.backoff_cap)

    def _failed(self, error: str) -> None:
        self._last_error, self._last_error_at = error[:2000], self._clock()

    def _state(self) -> str:
        if self._stopped:
            return "stopped"
        if self._paused_until is not None and self._clock() < self._paused_until:
            return "paused"
        return "retrying" if self._failures else "waiting"

    def status(self) -> dict[str, Any]:
        budget = self.budget()
        result = self._last_result
        return {
            "name": self.name,
            "channel": str(self.channel),
            "state": self._state(),
            "last_poll": _iso(self._last_poll),
            "next_poll": _iso(self._next_poll),
            "remaining": budget.remaining if budget else None,
            "limit": budget.limit if budget else None,
            "reset": _iso(budget.reset) if budget else None,
            "last_error": self._last_error,
            "last_error_at": _iso(self._last_error_at) if self._last_error else None,
            "failures": self._failures,
            "alert": self._alert,
            "paused": self._paused_until is not None and self._clock() < self._paused_until,
            "paused_until": _iso(self._paused_until),
            "stopped": self._stopped,
            "last_result": None if result is None else {
                "stored": len(result.stored), "updated": len(result.updated),
                "duplicates": result.duplicates, "dead_lettered": len(result.dead)},
        }

    async def aclose(self) -> None:
        """Close the shared HTTP session now (polls and run() also close it when done)."""
        await self._api.aclose()

    async def _ingest(self, ctx: ConnectorContext, records: Sequence[Inbound]) -> IngestResult:
        return await ctx.ingest(records) if records else IngestResult()

    def _received(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def _parsed(self, ctx: ConnectorContext, items: Sequence[Any], seen: Seen,
                      parse: Callable[[Any], Inbound | None]) -> list[Inbound]:
        """Parse each item; one that fails goes to the dead letters (stage parse, its JSON
        kept), the rest go on."""
        out: list[Inbound] = []
        for item in items:
            if not seen.fresh(item):
                continue
            try:
                record = parse(item)
            except Exception as exc:  # kept raw with its error, never dropped
                error = f"{type(exc).__name__}: {exc}"
                log.warning("unparseable X item", extra={"stream": self.name,
                                                         "id": _id_of(item), "error": error})
                await ctx.dead_letter(self.name, _raw(item), error)  # stage "parse"
                continue
            if record is not None:
                out.append(record)
        return out


class _TweetStream(XStream):
    """Mentions and search: paginated tweet timelines cursored by since_id."""

    method = ""
    page_param = ""
    listening = False
    reads = 0  # posts X served the last poll (billed per post read)

    @property
    def cursor_key(self) -> str:
        return self.name

    def _tweet(self, tweet: Any, page: Page, received: datetime) -> Inbound | None:
        s = self._settings
        tweet = json_object(tweet, "tweet")
        if tweet.get("author_id") == s.user_id or is_retweet(tweet):
            return None  # our own posts are outbound; retweets are no one's message
        record = parse_tweet(tweet, page.includes, s.user_id, brand_username=s.username,
                             errors=page.errors, received=received)
        listening = self.listening and not record.meta["mentions_brand"]
        meta = {**record.meta, "stream": self.name}
        if self.listening:
            meta["rule"] = self.name.removeprefix("x:listen:")
        return replace(record, listening=listening, meta=meta)

    async def _timeline(self, ctx: ConnectorContext, params: dict[str, Any],
                        cursor: Mapping[str, Any]) -> IngestResult:
        """Every page since the cursor, ingested page by page; the cursor saved at the end."""
        total, token = IngestResult(), None
        seen, received = Seen(cursor, "since_id"), self._received()
        self.reads = 0
        while True:
            page = Page.read(await self._api.call("read", self.method, **params,
                                                  **{self.page_param: token}))
            self.reads += len(page.data)
            parse = partial(self._tweet, page=page, received=received)
            total = total + await self._ingest(ctx, await self._parsed(ctx, page.data, seen,
                                                                       parse))
            token = page.next_token
            if not seen.new_token(token):
                break
        if (new := seen.cursor()) is not None:
            await ctx.save_cursor(self.cursor_key, new)
        return total

    def _params(self) -> dict[str, Any]:
        return {"tweet_fields": TWEET_FIELDS, "expansions": TWEET_EXPANSIONS,
                "user_fields": USER_FIELDS, "max_results": self._page_size}


class MentionsStream(_TweetStream):
    method = "get_users_mentions"
    page_param = "pagination_token"
    min_page = 5

    async def _poll(self, ctx: ConnectorContext) -> IngestResult:
        cursor = await ctx.load_cursor(self.name) or {}
        return await self._timeline(ctx, {**self._params(), "id": self._settings.user_id,
                                          "since_id": x_id(cursor.get("since_id"))}, cursor)


class ListenStream(_TweetStream):
    """One listening rule: a recent-search query per poll. `rule` names it (its id, or the
    keyword itself); with `query` (a rule of the store) its cursor is the query's own, so
    an edited rule never asks its new query since an id of the old one."""

    method = "search_recent_tweets"
    page_param = "next_token"
    listening = True
    min_page = 10
    answered = False  # X has run its query once (a refusal it kept is cleared then)

    def __init__(self, rule: str, api: XApi, settings: XSettings, *, query: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(f"x:listen:{rule}", api, settings, **kwargs)
        self.rule = rule
        self.query = query if query is not None else compiled_query(rule)
        self._cursor_key = self.name if query is None else \
            f"{self.name}#{hashlib.sha256(query.encode()).hexdigest()[:16]}"

    @property
    def cursor_key(self) -> str:
        return self._cursor_key

    def _window_start(self) -> datetime:
        now = datetime.fromtimestamp(self._clock(), UTC)
        return now - SEARCH_WINDOW + timedelta(seconds=self._settings.search_margin)

    async def _poll(self, ctx: ConnectorContext) -> IngestResult:
        cursor = await ctx.load_cursor(self.cursor_key) or {}
        since_id = x_id(cursor.get("since_id"))
        params = {**self._params(), "query": self.query}
        if since_id and _minted(since_id) > self._window_start():
            try:
                return await self._timeline(ctx, {**params, "since_id": since_id}, cursor)
            except tx.BadRequest as exc:
                if "since_id" not in str(exc):
                    raise
                log.info("since_id outside the search window, using start_time",
                         extra={"stream": self.name})
        return await self._timeline(ctx, {**params, "start_time": self._window_start()}, cursor)


class ListeningStream(XStream):
    """Every listening rule, followed as the team changes them: each poll reads the active
    rules (ctx.listening, or x.keywords), starts a search for a new rule or an edited query,
    forgets paused and deleted ones, and searches each once. The search endpoint's budget
    is shared fairly: the next poll waits as long as that many streams would. A rule X
    refuses (400: a query it cannot run) is reported and skipped; the others go on."""

    def __init__(self, api: XApi, settings: XSettings, **kwargs: Any) -> None:
        super().__init__("x:listen", api, settings, endpoint="/2/tweets/search/recent",
                         interval=settings.search_interval, **kwargs)
        self._common = {k: v for k, v in kwargs.items() if k in ("clock", "sleep", "rng",
                                                                 "page_size")}
        self.rules: dict[str, ListenStream] = {}  # by rule id, as last polled
        self.errors: dict[str, str] = {}  # rule id -> why X refused its query

    @property
    def keywords(self) -> tuple[str, ...]:
        """The rules of x.keywords (imported into the store once)."""
        return self._settings.keywords

    async def _active(self, ctx: ConnectorContext) -> list[ActiveRule]:
        if ctx.listening is None:
            return [ActiveRule(k, compiled_query(k)) for k in self._settings.keywords]
        return list(await ctx.listening.active())

    def _follow(self, rules: Sequence[ActiveRule], from_store: bool) -> list[ListenStream]:
        """The rules' streams: kept while a rule's query is unchanged, new otherwise."""
        kept: dict[str, ListenStream] = {}
        for rule in rules:
            stream = self.rules.get(rule.id)
            if stream is None or stream.query != rule.query:
                stream = ListenStream(rule.id, self._api, self._settings,
                                      query=rule.query if from_store else None,
                                      endpoint=self._endpoint, interval=self._interval,
                                      **self._common)
                self.errors.pop(rule.id, None)
            kept[rule.id] = stream
        self.rules = kept
        self.errors = {k: v for k, v in self.errors.items() if k in kept}
        self._share = max(1, len(kept))
        return list(kept.values())

    async def _poll(self, ctx: ConnectorContext) -> IngestResult:
        total = IngestResult()
        for stream in self._follow(await self._active(ctx), ctx.listening is not None):
            try:
                result = await stream._poll(ctx)
            except tx.BadRequest as exc:  # this rule's query: the others go on
                error = str(exc)[:500]
                log.warning("X refused a listening rule", extra={"stream": stream.name,
                                                                 "error": str(exc)})
                if self.errors.get(stream.rule) != error and ctx.listening is not None:
                    await ctx.listening.refused(stream.rule, error)
                self.errors[stream.rule] = error
                continue
            if ctx.listening is not None:
                if stream.rule in self.errors or not stream.answered:
                    await ctx.listening.refused(stream.rule, None)  # X runs it (again)
                await ctx.listening.counted(stream.rule, stream.reads,
                                            (*result.stored, *result.known), result.stored)
            self.errors.pop(stream.rule, None)
            stream.answered = True
            total = total + result
        return total

    def status(self) -> dict[str, Any]:
        return {**super().status(), "rules": [
            {"rule": rule_id, "query": s.query, "error": self.errors.get(rule_id)}
            for rule_id, s in self.rules.items()]}


class DmStream(XStream):
    """Direct messages: newest first until the last stored event, ingested oldest first."""

    async def _poll(self, ctx: ConnectorContext) -> IngestResult:
        cursor = await ctx.load_cursor(self.name) or {}
        last = x_id(cursor.get("last_event_id"))
        seen, received = Seen(cursor, "last_event_id"), self._received()
        events: list[Any] = []
        users: list[Mapping[str, Any]] = []
        token, reached = None, False
        while not reached:
            page = Page.read(await self._api.call(
                "user", "get_direct_message_events", dm_event_fields=DM_EVENT_FIELDS,
                expansions=DM_EXPANSIONS, user_fields=USER_FIELDS, event_types="MessageCreate",
                max_results=self._page_size, pagination_token=token))
            found = page.includes.get("users")
            users += [u for u in found if isinstance(u, Mapping)] if isinstance(found, list) \
                else []
            for event in page.data:
                event_id = _id_of(event)
                if last and event_id and int(event_id) <= int(last):
                    reached = True
                    break
                events.append(event)
            token = page.next_token
            reached = reached or not seen.new_token(token)
        events.reverse()  # pages are newest first: ingest oldest first
        includes = {"users": users[::-1]}  # the newest copy of a user wins
        records = await self._parsed(ctx, events, seen,
                                     lambda e: self._dm(e, includes, received))
        result = await self._ingest(ctx, records)
        if (new := seen.cursor()) is not None:
            await ctx.save_cursor(self.name, new)
        return result

    def _dm(self, event: Any, includes: Mapping[str, Any], received: datetime
            ) -> Inbound | None:
        event = json_object(event, "DM event")
        kind = event.get("event_type", "MessageCreate")
        if not isinstance(kind, str):
            raise ValueError(f"DM event whose event_type is {type(kind).__name__}, not text")
        if kind != "MessageCreate":
            return None  # a participant joined or left: no one's message
        if str(event.get("sender_id")) == self._settings.user_id:
            return None  # our own outbound (sent here or from the X app), never a customer's
        record = parse_dm(event, includes, received=received)
        return replace(record, meta={**record.meta, "stream": self.name})


def build(settings: XSettings, *, clock: Clock = time.time, sleep: Sleep = asyncio.sleep,
          rng: random.Random | None = None, page_size: int = 100,
          ) -> tuple[list[XStream], list[XSender]]:
    """The streams and sender for these settings, sharing one XApi."""
    api = XApi(settings.credentials, settings.api_url)
    common: dict[str, Any] = {"clock": clock, "sleep": sleep, "rng": rng, "page_size": page_size}
    streams: list[XStream] = [MentionsStream(
        "x:mentions", api, settings, endpoint=f"/2/users/{settings.user_id}/mentions",
        interval=settings.mentions_interval, **common)]
    streams.append(ListeningStream(api, settings, **common))
    senders: list[XSender] = []
    if settings.credentials.user_context:
        streams.append(DmStream("x:dms", api, settings, endpoint="/2/dm_events",
                                interval=settings.dm_interval, **common))
        senders.append(XSender(api, settings, clock=clock))
    return streams, senders


def configure(config: Mapping[str, Any], env: Mapping[str, str], *, receive: bool = True,
              send: bool = True) -> tuple[list[XStream], list[XSender]]:
    """Streams (receive) and the sender (send) from the [x] table of the config and
    INBOX_X_* env (env wins); ([], []) when X is not configured; ConfigError on bad values."""
    settings = load_settings(config, env)
    if settings is None:
        return [], []
    streams, senders = build(settings)
    return (streams if receive else []), (senders if send else [])


__all__ = ["DmStream", "ListenStream", "ListeningStream", "MentionsStream", "XSender", "XStream",
           "build", "configure", "parse_dm", "parse_tweet"]
