"""HTTP shapes of the GPS ingest (one record per fix, validated one by one)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

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
    reason: str


class IngestResponse(BaseModel):
    received: int
    accepted: int
    duplicates: int
    rejected: list[RejectedRecord]
    alarms: int
