"""Storing positions: daily partitions made on demand, duplicates ignored, the latest state
per vehicle never moved back in time by a late fix (JT/T 808 backfill arrives late)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from psycopg2.extras import execute_values

from backend.vehicles.position import Position

INSERT_POSITIONS = """
INSERT INTO vehicle_positions (vehicle_id, time, received_at, lon, lat, speed_kmh, heading_deg,
  altitude_m, alarm_flags, status_flags, source)
VALUES %s ON CONFLICT (vehicle_id, time) DO NOTHING RETURNING 1
"""
UPSERT_LATEST = """
INSERT INTO vehicle_latest (vehicle_id, time, received_at, lon, lat, speed_kmh, heading_deg,
  alarm_flags, status_flags, source)
VALUES %s
ON CONFLICT (vehicle_id) DO UPDATE SET time = EXCLUDED.time, received_at = EXCLUDED.received_at,
  lon = EXCLUDED.lon, lat = EXCLUDED.lat, speed_kmh = EXCLUDED.speed_kmh,
  heading_deg = EXCLUDED.heading_deg, alarm_flags = EXCLUDED.alarm_flags,
  status_flags = EXCLUDED.status_flags, source = EXCLUDED.source
WHERE vehicle_latest.time < EXCLUDED.time
"""


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

    def ensure_partitions(self, conn: sa.Connection, days: set[date], today: date) -> None:
        for day in sorted(days - self._known_days):
            if abs(day - today) <= self.window:
                conn.execute(sa.text("SELECT cityops_ensure_position_partition(:d)"), {"d": day})
                self._known_days.add(day)

    def store(self, positions: Sequence[Position], *, now: datetime | None = None) -> StoreResult:
        if not positions:
            return StoreResult(0, 0)
        now = now or datetime.now(UTC)
        rows = [
            (p.vehicle_id, p.time, p.received_at or now, p.lon, p.lat, p.speed_kmh, p.heading_deg,
             p.altitude_m, p.alarm_flags, p.status_flags, p.source)
            for p in positions
        ]
        newest: dict[str, Position] = {}
        for p in positions:
            if p.vehicle_id not in newest or p.time > newest[p.vehicle_id].time:
                newest[p.vehicle_id] = p
        latest = [
            (p.vehicle_id, p.time, p.received_at or now, p.lon, p.lat, p.speed_kmh, p.heading_deg,
             p.alarm_flags, p.status_flags, p.source)
            for p in newest.values()
        ]
        with self.engine.begin() as conn:
            self.ensure_partitions(conn, {p.time.astimezone(UTC).date() for p in positions},
                                   now.astimezone(UTC).date())
            cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            stored = len(execute_values(cur, INSERT_POSITIONS, rows, page_size=1000, fetch=True))
            execute_values(cur, UPSERT_LATEST, latest, page_size=1000)
        return StoreResult(stored, len(rows) - stored)

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
