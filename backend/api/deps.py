"""What routes depend on: the application's resources, built once in the lifespan."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from starlette.requests import HTTPConnection

from backend.catalog.layers import LayerCatalog
from backend.maps.service import county_bounds
from backend.settings import Settings
from tiles.service import TileService

if TYPE_CHECKING:
    from backend.auth.guard import LoginGuard
    from backend.auth.users import SessionStore
    from backend.datasets.versions_listener import VersionListener
    from backend.domains.wiring import DomainRuntime
    from backend.incidents.calendar import WorkCalendar
    from backend.ingest.pipeline import PositionPipeline
    from backend.realtime.hub import Hub
    from backend.traffic.service import TrafficService
    from backend.vehicles.fleet import FleetDirectory
    from tiles.glyphs import GlyphStore


@dataclass
class Resources:
    settings: Settings
    engine: Engine
    catalog: LayerCatalog
    tiles: TileService
    glyphs: GlyphStore | None
    sessions: SessionStore | None = None  # login sessions (backend.auth.users)
    # failed-login limits and the hashing gate; .refusals counts refused logins by reason
    login_guard: LoginGuard | None = None
    calendar: WorkCalendar | None = None  # working hours for case time limits
    positions: PositionPipeline | None = None  # the position pipeline (backend.positions)
    fleet: FleetDirectory | None = None  # the fleet register (vehicle -> line), cached
    traffic: TrafficService | None = None  # levels, index, alerts (backend.traffic.wiring)
    # set when a dataset has a new current version: the quality schedule checks it at once
    data_changed: asyncio.Event = field(default_factory=asyncio.Event)
    # told by PostgreSQL when any dataset's current version moves, from any process (issue 14:
    # the domain views' KPIs and the wall's header register here; backend.datasets.wiring)
    versions: VersionListener | None = None
    domains: DomainRuntime | None = None  # the domain views and their figures (issue 14)
    _bounds: list[float] | None = field(default=None, repr=False)

    def base_url(self, request: Request) -> str:
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        return str(request.base_url).rstrip("/")

    def county_bounds(self) -> list[float]:
        if self._bounds is None:
            self._bounds = county_bounds(self.engine)
        return self._bounds


def get_resources(request: Request) -> Resources:
    return request.app.state.resources


AppState = Annotated[Resources, Depends(get_resources)]


def get_hub(conn: HTTPConnection) -> Hub:
    """The live event hub (HTTP and websocket routes alike); set in the lifespan."""
    return conn.app.state.hub
