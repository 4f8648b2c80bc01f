"""Levels and the traffic performance index (pure): speeds in, levels and TPI out, with the
thresholds and breaks of `scenarios/<county>/traffic_levels.yaml` (backend.catalog)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from backend.catalog.traffic_levels import TrafficLevels

UNKNOWN = 0
LEVEL_NAMES: dict[int, tuple[str, str]] = {
    0: ("未知", "unknown"),
    1: ("畅通", "free flow"),
    2: ("基本畅通", "mostly free"),
    3: ("轻度拥堵", "light congestion"),
    4: ("中度拥堵", "moderate congestion"),
    5: ("严重拥堵", "severe congestion"),
}
BUCKET = timedelta(minutes=5)
SLOTS_PER_DAY = 288
SLOTS_PER_WEEK = 7 * SLOTS_PER_DAY  # 2016


def level_of(speed_kmh: float | None, thresholds: Sequence[float]) -> int:
    """1..5 from the class's lower bounds of levels 1..4 (v > t1 is 1, ..., v <= t4 is 5);
    0 when there is no speed (too few vehicles): never guessed."""
    if speed_kmh is None:
        return UNKNOWN
    for level, bound in enumerate(thresholds, start=1):
        if speed_kmh > bound:
            return level
    return 5


class Grader:
    """Levels by the roads table's class, from the levels file."""

    def __init__(self, levels: TrafficLevels) -> None:
        self.levels = levels
        self._by_class: dict[str, tuple[float, ...]] = {}

    def thresholds(self, road_class: str) -> tuple[float, ...]:
        found = self._by_class.get(road_class)
        if found is None:
            found = tuple(self.levels.level_class(road_class).thresholds_kmh)
            self._by_class[road_class] = found
        return found

    def level(self, speed_kmh: float | None, road_class: str, vehicles: int) -> int:
        if vehicles < self.levels.min_vehicles:
            return UNKNOWN
        return level_of(speed_kmh, self.thresholds(road_class))

    def free_flow(self, road_class: str) -> float:
        """The fallback free-flow speed: the class's level-1 bound."""
        return self.thresholds(road_class)[0]


@dataclass(frozen=True, slots=True)
class TpiInput:
    length_m: float
    speed_kmh: float       # a published (known-level) speed
    free_flow_kmh: float


def travel_time_ratio(parts: Iterable[TpiInput]) -> tuple[float | None, float]:
    """(sum L/v over sum L/vf, the length counted); speeds above free flow count as free flow.
    None when no length is known."""
    actual = free = length = 0.0
    for p in parts:
        if p.length_m <= 0 or p.speed_kmh <= 0 or p.free_flow_kmh <= 0:
            continue
        actual += p.length_m / min(p.speed_kmh, p.free_flow_kmh)
        free += p.length_m / p.free_flow_kmh
        length += p.length_m
    return (actual / free if free > 0 else None), length


def tpi_of_ratio(ratio: float | None, breaks: Sequence[float]) -> float | None:
    """The ratio mapped piecewise-linearly through breaks[0..5] onto 0, 2, ..., 10."""
    if ratio is None:
        return None
    if ratio <= breaks[0]:
        return 0.0
    for k in range(1, len(breaks)):
        lo, hi = breaks[k - 1], breaks[k]
        if ratio <= hi:
            return round(2.0 * (k - 1) + 2.0 * (ratio - lo) / (hi - lo), 2)
    return 10.0


def tpi_level(tpi: float | None) -> int:
    """The five TPI bands 0-2 / 2-4 / 4-6 / 6-8 / 8-10 as levels 1..5 (0 when unknown)."""
    if tpi is None:
        return UNKNOWN
    return min(5, int(tpi // 2) + 1) if tpi < 10 else 5


def tpi(parts: Iterable[TpiInput], breaks: Sequence[float]) -> tuple[float | None, int, float]:
    """(TPI 0-10 or None, its level, length counted in metres)."""
    ratio, length = travel_time_ratio(parts)
    value = tpi_of_ratio(ratio, breaks)
    return value, tpi_level(value), length


def bucket_floor(t: datetime) -> datetime:
    """The start of the five-minute bucket `t` falls in (buckets align to the hour, UTC)."""
    return t - timedelta(minutes=t.minute % 5, seconds=t.second, microseconds=t.microsecond)
