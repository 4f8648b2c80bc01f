"""Run the traffic-peak scenario through the real HTTP ingest: the plan's fixes (backend.
simulation.traffic_plan) posted in simulated real time to `POST /api/ingest/positions`, one
batch per tick, as a taxi company's and a car-data provider's platforms would forward them.

Before the first fix: the vehicles are put in the fleet register (taxis as taxis, private cars
as `other`) and the scenario's typical speeds are seeded. At the accident's report time the
122 hotline's case (category from the yaml, e.g. 交通事故) is filed through the incidents
service, at its simulated time, by a simulated 122 operator.
"""

from __future__ import annotations

import asyncio
import http.client
import secrets
import ssl
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson
import shapely
import sqlalchemy as sa

from backend.catalog.traffic_scenarios import TrafficScenario
from backend.errors import CityOpsError
from backend.ingest.records import MAX_BATCH
from backend.simulation.traffic_plan import TrafficPlan, pilot_keys, plan_traffic, seat_bbox
from backend.traffic.network import RoadNetwork, load_network
from backend.traffic.service import seed_typical

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


@dataclass
class TrafficRunReport:
    scenario: str
    start: datetime
    vehicles: int = 0
    ticks: int = 0
    fixes_sent: int = 0
    fixes_accepted: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)   # by the ingest's reason
    failures: Counter[str] = field(default_factory=Counter)   # batches that did not get through
    typical_rows: int = 0
    case_no: str | None = None
    wall_s: float = 0.0

    def lines(self) -> list[str]:
        out = [f"{self.scenario}: {self.vehicles} vehicles, {self.fixes_accepted} of "
               f"{self.fixes_sent} fixes accepted ({self.duplicates} duplicates) in "
               f"{self.ticks} batches, {self.wall_s:.0f} s",
               f"  typical speeds seeded: {self.typical_rows} rows; accident case: "
               f"{self.case_no or 'not filed'}"]
        if self.rejected:
            out.append(f"  rejected: {dict(self.rejected)}")
        if self.failures:
            out.append(f"  failed: {dict(self.failures)}")
        return out


