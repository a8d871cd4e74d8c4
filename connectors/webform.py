"""Public web forms: validation and idempotent submissions, as pure functions.

`validate` and `to_inbound` know nothing of HTTP; web/forms.py adds the size and rate
limits and the honeypot around them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from inbox.errors import ConfigError, ValidationError
from inbox.identity import normalize_email, normalize_handle, normalize_phone
from inbox.model import Channel, IdentityKind, IdentityRef, Inbound, new_id
from inbox.normalize import stream_safe
from inbox.settings import Setting, check_keys, read_table, table_at

MAX_NAME = 200
MAX_MESSAGE = 10_000
MAX_TOPIC = 100
MAX_KEY = 200
HONEYPOT = "website"  # hidden from people by CSS; bots fill it in
FIELDS = ("name", "email", "message", "phone", "x_handle", "topic", "idempotency_key")
DEFAULT_INTRO = "Tell us what happened and how to reach you. We answer every message."
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True, slots=True)
class FormSpec:
    slug: str
    title: str = "Contact us"
    intro: str = DEFAULT_INTRO
    topics: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Submission:
    name: str
    email: str
    message: str
    phone: str | None = None
    x_handle: str | None = None
    topic: str | None = None
    idempotency_key: str | None = None


SETTINGS = (
    Setting("forms.<slug>.title", str, "Contact us",
            "title of the public web form served at /forms/<slug>"),
    Setting("forms.<slug>.intro", str, DEFAULT_INTRO, "text above the form"),
    Setting("forms.<slug>.topics", list, (), "topics the customer picks from (none: no topic "
            "field)", example=["Billing", "Technical problem", "Other"]),
)


def forms_from_config(config: Mapping[str, Any]) -> dict[str, FormSpec]:
    """[forms.<slug>] title/intro/topics tables; a `contact` form exists by default."""
    specs = {"contact": FormSpec("contact")}
    for slug, table in table_at(config, "forms").items():
        if not isinstance(table, Mapping):
            continue  # the core's limits such as rate_limit
        if not _SLUG.match(slug):
            raise ConfigError(f"forms.{slug}", "form names are lower-case letters, digits, '-'")
        check_keys({"forms": {slug: table}}, SETTINGS)
        values = read_table(SETTINGS, table, {}, f"forms.{slug}")
        specs[slug] = FormSpec(slug, **values)
    return specs


def _clean(value: str) -> str:
    """NFC, no control characters except newlines and tabs."""
    value = unicodedata.normalize("NFC", stream_safe(value))
    return "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch)[0] != "C"
                   or unicodedata.category(ch) == "Co")


def validate(data: Mapping[str, Any], spec: FormSpec) -> Submission:
    """A clean submission, or ValidationError naming every bad field."""
    errors: dict[str, str] = {}
    values: dict[str, str | None] = {}
    for field_name in FIELDS:
        raw = data.get(field_name)
        values[field_name] = None
        if raw is None or raw == "":
            continue
        if not isinstance(raw, str):
            errors[field_name] = "must be text"
        else:
            values[field_name] = _clean(raw).strip() or None
    name, email, message = values["name"], values["email"], values["message"]
    if not name:
        errors.setdefault("name", "please tell us your name")
    elif len(name) > MAX_NAME:
        errors["name"] = f"must be at most {MAX_NAME} characters"
    if not email:
        errors.setdefault("email", "please give an email address so we can answer")
    elif normalize_email(email) is None:
        errors["email"] = "is not a valid email address (like name@example.com)"
    if not message:
        errors.setdefault("message", "please write your message")
    elif len(message) > MAX_MESSAGE:
        errors["message"] = f"must be at most {MAX_MESSAGE} characters"
    phone = values["phone"]
    if phone and normalize_phone(phone) is None:
        errors["phone"] = "is not a phone number; include the country code, like +44 20 7946 0000"
    handle = values["x_handle"]
    if handle and normalize_handle(handle) is None:
        errors["x_handle"] = "is not an X handle (letters, digits and _, at most 15)"
    topic = values["topic"]
    if topic and spec.topics and topic not in spec.topics:
        errors["topic"] = f"must be one of: {', '.join(spec.topics)}"
    elif topic and len(topic) > MAX_TOPIC:
        errors["topic"] = f"must be at most {MAX_TOPIC} characters"
    key = values["idempotency_key"]
    if key and len(key) > MAX_KEY:
        errors["idempotency_key"] = f"must be at most {MAX_KEY} characters"
    if errors:
        raise ValidationError(errors)
    assert name and email and message
    return Submission(name, email, message, phone, handle, topic, key)


def to_inbound(sub: Submission, spec: FormSpec, received: datetime) -> Inbound:
    """The submission as an inbound message; the same idempotency key gives the same id."""
    if sub.idempotency_key:
        sender = sub.email.strip().lower()  # another sender's key can never match this one
        digest = hashlib.sha256(f"{spec.slug}\0{sender}\0{sub.idempotency_key}".encode()
                                ).hexdigest()
        external_id = f"form:{spec.slug}:{digest[:32]}"
    else:
        external_id = f"form:{spec.slug}:{new_id('')}"
    authors = [IdentityRef(IdentityKind.EMAIL, sub.email, sub.name)]
    # anyone can type anyone's phone or handle: recorded, but they link nobody by themselves
    if sub.phone:
        authors.append(IdentityRef(IdentityKind.PHONE, sub.phone, verified=False))
    if sub.x_handle:
        authors.append(IdentityRef(IdentityKind.X_HANDLE, sub.x_handle, verified=False))
    subject = f"{spec.title}: {sub.topic}" if sub.topic else spec.title
    return Inbound(channel=Channel.WEBFORM, external_id=external_id, authors=tuple(authors),
                   text=sub.message, created_at=received, author_name=sub.name,
                   subject=subject, meta={"form": spec.slug, "topic": sub.topic,
                                          "email": sub.email, "phone": sub.phone,
                                          "x_handle": sub.x_handle})


class WebForms:
    """The web form channel (inbox.ports.WebFormChannel) over the configured forms."""

    honeypot = HONEYPOT

    def __init__(self, specs: Mapping[str, FormSpec]) -> None:
        self.specs = dict(specs)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> WebForms:
        return cls(forms_from_config(config))

    def form(self, slug: str) -> FormSpec | None:
        return self.specs.get(slug)

    def inbound(self, slug: str, data: Mapping[str, Any], received: datetime) -> Inbound:
        spec = self.specs[slug]
        return to_inbound(validate(data, spec), spec, received)
