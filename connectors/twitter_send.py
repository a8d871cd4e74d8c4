"""X replies: a DM into the customer's DM conversation, else a public reply to their last
post, refused up front when X would reject it."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from connectors.twitter_config import XSettings
from connectors.twitter_http import Clock, XApi, as_inbox_error
from connectors.twitter_parse import x_id
from inbox.errors import FatalError, Refused
from inbox.model import Channel, Direction, Message
from inbox.ports import Outbound, Receipt

log = logging.getLogger(__name__)


def answered_on_x(out: Outbound) -> Message:
    """The customer's last X message, which a reply answers; Refused when there is none."""
    for message in reversed(out.history):
        if message.direction == Direction.INBOUND and message.channel == Channel.X:
            return message
    raise Refused("nothing to answer on X: this conversation has no inbound X message")


def check_x_reply(out: Outbound, username: str | None) -> bool:
    """Refuse what X would reject: empty text, public replies to posts that neither mention
    nor quote the brand account (@username). True for a DM, False for a public reply."""
    if not out.message.text.strip():
        raise Refused("the reply is empty")
    meta = answered_on_x(out).meta
    if meta.get("kind") == "dm":
        return True
    if not meta.get("tweet_id"):
        raise Refused("the last X message has no post id to reply to")
    if not (meta.get("mentions_brand") or meta.get("quotes_brand")):
        brand = f"@{username}" if username else "the brand account"
        raise Refused(f"X accepts public replies only to posts that mention or quote "
                      f"{brand}; this post does neither (a keyword hit). Send a DM if the "
                      f"customer allows it, or wait until they mention {brand}.")
    return False


class XSender:
    """Replies on X: a DM into a DM conversation, else a public reply to the last post."""

    channel = Channel.X

    def __init__(self, api: XApi, settings: XSettings, *, clock: Clock = time.time) -> None:
        self._api = api
        self._settings = settings
        self._clock = clock

    def _answered(self, out: Outbound) -> Mapping[str, Any]:
        return answered_on_x(out).meta

    def check(self, out: Outbound) -> None:
        check_x_reply(out, self._settings.username)

    async def send(self, out: Outbound) -> Receipt:
        """Deliver the reply; RetryableError on 5xx/network, Refused/FatalError on 4xx."""
        self.check(out)
        meta = self._answered(out)
        text = out.message.text
        try:
            async with self._api.opened():
                if meta.get("kind") == "dm":
                    return await self._send_dm(meta, text)
                return await self._send_tweet(str(meta["tweet_id"]), text)
        except Exception as exc:
            mapped = await as_inbox_error(exc, self._clock(), self._settings.usage_cap_pause,
                                          refuse_4xx=True)
            if mapped is None or mapped is exc:
                raise
            log.warning("X reply failed: %s", mapped,
                        extra={"conversation_id": out.conversation.id})
            raise mapped from exc

    async def _send_dm(self, meta: Mapping[str, Any], text: str) -> Receipt:
        conversation = meta.get("dm_conversation_id")
        if conversation:
            body = await self._api.call("user", "create_direct_message",
                                        dm_conversation_id=str(conversation), text=text)
        else:
            body = await self._api.call("user", "create_direct_message",
                                        participant_id=str(meta["sender_id"]), text=text)
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
