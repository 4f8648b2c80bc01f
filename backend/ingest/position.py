"""The one internal position record every GPS feed (HTTP, MQTT, JT/T 808, scenarios) becomes.

All sources are converted to this shape at their edge and then go through one pipeline
(validation, storage, alarm rules, the hub), so no later stage knows where a fix came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

PositionSource = Literal["http", "mqtt", "jt808", "scenario"]


@dataclass(frozen=True, slots=True)
class Position:
    vehicle_id: str              # stable id: a JT/T 808 terminal's phone number, or the feed's id
    time: datetime               # when the fix was taken, timezone-aware UTC
    lon: float                   # WGS-84 degrees (terminals report WGS-84/CGCS2000, not GCJ-02)
    lat: float
    speed_kmh: float | None = None
    heading_deg: float | None = None  # 0 = north, clockwise
    altitude_m: float | None = None
    alarm_flags: int = 0         # JT/T 808 alarm DWORD; 0 when the source has none
    status_flags: int = 0        # JT/T 808 status DWORD (bit 0 ACC on, bit 1 positioned, ...)
    source: PositionSource = "http"
    received_at: datetime | None = None
    extras: Mapping[str, float | int] = field(default_factory=dict)  # odometer_km, satellites...
