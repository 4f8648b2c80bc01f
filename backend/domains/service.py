"""The domain views' operations: the views loaded and checked at start, the figures of a view
(its KPI cards and charts) for the county or an area. No FastAPI here; other parts (the wall,
snapshots) call `load_views` and `compute_figures`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from backend.catalog.dataset_content import load_content
from backend.catalog.domain_views import department_names, load_view_files
from backend.catalog.layers import LayerCatalog
from backend.catalog.strict import CatalogError
from backend.domains import engine as kpi
from backend.domains.area import Area
from backend.domains.rules import comparison, is_stale, level
from backend.domains.views import DomainView, ViewCatalog, build_view
from backend.errors import NotFound
from backend.settings import Settings


def load_views(settings: Settings, layers: LayerCatalog) -> ViewCatalog:
    """Every view file of settings.domains_dir, checked statically (CatalogError: all the
    problems); `check_against` adds the database's checks."""
    content = {d.id: d for d in load_content(settings.catalog_dir)}
    departments = department_names(settings.catalog_dir)
    specs = load_view_files(settings.domains_dir, domains=layers.domains,
                            departments=set(departments), layers=layers, datasets=content)
    titles = {d.id: d.title for d in layers.domains}
    return ViewCatalog([build_view(s, titles[s.id], (s.department, departments[s.department]),
                                   content) for s in specs])


def check_against(engine: sa.Engine, views: ViewCatalog, *, timeout_ms: int) -> None:
    """Prepare every query of every view against the database (CatalogError if any fails)."""
    problems: list[str] = []
    with kpi.read_only(engine, timeout_ms) as cur:
        for view in views.views:
            problems += kpi.check_queries(cur, view)
    if problems:
        raise CatalogError(problems)


def check_area(engine: sa.Engine, area: Area | None) -> None:
    """A township or grid code must exist (404 naming it)."""
    if area is None or area.kind not in ("township", "grid"):
        return
    table, column = ("townships", "code") if area.kind == "township" else ("grid_cells",
                                                                            "grid_code")
    with engine.connect() as conn:
        found = conn.execute(sa.text(f"SELECT 1 FROM {table} WHERE {column} = :c"),  # noqa: S608
                             {"c": area.code}).first()
    if found is None:
        raise NotFound(f"no {area.kind} with code {area.code}")


def now_local() -> datetime:
    return datetime.now(kpi.TZ)


def _iso(t: datetime | None) -> str | None:
    return t.isoformat(timespec="seconds") if t is not None else None


def _as_of(row: dict[str, Any], reads: tuple[str, ...], meta: dict[str, kpi.Meta]
           ) -> datetime | None:
    if row.get("as_of") is not None:
        return kpi.local_time(row["as_of"])
    times = [m.last_updated_at for d in reads if (m := meta.get(d)) and m.last_updated_at]
    return kpi.local_time(max(times)) if times else None


def _card(cur: Any, view: DomainView, i: int, area: Area | None,
          meta: dict[str, kpi.Meta], now: datetime) -> dict[str, Any]:
    spec = view.spec.kpis[i]
    query = view.query(f"kpis.{i}.sql")
    stale_after = view.stale_after_s(spec, query.reads)
    card: dict[str, Any] = {"id": spec.id, "available": False, "value": None,
                            "reference": None, "change": None, "change_pct": None,
                            "direction": None, "level": None, "as_of": None, "stale": False,
                            "stale_after_s": stale_after, "filtered": False, "reason": None}
    try:
        rows, cut = kpi.run(cur, view, query, area, meta)
        row = rows[0] if rows else {}
        value = kpi.number(row.get("value"))
        reference = _reference(cur, view, i, area, meta)
    except kpi.QueryFailed as exc:
        card["reason"] = exc.reason
        return card
    as_of = _as_of(row, query.reads, meta)
    card.update(available=True, value=value, reference=reference,
                **comparison(value, reference), level=level(value, spec.better,
                                                            spec.thresholds),
                as_of=_iso(as_of), stale=is_stale(as_of, stale_after, now),
                filtered=area is not None and cut)
    return card


def _reference(cur: Any, view: DomainView, i: int, area: Area | None,
               meta: dict[str, kpi.Meta]) -> float | None:
    ref = view.spec.kpis[i].reference
    if ref is None:
        return None
    if ref.kind == "target":
        return ref.value
    if ref.kind == "county":
        if area is None:
            return None
        rows, _ = kpi.run(cur, view, view.query(f"kpis.{i}.sql"), None, meta)
    else:
        rows, _ = kpi.run(cur, view, view.query(f"kpis.{i}.reference.sql"), area, meta)
    return kpi.number(rows[0].get("value")) if rows else None


def _chart(cur: Any, view: DomainView, i: int, area: Area | None,
           meta: dict[str, kpi.Meta]) -> dict[str, Any]:
    spec = view.spec.charts[i]
    try:
        rows, cut = kpi.run(cur, view, view.query(f"charts.{i}.sql"), area, meta,
                            limit=kpi.MAX_CHART_ROWS)
        out = [{"label": "" if r.get("label") is None else str(r["label"]),
                "value": kpi.number(r.get("value")),
                "series": None if r.get("series") is None else str(r["series"])}
               for r in rows]
    except kpi.QueryFailed as exc:
        return {"id": spec.id, "available": False, "rows": [], "filtered": False,
                "reason": exc.reason}
    return {"id": spec.id, "available": True, "rows": out,
            "filtered": area is not None and cut, "reason": None}


def compute_figures(engine: sa.Engine, view: DomainView, area: Area | None, *,
                    timeout_ms: int) -> dict[str, Any]:
    """The figures answer of `view` for `area` (None: the county)."""
    now = now_local()
    with kpi.read_only(engine, timeout_ms) as cur:
        meta = kpi.dataset_meta(cur, list(view.datasets))
        cards = [_card(cur, view, i, area, meta, now) for i in range(len(view.spec.kpis))]
        charts = [_chart(cur, view, i, area, meta) for i in range(len(view.spec.charts))]
    return {"domain": view.id, "area": area.describe() if area is not None else None,
            "computed_at": _iso(now), "cards": cards, "charts": charts}


def view_or_404(views: ViewCatalog, view_id: str) -> DomainView:
    view = views.get(view_id)
    if view is None:
        raise NotFound(f"no domain view {view_id!r}; known: {', '.join(views.ids)}")
    return view
