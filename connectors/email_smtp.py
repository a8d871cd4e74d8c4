"""Email replies: the reply built from the conversation (recipient, threading headers,
subject token) and sent by SMTP through the account of the mailbox the customer wrote to.

smtplib is blocking: the delivery runs in a thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import re
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from connectors.email_config import SmtpConfig, not_verified, tls_context
from connectors.email_parse import CHANNEL, CONVERSATION_TOKEN
from inbox.errors import AuthFailed, FatalError, Refused, RetryableError
from inbox.identity import normalize_email
from inbox.model import Channel, Conversation, Direction, IdentityKind, Message
from inbox.ports import Outbound, Receipt

log = logging.getLogger(__name__)


class SmtpMissing:
    """The email sender when mail is read but no SMTP account is set: says what to set."""

    channel = CHANNEL
    why = ("email replies need an SMTP account: set smtp_url and from_address in "
           "[[email.mailboxes]] (or INBOX_SMTP_URL and INBOX_EMAIL_FROM), then restart")

    def check(self, out: Outbound) -> None:
        raise Refused(self.why)

    async def send(self, out: Outbound) -> Receipt:
        raise Refused(self.why)


def subject_token(conv: Conversation) -> str:
    """What "[#...]" in a reply's subject holds: the reference, never the internal id (the
    id only for a conversation a store has not numbered yet)."""
    return str(conv.ref) if conv.ref else conv.id


_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|antw|vs)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


def reply_subject(subject: str | None, token: str) -> str:
    """'Re: <subject> [#<token>]' without stacking Re: or the token; the token is the
    conversation's human reference ("10482"), which the customer's answer carries back."""
    base = CONVERSATION_TOKEN.sub("", subject or "")
    base = " ".join(_REPLY_PREFIX.sub("", base).split()) or "Your message"
    return f"Re: {base} [#{token}]"


def _last_inbound(history: Sequence[Message]) -> Message | None:
    """The customer message a reply answers: their last mail (or web form); their last X
    message only when there is none (a conversation merged with X posts, answered by email:
    never in reply to a post)."""
    inbound = [m for m in history if m.direction == Direction.INBOUND]
    inbound = [m for m in inbound if m.channel != Channel.X] or inbound
    human = [m for m in inbound if not m.automated]
    candidates = human or inbound
    return candidates[-1] if candidates else None


def check_email_reply(out: Outbound) -> None:
    """Refused if the customer has no email address to answer."""
    if not any(i.kind == IdentityKind.EMAIL for i in out.customer.identities):
        raise Refused("this customer has no email address; reply on another channel")


def reply_recipient(out: Outbound) -> str:
    """The one address a reply goes to, validated: the last inbound mail's Reply-To when it
    held exactly one valid address, else the address it came from, else the customer's.

    Never a list, and never an address read from a display name. Refused if none is valid.
    """
    known = [i.value for i in out.customer.identities if i.kind == IdentityKind.EMAIL]
    candidates: list[str] = []
    last = _last_inbound(out.history)
    if last is not None:
        reply_to = last.meta.get("reply_to")
        if isinstance(reply_to, list) and len(reply_to) == 1:  # stored before it was one str
            reply_to = reply_to[0]
        if isinstance(reply_to, str):
            candidates.append(reply_to)
        candidates += [k for k in last.author_keys if k in known]
    candidates += known
    for candidate in candidates:
        valid = normalize_email(candidate)
        if valid:
            return valid
    raise Refused("this customer has no valid email address; reply on another channel")


class EmailSender:
    """Sends agent replies by SMTP, threaded under the customer's last email.

    One sender serves every mailbox: a reply goes out through the SMTP account of the mailbox
    the customer last wrote to (inbound meta "mailbox"), else through the first account.
    """

    channel = CHANNEL  # web form replies go through this sender too (see the runtime)

    def __init__(self, accounts: Mapping[str, SmtpConfig]) -> None:
        if not accounts:
            raise ValueError("EmailSender needs at least one SMTP account")
        self.accounts = dict(accounts)

    def account(self, out: Outbound) -> SmtpConfig:
        """The SMTP account to answer this conversation from."""
        last = _last_inbound(out.history)
        name = last.meta.get("mailbox") if last is not None else None
        return self.accounts.get(str(name), next(iter(self.accounts.values())))

    def check(self, out: Outbound) -> None:
        """Refused if the customer has no email address to answer."""
        check_email_reply(out)

    def build(self, out: Outbound) -> EmailMessage:
        """The reply as an EmailMessage with Message-ID, threading headers and subject token."""
        self.check(out)
        from_address = self.account(out).from_address
        msg = EmailMessage()
        msg["Message-ID"] = make_msgid(idstring=out.message.id,
                                       domain=from_address.rpartition("@")[2] or None)
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["From"] = from_address
        msg["To"] = reply_recipient(out)
        last = _last_inbound(out.history)
        parent = _email_id(last) if last is not None else None
        if last is not None and parent:
            refs = [r for r in last.meta.get("references") or [] if r != parent]
            msg["In-Reply-To"] = f"<{parent}>"
            msg["References"] = " ".join(f"<{r}>" for r in [*refs, parent])
        subject = out.conversation.subject or (last.subject if last else None)
        msg["Subject"] = reply_subject(subject, subject_token(out.conversation))
        msg.set_content(out.message.text)
        return msg

    async def send(self, out: Outbound) -> Receipt:
        """Deliver the reply; RetryableError for temporary failures, FatalError for permanent."""
        msg = self.build(out)
        recipients = [a.addr_spec for a in msg["To"].addresses]
        refused = await asyncio.to_thread(self._deliver, self.account(out), msg, recipients)
        mid = str(msg["Message-ID"]).strip().strip("<>")
        log.info("email reply sent", extra={"conversation": out.conversation.id,
                                            "recipients": len(recipients)})
        meta: dict[str, Any] = {
            "message_id": mid, "to": recipients, "subject": str(msg["Subject"]),
            "in_reply_to": str(msg["In-Reply-To"]).strip("<>") if msg["In-Reply-To"] else None,
            "references": re.findall(r"<([^<>]+)>", str(msg["References"] or "")),
        }
        if refused:
            meta["refused"] = {k: f"{code} {_decode(text)}" for k, (code, text) in refused.items()}
        return Receipt(provider_id=mid.lower(), thread_keys=(f"mid:{mid.lower()}",), meta=meta)

    @staticmethod
    def _deliver(account: SmtpConfig, msg: EmailMessage, recipients: list[str]
                 ) -> dict[str, tuple[int, bytes]]:
        ep, timeout = account.endpoint, account.timeout
        context = tls_context(account.ca_certs)
        try:
            smtp = (smtplib.SMTP_SSL(ep.host, ep.port, timeout=timeout, context=context)
                    if ep.security == "ssl" else smtplib.SMTP(ep.host, ep.port, timeout=timeout))
            with smtp:
                if ep.security == "starttls":
                    smtp.starttls(context=context)
                if ep.username:
                    smtp.login(ep.username, ep.password or "")
                return smtp.send_message(msg, from_addr=account.from_address,
                                         to_addrs=recipients)
        except smtplib.SMTPAuthenticationError as exc:
            raise AuthFailed(f"SMTP login as {ep.username!r} at {ep.host}:{ep.port} was refused "
                             f"({exc.smtp_code} {_decode(exc.smtp_error)}); check smtp_password"
                             ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            why = "; ".join(f"{r}: {c} {_decode(t)}" for r, (c, t) in exc.recipients.items())
            if all(code >= 500 for code in codes):
                raise FatalError(f"recipient refused: {why}") from None
            raise RetryableError(f"recipient temporarily refused: {why}") from None
        except ssl.SSLCertVerificationError as exc:
            raise not_verified(exc, ep) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise FatalError(f"SMTP server {ep.host}:{ep.port}: {exc}") from None
        except smtplib.SMTPResponseException as exc:
            why = f"{exc.smtp_code} {_decode(exc.smtp_error)}"
            if exc.smtp_code >= 500:
                raise FatalError(f"SMTP server rejected the reply: {why}") from None
            raise RetryableError(f"SMTP server deferred the reply: {why}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise RetryableError(f"SMTP server {ep.host}:{ep.port} unreachable: "
                                 f"{type(exc).__name__}: {exc}") from None


def _email_id(message: Message) -> str | None:
    mid = message.meta.get("message_id")
    if mid:
        return str(mid)
    if message.channel == CHANNEL and not message.external_id.startswith("sha256:"):
        return message.external_id
    return None


def _decode(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
