"""Pure parsers: X API v2 JSON (tweets, DM events) -> inbox.model.Inbound. No I/O.

Every field is hostile: a field of the wrong JSON type is read as absent (a list field that is
not a list has no items, a string field that is a dict has no value), except what a message
cannot exist without (its id, author, DM conversation, a text that is not text): then
ValueError, and the item goes to the dead letters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from inbox.model import Channel, IdentityKind, IdentityRef, Inbound
from inbox.normalize import bounded_time

X_EPOCH_MS = 1288834974657  # snowflake ids count milliseconds from this instant
UNDETERMINED_LANGS = frozenset({"und", "zxx"})  # X's "no language detected" codes
MAX_ID_DIGITS = 40  # X ids are 64-bit (19 digits); anything longer is not an X id
MAX_DATE_TEXT = 64  # longer created_at text is not a date


def snowflake_time(item_id: str) -> datetime:
    """When an X id (tweet, DM event) was minted, from its snowflake bits."""
    return datetime.fromtimestamp(((int(item_id) >> 22) + X_EPOCH_MS) / 1000, UTC)


def x_id(value: Any) -> str | None:
    """An X id (decimal digits, as text or a JSON number) as text; None for anything else
    (missing, negative, non-ASCII digits, absurdly long, a list ...)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and 0 < len(value) <= MAX_ID_DIGITS and value.isascii() \
            and value.isdigit():
        return value
    return None


def newest(ids: Iterable[Any]) -> str | None:
    """The numerically largest X id (ids are strings: they exceed float precision); what is
    not an X id is ignored."""
    present = [i for i in map(x_id, ids) if i is not None]
    return max(present, key=int) if present else None


def json_object(item: Any, what: str) -> Mapping[str, Any]:
    """The item if it is a JSON object; ValueError (a dead letter) otherwise."""
    if not isinstance(item, Mapping):
        raise ValueError(f"{what} is not a JSON object but {type(item).__name__}")
    return item


