"""The dispatch desk and the KPIs through the real app and PostGIS: who and what is near a case
(ordered by geodesic distance, checked against pyproj's own geodesic), radius validation, the
GiST index in the plans, the header counts, and KPI numbers against a hand-computed fixture."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pyproj import Geod

from backend.auth.users import create_user
from backend.cameras import views
from backend.catalog.camera_views import load_camera_views
from backend.incidents import desk
from tests.conftest import bearer

GEOD = Geod(ellps="WGS84")
# On a road of the county seat's grid (13 m from the nearest building, so that a camera can
# see it), a little off the other tests' point.
SPOT = (117.883184, 33.481297)
TAG = "t-desk"


def offset(bearing: float, metres: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(SPOT[0], SPOT[1], bearing, metres)
    return lon, lat


def geodesic(lon: float, lat: float) -> float:
    return GEOD.inv(SPOT[0], SPOT[1], lon, lat)[2]


@pytest.fixture(scope="module")
def as_(client: TestClient) -> dict[str, dict[str, str]]:
    """Bearer headers per role (each login pays for argon2: once per module)."""
    return {r: bearer(client, r) for r in ("dispatcher", "viewer", "grid_worker",
                                           "department_handler")}


@pytest.fixture(scope="module")
def scene(client: TestClient, engine: sa.Engine) -> Iterator[dict]:
    """A case at SPOT; grid workers, vehicles and cameras at known distances around it."""
    case = client.post("/api/incidents", json={
        "category_code": "E0101", "description": "desk test", "lon": SPOT[0],
        "lat": SPOT[1]}).json()
    now = datetime.now(UTC)
    workers = {  # name: (bearing, metres, minutes ago, roles)
        f"{TAG}-near": (10, 120, 1, ["grid_worker"]),
        f"{TAG}-mid": (200, 800, 5, ["grid_worker"]),
        f"{TAG}-far": (90, 3000, 29, ["grid_worker"]),
        f"{TAG}-stale": (300, 50, 31, ["grid_worker"]),          # too old: not available
        f"{TAG}-handler": (0, 60, 1, ["department_handler"]),   # not a grid worker
        f"{TAG}-beyond": (45, 6000, 1, ["grid_worker"]),        # outside the default reach
        f"{TAG}-home": (0, None, 0, ["grid_worker"]),          # the grid's own, phone silent
    }
    vehicles = {  # id: (bearing, metres, minutes ago)
        f"{TAG}-bus": (30, 200, 1), f"{TAG}-old": (30, 90, 11), f"{TAG}-van": (250, 1500, 9)}
    # c1 8 m off, looking at the case (nothing between: no building within 13 m); c2 and c3
    # farther than their range; c4 beside the case, looking away.
    cameras = {f"{TAG}-c1": (0, 8, 180), f"{TAG}-c2": (120, 450, 300),
               f"{TAG}-c3": (240, 520, 60), f"{TAG}-c4": (90, 5, 90)}
    with engine.begin() as conn:
        for name, (bearing, metres, ago, roles) in workers.items():
            uid = create_user(conn, name, f"{name[::-1]}-password", roles, display_name=name,
                              phone="13800001111")
            if metres is None:
                continue
            lon, lat = offset(bearing, metres)
            conn.execute(sa.text("INSERT INTO worker_positions (user_id, time, lon, lat) "
                                 "VALUES (:u, :t, :lon, :lat)"),
                         {"u": uid, "t": now - timedelta(minutes=ago), "lon": lon, "lat": lat})
        for own in (f"{TAG}-near", f"{TAG}-home"):  # the case grid's assigned workers
            conn.execute(sa.text("INSERT INTO grid_workers (grid_code, user_id) SELECT :g, id "
                                 "FROM users WHERE username = :u"),
                         {"g": case["grid_code"], "u": own})
        line = conn.execute(sa.text("SELECT id, code FROM bus_lines ORDER BY id LIMIT 1")).first()
        conn.execute(sa.text("INSERT INTO vehicles (vehicle_id, label, plate, line_id) "
                             "VALUES (:v, '1路#99', '皖L·D0001', :line)"),
                     {"v": f"{TAG}-bus", "line": line.id})
        for vid, (bearing, metres, ago) in vehicles.items():
            lon, lat = offset(bearing, metres)
            at = now - timedelta(minutes=ago)
            conn.execute(sa.text(
                "INSERT INTO vehicle_latest (vehicle_id, time, received_at, lon, lat, source) "
                "VALUES (:v, :t, :t, :lon, :lat, 'test')"),
                {"v": vid, "t": at, "lon": lon, "lat": lat})
        for code, (bearing, metres, heading) in cameras.items():
            lon, lat = offset(bearing, metres)
            conn.execute(sa.text(
                "INSERT INTO cameras (source, source_key, code, name, kind, status, "
                "direction_deg, fov_deg, range_m, geom) VALUES ('test-desk', :c, :c, :c, "
                "'tianwang', 'online', :h, 90, 60, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"),
                {"c": code, "lon": lon, "lat": lat, "h": heading})
        ids = conn.execute(sa.text("SELECT id FROM cameras WHERE source = 'test-desk'")).scalars()
        views.compute(conn, list(ids), load_camera_views())
    yield {"case": case, "line": line}
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM cameras WHERE source = 'test-desk'"))
        conn.execute(sa.text("DELETE FROM vehicle_latest WHERE vehicle_id LIKE :p"),
                     {"p": f"{TAG}-%"})
        conn.execute(sa.text("DELETE FROM vehicles WHERE vehicle_id LIKE :p"), {"p": f"{TAG}-%"})
        conn.execute(sa.text("DELETE FROM users WHERE username LIKE :p"), {"p": f"{TAG}-%"})


def nearby(client: TestClient, case: dict, headers: dict | None = None, **params: object
           ) -> dict:
    response = client.get(f"/api/incidents/{case['id']}/nearby", params=params,
                          headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()


def test_nearest_workers_vehicles_and_cameras_by_distance(client: TestClient, scene: dict
                                                          ) -> None:
    out = nearby(client, scene["case"], radius_m=500)
    assert out["incident"]["id"] == scene["case"]["id"] and out["radius_m"] == 500
    mine = [w for w in out["workers"] if w["username"].startswith(TAG)]
    # The grid's own first (by cell assignment; one whose phone never reported too), then the
    # nearest available others by distance.
    assert [w["username"] for w in mine] == [f"{TAG}-near", f"{TAG}-home", f"{TAG}-mid",
                                             f"{TAG}-far"]
    home = mine[1]
    assert home["in_case_grid"] and home["distance_m"] is None and home["age_s"] is None
    distances = [w["distance_m"] for w in out["workers"] if not w["in_case_grid"]]
    assert distances == sorted(distances)
    near = mine[0]
    assert near["distance_m"] == pytest.approx(120, abs=0.5)
    assert near["distance_m"] == pytest.approx(geodesic(near["lon"], near["lat"]), abs=0.05)
    assert near["in_case_grid"] and near["grids"][0]["grid_code"] == scene["case"]["grid_code"]
    assert near["open_cases"] == 0 and near["phone"] == "13800001111"  # admin: personal data
    assert 50 <= near["age_s"] <= 120 and not mine[2]["grids"]

    # Vehicles honour the radius (issue 15: a van 1.5 km away was listed for 500 m).
    buses = [v for v in out["vehicles"] if v["vehicle_id"].startswith(TAG)]
    assert [v["vehicle_id"] for v in buses] == [f"{TAG}-bus"]  # -old is stale, -van too far
    assert all(v["distance_m"] <= 500 for v in out["vehicles"])
    bus = buses[0]
    assert bus["label"] == "1路#99" and bus["line_code"] == scene["line"].code
    assert bus["distance_m"] == pytest.approx(200, abs=0.5)
    wide = nearby(client, scene["case"], radius_m=2000)
    buses = [v for v in wide["vehicles"] if v["vehicle_id"].startswith(TAG)]
    assert [v["vehicle_id"] for v in buses] == [f"{TAG}-bus", f"{TAG}-van"]
    assert buses[1]["label"] is None  # not in the fleet register: still listed
    assert [v["distance_m"] for v in wide["vehicles"]] == sorted(
        v["distance_m"] for v in wide["vehicles"])

    cams = out["cameras"]
    assert [c["code"] for c in cams if c["code"].startswith(TAG)] == [f"{TAG}-c1"]
    c1 = cams[[c["code"] for c in cams].index(f"{TAG}-c1")]
    assert c1["distance_m"] == pytest.approx(8, abs=0.1) and c1["view_no"] == 0
    assert c1["coverage_share"] > 0.5 and c1["status"] == "online"


def test_the_cameras_are_those_that_see_the_place(client: TestClient, scene: dict) -> None:
    """The desk's camera list is the seeing answer for the case's place, whatever the radius
    (issue 11: a camera near the case that looks away, or is blocked, cannot show it)."""
    case = scene["case"]
    seeing = client.get("/api/cameras/seeing", params={"lon": case["lon"], "lat": case["lat"]})
    assert seeing.status_code == 200, seeing.text
    for radius in (1, 500, 5000):
        out = nearby(client, case, radius_m=radius)
        assert out["cameras"] == seeing.json()["cameras"]
        assert out["cameras_blocked"] == seeing.json()["blocked"]
    assert f"{TAG}-c4" not in {c["code"] for c in seeing.json()["cameras"]}  # looks away


def test_reach_and_limit(client: TestClient, scene: dict) -> None:
    wide = nearby(client, scene["case"], reach_m=8000, limit=50)
    assert f"{TAG}-beyond" in {w["username"] for w in wide["workers"]}
    one = nearby(client, scene["case"], limit=1, radius_m=2000)
    others = [w for w in one["workers"] if not w["in_case_grid"]]
    assert len(others) == 1 and len(one["vehicles"]) == 1
    assert {f"{TAG}-near", f"{TAG}-home"} <= {w["username"] for w in one["workers"]}
    short = nearby(client, scene["case"], reach_m=500)
    assert all(w["distance_m"] <= 500 for w in short["workers"] if not w["in_case_grid"])
    assert f"{TAG}-mid" not in {w["username"] for w in short["workers"]}


@pytest.mark.parametrize("params", [{"radius_m": 0}, {"radius_m": 5001}, {"radius_m": "abc"},
                                    {"radius_m": "nan"}, {"reach_m": 20001}, {"limit": 0},
                                    {"limit": 51}, {"limit": "2.5"}])
def test_bad_radius_reach_or_limit_is_400(client: TestClient, scene: dict, params: dict
                                          ) -> None:
    response = client.get(f"/api/incidents/{scene['case']['id']}/nearby", params=params)
    assert response.status_code == 400, response.text
    assert next(iter(params)) in response.json()["detail"]


def test_nearby_edges_and_rights(client: TestClient, scene: dict,
                                 as_: dict[str, dict[str, str]]) -> None:
    assert nearby(client, scene["case"], radius_m=5000)["radius_m"] == 5000
    assert nearby(client, scene["case"], radius_m=1)["vehicles"] == []
    assert client.get("/api/incidents/999999999/nearby").status_code == 404
    assert nearby(client, scene["case"], as_["dispatcher"])["workers"]
    viewer = client.get(f"/api/incidents/{scene['case']['id']}/nearby",
                        headers=as_["viewer"])
    assert viewer.status_code == 403  # viewers read cases but do not act on them
    grid = client.get(f"/api/incidents/{scene['case']['id']}/nearby",
                      headers=as_["grid_worker"])
    assert grid.status_code == 403 and "not one of yours" in grid.json()["detail"]


def login(client: TestClient, engine: sa.Engine, name: str, roles: list[str],
          department: str | None = None) -> dict[str, str]:
    with engine.begin() as conn:
        create_user(conn, name, f"{name[::-1]}-password", roles, department=department)
    token = client.post("/api/auth/login", json={"username": name,
                                                 "password": f"{name[::-1]}-password"})
    client.cookies.clear()
    return {"Authorization": f"Bearer {token.json()['token']}"}


def test_a_grid_worker_gets_no_vehicles_cameras_or_workers(
    client: TestClient, scene: dict, as_: dict[str, dict[str, str]]
) -> None:
    """Issue 8, defect 8: as grid01, the nearby answer of their own case listed 5 vehicles
    (plates, live positions) and 100 cameras. Each part needs the right for its data."""
    mine = client.post("/api/incidents", headers=as_["grid_worker"], json={
        "category_code": "E0101", "description": "desk scope test", "lon": SPOT[0],
        "lat": SPOT[1]}).json()
    out = nearby(client, mine, as_["grid_worker"], radius_m=500)
    assert out["workers"] == [] and out["vehicles"] == [] and out["cameras"] == []
    assert {w["part"] for w in out["withheld"]} == {"workers", "vehicles", "cameras"}
    assert all(w["reason"] for w in out["withheld"])
    # The same case, for the admin: every part is there and nothing is withheld.
    full = nearby(client, mine, radius_m=500)
    assert full["vehicles"] and full["cameras"] and full["workers"] and full["withheld"] == []


def test_a_unit_handler_gets_no_workers_vehicles_or_cameras(
    client: TestClient, scene: dict, engine: sa.Engine
) -> None:
    handler = login(client, engine, f"{TAG}-h2", ["department_handler"],
                    scene["case"]["department_code"])
    out = nearby(client, scene["case"], handler)
    assert (out["workers"], out["vehicles"], out["cameras"]) == ([], [], [])
    assert [w["part"] for w in out["withheld"]] == ["workers", "vehicles", "cameras"]


def test_a_police_officer_on_a_case_desk_would_see_cameras_by_the_layer_roles(
    client: TestClient, scene: dict, engine: sa.Engine
) -> None:
    """Cameras follow the cameras layer's roles; vehicles follow vehicles:read; workers
    follow workers:read: a caller with two of the three gets exactly those two."""
    both = login(client, engine, f"{TAG}-police-disp", ["traffic_police", "department_handler"],
                 scene["case"]["department_code"])
    out = nearby(client, scene["case"], both, radius_m=500)
    assert out["vehicles"] and out["cameras"] and out["workers"] == []
    assert [w["part"] for w in out["withheld"]] == ["workers"]


def test_dispatchers_see_workers_phones_in_full_and_the_look_is_audited(
    client: TestClient, scene: dict, as_: dict[str, dict[str, str]], engine: sa.Engine
) -> None:
    with engine.connect() as conn:
        before = conn.execute(sa.text("SELECT max(id) FROM audit_log")).scalar() or 0
    out = nearby(client, scene["case"], as_["dispatcher"])
    near = next(w for w in out["workers"] if w["username"] == f"{TAG}-near")
    assert near["phone"] == "13800001111" and out["withheld"] == []
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT actor, action, entity, data FROM audit_log WHERE id > :b ORDER BY id"),
            {"b": before}).all()
    looks = [r for r in rows if r.action == "privacy.unmasked_view"]
    assert len(looks) == 1  # one row per answer
    assert looks[0].actor == "dispatcher" and looks[0].entity == "user"
    assert f"{TAG}-near" in looks[0].data["ids"] and looks[0].data["fields"] == ["phone"]
    assert looks[0].data["incident_id"] == scene["case"]["id"]


@pytest.mark.parametrize("sql", ["WORKERS_SQL", "VEHICLES_SQL"])  # cameras: test_seeing.py
def test_spatial_searches_use_the_gist_index(engine: sa.Engine, sql: str) -> None:
    """With sequential scans priced out, each plan reaches its table through the geom index
    (so a large table is never scanned whole); the demo's small tables may not need it."""
    dlon, dlat = desk.degree_box(SPOT[1], 500)
    params = {"lon": SPOT[0], "lat": SPOT[1], "dlon": dlon, "dlat": dlat, "reach": 500,
              "radius": 500, "limit": 5, "grid": "x",
              "open": desk.OPEN_STATES, "worker_since": datetime.now(UTC),
              "vehicle_since": datetime.now(UTC), "probe": desk.PROBE_CLASS}
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(conn.execute(sa.text("EXPLAIN " + getattr(desk, sql)), params).scalars())
    index = {"WORKERS_SQL": "idx_worker_positions_geom",
             "VEHICLES_SQL": "idx_vehicle_latest_geom"}[sql]
    assert index in plan, plan


