"""Customer satisfaction (CSAT) after resolution: the survey link's token, the answer's
checks and the report's figures, pure (the use case: inbox.usecases.csat; the survey's
text is a template like the acknowledgements', inbox.acks, kind "csat").

A survey asks one question, "how satisfied are you?", 1 (very unsatisfied) to 5 (very
satisfied); 4 and 5 count as satisfied, 1 and 2 as low (the assignee's managers are told).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from inbox.errors import ValidationError
from inbox.normalize import clean_text

SCORES = (1, 2, 3, 4, 5)
SCORE_NAMES: Mapping[int, str] = {1: "Very unsatisfied", 2: "Unsatisfied", 3: "Neutral",
                                  4: "Satisfied", 5: "Very satisfied"}
LOW = 2  # a score at or below this alerts the managers
SATISFIED = 4  # a score at or above this is satisfied
MAX_COMMENT = 2000  # characters
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")


def new_token() -> tuple[str, str]:
    """A survey link's token (unguessable: 256 random bits) and the key it is stored by."""
    token = secrets.token_urlsafe(32)
    return token, hashlib.sha256(token.encode()).hexdigest()


def token_key(token: str) -> str | None:
    """The stored key of a token (its sha256); None when it cannot be one of ours."""
    if not _TOKEN.fullmatch(token):
        return None
    return hashlib.sha256(token.encode()).hexdigest()


def checked_score(value: Any) -> int:
    """The score 1-5 from a form or JSON value (ValidationError otherwise)."""
    text = str(value).strip() if isinstance(value, (str, int)) else ""
    if text not in {str(s) for s in SCORES}:
        raise ValidationError({"score": "pick one of 1 to 5"})
    return int(text)


def checked_comment(value: Any) -> str | None:
    """The optional comment, cleaned (control characters out) and bounded."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError({"comment": "must be text"})
    text = clean_text(value, MAX_COMMENT + 1).strip()
    if len(text) > MAX_COMMENT:
        raise ValidationError({"comment": f"at most {MAX_COMMENT:,} characters"})
    return text or None


def score_from_query(value: str | None) -> int | None:
    """A score preselected by the link (?score=4); None for anything else."""
    return int(value) if value in {str(s) for s in SCORES} else None


@dataclass(frozen=True, slots=True)
class CsatRow:
    """The survey figures of one group of conversations resolved in the report's range."""

    group: str  # all | channel | agent | day
    key: str  # the channel, the assignee's user id ("unassigned"), the day (YYYY-MM-DD)
    sent: int  # surveys sent
    responses: int  # answered
    satisfied: int  # answered 4 or 5
    total: int  # the sum of the scores

    @property
    def average(self) -> float | None:
        return self.total / self.responses if self.responses else None

    @property
    def satisfied_rate(self) -> float | None:
        return self.satisfied / self.responses if self.responses else None

    @property
    def response_rate(self) -> float | None:
        return self.responses / self.sent if self.sent else None


CSAT_MEASURES = ("sent", "responses", "satisfied")  # the counts of a CsatRow


def _cells(doc: Mapping[str, Any], since: datetime, until: datetime, zone: tzinfo
           ) -> tuple[tuple[str, str], ...]:
    """The (group, key) rows a survey counts in: none unless it was sent for a conversation
    resolved in [since, until)."""
    if doc.get("sent_at") is None:
        return ()
    resolved = datetime.fromisoformat(doc["resolved_at"])
    if not since <= resolved < until:
        return ()
    return (("all", "all"), ("channel", doc["channel"]),
            ("agent", doc.get("assignee") or "unassigned"),
            ("day", resolved.astimezone(zone).date().isoformat()))


def _measures(doc: Mapping[str, Any]) -> tuple[bool, bool, bool]:
    """Whether a sent survey counts as sent, a response, satisfied (CSAT_MEASURES)."""
    score = doc.get("score")
    if not isinstance(score, int):
        return True, False, False
    return True, True, score >= SATISFIED


def behind(docs: Iterable[tuple[str, Mapping[str, Any]]], since: datetime, until: datetime,
           zone: tzinfo, group: str, key: str, measure: str) -> list[str]:
    """The conversation ids behind one count of the report (summarize): the surveys of row
    (group, key) counted by `measure`, the latest resolution first."""
    counted = CSAT_MEASURES.index(measure)
    found = [(doc["resolved_at"], cid) for cid, doc in docs
             if (group, key) in _cells(doc, since, until, zone) and _measures(doc)[counted]]
    return [cid for _, cid in sorted(found, reverse=True)]


def summarize(docs: Iterable[Mapping[str, Any]], since: datetime, until: datetime,
              zone: tzinfo) -> tuple[CsatRow, ...]:
    """The figures overall, by channel, agent and day (in `zone`) of the surveys sent for
    conversations resolved in [since, until)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for doc in docs:
        _, answered, satisfied = _measures(doc)
        for cell in _cells(doc, since, until, zone):
            counts = groups.setdefault(cell, [0, 0, 0, 0])
            counts[0] += 1
            if answered:
                counts[1] += 1
                counts[2] += satisfied
                counts[3] += doc["score"]
    order = {"all": 0, "channel": 1, "agent": 2, "day": 3}
    return tuple(CsatRow(g, k, *counts) for (g, k), counts
                 in sorted(groups.items(), key=lambda item: (order[item[0][0]], item[0][1])))
