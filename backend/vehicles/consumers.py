"""What the vehicles slice does with every batch of positions, as consumers of the position
pipeline (backend.ingest.pipeline): the alarm rules (with their stored alarms and pushes) and
the hub's position pushes. Storage is `store.PositionStore`, the pipeline's durable stage.

Per-vehicle rule state lives in memory and is rebuilt from the stream after a restart (stateful
rules re-arm within a few fixes; an alarm still open in the database is found open, not
duplicated)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from backend.ingest.position import Position
from backend.realtime.messages import ALARMS, POSITIONS
from backend.vehicles.alarms import StoredAlarm, record_events
from backend.vehicles.fleet import PROBE_CLASS
from backend.vehicles.rules import AlarmEvent, RuleContext, VehicleState, run_rules

Publisher = Callable[[str, dict[str, Any]], None]  # thread-safe hub publish(channel, data)
NO_CONTEXT = RuleContext()


def position_event(p: Position) -> dict[str, Any]:
    """What consoles receive on vehicles.positions (lon/lat drive the viewport filter)."""
    return {
        "vehicle_id": p.vehicle_id, "time": p.time.isoformat(), "lon": p.lon, "lat": p.lat,
        "speed_kmh": p.speed_kmh, "heading_deg": p.heading_deg, "alarm_flags": p.alarm_flags,
        "source": p.source,
    }


def alarm_event(action: str, alarm: StoredAlarm, time: datetime) -> dict[str, Any]:
    """What consoles receive on vehicles.alarms: the stored alarm after `action` (raised,
    cleared, instant by a rule; acknowledged, cleared by a dispatcher) at `time`."""
    return {"action": action, "time": time.isoformat(), **alarm.as_dict()}


class AlarmRules:
    """The ordered alarm rules over each fix (time order per vehicle), their events stored
    (`alarms.record_events`, one transaction a batch) and, once committed, pushed on
    vehicles.alarms. Returns every rule event (the sender's `IngestReport.alarms`)."""

    name = "alarm_rules"

    def __init__(
        self,
        engine: sa.Engine,
        *,
        context_for: Callable[[str], RuleContext] = lambda _vid: NO_CONTEXT,
        prepare: Callable[[Sequence[Position]], AbstractContextManager[object]] = (
            lambda _positions: nullcontext()),
        publish: Publisher | None = None,
    ) -> None:
        self.engine = engine
        self.context_for = context_for
        self.prepare = prepare  # batch-wide precomputation (FleetDirectory.prepared)
        self.publish = publish
        self._states: dict[str, VehicleState] = {}
        # The pipeline calls from one thread; the lock keeps the states whole if a caller
        # (a test, a tool) runs the rules on its own thread as well.
        self._lock = threading.Lock()

    def consume(self, positions: Sequence[Position]) -> list[AlarmEvent]:
        events: list[AlarmEvent] = []
        states, context_for = self._states, self.context_for
        with self._lock, self.prepare(positions):
            for p in positions:  # sorted by time by the pipeline
                context = context_for(p.vehicle_id)
                if context.vehicle_class == PROBE_CLASS:
                    continue  # a probe's speeding or stops are nobody's alarm
                state, found = run_rules(states.get(p.vehicle_id), p, context)
                states[p.vehicle_id] = state
                if found:
                    events.extend(found)
        if events:
            with self.engine.begin() as conn:
                changed = [(e, a) for e, a in record_events(conn, events) if a is not None]
            if self.publish is not None:
                for e, stored in changed:
                    self.publish(ALARMS, alarm_event(e.action, stored, e.time))
        return events


class PositionPushes:
    """After the commit: each vehicle's newest fix of the batch on vehicles.positions."""

    name = "hub_positions"

    def __init__(self, publish: Publisher,
                 shown: Callable[[str], bool] = lambda _vid: True) -> None:
        self.publish = publish
        self.shown = shown  # probes are not pushed (FleetDirectory.shown)

    def consume(self, positions: Sequence[Position]) -> None:
        newest: dict[str, Position] = {}
        for p in positions:  # time order: the last one of a vehicle is its newest
            newest[p.vehicle_id] = p
        for p in newest.values():
            if self.shown(p.vehicle_id):
                self.publish(POSITIONS, position_event(p))
