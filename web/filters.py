"""Template filters: how pages write times and durations."""

from __future__ import annotations

from datetime import datetime


def when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def total(count: int, capped: bool = False) -> str:
    """How many messages match: "1,234", or past the count's cap "10,000+"."""
    return f"{count:,}" + ("+" if capped else "")


def hours(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"
