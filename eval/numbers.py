"""One number formatter and one percentile for every eval report and benchmark."""

from __future__ import annotations

from typing import Any


def fmt(value: Any) -> str:
    """A figure as the reports print it: three decimals, "—" when there is none."""
    return "—" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank percentile (q in 0..1), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
