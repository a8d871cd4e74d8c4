"""Pure parsers: X API v2 JSON (tweets, DM events) -> inbox.model.Inbound. No I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from inbox.model import Channel, IdentityKind, IdentityRef, Inbound

X_EPOCH_MS = 1288834974657  # snowflake ids count milliseconds from this instant
UNDETERMINED_LANGS = frozenset({"und", "zxx"})  # X's "no language detected" codes


def snowflake_time(item_id: str) -> datetime:
    """When an X id (tweet, DM event) was minted, from its snowflake bits."""
    return datetime.fromtimestamp(((int(item_id) >> 22) + X_EPOCH_MS) / 1000, UTC)


def newest(ids: Iterable[str | None]) -> str | None:
    """The numerically largest id (ids are strings: they exceed float precision)."""
    present = [i for i in ids if i]
    return max(present, key=int) if present else None


def _required(item: Mapping[str, Any], key: str, what: str) -> str:
    value = item.get(key)
    if value in (None, ""):
        raise ValueError(f"{what} without {key!r}")
    return str(value)


def _by_id(items: Sequence[Mapping[str, Any]] | None) -> dict[str, Mapping[str, Any]]:
    return {str(i["id"]): i for i in items or () if "id" in i}


def _created_at(item: Mapping[str, Any], item_id: str) -> datetime:
    raw = item.get("created_at")
    if not raw:
        return snowflake_time(item_id)
    return datetime.fromisoformat(str(raw)).astimezone(UTC)


def _authors(user_id: str, user: Mapping[str, Any]) -> tuple[IdentityRef, ...]:
    """Identity is the user id; the handle is a weak label (handles change hands)."""
    username = user.get("username")
    if not username:
        return (IdentityRef(IdentityKind.X, user_id),)
    return (
        IdentityRef(IdentityKind.X, user_id, label=str(username)),
        IdentityRef(IdentityKind.X_HANDLE, str(username).lower(), label=str(username)),
    )


def _original_id(tweet: Mapping[str, Any]) -> str:
    history = tweet.get("edit_history_tweet_ids") or ()
    return str(history[0]) if history else _required(tweet, "id", "tweet")


def _references(
    tweet: Mapping[str, Any], tweets: Mapping[str, Mapping[str, Any]],
    errors: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    problems = {str(e.get("resource_id") or e.get("value")): e for e in errors}
    refs: list[dict[str, Any]] = []
    for ref in tweet.get("referenced_tweets") or ():
        ref_id = str(ref.get("id"))
        entry: dict[str, Any] = {"type": ref.get("type"), "id": ref_id}
        if ref_id in tweets:
            entry["original_id"] = _original_id(tweets[ref_id])
            entry["author_id"] = tweets[ref_id].get("author_id")
        elif ref_id in problems:  # deleted, protected or withheld: reported beside the data
            entry["unavailable"] = problems[ref_id].get("title") or "unavailable"
            entry["detail"] = problems[ref_id].get("detail")
        refs.append(entry)
    return refs


def parse_tweet(
    tweet: Mapping[str, Any], includes: Mapping[str, Any], brand_user_id: str, *,
    brand_username: str | None = None, errors: Sequence[Mapping[str, Any]] = (),
) -> Inbound:
    """One post (with the response's includes and errors[]) as an Inbound."""
    tweet_id = _required(tweet, "id", "tweet")
    author_id = _required(tweet, "author_id", "tweet")
    original = _original_id(tweet)
    user = _by_id(includes.get("users")).get(author_id, {})
    username = user.get("username")
    refs = _references(tweet, _by_id(includes.get("tweets")), errors)
    mentions = [
        {"id": m.get("id"), "username": m.get("username")}
        for m in (tweet.get("entities") or {}).get("mentions") or ()
    ]
    brand_handle = (brand_username or "").lower()
    mentions_brand = any(
        m["id"] == brand_user_id or (brand_handle and str(m["username"]).lower() == brand_handle)
        for m in mentions
    )
    quotes_brand = any(r["type"] == "quoted" and r.get("author_id") == brand_user_id for r in refs)
    conversation_id = tweet.get("conversation_id")
    conv_key = (f"x:conv:{conversation_id}",) if conversation_id else ()
    replied = next((r for r in refs if r["type"] == "replied_to"), None)
    parent_keys: tuple[str, ...] = ()
    if replied is not None:
        parent_keys = (f"x:tweet:{replied.get('original_id', replied['id'])}", *conv_key)
    elif conversation_id and str(conversation_id) != original:
        parent_keys = conv_key
    lang = tweet.get("lang")
    meta: dict[str, Any] = {
        "kind": "tweet",
        "tweet_id": tweet_id,
        "original_id": original,
        "edit_history_tweet_ids": [str(i) for i in tweet.get("edit_history_tweet_ids") or ()],
        "conversation_id": conversation_id,
        "author_id": author_id,
        "username": username,
        "url": f"https://x.com/{username or 'i/web'}/status/{tweet_id}",
        "public_metrics": tweet.get("public_metrics"),
        "in_reply_to_user_id": tweet.get("in_reply_to_user_id"),
        "referenced_tweets": refs,
        "mentions": mentions,
        "mentions_brand": mentions_brand,
        "quotes_brand": quotes_brand,
    }
    if tweet.get("withheld"):
        meta["withheld"] = tweet["withheld"]
    if user.get("withheld"):
        meta["author_withheld"] = user["withheld"]
    if "verified" in user:
        meta["verified"] = user["verified"]
    if user.get("profile_image_url"):
        meta["profile_image_url"] = user["profile_image_url"]
    return Inbound(
        channel=Channel.X,
        external_id=original,
        authors=_authors(author_id, user),
        text=str(tweet.get("text") or ""),
        created_at=_created_at(tweet, tweet_id),
        author_name=user.get("name"),
        thread_keys=(f"x:tweet:{original}", *conv_key),
        parent_keys=parent_keys,
        lang=None if lang in UNDETERMINED_LANGS else lang,
        revision=tweet_id,
        meta=meta,
    )


def parse_dm(event: Mapping[str, Any], includes: Mapping[str, Any]) -> Inbound:
    """One MessageCreate DM event as an Inbound."""
    event_id = _required(event, "id", "DM event")
    sender_id = _required(event, "sender_id", "DM event")
    conversation = _required(event, "dm_conversation_id", "DM event")
    user = _by_id(includes.get("users")).get(sender_id, {})
    keys = (f"x:dm:{conversation}",)
    return Inbound(
        channel=Channel.X,
        external_id=f"dm:{event_id}",
        authors=_authors(sender_id, user),
        text=str(event.get("text") or ""),
        created_at=_created_at(event, event_id),
        author_name=user.get("name"),
        thread_keys=keys,
        parent_keys=keys,
        meta={
            "kind": "dm",
            "dm_event_id": event_id,
            "dm_conversation_id": conversation,
            "event_type": event.get("event_type"),
            "sender_id": sender_id,
            "username": user.get("username"),
            "participant_ids": [str(p) for p in event.get("participant_ids") or ()],
            "referenced_tweets": list(event.get("referenced_tweets") or ()),
            "attachments": dict(event.get("attachments") or {}),
        },
    )
