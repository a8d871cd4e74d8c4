"""What an agent chooses for one reply besides its text, checked in one place for the page's
form and the JSON API alike: on X a public reply or a direct message, by email a subject and
cc. Agents' input is checked like customers': a line break in a header, a thousand addresses
or a novel as a subject are refused with a clear message, never sent."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from inbox.errors import ValidationError
from inbox.identity import normalize_email
from inbox.model import Channel

MAX_CC = 20  # cc addresses on one reply
MAX_SUBJECT = 250  # characters of a subject
MAX_ADDRESS = 320  # characters of one address (RFC 5321: 64 + 1 + 255)
_SEPARATORS = re.compile(r"[,;\s]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
EMAILED = frozenset({Channel.EMAIL, Channel.WEBFORM})  # web forms are answered by email


class Mode(StrEnum):
    """How a reply on X goes out (meta "reply_mode" of the outbound message)."""

    PUBLIC = "public"  # a reply to the customer's post, seen by everyone
    DM = "dm"  # a direct message to the customer


@dataclass(frozen=True, slots=True)
class ReplyOptions:
    """Checked choices; None: the channel's default (X: as the customer wrote, public to a
    post, a DM to a DM; email: "Re: <subject>", no cc)."""

    mode: Mode | None = None
    subject: str | None = None
    cc: tuple[str, ...] | None = None

    def meta(self, channel: str) -> dict[str, Any]:
        """The outbound message's meta for these choices on `channel` (its sender reads them);
        ValidationError for a choice the channel does not have."""
        found: dict[str, Any] = {}
        if self.mode is not None:
            if channel != Channel.X:
                raise ValidationError({"mode": "only replies on X choose public or direct "
                                               "message"})
            found["reply_mode"] = str(self.mode)
        if self.subject is not None or self.cc:
            if channel not in EMAILED:
                field = "subject" if self.subject is not None else "cc"
                raise ValidationError({field: "only email replies have a subject and cc"})
            if self.subject is not None:
                found["subject"] = self.subject
            if self.cc:
                found["cc"] = list(self.cc)
        return found


def reply_options(mode: object = None, subject: object = None, cc: object = None
                  ) -> ReplyOptions:
    """ReplyOptions from what a form or a JSON body sent; ValidationError naming the field.

    mode: "public" | "dm"; subject: one line; cc: addresses as a list or as one text
    separated by commas, semicolons or spaces. Empty values mean the default."""
    return ReplyOptions(_mode(mode), _subject(subject), _cc(cc))


def _mode(value: object) -> Mode | None:
    if value is None or value == "":
        return None
    try:
        return Mode(value) if isinstance(value, str) else Mode("?")
    except ValueError:
        raise ValidationError({"mode": "must be public or dm"}) from None


def _subject(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError({"subject": "must be text"})
    if _CONTROL.search(value):
        raise ValidationError({"subject": "must be one line: no line breaks or control "
                                          "characters"})
    text = " ".join(value.split())
    if len(text) > MAX_SUBJECT:
        raise ValidationError({"subject": f"must be at most {MAX_SUBJECT} characters"})
    return text or None


def _cc(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) > MAX_CC * (MAX_ADDRESS + 2):
            raise ValidationError({"cc": f"at most {MAX_CC} addresses"})
        items: Sequence[object] = [i for i in _SEPARATORS.split(value) if i]
    elif isinstance(value, list):
        items = value
    else:
        raise ValidationError({"cc": "must be a list of email addresses"})
    if len(items) > MAX_CC:
        raise ValidationError({"cc": f"at most {MAX_CC} addresses ({len(items)} given)"})
    found: dict[str, None] = {}
    for item in items:
        found[_address(item)] = None
    return tuple(found)


def _address(item: object) -> str:
    """One cc address, normalised; ValidationError quoting (a bounded part of) it."""
    if not isinstance(item, str):
        raise ValidationError({"cc": "must be a list of email addresses"})
    if _CONTROL.search(item.strip()):
        raise ValidationError({"cc": "an address must not hold line breaks or control "
                                     "characters"})
    valid = normalize_email(item) if len(item) <= MAX_ADDRESS else None
    if valid is None:
        shown = item if len(item) <= 60 else item[:57] + "…"
        raise ValidationError({"cc": f"{shown!r} is not a valid email address"})
    return valid
