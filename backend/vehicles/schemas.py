"""Shapes of the GPS ingest records (one record per fix, validated one by one), shared by the
HTTP batch endpoint and the MQTT feed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from backend.vehicles.position import Position, PositionSource

MAX_BATCH = 10_000


class PositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vehicle_id: str = Field(min_length=1, max_length=64)
    time: AwareDatetime  # ISO 8601 with an offset, e.g. 2026-11-24T08:00:00+08:00
    lon: float
    lat: float
    speed_kmh: float | None = None
    heading_deg: float | None = None
    altitude_m: float | None = None
    alarm_flags: int = Field(default=0, ge=0, le=0xFFFFFFFF)
    status_flags: int = Field(default=0, ge=0, le=0xFFFFFFFF)


class RejectedRecord(BaseModel):
    index: int
    reason: str  # "<field>: <message>", or "record: ..." (not an object, an unknown field)

    @property
    def code(self) -> str:
        """The counter's key: `invalid:<field>` (a bounded set: the fields and `record`)."""
        return "invalid:" + self.reason.split(":", 1)[0]


class IngestResponse(BaseModel):
    received: int
    accepted: int
    duplicates: int
    rejected: list[RejectedRecord]
    alarms: int


def parse_records(
    records: Sequence[Any], source: PositionSource
) -> tuple[list[Position], list[int], list[RejectedRecord]]:
    """JSON position records -> (positions, their indexes in `records`, rejected records).

    Each record is checked on its own; a rejected one's reason is `"<field>: <message>"`
    (`"record: ..."` when it is not an object at all). Range checks (coordinates, speed, time)
    are the pipeline's, so they apply to every feed alike."""
    positions: list[Position] = []
    indexes: list[int] = []
    rejected: list[RejectedRecord] = []
    for index, record in enumerate(records):
        try:
            p = PositionIn.model_validate(record)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "record"
            rejected.append(RejectedRecord(index=index, reason=f"{where}: {first['msg']}"))
            continue
        positions.append(Position(
            vehicle_id=p.vehicle_id, time=p.time.astimezone(UTC), lon=p.lon, lat=p.lat,
            speed_kmh=p.speed_kmh, heading_deg=p.heading_deg, altitude_m=p.altitude_m,
            alarm_flags=p.alarm_flags, status_flags=p.status_flags, source=source,
        ))
        indexes.append(index)
    return positions, indexes, rejected
