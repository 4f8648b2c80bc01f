"""Grid-day scenarios (`kind: grid-day` in scenarios/<name>/scenario.yaml): a working day of
grid cases played through the case service with a simulated clock (backend.simulation.grid_day).

Validated as strictly as the bus scenarios (backend.catalog.scenarios, which a file without
`kind` is): unknown keys are rejected and every problem names the file and the key. What needs
the database (category codes, township names) is checked by the runner, naming the key too.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from backend.catalog.scenarios import SCENARIOS_DIR, ScenarioError
from backend.catalog.strict import Title, read_yaml
from backend.incidents.flow import TABLE, Action

GRID_DAY = "grid-day"
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
Clock = Annotated[str, Field(pattern=HHMM)]
Weight = Annotated[float, Field(gt=0)]
CategoryCode = Annotated[str, Field(pattern=r"^[CE][0-9]{4}$")]
Source = Literal["grid_worker", "hotline", "video", "inspection"]
# What a scripted step may do: every action of the flow but 督办, which the server's sweep does.
StepAction = Literal["file", "void", "dispatch", "accept", "return", "start",
                     "request_extension", "grant_extension", "deny_extension", "park", "unpark",
                     "handle", "send_to_verify", "confirm", "rework"]
Minutes = tuple[Annotated[float, Field(ge=0, le=600)], Annotated[float, Field(ge=0, le=600)]]


def clock(value: str) -> time:
    return time.fromisoformat(value)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReportWindow(Strict):
    from_: Clock = Field(alias="from")
    to: Clock
    reports: Annotated[int, Field(ge=0, le=1000)]

    @model_validator(mode="after")
    def _ordered(self) -> ReportWindow:
        if clock(self.to) <= clock(self.from_):
            raise ValueError(f"the window ends ({self.to}) before it starts ({self.from_})")
        return self


class CategoryMix(Strict):
    weight: Weight
    say: Annotated[list[Annotated[str, Field(min_length=1, max_length=400)]],
                   Field(min_length=1)]
    urgent: bool = False


class Delays(Strict):
    """Working minutes between the steps of a routine case: [low, high]."""

    file: Minutes
    void: Minutes
    dispatch: Minutes
    accept: Minutes
    start: Minutes
    handle: Minutes
    send_to_verify: Minutes
    confirm: Minutes

    @model_validator(mode="after")
    def _ranges(self) -> Delays:
        for name, (low, high) in self:
            if high < low:
                raise ValueError(f"{name}: [{low}, {high}] ends below its start")
        return self


class Step(Strict):
    after_min: Annotated[float, Field(ge=0, le=2400)]
    do: StepAction
    note: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    department: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{1,15}$")] | None = None
    hours: Annotated[float, Field(gt=0, le=240)] | None = None

    @model_validator(mode="after")
    def _params(self) -> Step:
        if self.department is not None and self.do != "dispatch":
            raise ValueError("department is only for dispatch")
        if (self.hours is not None) != (self.do == "grant_extension"):
            raise ValueError("grant_extension needs hours (working hours), and only it")
        if TABLE[Action(self.do)].needs_note and not self.note:
            raise ValueError(f"{self.do} needs a note saying why")
        return self


class SpecialCase(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")]
    at: Clock
    category: CategoryCode
    township: str
    source: Source = "grid_worker"
    urgent: bool = False
    say: Annotated[str, Field(min_length=1, max_length=400)]
    steps: Annotated[list[Step], Field(min_length=1)]


class GridDayScenario(Strict):
    kind: Literal["grid-day"]
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    title: Title
    seed: Annotated[int, Field(ge=1, le=2**31 - 1)]
    start: Clock
    end: Clock
    sweep_every_min: Annotated[int, Field(ge=1, le=240)] = 15
    report_windows: Annotated[list[ReportWindow], Field(min_length=1)]
    voided: Annotated[int, Field(ge=0)] = 0
    void_notes: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    sources: Annotated[dict[Source, Weight], Field(min_length=1)]
    townships: Annotated[dict[Annotated[str, Field(min_length=1)], Weight], Field(min_length=1)]
    categories: Annotated[dict[CategoryCode, CategoryMix], Field(min_length=1)]
    delays_min: Delays
    handled_notes: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    special: list[SpecialCase] = []

    @field_validator("townships")
    @classmethod
    def _at_most_99(cls, value: dict[str, float]) -> dict[str, float]:
        if len(value) > 99:
            raise ValueError("at most 99 townships (one simulated grid worker each)")
        return value

    @property
    def routine_reports(self) -> int:
        return sum(w.reports for w in self.report_windows)


def cross_problems(sc: GridDayScenario) -> list[tuple[str, str]]:
    """(key, what is wrong) for what single keys cannot say on their own."""
    out = []
    start, end = clock(sc.start), clock(sc.end)
    if end <= start:
        out.append(("end", f"{sc.end} is not after start {sc.start}"))
    for i, window in enumerate(sc.report_windows):
        if clock(window.from_) < start or clock(window.to) > end:
            out.append((f"report_windows.{i}", f"{window.from_}-{window.to} is not within "
                        f"the day ({sc.start}-{sc.end})"))
    if sc.voided > sc.routine_reports:
        out.append(("voided", f"{sc.voided} is more than the {sc.routine_reports} routine "
                    "reports"))
    names: set[str] = set()
    for i, case in enumerate(sc.special):
        if case.name in names:
            out.append((f"special.{i}.name", f"{case.name!r} is used twice"))
        names.add(case.name)
        if case.township not in sc.townships:
            out.append((f"special.{i}.township", f"{case.township!r} is not one of townships "
                        f"({', '.join(sc.townships)})"))
        if not start <= clock(case.at) <= end:
            out.append((f"special.{i}.at", f"{case.at} is not within the day "
                        f"({sc.start}-{sc.end})"))
    return out


def scenario_kind(name: str, directory: Path = SCENARIOS_DIR) -> str:
    """`grid-day` for a grid-day scenario, `bus` for the others (a file without `kind`)."""
    try:
        raw = yaml.safe_load((directory / name / "scenario.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return "bus"  # the bus loader reports what is wrong with the file
    return str(raw.get("kind", "bus")) if isinstance(raw, dict) else "bus"


def load_grid_day_file(path: Path) -> GridDayScenario:
    label = f"{path.parent.name}/{path.name}"
    scenario = read_yaml(path, GridDayScenario, label, ScenarioError)
    problems = [f"{label}: {key}: {what}" for key, what in cross_problems(scenario)]
    if problems:
        raise ScenarioError(problems)
    return scenario


def load_grid_day(name: str, directory: Path = SCENARIOS_DIR) -> GridDayScenario:
    """The grid-day scenario `directory/name/scenario.yaml`."""
    return load_grid_day_file(directory / name / "scenario.yaml")
