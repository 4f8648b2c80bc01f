"""Scenarios: one folder per scenario in scenarios/, a `scenario.yaml` timeline validated strictly.

Unknown keys are rejected; every problem names the file and the key (same format as the
layer catalog), so a typo in a timeline fails before any simulated terminal connects.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from backend.catalog.strict import CatalogError, Title, read_yaml

SCENARIOS_DIR = Path(__file__).resolve().parents[2] / "scenarios"
VEHICLE_REF = re.compile(r"^(?P<line>.+)#(?P<n>[1-9][0-9]*)$")


class ScenarioError(CatalogError):
    """A scenario file is invalid (or missing). `problems` are 'file: key: what was expected'."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FleetSpec(Strict):
    """The buses of one line: bus n starts at offset_m + (n - 1) * spacing_m along the line."""

    buses: Annotated[int, Field(ge=1, le=50)]
    spacing_m: Annotated[float, Field(gt=0)] = 1500.0
    offset_m: Annotated[float, Field(ge=0)] = 0.0
    speed_kmh: Annotated[float, Field(gt=0, le=120)] = 25.0


class _Event(Strict):
    at_s: Annotated[float, Field(ge=0)]
    vehicle: Annotated[str, Field(pattern=VEHICLE_REF.pattern)]

    @property
    def line(self) -> str:
        return _ref(self.vehicle)[0]

    @property
    def index(self) -> int:
        return _ref(self.vehicle)[1]


class OffRoute(_Event):
    do: Literal["off_route"]
    distance_m: Annotated[float, Field(gt=0, le=5000)] = 300.0
    fixes: Annotated[int, Field(ge=1)] = 6


class Overspeed(_Event):
    do: Literal["overspeed"]
    speed_kmh: Annotated[float, Field(gt=0, le=200)] = 85.0
    duration_s: Annotated[float, Field(gt=0)] = 40.0


class Sos(_Event):
    do: Literal["sos"]
    duration_s: Annotated[float, Field(gt=0)] = 30.0


class Stop(_Event):
    do: Literal["stop"]
    duration_s: Annotated[float, Field(gt=0)] = 360.0


class Bunch(_Event):
    """`vehicle` closes up to `gap_m` behind the bus ahead of it (bus n - 1, or `leader`)."""

    do: Literal["bunch"]
    leader: Annotated[str, Field(pattern=VEHICLE_REF.pattern)] | None = None
    gap_m: Annotated[float, Field(ge=0, le=1000)] = 40.0
    duration_s: Annotated[float, Field(gt=0)] = 120.0

    @property
    def leader_ref(self) -> str:
        if self.leader is not None:
            return self.leader
        return f"{self.line}#{self.index - 1}"


Event = Annotated[OffRoute | Overspeed | Sos | Stop | Bunch, Field(discriminator="do")]


def _ref(ref: str) -> tuple[str, int]:
    match = VEHICLE_REF.match(ref)
    if match is None:
        raise ValueError(f"vehicle {ref!r} must look like '<line>#<n>'")
    return match["line"], int(match["n"])


class Scenario(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    title: Title
    duration_s: Annotated[float, Field(gt=0, le=24 * 3600)]
    tick_s: Annotated[float, Field(gt=0, le=600)] = 5.0
    fleet: Annotated[dict[str, FleetSpec], Field(min_length=1)]
    events: list[Event] = []

    @model_validator(mode="after")
    def _check_refs(self) -> Scenario:
        for i, ev in enumerate(self.events):
            refs = [ev.vehicle] + ([ev.leader_ref] if isinstance(ev, Bunch) else [])
            for ref in refs:
                line, n = _ref(ref)
                if line not in self.fleet:
                    raise ValueError(f"events.{i}: line {line!r} is not in the fleet")
                if n > self.fleet[line].buses:
                    raise ValueError(f"events.{i}: {ref!r}: line {line!r} has "
                                     f"{self.fleet[line].buses} buses")
            if isinstance(ev, Bunch) and (
                    ev.leader_ref == ev.vehicle or _ref(ev.leader_ref)[0] != ev.line):
                raise ValueError(f"events.{i}: bunch needs another bus of the same line")
            if ev.at_s >= self.duration_s:
                raise ValueError(f"events.{i}: at_s {ev.at_s} is not before duration_s")
        return self


def load_scenario_file(path: Path) -> Scenario:
    return read_yaml(path, Scenario, f"{path.parent.name}/{path.name}", ScenarioError)


def load_scenario(name: str, directory: Path = SCENARIOS_DIR) -> Scenario:
    """The scenario `directory/name/scenario.yaml`."""
    return load_scenario_file(directory / name / "scenario.yaml")
