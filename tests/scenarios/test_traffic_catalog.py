"""The traffic-peak scenario file is validated strictly: unknown keys and inconsistent
settings are named with the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.catalog.grid_scenarios import scenario_kind
from backend.catalog.scenarios import SCENARIOS_DIR, ScenarioError
from backend.catalog.traffic_scenarios import TRAFFIC_PEAK, load_traffic, load_traffic_file

SHIPPED = (SCENARIOS_DIR / "traffic-peak" / "scenario.yaml").read_text(encoding="utf-8")


def write(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "peak"
    folder.mkdir()
    path = folder / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_scenario_loads() -> None:
    sc = load_traffic("traffic-peak")
    assert scenario_kind("traffic-peak") == TRAFFIC_PEAK
    assert sum(f.vehicles for f in sc.fleet.values()) == 300
    assert sc.wave.pilot != sc.accident.pilot
    assert sc.wave.speed_kmh <= 12 and sc.wave.span_s >= 8 * 60
    assert sc.profile_at(0) == 1.0 and sc.profile_at(600) == pytest.approx(0.9)
    assert sc.profile_at(10 * 3600) == sc.profile[-1].factor


@pytest.mark.parametrize(("old", "new", "problem"), [
    ("noise_m: 15", "noise_meters: 15", "peak/scenario.yaml: noise_meters: unknown key"),
    ("speed_spread: 0.12", "speed_sprad: 0.12", "fleet.taxi.speed_sprad: unknown key"),
    ("  residential: 25", "  alley: 25", "speeds_kmh.alley.[key]: Input should be"),
    ("pilot: SX-JT-03B", "pilot: SX-JT-01A", "the accident needs another pilot segment"),
    ("fleet: taxi\n", "fleet: bus\n", "accident.fleet: 'bus' is not in the fleet"),
    ("at_s: 1500", "at_s: 3600", "accident.at_s: 3600.0 is not before duration_s"),
    ("{at_s: 1200, factor: 0.8}", "{at_s: 3000, factor: 0.8}", "profile: at_s must increase"),
    ("fix_interval_s: 10", "fix_interval_s: 0", "fix_interval_s: Input should be greater"),
    ("category: E0505", "category: 交通事故", "accident.case.category: String should match"),
])
def test_a_bad_file_is_refused_naming_the_key(tmp_path: Path, old: str, new: str,
                                               problem: str) -> None:
    assert old in SHIPPED
    with pytest.raises(ScenarioError) as err:
        load_traffic_file(write(tmp_path, SHIPPED.replace(old, new, 1)))
    assert problem in str(err.value)
