"""Trending terms of the voice of the customer (pure): the words and two-word phrases that
rose in a period's messages compared with the previous period of the same length.

Left out: stop words of English, Dutch, French, German and Spanish (the `stop-words`
package), names (the authors' and the team's), numbers and anything with a digit, email
addresses and phone numbers (for everyone, as inbox.privacy finds them) and links. Handles
(@name) are counted apart. The same code serves every store: the stores only hand over a
sample of each period's messages.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache, lru_cache

from stop_words import get_stop_words

from inbox.model import And, FieldTerm, Message, QueryNode
from inbox.privacy import EMAIL_HIDDEN, PHONE_HIDDEN, redact
from inbox.query import FIRST_DATE

LANGUAGES = ("en", "nl", "fr", "de", "es")
# Stop words that carry a complaint inside a phrase: never a trend alone, but a phrase may
# start ("still waiting", "no reply", "not working") or end ("charged twice", "down again")
# with them.
PHRASE_STARTS = frozenset({"still", "no", "not", "never", "nothing", "nobody", "nog", "niet",
                           "geen", "pas", "toujours", "noch", "nicht", "kein", "keine",
                           "todavia", "nunca", "nada"})
PHRASE_ENDS = frozenset({"twice", "again", "encore", "opnieuw", "wieder"})
MIN_DOCS = 3  # a term in fewer matching messages is no trend
DEFAULT_DAYS = 7  # the period of a query without after:

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HANDLE = re.compile(r"(?<![\w@])@(\w{1,30})")
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_MARKS = re.compile(r"[\u0300-\u036f]")
_DIGIT = re.compile(r"\d")
_BREAK = re.compile(r"[.,;:!?()\[\]\"\n]+")  # no phrase across these


def plain(word: str) -> str:
    """Lowercase without diacritics: how stop words and names are compared."""
    lower = word.lower()
    return lower if lower.isascii() else _MARKS.sub("", unicodedata.normalize("NFKD", lower))


@cache
def stop_words() -> frozenset[str]:
    """The five languages' stop words (loaded once per process), plain."""
    return frozenset(plain(w) for lang in LANGUAGES for w in get_stop_words(lang))


@dataclass(frozen=True, slots=True)
class Trend:
    term: str  # a word or a two-word phrase
    count: int  # matching messages with it in the period (estimated when sampled)
    previous: int  # the same in the previous period
    score: float  # how much it rose (JLH of the two periods' shares), best first

    @property
    def change(self) -> int:
        return self.count - self.previous


EPOCH = date.fromisoformat(FIRST_DATE)  # no period starts earlier (every store takes it)


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date  # excluded

    @property
    def previous(self) -> Period:
        """The same length before (from EPOCH at the earliest)."""
        return Period(max(self.start - (self.end - self.start), EPOCH), self.start)


@dataclass(frozen=True, slots=True)
class Sample:
    """A period's matching messages, the newest `messages` of `total`."""

    messages: Sequence[Message]
    total: int

    @property
    def scale(self) -> float:
        return self.total / len(self.messages) if self.messages else 1.0


@dataclass(frozen=True, slots=True)
class Trending:
    period: Period
    terms: list[Trend]
    handles: list[tuple[str, int]]  # @handles mentioned, most first
    sampled: bool  # counts estimated from the newest messages of a period


def _dated(node: QueryNode | None) -> tuple[list[QueryNode], list[str], list[str]]:
    parts = list(node.nodes if isinstance(node, And) else (node,) if node is not None else ())
    dates = {"after": [], "before": []}  # type: dict[str, list[str]]
    rest = []
    for p in parts:
        if isinstance(p, FieldTerm) and p.name in dates:
            dates[p.name].append(p.value)
        else:
            rest.append(p)
    return rest, dates["after"], dates["before"]


def period_of(node: QueryNode | None, newest: date | None, today: date) -> Period:
    """The query's own after:/before: days; without before:, up to the newest match's day
    (today without one); without after:, the DEFAULT_DAYS before that end."""
    _, afters, befores = _dated(node)
    end = (min(date.fromisoformat(b) for b in befores) if befores
           else (newest or today) + timedelta(days=1))
    start = (max(date.fromisoformat(a) for a in afters) if afters
             else end - timedelta(days=DEFAULT_DAYS))
    end = max(end, EPOCH + timedelta(days=1))
    return Period(max(min(start, end - timedelta(days=1)), EPOCH), end)


def dated(node: QueryNode | None) -> bool:
    """Whether the query names its own days (after:/before:)."""
    _, afters, befores = _dated(node)
    return bool(afters or befores)


def within(node: QueryNode | None, period: Period) -> QueryNode:
    """The query with its after:/before: replaced by the period's."""
    rest, _, _ = _dated(node)
    return And((*rest, FieldTerm("after", period.start.isoformat()),
                FieldTerm("before", period.end.isoformat())))


