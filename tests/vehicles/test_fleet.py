"""The fleet register as the pipeline sees it: contexts with the line, road limits and the
geofences of configured layers (real PostGIS)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from backend.catalog.layers import load_catalog
from backend.errors import NotConfigured
from backend.settings import Settings
from backend.vehicles.fleet import FleetDirectory, geofence_sources, register_vehicles


@pytest.fixture()
def registered(engine: sa.Engine, county: dict[str, int]) -> Iterator[str]:
    with engine.begin() as conn:
        register_vehicles(conn, [{"vehicle_id": "fleet-1", "label": "1路#9", "line_code": "1路"}])
    yield "fleet-1"
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM vehicles WHERE vehicle_id LIKE 'fleet-%'"))


def test_contexts_carry_line_road_limits_and_geofences(
    engine: sa.Engine, settings: Settings, registered: str
) -> None:
    catalog = load_catalog(settings.layers_dir)
    fences = geofence_sources(settings.model_copy(
        update={"vehicle_geofence_layers": ["townships"]}), catalog)
    fleet = FleetDirectory(engine, geofences=fences)
    ctx = fleet.context_for(registered)
    assert ctx.line is not None and ctx.line.stops is not None
    assert ctx.speed_limit_kmh is not None
    with engine.connect() as conn:
        townships = conn.execute(sa.text("SELECT count(*) FROM townships")).scalar_one()
    assert len(ctx.geofences) == townships and all(f.id.startswith("townships:")
                                                   for f in ctx.geofences)
    stranger = fleet.context_for("fleet-unknown")
    assert stranger.line is None and len(stranger.geofences) == townships
    assert fleet.vehicle(registered).line_code == "1路"


def test_a_geofence_layer_must_be_a_polygon_layer(settings: Settings) -> None:
    catalog = load_catalog(settings.layers_dir)
    with pytest.raises(NotConfigured, match="not a polygon layer.*townships"):
        geofence_sources(settings.model_copy(update={"vehicle_geofence_layers": ["roads"]}),
                         catalog)