def test_degree_box_always_covers_the_radius() -> None:
    for lat in (0.0, 33.5, 60.0, -45.0):
        dlon, dlat = desk.degree_box(lat, 1000)
        assert GEOD.inv(0, lat, dlon, lat)[2] >= 1000
        assert GEOD.inv(0, lat, 0, min(lat + dlat, 90))[2] >= 1000
        assert GEOD.inv(0, lat, 0, lat - dlat)[2] >= 1000


def test_summary_counts_open_cases_per_state(client: TestClient,
                                            as_: dict[str, dict[str, str]]) -> None:
    before = client.get("/api/desk/summary").json()
    made = client.post("/api/incidents", json={
        "category_code": "E0101", "description": "summary", "lon": SPOT[0], "lat": SPOT[1],
        "urgency": "urgent"}).json()
    after = client.get("/api/desk/summary").json()
    assert after["states"]["reported"] == before["states"]["reported"] + 1
    assert after["open"] == before["open"] + 1 and after["urgent"] == before["urgent"] + 1
    assert set(after["states"]) >= {"reported", "filed", "dispatched", "in_progress"}
    assert "closed" not in after["states"] and after["closed_today"] >= 0
    client.post(f"/api/incidents/{made['id']}/actions/void", json={"note": "重复"})
    voided = client.get("/api/desk/summary").json()
    assert voided["voided_today"] == after["voided_today"] + 1
    assert voided["open"] == before["open"]
    mine = client.get("/api/desk/summary", headers=as_["grid_worker"])  # their own cases only
    assert mine.status_code == 200 and mine.json()["open"] < voided["open"]


