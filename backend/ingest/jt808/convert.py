"""JT/T 808 location -> the internal ``Position`` record."""

from __future__ import annotations

from datetime import datetime

from backend.ingest.position import Position

from .messages import Location


def to_position(vehicle_id: str, loc: Location, received_at: datetime | None = None
                ) -> Position:
    """``vehicle_id`` is the fleet register's id of the vehicle whose terminal authenticated on
    the connection (never taken from a frame's header, which any client can write)."""
    extras: dict[str, float | int] = {}
    for key, value in (
        ("odometer_km", loc.odometer_km),
        ("fuel_l", loc.fuel_l),
        ("tacho_speed_kmh", loc.tacho_speed_kmh),
        ("signal", loc.signal),
        ("satellites", loc.satellites),
    ):
        if value is not None:
            extras[key] = value
    return Position(
        vehicle_id=vehicle_id,
        time=loc.time,
        lon=loc.lon,
        lat=loc.lat,
        speed_kmh=loc.speed_kmh,
        heading_deg=float(loc.direction),
        altitude_m=float(loc.altitude_m),
        alarm_flags=loc.alarm,
        status_flags=loc.status,
        source="jt808",
        received_at=received_at,
        extras=extras,
    )
