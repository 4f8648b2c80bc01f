"""The position pipeline as the app assembles it, on a real PostGIS: validation, storage, the
alarm rules and their stored alarms, and what is pushed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from backend.ingest.pipeline import PositionPipeline
from backend.ingest.position import Position
from backend.vehicles.consumers import AlarmRules, PositionPushes
from backend.vehicles.store import PositionStore

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SOS = 1 << 0


def fix(vid: str, seconds: float, speed: float = 30.0, alarm: int = 0, lon: float = 117.88
        ) -> Position:
    return Position(vehicle_id=vid, time=NOW + timedelta(seconds=seconds), lon=lon, lat=33.48,
                    speed_kmh=speed, heading_deg=45.0, alarm_flags=alarm, source="jt808")


@pytest.fixture()
def pushed() -> list[tuple[str, dict[str, Any]]]:
    return []


@pytest.fixture()
def pipeline(engine: sa.Engine, pushed: list) -> Iterator[PositionPipeline]:
    def publish(channel: str, data: dict[str, Any]) -> None:
        pushed.append((channel, data))

    pipeline = PositionPipeline(
        PositionStore(engine),
        consumers=[AlarmRules(engine, publish=publish)],
        after_commit=[PositionPushes(publish)],
        clock=lambda: NOW + timedelta(minutes=5),
    )
    yield pipeline
    pipeline.close()
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM vehicle_positions WHERE vehicle_id LIKE 'pipe-%'"))
        conn.execute(sa.text("DELETE FROM vehicle_latest WHERE vehicle_id LIKE 'pipe-%'"))


def test_sos_and_overspeed_raise_alarms_that_are_pushed_in_order(
    pipeline: PositionPipeline, pushed: list
) -> None:
    # a bus at 80 km/h (limit 60 +10 %) for 20 s, then SOS pressed
    drive = [fix("pipe-1", s, speed=80) for s in range(0, 25, 5)]
    report = pipeline.ingest([*drive, fix("pipe-1", 30, speed=80, alarm=SOS)])
    assert report.accepted == 6 and report.rejected == []
    kinds = [(e.kind, e.action) for e in report.alarms]
    assert kinds == [("overspeed", "raised"), ("sos", "raised")]
    alarms = [data for ch, data in pushed if ch == "vehicles.alarms"]
    assert [a["kind"] for a in alarms] == ["overspeed", "sos"]
    positions = [data for ch, data in pushed if ch == "vehicles.positions"]
    assert len(positions) == 1 and positions[0]["time"] == (NOW + timedelta(seconds=30)).isoformat()
    # releasing SOS clears it
    cleared = pipeline.ingest([fix("pipe-1", 35, speed=40)])
    assert ("sos", "cleared") in [(e.kind, e.action) for e in cleared.alarms]


def test_bad_fixes_are_rejected_counted_and_do_not_stop_the_batch(
    pipeline: PositionPipeline, engine: sa.Engine
) -> None:
    no_fix = Position(vehicle_id="pipe-2", time=NOW, lon=0.0, lat=0.0, source="http")
    batch = [fix("pipe-2", 0), no_fix, fix("", 6), fix("pipe-2", 10)]
    report = pipeline.ingest(batch)
    assert report.accepted == 2
    assert report.rejected == [(1, "no_fix"), (2, "bad_vehicle_id")]
    assert pipeline.counters["rejected:no_fix"] == 1
    with engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT count(*) FROM vehicle_positions WHERE vehicle_id = 'pipe-2'")).scalar_one() == 2


def test_a_resent_batch_is_stored_once(pipeline: PositionPipeline) -> None:
    batch = [fix("pipe-3", s) for s in (0, 5, 10)]
    assert pipeline.ingest(batch).accepted == 3
    again = pipeline.ingest(batch)
    assert (again.accepted, again.duplicates, again.alarms) == (0, 3, [])
