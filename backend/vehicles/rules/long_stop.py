"""Long stop: standing still for longer than T away from every stop of the vehicle's line."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from backend.ingest.position import Position
from backend.vehicles.rules.context import RuleContext, project
from backend.vehicles.rules.events import AlarmEvent, make_event


@dataclass(frozen=True, slots=True)
class LongStopParams:
    max_speed_kmh: float = 3.0     # below this the vehicle counts as stopped (GPS drift)
    min_duration_s: float = 300.0  # stopped for longer than this raises
    stop_radius_m: float = 30.0    # within this of a station/stop the wait is normal


@dataclass(frozen=True, slots=True)
class LongStopState:
    stopped_since: datetime | None = None
    raised: bool = False


@dataclass(frozen=True, slots=True)
class LongStopRule:
    params: LongStopParams = LongStopParams()
    name: str = "long_stop"

    def step(
        self, state: LongStopState | None, position: Position, context: RuleContext
    ) -> tuple[LongStopState, list[AlarmEvent]]:
        s = state or LongStopState()
        line = context.line
        speed = position.speed_kmh
        # No line: a spare bus parked at the depot is not an alarm. No speed: no evidence.
        if line is None or speed is None:
            return s, []
        p = self.params
        t = position.time
        if speed >= p.max_speed_kmh:
            if s.raised:
                return LongStopState(), [make_event(
                    "long_stop", "cleared", position, "warning", s.stopped_since,
                    duration_s=(t - s.stopped_since).total_seconds() if s.stopped_since else 0.0,
                )]
            return LongStopState(), []
        if s.raised:
            return s, []
        near = line.stop_distance_m(project(position.lon, position.lat))
        if near is not None and near <= p.stop_radius_m:
            return LongStopState(), []  # dwelling at a stop: restart the clock
        since = s.stopped_since or t
        duration = (t - since).total_seconds()
        if duration > p.min_duration_s:
            return LongStopState(since, True), [make_event(
                "long_stop", "raised", position, "warning", since,
                duration_s=duration, line_id=line.line_id,
                nearest_stop_m=None if near is None else round(near, 1),
            )]
        return replace(s, stopped_since=since), []
