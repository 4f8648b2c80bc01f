"""Camera scenarios (`kind: cameras-day` in scenarios/<name>/scenario.yaml): a simulated fleet
of GB/T 28181 devices (IPCs registering with their own ids, NVRs for their channels, all taken
from the registry) living through a compressed day of outages, returns and alarms
(backend.simulation.camera_day runs it against the SIP endpoint).

Validated strictly: unknown keys are rejected, each event names a device the fleet has and an
alarm kind the consoles show and the simulated devices can send."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from backend.cameras.alarms import KINDS
from backend.catalog.scenarios import SCENARIOS_DIR, ScenarioError
from backend.catalog.strict import Strict, Title, read_yaml
from backend.ingest.gb28181.manscdp import KIND_CODES

CAMERAS_DAY = "cameras-day"
DAY_S = 24 * 3600
Seconds = Annotated[float, Field(ge=0, le=DAY_S)]
SENDABLE = [k for k in KINDS if k in KIND_CODES]  # what a GB/T 28181 Alarm notify can carry
DeviceRef = Annotated[str, Field(pattern=r"^(ipc|nvr)#[0-9]{1,3}$")]  # ipc#3: the third IPC


class Fleet(Strict):
    """Which registry cameras become devices: the first `nvr * nvr_channels` cameras by code are
    the NVRs' channels, the next `ipc` register themselves. NVR ids are made from the county
    code (type 118, serial from `nvr_serial`). Every `tcp_every`-th device speaks TCP."""

    ipc: Annotated[int, Field(ge=0, le=500)]
    nvr: Annotated[int, Field(ge=0, le=50)]
    nvr_channels: Annotated[int, Field(ge=1, le=64)] = 8
    nvr_serial: Annotated[int, Field(ge=1, le=999_000)] = 900_001
    keepalive_s: Annotated[int, Field(ge=1, le=3600)] = 60
    tcp_every: Annotated[int, Field(ge=0, le=100)] = 4   # 0: all UDP


class Event(Strict):
    at_s: Seconds
    device: DeviceRef
    do: Literal["outage", "alarm", "wrong_password"]
    duration_s: Annotated[float, Field(gt=0, le=DAY_S)] | None = None   # outage
    channel: Annotated[int, Field(ge=1, le=64)] = 1                      # alarm: NVR channel n
    kind: str | None = None                                              # alarm
    priority: Annotated[int, Field(ge=1, le=4)] = 3
    description: Annotated[str, Field(max_length=200)] | None = None

    @model_validator(mode="after")
    def _fields_of_its_kind(self) -> Event:
        if self.do == "outage" and self.duration_s is None:
            raise ValueError("an outage needs duration_s")
        if self.do == "alarm" and (self.kind not in KINDS or self.kind not in KIND_CODES):
            raise ValueError(f"kind must be one of {', '.join(SENDABLE)}")
        return self


class CamerasDayScenario(Strict):
    kind: Literal["cameras-day"]
    name: str
    title: Title
    duration_s: Annotated[float, Field(gt=0, le=DAY_S)] = DAY_S
    speed: Annotated[float, Field(gt=0, le=10_000)] = 144.0   # a day in ten minutes
    fleet: Fleet
    events: list[Event] = []

    @model_validator(mode="after")
    def _events_name_devices(self) -> CamerasDayScenario:
        for n, event in enumerate(self.events):
            kind, number = event.device.split("#")
            have = self.fleet.ipc if kind == "ipc" else self.fleet.nvr
            if not 1 <= int(number) <= have:
                raise ValueError(f"events.{n}.device: {event.device}: the fleet has {have} "
                                 f"{kind.upper()}s")
            if kind == "nvr" and event.channel > self.fleet.nvr_channels:
                raise ValueError(f"events.{n}.channel: an NVR has "
                                 f"{self.fleet.nvr_channels} channels")
            if event.at_s > self.duration_s:
                raise ValueError(f"events.{n}.at_s: after the scenario's end")
        return self


def load_cameras_day_file(path: Path) -> CamerasDayScenario:
    return read_yaml(path, CamerasDayScenario, f"{path.parent.name}/{path.name}", ScenarioError)


def load_cameras_day(name: str, directory: Path = SCENARIOS_DIR) -> CamerasDayScenario:
    """The camera scenario `directory/name/scenario.yaml`."""
    return load_cameras_day_file(directory / name / "scenario.yaml")
