"""The vehicles slice as other slices see it (import rule 3: a slice calls another only through
its service; checked by the import-linter contracts in pyproject.toml).

Bus-line operations (backend.transit) read the fleet register, the latest fixes, tracks and the
stored alarms, record their own alarms (bunching) in the same store and push them in the same
shape. The positions themselves flow through the position pipeline (backend.ingest.pipeline);
this slice's consumers of it are in `consumers`, assembled by backend.positions."""

from __future__ import annotations

from backend.vehicles.alarms import StoredAlarm, list_alarms, record_events
from backend.vehicles.consumers import alarm_event, position_event
from backend.vehicles.fleet import PROBE_CLASS, FleetDirectory, FleetLine, LineStop
from backend.vehicles.live import latest_fixes, list_vehicles
from backend.vehicles.rules import AlarmEvent, project
from backend.vehicles.rules.events import make_event
from backend.vehicles.store import track

__all__ = [
    "AlarmEvent",
    "FleetDirectory",
    "FleetLine",
    "LineStop",
    "PROBE_CLASS",
    "StoredAlarm",
    "alarm_event",
    "latest_fixes",
    "list_alarms",
    "list_vehicles",
    "make_event",
    "position_event",
    "project",
    "record_events",
    "track",
]
