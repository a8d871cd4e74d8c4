"""A local fake of the X API v2, in the documented JSON shapes, for tests and demos.

Serves on 127.0.0.1 (port 0 by default):
    GET  /2/users/:id/mentions           GET /2/tweets/search/recent     GET /2/dm_events
    POST /2/tweets                       POST /2/dm_conversations/:id/messages
    POST /2/dm_conversations/with/:participant_id/messages
Scriptable per test: users (who may refuse the brand's DMs), tweets (replies, quotes,
retweets, edits, deletes, withheld, huge ids), DM events, injected faults (429 with reset,
503, usage cap, 401) and per-endpoint rate budgets sent as x-rate-limit-* headers. Posted
tweets and DMs are recorded; every request must carry an Authorization header, and OAuth
1.0a signatures are checked against the X host URL when the fake knows the secrets.

Run for a demo:  python -m tests.fakes.x_api --port 8081 --seed demo   (prints its URL)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

import pytest_asyncio
from aiohttp import web
from oauthlib.oauth1.rfc5849 import signature as oauth_sig

X_HOST = "https://api.twitter.com"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
X_EPOCH_MS = 1288834974657
WINDOW = 900  # seconds per rate-limit window
SEARCH_DAYS = 7
DEFAULT_FIELDS = {"tweet": ("id", "text", "edit_history_tweet_ids"),
                  "user": ("id", "name", "username"),
                  "dm_event": ("id", "event_type", "text")}
TOO_MANY = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank",
            "status": 429}
USAGE_CAPPED = {"account_id": 1, "product_name": "standard-basic", "title": "UsageCapExceeded",
                "period": "Monthly", "scope": "Product",
                "detail": "Usage cap exceeded: Monthly product cap",
                "type": "https://api.twitter.com/2/problems/usage-capped"}
UNAVAILABLE = {"title": "Service Unavailable", "detail": "Service Unavailable",
               "type": "about:blank", "status": 503}
UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401,
                "detail": "Unauthorized"}


def _problem(status: int, title: str, detail: str, kind: str = "about:blank") -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": kind, "status": status}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{int(ts * 1000) % 1000:03d}Z"


class ManualClock:
    """Time that moves only when told: ``clock()`` is now, ``await clock.sleep(s)`` advances."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@dataclass
class Fault:
    prefix: str
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


