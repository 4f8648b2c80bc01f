"""Geofence enter/exit.

Policy: the first fix ever seen for a vehicle only establishes which fences it is in, with no
event; a vehicle that first reports from inside a fence did not "enter" it at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.ingest.position import Position
from backend.vehicles.rules.context import RuleContext
from backend.vehicles.rules.events import AlarmEvent, Severity, make_event


@dataclass(frozen=True, slots=True)
class GeofenceParams:
    severity_enter: Severity = "info"
    severity_exit: Severity = "info"


@dataclass(frozen=True, slots=True)
class GeofenceState:
    inside: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class GeofenceRule:
    params: GeofenceParams = GeofenceParams()
    name: str = "geofence"

    def step(
        self, state: GeofenceState | None, position: Position, context: RuleContext
    ) -> tuple[GeofenceState, list[AlarmEvent]]:
        fences = context.geofences
        inside = frozenset(f.id for f in fences if f.covers(position.lon, position.lat))
        new = GeofenceState(inside)
        if state is None:
            return new, []
        events: list[AlarmEvent] = []
        # Exits before enters (you leave one zone, then enter the next), each in context order.
        for f in fences:
            if f.id in state.inside and f.id not in inside:
                events.append(make_event(
                    "geofence_exit", "instant", position, self.params.severity_exit,
                    geofence_id=f.id, name=f.name,
                ))
        for f in fences:
            if f.id in inside and f.id not in state.inside:
                events.append(make_event(
                    "geofence_enter", "instant", position, self.params.severity_enter,
                    geofence_id=f.id, name=f.name,
                ))
        return new, events
