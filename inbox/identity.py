"""Identity resolution: normalize what a connector says about an author, find the customer."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from inbox.model import STRONG_KINDS, Identity, IdentityKind, IdentityRef


@functools.lru_cache(maxsize=65536)  # the same senders write again and again
def normalize_email(value: str) -> str | None:
    """The address lower-cased, or None if it is not a syntactically valid address."""
    try:
        info = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    return info.normalized.lower()


def normalize_phone(value: str, region: str | None = None) -> str | None:
    """E.164 (+441632960000), or None if it is not a possible number."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_handle(value: str) -> str | None:
    handle = value.strip().removeprefix("@").lower()
    ok = 0 < len(handle) <= 15 and all(ch.isascii() and (ch.isalnum() or ch == "_")
                                       for ch in handle)
    return handle if ok else None


@functools.lru_cache(maxsize=16384)  # the same authors again and again
def normalize_ref(ref: IdentityRef, phone_region: str | None = None) -> IdentityRef | None:
    """The ref with its value in canonical form, or None if the value is unusable."""
    value: str | None
    if ref.kind == IdentityKind.EMAIL:
        value = normalize_email(ref.value)
    elif ref.kind == IdentityKind.PHONE:
        value = normalize_phone(ref.value, phone_region)
    elif ref.kind == IdentityKind.X:
        value = ref.value.strip() if ref.value.strip().isdigit() else None
    elif ref.kind == IdentityKind.X_HANDLE:
        value = normalize_handle(ref.value)
    else:
        value = ref.value.strip() or None
    return None if value is None else IdentityRef(ref.kind, value, ref.label, ref.verified)


def author_keys(refs: Sequence[IdentityRef]) -> tuple[str, ...]:
    """What `from:` matches: every identity value (handles without '@')."""
    keys = dict.fromkeys(r.value.lower() for r in refs)
    for ref in refs:
        if ref.kind == IdentityKind.X and ref.label:
            keys.setdefault(ref.label.lower().removeprefix("@"), None)
    return tuple(keys)


@dataclass(frozen=True, slots=True)
class Resolution:
    customer_id: str | None  # None: a new customer is needed
    new_refs: tuple[IdentityRef, ...]  # refs to create as identities of that customer
    conflicts: tuple[IdentityRef, ...]  # refs owned by another customer (never moved silently)


def resolve(
    refs: Sequence[IdentityRef],
    known: Mapping[tuple[IdentityKind, str], Identity],
    customer_kinds: Mapping[str, frozenset[str]],
) -> Resolution:
    """Pick the customer the refs belong to.

    Strong identities (email, phone, X user id) decide, in the order given; unverified refs
    (claims on a public form) never decide, they are only added when they are new. A handle (weak)
    links only when no strong identity matched and the handle's customer has no other X user
    id than the one in these refs (handles change hands). `customer_kinds` maps customer ids
    of known identities to the identity kinds that customer already has.
    """
    owner: str | None = None
    deciding = [r for r in refs if r.verified]  # unverified claims never pick the customer
    for ref in deciding:
        ident = known.get((ref.kind, ref.value))
        if ident is not None and ref.kind in STRONG_KINDS:
            owner = ident.customer_id
            break
    if owner is None:
        has_x_id = any(r.kind == IdentityKind.X for r in refs)
        for ref in deciding:
            ident = known.get((ref.kind, ref.value))
            if ident is None or ref.kind in STRONG_KINDS:
                continue
            if has_x_id and IdentityKind.X in customer_kinds.get(ident.customer_id, frozenset()):
                continue  # that handle belongs to another X account now
            owner = ident.customer_id
            break
    new, conflicts = [], []
    for ref in refs:
        ident = known.get((ref.kind, ref.value))
        if ident is None:
            new.append(ref)
        elif ident.customer_id != owner:
            conflicts.append(ref)
    return Resolution(owner, tuple(new), tuple(conflicts))
