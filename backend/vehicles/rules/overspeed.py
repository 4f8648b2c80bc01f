"""Overspeed: over the stricter of the road-segment and vehicle-class limits, plus tolerance,
for long enough."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType

from backend.ingest.position import Position
from backend.vehicles.rules.context import RuleContext
from backend.vehicles.rules.events import AlarmEvent, make_event

_EPS = 1e-9  # 40 * 1.1 is 44.000000000000004: a fix at exactly the threshold must not count


@dataclass(frozen=True, slots=True)
class OverspeedParams:
    tolerance: float = 0.10            # raise above limit * (1 + tolerance)
    min_duration_s: float = 15.0       # over the threshold for longer than this before raising
    clear_after_s: float = 10.0        # at or under the plain limit for this long to clear
    max_gap_s: float = 60.0            # a longer silence between fixes restarts the count
    class_limits_kmh: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(
            {"bus": 60.0, "coach": 100.0, "truck": 80.0, "taxi": 80.0}
        )
    )
    fallback_limit_kmh: float = 60.0   # unknown vehicle class


@dataclass(frozen=True, slots=True)
class OverspeedState:
    last_time: datetime | None = None
    over_since: datetime | None = None   # first fix of the current streak above threshold
    raised: bool = False
    raised_since: datetime | None = None
    under_since: datetime | None = None  # while raised: first fix of the streak at/under limit
    max_speed_kmh: float = 0.0


@dataclass(frozen=True, slots=True)
class OverspeedRule:
    params: OverspeedParams = OverspeedParams()
    name: str = "overspeed"

    def limit(self, position: Position, context: RuleContext) -> tuple[float, str]:
        """The stricter of the road segment's limit and the vehicle class's: a bus limited to
        60 km/h stays limited to 60 on an 80 km/h road, and to 40 on a 40 km/h street."""
        p = self.params
        by_class = p.class_limits_kmh.get(context.vehicle_class, p.fallback_limit_kmh)
        if context.speed_limit_kmh is not None:
            seg = context.speed_limit_kmh(position)
            if seg is not None and seg < by_class:
                return seg, "segment"
        return by_class, "class"

    def step(
        self, state: OverspeedState | None, position: Position, context: RuleContext
    ) -> tuple[OverspeedState, list[AlarmEvent]]:
        s = state or OverspeedState()
        speed = position.speed_kmh
        if speed is None:  # no speed: neither evidence of speeding nor of slowing down
            return s, []
        p = self.params
        t = position.time
        if s.last_time is not None and (t - s.last_time).total_seconds() > p.max_gap_s:
            # After a silence we cannot claim the speed held: restart both streaks.
            s = OverspeedState(t, None, s.raised, s.raised_since, None, s.max_speed_kmh)
        else:  # (constructors, not dataclasses.replace: this runs for every fix)
            s = OverspeedState(t, s.over_since, s.raised, s.raised_since, s.under_since,
                               s.max_speed_kmh)
        limit, source = self.limit(position, context)
        threshold = limit * (1.0 + p.tolerance)
        over = speed > threshold + _EPS
        if not s.raised:
            if not over:
                if s.over_since is None:
                    return s, []
                return OverspeedState(t, None, False, s.raised_since, s.under_since,
                                      s.max_speed_kmh), []
            since = s.over_since or t
            peak = max(speed, s.max_speed_kmh) if s.over_since else speed
            s = replace(s, over_since=since, max_speed_kmh=peak)
            # "Longer than" the minimum; a zero minimum means the first fix over raises.
            if p.min_duration_s <= 0 or (t - since).total_seconds() > p.min_duration_s + _EPS:
                s = replace(s, raised=True, raised_since=since, under_since=None)
                return s, [make_event(
                    "overspeed", "raised", position, "warning", since,
                    speed_kmh=speed, limit_kmh=limit, threshold_kmh=threshold,
                    limit_source=source,
                )]
            return s, []
        # Raised: the band between limit and threshold neither clears nor re-arms (hysteresis).
        s = replace(s, max_speed_kmh=max(speed, s.max_speed_kmh))
        if speed > limit + _EPS:
            return replace(s, under_since=None), []
        under = s.under_since or t
        if (t - under).total_seconds() + _EPS >= p.clear_after_s:
            started = s.raised_since or t
            return OverspeedState(last_time=t), [make_event(
                "overspeed", "cleared", position, "warning", started,
                max_speed_kmh=s.max_speed_kmh, limit_kmh=limit, limit_source=source,
            )]
        return replace(s, under_since=under), []
