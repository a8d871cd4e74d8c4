"""Demo customers whose identities never collide, however many are drawn.

Emails, E.164 phone numbers, X user ids and X handles are each distinct (case-insensitive)
across every person one `Identities` makes: a realistic pattern is tried first, then a
numbered one that cannot be taken. Phones: the first 1,000 come from Ofcom's drama range
(07700 900xxx); after that, +44 78 numbers from a bijection of the phone's number, so up to
10^8 more.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from inbox.app.demo.vocabulary import MAIL_DOMAINS, NAMES, X_ACCOUNTS

DRAMA_PHONES = 1000
_PHONE_STEP = 48271  # coprime with 10**8: k -> k * step mod 10**8 is a bijection
_TRIES = 3  # realistic patterns tried before a numbered one


@dataclass(slots=True)
class Person:
    name: str
    first: str
    lang: str
    email: str
    handle: str
    x_id: str
    phone: str | None
    channels: tuple[str, ...]  # of "email", "x", "webform"
    weight: float  # how often this person gets in touch, relative to others


class Identities:
    """Draws people; remembers every identity it gave out so that none is given twice."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.emails: set[str] = set()
        self.handles: set[str] = set(X_ACCOUNTS)
        self.x_ids: set[str] = set(X_ACCOUNTS.values())
        self.phones = 0
        self._drama = rng.randrange(DRAMA_PHONES)
        self._mobile = rng.randrange(10**8)
        self._numbered = 0

    def person(self, channels: tuple[str, ...]) -> Person:
        rng = self.rng
        lang = rng.choices(("en", "es", "fr", "de"), (88, 4, 4, 4))[0]
        firsts, lasts = NAMES[lang]
        first, last = rng.choice(firsts), rng.choice(lasts)
        plain_first, plain_last = _ascii(first), _ascii(last).replace("'", "")
        email = self._unique(self.emails, lambda: rng.choice((
            f"{plain_first}.{plain_last}", f"{plain_first}{plain_last}{rng.randint(1, 99)}",
            f"{plain_first[0]}.{plain_last}", f"{plain_first}_{rng.randint(70, 99)}"))
            + "@" + rng.choice(MAIL_DOMAINS),
            lambda n: f"{plain_first}.{plain_last}.{n}@{MAIL_DOMAINS[n % len(MAIL_DOMAINS)]}")
        handle = self._unique(self.handles, lambda: rng.choice((
            f"{plain_first}{plain_last}", f"{plain_first}_{plain_last[0]}{rng.randint(1, 99)}",
            f"{plain_last}{plain_first[0]}", f"the_{plain_first.lower()}{rng.randint(1, 999)}",
            f"{plain_first.lower()}{rng.randint(1980, 2006)}"))[:15],
            lambda n: f"{plain_first[:15 - len(str(n)) - 1]}_{n}")
        x_id = str(rng.randint(10**17, 2 * 10**18))
        while x_id in self.x_ids:
            x_id = str(rng.randint(10**17, 2 * 10**18))
        self.x_ids.add(x_id)
        phone = self.phone() if rng.random() < 0.6 else None
        return Person(name=f"{first} {last}", first=first, lang=lang, email=email,
                      handle=handle, x_id=x_id, phone=phone, channels=channels,
                      weight=rng.lognormvariate(0, 0.5))

    def phone(self) -> str:
        """The next unused phone number, in E.164."""
        k, self.phones = self.phones, self.phones + 1
        if k < DRAMA_PHONES:
            return f"+447700900{(self._drama + k * 337) % DRAMA_PHONES:03d}"
        return f"+4478{(self._mobile + (k - DRAMA_PHONES) * _PHONE_STEP) % 10**8:08d}"

    def _unique(self, taken: set[str], draw: Callable[[], str],
                numbered: Callable[[int], str]) -> str:
        """A drawn value not taken yet (compared in lower case), else a numbered one."""
        for _ in range(_TRIES):
            value = draw()
            if value.lower() not in taken:
                break
        else:
            while (value := numbered(self._numbered)).lower() in taken:
                self._numbered += 1
        taken.add(value.lower())
        return value


def people(count: int, seed: int = 7) -> Iterator[Person]:
    """`count` distinct people (channel mix not drawn: every channel), for checks and tools."""
    ids = Identities(random.Random(seed))
    for _ in range(count):
        yield ids.person(("email", "x", "webform"))


def _ascii(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.replace("ß", "ss"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))
