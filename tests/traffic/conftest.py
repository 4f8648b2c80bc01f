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
