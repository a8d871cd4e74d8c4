"""The messages of the demo, shaped as each connector yields them, with unique ids."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import datetime
from html import escape

from inbox.app.demo.identities import Person
from inbox.app.demo.vocabulary import (
    BRAND_HANDLE,
    BRAND_X_USER_ID,
    FORM_TOPICS,
    SUPPORT_EMAIL,
    TWITTER_EPOCH_MS,
    X_ACCOUNTS,
)
from inbox.model import Attachment, Channel, IdentityKind, IdentityRef, Inbound


def followers(handle: str) -> int:
    """A public account's followers, spread over 10 to ~200,000 (log scale), the same for
    the same handle."""
    return int(10 ** random.Random(handle).uniform(1.0, 5.3))


class Messages:
    """Builds Inbound messages; no external id is given twice."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[tuple[str, str]] = set()

    # -- ids -------------------------------------------------------------------------------

    def _snowflake(self, t: datetime, prefix: str = "") -> str:
        ms = int(t.timestamp() * 1000) - TWITTER_EPOCH_MS
        return self._unused("x", lambda: f"{prefix}{(ms << 22) | self.rng.getrandbits(22)}")

    def _message_id(self) -> str:
        rng = self.rng
        return self._unused("email", lambda: f"{rng.getrandbits(64):016x}."
                                             f"{rng.getrandbits(24):06x}@mail.example")

    def _form_id(self) -> str:
        return self._unused("webform", lambda: "form:" + str(
            uuid.UUID(int=self.rng.getrandbits(128), version=4)))

    def _unused(self, channel: str, draw: Callable[[], str]) -> str:
        """A drawn external id no earlier message of the channel has."""
        while (channel, value := draw()) in self.used:
            pass
        self.used.add((channel, value))
        return value

    # -- messages --------------------------------------------------------------------------

    def x_authors(self, p: Person) -> tuple[IdentityRef, ...]:
        return (IdentityRef(IdentityKind.X, p.x_id, label=p.handle),
                IdentityRef(IdentityKind.X_HANDLE, p.handle.lower(), label=p.handle))

    def tweet(self, p: Person, t: datetime, text: str, *, conv: str | None = None,
              parent: str | None = None, listening: bool = False,
              rule: str | None = None) -> Inbound:
        tid = self._snowflake(t)
        conv = conv or tid
        names = [w[1:].rstrip(".,!?:") for w in text.split() if w.startswith("@")]
        mentions = [{"id": X_ACCOUNTS.get(n.lower()), "username": n} for n in names]
        meta: dict[str, object] = {
            "kind": "tweet", "tweet_id": tid, "conversation_id": conv, "author_id": p.x_id,
            "username": p.handle, "url": f"https://x.com/{p.handle}/status/{tid}",
            "mentions": mentions, "mentions_brand": BRAND_HANDLE in (n.lower() for n in names),
            "referenced_tweets": [{"type": "replied_to", "id": parent}] if parent else [],
        }
        if parent:
            meta["in_reply_to_tweet_id"] = parent
            meta["in_reply_to_user_id"] = p.x_id
        if rule:
            meta["rule"] = rule
        if listening:  # X sends the author's public_metrics: their reach
            meta["followers"] = followers(p.handle)
        return Inbound(
            channel=Channel.X, external_id=tid, authors=self.x_authors(p), text=text,
            created_at=t, author_name=p.name, lang=p.lang,
            thread_keys=(f"x:tweet:{tid}", f"x:conv:{conv}"),
            parent_keys=(f"x:tweet:{parent}", f"x:conv:{conv}") if parent else (),
            listening=listening, meta=meta)

    def dm(self, p: Person, t: datetime, text: str) -> Inbound:
        event = self._snowflake(t, "dm:")
        low, high = sorted((int(BRAND_X_USER_ID), int(p.x_id)))
        conv = f"{low}-{high}"
        return Inbound(
            channel=Channel.X, external_id=event, authors=self.x_authors(p), text=text,
            created_at=t, author_name=p.name, thread_keys=(f"x:dm:{conv}",),
            parent_keys=(f"x:dm:{conv}",),
            meta={"kind": "dm", "dm_event_id": event[3:], "dm_conversation_id": conv,
                  "event_type": "MessageCreate", "sender_id": p.x_id, "username": p.handle,
                  "participant_ids": [p.x_id, BRAND_X_USER_ID]})

    def email(self, p: Person, t: datetime, text: str, subject: str, *,
              parents: tuple[str, ...] = (), quoted: str | None = None,
              automated: bool = False) -> Inbound:
        mid = self._message_id()
        rng = self.rng
        html = None
        if not automated and rng.random() < 0.5:
            html = "".join(f"<p>{escape(part).replace(chr(10), '<br>')}</p>"
                           for part in text.split("\n\n"))
        attachments: tuple[Attachment, ...] = ()
        if not automated and not parents and rng.random() < 0.06:
            attachments = (rng.choice((
                Attachment("bill.pdf", "application/pdf", rng.randint(40_000, 300_000)),
                Attachment("speedtest.png", "image/png", rng.randint(80_000, 900_000)),
                Attachment("IMG_" + str(rng.randint(1000, 9999)) + ".jpg", "image/jpeg",
                           rng.randint(500_000, 3_000_000)))),)
        meta: dict[str, object] = {"message_id": mid, "to": [SUPPORT_EMAIL],
                                   "from": p.email.lower(),
                                   "in_reply_to": parents[-1] if parents else None,
                                   "references": list(parents)}
        return Inbound(
            channel=Channel.EMAIL, external_id=mid,
            authors=(IdentityRef(IdentityKind.EMAIL, p.email.lower(), label=p.name),), text=text,
            created_at=t, author_name=p.name, subject=subject, html=html, quoted=quoted,
            thread_keys=(f"mid:{mid}",), parent_keys=tuple(f"mid:{m}" for m in parents),
            automated=automated, attachments=attachments, meta=meta)

    def form(self, p: Person, t: datetime, text: str, subject: str | None,
             topic: str) -> Inbound:
        authors = [IdentityRef(IdentityKind.EMAIL, p.email.lower(), label=p.name)]
        meta: dict[str, object] = {"form": "contact", "topic": FORM_TOPICS[topic],
                                   "email": p.email.lower(), "name": p.name}
        if p.phone and self.rng.random() < 0.7:
            authors.append(IdentityRef(IdentityKind.PHONE, p.phone))
            meta["phone"] = p.phone
        if "x" in p.channels:
            authors.append(IdentityRef(IdentityKind.X_HANDLE, p.handle.lower()))
            meta["x_handle"] = p.handle
        return Inbound(
            channel=Channel.WEBFORM, external_id=self._form_id(), authors=tuple(authors),
            text=text, created_at=t, author_name=p.name,
            subject=f"Contact form: {subject}" if subject else None, meta=meta)
