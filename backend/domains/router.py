"""The domain views over HTTP: the list the wall and the console build their pages from, and
a view's figures for the county (answered from the pushed figures at once) or an area (a map
extent, a township, a grid cell in the query; a drawn polygon in a POST body)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from backend.api.deps import AppState
from backend.api.route import GuardedRoute
from backend.auth.permissions import Caller, Permission, requires, visible_layers
from backend.domains import service
from backend.domains.area import Area, parse_polygon, parse_query
from backend.domains.schemas import AreaBody, DomainList, Figures
from backend.domains.wiring import DomainRuntime
from backend.errors import NotConfigured, Unprocessable

router = APIRouter(route_class=GuardedRoute, tags=["domains"])


def _runtime(state: AppState) -> DomainRuntime:
    if state.domains is None:
        raise NotConfigured("the domain views are not loaded in this process")
    return state.domains


def _refused(request: Request, exc: Unprocessable) -> Unprocessable:
    edge = getattr(request.app.state, "edge", None)
    if edge is not None:
        edge.count("invalid_input", "domain_area")
    return exc


@router.get("/api/domains", response_model=DomainList,
            dependencies=[requires(Permission.DOMAINS_READ)])
def list_domains(state: AppState, principal: Caller) -> dict[str, Any]:
    """The domain views in the carousel's order, with the layers you may see."""
    runtime = _runtime(state)
    seen = {s.id for s in visible_layers(principal, state.catalog)}
    return {"carousel_s": state.settings.wall_carousel_s,
            "domains": [v.describe(seen) for v in runtime.views.views]}


async def _figures(state: AppState, domain_id: str, area: Area | None) -> dict[str, Any]:
    runtime = _runtime(state)
    view = service.view_or_404(runtime.views, domain_id)
    if area is None and domain_id in runtime.latest:
        return runtime.latest[domain_id]
    await run_in_threadpool(service.check_area, state.engine, area)
    return await run_in_threadpool(service.compute_figures, state.engine, view, area,
                                   timeout_ms=state.settings.domain_query_timeout_ms)


@router.get("/api/domains/{domain_id}/figures", response_model=Figures,
            dependencies=[requires(Permission.DOMAINS_READ)])
async def figures(domain_id: str, state: AppState, request: Request,
                  bbox: Annotated[str | None, Query(max_length=200,
                                                    description="west,south,east,north")] = None,
                  township: Annotated[str | None, Query(max_length=9)] = None,
                  grid: Annotated[str | None, Query(max_length=15)] = None) -> dict[str, Any]:
    """The view's KPI cards and charts for the county, or cut by one area: `bbox`, a
    `township` code or a `grid` code."""
    try:
        area = parse_query(bbox=bbox, township=township, grid=grid)
    except Unprocessable as exc:
        raise _refused(request, exc) from exc
    return await _figures(state, domain_id, area)


@router.post("/api/domains/{domain_id}/figures", response_model=Figures,
             dependencies=[requires(Permission.DOMAINS_READ)])
async def figures_in_polygon(domain_id: str, body: AreaBody, state: AppState,
                             request: Request) -> dict[str, Any]:
    """The view's figures inside a drawn polygon (GeoJSON Polygon or MultiPolygon)."""
    try:
        area = parse_polygon(body.polygon)
    except Unprocessable as exc:
        raise _refused(request, exc) from exc
    return await _figures(state, domain_id, area)
