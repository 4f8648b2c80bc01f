"""Storing positions: daily partitions made on demand, duplicates ignored, the latest state
per vehicle never moved back in time by a late fix (JT/T 808 backfill arrives late)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from backend.ingest.position import Position

# Each batch is COPYed into a session-local staging table, then moved with one statement:
# COPY costs a fraction of a multi-row INSERT's parsing and client-side quoting
# (bench_ingest, batches of 500: PositionStore.store alone ~23k -> ~62k positions/s).
CREATE_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS cityops_positions_in (
  vehicle_id text, time timestamptz, received_at timestamptz, lon float8, lat float8,
  speed_kmh float8, heading_deg float8, altitude_m float8, alarm_flags bigint,
  status_flags bigint, source text
) ON COMMIT DELETE ROWS
"""
COPY_STAGE = "COPY cityops_positions_in FROM STDIN"
# Rows go in key order so that concurrent writers take row locks in the same order; the
# latest state is the newest fix of each vehicle in the batch, and never replaces a newer one.
MOVE_STAGE = """
WITH stored AS (
  INSERT INTO vehicle_positions (vehicle_id, time, received_at, lon, lat, speed_kmh,
    heading_deg, altitude_m, alarm_flags, status_flags, source)
  SELECT vehicle_id, time, received_at, lon, lat, speed_kmh, heading_deg, altitude_m,
    alarm_flags, status_flags, source
  FROM cityops_positions_in ORDER BY vehicle_id, time
  ON CONFLICT (vehicle_id, time) DO NOTHING RETURNING 1
), latest AS (
  INSERT INTO vehicle_latest (vehicle_id, time, received_at, lon, lat, speed_kmh, heading_deg,
    alarm_flags, status_flags, source)
  SELECT DISTINCT ON (vehicle_id) vehicle_id, time, received_at, lon, lat, speed_kmh,
    heading_deg, alarm_flags, status_flags, source
  FROM cityops_positions_in ORDER BY vehicle_id, time DESC
  ON CONFLICT (vehicle_id) DO UPDATE SET time = EXCLUDED.time,
    received_at = EXCLUDED.received_at, lon = EXCLUDED.lon, lat = EXCLUDED.lat,
    speed_kmh = EXCLUDED.speed_kmh, heading_deg = EXCLUDED.heading_deg,
    alarm_flags = EXCLUDED.alarm_flags, status_flags = EXCLUDED.status_flags,
    source = EXCLUDED.source
  WHERE vehicle_latest.time < EXCLUDED.time
)
SELECT count(*) FROM stored
"""
_STAGED = "cityops_positions_staged"  # key in the pooled connection's info: table exists
_NULL = "\\N"


def _copy_text(value: str) -> str:
    """A text value in COPY's text format (ids come from the outside: escape when needed)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                .replace("\r", "\\r"))
    return value


def copy_rows(positions: Sequence[Position], now: datetime) -> str:
    """The batch as COPY text, columns in the staging table's order."""
    received = now.isoformat()
    lines = []
    for p in positions:
        s, h, a = p.speed_kmh, p.heading_deg, p.altitude_m
        lines.append(
            f"{_copy_text(p.vehicle_id)}\t{p.time.isoformat()}\t"
            f"{received if p.received_at is None else p.received_at.isoformat()}\t"
            f"{p.lon!r}\t{p.lat!r}\t{_NULL if s is None else repr(s)}\t"
            f"{_NULL if h is None else repr(h)}\t{_NULL if a is None else repr(a)}\t"
            f"{p.alarm_flags}\t{p.status_flags}\t{_copy_text(p.source)}\n")
    return "".join(lines)


@dataclass(frozen=True)
class StoreResult:
    stored: int
    duplicates: int


class PositionStore:
    """Writes batches of validated positions. Partitions are made for days within
    `partition_window` of today; fixes outside it go to the default partition (and move into
    their day's partition if that is made later)."""

    def __init__(self, engine: sa.Engine, *, partition_window_days: int = 7) -> None:
        self.engine = engine
        self.window = timedelta(days=partition_window_days)
        self._known_days: set[date] = set()

    def ensure_partitions(self, conn: sa.Connection, days: set[date], today: date) -> set[date]:
        """Make the partitions of `days` (within the window) in `conn`'s transaction; returns
        the days made. The caller records them in `_known_days` only after its commit: until
        then another thread sharing this store must not skip the call, or its rows would be
        routed to the default partition behind the uncommitted ATTACH and fail its constraint
        once that commits."""
        made = set()
        for day in sorted(days - self._known_days):
            if abs(day - today) <= self.window:
                conn.execute(sa.text("SELECT cityops_ensure_position_partition(:d)"), {"d": day})
                made.add(day)
        return made

    def store(self, positions: Sequence[Position], *, now: datetime | None = None) -> StoreResult:
        if not positions:
            return StoreResult(0, 0)
        now = now or datetime.now(UTC)
        with self.engine.begin() as conn:
            made = self.ensure_partitions(
                conn, {p.time.astimezone(UTC).date() for p in positions},
                now.astimezone(UTC).date())
            pooled = conn.connection
            cur = pooled.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                if not pooled.info.get(_STAGED):
                    cur.execute(CREATE_STAGE)
                    pooled.info[_STAGED] = True
                text = copy_rows(positions, now)
                # One read of the whole batch (psycopg2 reads 8 KiB at a time by default: each
                # read needs the GIL back from the consumers computing beside storage).
                cur.copy_expert(COPY_STAGE, io.StringIO(text), size=max(len(text), 8192))
                cur.execute(MOVE_STAGE)
                stored = cur.fetchone()[0]
            except BaseException:
                pooled.info.pop(_STAGED, None)  # a rolled-back CREATE leaves no table
                raise
        self._known_days |= made  # committed: visible to every connection from now on
        return StoreResult(stored, len(positions) - stored)

    def drop_before(self, keep_from: date) -> int:
        """Retention: drop whole days before `keep_from`; returns the partitions dropped."""
        self._known_days = {d for d in self._known_days if d >= keep_from}
        with self.engine.begin() as conn:
            return conn.execute(sa.text("SELECT cityops_drop_position_partitions(:d)"),
                                {"d": keep_from}).scalar_one()


def track(conn: sa.Connection, vehicle_id: str, start: datetime, end: datetime) -> list[sa.Row]:
    """The fixes of one vehicle in [start, end), in time order (uses the primary key)."""
    return list(conn.execute(sa.text(
        "SELECT time, lon, lat, speed_kmh, heading_deg, alarm_flags FROM vehicle_positions "
        "WHERE vehicle_id = :v AND time >= :a AND time < :b ORDER BY time"
    ), {"v": vehicle_id, "a": start, "b": end}))