# KPIs ----------------------------------------------------------------------------------------

# (department, grid index, filed at (local), dispatched, handled, state, on_time, reworks,
#  extensions). The window is November 2030, so no other test's case falls in it.
KPI_CASES = [
    ("HWS", 0, "2030-11-02T09:00", True, True, "closed", True, 0, 0),
    ("HWS", 0, "2030-11-02T10:00", True, True, "closed", False, 1, 1),
    ("HWS", 1, "2030-11-03T10:00", True, True, "in_progress", None, 1, 0),
    ("HWS", 1, "2030-11-10T10:00", True, False, "accepted", None, 0, 1),
    ("SWGS", 0, "2030-11-04T00:30", False, False, "filed", None, 0, 0),  # 11-03 in UTC
    ("SWGS", 0, "2030-11-05T15:00", True, True, "closed", True, 0, 0),
    ("GDGS", 1, "2030-11-20T08:00", False, False, "filed", None, 0, 0),
    ("HWS", 0, "2030-10-31T23:59", True, True, "closed", True, 0, 0),     # before the window
    ("HWS", 0, None, False, False, "reported", None, 0, 0),               # never filed
]
WINDOW = {"from": "2030-11-01T00:00:00+08:00", "to": "2030-12-01T00:00:00+08:00"}


