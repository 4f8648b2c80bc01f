"""JT/T 808 location -> the internal ``Position`` record."""

from __future__ import annotations

from datetime import datetime

from backend.vehicles.position import Position

from .messages import Location


def to_position(phone: str, loc: Location, received_at: datetime | None = None) -> Position:
    """``vehicle_id`` is the terminal's BCD phone exactly as its header carries it: 12 digits
    for 2013 terminals, 20 for 2019, leading zeros kept. It is what the fleet registry keys on,
    and a terminal does not change header version in the field, so no normalisation is done."""
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
        vehicle_id=phone,
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
