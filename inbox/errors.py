"""One tree of exceptions, grouped by what the caller should do.

    InboxError
    ├── UserError            the request is wrong: show the message, change the input
    │   ├── ValidationError  per-field problems: .errors = {field: why}
    │   ├── QueryError       a search query that does not parse: .position, .problem
    │   ├── ConfigError      a config key is wrong: .key and the fix in the message
    │   ├── NotFound
    │   ├── PermissionDenied
    │   └── Refused          the action is not allowed in this state (e.g. X reply rules)
    ├── ConflictError        someone else changed it first: reload and retry
    │   └── StaleVersion     a conversation changed since the version the agent saw: .changes
    ├── StoreRefused         the store refused these documents (a value it cannot hold):
    │                        retrying the same documents fails again; set them aside
    ├── RetryableError       try again later, nothing is lost (store down, 5xx, network)
    │   └── RateLimited      .retry_after seconds
    └── FatalError           needs a human: bad credentials, usage cap, corrupt data
        ├── AuthFailed
        └── StoreMissing     the store is not initialised (e.g. its indices are gone)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class InboxError(Exception):
    """Base of every error this package raises on purpose."""


class UserError(InboxError):
    status = 400


class ValidationError(UserError):
    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


class QueryError(UserError):
    def __init__(self, problem: str, position: int, query: str = "") -> None:
        self.problem = problem
        self.position = position
        self.query = query
        super().__init__(f"{problem} at position {position}")


class ConfigError(UserError):
    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"config {key}: {message}")


class NotFound(UserError):
    status = 404


class Gone(UserError):
    """It existed but is no more (an expired link)."""
    status = 410


class PermissionDenied(UserError):
    status = 403


class Refused(UserError):
    status = 409


class ConflictError(InboxError):
    status = 409


class StaleVersion(ConflictError):
    """An action on a conversation version that is no longer current.

    `changes` says what happened since, in words ("Dana replied 12 s ago"); `version`
    is the current version, to act on once the agent has seen them."""

    def __init__(self, version: int, changes: Sequence[str], advice: str) -> None:
        self.version, self.changes = version, list(changes)
        what = ". ".join(self.changes) or f"it is at version {version} now"
        super().__init__(f"The conversation changed since you loaded it: {what}. {advice}")


class RetryableError(InboxError):
    status = 503


class RateLimited(RetryableError):
    status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class StoreUnavailable(RetryableError):
    """The store cannot be reached or refuses writes; nothing was written."""


class StoreRefused(InboxError):
    """The store refused documents of a write (a value it cannot hold); nothing was written.

    .ids names the refused documents when the store knows them (message, customer,
    conversation or identity ids); empty when it could not tell which."""

    status = 422

    def __init__(self, message: str, ids: tuple[str, ...] = ()) -> None:
        self.ids = ids
        super().__init__(message)


class FatalError(InboxError):
    status = 500


class AuthFailed(FatalError):
    """Credentials for an external service were refused."""


class StoreMissing(FatalError):
    """The store is not initialised (its indices or aliases do not exist): retrying will not
    help; the message says how to create them."""

    status = 503
