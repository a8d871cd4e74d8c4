"""Password hashing (argon2, off the event loop, tunable cost) and strength rules (zxcvbn)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from inbox.config import AuthSettings

MIN_LENGTH = 10
MAX_LENGTH = 1024  # longer is refused before any hashing: nobody types that, attackers do
MIN_SCORE = 3  # zxcvbn: 0 too guessable .. 4 very unguessable
_ZXCVBN_MAX = 72  # zxcvbn refuses longer input; the start of a password bounds its strength


@dataclass(frozen=True)
class Passwords:
    """argon2id hashing with injectable cost; every hash and check runs in a worker thread."""

    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 4
    _hasher: PasswordHasher = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hasher", PasswordHasher(
            time_cost=self.time_cost, memory_cost=self.memory_kib, parallelism=self.parallelism))

    @classmethod
    def from_settings(cls, auth: AuthSettings) -> Passwords:
        """The hashing cost the [auth] settings ask for (checked when they were loaded)."""
        return cls(time_cost=auth.argon2_time_cost, memory_kib=auth.argon2_memory_kib,
                   parallelism=auth.argon2_parallelism)

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, _utf8(password))

    async def verify(self, password_hash: str, password: str) -> bool:
        """True if the password matches (any argon2 parameters: old hashes keep working)."""
        return await asyncio.to_thread(self._verify, password_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, _utf8(password))
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """The hash was made with other parameters than ours (cheap: parses the hash)."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except (InvalidHashError, ValueError):
            return True


def _utf8(password: str) -> bytes:
    return password.encode("utf-8", "surrogatepass")  # hostile input: never an encode error


def _personal_parts(inputs: Iterable[str | None]) -> list[str]:
    """The user's email, its local part, their name and the longer words of both, lower-cased."""
    parts: set[str] = set()
    for value in inputs:
        if not value:
            continue
        value = value.lower().strip()
        own = value.split("@", 1)[0] if "@" in value else value  # never the mail domain
        parts |= {value, own}
        parts |= {word for word in re.split(r"[\W_]+", own) if len(word) >= 4}
    return sorted((p for p in parts if len(p) >= 3), key=len, reverse=True)


def strength_problem(password: str, user_inputs: Iterable[str | None] = ()) -> str | None:
    """Why this password is refused, or None. user_inputs: the user's email and name."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    if any(0xD800 <= ord(ch) <= 0xDFFF or ord(ch) < 32 or ord(ch) == 127 for ch in password):
        return "must not contain control characters or broken Unicode"
    personal = _personal_parts(user_inputs)
    lowered = password.lower()
    if any(part in lowered for part in personal):
        return "must not contain your name or email address"
    from zxcvbn import zxcvbn  # 14 MB of word lists: loaded by the first password check only

    result = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=personal)
    if result["score"] >= MIN_SCORE:
        return None
    feedback = result["feedback"]
    hints = [feedback.get("warning") or "", *(feedback.get("suggestions") or [])]
    advice = " ".join(h for h in hints if h) or "Add another word or two."
    return f"is too easy to guess. {advice}"