@pytest.fixture(scope="module")
def kpi_cases(engine: sa.Engine) -> Iterator[list[str]]:
    with engine.begin() as conn:
        grids = conn.execute(sa.text(
            "SELECT DISTINCT ON (township_code) grid_code FROM grid_cells "
            "ORDER BY township_code, grid_code LIMIT 2")).scalars().all()
        for n, (dept, g, filed, dispatched, handled, state, on_time, reworks, extensions) \
                in enumerate(KPI_CASES):
            at = datetime.fromisoformat(f"{filed or '2030-11-15T12:00'}:00+08:00")
            conn.execute(sa.text("""
INSERT INTO incidents (case_no, category_code, description, lon, lat, grid_code, department_code,
  state, source, reported_at, filed_at, dispatched_at, handled_at, closed_at, on_time,
  rework_count, extension_count)
VALUES (:no, 'E0101', 'kpi', :lon, :lat, :grid, :dept, :state, 'inspection', :at, :filed,
  :dispatched, :handled, :closed, :on_time, :reworks, :extensions)"""), {
                "no": f"KPI-T-{n}", "lon": SPOT[0], "lat": SPOT[1], "grid": grids[g],
                "dept": dept, "state": state, "at": at, "filed": at if filed else None,
                "dispatched": at + timedelta(hours=1) if dispatched else None,
                "handled": at + timedelta(hours=3) if handled else None,
                "closed": at + timedelta(hours=5) if state == "closed" else None,
                "on_time": on_time, "reworks": reworks, "extensions": extensions})
    yield grids
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM incidents WHERE case_no LIKE 'KPI-T-%'"))


