"""Stored vehicle alarms: what the rules raise and clear, what dispatchers acknowledge.

A rule's "raised" opens an active alarm (at most one per vehicle and kind: a rule that raises
again after a server restart finds it already open), "cleared" closes it, "instant" is stored
already closed. A dispatcher acknowledges an alarm ("I have seen it, I am on it") and may close
one by hand (a false SOS); a later "cleared" from the rule then finds nothing open. Both are
on the audit chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
import sqlalchemy as sa

from backend.audit.chain import append as audit
from backend.errors import Conflict, NotFound
from backend.vehicles.rules import AlarmEvent

AlarmStatus = Literal["active", "cleared"]
COLUMNS = (
    "id, vehicle_id, kind, severity, status, started_at, raised_at, cleared_at, cleared_by, "
    "lon, lat, details, acknowledged_at, acknowledged_by, note"
)

OPEN = sa.text(f"""
INSERT INTO vehicle_alarms (vehicle_id, kind, severity, status, started_at, raised_at,
  cleared_at, cleared_by, lon, lat, details)
VALUES (:vehicle_id, :kind, :severity, :status, :started_at, :time, :cleared_at, :cleared_by,
  :lon, :lat, CAST(:details AS jsonb))
ON CONFLICT (vehicle_id, kind) WHERE status = 'active' DO NOTHING
RETURNING {COLUMNS}""")  # noqa: S608 (COLUMNS is a constant)
CLOSE_BY_RULE = sa.text(f"""
UPDATE vehicle_alarms SET status = 'cleared', cleared_at = :time, cleared_by = 'rule',
  details = details || CAST(:details AS jsonb)
WHERE vehicle_id = :vehicle_id AND kind = :kind AND status = 'active'
RETURNING {COLUMNS}""")  # noqa: S608


@dataclass(frozen=True, slots=True)
class StoredAlarm:
    id: int
    vehicle_id: str
    kind: str
    severity: str
    status: AlarmStatus
    started_at: datetime
    raised_at: datetime
    cleared_at: datetime | None
    cleared_by: str | None
    lon: float
    lat: float
    details: dict[str, Any]
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    note: str | None

    @classmethod
    def from_row(cls, row: sa.Row) -> StoredAlarm:
        return cls(*row)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of the API and of the `vehicles.alarms` channel."""
        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat()

        return {
            "id": self.id, "vehicle_id": self.vehicle_id, "kind": self.kind,
            "severity": self.severity, "status": self.status,
            "started_at": iso(self.started_at), "raised_at": iso(self.raised_at),
            "cleared_at": iso(self.cleared_at), "cleared_by": self.cleared_by,
            "lon": self.lon, "lat": self.lat, "details": self.details,
            "acknowledged_at": iso(self.acknowledged_at), "acknowledged_by": self.acknowledged_by,
            "note": self.note,
        }


def _params(e: AlarmEvent) -> dict[str, Any]:
    instant = e.action == "instant"
    return {
        "vehicle_id": e.vehicle_id, "kind": e.kind, "severity": e.severity,
        "status": "cleared" if instant else "active", "started_at": e.started_at,
        "time": e.time, "cleared_at": e.time if instant else None,
        "cleared_by": "rule" if instant else None,
        "lon": e.position.lon, "lat": e.position.lat,
        "details": orjson.dumps(dict(e.details), default=str).decode(),
    }


def record_events(conn: sa.Connection, events: Sequence[AlarmEvent]
                  ) -> list[tuple[AlarmEvent, StoredAlarm | None]]:
    """Apply rule events in order; each comes back with the alarm it opened or closed (None:
    nothing changed, e.g. raised while already open, or cleared after a dispatcher closed it)."""
    out: list[tuple[AlarmEvent, StoredAlarm | None]] = []
    for e in events:
        statement = CLOSE_BY_RULE if e.action == "cleared" else OPEN
        row = conn.execute(statement, _params(e)).first()
        out.append((e, None if row is None else StoredAlarm.from_row(row)))
    return out


