"""Email replies: the reply built from the conversation (recipient, threading headers,
subject token) and the agent's choices (subject, cc), and sent by SMTP through the account
of the mailbox the customer wrote to.

smtplib is blocking: the delivery runs in a thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import re
import smtplib
import ssl
from collections.abc import Collection, Mapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from connectors.email_config import SmtpConfig, not_verified, tls_context
from connectors.email_parse import CHANNEL, CONVERSATION_TOKEN
from inbox.errors import AuthFailed, FatalError, Refused, RetryableError
from inbox.identity import normalize_email
from inbox.model import Channel, Conversation, Direction, IdentityKind, Message
from inbox.ports import Outbound, Receipt, ReplyForm
from inbox.reply_options import MAX_CC, reply_options

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
    return with_token(default_subject(subject), token)


def default_subject(subject: str | None) -> str:
    """'Re: <subject>' without stacking Re: (nor a reference token): what the composer
    offers."""
    base = CONVERSATION_TOKEN.sub("", subject or "")
    base = " ".join(_REPLY_PREFIX.sub("", base).split()) or "Your message"
    return f"Re: {base}"


def with_token(subject: str, token: str) -> str:
    """The subject an agent chose, with the conversation's reference token once, at the end."""
    base = " ".join(CONVERSATION_TOKEN.sub("", subject).split()) or "Your message"
    return f"{base} [#{token}]"


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


def conversation_subject(out: Outbound) -> str | None:
    last = _last_inbound(out.history)
    return out.conversation.subject or (last.subject if last else None)


def default_cc(out: Outbound, own: Collection[str]) -> tuple[str, ...]:
    """Who else the customer's last email went to (its To and Cc), without our own mailbox
    addresses (`own`), the customer and the reply's recipient; valid addresses only, at most
    MAX_CC."""
    last = _last_inbound(out.history)
    if last is None:
        return ()
    skip = {normalize_email(a) for a in own} | set(last.author_keys) | {
        i.value for i in out.customer.identities if i.kind == IdentityKind.EMAIL}
    with suppress(Refused):
        skip.add(reply_recipient(out))
    listed = [*(last.meta.get("to") or ()), *(last.meta.get("cc") or ())]
    found = dict.fromkeys(valid for a in listed if isinstance(a, str)
                          and (valid := normalize_email(a)) and valid not in skip)
    return tuple(found)[:MAX_CC]


def email_reply_form(out: Outbound, own: Collection[str]) -> ReplyForm:
    """Where a reply goes, and the subject and cc it gets unless the agent changes them."""
    try:
        to: str | None = reply_recipient(out)
    except Refused:
        to = None
    return ReplyForm(to=to, subject=default_subject(conversation_subject(out)),
                     cc=default_cc(out, own))


def chosen_cc(out: Outbound, to: str) -> list[str]:
    """The cc the agent chose (meta "cc"), checked again, without the To address."""
    cc = out.message.meta.get("cc") or ()
    checked = reply_options(cc=list(cc) if isinstance(cc, list | tuple) else cc).cc or ()
    return [a for a in checked if a != to]


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

    def reply_form(self, out: Outbound) -> ReplyForm:
        return email_reply_form(out, [a.from_address for a in self.accounts.values()])

    def build(self, out: Outbound) -> EmailMessage:
        """The reply as an EmailMessage with Message-ID, threading headers, the subject (the
        agent's choice or "Re: ...") with its token, and the chosen cc."""
        self.check(out)
        from_address = self.account(out).from_address
        msg = EmailMessage()
        msg["Message-ID"] = make_msgid(idstring=out.message.id,
                                       domain=from_address.rpartition("@")[2] or None)
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["From"] = from_address
        msg["To"] = to = reply_recipient(out)
        if cc := chosen_cc(out, to):
            msg["Cc"] = ", ".join(cc)
        last = _last_inbound(out.history)
        parent = _email_id(last) if last is not None else None
        if last is not None and parent:
            refs = [r for r in last.meta.get("references") or [] if r != parent]
            msg["In-Reply-To"] = f"<{parent}>"
            msg["References"] = " ".join(f"<{r}>" for r in [*refs, parent])
        chosen = reply_options(subject=out.message.meta.get("subject")).subject  # checked again
        token = subject_token(out.conversation)
        msg["Subject"] = with_token(chosen, token) if chosen else \
            reply_subject(conversation_subject(out), token)
        if out.message.automated:  # RFC 3834: other robots answer it with nothing (no loops)
            msg["Auto-Submitted"] = "auto-replied"
            msg["X-Auto-Response-Suppress"] = "All"
        msg.set_content(out.message.text)
        return msg

    async def send(self, out: Outbound) -> Receipt:
        """Deliver the reply; RetryableError for temporary failures, FatalError for permanent."""
        msg = self.build(out)
        recipients = [a.addr_spec for h in ("To", "Cc") if msg[h] for a in msg[h].addresses]
        refused = await asyncio.to_thread(self._deliver, self.account(out), msg, recipients)
        mid = str(msg["Message-ID"]).strip().strip("<>")
        log.info("email reply sent", extra={"conversation": out.conversation.id,
                                            "recipients": len(recipients)})
        meta: dict[str, Any] = {
            "message_id": mid, "to": [a.addr_spec for a in msg["To"].addresses],
            "cc": [a.addr_spec for a in msg["Cc"].addresses] if msg["Cc"] else [],
            "subject": str(msg["Subject"]),
            "in_reply_to": str(msg["In-Reply-To"]).strip("<>") if msg["In-Reply-To"] else None,
            "references": re.findall(r"<([^<>]+)>", str(msg["References"] or "")),
        }
        if refused:
            meta["refused"] = {k: f"{code} {_decode(text)}" for k, (code, text) in refused.items()}
        return Receipt(provider_id=mid.lower(), thread_keys=(f"mid:{mid.lower()}",), meta=meta)

    async def send_notice(self, to: Sequence[str], subject: str, text: str) -> None:
        """A plain-text notice to the team (spike alerts) from the first account."""
        account = next(iter(self.accounts.values()))
        msg = EmailMessage()
        msg["Message-ID"] = make_msgid(domain=account.from_address.rpartition("@")[2] or None)
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["From"] = account.from_address
        msg["To"] = ", ".join(to)
        msg["Subject"] = subject
        msg.set_content(text)
        await asyncio.to_thread(self._deliver, account, msg, list(to))

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
