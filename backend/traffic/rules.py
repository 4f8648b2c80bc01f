"""Traffic alert rules: pure, ordered processors (no DB, no asyncio, no clock but the
observation's), the shape of the vehicle alarm rules (backend/vehicles/rules/).

Segment rules see one closed five-minute bucket of one segment at a time and keep a small
state per segment: congestion (level >= 中度拥堵 for N minutes) and abnormally slow (below a
fraction of the typical speed for this time-of-week slot). Both have hysteresis: the condition
must hold for `raise_after_min` to raise and be absent for `clear_after_min` to clear. A bucket
without a published speed (too few vehicles) is no evidence either way: it neither starts,
breaks nor clears anything.

The accident rule sees reports (a traffic-accident case on a segment, a JT/T 808 collision or
rollover alarm from a vehicle matched onto a segment) keyed by their source; reports of one
place make one alert, which clears once its cases are closed and its terminals quiet.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal, Protocol

from backend.catalog.traffic_levels import (
    AccidentParams,
    AlertParams,
    CongestionParams,
    SlowParams,
)
from backend.traffic.levels import UNKNOWN

AlertKind = Literal["congestion", "slow", "accident"]
AlertAction = Literal["raised", "updated", "cleared"]


@dataclass(frozen=True, slots=True)
class Observation:
    """One closed bucket of one segment, with the typical speed of its slot (before this
    bucket was learned into it)."""

    segment: int
    start: datetime
    end: datetime
    level: int                      # 0: unknown (fewer than min_vehicles)
    speed_kmh: float | None
    vehicles: int
    typical_kmh: float | None = None
    typical_samples: int = 0


@dataclass(frozen=True, slots=True)
class TrafficEvent:
    kind: AlertKind
    action: AlertAction
    segment: int
    time: datetime                  # the observation (bucket end, report time) behind it
    started_at: datetime            # when the condition began
    level: int = UNKNOWN
    speed_kmh: float | None = None
    typical_kmh: float | None = None
    source_key: str = ""            # "" for segment rules; "case:12", "vehicle:abc" for accidents
    case_id: int | None = None
    vehicle_id: str | None = None
    lon: float | None = None        # where a report placed it (else the segment's midpoint)
    lat: float | None = None
    details: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))


# Hysteresis -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Hysteresis:
    on_since: datetime | None = None    # condition held continuously since (known buckets)
    off_since: datetime | None = None   # condition absent since, while raised
    raised: bool = False
    reported_level: int = UNKNOWN       # the level last told (an update when it changes)


def hysteresis(s: Hysteresis, condition: bool | None, start: datetime, end: datetime,
               raise_after: timedelta, clear_after: timedelta
               ) -> tuple[Hysteresis, Literal["raised", "cleared"] | None]:
    """One bucket [start, end): condition True/False, or None (no evidence)."""
    if condition is None:
        return s, None
    if condition:
        on = s.on_since or start
        if not s.raised and end - on >= raise_after:
            return Hysteresis(on, None, True, s.reported_level), "raised"
        return replace(s, on_since=on, off_since=None), None
    if not s.raised:
        return Hysteresis(), None
    off = s.off_since or start
    if end - off >= clear_after:
        return Hysteresis(), "cleared"
    return replace(s, off_since=off), None


def _minutes(m: float) -> timedelta:
    return timedelta(minutes=m)


class SegmentRule(Protocol):
    @property
    def name(self) -> str: ...

    def step(self, state: Any, obs: Observation) -> tuple[Any, list[TrafficEvent]]: ...


@dataclass(frozen=True, slots=True)
class CongestionRule:
    params: CongestionParams = CongestionParams()
    name: str = "congestion"

    def step(self, state: Hysteresis | None, obs: Observation
             ) -> tuple[Hysteresis, list[TrafficEvent]]:
        s = state or Hysteresis()
        p = self.params
        condition = None if obs.level == UNKNOWN else obs.level >= p.min_level
        new, change = hysteresis(s, condition, obs.start, obs.end,
                                 _minutes(p.raise_after_min), _minutes(p.clear_after_min))
        if change == "raised":
            new = replace(new, reported_level=obs.level)
            return new, [self._event("raised", obs, new.on_since or obs.start)]
        if change == "cleared":
            return new, [self._event("cleared", obs, s.on_since or obs.start)]
        if new.raised and condition and obs.level != s.reported_level:
            # Worse or better while still congested: the alert's level follows (CAP Update).
            return replace(new, reported_level=obs.level), [
                self._event("updated", obs, new.on_since or obs.start)]
        return new, []

    def _event(self, action: AlertAction, obs: Observation, since: datetime) -> TrafficEvent:
        return TrafficEvent("congestion", action, obs.segment, obs.end, since, obs.level,
                            obs.speed_kmh, obs.typical_kmh,
                            details=MappingProxyType({"vehicles": obs.vehicles}))


@dataclass(frozen=True, slots=True)
class SlowRule:
    params: SlowParams = SlowParams()
    name: str = "slow"

    def condition(self, obs: Observation) -> bool | None:
        if (obs.level == UNKNOWN or obs.speed_kmh is None or obs.typical_kmh is None
                or obs.typical_samples < self.params.min_samples):
            return None
        return obs.speed_kmh < self.params.fraction * obs.typical_kmh

    def step(self, state: Hysteresis | None, obs: Observation
             ) -> tuple[Hysteresis, list[TrafficEvent]]:
        s = state or Hysteresis()
        p = self.params
        new, change = hysteresis(s, self.condition(obs), obs.start, obs.end,
                                 _minutes(p.raise_after_min), _minutes(p.clear_after_min))
        if change is None:
            return new, []
        since = (new.on_since if change == "raised" else s.on_since) or obs.start
        ratio = (None if obs.speed_kmh is None or not obs.typical_kmh
                 else round(obs.speed_kmh / obs.typical_kmh, 2))
        return new, [TrafficEvent("slow", change, obs.segment, obs.end, since, obs.level,
                                  obs.speed_kmh, obs.typical_kmh, details=MappingProxyType(
                                      {"ratio": ratio, "fraction": p.fraction,
                                       "vehicles": obs.vehicles}))]


def default_rules(params: AlertParams) -> tuple[SegmentRule, ...]:
    """The one place the order lives; events of one bucket come out in this order."""
    return (CongestionRule(params.congestion), SlowRule(params.slow))


@dataclass(frozen=True, slots=True)
class SegmentState:
    segment: int
    last_end: datetime | None = None    # newest bucket processed; older ones are ignored
    rules: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


def run_segment_rules(state: SegmentState | None, obs: Observation,
                      rules: Sequence[SegmentRule]) -> tuple[SegmentState, list[TrafficEvent]]:
    """Apply `rules` in order to one bucket of one segment. Pure."""
    if state is None:
        state = SegmentState(obs.segment)
    elif state.segment != obs.segment:
        raise ValueError(f"state of segment {state.segment} given segment {obs.segment}")
    if state.last_end is not None and obs.end <= state.last_end:
        return state, []  # a bucket replayed or out of order: the present is not rewritten
    out: list[TrafficEvent] = []
    new: dict[str, Any] = dict(state.rules)
    for rule in rules:
        new[rule.name], produced = rule.step(state.rules.get(rule.name), obs)
        out.extend(produced)
    return SegmentState(obs.segment, obs.end, MappingProxyType(new)), out


# Accidents --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AccidentReport:
    """Evidence of an accident on a segment: an open case, or one fix carrying the alarm."""

    source_key: str                 # "case:<id>" or "vehicle:<id>"
    segment: int
    time: datetime
    lon: float
    lat: float
    case_id: int | None = None
    vehicle_id: str | None = None
    details: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class AccidentState:
    open: Mapping[str, AccidentReport] = field(default_factory=lambda: MappingProxyType({}))
    first_seen: Mapping[str, datetime] = field(default_factory=lambda: MappingProxyType({}))
    # A source joined to another's alert (the same crash told twice: the taxi's collision bit
    # and the 122 case) -> the source key the alert is stored under.
    joined: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def _same_place(a: AccidentReport, b: AccidentReport, radius_m: float) -> bool:
    """On one road (either direction: a caller cannot say which way), or within the radius."""
    if a.segment >> 1 == b.segment >> 1:
        return True
    dx = (a.lon - b.lon) * 111_320.0 * math.cos(math.radians((a.lat + b.lat) / 2))
    dy = (a.lat - b.lat) * 110_540.0
    return math.hypot(dx, dy) <= radius_m


@dataclass(frozen=True, slots=True)
class AccidentRule:
    params: AccidentParams = AccidentParams()
    name: str = "accident"

    def step(self, state: AccidentState | None, reports: Sequence[AccidentReport],
             open_cases: frozenset[int] | None, now: datetime
             ) -> tuple[AccidentState, list[TrafficEvent]]:
        """`reports` since the last step; `open_cases` the accident cases still open (None:
        not known this time, so no case is cleared); `now` the step's time.

        One alert per crash: a new source at the place of an open alert (same road, or
        within match_radius_m) joins it (an update adding its case or vehicle) instead of
        raising another. The alert clears when none of its sources is left: each case
        closed, each terminal quiet for clear_after_min."""
        s = state or AccidentState()
        current = dict(s.open)
        first = dict(s.first_seen)
        joined = dict(s.joined)
        events: list[TrafficEvent] = []
        for r in sorted(reports, key=lambda r: r.time):
            known = current.get(r.source_key)
            if known is not None and r.time <= known.time:
                continue
            current[r.source_key] = r
            primary = joined.get(r.source_key)
            if known is None:
                primary = self._host(r, current, joined)
                if primary is None:
                    first[r.source_key] = r.time
                    events.append(self._event("raised", r, r.time))
                    continue
                joined[r.source_key] = primary
                events.append(self._join(current[primary], r, first[primary]))
            elif primary is None and known.segment != r.segment:
                events.append(self._event("updated", r, first[r.source_key]))
        quiet = timedelta(minutes=self.params.clear_after_min)

        def alive(r: AccidentReport) -> bool:
            if r.case_id is not None:
                return open_cases is None or r.case_id in open_cases
            return now - r.time < quiet

        for key in [k for k in current if k not in joined]:
            members = [key, *(k for k, p in joined.items() if p == key)]
            if any(alive(current[k]) for k in members):
                continue
            r = current[key]
            events.append(replace(self._event("cleared", r, first.get(key, r.time)), time=now))
            for k in members:
                current.pop(k, None)
                joined.pop(k, None)
            first.pop(key, None)
        return AccidentState(MappingProxyType(current), MappingProxyType(first),
                             MappingProxyType(joined)), events

    def _host(self, r: AccidentReport, current: Mapping[str, AccidentReport],
              joined: Mapping[str, str]) -> str | None:
        """The open alert (its source key) that `r` is more news of, if any."""
        for key, other in current.items():
            if key != r.source_key and key not in joined and \
                    _same_place(other, r, self.params.match_radius_m):
                return key
        return None

    @staticmethod
    def _join(host: AccidentReport, r: AccidentReport, since: datetime) -> TrafficEvent:
        # A terminal's matched segment knows the direction; a case's nearest one does not.
        segment = r.segment if r.vehicle_id is not None and host.vehicle_id is None \
            else host.segment
        return TrafficEvent("accident", "updated", segment, r.time, since, UNKNOWN,
                            source_key=host.source_key, case_id=r.case_id or host.case_id,
                            vehicle_id=host.vehicle_id or r.vehicle_id, lon=host.lon,
                            lat=host.lat, details=MappingProxyType(
                                {"joined": r.source_key, **dict(r.details)}))

    @staticmethod
    def _event(action: AlertAction, r: AccidentReport, since: datetime) -> TrafficEvent:
        return TrafficEvent("accident", action, r.segment, r.time, since, UNKNOWN,
                            source_key=r.source_key, case_id=r.case_id,
                            vehicle_id=r.vehicle_id, lon=r.lon, lat=r.lat,
                            details=r.details)
