"""Traffic scenarios (`kind: traffic-peak` in scenarios/<name>/scenario.yaml): a simulated taxi
and private-car fleet driving the county seat's roads at speeds the file controls, with a
congestion wave on one pilot segment and an accident on another (backend.simulation.traffic_plan
plans it, backend.simulation.traffic_run sends it through the real ingest).

Validated as strictly as the other scenarios: unknown keys are rejected and every problem names
the file and the key. What needs the database (pilot segment codes, the case category) is
checked when the scenario is planned or run, naming the key too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from backend.catalog.scenarios import SCENARIOS_DIR, ScenarioError
from backend.catalog.strict import Strict, Title, read_yaml

TRAFFIC_PEAK = "traffic-peak"
RoadClass = Literal["motorway", "trunk", "primary", "secondary", "tertiary", "residential",
                    "rural"]
PilotCode = Annotated[str, Field(pattern=r"^[A-Z]{2}-[A-Z]{2}-[0-9]{2}[AB]$")]
Kmh = Annotated[float, Field(gt=0, le=150)]
Seconds = Annotated[float, Field(ge=0, le=24 * 3600)]
VehicleIdPrefix = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,15}$")]


class Fleet(Strict):
    """One kind of vehicle: how many, their ids (`<id_prefix><n, 4 digits>`), and how far each
    vehicle's own speed strays from the road's (uniform in [1 - spread, 1 + spread])."""

    vehicles: Annotated[int, Field(ge=0, le=2000)]
    id_prefix: VehicleIdPrefix
    label_zh: Annotated[str, Field(min_length=1, max_length=20)]
    operator: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    speed_spread: Annotated[float, Field(ge=0, le=0.5)] = 0.1
    via_pilot: Annotated[float, Field(ge=0, le=1)] = 0.3  # share of trips through a pilot segment


class ProfilePoint(Strict):
    at_s: Seconds
    factor: Annotated[float, Field(gt=0, le=2)]


class Wave(Strict):
    """A congestion wave on one pilot segment (in its direction): from `at_s` the speed of its
    last road segment falls to `speed_kmh` over `ramp_s`, holds `hold_s`, recovers over
    `recover_s`; each road segment upstream follows `lag_s` later (the queue grows back)."""

    pilot: PilotCode
    at_s: Seconds
    ramp_s: Annotated[float, Field(ge=1, le=7200)] = 300.0
    hold_s: Annotated[float, Field(ge=0, le=7200)] = 900.0
    recover_s: Annotated[float, Field(ge=1, le=7200)] = 600.0
    lag_s: Annotated[float, Field(ge=0, le=1800)] = 60.0
    speed_kmh: Annotated[float, Field(ge=2, le=60)] = 10.0

    @property
    def span_s(self) -> float:
        return self.ramp_s + self.hold_s + self.recover_s


class AccidentCase(Strict):
    """The case the 122 hotline files through the incidents service `delay_s` after the crash."""

    category: Annotated[str, Field(pattern=r"^[CE][0-9]{4}$")]
    delay_s: Annotated[float, Field(ge=0, le=3600)] = 120.0
    say: Annotated[str, Field(min_length=1, max_length=400)]
    reporter_name: Annotated[str, Field(min_length=1, max_length=40)] = "122报警人（示意）"


class Accident(Strict):
    """A crash on one pilot segment at `at_s`: a taxi stops at `position` (share of the pilot
    segment's length) with the JT/T 808 `alarm` bit set in its fixes, speeds on the pilot
    segment fall to `speed_kmh` until `duration_s` later (the crash cleared, the taxi towed)."""

    pilot: PilotCode
    at_s: Seconds
    duration_s: Annotated[float, Field(ge=60, le=7200)] = 1200.0
    speed_kmh: Annotated[float, Field(ge=1, le=60)] = 5.0
    position: Annotated[float, Field(gt=0, lt=1)] = 0.6
    fleet: str = "taxi"
    alarm: Literal["collision", "rollover"] = "collision"
    case: AccidentCase


class TrafficScenario(Strict):
    kind: Literal["traffic-peak"]
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    title: Title
    seed: Annotated[int, Field(ge=1, le=2**31 - 1)]
    duration_s: Annotated[float, Field(ge=300, le=24 * 3600)]
    tick_s: Annotated[float, Field(gt=0, le=60)] = 5.0     # the runner sends a batch per tick
    fix_interval_s: Annotated[int, Field(ge=1, le=300)] = 10
    noise_m: Annotated[float, Field(ge=0, le=100)] = 15.0  # GPS sigma (per axis), clipped at 3x
    area_km: Annotated[float, Field(gt=0, le=30)] = 3.0    # roads within this of the seat
    fleet: Annotated[dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,15}$")], Fleet],
                     Field(min_length=1)]
    speeds_kmh: Annotated[dict[RoadClass, Kmh], Field(min_length=1)]  # free flow; others not driven
    segment_spread: Annotated[float, Field(ge=0, le=0.5)] = 0.1   # per-segment free-flow factor
    profile: Annotated[list[ProfilePoint], Field(min_length=1)]   # factor over scenario time
    wave: Wave
    accident: Accident

    @model_validator(mode="after")
    def _consistent(self) -> TrafficScenario:
        at = [p.at_s for p in self.profile]
        if at != sorted(at) or len(set(at)) != len(at):
            raise ValueError("profile: at_s must increase")
        if self.wave.at_s >= self.duration_s:
            raise ValueError(f"wave.at_s: {self.wave.at_s} is not before duration_s")
        if self.accident.at_s >= self.duration_s:
            raise ValueError(f"accident.at_s: {self.accident.at_s} is not before duration_s")
        if self.accident.pilot == self.wave.pilot:
            raise ValueError("accident.pilot: the accident needs another pilot segment than "
                             "the wave")
        if self.accident.fleet not in self.fleet:
            raise ValueError(f"accident.fleet: {self.accident.fleet!r} is not in the fleet "
                             f"({', '.join(self.fleet)})")
        prefixes = [f.id_prefix for f in self.fleet.values()]
        if len(set(prefixes)) != len(prefixes):
            raise ValueError("fleet: every kind needs its own id_prefix")
        if not any(f.vehicles for f in self.fleet.values()):
            raise ValueError("fleet: at least one vehicle")
        return self

    def profile_at(self, t: float) -> float:
        """The free-flow factor at scenario second t (piecewise linear, flat outside)."""
        pts = self.profile
        if t <= pts[0].at_s:
            return pts[0].factor
        for a, b in zip(pts, pts[1:], strict=False):
            if t <= b.at_s:
                return a.factor + (b.factor - a.factor) * (t - a.at_s) / (b.at_s - a.at_s)
        return pts[-1].factor


def load_traffic_file(path: Path) -> TrafficScenario:
    return read_yaml(path, TrafficScenario, f"{path.parent.name}/{path.name}", ScenarioError)


def load_traffic(name: str, directory: Path = SCENARIOS_DIR) -> TrafficScenario:
    """The traffic scenario `directory/name/scenario.yaml`."""
    return load_traffic_file(directory / name / "scenario.yaml")
