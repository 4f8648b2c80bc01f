"""Stored traffic alerts: what the rules raise, update and clear; what traffic police
acknowledge and close (both on the audit chain).

Status: `active` (raised by a rule) -> `acknowledged` (an officer has seen it) -> `cleared`
(the rule's condition ended) or `closed` (an officer closed it). At most one open (active or
acknowledged) alert per rule, segment and source. A rule's event on an alert an officer has
closed changes nothing; the rule raises a new alert only after it has cleared and returned.
`revision` counts the changes since the alert was raised (0 as raised), which a CAP consumer is
told about (Alert, then Update, then Cancel: backend.traffic.cap).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
import sqlalchemy as sa

from backend.audit.chain import append as audit
from backend.errors import Conflict, NotFound
from backend.traffic.levels import LEVEL_NAMES
from backend.traffic.rules import TrafficEvent
from backend.traffic.segments import SegmentInfo

AlertStatus = Literal["active", "acknowledged", "cleared", "closed"]
KIND_NAMES = {"congestion": ("持续拥堵", "Persistent congestion"),
              "slow": ("异常缓行", "Abnormally slow traffic"),
              "accident": ("交通事故", "Traffic accident")}
COLUMNS = ("id, kind, source_key, segment, pilot_code, name, status, level, speed_kmh, "
           "typical_kmh, started_at, raised_at, updated_at, cleared_at, acknowledged_at, "
           "acknowledged_by, closed_at, closed_by, note, revision, case_id, vehicle_id, lon, lat, "
           "details")


def allowed_actions(status: str) -> list[str]:
    """What an officer may still do with an alert in `status`."""
    return {"active": ["acknowledge", "close"], "acknowledged": ["close"],
            "cleared": ["close"]}.get(status, [])


@dataclass(frozen=True, slots=True)
class StoredAlert:
    id: int
    kind: str
    source_key: str
    segment: int
    pilot_code: str | None
    name: str | None
    status: AlertStatus
    level: int
    speed_kmh: float | None
    typical_kmh: float | None
    started_at: datetime
    raised_at: datetime
    updated_at: datetime
    cleared_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    closed_at: datetime | None
    closed_by: str | None
    note: str | None
    revision: int
    case_id: int | None
    vehicle_id: str | None
    lon: float
    lat: float
    details: dict[str, Any]

    @classmethod
    def from_row(cls, row: sa.Row) -> StoredAlert:
        return cls(*row)

    def headlines(self) -> tuple[str, str]:
        kind_zh, kind_en = KIND_NAMES.get(self.kind, (self.kind, self.kind))
        where = self.name or f"路段 {self.segment}"
        where_en = self.name or f"segment {self.segment}"
        zh, en = f"{where} {kind_zh}", f"{kind_en}: {where_en}"
        if self.kind != "accident" and self.level:
            level_zh, level_en = LEVEL_NAMES[self.level]
            zh += f"（{level_zh}"
            en += f" ({level_en}"
            if self.speed_kmh is not None:
                zh += f"，{self.speed_kmh:.0f} km/h"
                en += f", {self.speed_kmh:.0f} km/h"
            if self.typical_kmh is not None:
                zh += f"，常态 {self.typical_kmh:.0f} km/h"
                en += f", usually {self.typical_kmh:.0f} km/h"
            zh += "）"
            en += ")"
        return zh, en

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of the API and of the `traffic.alerts` channel."""
        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat()

        zh, en = self.headlines()
        return {
            "id": self.id, "kind": self.kind, "segment": self.segment,
            "pilot_code": self.pilot_code, "name": self.name, "status": self.status,
            "level": self.level, "speed_kmh": self.speed_kmh, "typical_kmh": self.typical_kmh,
            "started_at": iso(self.started_at), "raised_at": iso(self.raised_at),
            "updated_at": iso(self.updated_at), "cleared_at": iso(self.cleared_at),
            "acknowledged_at": iso(self.acknowledged_at), "acknowledged_by": self.acknowledged_by,
            "closed_at": iso(self.closed_at), "closed_by": self.closed_by, "note": self.note,
            "revision": self.revision, "case_id": self.case_id, "vehicle_id": self.vehicle_id,
            "lon": self.lon, "lat": self.lat, "details": self.details,
            "headline_zh": zh, "headline_en": en,
            "allowed_actions": allowed_actions(self.status),
        }


RAISE = sa.text(f"""
INSERT INTO traffic_alerts (kind, source_key, segment, pilot_code, name, status, level,
  speed_kmh, typical_kmh, started_at, raised_at, updated_at, case_id, vehicle_id, lon, lat,
  details)
VALUES (:kind, :source_key, :segment, :pilot_code, :name, 'active', :level, :speed, :typical,
  :started_at, :time, :time, :case_id, :vehicle_id, :lon, :lat, CAST(:details AS jsonb))
ON CONFLICT (kind, segment, source_key) WHERE status IN ('active', 'acknowledged') DO NOTHING
RETURNING {COLUMNS}""")  # noqa: S608 (COLUMNS is a constant)
# An accident's source may move to another segment: it is found by its source alone.
UPDATE = sa.text(f"""
UPDATE traffic_alerts SET level = :level, speed_kmh = :speed, typical_kmh = :typical,
  segment = :segment, pilot_code = :pilot_code, name = :name, lon = :lon, lat = :lat,
  case_id = COALESCE(:case_id, case_id), vehicle_id = COALESCE(:vehicle_id, vehicle_id),
  updated_at = :time, revision = revision + 1, details = details || CAST(:details AS jsonb)
WHERE kind = :kind AND source_key = :source_key
  AND (segment = :segment OR source_key <> '') AND status IN ('active', 'acknowledged')
RETURNING {COLUMNS}""")  # noqa: S608
CLEAR = sa.text(f"""
UPDATE traffic_alerts SET status = 'cleared', cleared_at = :time, updated_at = :time,
  revision = revision + 1, details = details || CAST(:details AS jsonb)
WHERE kind = :kind AND source_key = :source_key
  AND (segment = :segment OR source_key <> '') AND status IN ('active', 'acknowledged')
RETURNING {COLUMNS}""")  # noqa: S608