def _text(value: Any) -> str | None:
    """A string field (a JSON number is taken as its text); None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _objects(value: Any) -> list[Mapping[str, Any]]:
    """The JSON objects of a list field; a field that is not a list has none."""
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _texts(value: Any) -> list[str]:
    return [t for t in map(_text, value) if t] if isinstance(value, list) else []


def _required(item: Mapping[str, Any], key: str, what: str, *, is_id: bool = True) -> str:
    value = (x_id if is_id else _text)(item.get(key))
    if not value:
        raise ValueError(f"{what} without a readable {key!r}")
    return value


def _by_id(items: Any) -> dict[str, Mapping[str, Any]]:
    return {i: m for m in _objects(items) if (i := _text(m.get("id")))}


def _created_at(item: Mapping[str, Any], item_id: str, received: datetime | None,
                meta: dict[str, Any]) -> datetime:
    """created_at (else the id's snowflake time); unreadable or outside the stores' range:
    the received time, the original in meta["date_replaced"] (the normaliser's rule)."""
    raw = item.get("created_at")
    value: Any = raw
    if raw is None or raw == "":
        try:
            value = snowflake_time(item_id)
        except (ValueError, OverflowError, OSError):
            value = "missing"
    elif isinstance(raw, str) and len(raw) <= MAX_DATE_TEXT:
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            pass  # kept as text: replaced below
    elif not isinstance(raw, str):
        value = repr(raw)[:MAX_DATE_TEXT]
    when, replaced = bounded_time(value, received or datetime.now(UTC))
    if replaced is not None:
        meta["date_replaced"] = replaced
    return when


def followers_of(user: Mapping[str, Any]) -> int | None:
    """The author's follower count from the user's public_metrics (None: absent or not a
    count a real account has)."""
    metrics = user.get("public_metrics")
    count = metrics.get("followers_count") if isinstance(metrics, Mapping) else None
    if isinstance(count, int) and not isinstance(count, bool) and 0 <= count < 10**10:
        return count
    return None


def _authors(user_id: str, user: Mapping[str, Any]) -> tuple[IdentityRef, ...]:
    """Identity is the user id; the handle is a weak label (handles change hands)."""
    username = _text(user.get("username"))
    if not username:
        return (IdentityRef(IdentityKind.X, user_id),)
    return (
        IdentityRef(IdentityKind.X, user_id, label=username),
        IdentityRef(IdentityKind.X_HANDLE, username.lower(), label=username),
    )


def _original_id(tweet: Mapping[str, Any], tweet_id: str) -> str:
    history = tweet.get("edit_history_tweet_ids")
    first = x_id(history[0]) if isinstance(history, list) and history else None
    return first or tweet_id


def is_retweet(tweet: Mapping[str, Any]) -> bool:
    return any(r.get("type") == "retweeted" for r in _objects(tweet.get("referenced_tweets")))


def _references(
    tweet: Mapping[str, Any], tweets: Mapping[str, Mapping[str, Any]], errors: Any,
) -> list[dict[str, Any]]:
    problems = {str(_text(e.get("resource_id")) or _text(e.get("value"))): e
                for e in _objects(errors)}
    refs: list[dict[str, Any]] = []
    for ref in _objects(tweet.get("referenced_tweets")):
        ref_id = _text(ref.get("id"))
        if not ref_id:
            continue
        entry: dict[str, Any] = {"type": _text(ref.get("type")), "id": ref_id}
        if ref_id in tweets:
            entry["original_id"] = _original_id(tweets[ref_id], ref_id)
            entry["author_id"] = _text(tweets[ref_id].get("author_id"))
        elif ref_id in problems:  # deleted, protected or withheld: reported beside the data
            entry["unavailable"] = _text(problems[ref_id].get("title")) or "unavailable"
            entry["detail"] = _text(problems[ref_id].get("detail"))
        refs.append(entry)
    return refs


def _body(item: Mapping[str, Any], what: str) -> str:
    text = item.get("text")
    if text is not None and not isinstance(text, str):
        raise ValueError(f"{what} whose text is not a string but {type(text).__name__}")
    return text or ""


def parse_tweet(
    tweet: Mapping[str, Any], includes: Mapping[str, Any], brand_user_id: str, *,
    brand_username: str | None = None, errors: Any = (), received: datetime | None = None,
) -> Inbound:
    """One post (with the response's includes and errors[]) as an Inbound; ``received``
    replaces a created_at that is unreadable or out of range (default: now)."""
    tweet = json_object(tweet, "tweet")
    includes = _mapping(includes)
    tweet_id = _required(tweet, "id", "tweet")
    author_id = _required(tweet, "author_id", "tweet")
    text = _body(tweet, "tweet")
    original = _original_id(tweet, tweet_id)
    user = _by_id(includes.get("users")).get(author_id, {})
    username = _text(user.get("username"))
    refs = _references(tweet, _by_id(includes.get("tweets")), errors)
    mentions = [{"id": _text(m.get("id")), "username": _text(m.get("username"))}
                for m in _objects(_mapping(tweet.get("entities")).get("mentions"))]
    brand_handle = (brand_username or "").lower()
    mentions_brand = any(
        m["id"] == brand_user_id or bool(brand_handle and (m["username"] or "").lower()
                                         == brand_handle)
        for m in mentions
    )
    quotes_brand = any(r["type"] == "quoted" and r.get("author_id") == brand_user_id for r in refs)
    conversation_id = _text(tweet.get("conversation_id"))
    conv_key = (f"x:conv:{conversation_id}",) if conversation_id else ()
    replied = next((r for r in refs if r["type"] == "replied_to"), None)
    parent_keys: tuple[str, ...] = ()
    if replied is not None:
        parent_keys = (f"x:tweet:{replied.get('original_id', replied['id'])}", *conv_key)
    elif conversation_id and conversation_id != original:
        parent_keys = conv_key
    lang = _text(tweet.get("lang"))
    meta: dict[str, Any] = {
        "kind": "tweet",
        "tweet_id": tweet_id,
        "original_id": original,
        "edit_history_tweet_ids": _texts(tweet.get("edit_history_tweet_ids")),
        "conversation_id": conversation_id,
        "author_id": author_id,
        "username": username,
        "url": f"https://x.com/{username or 'i/web'}/status/{tweet_id}",
        "public_metrics": tweet.get("public_metrics"),
        "in_reply_to_user_id": _text(tweet.get("in_reply_to_user_id")),
        "referenced_tweets": refs,
        "mentions": mentions,
        "mentions_brand": mentions_brand,
        "quotes_brand": quotes_brand,
    }
    if tweet.get("withheld"):
        meta["withheld"] = tweet["withheld"]
    if user.get("withheld"):
        meta["author_withheld"] = user["withheld"]
    if isinstance(user.get("verified"), bool):
        meta["verified"] = user["verified"]
    if image := _text(user.get("profile_image_url")):
        meta["profile_image_url"] = image
    if (followers := followers_of(user)) is not None:
        meta["followers"] = followers
    return Inbound(
        channel=Channel.X,
        external_id=original,
        authors=_authors(author_id, user),
        text=text,
        created_at=_created_at(tweet, tweet_id, received, meta),
        author_name=_text(user.get("name")),
        thread_keys=(f"x:tweet:{original}", *conv_key),
        parent_keys=parent_keys,
        lang=None if lang in UNDETERMINED_LANGS else lang,
        revision=tweet_id,
        meta=meta,
    )


def parse_dm(event: Mapping[str, Any], includes: Mapping[str, Any], *,
             received: datetime | None = None) -> Inbound:
    """One MessageCreate DM event as an Inbound (``received`` as for parse_tweet)."""
    event = json_object(event, "DM event")
    includes = _mapping(includes)
    event_id = _required(event, "id", "DM event")
    sender_id = _required(event, "sender_id", "DM event")
    conversation = _required(event, "dm_conversation_id", "DM event", is_id=False)
    text = _body(event, "DM event")
    user = _by_id(includes.get("users")).get(sender_id, {})
    keys = (f"x:dm:{conversation}",)
    meta: dict[str, Any] = {
        "kind": "dm",
        "dm_event_id": event_id,
        "dm_conversation_id": conversation,
        "event_type": _text(event.get("event_type")),
        "sender_id": sender_id,
        "username": _text(user.get("username")),
        "participant_ids": _texts(event.get("participant_ids")),
        "referenced_tweets": _objects(event.get("referenced_tweets")),
        "attachments": dict(_mapping(event.get("attachments"))),
    }
    return Inbound(
        channel=Channel.X,
        external_id=f"dm:{event_id}",
        authors=_authors(sender_id, user),
        text=text,
        created_at=_created_at(event, event_id, received, meta),
        author_name=_text(user.get("name")),
        thread_keys=keys,
        parent_keys=keys,
        meta=meta,
    )
