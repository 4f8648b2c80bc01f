"""Which cameras can see a place, through the real app and PostGIS: a point behind a building
is not seen but counted as blocked; online first, then by distance; the covered share of the
disc; a preset that sees; the GiST index; bad input; rights."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.cameras import seeing, views
from backend.catalog.layers import LayerCatalog
from tests.cameras.conftest import Scene
from tests.conftest import bearer, login_token

P = (1000.0, 50.0)  # the place asked about, metres from ORIGIN
# The disc's share left of a line 100 sin(1 deg) from its centre (a 10 m disc): the segment
# r^2 acos(d/r) - d sqrt(r^2 - d^2) is outside.
_D = 100 * math.sin(math.radians(1))
EDGE_SHARE = 1 - (100 * math.acos(_D / 10) - _D * math.sqrt(100 - _D * _D)) / (math.pi * 100)


@pytest.fixture(scope="module")
def place(scene: Scene, client: TestClient) -> Iterator[dict]:
    ids = {
        "blocked": scene.camera("t-see-blocked", 1000, 0, 0),          # the building between
        "far": scene.camera("t-see-far", 1000, 130, 180, fov=60),       # 80 m, online
        "offline": scene.camera("t-see-offline", 1030, 50, 270, fov=60, status="offline"),
        "near": scene.camera("t-see-near", 960, 50, 90),                # 40 m, online
        "preset": scene.camera("t-see-preset", 1050, 80, 0, fov=40),    # sees it at preset 1
        "edge": scene.camera("t-see-edge", 900, 50, 46, range_m=150),   # its edge 1 deg off
        "beyond": scene.camera("t-see-beyond", 1000, 300, 180),         # 250 m: out of range
        "away": scene.camera("t-see-away", 1000, 100, 0),               # faces away
    }
    scene.building("t-see-wall", 995, 20, 1005, 30)
    bearing = math.degrees(math.atan2(P[0] - 1050, P[1] - 80)) % 360
    with scene.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO camera_presets (camera_id, preset_no, heading_deg, "
                             "fov_deg, range_m) VALUES (:c, 1, :h, 40, 100)"),
                     {"c": ids["preset"], "h": round(bearing, 1)})
    scene.compute(*ids.values())
    lon, lat = scene.lonlat(*P)
    yield {"ids": ids, "lon": lon, "lat": lat}


def ask(client: TestClient, place: dict, headers: dict | None = None, **params: object
        ) -> dict:
    response = client.get("/api/cameras/seeing", headers=headers or {},
                          params={"lon": place["lon"], "lat": place["lat"], **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_seen_online_first_then_by_distance_and_the_blocked_one_counted(
    client: TestClient, place: dict
) -> None:
    out = ask(client, place)
    mine = [c for c in out["cameras"] if c["code"].startswith("t-see-")]
    assert [c["code"] for c in mine] == ["t-see-near", "t-see-preset", "t-see-far",
                                         "t-see-edge", "t-see-offline"]
    assert out["blocked"] == 1  # t-see-blocked: in range, facing it, behind the wall
    assert out["disc_m"] == 10 and out["cameras"] == mine  # nothing else out here
    near, preset, far, edge, offline = mine
    assert near["distance_m"] == pytest.approx(40, abs=0.1)
    assert far["distance_m"] == pytest.approx(80, abs=0.1)
    assert (near["view_no"], near["status"], near["kind"]) == (0, "online", "tianwang")
    assert offline["status"] == "offline" and offline["distance_m"] == pytest.approx(30, abs=0.1)
    assert preset["view_no"] == 1  # its own heading looks north, away from the place
    assert near["coverage_share"] == pytest.approx(1.0, abs=1e-3)
    assert edge["coverage_share"] == pytest.approx(EDGE_SHARE, abs=0.01)


def test_behind_the_building_the_camera_does_not_see(client: TestClient, place: dict,
                                                     scene: Scene) -> None:
    """In front of the wall the blocked camera sees; right behind it not."""
    lon, lat = scene.lonlat(1000, 15)
    front = ask(client, {"lon": lon, "lat": lat})
    assert "t-see-blocked" in {c["code"] for c in front["cameras"]}
    lon, lat = scene.lonlat(1000, 32)
    behind = ask(client, {"lon": lon, "lat": lat})
    assert "t-see-blocked" not in {c["code"] for c in behind["cameras"]}
    assert behind["blocked"] == 1


def test_limit_and_disc(client: TestClient, place: dict) -> None:
    assert [c["code"] for c in ask(client, place, limit=2)["cameras"]] == [
        "t-see-near", "t-see-preset"]
    wide = ask(client, place, disc_m=100)
    assert wide["disc_m"] == 100
    assert all(0 < c["coverage_share"] < 1 for c in wide["cameras"])


@pytest.mark.parametrize("params", [{"lon": "abc"}, {"lat": "nan"}, {"lat": 91},
                                    {"disc_m": 0}, {"disc_m": 101}, {"limit": 0},
                                    {"limit": "51"}, {"lon": ""}, {"lat": "3" * 5000},
                                    {"limit": "0" * 5000 + "5"}])
def test_bad_input_is_400_naming_the_value(client: TestClient, place: dict, params: dict
                                           ) -> None:
    query = {"lon": place["lon"], "lat": place["lat"], **params}
    response = client.get("/api/cameras/seeing", params=query)
    assert response.status_code == 400, response.text
    assert next(iter(params)) in response.json()["detail"]


def test_rights(client: TestClient, place: dict, app, monkeypatch: pytest.MonkeyPatch  # noqa: ANN001
                ) -> None:
    assert client.get("/api/cameras/seeing", params=place, headers={
        "Authorization": ""}).status_code == 401
    grid = client.get("/api/cameras/seeing", params={"lon": place["lon"], "lat": place["lat"]},
                      headers=bearer(client, "grid_worker"))
    assert grid.status_code == 403 and "cameras:read" in grid.json()["detail"]
    assert ask(client, place, bearer(client, "dispatcher"))["cameras"]
    supervisor = {"Authorization": f"Bearer {login_token(client, 'supervisor')}"}
    refused = client.get("/api/cameras/seeing", headers=supervisor,
                         params={"lon": place["lon"], "lat": place["lat"]})
    assert refused.status_code == 403
    # A county whose cameras layer names the supervisors: they may ask.
    resources = app.state.resources
    named = resources.catalog["cameras"].model_copy(
        update={"roles": [*resources.catalog["cameras"].roles, "supervisor"]})
    catalog = LayerCatalog([named if s.id == "cameras" else s for s in resources.catalog.layers],
                           resources.catalog.domains)
    monkeypatch.setattr(resources, "catalog", catalog)
    assert ask(client, place, supervisor)["cameras"]


def test_the_search_uses_the_gist_indexes(engine: sa.Engine, place: dict) -> None:
    params = {"lon": place["lon"], "lat": place["lat"], "srid": 4548, "disc": 10, "limit": 20,
              "segments": seeing.DISC_SEGMENTS, "m_per_deg": seeing.M_PER_DEG}
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(conn.execute(sa.text("EXPLAIN " + seeing.SEEING_SQL), params).scalars())
        assert "idx_camera_views_geom" in plan, plan
        plan = "\n".join(conn.execute(sa.text("EXPLAIN " + seeing.BLOCKED_SQL), params).scalars())
        assert "idx_cameras_geom" in plan, plan


def test_the_server_computed_the_county_views_at_start(client: TestClient, scene: Scene
                                                       ) -> None:
    """The app's lifespan started the refresh in the background: the demo county's cameras
    get their views without anyone asking."""
    deadline = time.monotonic() + 60
    while True:
        with scene.engine.connect() as conn:
            missing = conn.execute(sa.text(
                "SELECT count(*) FROM cameras c WHERE c.source <> :s AND NOT EXISTS "
                "(SELECT 1 FROM camera_views v WHERE v.camera_id = c.id)"),
                {"s": "test-cameras"}).scalar_one()
            total = conn.execute(sa.text("SELECT count(*) FROM camera_views v JOIN cameras c "
                                         "ON c.id = v.camera_id WHERE c.source <> :s"),
                                 {"s": "test-cameras"}).scalar_one()
        if missing == 0 and total > 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert missing == 0 and total > 0
    assert views  # the module the server runs
