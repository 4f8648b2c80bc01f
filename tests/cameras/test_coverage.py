"""Road coverage per grid cell on the real PostGIS: a hand-made cell far from the demo county
with one road across it and views placed by hand (the cones work computes real ones)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from backend.cameras.coverage import cells_touching_views, recompute_coverage
from tests.camera_codes import code_for
from tests.conftest import bearer

SRC = "test:coverage"
CELL = "341324999000001"
EMPTY_CELL = "341324999000002"
# A 0.01-degree cell at 100E 30N (nothing of the demo there); the road runs west to east along
# its middle, the west view covers exactly the west half of it, the east view the east half.
W, S, E, N = 100.0, 30.0, 100.01, 30.01
MID = (W + E) / 2


def _box(w: float, s: float, e: float, n: float) -> str:
    return f"MULTIPOLYGON((({w} {s},{e} {s},{e} {n},{w} {n},{w} {s})))"


@pytest.fixture()
def cell(engine: Engine, county: dict[str, int]) -> Iterator[dict[str, int]]:
    cams: dict[str, int] = {}
    with engine.begin() as conn:
        for code, box in ((CELL, (W, S, E, N)), (EMPTY_CELL, (E, S, E + 0.01, N))):
            conn.execute(sa.text(
                "INSERT INTO grid_cells (grid_code, name, township_code, township_name, geom, "
                "source, source_key) VALUES (:g, '测试网格', '341324999', '测试镇', "
                "ST_GeomFromText(:w, 4326), :s, :g)"), {"g": code, "w": _box(*box), "s": SRC})
        conn.execute(sa.text(
            "INSERT INTO roads (road_class, name, geom, source, source_key) VALUES "
            "('primary', '测试路', ST_GeomFromText(:w, 4326), :s, 'r1')"),
            {"w": f"LINESTRING({W - 0.005} {(S + N) / 2},{E + 0.005} {(S + N) / 2})", "s": SRC})
        for tag, lon, status in (("west", W + 0.001, "online"), ("east", E - 0.001, "offline")):
            code = code_for(f"coverage-{tag}")
            cams[tag] = conn.execute(sa.text(
                "INSERT INTO cameras (code, kind, status, source, source_key, geom) VALUES "
                "(:c, 'tianwang', :st, :s, :c, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) "
                "RETURNING id"), {"c": code, "st": status, "s": SRC, "x": lon,
                                  "y": (S + N) / 2}).scalar_one()
        views = [(cams["west"], 0, (W - 0.002, S + 0.002, MID, N - 0.002), "ok"),
                 (cams["east"], 0, (MID, S + 0.002, E + 0.002, N - 0.002), "ok"),
                 # a preset view that could not be computed: never counted
                 (cams["west"], 1, (MID, S, E, N), "inside_building")]
        for cam, no, box, status in views:
            conn.execute(sa.text(
                "INSERT INTO camera_views (camera_id, view_no, heading_deg, fov_deg, range_m, "
                "status, geom) VALUES (:c, :n, 90, 60, 100, :st, ST_GeomFromText(:w, 4326))"),
                {"c": cam, "n": no, "st": status, "w": _box(*box)})
    yield cams
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM camera_coverage WHERE grid_code IN (:a, :b)"),
                     {"a": CELL, "b": EMPTY_CELL})
        for table in ("cameras", "roads", "grid_cells"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE source = :s"), {"s": SRC})


def _row(engine: Engine, code: str) -> dict[str, object]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT * FROM camera_coverage WHERE grid_code = :g"),
                                 {"g": code}).mappings().one())


def test_half_the_road_in_an_online_view_is_half_covered(engine: Engine,
                                                         cell: dict[str, int]) -> None:
    run = recompute_coverage(engine, [CELL, EMPTY_CELL])
    assert run.cells == 2
    got = _row(engine, CELL)
    # 0.01 degree of longitude at 30N, geodesic: about 964 m
    assert got["road_m"] == pytest.approx(964.8, abs=1.0)
    assert got["covered_m"] == pytest.approx(got["road_m"] / 2, rel=1e-6)
    assert got["share"] == pytest.approx(0.5, abs=1e-6)
    assert got["cameras"] == 1  # the offline camera does not count
    empty = _row(engine, EMPTY_CELL)  # the road's tail only: no camera sees it
    assert empty["share"] == 0 and empty["cameras"] == 0 and empty["road_m"] > 0


def test_offline_cameras_do_not_count_until_they_come_back(engine: Engine,
                                                           cell: dict[str, int]) -> None:
    recompute_coverage(engine, [CELL])
    assert _row(engine, CELL)["share"] == pytest.approx(0.5, abs=1e-6)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE cameras SET status = 'online' WHERE id = :c"),
                     {"c": cell["east"]})
        touched = cells_touching_views(conn, [cell["east"]])
    assert touched == [CELL, EMPTY_CELL]
    recompute_coverage(engine, touched)
    assert _row(engine, CELL)["share"] == pytest.approx(1.0, abs=1e-6)
    assert _row(engine, CELL)["cameras"] == 2
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE cameras SET status = 'fault' WHERE id = :c"),
                     {"c": cell["west"]})
    recompute_coverage(engine, [CELL])
    assert _row(engine, CELL)["share"] == pytest.approx(0.5, abs=1e-6)


def test_api_lists_cells_least_covered_first(engine: Engine, cell: dict[str, int],
                                            client: TestClient, anonymous: TestClient) -> None:
    recompute_coverage(engine, [CELL, EMPTY_CELL])
    answer = client.get("/api/cameras/coverage", headers=bearer(client, "dispatcher"))
    assert answer.status_code == 200, answer.text
    cells = answer.json()["cells"]
    shares = [c["share"] for c in cells if c["share"] is not None]
    assert shares == sorted(shares)
    mine = {c["grid_code"]: c for c in cells if c["grid_code"] in (CELL, EMPTY_CELL)}
    assert mine[CELL]["share"] == pytest.approx(0.5, abs=1e-6) and mine[EMPTY_CELL]["share"] == 0
    refused = client.get("/api/cameras/coverage", headers=bearer(client, "grid_worker"))
    assert refused.status_code == 403
    assert anonymous.get("/api/cameras/coverage").status_code == 401


def test_the_coverage_layer_draws_the_cells(engine: Engine, cell: dict[str, int],
                                            client: TestClient) -> None:
    recompute_coverage(engine, [CELL])
    with engine.connect() as conn:
        share = conn.execute(sa.text("SELECT share FROM camera_coverage_cells WHERE grid_code "
                                     "= :g"), {"g": CELL}).scalar_one()
    assert share == pytest.approx(0.5, abs=1e-6)
    tilejson = client.get("/tiles/camera_coverage.json", headers=bearer(client, "commander"))
    assert tilejson.status_code == 200, tilejson.text
