"""The domain views' answers (the shapes the wall and the console read)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Text(BaseModel):
    zh: str
    en: str


class Department(BaseModel):
    code: str
    name: str


class ReferenceRead(BaseModel):
    kind: Literal["previous", "target", "county"]
    label: Text


class KpiMapRead(BaseModel):
    layer: str
    filter: list[Any] | None


class KpiRead(BaseModel):
    id: str
    title: Text
    unit: Text
    better: Literal["up", "down", "none"]
    decimals: int
    reference: ReferenceRead | None
    map: KpiMapRead | None


class ChartMapRead(BaseModel):
    layer: str
    field: str


class ChartRead(BaseModel):
    id: str
    type: Literal["bar", "line", "ranking", "pie"]
    title: Text
    unit: Text | None
    map: ChartMapRead | None


class DomainViewRead(BaseModel):
    id: str
    title: Text
    department: Department
    synthetic: bool
    layers: list[str]
    bbox: list[float] | None
    filters: list[Literal["extent", "polygon", "township", "grid"]]
    kpis: list[KpiRead]
    charts: list[ChartRead]


class DomainList(BaseModel):
    carousel_s: int
    domains: list[DomainViewRead]


class Card(BaseModel):
    id: str
    available: bool
    value: float | None
    reference: float | None
    change: float | None
    change_pct: float | None
    direction: Literal["up", "down", "flat"] | None
    level: Literal["ok", "warn", "alarm"] | None
    as_of: str | None
    stale: bool
    stale_after_s: int
    filtered: bool
    reason: str | None


class ChartRow(BaseModel):
    label: str
    value: float | None
    series: str | None


class ChartFigures(BaseModel):
    id: str
    available: bool
    rows: list[ChartRow]
    filtered: bool
    reason: str | None


class Figures(BaseModel):
    domain: str
    area: dict[str, Any] | None
    computed_at: str
    cards: list[Card]
    charts: list[ChartFigures]


class AreaBody(BaseModel):
    """A drawn area: a GeoJSON Polygon or MultiPolygon in lon/lat (<= 5,000 vertices)."""

    model_config = ConfigDict(extra="forbid")
    polygon: dict[str, Any]
