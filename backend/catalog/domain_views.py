"""The domain views (scenarios/sixian/domains/<id>.yaml): one file per domain of
layers/domains.yaml, its map layers, KPI cards and charts, each a SQL query over the catalog
datasets the file declares. Read strictly: unknown keys, an unknown domain, department,
layer or dataset, a relation the file does not declare, a chart type outside the list or
more than one statement are refused with the file, the key and what was expected, every
problem at once. The engine (backend.domains) also prepares every query against the database
at start; `cityops domains check` runs these static checks alone when there is none."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from backend.catalog.dataset_content import ContentDataset
from backend.catalog.domains import Domain
from backend.catalog.layers import LayerCatalog
from backend.catalog.sources import IDENT
from backend.catalog.sql_relations import read_sql
from backend.catalog.strict import CatalogError, Strict, Title, read_yaml

# The platform's base relations a view's SQL may read besides its datasets.
BASE_RELATIONS = ("townships", "grid_cells")
FILTERS = ("extent", "polygon", "township", "grid")
CHART_TYPES = ("bar", "line", "ranking", "pie")
_DURATION = re.compile(r"^([1-9][0-9]*)(s|min|h|d)$")
_UNIT_S = {"s": 1, "min": 60, "h": 3600, "d": 86400}
Ident = Annotated[str, Field(pattern=IDENT)]
Sql = Annotated[str, Field(min_length=8, max_length=8000)]


def duration_s(text: str) -> int:
    m = _DURATION.match(text)
    if m is None:
        raise ValueError(f"expected a duration such as 30min, 2h or 8d, got {text!r}")
    return int(m.group(1)) * _UNIT_S[m.group(2)]


class Reference(Strict):
    """What a card's value is compared with: the previous period (a query), a target (a
    number) or the same KPI over the whole county (when the figures are filtered)."""

    kind: Literal["previous", "target", "county"]
    label: Title
    sql: Sql | None = None
    value: float | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Reference:
        wants = {"previous": "sql", "target": "value", "county": None}[self.kind]
        for key in ("sql", "value"):
            given = getattr(self, key) is not None
            if given and key != wants:
                raise ValueError(f"a {self.kind} reference takes no {key}")
            if not given and key == wants:
                raise ValueError(f"a {self.kind} reference needs {key}")
        return self


class Thresholds(Strict):
    """Read with `better`: up -> below warn is warn, below alarm is alarm; down -> above."""

    warn: float
    alarm: float


class KpiMap(Strict):
    layer: Ident
    filter: list[Any] | None = None  # a MapLibre filter expression, passed to the client


class ChartMap(Strict):
    layer: Ident
    field: Ident


class KpiSpec(Strict):
    id: Ident
    title: Title
    unit: Title
    sql: Sql
    reference: Reference | None = None
    better: Literal["up", "down", "none"] = "none"
    decimals: Annotated[int, Field(ge=0, le=6)] = 0
    thresholds: Thresholds | None = None
    stale_after: str | None = None
    map: KpiMap | None = None

    @field_validator("stale_after")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            duration_s(value)
        return value

    @model_validator(mode="after")
    def _levels(self) -> KpiSpec:
        t = self.thresholds
        if t is None:
            return self
        if self.better == "none":
            raise ValueError("thresholds need better: up or down (which side is bad)")
        if self.better == "up" and t.alarm > t.warn:
            raise ValueError("with better: up, thresholds.alarm must not be above warn")
        if self.better == "down" and t.alarm < t.warn:
            raise ValueError("with better: down, thresholds.alarm must not be below warn")
        return self

    @property
    def stale_after_s(self) -> int | None:
        return duration_s(self.stale_after) if self.stale_after else None


class ChartSpec(Strict):
    id: Ident
    type: Literal["bar", "line", "ranking", "pie"]
    title: Title
    unit: Title | None = None
    sql: Sql
    map: ChartMap | None = None


class ViewSpec(Strict):
    id: Ident
    department: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{0,9}$")]
    datasets: list[Ident] = Field(min_length=1)
    layers: list[Ident] = []
    bbox: tuple[float, float, float, float] | None = None
    filters: list[Literal["extent", "polygon", "township", "grid"]] = []
    synthetic: bool = True  # its datasets are the demo's (示意)
    kpis: list[KpiSpec] = Field(min_length=1, max_length=12)
    charts: list[ChartSpec] = Field(default=[], max_length=8)

    @model_validator(mode="after")
    def _coherent(self) -> ViewSpec:
        for what, items in (("kpis", self.kpis), ("charts", self.charts)):
            ids = [k.id for k in items]
            if len(set(ids)) != len(ids):
                raise ValueError(f"{what} ids must be unique: {ids}")
        for what, values in (("datasets", self.datasets), ("layers", self.layers),
                             ("filters", self.filters)):
            if len(set(values)) != len(values):
                raise ValueError(f"{what} lists a name twice: {values}")
        if self.bbox is not None:
            w, s, e, n = self.bbox
            if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
                raise ValueError("bbox must be [west, south, east, north] in degrees")
        return self


def _sql_problems(label: str, key: str, sql: str, declared: set[str]) -> list[str]:
    reading = read_sql(sql)
    out = [f"{label}: {key}: {p}" for p in reading.problems]
    if reading.statements != 1:
        out.append(f"{label}: {key}: expected one statement, found {reading.statements}")
    if reading.first_word not in ("select", "with"):
        out.append(f"{label}: {key}: expected a query starting with SELECT or WITH")
    allowed = declared | set(BASE_RELATIONS) | reading.defined
    for name in reading.qualified:
        out.append(f"{label}: {key}: {name!r}: schema-qualified relations are not allowed;"
                   f" read the declared datasets ({', '.join(sorted(declared))})")
    for name in reading.relations:
        if name not in allowed:
            out.append(f"{label}: {key}: relation {name!r} is not a dataset this view declares"
                       f" (datasets: {', '.join(sorted(declared))}; also allowed: "
                       f"{', '.join(BASE_RELATIONS)})")
    return out


def check_view(label: str, spec: ViewSpec, *, domains: set[str], departments: set[str],
               layers: LayerCatalog, datasets: dict[str, ContentDataset]) -> list[str]:
    """The cross-file checks of one parsed view (the database checks come later)."""
    out: list[str] = []
    if spec.id not in domains:
        out.append(f"{label}: id: {spec.id!r} is not a domain of layers/domains.yaml;"
                   f" known: {', '.join(sorted(domains))}")
    if spec.department not in departments:
        out.append(f"{label}: department: {spec.department!r} is not a code of "
                   "departments.yaml")
    for i, ds in enumerate(spec.datasets):
        if ds not in datasets:
            out.append(f"{label}: datasets.{i}: {ds!r} is not a dataset of content.yaml")
    for i, layer in enumerate(spec.layers):
        if layer not in layers:
            out.append(f"{label}: layers.{i}: {layer!r} is not a layer of layers/")
    declared = {d for d in spec.datasets if d in datasets}
    for i, kpi in enumerate(spec.kpis):
        out += _sql_problems(label, f"kpis.{i}.sql", kpi.sql, declared)
        if kpi.reference is not None and kpi.reference.sql is not None:
            out += _sql_problems(label, f"kpis.{i}.reference.sql", kpi.reference.sql, declared)
        if kpi.map is not None and kpi.map.layer not in spec.layers:
            out.append(f"{label}: kpis.{i}.map.layer: {kpi.map.layer!r} is not one of the "
                       f"view's layers ({', '.join(spec.layers) or 'none'})")
    for i, chart in enumerate(spec.charts):
        out += _sql_problems(label, f"charts.{i}.sql", chart.sql, declared)
        if chart.map is None:
            continue
        if chart.map.layer not in spec.layers:
            out.append(f"{label}: charts.{i}.map.layer: {chart.map.layer!r} is not one of the"
                       f" view's layers ({', '.join(spec.layers) or 'none'})")
        elif (layer := layers.get(chart.map.layer)) is not None and layer.fields and \
                chart.map.field not in layer.field_names:
            out.append(f"{label}: charts.{i}.map.field: layer {layer.id} has no field "
                       f"{chart.map.field!r}")
    return out


def load_view_files(directory: Path, *, domains: list[Domain], departments: set[str],
                    layers: LayerCatalog, datasets: dict[str, ContentDataset]
                    ) -> list[ViewSpec]:
    """Every <id>.yaml of `directory`, checked; all problems at once (CatalogError)."""
    problems: list[str] = []
    specs: list[ViewSpec] = []
    known = {d.id for d in domains}
    if not directory.is_dir():
        raise CatalogError([f"{directory}: (folder): missing; it holds the domain views"])
    for path in sorted(directory.glob("*.yaml")):
        label = f"domains/{path.name}"
        try:
            spec = read_yaml(path, ViewSpec, label)
        except CatalogError as exc:
            problems += exc.problems
            continue
        if spec.id != path.stem:
            problems.append(f"{label}: id: must equal the file name {path.stem!r}")
            continue
        found = check_view(label, spec, domains=known, departments=departments,
                           layers=layers, datasets=datasets)
        problems += found
        if not found:
            specs.append(spec)
    if problems:
        raise CatalogError(problems)
    order = {d.id: (d.order, d.id) for d in domains}
    return sorted(specs, key=lambda s: order[s.id])


def department_names(catalog_dir: Path) -> dict[str, str]:
    """{code: full name} of departments.yaml, the data bureau included."""
    from backend.catalog.data_catalog import DEPARTMENTS_FILE, DepartmentsFile

    found = read_yaml(catalog_dir / DEPARTMENTS_FILE, DepartmentsFile, DEPARTMENTS_FILE)
    names = {d.code: d.name for d in found.departments}
    names[found.bureau.code] = found.bureau.name
    return names
