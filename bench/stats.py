"""Percentiles and medians of samples (linear interpolation, as numpy's default)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

__all__ = ["median", "median_phase", "percentile", "ratio"]


def percentile(samples: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) of ``samples``; ``None`` when there are none.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
    """
    if not samples:
        return None
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(samples: Sequence[float]) -> float | None:
    """The 50th percentile of ``samples``."""
    return percentile(samples, 50)


def ratio(value: float | None, reference: float | None) -> float | None:
    """``value / reference``, or ``None`` when either is missing or the reference is 0."""
    if value is None or reference is None or reference == 0:
        return None
    return value / reference


def median_phase(repeats: list[dict[str, Any]], figures: Sequence[str]) -> dict[str, Any]:
    """One server at one load, measured several times: the median of each of ``figures``,
    the fewest streams completed, failures summed, the largest RSS, and every repeat kept
    under ``repeats``."""
    first = repeats[0]
    summary: dict[str, Any] = {"server": first["server"], "streams": first["streams"]}
    summary["completed"] = min(r["completed"] for r in repeats)
    for key in ("connect_failures", "timed_out", "tokens"):
        summary[key] = sum(r[key] for r in repeats)
    errors: Counter[str] = Counter()
    for r in repeats:
        errors.update(r["errors"])
    summary["errors"] = dict(errors)
    summary["tokens_per_stream"] = median(
        [r["tokens_per_stream"] for r in repeats if r["completed"]]
    )
    for key in figures:
        summary[key] = median([r[key] for r in repeats if r[key] is not None])
    summary["server_rss_kib"] = max(r["server_rss_kib"] for r in repeats)
    summary["repeats"] = repeats
    return summary
