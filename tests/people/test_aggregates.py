"""The stored population counts (backend.people.aggregates) on the test population: they match a
plain recount, leave out moved and deceased persons, suppress the tiny cells and their
complements, resist the differencing attack, and are served (API and map tiles) without a name
or an ID and only to roles with population:stats."""

from __future__ import annotations

import math

import mapbox_vector_tile
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.people import aggregates
from backend.people.suppression import FIELDS, Unit
from tests.conftest import bearer
from tests.people.attack import intervals
from tests.people.population import SamplePopulation

K = 5


@pytest.fixture(scope="module")
def stored(engine: sa.Engine, population: SamplePopulation) -> dict[tuple[str, str], dict]:
    with engine.begin() as conn:
        aggregates.refresh(conn, K)
        rows = conn.execute(aggregates.population_stats.select()).mappings().all()
    return {(r["level"], r["code"]): dict(r) for r in rows}


def test_counts_match_a_plain_recount(engine: sa.Engine, population: SamplePopulation,
                                      stored: dict) -> None:
    for cell, current in population.current_by_cell.items():
        row = stored[("grid", cell)]
        if "population" not in row["suppressed"]:
            assert row["figures"]["population"] == current
    with engine.connect() as conn:
        raw = aggregates.count_cells(conn, aggregates.date.today())
        plain = dict(conn.execute(sa.text(
            "SELECT grid_code, count(*) FROM persons WHERE status IN ('resident', "
            "'registered_elsewhere') GROUP BY grid_code")).all())
    assert {g: v["population"] for g, v in raw.items()} == plain
    for g in population.cells:
        assert raw[g]["population"] == population.current_by_cell[g]   # moved/deceased out
        assert raw[g]["male"] + raw[g]["female"] == raw[g]["population"]


def test_tiny_cells_are_suppressed_with_their_complements(population: SamplePopulation,
                                                          stored: dict) -> None:
    for cell in population.tiny_cells:
        row = stored[("grid", cell)]
        assert "population" in row["suppressed"] and row["figures"]["population"] is None
        # the community's total is published: some other cell of it goes too
        community = stored[("community", cell[:12])]
        if "population" not in community["suppressed"]:
            others = [r for (lv, c), r in stored.items() if lv == "grid" and c != cell
                      and c.startswith(cell[:12]) and "population" in r["suppressed"]]
            assert others, f"{cell} alone suppressed in its community"
    for row in stored.values():
        for f in FIELDS:
            v = row["figures"][f]
            assert (v is None) == (f in row["suppressed"])
            assert v is None or v == 0 or v >= K


def test_the_stored_table_resists_the_differencing_attack(engine: sa.Engine, stored: dict
                                                          ) -> None:
    """The attack on what is actually stored, with the true figures to check it against."""
    with engine.connect() as conn:
        units, _ = aggregates.build_units(conn, aggregates.count_cells(
            conn, stored[next(iter(stored))]["computed_at"].date()))
    hidden = {u.code: stored[(u.level, u.code)]["suppressed"] for u in units}
    touched = {u.code for u in units if hidden[u.code]}
    # the attacker works on every unit; solving only in the populated townships keeps it short
    keep = [u for u in units if u.values["population"] or u.level == "county"]
    got = intervals(keep, {c: hidden[c] for c in (u.code for u in keep)})
    assert touched and got
    value = {(u.code, f): u.values[f] for u in units for f in FIELDS}
    for key, (lo, hi) in got.items():
        assert lo <= value[key] <= hi
        assert hi > lo, f"{key} pinned"
        if value[key] < K:
            assert hi >= K, f"{key} shown under k"
    assert all(isinstance(u, Unit) for u in keep)


def test_api_answers_roles_with_the_right(client: TestClient, anonymous: TestClient,
                                          population: SamplePopulation, stored: dict) -> None:
    for role in ("commander", "grid_worker", "population_officer"):
        r = client.get("/api/population/stats", params={"level": "grid"},
                       headers=bearer(client, role))
        assert r.status_code == 200, (role, r.text)
    body = r.json()
    assert body["k"] == K and body["level"] == "grid"
    rows = {row["code"]: row for row in body["rows"]}
    tiny = rows[population.tiny_cells[0]]
    assert tiny["population"] is None and "population" in tiny["suppressed"]
    assert body["totals"]["population"] == sum(population.current_by_cell.values())
    town = client.get("/api/population/stats", params={"level": "community",
                                                       "township": population.township},
                      headers=bearer(client, "commander")).json()
    assert town["rows"] and all(r["township_code"] == population.township for r in town["rows"])
    assert town["totals"]["code"] == population.township
    assert anonymous.get("/api/population/stats").status_code == 401


def test_no_name_or_id_in_the_answer(client: TestClient, engine: sa.Engine,
                                     population: SamplePopulation) -> None:
    text = client.get("/api/population/stats", params={"level": "township"},
                      headers=bearer(client, "commander")).text
    with engine.connect() as conn:
        people = conn.execute(sa.text(
            "SELECT citizen_id, name FROM persons WHERE grid_code = ANY(:g)"),
            {"g": population.cells}).all()
    assert people
    for cid, name in people:
        assert cid not in text and name not in text


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def test_tiles_carry_suppressed_cells_with_null_figures(client: TestClient, anonymous: TestClient,
                                                         engine: sa.Engine,
                                                         population: SamplePopulation,
                                                         stored: dict) -> None:
    cell = population.tiny_cells[0]
    with engine.connect() as conn:
        lon, lat = conn.execute(sa.text(
            "SELECT ST_X(p), ST_Y(p) FROM grid_cells, ST_PointOnSurface(geom) p "
            "WHERE grid_code = :g"), {"g": cell}).one()
    x, y = _tile(lon, lat, 13)
    url = f"/tiles/population_grid/13/{x}/{y}.mvt"
    assert anonymous.get(url).status_code in (401, 403, 404)            # never public
    r = client.get(url, headers=bearer(client, "commander"))
    assert r.status_code == 200
    features = mapbox_vector_tile.decode(r.content)["population_grid"]["features"]
    props = {f["properties"]["grid_code"]: f["properties"] for f in features}
    assert props[cell]["suppressed"] is True
    assert "population" not in props[cell] and "density" not in props[cell]  # nulls dropped
    shown = [p for p in props.values() if not p["suppressed"] and p.get("population")]
    assert shown and all(p["density"] > 0 for p in shown)
