"""Fixes and a line near the Sixian county seat (117.88E 33.48N), built in metres and mapped
back to degrees so distances in the tests are exact rather than approximate."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pyproj import Transformer

from backend.ingest.position import Position
from backend.vehicles.rules import AlarmEvent, LineGeometry, RuleContext, project

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # 08:00 China time, morning peak
_TO_LONLAT = Transformer.from_crs("EPSG:4548", "EPSG:4326", always_xy=True)

# An L-shaped line: 1.4 km east along 33.48N, then north. Stops at both ends and at the corner.
LINE_LONLAT = [(117.870, 33.480), (117.885, 33.480), (117.885, 33.490)]
LINE = LineGeometry.from_lonlat("L1", LINE_LONLAT, LINE_LONLAT)
_A = project(*LINE_LONLAT[0])
_B = project(*LINE_LONLAT[1])
_LEN = math.dist(_A, _B)


def along(s_m: float, d_m: float = 0.0) -> tuple[float, float]:
    """The point s_m metres along the first leg, d_m metres to its left (north), in degrees."""
    ux, uy = (_B[0] - _A[0]) / _LEN, (_B[1] - _A[1]) / _LEN
    x, y = _A[0] + ux * s_m - uy * d_m, _A[1] + uy * s_m + ux * d_m
    lon, lat = _TO_LONLAT.transform(x, y)
    return float(lon), float(lat)


def fix(
    t_s: float,
    where: tuple[float, float] | None = None,
    speed: float | None = 30.0,
    flags: int = 0,
    vid: str = "bus-1",
) -> Position:
    lon, lat = where if where is not None else along(200.0)
    return Position(vid, T0 + timedelta(seconds=t_s), lon, lat, speed_kmh=speed, alarm_flags=flags)


def at(event: AlarmEvent) -> float:
    return (event.time - T0).total_seconds()


def drive(rule: Any, fixes: Iterable[Position], ctx: RuleContext) -> list[tuple[float, str, str]]:
    """Step one rule over the fixes; (seconds since T0, kind, action) of every event."""
    state = None
    out: list[tuple[float, str, str]] = []
    for p in fixes:
        state, events = rule.step(state, p, ctx)
        out.extend((at(e), e.kind, e.action) for e in events)
    return out
