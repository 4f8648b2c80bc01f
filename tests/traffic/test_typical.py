"""Time-of-week slots and typical-speed learning."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from backend.traffic.typical import SLOTS_PER_WEEK, slot_of


def test_slot_of_local_week() -> None:
    # Monday 2025-03-03 00:00 in Shanghai is Sunday 16:00 UTC.
    assert slot_of(datetime(2025, 3, 2, 16, 0, tzinfo=UTC)) == 0
    assert slot_of(datetime(2025, 3, 2, 16, 4, 59, tzinfo=UTC)) == 0
    assert slot_of(datetime(2025, 3, 2, 16, 5, tzinfo=UTC)) == 1
    assert slot_of(datetime(2025, 3, 2, 15, 59, tzinfo=UTC)) == SLOTS_PER_WEEK - 1
    assert slot_of(datetime(2025, 3, 3, 0, 30, tzinfo=UTC)) == 8 * 12 + 6  # Mon 08:30
    assert slot_of(datetime(2025, 3, 3, 0, 30, tzinfo=UTC), tz="UTC") == 6
    assert slot_of(datetime(2025, 3, 3, 0, 30, tzinfo=UTC), tz=ZoneInfo("UTC")) == 6
    with pytest.raises(ValueError, match="timezone-aware"):
        slot_of(datetime(2025, 3, 3, 8, 30))