def name_words(names: Iterable[str | None]) -> frozenset[str]:
    """The words of people's names and addresses (authors, the team), plain."""
    return frozenset(plain(w) for n in names if n for w in _TOKEN.findall(n.replace("@", " ")))


def _clean(text: str) -> tuple[str, frozenset[str]]:
    """The text without contacts (for everyone: inbox.privacy finds them however written),
    links and handles, each a phrase break; and the handles."""
    text = (redact(text) or "").replace(EMAIL_HIDDEN, " . ").replace(PHONE_HIDDEN, " . ")
    text = _EMAIL.sub(" . ", _URL.sub(" . ", text))
    return _HANDLE.sub(" . ", text), frozenset("@" + h.lower() for h in _HANDLE.findall(text))


Chunks = tuple[tuple[tuple[str, str], ...], ...]  # per phrase chunk: (word, plain) tokens


@lru_cache(maxsize=4096)  # the two periods' samples: the same messages from call to call
def _chunks(text: str) -> tuple[Chunks, frozenset[str]]:
    """A text's tokens, as shown and as compared, per chunk between phrase breaks; and its
    handles. Most of trending's time: kept for the texts of the last samples."""
    cleaned, handles = _clean(text)
    return tuple(tuple(_word(t) for t in _TOKEN.findall(chunk))
                 for chunk in _BREAK.split(cleaned)), handles


def terms_of(text: str, names: frozenset[str], handles: Counter[str] | None = None
             ) -> set[str]:
    """The words and two-word phrases of a text that may trend (handles counted apart)."""
    stop, found = stop_words(), set()
    chunks, found_handles = _chunks(text)
    if handles is not None:
        handles.update(found_handles)
    for chunk in chunks:
        previous: tuple[str, str] | None = None  # (word, plain) of the token before
        for word, key in chunk:
            if not key or key in names:
                previous = None
                continue
            if key not in stop:
                found.add(word)
            if previous and _phrase(previous[1], key, stop):
                found.add(f"{previous[0]} {word}")
            previous = (word, key)
    return found


@lru_cache(maxsize=200_000)  # the words of a few thousand messages repeat
def _word(token: str) -> tuple[str, str]:
    """A token as shown and as compared (plain); "" to compare: no word (a number, a letter
    alone, anything with a digit)."""
    key = plain(token)
    return token.lower(), "" if len(key) < 2 or _DIGIT.search(token) else key


def _phrase(first: str, second: str, stop: frozenset[str]) -> bool:
    """May two words (plain) make a phrase: not stop words, but for a complaint's."""
    if first in stop and second in stop:
        return False
    return ((first not in stop or first in PHRASE_STARTS)
            and (second not in stop or second in PHRASE_ENDS))


def _subsumed(counts: Counter[str], before: Counter[str]) -> set[str]:
    """Words that only occur within one of the phrases (the same counts in both periods):
    the phrase says more."""
    out = set()
    for term, n in counts.items():
        if " " in term and n >= MIN_DOCS:
            out |= {w for w in term.split(" ")
                    if counts[w] == n and before[w] == before[term]}
    return out


def _doc_counts(sample: Sample, names: frozenset[str], handles: Counter[str] | None
                ) -> Counter[str]:
    counts: Counter[str] = Counter()
    for m in sample.messages:
        counts.update(terms_of(f"{m.subject or ''}\n{m.text}", names, handles))
    return counts


def jlh(fg: float, bg: float) -> float:
    """How much more often a term occurs now than before (Elasticsearch's JLH score)."""
    return (fg - bg) * (fg / bg) if fg > bg > 0 else 0.0


def trending(period: Period, now: Sample, before: Sample, people: Iterable[str | None],
             size: int = 15) -> Trending:
    """The terms that rose most from `before` (the previous period) to `now`, phrases
    included; people: names of the team (the messages' authors are added)."""
    names = name_words([*people, *(m.author_label for s in (now, before) for m in s.messages)])
    handles: Counter[str] = Counter()
    fg, bg = _doc_counts(now, names, handles), _doc_counts(before, names, None)
    n, n_bg = len(now.messages), len(before.messages)
    floor = 1 / (n + n_bg) if n + n_bg else 1.0  # a term absent before rose from "almost 0"
    scored = []
    dropped = _subsumed(fg, bg)
    for term, c in fg.items():
        if c < MIN_DOCS or term in dropped:
            continue
        share_bg = max(bg[term] / n_bg if n_bg else 0.0, floor)
        score = jlh(c / n, share_bg)
        if score > 0:
            scored.append(Trend(term, round(c * now.scale), round(bg[term] * before.scale),
                                score))
    scored.sort(key=lambda t: (-t.score, t.term))
    top_handles = sorted(((h, round(k * now.scale)) for h, k in handles.items() if k >= 2),
                         key=lambda p: (-p[1], p[0]))[:10]
    sampled = now.total > n or before.total > n_bg
    return Trending(period, scored[:size], top_handles, sampled)
