"""The spike detector (pure): the baseline of the same hour on the previous days, the
minimum, and one alert per spike."""

from __future__ import annotations

from datetime import UTC, datetime

from inbox.spikes import baseline, baseline_hours, judge, last_complete_hour

HOUR = datetime(2026, 11, 20, 14, tzinfo=UTC)


def test_the_last_complete_hour_and_its_baseline_hours() -> None:
    assert last_complete_hour(datetime(2026, 11, 20, 15, 0, 1, tzinfo=UTC)) == HOUR
    hours = baseline_hours(HOUR)
    assert len(hours) == 7 and hours[0] == datetime(2026, 11, 19, 14, tzinfo=UTC)
    assert hours[-1] == datetime(2026, 11, 13, 14, tzinfo=UTC)


def test_mean_plus_k_standard_deviations() -> None:
    base = baseline([2, 4, 2, 4, 2, 4, 2], k=3)
    assert round(base.mean, 2) == 2.86 and round(base.threshold, 2) == 5.83


def test_a_spike_alerts_once_and_needs_history_and_the_minimum() -> None:
    history = [2, 3, 2, 3, 2, 3, 2]
    first = judge(20, history, 3, 5, HOUR, None)
    assert first.high and first.alert and first.since == HOUR
    same = judge(20, history, 3, 5, HOUR, spiking_since=HOUR)
    assert same.high and not same.alert and same.since == HOUR
    assert not judge(20, None, 3, 5, HOUR, None).alert  # too little history
    assert not judge(4, [0] * 7, 3, 5, HOUR, None).alert  # below the minimum
    fell = judge(3, history, 3, 5, HOUR, spiking_since=HOUR)
    assert not fell.high and fell.since is None
