"""X replies: a public reply to the customer's last post or a direct message (into their DM
conversation, or to the post's author), as the agent chose; refused up front when X would
reject it."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import tweepy.errors as tx

from connectors.twitter_config import XSettings
from connectors.twitter_http import Clock, XApi, as_inbox_error
from connectors.twitter_parse import x_id
from inbox.errors import FatalError, Refused
from inbox.model import Channel, Direction, Message
from inbox.ports import Outbound, Receipt, ReplyForm
from inbox.reply_options import Mode

log = logging.getLogger(__name__)


def answered_on_x(out: Outbound) -> Message:
    """The customer's last X message, which a reply answers; Refused when there is none."""
    for message in reversed(out.history):
        if message.direction == Direction.INBOUND and message.channel == Channel.X:
            return message
    raise Refused("nothing to answer on X: this conversation has no inbound X message")


def _public_refusal(meta: Mapping[str, Any], username: str | None) -> str | None:
    """Why X would refuse a public reply to the post with this meta; None if it would not."""
    if meta.get("kind") == "dm":
        return ("this conversation is a direct message: there is no post to reply to in "
                "public")
    if not meta.get("tweet_id"):
        return "the last X message has no post id to reply to"
    if not (meta.get("mentions_brand") or meta.get("quotes_brand")):
        brand = f"@{username}" if username else "the brand account"
        return (f"X accepts public replies only to posts that mention or quote {brand}; this "
                f"post does neither (a keyword hit). Send a direct message instead, or wait "
                f"until they mention {brand}.")
    return None


def _dm_refusal(meta: Mapping[str, Any]) -> str | None:
    """Why no DM can be addressed from this message's meta; None if one can."""
    if meta.get("kind") == "dm" or x_id(meta.get("author_id")):
        return None
    return "the last X message has no author id to send a direct message to"


def reply_mode(out: Outbound) -> Mode:
    """How this reply goes out: as chosen (meta "reply_mode"), else as the customer wrote."""
    chosen = out.message.meta.get("reply_mode")
    if chosen in (Mode.PUBLIC, Mode.DM):
        return Mode(chosen)
    return Mode.DM if answered_on_x(out).meta.get("kind") == "dm" else Mode.PUBLIC


def check_x_reply(out: Outbound, username: str | None) -> bool:
    """Refuse what X would reject: empty text, public replies to posts that neither mention
    nor quote the brand account (@username), a DM with no one to address. True for a DM,
    False for a public reply."""
    if not out.message.text.strip():
        raise Refused("the reply is empty")
    meta, mode = answered_on_x(out).meta, reply_mode(out)
    why = _dm_refusal(meta) if mode == Mode.DM else _public_refusal(meta, username)
    if why:
        raise Refused(why)
    return mode == Mode.DM


def x_reply_form(out: Outbound, username: str | None) -> ReplyForm:
    """The ways a reply can go out: a DM conversation only a DM; a post a public reply
    (refused by X unless it mentions or quotes the brand) or a DM to its author."""
    meta = answered_on_x(out).meta
    if meta.get("kind") == "dm":
        return ReplyForm(modes=((Mode.DM, None),))
    return ReplyForm(modes=((Mode.PUBLIC, _public_refusal(meta, username)),
                            (Mode.DM, _dm_refusal(meta))))


class XSender:
    """Replies on X: a public reply to the last post, or a DM (see reply_mode)."""

    channel = Channel.X

    def __init__(self, api: XApi, settings: XSettings, *, clock: Clock = time.time) -> None:
        self._api = api
        self._settings = settings
        self._clock = clock

    def _answered(self, out: Outbound) -> Mapping[str, Any]:
        return answered_on_x(out).meta

    def check(self, out: Outbound) -> None:
        check_x_reply(out, self._settings.username)

    def reply_form(self, out: Outbound) -> ReplyForm:
        return x_reply_form(out, self._settings.username)

    async def send(self, out: Outbound) -> Receipt:
        """Deliver the reply; RetryableError on 5xx/network, Refused/FatalError on 4xx (a DM
        the customer does not accept: Refused saying so)."""
        dm = check_x_reply(out, self._settings.username)
        meta = self._answered(out)
        text = out.message.text
        try:
            async with self._api.opened():
                if dm:
                    return await self._send_dm(meta, text)
                return await self._send_tweet(str(meta["tweet_id"]), text)
        except Exception as exc:
            mapped = await as_inbox_error(exc, self._clock(), self._settings.usage_cap_pause,
                                          refuse_4xx=True)
            if mapped is None or mapped is exc:
                raise
            if dm and isinstance(exc, tx.Forbidden):
                brand = f"@{self._settings.username}" if self._settings.username else "us"
                mapped = Refused(f"X did not deliver the direct message: "
                                 f"{str(mapped).rstrip('.')}. The customer may not accept "
                                 f"direct messages from {brand}.")
            log.warning("X reply failed: %s", mapped,
                        extra={"conversation_id": out.conversation.id})
            raise mapped from exc

    async def _send_dm(self, meta: Mapping[str, Any], text: str) -> Receipt:
        """Into the DM conversation answered, else a new one with the post's author."""
        conversation = meta.get("dm_conversation_id") if meta.get("kind") == "dm" else None
        if conversation:
            body = await self._api.call("user", "create_direct_message",
                                        dm_conversation_id=str(conversation), text=text)
        else:
            who = meta.get("sender_id") if meta.get("kind") == "dm" else meta.get("author_id")
            body = await self._api.call("user", "create_direct_message",
                                        participant_id=str(who), text=text)
        data = _answer(body)
        event_id = _answer_id(data, "dm_event_id")
        found = data.get("dm_conversation_id")
        conversation = str(found if isinstance(found, str) and found else conversation)
        return Receipt(provider_id=event_id, thread_keys=(f"x:dm:{conversation}",),
                       meta={"kind": "dm", "dm_event_id": event_id,
                             "dm_conversation_id": conversation, "external_id": f"dm:{event_id}"})

    async def _send_tweet(self, in_reply_to: str, text: str) -> Receipt:
        body = await self._api.call("user", "create_tweet", text=text,
                                    in_reply_to_tweet_id=in_reply_to)
        tweet_id = _answer_id(_answer(body), "id")
        handle = self._settings.username or "i/web"
        return Receipt(provider_id=tweet_id, thread_keys=(f"x:tweet:{tweet_id}",),
                       meta={"kind": "tweet", "tweet_id": tweet_id,
                             "in_reply_to_tweet_id": in_reply_to, "external_id": tweet_id,
                             "url": f"https://x.com/{handle}/status/{tweet_id}"})

    async def aclose(self) -> None:
        await self._api.aclose()


def _answer(body: Mapping[str, Any]) -> Mapping[str, Any]:
    data = body.get("data")
    return data if isinstance(data, Mapping) else {}


def _answer_id(data: Mapping[str, Any], key: str) -> str:
    """The id X gave a reply it accepted; FatalError (never a resend: it may be out) if none."""
    found = x_id(data.get(key))
    if found is None:
        raise FatalError(f"X accepted the reply but answered without a readable {key}; "
                         "check on X whether it was posted before sending it again")
    return found
