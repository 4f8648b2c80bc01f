"""The domain views as the running app holds them: each file's spec (backend.catalog.
domain_views) with its domain's title, its department's name and the typed fields of the
datasets its queries read, and the description GET /api/domains answers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from backend.catalog.dataset_content import ContentDataset
from backend.catalog.domain_views import ChartSpec, KpiSpec, ViewSpec
from backend.catalog.strict import Title

# content.yaml / dataset_fields data_type -> the column type a view's SQL sees
SQL_TYPES = {"string": "text", "integer": "bigint", "number": "double precision",
             "date": "date", "datetime": "timestamptz", "boolean": "boolean"}
# How long a figure stays fresh after its data's last update, by the datasets' update cycle
# (a little more than the cycle: a daily load at 02:00 is not late at 02:05 the next day).
CYCLE_STALE_S = {"realtime": 30 * 60, "daily": 26 * 3600, "weekly": 8 * 86400,
                 "monthly": 32 * 86400, "quarterly": 95 * 86400, "half_yearly": 190 * 86400,
                 "yearly": 370 * 86400, "irregular": 400 * 86400}


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    id: str
    fields: tuple[tuple[str, str], ...]   # (name, SQL type)
    geometry: bool
    township: bool                         # has township_code: cut by township without geom
    update_cycle: str

    @classmethod
    def of(cls, d: ContentDataset) -> DatasetInfo:
        """A view's SQL sees no personal field (a name, a phone...): its figures are aggregates,
        and a column that is not there cannot become a chart's label. The typed projection
        leaves them out too (migration 0023)."""
        names = {f.name for f in d.fields}
        return cls(d.id, tuple((f.name, SQL_TYPES[f.type]) for f in d.fields if f.kind is None),
                   d.geometry is not None, "township_code" in names, d.update_cycle)


@dataclass(frozen=True, slots=True)
class Query:
    """One SQL text of a view: `key` is its place in the file (kpis.0.sql), `reads` the
    declared datasets it names."""

    key: str
    sql: str
    reads: tuple[str, ...]


def _reads(sql: str, declared: Iterable[str]) -> tuple[str, ...]:
    from backend.catalog.sql_relations import read_sql

    words = read_sql(sql).identifiers
    return tuple(d for d in declared if d in words)


@dataclass(frozen=True)
class DomainView:
    spec: ViewSpec
    title: Title
    department: tuple[str, str]            # (code, full name)
    datasets: dict[str, DatasetInfo]
    queries: dict[str, Query] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def label(self) -> str:
        return f"domains/{self.spec.id}.yaml"

    def query(self, key: str) -> Query:
        return self.queries[key]

    def stale_after_s(self, kpi: KpiSpec, reads: Iterable[str]) -> int:
        if kpi.stale_after_s is not None:
            return kpi.stale_after_s
        cycles = [CYCLE_STALE_S[self.datasets[d].update_cycle] for d in reads]
        return min(cycles) if cycles else CYCLE_STALE_S["irregular"]

    def describe(self, visible_layers: set[str] | None = None) -> dict[str, Any]:
        """The DomainView of GET /api/domains; layers the caller may not see left out."""
        layers = [lay for lay in self.spec.layers
                  if visible_layers is None or lay in visible_layers]
        return {
            "id": self.id, "title": self.title.model_dump(),
            "department": {"code": self.department[0], "name": self.department[1]},
            "synthetic": self.spec.synthetic, "layers": layers,
            "bbox": list(self.spec.bbox) if self.spec.bbox else None,
            "filters": list(self.spec.filters),
            "kpis": [_kpi(k, layers) for k in self.spec.kpis],
            "charts": [_chart(c, layers) for c in self.spec.charts],
        }


def _kpi(k: KpiSpec, layers: list[str]) -> dict[str, Any]:
    ref = k.reference
    shown = k.map is not None and k.map.layer in layers
    return {"id": k.id, "title": k.title.model_dump(), "unit": k.unit.model_dump(),
            "better": k.better, "decimals": k.decimals,
            "reference": {"kind": ref.kind, "label": ref.label.model_dump()} if ref else None,
            "map": {"layer": k.map.layer, "filter": k.map.filter} if shown and k.map else None}


def _chart(c: ChartSpec, layers: list[str]) -> dict[str, Any]:
    shown = c.map is not None and c.map.layer in layers
    return {"id": c.id, "type": c.type, "title": c.title.model_dump(),
            "unit": c.unit.model_dump() if c.unit else None,
            "map": {"layer": c.map.layer, "field": c.map.field} if shown and c.map else None}


def build_view(spec: ViewSpec, title: Title, department: tuple[str, str],
               content: dict[str, ContentDataset]) -> DomainView:
    infos = {d: DatasetInfo.of(content[d]) for d in spec.datasets}
    queries: dict[str, Query] = {}
    for i, k in enumerate(spec.kpis):
        queries[f"kpis.{i}.sql"] = Query(f"kpis.{i}.sql", k.sql, _reads(k.sql, infos))
        if k.reference is not None and k.reference.sql is not None:
            key = f"kpis.{i}.reference.sql"
            queries[key] = Query(key, k.reference.sql, _reads(k.reference.sql, infos))
    for i, c in enumerate(spec.charts):
        queries[f"charts.{i}.sql"] = Query(f"charts.{i}.sql", c.sql, _reads(c.sql, infos))
    return DomainView(spec, title, department, infos, queries)


class ViewCatalog:
    """The views in the domain table's order."""

    def __init__(self, views: list[DomainView]) -> None:
        self.views = views
        self._by_id = {v.id: v for v in views}

    def get(self, view_id: str) -> DomainView | None:
        return self._by_id.get(view_id)

    @property
    def ids(self) -> list[str]:
        return [v.id for v in self.views]

    @property
    def datasets(self) -> set[str]:
        return {d for v in self.views for d in v.datasets}

    @property
    def infos(self) -> list[DatasetInfo]:
        """Every dataset the views read, once."""
        return list({i.id: i for v in self.views for i in v.datasets.values()}.values())
