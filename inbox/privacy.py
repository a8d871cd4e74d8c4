"""Customer contacts hidden from who may not see them: email addresses and phone numbers."""

from __future__ import annotations

import re
from dataclasses import replace

import phonenumbers

from inbox.model import Message

EMAIL_HIDDEN, PHONE_HIDDEN = "[email hidden]", "[phone hidden]"
_LOCAL = r"[\w.!#$%&'*+/=?^`{|}~-]"
# An address: local part, "@", a domain with at least one dot. The look-behind starts a
# match only at the beginning of a run, so a long run without "@" costs one pass.
_EMAIL = re.compile(rf"(?<!{_LOCAL}){_LOCAL}+@[\w-]+(?:\.[\w-]+)+")
# Seven digits or more, loosely separated: only such text can hold a phone number.
_DIGITS = re.compile(r"\d(?:[^\d\n]{0,3}\d){6}")
_META_SHOWN = ("kind", "url")  # a direct message or not, the public X post's address


def redact(text: str | None, region: str | None = None) -> str | None:
    """`text` with every email address and phone number (PhoneNumberMatcher, numbers valid
    in `region` or written with +country code) replaced by a placeholder."""
    if not text:
        return text
    text = _EMAIL.sub(EMAIL_HIDDEN, text)
    if _DIGITS.search(text) is None:
        return text
    parts, last = [], 0
    for match in phonenumbers.PhoneNumberMatcher(text, region or "US"):
        parts += [text[last:match.start], PHONE_HIDDEN]
        last = match.end
    return "".join(parts) + text[last:]


def redact_message(message: Message, region: str | None = None) -> Message:
    """The message without contacts: redacted text, subject, quote, author and ids; no
    HTML, attachments or channel metadata (they hold addresses and headers)."""
    return replace(
        message, text=redact(message.text, region) or "", subject=redact(message.subject, region),
        quoted=redact(message.quoted, region), author_label=redact(message.author_label, region),
        external_id=redact(message.external_id, region) or "", author_keys=(), html=None,
        attachments=(), meta={k: v for k, v in message.meta.items() if k in _META_SHOWN})
