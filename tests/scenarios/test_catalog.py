"""Scenario files are validated strictly; the simulated fixes are a pure, deterministic plan."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from shapely import LineString

from backend.catalog.scenarios import ScenarioError, load_scenario, load_scenario_file
from backend.ingest.jt808.alarm_bits import encode_alarms
from backend.simulation.plan import buses_of, plan

SMALL = """
name: tiny
title: {zh: 测试, en: Test}
duration_s: 60
tick_s: 5
fleet:
  1路: {buses: 2, spacing_m: 500, speed_kmh: 36}
events:
  - {at_s: 10, vehicle: "1路#1", do: sos, duration_s: 10}
  - {at_s: 20, vehicle: "1路#2", do: overspeed, speed_kmh: 90, duration_s: 20}
  - {at_s: 30, vehicle: "1路#2", do: bunch, leader: "1路#1", gap_m: 30, duration_s: 10}
"""


def write(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "tiny"
    folder.mkdir()
    path = folder / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_scenario_loads() -> None:
    sc = load_scenario("bus-morning-peak")
    assert sc.title.zh and len(sc.fleet) == 10
    assert {ev.do for ev in sc.events} >= {"sos", "overspeed", "off_route", "bunch"}


def test_a_typo_key_is_rejected_naming_the_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, SMALL.replace("spacing_m", "spacnig_m"))
    with pytest.raises(ScenarioError) as err:
        load_scenario_file(path)
    assert "tiny/scenario.yaml: fleet.1路.spacnig_m: unknown key" in str(err.value)


def test_bad_references_are_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, SMALL.replace('"1路#2", do: overspeed', '"1路#7", do: overspeed'))
    with pytest.raises(ScenarioError, match="has 2 buses"):
        load_scenario_file(path)


def test_the_plan_is_deterministic_and_applies_the_timeline(tmp_path: Path) -> None:
    sc = load_scenario_file(write(tmp_path, SMALL))
    line = {"1路": LineString([(500000, 3700000), (503000, 3700000)])}  # 3 km due east
    start = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    fixes = plan(sc, line, start)
    assert fixes == plan(sc, line, start)
    p1, p2 = (b.phone for b in buses_of(sc))
    assert (p1, p2) == ("013900010001", "013900010002")
    assert len(fixes[p1]) == 13 and fixes[p1][1].time == datetime(2026, 11, 24, 0, 0, 5,
                                                                   tzinfo=UTC)
    sos = [f.alarm == encode_alarms(["sos"]) for f in fixes[p1]]
    assert sos == [False, False, True, True] + [False] * 9
    assert [f.speed_kmh for f in fixes[p2]][3:9] == [36, 90, 90, 90, 90, 36]
    assert {f.heading_deg for f in fixes[p1]} <= {89, 90, 91}  # driving east
    assert abs(fixes[p2][6].lon - fixes[p1][6].lon) < 0.001  # bunched: 30 m apart
