"""The one event shape every alarm rule emits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Literal

from backend.ingest.position import Position

Severity = Literal["info", "warning", "critical"]
# raised/cleared bracket an alarm that lasts; "instant" marks a one-off fact (geofence crossing,
# an alarm bit seen only in a late backfilled fix) that storage never waits to see cleared.
AlarmAction = Literal["raised", "cleared", "instant"]


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    vehicle_id: str
    kind: str                  # "overspeed", "off_route", "long_stop", "geofence_enter", "sos", ...
    action: AlarmAction
    time: datetime             # the fix that triggered this event
    started_at: datetime       # when the condition began (== time for instant events)
    position: Position
    severity: Severity
    details: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))


def make_event(
    kind: str,
    action: AlarmAction,
    position: Position,
    severity: Severity,
    started_at: datetime | None = None,
    **details: object,
) -> AlarmEvent:
    return AlarmEvent(
        vehicle_id=position.vehicle_id,
        kind=kind,
        action=action,
        time=position.time,
        started_at=started_at if started_at is not None else position.time,
        position=position,
        severity=severity,
        details=MappingProxyType(details),
    )
