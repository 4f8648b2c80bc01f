"""Levels per road class and the traffic performance index, table-driven from the county's
levels file (scenarios/sixian/traffic_levels.yaml)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backend.catalog.strict import parse_yaml
from backend.catalog.traffic_levels import TrafficLevels, TrafficLevelsError, load_traffic_levels
from backend.settings import PROJECT_ROOT
from backend.traffic.levels import (
    Grader,
    TpiInput,
    bucket_floor,
    level_of,
    tpi,
    tpi_level,
    tpi_of_ratio,
)

LEVELS = load_traffic_levels(PROJECT_ROOT / "scenarios" / "sixian" / "traffic_levels.yaml")
# GB/T 33171-2016 as reproduced in DOMAIN.md section 7: lower bounds of levels 1..4.
STANDARD = {"expressway": (65, 50, 35, 20), "arterial": (40, 30, 20, 15),
            "sub_arterial": (35, 25, 15, 10), "branch": (35, 25, 15, 10)}


def test_the_file_holds_the_standards_thresholds() -> None:
    assert {k: tuple(v.thresholds_kmh) for k, v in LEVELS.classes.items()} == STANDARD
    assert LEVELS.min_vehicles == 3
    # Every class of the roads table is mapped onto one of the standard's.
    assert set(LEVELS.road_classes) == {"motorway", "trunk", "primary", "secondary", "tertiary",
                                        "residential", "rural"}


CASES = [(cls, bounds) for cls, bounds in STANDARD.items()]


@pytest.mark.parametrize(("cls", "bounds"), CASES)
def test_each_band_and_its_edges(cls: str, bounds: tuple[float, ...]) -> None:
    t1, t2, t3, t4 = bounds
    # v > t1 畅通; t2 < v <= t1 基本畅通; ...; v <= t4 严重拥堵 (the upper edge belongs to the
    # slower level, as the standard's "<=" says).
    expected = [(t1 + 0.1, 1), (t1, 2), (t2 + 0.1, 2), (t2, 3), (t3 + 0.1, 3), (t3, 4),
                (t4 + 0.1, 4), (t4, 5), (0.0, 5), (120.0, 1)]
    for speed, level in expected:
        assert level_of(speed, LEVELS.classes[cls].thresholds_kmh) == level, (cls, speed)


@pytest.mark.parametrize(("road_class", "speed", "level"), [
    ("motorway", 66, 1), ("motorway", 36, 3), ("trunk", 41, 1), ("primary", 25, 3),
    ("primary", 15, 5), ("secondary", 30, 2), ("tertiary", 12, 4), ("residential", 9, 5),
    ("rural", 40, 1), ("unknown_class", 12, 4),  # an unmapped class is graded as 支路
])
def test_grader_maps_road_classes(road_class: str, speed: float, level: int) -> None:
    assert Grader(LEVELS).level(speed, road_class, vehicles=3) == level


def test_too_few_vehicles_is_unknown_never_guessed() -> None:
    g = Grader(LEVELS)
    assert g.level(5.0, "primary", vehicles=2) == 0
    assert g.level(5.0, "primary", vehicles=3) == 5
    assert level_of(None, STANDARD["arterial"]) == 0


def test_tpi_bands_follow_the_travel_time_ratio() -> None:
    breaks = LEVELS.tpi.ratio_breaks
    assert breaks == [1.0, 1.2, 1.5, 1.8, 2.1, 2.4]
    table = [(0.8, 0.0), (1.0, 0.0), (1.1, 1.0), (1.2, 2.0), (1.35, 3.0), (1.5, 4.0),
             (1.8, 6.0), (2.1, 8.0), (2.25, 9.0), (2.4, 10.0), (5.0, 10.0)]
    for ratio, value in table:
        assert tpi_of_ratio(ratio, breaks) == pytest.approx(value), ratio
    assert [tpi_level(v) for v in (None, 0.0, 1.99, 2.0, 5.0, 7.9, 8.0, 10.0)] == \
        [0, 1, 1, 2, 3, 4, 5, 5]


def test_tpi_is_length_weighted() -> None:
    breaks = LEVELS.tpi.ratio_breaks
    # 1 km at free flow and 1 km at half of it: 1/40 + 2/40 over 2/40 = 1.5 -> TPI 4.
    value, level, length = tpi([TpiInput(1000, 40, 40), TpiInput(1000, 20, 40)], breaks)
    assert (value, level, length) == (4.0, 3, 2000)
    # The slow kilometre weighs three times less when it is a third of the length.
    short, _, _ = tpi([TpiInput(3000, 40, 40), TpiInput(1000, 20, 40)], breaks)
    assert short is not None and short < value
    # Faster than free flow counts as free flow; nothing known is no index.
    assert tpi([TpiInput(500, 90, 40)], breaks)[0] == 0.0
    assert tpi([], breaks) == (None, 0, 0.0)


def test_buckets_align_to_five_minutes() -> None:
    assert bucket_floor(datetime(2026, 11, 23, 8, 7, 31, 5, tzinfo=UTC)) == \
        datetime(2026, 11, 23, 8, 5, tzinfo=UTC)


@pytest.mark.parametrize(("text", "problem"), [
    ("classes: {a: {zh: 甲, en: A, thresholds_kmh: [10, 20, 5, 1]}}\nroad_classes: {x: a}\n"
     "tpi: {ratio_breaks: [1, 1.2, 1.5, 1.8, 2.1, 2.4], seat_township_kinds: [街道]}",
     "thresholds_kmh must decrease"),
    ("classes: {a: {zh: 甲, en: A, thresholds_kmh: [40, 30, 20, 10]}}\nroad_classes: {x: b}\n"
     "tpi: {ratio_breaks: [1, 1.2, 1.5, 1.8, 2.1, 2.4], seat_township_kinds: [街道]}",
     "unknown classes ['b']"),
    ("classes: {a: {zh: 甲, en: A, thresholds_kmh: [40, 30, 20, 10]}}\nroad_classes: {x: a}\n"
     "tpi: {ratio_breaks: [1, 1.2, 1.5, 1.8, 2.1, 2.4], seat_township_kinds: [街道]}\n"
     "min_vehicle: 3", "min_vehicle: unknown key"),
])
def test_a_bad_levels_file_names_the_key(text: str, problem: str) -> None:
    with pytest.raises(TrafficLevelsError) as err:
        parse_yaml(text, TrafficLevels, "levels.yaml", TrafficLevelsError)
    assert problem in str(err.value)
    assert str(err.value).startswith("levels.yaml: ")