class FakeXApi:
    """The fake server; ``url`` is valid between ``start()`` and ``stop()``."""

    def __init__(self, *, clock: Callable[[], float] = time.time, brand_id: str = "1000000001",
                 brand_username: str = "acme", bearer_token: str | None = None,
                 oauth1_secrets: tuple[str, str] | None = None, limit: int = 450) -> None:
        self.clock = clock
        self.brand_id = brand_id
        self.bearer_token = bearer_token  # the app-only token; refused for user-context calls
        self.oauth1_secrets = oauth1_secrets  # (consumer secret, token secret) to verify
        self.limit = limit
        self.users: dict[str, dict[str, Any]] = {}
        self.tweets: dict[str, dict[str, Any]] = {}
        self.superseded: set[str] = set()  # old versions of edited posts
        self.dm_events: dict[str, dict[str, Any]] = {}
        self.posted_tweets: list[dict[str, Any]] = []
        self.posted_dms: list[dict[str, Any]] = []
        self.dms_closed: set[str] = set()  # users who do not accept DMs from the brand
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path, query
        self.faults: list[Fault] = []
        self.budgets: dict[str, list[float]] = {}  # endpoint -> [limit, remaining, reset]
        self.raw: dict[str, list[Any]] = {}  # endpoint -> hostile items (see add_raw)
        self.rewrites: dict[str, Callable[[dict[str, Any]], Any]] = {}  # endpoint -> body edit
        self.extra_headers: dict[str, str] = {}  # sent on every answer (hostile headers)
        self._seq = 0
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.add_user(brand_username, brand_username.capitalize(), id=brand_id)

    # --- scripting ---------------------------------------------------------------------

    def new_id(self) -> str:
        """A fresh post/DM id minted now (for hand-made items)."""
        return self._new_id(self.clock())

    def _new_id(self, at: float) -> str:
        self._seq += 1
        return str(((int(at * 1000) - X_EPOCH_MS) << 22) | (self._seq & 0x3FFFFF))

    def add_user(self, username: str, name: str | None = None, *, id: str | None = None,
                 verified: bool = False, withheld: dict[str, Any] | None = None,
                 accepts_dms: bool = True, followers: int = 0) -> str:
        """A user; without accepts_dms, X refuses the brand's DMs to them (403)."""
        user_id = id or str(2000000000 + len(self.users))
        if not accepts_dms:
            self.dms_closed.add(user_id)
        self.users[user_id] = {"id": user_id, "username": username, "name": name or username,
                               "verified": verified,
                               "profile_image_url": f"https://pbs.example/{username}.jpg",
                               "public_metrics": {"followers_count": followers,
                                                  "following_count": 0, "tweet_count": 1,
                                                  "listed_count": 0}}
        if withheld:
            self.users[user_id]["withheld"] = withheld
        return user_id

    def user_by_name(self, username: str) -> dict[str, Any] | None:
        return next((u for u in self.users.values()
                     if u["username"].lower() == username.lower()), None)

    def add_tweet(self, author_id: str, text: str, *, reply_to: str | None = None,
                  quote: str | None = None, retweet_of: str | None = None, lang: str = "en",
                  withheld: dict[str, Any] | None = None, id: str | None = None,
                  age: float = 0.0) -> str:
        """A post by ``author_id``, ``age`` seconds old; @handles in the text are mentions."""
        at = self.clock() - age
        tweet_id = id or self._new_id(at)
        mentions = []
        for m in re.finditer(r"@(\w{1,15})", text):
            entry: dict[str, Any] = {"start": m.start(), "end": m.end(), "username": m[1]}
            if user := self.user_by_name(m[1]):
                entry["id"] = user["id"]
            mentions.append(entry)
        refs = [{"type": kind, "id": ref} for kind, ref in
                (("replied_to", reply_to), ("quoted", quote), ("retweeted", retweet_of)) if ref]
        parent = self.tweets.get(reply_to or "")
        tweet: dict[str, Any] = {
            "id": tweet_id, "text": text, "author_id": author_id,
            "edit_history_tweet_ids": [tweet_id],
            "conversation_id": parent["conversation_id"] if parent else tweet_id,
            "created_at": _iso(at), "lang": lang,
            "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0,
                               "quote_count": 0, "bookmark_count": 0, "impression_count": 0},
        }
        if mentions:
            tweet["entities"] = {"mentions": mentions}
        if refs:
            tweet["referenced_tweets"] = refs
        if parent:
            tweet["in_reply_to_user_id"] = parent["author_id"]
        if withheld:
            tweet["withheld"] = withheld
        self.tweets[tweet_id] = tweet
        return tweet_id

    def edit_tweet(self, tweet_id: str, text: str) -> str:
        """A new version of a post: a new id, the edit history starting at the original."""
        old = self.tweets[tweet_id]
        new_id = self._new_id(self.clock())
        self.tweets[new_id] = {**old, "id": new_id, "text": text, "created_at": _iso(self.clock()),
                               "edit_history_tweet_ids": [*old["edit_history_tweet_ids"], new_id]}
        self.superseded.add(tweet_id)
        return new_id

    def delete_tweet(self, tweet_id: str) -> None:
        self.tweets.pop(tweet_id, None)

    def add_dm(self, sender_id: str, text: str, *, to: str | None = None,
               conversation_id: str | None = None, age: float = 0.0) -> str:
        at = self.clock() - age
        event_id = self._new_id(at)
        other = to or self.brand_id
        pair = sorted((sender_id, other), key=int)
        self.dm_events[event_id] = {
            "id": event_id, "event_type": "MessageCreate", "text": text,
            "sender_id": sender_id, "created_at": _iso(at),
            "dm_conversation_id": conversation_id or f"{pair[0]}-{pair[1]}",
            "participant_ids": pair}
        return event_id

    def add_raw(self, endpoint: str, item: Any) -> None:
        """A hostile item (any JSON) served verbatim at the head of the first page of
        ``endpoint`` (mentions | search | dm_events), as the newest, on every request, until a
        since_id at or past its id filters it (an item without a numeric id: never)."""
        self.raw.setdefault(endpoint, []).append(item)

    def _finish(self, request: web.Request, body: dict[str, Any]) -> web.Response:
        """The answer of a read endpoint, with its hostile items and rewrite applied."""
        endpoint = self._endpoint(request)
        first = not (request.query.get("pagination_token") or request.query.get("next_token"))
        since = request.query.get("since_id")
        raw = [i for i in self.raw.get(endpoint, ()) if first and not (
            since and isinstance(i, dict) and re.fullmatch("[0-9]{1,40}", str(i.get("id")))
            and int(i["id"]) <= int(since))]
        if raw:
            body = {**body, "data": raw + list(body.get("data", []))}
            body["meta"] = {**body.get("meta", {}), "result_count": len(body["data"])}
        rewrite = self.rewrites.get(endpoint)
        return web.json_response(rewrite(body) if rewrite else body)

    def fail(self, prefix: str, status: int = 503, body: Mapping[str, Any] | None = None,
             headers: Mapping[str, str] | None = None, times: int = 1) -> None:
        """The next ``times`` requests whose path starts with ``prefix`` get this answer."""
        default = UNAVAILABLE if status == 503 else _problem(status, "Error", f"HTTP {status}")
        self.faults.append(Fault(prefix, status, dict(body or default), dict(headers or {}),
                                 times))

    def rate_limit(self, prefix: str, reset_in: float, times: int = 1) -> None:
        reset = str(int(self.clock() + reset_in))
        self.fail(prefix, 429, TOO_MANY, {"x-rate-limit-limit": str(self.limit),
                                          "x-rate-limit-remaining": "0",
                                          "x-rate-limit-reset": reset}, times)

    def usage_cap(self, prefix: str, times: int = 1) -> None:
        self.fail(prefix, 429, USAGE_CAPPED, times=times)

    def set_budget(self, endpoint: str, limit: int, remaining: int, reset_in: float) -> None:
        """endpoint: mentions | search | dm_events | post_tweet | post_dm."""
        self.budgets[endpoint] = [limit, remaining, self.clock() + reset_in]

    # --- server ------------------------------------------------------------------------

    async def start(self, port: int = 0) -> str:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/2/users/{id}/mentions", self._mentions)
        app.router.add_get("/2/tweets/search/recent", self._search)
        app.router.add_get("/2/dm_events", self._dm_events)
        app.router.add_post("/2/tweets", self._post_tweet)
        app.router.add_post("/2/dm_conversations/with/{participant}/messages", self._post_dm)
        app.router.add_post("/2/dm_conversations/{conversation}/messages", self._post_dm)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        host, bound = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{bound}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeXApi:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _budget(self, endpoint: str) -> tuple[bool, dict[str, str]]:
        now = self.clock()
        budget = self.budgets.setdefault(endpoint, [self.limit, self.limit, now + WINDOW])
        if now >= budget[2]:
            budget[1:] = [budget[0], now + WINDOW]
        allowed = budget[1] > 0
        budget[1] = max(0, budget[1] - 1)
        return allowed, {"x-rate-limit-limit": str(int(budget[0])),
                         "x-rate-limit-remaining": str(int(budget[1])),
                         "x-rate-limit-reset": str(int(budget[2]))}

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append((request.method, request.path, dict(request.query)))
        auth = request.headers.get("Authorization", "")
        if not auth.startswith(("Bearer ", "OAuth ")):
            return web.json_response(UNAUTHORIZED, status=401)
        if auth.startswith("OAuth ") and not self._oauth1_valid(request, auth):
            return web.json_response(UNAUTHORIZED, status=401)
        user_only = request.method == "POST" or request.path.startswith("/2/dm_")
        if user_only and self.bearer_token and auth == f"Bearer {self.bearer_token}":
            return web.json_response(_problem(
                403, "Unsupported Authentication",
                "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint. "
                "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User "
                "Context].", "https://api.twitter.com/2/problems/unsupported-authentication"),
                status=403)
        for fault in self.faults:
            if request.path.startswith(fault.prefix):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return web.json_response(fault.body, status=fault.status, headers=fault.headers)
        endpoint = self._endpoint(request)
        allowed, headers = self._budget(endpoint)
        if not allowed:
            return web.json_response(TOO_MANY, status=429, headers=headers)
        response = await handler(request)
        response.headers.update(headers)
        response.headers.update(self.extra_headers)
        return response

    @staticmethod
    def _endpoint(request: web.Request) -> str:
        path = request.path
        if path.endswith("/mentions"):
            return "mentions"
        if path.startswith("/2/tweets/search"):
            return "search"
        if path == "/2/dm_events":
            return "dm_events"
        return "post_tweet" if path == "/2/tweets" else "post_dm"

    def _oauth1_valid(self, request: web.Request, auth: str) -> bool:
        fields = dict(re.findall(r'(\w+)="([^"]*)"', auth))
        if not {"oauth_consumer_key", "oauth_signature", "oauth_nonce"} <= fields.keys():
            return False
        if self.oauth1_secrets is None:
            return True
        params = oauth_sig.collect_parameters(uri_query=request.query_string,
                                              headers={"Authorization": auth})
        base = oauth_sig.signature_base_string(
            request.method, oauth_sig.base_string_uri(X_HOST + request.path),
            oauth_sig.normalize_parameters(params))
        secrets = SimpleNamespace(client_secret=self.oauth1_secrets[0],
                                  resource_owner_secret=self.oauth1_secrets[1])
        expected = oauth_sig.sign_hmac_sha1_with_client(base, secrets)
        return bool(unquote(fields["oauth_signature"]) == expected)

    # --- reads ---------------------------------------------------------------------------

    @staticmethod
    def _fields(request: web.Request, kind: str) -> set[str]:
        asked = request.query.get(f"{kind}.fields", "")
        return set(DEFAULT_FIELDS[kind]) | {f for f in asked.split(",") if f}

    @staticmethod
    def _pick(item: Mapping[str, Any], fields: set[str]) -> dict[str, Any]:
        return {k: v for k, v in item.items() if k in fields}

    def _bad(self, name: str, value: str, message: str) -> web.Response:
        return web.json_response({
            "errors": [{"parameters": {name: [value]}, "message": message}],
            "title": "Invalid Request", "detail": "One or more parameters to your request was "
            "invalid.", "type": "https://api.twitter.com/2/problems/invalid-request"},
            status=400)

    def _max_results(self, request: web.Request, low: int, default: int) -> int | web.Response:
        raw = request.query.get("max_results", str(default))
        if not raw.isdigit() or not low <= int(raw) <= 100:
            return self._bad("max_results", raw, f"The `max_results` query parameter value "
                             f"[{raw}] is not between {low} and 100")
        return int(raw)

    def _page(self, items: list[dict[str, Any]], request: web.Request, size: int,
              token_param: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Newest first; a token means "older than this id" (stable while posts arrive)."""
        items = sorted(items, key=lambda i: int(i["id"]), reverse=True)
        token = request.query.get(token_param)
        if token:
            items = [i for i in items if int(i["id"]) < int(token[1:], 16)]
        page = items[:size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta["newest_id"], meta["oldest_id"] = page[0]["id"], page[-1]["id"]
        if len(items) > size:
            meta["next_token"] = f"n{int(page[-1]['id']):x}"
        return page, meta

    def _tweets_response(self, request: web.Request, tweets: list[dict[str, Any]],
                         token_param: str, size: int) -> web.Response:
        page, meta = self._page(tweets, request, size, token_param)
        if not page:
            return self._finish(request, {"meta": meta})
        tweet_fields = self._fields(request, "tweet")
        user_fields = self._fields(request, "user")
        expansions = set(request.query.get("expansions", "").split(","))
        user_ids: list[str] = []
        included: dict[str, dict[str, Any]] = {}
        errors: list[dict[str, Any]] = []
        for tweet in page:
            if "author_id" in expansions and tweet.get("author_id"):
                user_ids.append(tweet["author_id"])
            if "in_reply_to_user_id" in expansions and tweet.get("in_reply_to_user_id"):
                user_ids.append(tweet["in_reply_to_user_id"])
            for ref in tweet.get("referenced_tweets", ()) if "referenced_tweets.id" in \
                    expansions else ():
                if ref["id"] in self.tweets:
                    included[ref["id"]] = self._pick(self.tweets[ref["id"]], tweet_fields)
                else:
                    errors.append({
                        "value": ref["id"], "resource_id": ref["id"], "resource_type": "tweet",
                        "parameter": "referenced_tweets.id", "title": "Not Found Error",
                        "detail": f"Could not find tweet with referenced_tweets.id: "
                                  f"[{ref['id']}].",
                        "type": "https://api.twitter.com/2/problems/resource-not-found"})
        body: dict[str, Any] = {"data": [self._pick(t, tweet_fields) for t in page]}
        includes: dict[str, Any] = {}
        users = [self._pick(self.users[u], user_fields) for u in dict.fromkeys(user_ids)
                 if u in self.users]
        if users:
            includes["users"] = users
        if included:
            includes["tweets"] = list(included.values())
        if includes:
            body["includes"] = includes
        if errors:
            body["errors"] = errors
        body["meta"] = meta
        return self._finish(request, body)

    def _live(self, since_id: str | None, start: float | None) -> Iterable[dict[str, Any]]:
        for tweet in self.tweets.values():
            if tweet["id"] in self.superseded:
                continue
            if since_id and int(tweet["id"]) <= int(since_id):
                continue
            if start is not None and \
                    ((int(tweet["id"]) >> 22) + X_EPOCH_MS) / 1000 < start:
                continue  # X filters on the id's time, whatever created_at says
            yield tweet

    async def _mentions(self, request: web.Request) -> web.Response:
        user_id = request.match_info["id"]
        size = self._max_results(request, 5, 10)
        if isinstance(size, web.Response):
            return size
        mentioned = [t for t in self._live(request.query.get("since_id"), None)
                     if any(m.get("id") == user_id
                            for m in t.get("entities", {}).get("mentions", ()))]
        return self._tweets_response(request, mentioned, "pagination_token", size)

    async def _search(self, request: web.Request) -> web.Response:
        size = self._max_results(request, 10, 10)
        if isinstance(size, web.Response):
            return size
        oldest = self.clock() - SEARCH_DAYS * 86400
        since_id = request.query.get("since_id")
        if since_id and ((int(since_id) >> 22) + X_EPOCH_MS) / 1000 < oldest:
            floor = (int(oldest * 1000) - X_EPOCH_MS) << 22
            return self._bad("since_id", since_id, (
                f"Invalid 'since_id':'{since_id}'. 'since_id' must be a tweet id created after "
                f"{_iso(oldest)}. Please use a 'since_id' that is larger than {floor}"))
        start_raw = request.query.get("start_time")
        start = datetime.fromisoformat(start_raw).timestamp() if start_raw else oldest
        if start < oldest:
            return self._bad("start_time", start_raw or "", (
                f"Invalid 'start_time':'{start_raw}'. 'start_time' must be on or after "
                f"{_iso(oldest)}"))
        query = request.query.get("query", "")
        hits = [t for t in self._live(since_id, start) if self._matches(query, t)]
        return self._tweets_response(request, hits, "next_token", size)

    def _matches(self, query: str, tweet: Mapping[str, Any]) -> bool:
        """A small subset of the search language: words, "phrases", -negation, is:retweet,
        from:handle, lang:xx — all ANDed."""
        text = tweet["text"].lower()
        author = self.users.get(tweet.get("author_id", ""), {}).get("username", "").lower()
        retweet = any(r["type"] == "retweeted" for r in tweet.get("referenced_tweets", ()))
        for token in re.findall(r'-?"[^"]*"|\S+', query.lower()):
            negate = token.startswith("-")
            term = token.lstrip("-").strip('"')
            if term == "is:retweet":
                hit = retweet
            elif term.startswith("from:"):
                hit = author == term[5:]
            elif term.startswith("lang:"):
                hit = tweet.get("lang") == term[5:]
            else:
                hit = term in text
            if hit == negate:
                return False
        return True

    async def _dm_events(self, request: web.Request) -> web.Response:
        size = self._max_results(request, 1, 100)
        if isinstance(size, web.Response):
            return size
        kinds = set(request.query.get("event_types", "MessageCreate").split(","))
        events = [e for e in self.dm_events.values() if e["event_type"] in kinds]
        page, meta = self._page(events, request, size, "pagination_token")
        if not page:
            return self._finish(request, {"meta": meta})
        fields = self._fields(request, "dm_event")
        body: dict[str, Any] = {"data": [self._pick(e, fields) for e in page]}
        expansions = set(request.query.get("expansions", "").split(","))
        user_ids = [e["sender_id"] for e in page if "sender_id" in expansions]
        user_ids += [p for e in page if "participant_ids" in expansions
                     for p in e["participant_ids"]]
        user_fields = self._fields(request, "user")
        users = [self._pick(self.users[u], user_fields) for u in dict.fromkeys(user_ids)
                 if u in self.users]
        if users:
            body["includes"] = {"users": users}
        body["meta"] = meta
        return self._finish(request, body)

    # --- writes ----------------------------------------------------------------------------

    async def _post_tweet(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.posted_tweets.append({"body": body,
                                   "authorization": request.headers["Authorization"].split()[0]})
        text = body.get("text") or ""
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if reply_to:
            target = self.tweets.get(reply_to)
            if target is None:
                return web.json_response(_problem(
                    400, "Invalid Request", f"The reply target {reply_to} does not exist."),
                    status=400)
            mentions = {m.get("id") for m in target.get("entities", {}).get("mentions", ())}
            quoted = [self.tweets.get(r["id"], {}).get("author_id")
                      for r in target.get("referenced_tweets", ()) if r["type"] == "quoted"]
            if self.brand_id not in mentions and self.brand_id not in quoted \
                    and target["author_id"] != self.brand_id:
                return web.json_response(_problem(
                    403, "Forbidden", "Reply to this conversation is not allowed because you "
                    "have not been mentioned or otherwise engaged by the author of the post "
                    "you are replying to."), status=403)
        if any(t["text"] == text and t["author_id"] == self.brand_id
               for t in self.tweets.values()):
            return web.json_response(_problem(
                403, "Forbidden", "You are not allowed to create a Tweet with duplicate "
                "content."), status=403)
        tweet_id = self.add_tweet(self.brand_id, text, reply_to=reply_to)
        return web.json_response({"data": {"id": tweet_id, "text": text,
                                           "edit_history_tweet_ids": [tweet_id]}}, status=201)

    async def _post_dm(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.posted_dms.append({"body": body, "path": request.path,
                                "authorization": request.headers["Authorization"].split()[0]})
        if not body.get("text") and not body.get("attachments"):
            return self._bad("text", "", "text or attachments is required")
        conversation = request.match_info.get("conversation")
        participant = request.match_info.get("participant")
        if participant is not None and participant not in self.users:
            return web.json_response(_problem(400, "Invalid Request",
                                              f"Unknown participant {participant}"), status=400)
        if conversation is not None and not any(
                e["dm_conversation_id"] == conversation for e in self.dm_events.values()):
            return web.json_response(_problem(404, "Not Found Error",
                                              f"Unknown conversation {conversation}"), status=404)
        if participant in self.dms_closed:
            return web.json_response(_problem(403, "Forbidden", "You cannot send messages to "
                                              "this user."), status=403)
        if participant is not None:
            event_id = self.add_dm(self.brand_id, body.get("text", ""), to=participant)
        else:
            ids = conversation.split("-") if conversation else []
            other = next((i for i in ids if i != self.brand_id), self.brand_id)
            event_id = self.add_dm(self.brand_id, body.get("text", ""), to=other,
                                   conversation_id=conversation)
        event = self.dm_events[event_id]
        return web.json_response({"data": {"dm_conversation_id": event["dm_conversation_id"],
                                           "dm_event_id": event_id}}, status=201)


@pytest_asyncio.fixture
async def fake_x_api() -> AsyncIterator[FakeXApi]:
    """A started FakeXApi on a ManualClock (``fake_x_api.clock``), stopped after the test."""
    async with FakeXApi(clock=ManualClock()) as fake:
        yield fake


def seed_demo(fake: FakeXApi) -> dict[str, str]:
    """A few mentions, a DM from the author of one of them, a keyword hit; env to point at it."""
    hour = 3600.0
    theresa = fake.add_user("theresa_k", "Theresa Kowalski")
    omar = fake.add_user("omar_h", "عمر حداد")
    yuki = fake.add_user("yuki", "Yuki 🌸", verified=True)
    first = fake.add_tweet(theresa, "@acme my bill is past due but autopay was on?!", age=5 * hour)
    fake.add_tweet(theresa, "@acme still waiting on an answer 😤", reply_to=first, age=2 * hour)
    fake.add_tweet(omar, "@acme التطبيق لا يعمل منذ الصباح", lang="ar", age=3 * hour)
    typo = fake.add_tweet(yuki, "@acme love teh new app 🎉", age=4 * hour)
    fake.edit_tweet(typo, "@acme love the new app 🎉")
    fake.add_dm(theresa, "Here is my account number: 55-0192. Can you check the autopay?",
                age=hour)
    fake.add_tweet(yuki, "is acme down for anyone else? acme outage again", age=30 * 60)
    return {"INBOX_X_API_URL": fake.url, "INBOX_X_BEARER_TOKEN": "demo-bearer",
            "INBOX_X_USER_ID": fake.brand_id, "INBOX_X_USERNAME": "acme",
            "INBOX_X_KEYWORDS": "acme outage", "INBOX_X_CONSUMER_KEY": "demo-ck",
            "INBOX_X_CONSUMER_SECRET": "demo-cs", "INBOX_X_ACCESS_TOKEN": "1000000001-demo-at",
            "INBOX_X_ACCESS_TOKEN_SECRET": "demo-ats"}


def seed_hostile(fake: FakeXApi) -> dict[str, str]:
    """The demo, plus hostile items each followed by a good one: a post with a lone surrogate,
    one without an author (unparseable), non-objects in the mentions page, dates far outside
    1970-2261, and a DM event without an id."""
    env = seed_demo(fake)
    mallory = fake.add_user("mallory", "Mallory \u202eyrollam")
    fake.add_tweet(mallory, "@acme broken utf-16 \ud83d in the middle", age=20 * 60)
    broken = fake.add_tweet(mallory, "@acme no author here", age=15 * 60)
    del fake.tweets[broken]["author_id"]
    for when in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00", "garbage"):
        dated = fake.add_tweet(mallory, f"@acme far date {when}", age=12 * 60)
        fake.tweets[dated]["created_at"] = when
    for item in (None, 5, "a string"):
        fake.add_raw("mentions", item)
    fake.add_tweet(mallory, "@acme the good one after the poison", age=10 * 60)
    fake.add_raw("dm_events", {"event_type": "MessageCreate", "text": "a DM without an id",
                               "sender_id": mallory, "dm_conversation_id": "x"})
    fake.add_dm(mallory, "the good DM after the poison", age=5 * 60)
    return env


SEEDS = {"demo": seed_demo, "hostile": seed_hostile}


async def _serve(port: int, seed: str | None) -> None:
    fake = FakeXApi(bearer_token="demo-bearer", oauth1_secrets=("demo-cs", "demo-ats"))
    url = await fake.start(port)
    env = SEEDS[seed](fake) if seed else {}
    print(url, flush=True)
    for key, value in env.items():
        print(f"export {key}={json.dumps(value)}", file=sys.stderr)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake X API v2 on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", choices=sorted(SEEDS), default=None)
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args.port, args.seed))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

__all__ = ["FakeXApi", "ManualClock", "fake_x_api", "seed_demo", "seed_hostile"]
