"""Router assembly: every router of the application, in one list."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse

from backend.api.route import GuardedRoute
from backend.auth.permissions import Permission, requires
from backend.auth.router import router as auth_router
from backend.cameras.coverage_router import router as camera_coverage_router
from backend.cameras.router import router as cameras_router
from backend.cameras.views_router import router as camera_views_router
from backend.datasets.ckan_router import router as ckan_router
from backend.datasets.router import router as datasets_router
from backend.domains.router import router as domains_router
from backend.exchange.router import router as exchange_router
from backend.grid.router import router as grid_router
from backend.incidents.desk_router import router as desk_router
from backend.incidents.photo_router import router as photo_router
from backend.incidents.router import router as incidents_router
from backend.ingest.router import router as ingest_router
from backend.maps.router import router as maps_router
from backend.ogc.router import router as ogc_router
from backend.open311.router import router as open311_router
from backend.people.changes_router import router as people_changes_router
from backend.people.quarantine_router import router as people_quarantine_router
from backend.people.router import router as people_router
from backend.people.stats_router import router as population_stats_router
from backend.quality.router import router as quality_router
from backend.realtime.router import router as realtime_router
from backend.sharing.governance_router import router as governance_router
from backend.sharing.router import router as sharing_router
from backend.snapshots.router import router as snapshots_router
from backend.traffic.router import router as traffic_router
from backend.transit.gtfs_router import router as gtfs_router
from backend.transit.router import router as transit_router
from backend.vehicles.alarm_router import router as alarm_router
from backend.vehicles.router import router as vehicles_router
from backend.wall.router import router as wall_router

health = APIRouter(route_class=GuardedRoute)


@health.get("/api/health", dependencies=[requires(Permission.PUBLIC)])
def get_health() -> dict[str, str]:
    return {"status": "ok"}


@health.get("/datacenter", include_in_schema=False, dependencies=[requires(Permission.PUBLIC)])
def datacenter_page() -> RedirectResponse:
    """The data center (catalog, quality, requests) is a static page of the console's build,
    served like /report -> report.html; its data calls need catalog:read."""
    return RedirectResponse("datacenter.html", status_code=307)


@health.get("/wall", include_in_schema=False, dependencies=[requires(Permission.PUBLIC)])
def wall_page(request: Request) -> RedirectResponse:
    """The video wall (county overview, the eight domains' carousel) is a static page of the
    console's build like /datacenter; its data calls need domains:read and the live rights.
    The query (?preset=, ?lang=, ?carousel=) goes along."""
    query = request.url.query
    return RedirectResponse(f"wall.html?{query}" if query else "wall.html", status_code=307)


def include_routers(app: FastAPI) -> None:
    # First: /api/cameras/seeing before any /api/cameras/{code} route ("seeing" is no code).
    app.include_router(camera_views_router)
    app.include_router(people_changes_router)  # before any /api/people/{person_id}
    for router in (health, auth_router, maps_router, ogc_router, realtime_router, ingest_router,
                   vehicles_router, alarm_router, transit_router, gtfs_router, incidents_router,
                   desk_router, open311_router, photo_router, grid_router, traffic_router,
                   camera_coverage_router, datasets_router, ckan_router, exchange_router,
                   quality_router, sharing_router, governance_router, people_quarantine_router,
                   people_router, population_stats_router, domains_router, wall_router,
                   snapshots_router,
                   # last: its /api/cameras/{code} would take any fixed /api/cameras/... path
                   cameras_router):
        app.include_router(router)
