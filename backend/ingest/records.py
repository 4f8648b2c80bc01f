"""Shapes of the GPS ingest records (one record per fix, validated one by one), shared by the
HTTP batch endpoint and the MQTT feed.

Machine input is typed strictly: numbers must be JSON numbers (not strings, not true/false)
and finite; the time must be an ISO 8601 string with an offset; the vehicle id must be a
string of letters, digits and a few separators. Ranges are the pipeline's
(``validate.reject_reason``), the same for every feed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)

from backend.bounds import check_instant
from backend.ingest.position import Position, PositionSource
from backend.ingest.validate import MAX_VEHICLE_ID, VEHICLE_ID_RULE, vehicle_id_ok

MAX_BATCH = 10_000
MAX_TIME_TEXT = 40  # "2026-11-24T08:00:00.123456+08:00" is 32


def _vehicle_id(value: str) -> str:
    if not vehicle_id_ok(value):
        raise ValueError(f"a vehicle id is {VEHICLE_ID_RULE}")
    return value


def _time_text(value: Any) -> Any:
    if not isinstance(value, str) or len(value) > MAX_TIME_TEXT:
        raise ValueError("give the time as an ISO 8601 string with an offset, "
                         "e.g. 2026-11-24T08:00:00+08:00")
    return value


def _utc(value: datetime) -> datetime:
    """In UTC, after the one rule for times at the edge (offset within +-15:59, 1970..2099)."""
    return check_instant(value).astimezone(UTC)


Number = Annotated[StrictFloat, Field(allow_inf_nan=False)]  # a JSON number, finite
Flags = Annotated[StrictInt, Field(ge=0, le=0xFFFFFFFF)]


class PositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vehicle_id: Annotated[StrictStr, Field(min_length=1, max_length=MAX_VEHICLE_ID),
                          AfterValidator(_vehicle_id)]
    # ISO 8601 with an offset, e.g. 2026-11-24T08:00:00+08:00; stored in UTC
    time: Annotated[AwareDatetime, BeforeValidator(_time_text), AfterValidator(_utc)]
    lon: Number
    lat: Number
    speed_kmh: Number | None = None
    heading_deg: Number | None = None
    altitude_m: Number | None = None
    alarm_flags: Flags = 0
    status_flags: Flags = 0


FIELDS = tuple(PositionIn.model_fields)


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


def _reason(exc: ValidationError) -> str:
    first = exc.errors(include_input=False, include_url=False)[0]
    loc = first["loc"]
    if first["type"] == "extra_forbidden":
        name = str(loc[-1])[:40] if loc else "?"
        return f"record: unknown field {name!r}; the fields are {', '.join(FIELDS)}"
    where = str(loc[0]) if loc and loc[0] in FIELDS else "record"
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {message}"


def parse_records(
    records: Sequence[Any], source: PositionSource
) -> tuple[list[Position], list[int], list[RejectedRecord]]:
    """JSON position records -> (positions, their indexes in `records`, rejected records).

    Each record is checked on its own, so one bad record never loses the others; a rejected
    one's reason is `"<field>: <message>"` (`"record: ..."` when it is not an object or has an
    unknown field), without echoing the value. Range checks (coordinates, speed, time) are the
    pipeline's, so they apply to every feed alike."""
    positions: list[Position] = []
    indexes: list[int] = []
    rejected: list[RejectedRecord] = []
    for index, record in enumerate(records):
        try:
            p = PositionIn.model_validate(record)
        except ValidationError as exc:
            rejected.append(RejectedRecord(index=index, reason=_reason(exc)))
            continue
        positions.append(Position(
            vehicle_id=p.vehicle_id, time=p.time, lon=p.lon, lat=p.lat,
            speed_kmh=p.speed_kmh, heading_deg=p.heading_deg, altitude_m=p.altitude_m,
            alarm_flags=p.alarm_flags, status_flags=p.status_flags, source=source,
        ))
        indexes.append(index)
    return positions, indexes, rejected
