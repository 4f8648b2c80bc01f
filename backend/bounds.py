"""Bounds on what callers may send, in one place for every route and service (pure: no HTTP,
no database; each caller maps ValueError to its own answer):

- times (query windows, positions, Open311 searches): ISO 8601 with a UTC offset PostgreSQL can
  store (it refuses offsets beyond +-15:59, which Python accepts up to +-23:59: that was a 500
  on every route taking a time), within the years this system can mean;
- paging: an offset deeper than MAX_OFFSET is a scan, not a page; ids fit a bigint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MAX_UTC_OFFSET = timedelta(hours=15, minutes=59)
MAX_OFFSET = 1_000_000
BIGINT_MAX = 2**63 - 1
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
EXAMPLE = "2026-11-24T08:00:00+08:00"


def check_instant(value: datetime) -> datetime:
    """`value` when it has an offset within +-15:59 and lies in 1970..2099; ValueError (a
    sentence saying what to send) otherwise."""
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(f"give the time with a UTC offset, e.g. {EXAMPLE}")
    if abs(offset) > MAX_UTC_OFFSET:
        minutes = int(offset.total_seconds()) // 60
        shown = f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        raise ValueError(f"the UTC offset {shown} is beyond +-15:59; use the place's real "
                         f"offset, e.g. {EXAMPLE}")
    if not EARLIEST <= value < LATEST:
        raise ValueError("give a time between 1970 and 2099")
    return value
