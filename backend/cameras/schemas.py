"""The published shapes of the cameras API and its hub events (the console reads these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from backend.bounds import check_instant

Status = Literal["online", "offline", "fault"]
Kind = Literal["tianwang", "xueliang", "traffic"]
AlarmState = Literal["open", "acknowledged", "closed"]
AlarmSource = Literal["sip", "webhook"]
DEVICE_ID = r"^[0-9]{20}$"


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class PresetRead(_Out):
    preset_no: int
    name: str | None
    heading_deg: float
    fov_deg: float
    range_m: float | None
    tilt_deg: float | None


class CameraRead(_Out):
    """One camera of the registry (GET /api/cameras/{code}; the list gives the same rows)."""

    code: str
    name: str | None
    kind: Kind
    status: Status
    lon: float
    lat: float
    heading_deg: float | None   # cameras.direction_deg: 0 north, clockwise
    fov_deg: float | None
    range_m: float | None
    height_m: float | None
    tilt_deg: float | None
    ptz_type: int | None
    use_type: int | None
    address: str | None
    township_code: str | None
    manufacturer: str | None
    model: str | None
    owner: str | None
    civil_code: str | None
    parent_code: str | None
    status_changed_at: datetime | None
    last_seen_at: datetime | None
    has_stream: bool            # the media server (or the demo's test streams) can play it
    presets: list[PresetRead] = []


class SeeingCamera(_Out):
    """A camera whose clipped view contains the point (GET /api/cameras/seeing)."""

    code: str
    name: str | None
    kind: Kind
    status: Status
    lon: float
    lat: float
    distance_m: float
    view_no: int                # 0 its own heading, n >= 1 preset n (turn it there to see)
    heading_deg: float
    coverage_share: float       # share of the disc of `disc_m` around the point in the view
    has_stream: bool


class SeeingAnswer(_Out):
    lon: float
    lat: float
    disc_m: float
    cameras: list[SeeingCamera]  # online first, then by distance
    blocked: int                 # cameras in range whose view of the point a building blocks


class PlayLink(_Out):
    """POST /api/cameras/{code}/play: a signed, expiring address (the play is audited)."""

    code: str
    protocol: Literal["hls", "whep"]
    url: str
    expires_at: datetime


class CameraAlarmIn(BaseModel):
    """POST /api/cameras/alarms (the analytics systems' webhook, a machine credential)."""

    model_config = ConfigDict(extra="forbid")
    camera: str = Field(pattern=DEVICE_ID)
    time: Annotated[datetime, AfterValidator(check_instant)]  # with an offset, 1970..2099
    kind: str = Field(min_length=1, max_length=32)   # backend.cameras.alarms.KINDS
    priority: int = Field(default=3, ge=1, le=4)
    description: str | None = Field(default=None, max_length=2000)
    key: str | None = Field(default=None, min_length=1, max_length=128)  # idempotency


class CameraAlarmRead(_Out):
    id: int
    camera: str
    camera_name: str | None
    time: datetime
    received_at: datetime
    kind: str
    priority: int
    description: str | None
    source: AlarmSource
    state: AlarmState
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    incident_id: int | None
    case_no: str | None
    lon: float
    lat: float


class AlarmToCase(BaseModel):
    """POST /api/cameras/alarms/{id}/case: the operator picks the category."""

    model_config = ConfigDict(extra="forbid")
    category_code: str = Field(min_length=1, max_length=16)
    description: str | None = Field(default=None, max_length=4000)
    urgency: Literal["normal", "urgent"] = "normal"


class StatusEvent(_Out):
    """`cameras.status` event data."""

    code: str
    name: str | None
    status: Status
    previous: Status | None
    reason: str       # register | keepalive | timeout | unregister | catalog | import
    time: datetime
    lon: float
    lat: float


class AlarmEvent(_Out):
    """`cameras.alarms` event data: the alarm as it is now, and what happened to it."""

    action: Literal["raised", "acknowledged", "closed", "case"]
    alarm: CameraAlarmRead
    lon: float
    lat: float


class CameraPage(_Out):
    """GET /api/cameras: one page of the registry, by code."""

    cameras: list[CameraRead]
    total: int
    limit: int
    offset: int


class AlarmKind(_Out):
    key: str
    zh: str
    en: str


class AlarmKinds(_Out):
    """GET /api/cameras/alarm-kinds (from backend.cameras.alarms.KINDS)."""

    kinds: list[AlarmKind]


class CameraAlarmList(_Out):
    """GET /api/cameras/alarms: newest first."""

    alarms: list[CameraAlarmRead]


class AlarmCase(_Out):
    """POST /api/cameras/alarms/{id}/case: the case the alarm became (`created` false when it
    had become it before)."""

    alarm: CameraAlarmRead
    incident_id: int
    case_no: str | None
    created: bool