class IngestClient:
    """POST /api/ingest/positions on one keep-alive connection (used from one thread at a
    time), with the ingest token. A lost connection is opened again once per batch."""

    def __init__(self, base_url: str, token: str) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise TrafficRunError(f"{base_url!r} is not an http(s) URL of the server")
        self.url, self.token = url, token
        self.path = url.path.rstrip("/") + "/api/ingest/positions"
        self.conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self.url.scheme == "https":
            # the server's own certificate on loopback: its name is the intranet's, not ours
            context = ssl.create_default_context()
            if self.url.hostname in ("127.0.0.1", "localhost", "::1"):
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            return http.client.HTTPSConnection(self.url.hostname, self.url.port,
                                               timeout=REQUEST_TIMEOUT_S, context=context)
        return http.client.HTTPConnection(self.url.hostname, self.url.port,
                                          timeout=REQUEST_TIMEOUT_S)

    def post(self, records: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        body = orjson.dumps({"positions": records})
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = self._connect()
                self.conn.request("POST", self.path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                return response.status, (orjson.loads(data) if data else {})
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def register_fleet(engine: sa.Engine, plan: TrafficPlan) -> None:
    """The taxis and cars in the fleet register (labels, operator, class), as the taxi
    company's platform would have them."""
    from backend.vehicles.fleet import register_vehicles

    with engine.begin() as conn:
        register_vehicles(conn, [
            {"vehicle_id": v.vehicle_id, "label": v.label, "vehicle_class": v.vehicle_class,
             "operator": v.operator, "line_code": None} for v in plan.vehicles])


def seed_typical_speeds(engine: sa.Engine, plan: TrafficPlan) -> int:
    """The scenario's typical speeds for the run's slots (traffic_typical), through the
    traffic service."""
    with engine.begin() as conn:
        return seed_typical(conn, plan.typical)


def file_accident_case(engine: sa.Engine, plan: TrafficPlan) -> str:
    """The 122 hotline's report of the crash, filed through the incidents service at its
    simulated time by a simulated 122 operator (监督中心 enters hotline cases). Idempotent
    per run (the key names the scenario, seed and start)."""
    from backend.auth.permissions import principal_for
    from backend.auth.users import create_user
    from backend.incidents.service import NewIncident, create_incident

    acc = plan.accident
    key = f"{plan.scenario.name}/{plan.scenario.seed}/{plan.start.isoformat()}/accident"
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
        user = conn.execute(sa.text(
            "SELECT id, username, display_name, roles FROM users WHERE username = :u"),
            {"u": OPERATOR_122}).first()
        if user is None:
            create_user(conn, OPERATOR_122, secrets.token_urlsafe(24), ["supervisor"],
                        display_name="122接警员（模拟）", actor=f"scenario:{plan.scenario.name}")
            user = conn.execute(sa.text(
                "SELECT id, username, display_name, roles FROM users WHERE username = :u"),
                {"u": OPERATOR_122}).one()
        who = principal_for(user.id, user.username, user.display_name, user.roles)
        incident_id, _ = create_incident(conn, NewIncident(
            category_code=acc.category, description=acc.description, lon=acc.lon, lat=acc.lat,
            source="hotline", urgency="urgent", idempotency_key=key,
            reporter_name=acc.reporter_name), who, acc.reported_at)
        return conn.execute(sa.text("SELECT case_no FROM incidents WHERE id = :i"),
                            {"i": incident_id}).scalar_one()


def default_start(scenario: TrafficScenario, speed: float) -> datetime:
    """Now, or (faster than real time) so long ago that no fix is ever in the future."""
    now = datetime.now(UTC).replace(microsecond=0)
    return now if speed <= 1.0 else now - timedelta(seconds=scenario.duration_s)


async def run_traffic(scenario: TrafficScenario, *, engine: sa.Engine, base_url: str,
                      token: str, speed: float = 1.0, start: datetime | None = None,
                      plan: TrafficPlan | None = None) -> TrafficRunReport:
    """Plan `scenario` (or take `plan`), register its vehicles, seed its typical speeds, then
    post each tick's fixes to the server at `base_url` when the tick ends on the simulated
    clock (tick_s / speed wall seconds apart), filing the accident case when its report time
    has passed."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    if plan is None:
        start = start or default_start(scenario, speed)
        plan = await asyncio.to_thread(plan_for, engine, scenario, start)
    report = TrafficRunReport(scenario=scenario.name, start=plan.start,
                              vehicles=len(plan.vehicles))
    await asyncio.to_thread(register_fleet, engine, plan)
    report.typical_rows = await asyncio.to_thread(seed_typical_speeds, engine, plan)
    client = IngestClient(base_url, token)
    report_at = (plan.accident.reported_at - plan.start).total_seconds()
    began = time.monotonic()
    try:
        for end_s, lo, hi in plan.ticks():
            delay = began + end_s / speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            report.ticks += 1
            for a in range(lo, hi, MAX_BATCH):
                await _post(client, plan, a, min(a + MAX_BATCH, hi), report)
            if report.case_no is None and end_s >= report_at:
                try:
                    report.case_no = await asyncio.to_thread(file_accident_case, engine, plan)
                except CityOpsError as exc:  # e.g. the category is not loaded: say so, go on
                    report.failures[f"case: {exc}"] += 1
                    report_at = float("inf")
    finally:
        client.close()
        report.wall_s = round(time.monotonic() - began, 3)
    return report


async def _post(client: IngestClient, plan: TrafficPlan, lo: int, hi: int,
                report: TrafficRunReport) -> None:
    records = plan.records(lo, hi)
    report.fixes_sent += len(records)
    try:
        status, answer = await asyncio.to_thread(client.post, records)
    except (OSError, http.client.HTTPException) as exc:
        report.failures[type(exc).__name__] += 1
        return
    if status >= 500 or status in (401, 403, 404, 413, 503):
        report.failures[f"http_{status}"] += 1
        if status in (401, 403):
            raise TrafficRunError(f"the server refused the ingest token ({status}): "
                                  "set CITYOPS_INGEST_TOKEN to the server's")
        return
    report.fixes_accepted += int(answer.get("accepted", 0))
    report.duplicates += int(answer.get("duplicates", 0))
    for rejected in answer.get("rejected", []):
        report.rejected[str(rejected.get("reason", "?")).split(":", 1)[0]] += 1
