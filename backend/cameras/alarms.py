"""Camera alarms: stored once (a repeat of the same sender's key is the same alarm), read back
in their published shape. The SIP listener (GB/T 28181 Alarm notify) and the analytics webhook
both come here; acknowledging and making a case of an alarm build on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from backend.cameras.schemas import CameraAlarmRead
from backend.errors import NotFound

# The kinds a console shows (zh, en). GB/T 28181 AlarmType under AlarmMethod 5 (video) maps to
# these in backend.ingest.gb28181; analytics systems post the key.
KINDS: dict[str, tuple[str, str]] = {
    "intrusion": ("区域入侵", "Intrusion"),
    "tripwire": ("越界", "Line crossing"),
    "crowd": ("人员聚集", "Crowd"),
    "loitering": ("徘徊", "Loitering"),
    "fight": ("打架斗殴", "Fight"),
    "fire": ("烟火", "Smoke or fire"),
    "vehicle": ("违停车辆", "Parked vehicle"),
    "object": ("物品遗留", "Left object"),
    "tamper": ("视频遮挡", "Video tampering"),
    "motion": ("移动侦测", "Motion"),
    "device": ("设备报警", "Device alarm"),
    "other": ("其他", "Other"),
}


@dataclass(frozen=True, slots=True)
class NewCameraAlarm:
    camera: str                 # the 20-digit id of a camera in the registry
    time: datetime              # when the device says it happened (timezone-aware)
    kind: str                   # a key of KINDS
    source: str                 # sip | webhook
    priority: int = 3           # 1 highest .. 4
    description: str | None = None
    external_key: str | None = None  # the sender's own id of the alarm


READ_SQL = """
SELECT a.id, c.code AS camera, c.name AS camera_name, a.time, a.received_at, a.kind,
  a.priority, a.description, a.source, a.state, a.acknowledged_by, a.acknowledged_at,
  a.incident_id, i.case_no, a.lon, a.lat
FROM camera_alarms a JOIN cameras c ON c.id = a.camera_id
LEFT JOIN incidents i ON i.id = a.incident_id"""


def store_alarm(conn: sa.Connection, alarm: NewCameraAlarm) -> CameraAlarmRead | None:
    """Store an alarm at its camera's place; None when the sender's key was seen before.
    NotFound for a camera the registry does not hold; ValueError for an unknown kind."""
    if alarm.kind not in KINDS:
        raise ValueError(f"alarm kind {alarm.kind!r} is not one of {', '.join(KINDS)}")
    camera = conn.execute(sa.text(
        "SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM cameras WHERE code = :code"),
        {"code": alarm.camera}).first()
    if camera is None:
        raise NotFound(f"No camera {alarm.camera} in the registry")
    new_id = conn.execute(sa.text("""
INSERT INTO camera_alarms (camera_id, time, kind, priority, description, source, external_key,
  lon, lat)
VALUES (:camera_id, :time, :kind, :priority, :description, :source, :key, :lon, :lat)
ON CONFLICT (source, external_key) DO NOTHING
RETURNING id"""), {"camera_id": camera.id, "time": alarm.time, "kind": alarm.kind,
                   "priority": alarm.priority, "description": alarm.description,
                   "source": alarm.source, "key": alarm.external_key, "lon": camera.lon,
                   "lat": camera.lat}).scalar()
    return None if new_id is None else read_alarm(conn, new_id)


def read_alarm(conn: sa.Connection, alarm_id: int) -> CameraAlarmRead:
    row = conn.execute(sa.text(READ_SQL + " WHERE a.id = :id"), {"id": alarm_id}).mappings().first()
    if row is None:
        raise NotFound(f"No camera alarm {alarm_id}")
    return CameraAlarmRead.model_validate(dict(row))
