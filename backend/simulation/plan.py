"""The pure half of a scenario run: every simulated bus's fixes, computed up front.

Buses shuttle along their line (out and back), positions computed in a metric CRS
(EPSG:4548, CGCS2000 / 3-degree Gauss-Kruger CM 117E, which covers Sixian county). No I/O,
no clock: the same scenario, lines and start give the same fixes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import shapely
from pyproj import Geod, Transformer
from shapely import LineString

from backend.catalog.scenarios import Bunch, OffRoute, Overspeed, Scenario, Sos, Stop
from backend.ingest.jt808.alarm_bits import encode_alarms

METRIC_CRS = "EPSG:4548"
_TO_METRIC = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
_TO_WGS84 = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)
_GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True, slots=True)
class Fix:
    time: datetime
    lon: float
    lat: float
    speed_kmh: float
    heading_deg: int
    alarm: int = 0


@dataclass(frozen=True, slots=True)
class Bus:
    ref: str       # "<line>#<n>"
    line: str
    index: int
    phone: str     # 12 digits, deterministic

    @property
    def plate(self) -> str:
        return f"皖L{self.phone[-5:]}"  # 皖L: 宿州, the prefecture Sixian belongs to

    @property
    def terminal_id(self) -> str:
        return f"S{self.phone[-6:]}"  # the 7 characters of a 2013 terminal id


def phone_for(line: str, index: int, ordinal: int) -> str:
    """'0139' + the line's number (its digits, else its place in the fleet) + the bus index."""
    digits = re.sub(r"\D", "", line)
    number = int(digits) if digits else ordinal
    return f"0139{number % 10000:04d}{index % 10000:04d}"


def to_metric(line_wgs84: LineString) -> LineString:
    return shapely.transform(line_wgs84, lambda xy: np.column_stack(
        _TO_METRIC.transform(xy[:, 0], xy[:, 1])))


def buses_of(scenario: Scenario) -> list[Bus]:
    out = []
    for ordinal, (line, spec) in enumerate(scenario.fleet.items(), 1):
        for n in range(1, spec.buses + 1):
            out.append(Bus(f"{line}#{n}", line, n, phone_for(line, n, ordinal)))
    return out


def _place(line: LineString, s: float, lateral_m: float = 0.0) -> tuple[float, float, int]:
    """(lon, lat, heading) at loop distance s: out along the line for s < L, back after."""
    length = line.length
    s %= 2 * length
    forward = s < length
    d = s if forward else 2 * length - s
    a = line.interpolate(max(d - 5.0, 0.0))
    b = line.interpolate(min(d + 5.0, length))
    if not forward:
        a, b = b, a
    here = line.interpolate(d)
    x, y = here.x, here.y
    if lateral_m:
        dx, dy = b.x - a.x, b.y - a.y
        norm = (dx * dx + dy * dy) ** 0.5 or 1.0
        x, y = x + dy / norm * lateral_m, y - dx / norm * lateral_m  # to the right
    lon, lat = _TO_WGS84.transform(x, y)
    lon_a, lat_a = _TO_WGS84.transform(a.x, a.y)
    lon_b, lat_b = _TO_WGS84.transform(b.x, b.y)
    azimuth = _GEOD.inv(lon_a, lat_a, lon_b, lat_b)[0]
    return round(lon, 6), round(lat, 6), round(azimuth % 360) % 360


def _active(ev: Overspeed | Sos | Stop | Bunch, t: float) -> bool:
    return ev.at_s <= t < ev.at_s + ev.duration_s


def plan(
    scenario: Scenario, lines: dict[str, LineString], start: datetime
) -> dict[str, list[Fix]]:
    """phone -> its fixes in time order. `lines` are the fleet's lines in METRIC_CRS."""
    buses = buses_of(scenario)
    steps = int(scenario.duration_s // scenario.tick_s) + 1
    dist = {b.ref: scenario.fleet[b.line].offset_m
            + (b.index - 1) * scenario.fleet[b.line].spacing_m for b in buses}
    off_left: dict[str, tuple[int, float]] = {}
    out: dict[str, list[Fix]] = {b.phone: [] for b in buses}
    for k in range(steps):
        t = k * scenario.tick_s
        when = start + timedelta(seconds=t)
        at_step = dict(dist)  # a bunching bus follows where its leader is at this step
        for ev in scenario.events:  # off_route counts fixes, not seconds
            if isinstance(ev, OffRoute) and ev.at_s <= t < ev.at_s + scenario.tick_s:
                off_left[ev.vehicle] = (ev.fixes, ev.distance_m)
        for bus in buses:
            speed = scenario.fleet[bus.line].speed_kmh
            alarms: list[str] = []
            for ev in scenario.events:
                if ev.vehicle != bus.ref or isinstance(ev, OffRoute) or not _active(ev, t):
                    continue
                if isinstance(ev, Overspeed):
                    speed = ev.speed_kmh
                elif isinstance(ev, Stop):
                    speed = 0.0
                elif isinstance(ev, Sos):
                    alarms.append("sos")
                elif isinstance(ev, Bunch):
                    dist[bus.ref] = at_step[ev.leader_ref] - ev.gap_m
            lateral = 0.0
            if off_left.get(bus.ref, (0, 0.0))[0] > 0:
                left, lateral = off_left[bus.ref]
                off_left[bus.ref] = (left - 1, lateral)
            lon, lat, heading = _place(lines[bus.line], dist[bus.ref], lateral)
            out[bus.phone].append(Fix(when, lon, lat, speed, heading, encode_alarms(alarms)))
            dist[bus.ref] += speed / 3.6 * scenario.tick_s
    return out