def _params(e: TrafficEvent, seg: SegmentInfo | None) -> dict[str, Any]:
    lon = e.lon if e.lon is not None else (seg.lon if seg else 0.0)
    lat = e.lat if e.lat is not None else (seg.lat if seg else 0.0)
    return {
        "kind": e.kind, "source_key": e.source_key, "segment": e.segment,
        "pilot_code": seg.pilot_code if seg else None, "name": seg.name if seg else None,
        "level": e.level, "speed": e.speed_kmh, "typical": e.typical_kmh,
        "started_at": e.started_at, "time": e.time, "case_id": e.case_id,
        "vehicle_id": e.vehicle_id, "lon": lon, "lat": lat,
        "details": orjson.dumps(dict(e.details), default=str).decode(),
    }


def record_events(conn: sa.Connection, events: Sequence[TrafficEvent],
                  segments: Mapping[int, SegmentInfo]
                  ) -> list[tuple[TrafficEvent, StoredAlert | None]]:
    """Apply rule events in order; each comes back with the alert it changed (None: nothing
    changed, e.g. raised while open, or cleared after an officer closed it)."""
    out: list[tuple[TrafficEvent, StoredAlert | None]] = []
    for e in events:
        statement = {"raised": RAISE, "updated": UPDATE, "cleared": CLEAR}[e.action]
        row = conn.execute(statement, _params(e, segments.get(e.segment))).first()
        out.append((e, None if row is None else StoredAlert.from_row(row)))
    return out


def list_alerts(conn: sa.Connection, *, status: Literal["open", "all"] = "open",
                limit: int = 200) -> list[StoredAlert]:
    """Newest first; `open` is active or acknowledged."""
    where = "status IN ('active', 'acknowledged')" if status == "open" else "TRUE"
    return [StoredAlert.from_row(r) for r in conn.execute(sa.text(
        f"SELECT {COLUMNS} FROM traffic_alerts WHERE {where} "  # noqa: S608
        "ORDER BY raised_at DESC, id DESC LIMIT :limit"), {"limit": limit})]


def get_alert(conn: sa.Connection, alert_id: int) -> StoredAlert:
    row = conn.execute(sa.text(f"SELECT {COLUMNS} FROM traffic_alerts WHERE id = :id"),  # noqa: S608
                       {"id": alert_id}).first()
    if row is None:
        raise NotFound(f"No traffic alert {alert_id}")
    return StoredAlert.from_row(row)


def _refuse(conn: sa.Connection, alert_id: int, action: str) -> Conflict:
    done = get_alert(conn, alert_id)  # NotFound when it does not exist
    allowed = allowed_actions(done.status)
    return Conflict(f"Traffic alert {alert_id} is {done.status}: it cannot be {action} now "
                    f"(allowed: {', '.join(allowed) or 'none'})", status=done.status,
                    actions=allowed)


def acknowledge(conn: sa.Connection, alert_id: int, by: str, at: datetime,
                note: str | None) -> StoredAlert:
    row = conn.execute(sa.text(f"""
UPDATE traffic_alerts SET status = 'acknowledged', acknowledged_at = :at, acknowledged_by = :by,
  note = COALESCE(:note, note), revision = revision + 1, updated_at = :at
WHERE id = :id AND status = 'active' RETURNING {COLUMNS}"""),  # noqa: S608
        {"id": alert_id, "by": by, "at": at, "note": note}).first()
    if row is None:
        raise _refuse(conn, alert_id, "acknowledged")
    return _audited(conn, StoredAlert.from_row(row), by, "traffic_alert.acknowledge")


def close(conn: sa.Connection, alert_id: int, by: str, at: datetime,
          note: str | None) -> StoredAlert:
    """An officer closes an alert (it counts as acknowledged by them if nobody had)."""
    row = conn.execute(sa.text(f"""
UPDATE traffic_alerts SET status = 'closed', closed_at = :at, closed_by = :by,
  acknowledged_at = COALESCE(acknowledged_at, :at),
  acknowledged_by = COALESCE(acknowledged_by, :by),
  note = COALESCE(:note, note), revision = revision + 1, updated_at = :at
WHERE id = :id AND status <> 'closed' RETURNING {COLUMNS}"""),  # noqa: S608
        {"id": alert_id, "by": by, "at": at, "note": note}).first()
    if row is None:
        raise _refuse(conn, alert_id, "closed")
    return _audited(conn, StoredAlert.from_row(row), by, "traffic_alert.close")


def _audited(conn: sa.Connection, alert: StoredAlert, by: str, action: str) -> StoredAlert:
    """An officer's change goes on the audit chain, last in its transaction."""
    audit(conn, by, action, "traffic_alert", alert.id, {
        "kind": alert.kind, "segment": alert.segment, "status": alert.status,
        "note": alert.note})
    return alert


def open_rule_alerts(conn: sa.Connection) -> list[StoredAlert]:
    """Open alerts of every rule (the service rebuilds the rules' state from them at start)."""
    return list_alerts(conn, status="open", limit=100_000)
