"""Time-of-week slots: typical speeds are kept per segment and slot (the learning itself is
SQL, backend/traffic/store.py, applied to each stored bucket)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

SLOT_MINUTES = 5
SLOTS_PER_DAY = 24 * 60 // SLOT_MINUTES      # 288
SLOTS_PER_WEEK = 7 * SLOTS_PER_DAY           # 2016
DEFAULT_TZ = "Asia/Shanghai"


@lru_cache(maxsize=8)
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def slot_of(t: datetime, tz: str | ZoneInfo = DEFAULT_TZ) -> int:
    """Five-minute slot of the local week, 0 = Monday 00:00-00:05 ... 2015 = Sunday 23:55."""
    if t.tzinfo is None:
        raise ValueError("slot_of needs a timezone-aware time (UTC from the pipeline)")
    local = t.astimezone(_zone(tz) if isinstance(tz, str) else tz)
    return local.weekday() * SLOTS_PER_DAY + (local.hour * 60 + local.minute) // SLOT_MINUTES
