"""One validation for every position feed: a bad fix is rejected with a reason and counted,
never stored and never allowed to stop the pipeline."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from backend.vehicles.position import Position

MAX_FUTURE = timedelta(minutes=5)   # terminals' clocks drift; more than this is a bad fix
OLDEST = datetime(2000, 1, 1, tzinfo=UTC)
MAX_SPEED_KMH = 300.0


def reject_reason(p: Position, now: datetime) -> str | None:
    """None when the fix may be stored, else a short reason (also the counter's name)."""
    if not p.vehicle_id or len(p.vehicle_id) > 64:
        return "bad_vehicle_id"
    if p.time.tzinfo is None:
        return "naive_time"
    if p.time > now + MAX_FUTURE:
        return "time_in_future"
    if p.time < OLDEST:
        return "time_too_old"
    if not (math.isfinite(p.lon) and math.isfinite(p.lat)):
        return "coordinates_not_finite"
    if not (-180.0 <= p.lon <= 180.0 and -90.0 <= p.lat <= 90.0):
        return "coordinates_out_of_range"
    if p.lon == 0.0 and p.lat == 0.0:
        return "no_fix"  # a terminal without satellites often reports 0,0
    if p.speed_kmh is not None and not (0.0 <= p.speed_kmh <= MAX_SPEED_KMH):
        return "speed_out_of_range"
    if p.heading_deg is not None and not (0.0 <= p.heading_deg <= 360.0):
        return "heading_out_of_range"
    return None
