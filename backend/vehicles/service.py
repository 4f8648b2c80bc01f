"""The one position pipeline every feed goes through: validate -> store -> alarm rules ->
stored alarms -> hub.

Runs on a worker thread (storage is blocking). Per-vehicle rule state lives in memory and is
rebuilt from the stream after a restart (stateful rules re-arm within a few fixes; an alarm
still open in the database is found open, not duplicated)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from backend.ingest.position import Position
from backend.vehicles.alarms import StoredAlarm, record_events
from backend.vehicles.rules import AlarmEvent, RuleContext, VehicleState, run_rules
from backend.vehicles.store import PositionStore
from backend.vehicles.validate import reject_reason

Publisher = Callable[[str, dict[str, Any]], None]  # thread-safe hub publish(channel, data)
NO_CONTEXT = RuleContext()


@dataclass
class IngestReport:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (index in batch, reason)
    alarms: list[AlarmEvent] = field(default_factory=list)


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


class PositionPipeline:
    def __init__(
        self,
        store: PositionStore,
        *,
        context_for: Callable[[str], RuleContext] = lambda _vid: NO_CONTEXT,
        publish: Publisher | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.context_for = context_for
        self.publish = publish
        self.clock = clock
        self.counters: Counter[str] = Counter()  # accepted, duplicates, rejected:<reason>
        # Every refused record of every feed, by (source, reason): the pipeline's own range
        # checks and, through count_rejects, the feeds' parse errors (invalid:<field>, ...).
        self.rejects: Counter[tuple[str, str]] = Counter()
        self._states: dict[str, VehicleState] = {}
        self._lock = threading.Lock()
        # Stored records by (source, accepted | duplicates), for /metrics beside `rejects`.
        self.stored: Counter[tuple[str, str]] = Counter()

    def ingest(self, positions: Sequence[Position]) -> IngestReport:
        now = self.clock()
        report = IngestReport(received=len(positions))
        valid: list[Position] = []
        for index, p in enumerate(positions):
            reason = reject_reason(p, now)
            if reason is None:
                valid.append(p)
            else:
                report.rejected.append((index, reason))
                self.counters[f"rejected:{reason}"] += 1
                self.rejects[(p.source, reason)] += 1
        stored = self.store.store(valid, now=now)
        report.accepted, report.duplicates = stored.stored, stored.duplicates
        self.counters["accepted"] += stored.stored
        self.counters["duplicates"] += stored.duplicates
        self._count_stored(positions, stored.stored, stored.duplicates)
        # Rules see each vehicle's fixes in time order; late ones are handled by the rules.
        with self._lock:
            for p in sorted(valid, key=lambda q: q.time):
                state, events = run_rules(self._states.get(p.vehicle_id), p,
                                          self.context_for(p.vehicle_id))
                self._states[p.vehicle_id] = state
                report.alarms.extend(events)
        stored_alarms = self._record(report.alarms)
        self._push(valid, stored_alarms)
        return report

    def count_rejects(self, source: str, reasons: Sequence[str]) -> None:
        """Count records a feed refused before they became positions (parse errors)."""
        for reason in reasons:
            self.rejects[(source, reason)] += 1

    def _record(self, events: list[AlarmEvent]) -> list[tuple[AlarmEvent, StoredAlarm]]:
        """Store the rules' events; only those that changed an alarm are passed on."""
        if not events:
            return []
        with self.store.engine.begin() as conn:
            changed = record_events(conn, events)
        return [(e, a) for e, a in changed if a is not None]

    def _push(self, valid: list[Position],
              alarms: list[tuple[AlarmEvent, StoredAlarm]]) -> None:
        if self.publish is None:
            return
        newest: dict[str, Position] = {}
        for p in valid:
            if p.vehicle_id not in newest or p.time > newest[p.vehicle_id].time:
                newest[p.vehicle_id] = p
        for p in newest.values():
            self.publish("vehicles.positions", position_event(p))
        for e, stored in alarms:
            self.publish("vehicles.alarms", alarm_event(e.action, stored, e.time))

    def _count_stored(self, positions: Sequence[Position], accepted: int,
                      duplicates: int) -> None:
        # A batch comes from one feed (the store counts per batch): a mixed one is "mixed".
        source = positions[0].source if positions else "none"
        if any(p.source != source for p in positions):
            source = "mixed"
        for outcome, n in (("accepted", accepted), ("duplicates", duplicates)):
            if n:
                self.stored[(source, outcome)] += n
