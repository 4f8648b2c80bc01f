"""Typical speed per segment and time-of-week slot: the slot of a time, and the learning rule
the traffic service applies to each published bucket (pure; the service stores the result)."""

from __future__ import annotations

import math
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


def slot_of(t: datetime, tz: str = DEFAULT_TZ) -> int:
    """Five-minute slot of the local week, 0 = Monday 00:00-00:05 ... 2015 = Sunday 23:55."""
    if t.tzinfo is None:
        raise ValueError("slot_of needs a timezone-aware time (UTC from the pipeline)")
    local = t.astimezone(_zone(tz))
    return local.weekday() * SLOTS_PER_DAY + (local.hour * 60 + local.minute) // SLOT_MINUTES


def learn_typical(old_kmh: float | None, old_n: int, new_kmh: float, *, cap: int = 20,
                  weight: int = 1) -> tuple[float, int]:
    """Fold a new bucket speed into a typical speed: a running mean over the last ~`cap`
    observations (an exponential average once `cap` is reached, so the typical follows lasting
    change, e.g. road works, within a few weeks). `weight` counts a seeded value as several."""
    if not math.isfinite(new_kmh) or new_kmh < 0:
        raise ValueError(f"speed must be a non-negative number, got {new_kmh!r}")
    if cap < 1 or weight < 1:
        raise ValueError("cap and weight must be >= 1")
    if old_kmh is None or old_n <= 0:
        return float(new_kmh), min(weight, cap)
    n = min(old_n + weight, cap)
    return old_kmh + (new_kmh - old_kmh) * weight / n, n
