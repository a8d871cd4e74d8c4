"""Bulk actions on a selection of conversations (add a tag, set a status, assign): each
conversation is changed on the version the agent saw, one after the other, and those not
changed are listed with why: changed meanwhile (stale, with what changed), not allowed,
gone, or refused by the use case (a ValidationError, say). Never a silent skip."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from inbox.errors import NotFound, PermissionDenied, StaleVersion, UserError
from inbox.model import Conversation

MAX_BULK = 200  # conversations in one bulk action (a queue page holds 50)


@dataclass(frozen=True, slots=True)
class Target:
    id: str
    version: int  # the version the agent saw


@dataclass(frozen=True, slots=True)
class NotChanged:
    id: str
    reason: str  # stale | forbidden | not_found | refused
    error: str  # for people
    changes: tuple[str, ...] = ()  # of a stale one: what changed since the agent's version
    version: int | None = None  # of a stale one: the version to act on now


@dataclass(frozen=True, slots=True)
class BulkResult:
    changed: tuple[Conversation, ...]
    not_changed: tuple[NotChanged, ...]


# a use case called as act(conversation id, expected_version=the version the agent saw)
Act = Callable[..., Awaitable[Conversation]]


async def each(targets: Sequence[Target], act: Act) -> BulkResult:
    """`act` on every target, in order; why each failure failed.
    Errors that are not the conversation's (the store is down) stop the batch."""
    changed: list[Conversation] = []
    failed: list[NotChanged] = []
    for target in dict.fromkeys(targets):  # a conversation selected twice acts once
        try:
            changed.append(await act(target.id, expected_version=target.version))
        except StaleVersion as exc:
            failed.append(NotChanged(target.id, "stale", "it changed since you saw it",
                                     tuple(exc.changes), exc.version))
        except PermissionDenied as exc:
            failed.append(NotChanged(target.id, "forbidden", str(exc)))
        except NotFound:
            failed.append(NotChanged(target.id, "not_found", "there is no such conversation"))
        except UserError as exc:
            failed.append(NotChanged(target.id, "refused", str(exc)))
    return BulkResult(tuple(changed), tuple(failed))
