"""The heat map folds UTC hours into the team's weekdays and hours, summer time included."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from inbox.usecases.reports import fold_week


def _utc(month: int, day: int, hour: int) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def test_summer_time_changes_land_in_the_local_hours() -> None:
    hours = [(_utc(10, 25, 0), 1), (_utc(10, 25, 1), 2),  # 02:00 CEST, then 02:00 CET again
             (_utc(10, 25, 2), 4),  # 03:00 CET
             (_utc(3, 29, 0), 1), (_utc(3, 29, 1), 1)]  # 01:00 CET, then 03:00 CEST
    heat = fold_week(hours, ZoneInfo("Europe/Berlin"))
    sunday = heat.counts[6]
    assert (sunday[1], sunday[2], sunday[3]) == (1, 3, 5)  # 02:00 twice in October, never in March
    assert sum(map(sum, heat.counts)) == 9 and heat.peak == 5
    assert [heat.level(n) for n in (0, 1, 3, 5)] == [0, 1, 3, 5]
    rows = heat.rows()
    assert len(rows) == 168 and rows[0] == {"weekday": "Monday", "hour": 0, "messages": 0}
    assert {"weekday": "Sunday", "hour": 3, "messages": 5} in rows


def test_an_empty_range_has_no_peak_and_no_shade() -> None:
    heat = fold_week([], ZoneInfo("America/New_York"))
    assert heat.peak == 0 and heat.level(0) == 0 and heat.zone == "America/New_York"
