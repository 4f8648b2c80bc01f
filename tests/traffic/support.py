"""Helpers of the traffic tests: segments of the demo county, speeds fed straight to the
service (the probe engine is helper `matching`'s; its output is a list of SegmentSpeed)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from backend.catalog.traffic_levels import load_traffic_levels
from backend.settings import PROJECT_ROOT
from backend.traffic.service import TrafficService
from backend.traffic.speeds import SegmentSpeed

TZ = ZoneInfo("Asia/Shanghai")
LEVELS = load_traffic_levels(PROJECT_ROOT / "scenarios" / "sixian" / "traffic_levels.yaml")
FIVE = timedelta(minutes=5)


def pilot_segments(engine: sa.Engine, code: str) -> list[int]:
    with engine.connect() as conn:
        return [s for (s,) in conn.execute(sa.text(
            "SELECT segment FROM traffic_segments WHERE pilot_code = :c ORDER BY segment"),
            {"c": code})]


def segments_of_class(engine: sa.Engine, road_class: str, n: int, offset: int = 0) -> list[int]:
    """`n` forward segments of a class inside a township (stable order)."""
    with engine.connect() as conn:
        return [s for (s,) in conn.execute(sa.text(
            "SELECT segment FROM traffic_segments WHERE road_class = :c AND forward "
            "AND township_code IS NOT NULL ORDER BY segment OFFSET :o LIMIT :n"),
            {"c": road_class, "n": n, "o": offset})]


def speeds(start: datetime, values: dict[int, float], vehicles: int = 4
           ) -> list[SegmentSpeed]:
    """One bucket [start, start + 5 min) of the given segments."""
    return [SegmentSpeed(seg, start, start + FIVE, v, vehicles, vehicles + 1)
            for seg, v in values.items()]


class Pushed:
    """A publish function that keeps what was pushed, per channel."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, channel: str, data: dict[str, Any]) -> None:
        self.events.append((channel, data))

    def on(self, channel: str) -> list[dict[str, Any]]:
        return [d for c, d in self.events if c == channel]


def service(engine: sa.Engine, pushed: Pushed | None = None) -> TrafficService:
    """A service of its own over the session database (its own rules' state), started."""
    svc = TrafficService(engine, LEVELS, tz=TZ, publish=pushed, retention_days=36_500)
    svc.start()
    return svc


def alerts_of(engine: sa.Engine, segments: Iterable[int]) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT id, kind, status, level, segment, source_key, case_id, vehicle_id, revision "
            "FROM traffic_alerts WHERE segment = ANY(:s) ORDER BY id"), {"s": list(segments)}))
