"""Off-route: farther than N metres from the assigned line for M consecutive fixes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from backend.ingest.position import Position
from backend.vehicles.rules.context import RuleContext, project
from backend.vehicles.rules.events import AlarmEvent, make_event


@dataclass(frozen=True, slots=True)
class OffRouteParams:
    max_distance_m: float = 50.0   # strictly farther than this counts as off the line
    fixes: int = 3                 # consecutive fixes to raise, and back within to clear


@dataclass(frozen=True, slots=True)
class OffRouteState:
    out_count: int = 0
    in_count: int = 0
    first_out: datetime | None = None
    raised: bool = False
    max_distance_m: float = 0.0


@dataclass(frozen=True, slots=True)
class OffRouteRule:
    params: OffRouteParams = OffRouteParams()
    name: str = "off_route"

    def step(
        self, state: OffRouteState | None, position: Position, context: RuleContext
    ) -> tuple[OffRouteState, list[AlarmEvent]]:
        s = state or OffRouteState()
        line = context.line
        if line is None:
            if s.raised:  # unassigned from its line while off it: nothing left to deviate from
                return OffRouteState(), [make_event(
                    "off_route", "cleared", position, "warning", s.first_out,
                    reason="no_line", max_distance_m=s.max_distance_m,
                )]
            return s, []
        p = self.params
        dist = line.distance_m(project(position.lon, position.lat))
        out = dist > p.max_distance_m
        if not s.raised:
            if not out:
                return OffRouteState(), []
            s = replace(
                s,
                out_count=s.out_count + 1,
                first_out=s.first_out or position.time,
                max_distance_m=max(s.max_distance_m, dist),
            )
            if s.out_count >= p.fixes:
                s = replace(s, raised=True, in_count=0)
                return s, [make_event(
                    "off_route", "raised", position, "warning", s.first_out,
                    distance_m=round(dist, 1), line_id=line.line_id, fixes=s.out_count,
                )]
            return s, []
        if out:
            return replace(s, in_count=0, max_distance_m=max(s.max_distance_m, dist)), []
        s = replace(s, in_count=s.in_count + 1)
        if s.in_count >= p.fixes:
            return OffRouteState(), [make_event(
                "off_route", "cleared", position, "warning", s.first_out,
                line_id=line.line_id, max_distance_m=round(s.max_distance_m, 1),
            )]
        return s, []