def kpis(client: TestClient, **params: str) -> dict:
    response = client.get("/api/kpi/incidents", params={**WINDOW, **params})
    assert response.status_code == 200, response.text
    return response.json()


def counts(row: dict) -> tuple:
    return tuple(row[k] for k in ("filed", "dispatched", "handled", "closed", "closed_on_time",
                                  "reworked", "extended"))


def test_kpis_by_department_match_the_hand_count(client: TestClient, kpi_cases: list[str]
                                                 ) -> None:
    out = kpis(client, group_by="department")
    assert out["window"] == "filed_at" and out["group_by"] == "department"
    by = {g["key"]: g for g in out["groups"]}
    assert set(by) == {"HWS", "SWGS", "GDGS"} and by["HWS"]["name"] == "县环境卫生管理所"
    #                            filed disp hand closed on-time rework extended
    assert counts(by["HWS"]) == (4, 4, 3, 2, 1, 2, 2)
    assert by["HWS"]["rates"] == {"closed_rate": 0.5, "on_time_rate": 0.5,
                                  "rework_rate": 0.6667, "extension_rate": 0.5}
    assert counts(by["SWGS"]) == (2, 1, 1, 1, 1, 0, 0)
    assert by["SWGS"]["rates"] == {"closed_rate": 0.5, "on_time_rate": 1.0,
                                   "rework_rate": 0.0, "extension_rate": 0.0}
    assert counts(by["GDGS"]) == (1, 0, 0, 0, 0, 0, 0)
    assert by["GDGS"]["rates"] == {"closed_rate": 0.0, "on_time_rate": None,
                                   "rework_rate": None, "extension_rate": None}
    assert counts(out["total"]) == (7, 5, 4, 3, 2, 2, 2)
    assert out["total"]["rates"] == {"closed_rate": 0.4286, "on_time_rate": 0.6667,
                                     "rework_rate": 0.5, "extension_rate": 0.4}
    assert out["total"]["open"] == 4


