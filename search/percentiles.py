"""Percentiles of sorted values, as every report computes them (linear interpolation)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from inbox.store import percentile_rank


def interpolate(ordered: npt.NDArray[np.float64], p: float) -> float | None:
    """The p-quantile of sorted values by linear interpolation (inbox.store.percentile_rank)."""
    if not len(ordered):
        return None
    low, weight = percentile_rank(len(ordered), p)
    if low + 1 >= len(ordered):
        return float(ordered[low])
    below, above = float(ordered[low]), float(ordered[low + 1])
    return below + weight * (above - below)
