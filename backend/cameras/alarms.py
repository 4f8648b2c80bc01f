"""Camera alarms: stored once (a repeat of the same sender's key is the same alarm), read back
in their published shape. The SIP listener (GB/T 28181 Alarm notify) and the analytics webhook
both come here; acknowledging and making a case of an alarm build on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import sqlalchemy as sa

from backend.audit.chain import append as audit
from backend.auth.permissions import Principal
from backend.cameras.schemas import AlarmEvent, AlarmToCase, CameraAlarmRead
from backend.errors import Conflict, NotFound, Unprocessable
from backend.incidents.service import (
    LOCAL,
    NewIncident,
    create_incident,
    report_change,
    reported_case,
)

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


def alarm_event(action: str, alarm: CameraAlarmRead) -> dict:
    """The `cameras.alarms` event data (AlarmEvent) of what happened to an alarm: raised,
    acknowledged, closed, case. The webhook's route and the SIP listener's sink both send
    this."""
    return AlarmEvent(action=action, alarm=alarm, lon=alarm.lon,  # type: ignore[arg-type]
                      lat=alarm.lat).model_dump(mode="json")


def read_alarm(conn: sa.Connection, alarm_id: int) -> CameraAlarmRead:
    row = conn.execute(sa.text(READ_SQL + " WHERE a.id = :id"), {"id": alarm_id}).mappings().first()
    if row is None:
        raise NotFound(f"No camera alarm {alarm_id}")
    return CameraAlarmRead.model_validate(dict(row))


# Operators' work on alarms -----------------------------------------------------------------
# open -> acknowledged (a dispatcher has seen it) -> closed; a case can be made of an open or
# acknowledged alarm (it then counts as acknowledged). Each change is audited, last in its
# transaction; the caller pushes it on `cameras.alarms` after the commit.

StateFilter = Literal["open", "acknowledged", "closed", "all"]


def find_alarm(conn: sa.Connection, source: str, key: str) -> CameraAlarmRead:
    """The alarm a sender stored under its key (a repeated webhook answers with it)."""
    alarm_id = conn.execute(sa.text(
        "SELECT id FROM camera_alarms WHERE source = :s AND external_key = :k"),
        {"s": source, "k": key}).scalar()
    if alarm_id is None:
        raise NotFound(f"No camera alarm with key {key!r}")
    return read_alarm(conn, alarm_id)


def raise_alarm(conn: sa.Connection, alarm: NewCameraAlarm) -> tuple[CameraAlarmRead, bool]:
    """(the alarm, whether it is new): `store_alarm` with a repeat answered by the first one
    and an unknown kind as Unprocessable naming the kinds."""
    if alarm.kind not in KINDS:
        raise Unprocessable(f"Unknown alarm kind {alarm.kind!r}; use one of {', '.join(KINDS)} "
                            "(GET /api/cameras/alarm-kinds names them)", kinds=list(KINDS))
    stored = store_alarm(conn, alarm)
    if stored is not None:
        return stored, True
    assert alarm.external_key is not None  # only a keyed alarm can repeat
    return find_alarm(conn, alarm.source, alarm.external_key), False


def list_alarms(conn: sa.Connection, state: StateFilter = "open",
                limit: int = 200) -> list[CameraAlarmRead]:
    """Newest first."""
    where, params = ("", {"limit": limit}) if state == "all" else (
        " WHERE a.state = :state", {"limit": limit, "state": state})
    rows = conn.execute(sa.text(READ_SQL + where + " ORDER BY a.time DESC, a.id DESC LIMIT :limit"),
                        params).mappings()
    return [CameraAlarmRead.model_validate(dict(r)) for r in rows]


def _refuse(conn: sa.Connection, alarm_id: int, what: str) -> Conflict:
    alarm = read_alarm(conn, alarm_id)  # NotFound first
    return Conflict(f"Camera alarm {alarm_id} is {alarm.state}: it cannot be {what}",
                    state=alarm.state)


def _audited(conn: sa.Connection, alarm: CameraAlarmRead, by: str,
             action: str) -> CameraAlarmRead:
    audit(conn, by, action, "camera_alarm", alarm.id, {
        "camera": alarm.camera, "kind": alarm.kind, "state": alarm.state,
        "incident_id": alarm.incident_id})
    return alarm


def acknowledge(conn: sa.Connection, alarm_id: int, by: str, at: datetime) -> CameraAlarmRead:
    done = conn.execute(sa.text(
        "UPDATE camera_alarms SET state = 'acknowledged', acknowledged_by = :by, "
        "acknowledged_at = :at WHERE id = :id AND state = 'open' RETURNING id"),
        {"id": alarm_id, "by": by, "at": at}).scalar()
    if done is None:
        raise _refuse(conn, alarm_id, "acknowledged (only an open alarm can)")
    return _audited(conn, read_alarm(conn, alarm_id), by, "camera_alarm.acknowledge")


def close(conn: sa.Connection, alarm_id: int, by: str, at: datetime) -> CameraAlarmRead:
    """Closing counts as acknowledging when nobody had."""
    done = conn.execute(sa.text(
        "UPDATE camera_alarms SET state = 'closed', "
        "acknowledged_by = COALESCE(acknowledged_by, :by), "
        "acknowledged_at = COALESCE(acknowledged_at, :at) "
        "WHERE id = :id AND state <> 'closed' RETURNING id"),
        {"id": alarm_id, "by": by, "at": at}).scalar()
    if done is None:
        raise _refuse(conn, alarm_id, "closed again")
    return _audited(conn, read_alarm(conn, alarm_id), by, "camera_alarm.close")


@dataclass(frozen=True, slots=True)
class CaseMade:
    alarm: CameraAlarmRead
    incident_id: int
    change: dict | None  # the incidents.changes data of the new case; None: made before


def case_description(alarm: CameraAlarmRead) -> str:
    kind_zh, _ = KINDS.get(alarm.kind, (alarm.kind, alarm.kind))
    when = alarm.time.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")
    text = f"视频报警：{kind_zh}（{alarm.camera_name or alarm.camera}，{when}）"
    return f"{text} {alarm.description}" if alarm.description else text


def make_case(conn: sa.Connection, alarm_id: int, request: AlarmToCase, principal: Principal,
              at: datetime) -> CaseMade:
    """A case (source video, at the camera's place, the operator's category) from an alarm,
    through the incidents service; the alarm is linked and acknowledged. Idempotent: an alarm
    that became a case answers with that case."""
    row = conn.execute(sa.text(
        "SELECT a.state, a.incident_id, c.address FROM camera_alarms a "
        "JOIN cameras c ON c.id = a.camera_id WHERE a.id = :id FOR UPDATE OF a"),
        {"id": alarm_id}).first()
    if row is None:
        raise NotFound(f"No camera alarm {alarm_id}")
    if row.incident_id is not None:
        return CaseMade(read_alarm(conn, alarm_id), row.incident_id, None)
    if row.state == "closed":
        raise Conflict(f"Camera alarm {alarm_id} is closed: a closed alarm does not become a "
                       "case", state=row.state)
    alarm = read_alarm(conn, alarm_id)
    incident_id, created = create_incident(conn, NewIncident(
        category_code=request.category_code, urgency=request.urgency,
        description=(request.description or "").strip() or case_description(alarm),
        lon=alarm.lon, lat=alarm.lat, source="video",
        address=(row.address or alarm.camera_name or None),
        idempotency_key=f"camera-alarm:{alarm_id}"), principal, at)
    conn.execute(sa.text(
        "UPDATE camera_alarms SET incident_id = :incident, state = 'acknowledged', "
        "acknowledged_by = COALESCE(acknowledged_by, :by), "
        "acknowledged_at = COALESCE(acknowledged_at, :at) WHERE id = :id"),
        {"id": alarm_id, "incident": incident_id, "by": principal.username, "at": at})
    alarm = _audited(conn, read_alarm(conn, alarm_id), principal.username, "camera_alarm.case")
    change = report_change(reported_case(conn, incident_id), principal.username)
    return CaseMade(alarm, incident_id, change if created else None)
