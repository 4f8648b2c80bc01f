"""Time-of-week slots and typical-speed learning."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backend.traffic.typical import SLOTS_PER_WEEK, learn_typical, slot_of


def test_slot_of_local_week() -> None:
    # Monday 2025-03-03 00:00 in Shanghai is Sunday 16:00 UTC.
    assert slot_of(datetime(2025, 3, 2, 16, 0, tzinfo=UTC)) == 0
    assert slot_of(datetime(2025, 3, 2, 16, 4, 59, tzinfo=UTC)) == 0
    assert slot_of(datetime(2025, 3, 2, 16, 5, tzinfo=UTC)) == 1
    assert slot_of(datetime(2025, 3, 2, 15, 59, tzinfo=UTC)) == SLOTS_PER_WEEK - 1
    assert slot_of(datetime(2025, 3, 3, 0, 30, tzinfo=UTC)) == 8 * 12 + 6  # Mon 08:30
    assert slot_of(datetime(2025, 3, 3, 0, 30, tzinfo=UTC), tz="UTC") == 6
    with pytest.raises(ValueError, match="timezone-aware"):
        slot_of(datetime(2025, 3, 3, 8, 30))


def test_learn_typical_running_mean_then_capped() -> None:
    assert learn_typical(None, 0, 40.0) == (40.0, 1)
    kmh, n = 40.0, 1
    for v in (50.0, 60.0):
        kmh, n = learn_typical(kmh, n, v)
    assert (kmh, n) == (pytest.approx(50.0), 3)
    kmh, n = 30.0, 20
    kmh, n = learn_typical(kmh, n, 50.0, cap=20)
    assert (kmh, n) == (pytest.approx(31.0), 20)  # capped: an exponential average
    assert learn_typical(None, 0, 35.0, weight=5) == (35.0, 5)  # a seeded value counts as 5
    with pytest.raises(ValueError):
        learn_typical(30.0, 3, float("nan"))
