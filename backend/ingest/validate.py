"""One validation for every position feed (HTTP batches, MQTT, JT/T 808, scenarios): a bad fix
is rejected with a reason and counted by source and reason, never stored and never allowed to
stop the pipeline. The feeds' parsers check types (``schemas.PositionIn``); the ranges are
checked here, so they are the same for every feed."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from backend.ingest.position import Position

MAX_FUTURE = timedelta(minutes=5)   # terminals' clocks drift; more than this is a bad fix
OLDEST = datetime(2000, 1, 1, tzinfo=UTC)
MAX_SPEED_KMH = 300.0
ALTITUDE_RANGE_M = (-500.0, 9000.0)  # the Dead Sea shore to above Everest
MAX_VEHICLE_ID = 64
# Letters and digits of any script and a few separators; no whitespace, control or format
# characters (a tab, a newline or a NUL in an id broke storage, logs and the console).
VEHICLE_ID = re.compile(r"[^\W_]|[-_.:#@·]")
VEHICLE_ID_RULE = (f"1-{MAX_VEHICLE_ID} letters, digits or - _ . : # @ · "
                   "(no spaces or control characters)")


@lru_cache(maxsize=65536)  # a fleet's ids recur in every batch; one regex per character
def vehicle_id_ok(value: str) -> bool:
    return 0 < len(value) <= MAX_VEHICLE_ID and all(VEHICLE_ID.fullmatch(c) for c in value)


def _finite_within(value: float | None, low: float, high: float) -> bool:
    return value is None or (math.isfinite(value) and low <= value <= high)


def reject_reason(p: Position, now: datetime) -> str | None:
    """None when the fix may be stored, else a short reason (also the counter's name)."""
    if not isinstance(p.vehicle_id, str) or not vehicle_id_ok(p.vehicle_id):
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
    if not _finite_within(p.speed_kmh, 0.0, MAX_SPEED_KMH):
        return "speed_out_of_range"
    if not _finite_within(p.heading_deg, 0.0, 360.0):
        return "heading_out_of_range"
    if not _finite_within(p.altitude_m, *ALTITUDE_RANGE_M):
        return "altitude_out_of_range"
    if not (0 <= p.alarm_flags <= 0xFFFFFFFF and 0 <= p.status_flags <= 0xFFFFFFFF):
        return "flags_out_of_range"
    return None
