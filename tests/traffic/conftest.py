"""The demo county's road network and bus stops, read from the session database once."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
import sqlalchemy as sa

from backend.traffic.network import TO_METRIC, RoadNetwork, load_network
from backend.traffic.ubodt import PathTable


@pytest.fixture(scope="session")
def county_net(engine: sa.Engine, county: dict[str, int]) -> RoadNetwork:
    with engine.connect() as conn:
        return load_network(conn)


@pytest.fixture(scope="session")
def county_table(county_net: RoadNetwork) -> PathTable:
    return PathTable(county_net)


@pytest.fixture(scope="session")
def county_stops(engine: sa.Engine, county: dict[str, int]) -> np.ndarray:
    with engine.connect() as conn:
        wkb = conn.execute(sa.text("SELECT ST_AsBinary(geom) FROM bus_stops")).scalars().all()
    xy = shapely.get_coordinates(shapely.from_wkb([bytes(w) for w in wkb]))
    return np.column_stack(TO_METRIC.transform(xy[:, 0], xy[:, 1]))


def seat_edges(net: RoadNetwork, radius_m: float = 2500.0) -> np.ndarray:
    """Directed edges of the seat's main streets (where the traffic scenario drives)."""
    mid = shapely.get_coordinates(shapely.line_interpolate_point(net.lines, 0.5, normalized=True))
    cx, cy = np.median(net.node_xy, axis=0)
    near = np.hypot(mid[:, 0] - cx, mid[:, 1] - cy) < radius_m
    return np.repeat(near & np.isin(net.road_class, ["primary", "secondary", "tertiary"]), 2)
