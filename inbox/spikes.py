"""Spike detection (pure): is the last complete hour's volume of a saved search a spike?

The baseline is the same hour of day on each of the previous `HISTORY_DAYS` days: a spike
is a count of at least `minimum` above the mean plus k (population) standard deviations of
those counts. A spike alerts once: while the following hours stay above the baseline it is
the same spike; once an hour falls back, the next rise is a new one.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

HISTORY_DAYS = 7
HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Baseline:
    mean: float
    stdev: float
    threshold: float  # a count above this (and at least the minimum) is a spike


@dataclass(frozen=True, slots=True)
class Verdict:
    count: int
    baseline: Baseline | None  # None: too little history to judge
    high: bool  # above the baseline and at least the minimum
    alert: bool  # a new spike: tell the subscribers
    since: datetime | None  # when the current spike started (None: not spiking)


def last_complete_hour(now: datetime) -> datetime:
    """The start of the last hour that has ended."""
    return now.replace(minute=0, second=0, microsecond=0) - HOUR


def baseline_hours(hour: datetime, days: int = HISTORY_DAYS) -> list[datetime]:
    """The same hour on each of the previous days, newest first."""
    return [hour - timedelta(days=d) for d in range(1, days + 1)]


def baseline(history: Sequence[int], k: float) -> Baseline:
    mean = statistics.fmean(history)
    stdev = statistics.pstdev(history, mean)
    return Baseline(mean, stdev, mean + k * stdev)


def judge(count: int, history: Sequence[int] | None, k: float, minimum: int,
          hour: datetime, spiking_since: datetime | None) -> Verdict:
    """The verdict on an hour's count; history: the same hour's counts on the previous days
    (None: too little history); spiking_since: the start of a spike already alerted, that
    the previous hour was part of (None: the previous hour was not a spike)."""
    if history is None:
        return Verdict(count, None, False, False, None)
    base = baseline(history, k)
    high = count >= minimum and count > base.threshold
    if not high:
        return Verdict(count, base, False, False, None)
    return Verdict(count, base, True, spiking_since is None, spiking_since or hour)
