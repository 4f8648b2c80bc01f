"""The traffic service: probe speeds in, levels, the index and alerts out.

It holds the probe engine (backend.traffic.probes, helper `matching`) and is itself a
position consumer (backend.ingest.pipeline.PositionConsumer): every batch goes to the engine,
and fixes carrying a JT/T 808 collision or rollover alarm become accident reports. Two cadences
drive it (backend.traffic.cadence): `publish_live` every traffic_publish_s (levels of the
trailing five minutes and the index, pushed on `traffic.segments`; accident reports and cases
turned into alerts) and `close_bucket` at each five-minute boundary (the bucket stored with
its levels and index, the alert rules run against the slot's typical speed, then the bucket
learned into the typical speeds). Blocking work only: call it off the event loop.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from backend.catalog.traffic_levels import TrafficLevels
from backend.incidents.service import open_cases_of
from backend.ingest.jt808.alarm_bits import CODE_TO_BIT
from backend.ingest.position import Position
from backend.realtime.messages import TRAFFIC, TRAFFIC_ALERTS
from backend.traffic import alerts as alert_store
from backend.traffic import segments as segment_store
from backend.traffic import store
from backend.traffic.levels import BUCKET, UNKNOWN, Grader, TpiInput, tpi
from backend.traffic.rules import (
    AccidentReport,
    AccidentRule,
    AccidentState,
    Hysteresis,
    Observation,
    SegmentState,
    TrafficEvent,
    default_rules,
    run_segment_rules,
)
from backend.traffic.segments import SegmentInfo
from backend.traffic.speeds import SegmentSpeed
from backend.traffic.typical import slot_of

log = logging.getLogger("cityops.traffic")
Publish = Callable[[str, dict[str, Any]], object]


class Probes(Protocol):
    """What the service needs of backend.traffic.probes.ProbeEngine (common.md contract)."""

    def consume(self, positions: Sequence[Position]) -> None: ...

    def window(self, end: datetime, span: timedelta = ..., *,
               min_vehicles: int = ...) -> list[SegmentSpeed]: ...

    def segment_of(self, vehicle_id: str) -> int | None: ...


@dataclass(frozen=True, slots=True)
class SegmentLevel:
    segment: int
    speed_kmh: float
    vehicles: int
    traversals: int
    level: int


@dataclass(frozen=True, slots=True)
class AreaIndex:
    code: str             # "seat" or a township code
    name: str
    tpi: float | None
    level: int
    length_m: float       # length with a known level


@dataclass(frozen=True)
class Snapshot:
    """Levels of one window (only segments with a published speed) and the index."""

    time: datetime
    levels: Mapping[int, SegmentLevel] = field(default_factory=dict)
    seat: AreaIndex = AreaIndex("seat", "县城", None, UNKNOWN, 0.0)
    townships: tuple[AreaIndex, ...] = ()


class TrafficService:
    name = "traffic"  # as a position consumer

    def __init__(self, engine: sa.Engine, levels: TrafficLevels, *, tz: ZoneInfo,
                 publish: Publish | None = None, probes: Probes | None = None,
                 retention_days: int = 90) -> None:
        self.engine = engine
        self.levels = levels
        self.grader = Grader(levels)
        self.tz = tz
        self.publish = publish
        self.probes = probes
        self.retention_days = retention_days
        self.rules = default_rules(levels.alerts)
        self.accident_rule = AccidentRule(levels.alerts.accident)
        self._alarm_mask = sum(1 << CODE_TO_BIT[c] for c in levels.alerts.accident.alarm_bits)
        self.segments: dict[int, SegmentInfo] = {}
        self.townships: dict[str, tuple[str, str]] = {}  # code -> (name, kind)
        self.free_flow: dict[int, float] = {}
        self.current = Snapshot(datetime.now(UTC))
        self.counters: Counter[str] = Counter()
        self._rule_state: dict[int, SegmentState] = {}
        self._accidents = AccidentState()
        self._case_segments: dict[int, int | None] = {}
        self._pending: list[tuple[str, datetime, float, float, int | None, int]] = []
        self._lock = threading.Lock()       # pending alarm reports (consumer thread)
        self._rules_lock = threading.Lock()  # rule state (cadence thread, tests)
        self._last_retention: date | None = None

    # Start and segments ---------------------------------------------------------------------

    def start(self) -> segment_store.RefreshReport:
        """Refresh the segments, load what is kept in memory, rebuild the rules' state from
        the open alerts (a restart neither forgets nor repeats an alert)."""
        report = self.refresh_segments()
        with self.engine.connect() as conn:
            self.free_flow = store.free_flow(conn)
            open_alerts = alert_store.open_rule_alerts(conn)
        self._restore(open_alerts)
        return report

    def refresh_segments(self) -> segment_store.RefreshReport:
        with self.engine.begin() as conn:
            report = segment_store.refresh(conn, list(self.levels.road_classes))
        with self.engine.connect() as conn:
            self.segments = segment_store.load(conn)
            self.townships = {c: (n, k) for c, n, k in conn.execute(sa.text(
                "SELECT code, name, kind FROM townships ORDER BY code"))}
        if report.unknown_classes:
            log.warning("road classes %s are not in the levels file: graded as branch roads",
                        ", ".join(report.unknown_classes))
        return report

    def _restore(self, open_alerts: Sequence[alert_store.StoredAlert]) -> None:
        with self._rules_lock:
            for a in open_alerts:
                if a.kind in ("congestion", "slow"):
                    st = self._rule_state.get(a.segment) or SegmentState(a.segment)
                    rules = dict(st.rules)
                    rules[a.kind] = Hysteresis(a.started_at, None, True, a.level)
                    self._rule_state[a.segment] = SegmentState(a.segment, st.last_end,
                                                               MappingProxyType(rules))
                elif a.kind == "accident":
                    self._restore_accident(a)

    def _restore_accident(self, a: alert_store.StoredAlert) -> None:
        """An open accident alert and the sources joined to it (its case, its vehicle)."""
        sources = {a.source_key: AccidentReport(a.source_key, a.segment, a.updated_at, a.lon,
                                                a.lat, a.case_id, a.vehicle_id)}
        joined = {}
        for key, case_id, vehicle_id in ((f"case:{a.case_id}", a.case_id, None),
                                         (f"vehicle:{a.vehicle_id}", None, a.vehicle_id)):
            if key not in sources and (case_id or vehicle_id) is not None:
                sources[key] = AccidentReport(key, a.segment, a.updated_at, a.lon, a.lat,
                                              case_id, vehicle_id)
                joined[key] = a.source_key
        st = self._accidents
        self._accidents = AccidentState(
            MappingProxyType({**st.open, **sources}),
            MappingProxyType({**st.first_seen, a.source_key: a.started_at}),
            MappingProxyType({**st.joined, **joined}))

    # Position consumer ----------------------------------------------------------------------

    def consume(self, positions: Sequence[Position]) -> None:
        """A batch of validated fixes sorted by time (the pipeline's consumer thread)."""
        if self.probes is not None:
            self.probes.consume(positions)
        flagged = [p for p in positions if p.alarm_flags & self._alarm_mask]
        if not flagged:
            return
        with self._lock:
            for p in flagged:
                seg = self.probes.segment_of(p.vehicle_id) if self.probes is not None else None
                self._pending.append((p.vehicle_id, p.time, p.lon, p.lat, seg,
                                      p.alarm_flags & self._alarm_mask))
            del self._pending[:-10_000]  # bounded: a terminal stuck on its alarm bit

    # Levels and the index ---------------------------------------------------------------------

    def snapshot(self, end: datetime, speeds: Sequence[SegmentSpeed]) -> Snapshot:
        """Levels of `speeds` and the index of the seat and of each township with roads."""
        levels: dict[int, SegmentLevel] = {}
        for s in speeds:
            info = self.segments.get(s.segment)
            if info is None:
                self.counters["unknown_segment"] += 1
                continue
            level = self.grader.level(s.speed_kmh, info.road_class, s.vehicles)
            if level != UNKNOWN:
                levels[s.segment] = SegmentLevel(s.segment, round(s.speed_kmh, 1), s.vehicles,
                                                 s.traversals, level)
        by_area: dict[str, list[TpiInput]] = {}
        for seg, lv in levels.items():
            info = self.segments[seg]
            code = info.township_code
            if code is None:
                continue
            vf = self.free_flow.get(seg) or self.grader.free_flow(info.road_class)
            by_area.setdefault(code, []).append(TpiInput(info.length_m, lv.speed_kmh, vf))
        breaks = self.levels.tpi.ratio_breaks
        seat_kinds = set(self.levels.tpi.seat_township_kinds)
        seat_parts: list[TpiInput] = []
        areas = []
        for code in sorted({s.township_code for s in self.segments.values()
                            if s.township_code is not None}):
            name, kind = self.townships.get(code, (code, ""))
            parts = by_area.get(code, [])
            if kind in seat_kinds:
                seat_parts.extend(parts)
            value, level, length = tpi(parts, breaks)
            areas.append(AreaIndex(code, name, value, level, length))
        seat_value, seat_level, seat_length = tpi(seat_parts, breaks)
        return Snapshot(end, MappingProxyType(levels),
                        AreaIndex("seat", "县城", seat_value, seat_level, seat_length),
                        tuple(areas))

    def publish_live(self, now: datetime, speeds: Sequence[SegmentSpeed] | None = None
                     ) -> Snapshot:
        """Levels of the trailing five minutes (from the engine unless `speeds` is given),
        pushed on `traffic.segments`; then accident reports and cases become alerts."""
        if speeds is None:
            speeds = self._window(now)
        before = self.current
        snap = self.snapshot(now, speeds)
        self.current = snap
        self._push_levels(snap, before)
        self.check_accidents(now)
        return snap

    def _window(self, end: datetime) -> list[SegmentSpeed]:
        if self.probes is None:
            return []
        return self.probes.window(end, BUCKET, min_vehicles=self.levels.min_vehicles)

    def _push_levels(self, snap: Snapshot, before: Snapshot) -> None:
        if self.publish is None:
            return
        items = [{"segment": lv.segment, "level": lv.level, "speed_kmh": lv.speed_kmh,
                  "vehicles": lv.vehicles} for lv in snap.levels.values()]
        # Segments that had a level and have none now are told so (level 0), once.
        items += [{"segment": seg, "level": UNKNOWN, "speed_kmh": None, "vehicles": 0}
                  for seg in before.levels if seg not in snap.levels]
        boxes = [self.segments[i["segment"]].bbox for i in items if i["segment"] in self.segments]
        data: dict[str, Any] = {
            "time": snap.time.isoformat(), "segments": items,
            "tpi": {"seat": snap.seat.tpi, "seat_level": snap.seat.level,
                    "townships": {a.code: a.tpi for a in snap.townships}}}
        if boxes:
            data["bbox"] = [min(b[0] for b in boxes), min(b[1] for b in boxes),
                            max(b[2] for b in boxes), max(b[3] for b in boxes)]
        self._send(TRAFFIC, data)

    def _send(self, channel: str, data: dict[str, Any]) -> None:
        try:
            self.publish(channel, data)  # type: ignore[misc]
        except RuntimeError:  # the hub is shutting down: the state is stored, not pushed
            log.debug("hub closed: %s event not pushed", channel)

    def congestion_level(self, vehicle_id: str) -> int:
        """The level (0..5) of the segment a vehicle is on now (GTFS-RT congestion_level)."""
        seg = self.probes.segment_of(vehicle_id) if self.probes is not None else None
        found = None if seg is None else self.current.levels.get(seg)
        return UNKNOWN if found is None else found.level

    # Closing a bucket -------------------------------------------------------------------------

    def close_bucket(self, start: datetime, speeds: Sequence[SegmentSpeed] | None = None
                     ) -> list[alert_store.StoredAlert]:
        """Store the bucket [start, start + 5 min) (from the engine unless `speeds` is given),
        its index, run the alert rules and learn the bucket into the typical speeds. Returns
        the alerts that changed (also pushed on `traffic.alerts`)."""
        end = start + BUCKET
        if speeds is None:
            speeds = self._window(end)
        snap = self.snapshot(end, speeds)
        rows = [store.BucketRow(lv.segment, lv.speed_kmh, lv.vehicles, lv.traversals, lv.level)
                for lv in snap.levels.values()]
        slot = slot_of(start, self.tz)
        with self.engine.begin() as conn:
            typical = store.typical_for(conn, slot, list(snap.levels))
            events = self._run_rules(start, end, snap, typical)
            store.store_bucket(conn, start, rows)
            store.store_tpi(conn, start, [(a.code, a.tpi, a.level, a.length_m)
                                          for a in (snap.seat, *snap.townships)])
            changed = alert_store.record_events(conn, events, self.segments)
            store.learn_typical(conn, slot, rows)
            learned = store.typical_for(conn, slot, list(snap.levels))
            self._retention(conn, start)
        if start.minute == 0:  # hourly: typical speeds seeded meanwhile (a scenario)
            with self.engine.connect() as conn:
                self.free_flow = store.free_flow(conn)
        for seg, (speed, _n) in learned.items():
            if speed > self.free_flow.get(seg, 0.0):
                self.free_flow[seg] = speed
        self.counters["buckets"] += 1
        return self._push_alerts(changed)

    def _run_rules(self, start: datetime, end: datetime, snap: Snapshot,
                   typical: Mapping[int, tuple[float, int]]) -> list[TrafficEvent]:
        events: list[TrafficEvent] = []
        with self._rules_lock:
            for seg, lv in sorted(snap.levels.items()):
                usual, samples = typical.get(seg, (None, 0))
                obs = Observation(seg, start, end, lv.level, lv.speed_kmh, lv.vehicles,
                                  None if usual is None else round(usual, 1), samples)
                self._rule_state[seg], produced = run_segment_rules(
                    self._rule_state.get(seg), obs, self.rules)
                events.extend(produced)
        return events

    def _retention(self, conn: sa.Connection, start: datetime) -> None:
        today = start.astimezone(self.tz).date()
        if self._last_retention == today:
            return
        self._last_retention = today
        dropped = store.drop_before(conn, today - timedelta(days=self.retention_days))
        if dropped:
            log.info("traffic retention: %d day partition(s) dropped", dropped)

    # Accidents --------------------------------------------------------------------------------

    def check_accidents(self, now: datetime) -> list[alert_store.StoredAlert]:
        """Accident reports since the last check (terminal alarms, open accident cases) run
        through the accident rule; changed alerts are stored and pushed."""
        with self._lock:
            pending, self._pending = self._pending, []
        params = self.levels.alerts.accident
        reports: list[AccidentReport] = []
        with self.engine.connect() as conn:
            cases = open_cases_of(conn, params.case_categories)
            for c in cases:
                if c.id not in self._case_segments:
                    self._case_segments[c.id] = segment_store.nearest(
                        conn, c.lon, c.lat, params.match_radius_m)
                seg = self._case_segments[c.id]
                if seg is None:
                    self.counters["accident_case_off_road"] += 1
                    continue
                reports.append(AccidentReport(f"case:{c.id}", seg, c.reported_at, c.lon, c.lat,
                                              case_id=c.id, details=MappingProxyType(
                                                  {"category": c.category_code})))
            for vid, t, lon, lat, seg, bits in pending:
                if seg is None:  # no engine, or not matched: the nearest segment will do
                    seg = segment_store.nearest(conn, lon, lat, params.match_radius_m)
                if seg is None:
                    self.counters["accident_alarm_off_road"] += 1
                    continue
                codes = [c for c in params.alarm_bits if bits >> CODE_TO_BIT[c] & 1]
                reports.append(AccidentReport(f"vehicle:{vid}", seg, t, lon, lat,
                                              vehicle_id=vid, details=MappingProxyType(
                                                  {"alarms": codes})))
        open_ids = frozenset(c.id for c in cases)
        with self._rules_lock:
            self._accidents, events = self.accident_rule.step(self._accidents, reports,
                                                              open_ids, now)
        self._case_segments = {k: v for k, v in self._case_segments.items() if k in open_ids}
        if not events:
            return []
        with self.engine.begin() as conn:
            changed = alert_store.record_events(conn, events, self.segments)
        return self._push_alerts(changed)

    def announce(self, action: str, alert: alert_store.StoredAlert) -> None:
        """An officer's change, pushed on `traffic.alerts` like the rules' own."""
        if self.publish is not None:
            self._send(TRAFFIC_ALERTS, alert_event(action, alert))

    def _push_alerts(self, changed: Sequence[tuple[TrafficEvent, alert_store.StoredAlert | None]]
                     ) -> list[alert_store.StoredAlert]:
        out = []
        for event, alert in changed:
            if alert is None:
                continue
            out.append(alert)
            self.counters[f"alert_{event.kind}_{event.action}"] += 1
            if self.publish is not None:
                self._send(TRAFFIC_ALERTS, alert_event(event.action, alert))
        return out

def seed_typical(conn: sa.Connection, rows: Iterable[Sequence[float]]) -> int:
    """Typical speeds from a scenario: (segment, slot 0..2015 from local Monday 00:00, km/h
    [, samples]) rows, in the caller's transaction. A running service reads them into its
    free-flow speeds within the hour (at start, and at each full hour's bucket)."""
    return store.seed_typical(conn, rows)


def alert_event(action: str, alert: alert_store.StoredAlert) -> dict[str, Any]:
    """The `traffic.alerts` event: the alert, what happened to it, and where (lon/lat)."""
    return {"action": action, **alert.as_dict()}