def list_alarms(
    conn: sa.Connection,
    *,
    status: AlarmStatus | None = None,
    vehicle_ids: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 200,
) -> list[StoredAlarm]:
    """Newest first. The window selects alarms that were open at some time within it."""
    where, params = ["TRUE"], {"limit": limit}
    if status is not None:
        where.append("status = :status")
        params["status"] = status
    if vehicle_ids is not None:
        where.append("vehicle_id = ANY(:vids)")
        params["vids"] = list(vehicle_ids)
    if start is not None:
        where.append("(cleared_at IS NULL OR cleared_at >= :start)")
        params["start"] = start
    if end is not None:
        where.append("started_at < :end")
        params["end"] = end
    query = (f"SELECT {COLUMNS} FROM vehicle_alarms WHERE {' AND '.join(where)} "  # noqa: S608
             "ORDER BY raised_at DESC, id DESC LIMIT :limit")
    return [StoredAlarm.from_row(r) for r in conn.execute(sa.text(query), params)]


def get_alarm(conn: sa.Connection, alarm_id: int) -> StoredAlarm:
    row = conn.execute(sa.text(f"SELECT {COLUMNS} FROM vehicle_alarms WHERE id = :id"),  # noqa: S608
                       {"id": alarm_id}).first()
    if row is None:
        raise NotFound(f"No vehicle alarm {alarm_id}")
    return StoredAlarm.from_row(row)


def acknowledge(conn: sa.Connection, alarm_id: int, by: str, at: datetime,
                note: str | None) -> StoredAlarm:
    row = conn.execute(sa.text(f"""
UPDATE vehicle_alarms SET acknowledged_at = :at, acknowledged_by = :by,
  note = COALESCE(:note, note)
WHERE id = :id AND acknowledged_at IS NULL RETURNING {COLUMNS}"""),  # noqa: S608
        {"id": alarm_id, "by": by, "at": at, "note": note}).first()
    if row is None:
        done = get_alarm(conn, alarm_id)  # NotFound when it does not exist
        raise Conflict(f"Alarm {alarm_id} was already acknowledged by {done.acknowledged_by} "
                       f"at {done.acknowledged_at:%Y-%m-%d %H:%M:%S %Z}")
    return _audited(conn, StoredAlarm.from_row(row), by, "alarm.acknowledge")


def clear_by_hand(conn: sa.Connection, alarm_id: int, by: str, at: datetime,
                  note: str | None) -> StoredAlarm:
    """A dispatcher closes an alarm (it counts as acknowledged by them if nobody had)."""
    row = conn.execute(sa.text(f"""
UPDATE vehicle_alarms SET status = 'cleared', cleared_at = :at, cleared_by = :by,
  acknowledged_at = COALESCE(acknowledged_at, :at),
  acknowledged_by = COALESCE(acknowledged_by, :by),
  note = COALESCE(:note, note)
WHERE id = :id AND status = 'active' RETURNING {COLUMNS}"""),  # noqa: S608
        {"id": alarm_id, "by": by, "at": at, "note": note}).first()
    if row is None:
        done = get_alarm(conn, alarm_id)
        raise Conflict(f"Alarm {alarm_id} is already cleared (by {done.cleared_by} "
                       f"at {done.cleared_at:%Y-%m-%d %H:%M:%S %Z})")
    return _audited(conn, StoredAlarm.from_row(row), by, "alarm.clear")


def _audited(conn: sa.Connection, alarm: StoredAlarm, by: str, action: str) -> StoredAlarm:
    """A dispatcher's change goes on the audit chain, last in its transaction."""
    audit(conn, by, action, "vehicle_alarm", alarm.id, {
        "vehicle_id": alarm.vehicle_id, "kind": alarm.kind, "severity": alarm.severity,
        "note": alarm.note})
    return alarm
