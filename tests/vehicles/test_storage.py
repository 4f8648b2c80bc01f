"""Position storage on a real PostGIS: daily partitions, duplicates, late fixes, retention."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import ProgrammingError

from backend.ingest.position import Position
from backend.ingest.validate import reject_reason
from backend.vehicles.store import PositionStore, track

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def fix(vid: str, minutes: float, lon: float = 117.88, speed: float = 30.0) -> Position:
    return Position(vehicle_id=vid, time=NOW + timedelta(minutes=minutes), lon=lon, lat=33.48,
                    speed_kmh=speed, heading_deg=90.0, source="http")


@pytest.fixture()
def store(engine: sa.Engine) -> Iterator[PositionStore]:
    yield PositionStore(engine, partition_window_days=7)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM vehicle_positions WHERE vehicle_id LIKE 'test-%'"))
        conn.execute(sa.text("DELETE FROM vehicle_latest WHERE vehicle_id LIKE 'test-%'"))


def partition_of(engine: sa.Engine, vid: str, minutes: float) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT tableoid::regclass::text FROM vehicle_positions "
            "WHERE vehicle_id = :v AND time = :t"
        ), {"v": vid, "t": NOW + timedelta(minutes=minutes)}).scalar_one()


def test_fixes_land_in_their_day_partition_and_duplicates_are_ignored(
    store: PositionStore, engine: sa.Engine
) -> None:
    batch = [fix("test-a", m) for m in (0, 1, 2)]
    assert store.store(batch, now=NOW).stored == 3
    again = store.store([*batch, fix("test-a", 3)], now=NOW)
    assert (again.stored, again.duplicates) == (1, 3)
    assert partition_of(engine, "test-a", 0) == "vehicle_positions_p20261124"
    # a fix just after midnight UTC goes to the next day's partition
    store.store([fix("test-a", 16 * 60 + 1)], now=NOW)
    assert partition_of(engine, "test-a", 16 * 60 + 1) == "vehicle_positions_p20261125"
    with engine.connect() as conn:
        rows = track(conn, "test-a", NOW, NOW + timedelta(days=1))
    assert [r.time for r in rows] == sorted(r.time for r in rows) and len(rows) == 5


def test_a_late_fix_is_stored_but_never_moves_the_latest_state_back(
    store: PositionStore, engine: sa.Engine
) -> None:
    store.store([fix("test-b", 10, lon=117.90)], now=NOW)
    store.store([fix("test-b", 5, lon=117.85)], now=NOW)  # blind-area backfill, older
    with engine.connect() as conn:
        latest = conn.execute(sa.text(
            "SELECT time, lon, ST_X(geom) AS x FROM vehicle_latest WHERE vehicle_id = 'test-b'"
        )).one()
        stored = conn.execute(sa.text(
            "SELECT count(*) FROM vehicle_positions WHERE vehicle_id = 'test-b'")).scalar_one()
    assert latest.time == NOW + timedelta(minutes=10) and latest.lon == latest.x == 117.90
    assert stored == 2


def test_old_fixes_go_to_the_default_partition_and_move_when_their_day_is_made(
    store: PositionStore, engine: sa.Engine
) -> None:
    old = fix("test-c", -30 * 24 * 60)  # 30 days back: outside the partition window
    store.store([old], now=NOW)
    assert partition_of(engine, "test-c", -30 * 24 * 60) == "vehicle_positions_default"
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT cityops_ensure_position_partition(:d)"),
                     {"d": old.time.date()})
    assert partition_of(engine, "test-c", -30 * 24 * 60) == "vehicle_positions_p20261025"
    assert store.drop_before(old.time.date() + timedelta(days=1)) >= 1
    with engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT count(*) FROM vehicle_positions WHERE vehicle_id = 'test-c'")).scalar_one() == 0


def test_the_app_role_makes_partitions_only_through_the_function(engine: sa.Engine) -> None:
    with engine.connect() as conn, pytest.raises(ProgrammingError):
        conn.execute(sa.text(
            "CREATE TABLE vehicle_positions_p20300101 PARTITION OF vehicle_positions "
            "FOR VALUES FROM ('2030-01-01') TO ('2030-01-02')"))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"vehicle_id": ""}, "bad_vehicle_id"),
        ({"time": NOW.replace(tzinfo=None)}, "naive_time"),
        ({"time": NOW + timedelta(hours=1)}, "time_in_future"),
        ({"time": datetime(1999, 1, 1, tzinfo=UTC)}, "time_too_old"),
        ({"lon": float("nan")}, "coordinates_not_finite"),
        ({"lat": 95.0}, "coordinates_out_of_range"),
        ({"lon": 0.0, "lat": 0.0}, "no_fix"),
        ({"speed_kmh": -1.0}, "speed_out_of_range"),
        ({"heading_deg": 400.0}, "heading_out_of_range"),
    ],
)
def test_bad_fixes_are_rejected_with_a_reason(change: dict, reason: str) -> None:
    from dataclasses import replace

    assert reject_reason(fix("test-v", 0), NOW) is None
    assert reject_reason(replace(fix("test-v", 0), **change), NOW) == reason


def test_writers_racing_for_a_new_day_all_succeed(engine: sa.Engine) -> None:
    """The first fixes of a new UTC day from several connections at once (e.g. at midnight)."""
    from concurrent.futures import ThreadPoolExecutor

    day = NOW + timedelta(days=3)  # a day no other test has made a partition for
    stores = [PositionStore(engine) for _ in range(4)]

    def write(i: int) -> int:
        p = Position(vehicle_id=f"test-race-{i}", time=day, lon=117.88, lat=33.48, source="http")
        return stores[i].store([p], now=day).stored

    try:
        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(write, range(4))) == [1, 1, 1, 1]
    finally:
        with engine.begin() as conn:
            for table in ("vehicle_positions", "vehicle_latest"):
                conn.execute(sa.text(f"DELETE FROM {table} WHERE vehicle_id LIKE 'test-race-%'"))