def test_kpis_by_grid_township_category_and_period(client: TestClient, kpi_cases: list[str]
                                                   ) -> None:
    by_grid = {g["key"]: g["filed"] for g in kpis(client, group_by="grid")["groups"]}
    assert by_grid == {kpi_cases[0]: 4, kpi_cases[1]: 3}
    townships = kpis(client, group_by="township")["groups"]
    assert [g["filed"] for g in townships] == [4, 3] and all(g["name"] for g in townships)
    category = kpis(client, group_by="category")["groups"]
    assert [(g["key"], g["filed"]) for g in category] == [("E0101", 7)]
    days = kpis(client, group_by="period", period="day")
    assert days["period"] == "day"
    assert [(g["key"], g["filed"]) for g in days["groups"]] == [
        ("2030-11-02", 2), ("2030-11-03", 1), ("2030-11-04", 1), ("2030-11-05", 1),
        ("2030-11-10", 1), ("2030-11-20", 1)]  # local days: 00:30 on the 4th is the 4th
    weeks = kpis(client, group_by="period", period="week")["groups"]
    assert [(g["key"], g["filed"]) for g in weeks] == [
        ("2030-10-28", 3), ("2030-11-04", 3), ("2030-11-18", 1)]  # weeks from Monday
    months = kpis(client, group_by="period", period="month")
    assert [(g["key"], g["filed"]) for g in months["groups"]] == [("2030-11", 7)]
    assert counts(months["groups"][0]) == counts(months["total"])


def test_an_empty_window_has_zero_counts_and_null_rates(client: TestClient) -> None:
    out = client.get("/api/kpi/incidents", params={
        "from": "2031-01-01T00:00:00Z", "to": "2031-01-02T00:00:00Z"}).json()
    assert out["groups"] == [] and out["total"]["filed"] == 0
    assert set(out["total"]["rates"].values()) == {None}


@pytest.mark.parametrize(("params", "words"), [
    ({}, "from is required"),
    ({"from": "2030-11-01T00:00:00", "to": "2030-11-02T00:00:00+08:00"}, "offset"),
    ({"from": "yesterday", "to": "2030-11-02T00:00:00+08:00"}, "ISO 8601"),
    ({"from": "2030-11-02T00:00:00+08:00", "to": "2030-11-02T00:00:00+08:00"}, "after"),
    ({"from": "2030-01-01T00:00:00+08:00", "to": "2031-01-03T00:00:00+08:00"}, "366"),
    ({**WINDOW, "group_by": "street"}, "department"),
    ({**WINDOW, "group_by": "period", "period": "hour"}, "month"),
])
def test_bad_kpi_queries_are_400(client: TestClient, params: dict, words: str) -> None:
    response = client.get("/api/kpi/incidents", params=params)
    assert response.status_code == 400 and words in response.json()["detail"], response.text


def test_an_unencoded_plus_in_the_offset_still_works(client: TestClient) -> None:
    response = client.get("/api/kpi/incidents?from=2030-11-01T00:00:00+08:00"
                          "&to=2030-12-01T00:00:00+08:00")
    assert response.status_code == 200 and response.json()["from"].endswith("+08:00")


def test_kpi_rights(client: TestClient, as_: dict[str, dict[str, str]]) -> None:
    for role, status in (("viewer", 200), ("dispatcher", 200), ("grid_worker", 403),
                         ("department_handler", 403)):
        got = client.get("/api/kpi/incidents", params=WINDOW, headers=as_[role])
        assert got.status_code == status, role
