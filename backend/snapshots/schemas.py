"""What POST /api/snapshots takes and what the snapshot routes answer. Sizes are bounded here
(a list of four numbers, a zoom in 0..22); the service checks the bbox against the county and
the area with the domain views' own parser (backend.domains.area)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ViewId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
Coordinate = Annotated[float, Field(allow_inf_nan=False)]


class AreaIn(BaseModel):
    """One of: a map extent, a township code, a grid code, a drawn polygon (GeoJSON)."""

    model_config = ConfigDict(extra="forbid")
    bbox: Annotated[list[Coordinate], Field(min_length=4, max_length=4)] | None = None
    township: Annotated[str, Field(pattern=r"^[0-9]{9}$")] | None = None
    grid: Annotated[str, Field(pattern=r"^[0-9]{15}$")] | None = None
    polygon: dict[str, Any] | None = None


class SnapshotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    view: ViewId = Field(description='"overview" or a domain view id (GET /api/domains)')
    bbox: Annotated[list[Coordinate], Field(min_length=4, max_length=4,
                                            description="west, south, east, north (degrees)")]
    zoom: Annotated[float, Field(ge=0, le=22, allow_inf_nan=False)]
    lang: Literal["zh", "en"] = "zh"
    area: AreaIn | None = None


class SnapshotRead(BaseModel):
    id: int
    view: str
    title: str
    file_name: str
    bytes: int
    sha256: str
    created_at: datetime
    created_by: str
    url: str


class SnapshotList(BaseModel):
    snapshots: list[SnapshotRead]
