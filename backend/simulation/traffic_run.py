"""Run the traffic-peak scenario through the real HTTP ingest: the plan's fixes (backend.
simulation.traffic_plan) posted in simulated real time to `POST /api/ingest/positions`, one
batch per tick, as a taxi company's and a car-data provider's platforms would forward them.

Before the first fix: the vehicles are put in the fleet register (taxis as taxis, private cars
as `other`) and the scenario's typical speeds are seeded. At the accident's report time the
122 hotline's case (category from the yaml, e.g. 交通事故) is filed through the incidents
service, at its simulated time, by a simulated 122 operator.
"""

from __future__ import annotations

from datetime import datetime

import shapely
import sqlalchemy as sa

from backend.catalog.traffic_scenarios import TrafficScenario
from backend.simulation.traffic_plan import TrafficPlan, pilot_keys, plan_traffic, seat_bbox
from backend.traffic.network import RoadNetwork, load_network

OPERATOR_122 = "sim-122"
PILOTS = sa.text("SELECT code, ST_AsBinary(geom) AS wkb FROM pilot_segments ORDER BY code")
REQUEST_TIMEOUT_S = 60.0


class TrafficRunError(RuntimeError):
    """The scenario cannot run (no pilot segments, the ingest refused the token...)."""


def load_inputs(conn: sa.Connection, scenario: TrafficScenario
                ) -> tuple[RoadNetwork, dict[str, list[int]]]:
    """The roads within area_km of the pilot segments' centre (the seat's core, where the
    pilot segments were chosen) and each pilot segment's directed segment keys."""
    rows = conn.execute(PILOTS).all()
    if not rows:
        raise TrafficRunError("no pilot segments in the database (is the county loaded?)")
    lines = {r.code: shapely.from_wkb(bytes(r.wkb)) for r in rows}
    centre = shapely.MultiLineString(list(lines.values())).centroid
    network = load_network(conn, seat_bbox(centre.x, centre.y, scenario.area_km))
    return network, pilot_keys(network, lines)


def plan_for(engine: sa.Engine, scenario: TrafficScenario, start: datetime, *,
             fix_interval_s: int | None = None, noise_m: float | None = None) -> TrafficPlan:
    with engine.connect() as conn:
        network, pilot = load_inputs(conn, scenario)
    return plan_traffic(scenario, network, pilot, start, fix_interval_s=fix_interval_s,
                        noise_m=noise_m)
