"""Pure rules of a KPI card: change against the reference, its direction, the level from the
thresholds and `better`, staleness. No database, no clock of its own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend.catalog.domain_views import Thresholds

FLAT_SHARE = 0.0005  # within 0.05 % of the reference the value is "flat"


def comparison(value: float | None, reference: float | None) -> dict[str, Any]:
    """change, change_pct and direction of `value` against `reference`."""
    if value is None or reference is None:
        return {"change": None, "change_pct": None, "direction": None}
    change = value - reference
    pct = change / abs(reference) * 100 if reference != 0 else None
    if change == 0 or (reference != 0 and abs(change) <= FLAT_SHARE * abs(reference)):
        direction = "flat"
    else:
        direction = "up" if change > 0 else "down"
    return {"change": change, "change_pct": pct, "direction": direction}


def level(value: float | None, better: str, thresholds: Thresholds | None) -> str | None:
    if value is None or thresholds is None or better == "none":
        return None
    if better == "up":
        if value <= thresholds.alarm:
            return "alarm"
        return "warn" if value <= thresholds.warn else "ok"
    if value >= thresholds.alarm:
        return "alarm"
    return "warn" if value >= thresholds.warn else "ok"


def is_stale(as_of: datetime | None, stale_after_s: int, now: datetime) -> bool:
    """No time to judge by is not stale (an empty dataset has no figure to grey)."""
    return as_of is not None and (now - as_of).total_seconds() > stale_after_s
