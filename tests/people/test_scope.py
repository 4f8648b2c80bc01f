"""The row scope on every path: a grid worker sees the households of their own cells only;
township staff (users.township_code) their township; county-level roles the county. A person
or household outside the scope is 404 (its existence is not confirmed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from backend.auth.users import create_user
from tests.conftest import bearer, password_of
from tests.people import population as pop

TOWNSHIP_OFFICER = "township_popofficer"


@pytest.fixture(scope="module")
def township_officer(engine: Engine, population: pop.SamplePopulation) -> Iterator[str]:
    """A population officer of the first test township (made here, removed afterwards)."""
    with engine.begin() as conn:
        create_user(conn, TOWNSHIP_OFFICER, password_of(TOWNSHIP_OFFICER),
                    ["population_officer"], display_name="乡镇人口专员", department="MZJ")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET township_code = :t WHERE username = :u"),
                     {"t": population.township, "u": TOWNSHIP_OFFICER})
    yield TOWNSHIP_OFFICER
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET active = false WHERE username = :u"),
                     {"u": TOWNSHIP_OFFICER})


def _resident(engine: Engine, where: str, params: dict) -> sa.Row:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            f"SELECT id, citizen_id, household_id, grid_code, township_code FROM persons "
            f"WHERE status = 'resident' AND {where} ORDER BY id LIMIT 1"), params).one()


def test_grid_worker_sees_only_their_cells(client: TestClient, engine: Engine,
                                           population: pop.SamplePopulation) -> None:
    worker = bearer(client, "grid_worker")
    inside = _resident(engine, "grid_code = :g", {"g": population.cells[1]})
    outside = _resident(engine, "grid_code = :g", {"g": population.cells[20]})
    assert client.get(f"/api/people/households/{inside.household_id}",
                      headers=worker).status_code == 200
    refused = client.get(f"/api/people/households/{outside.household_id}", headers=worker)
    assert refused.status_code == 404
    page = client.get("/api/people/households", headers=worker, params={"limit": 500}).json()
    assert page["total"] == len(page["items"])
    assert {h["grid_code"] for h in page["items"]} == set(population.cells[:3])
    assert outside.household_id not in {h["id"] for h in page["items"]}


def test_township_staff_see_their_township(client: TestClient, engine: Engine,
                                           township_officer: str,
                                           population: pop.SamplePopulation) -> None:
    headers = bearer(client, township_officer)
    mine = _resident(engine, "township_code = :t", {"t": population.township})
    other = _resident(engine, "township_code <> :t AND grid_code = ANY(:c)",
                      {"t": population.township, "c": population.cells})
    cells = client.get("/api/people/cells", headers=headers).json()
    assert cells
    with engine.connect() as conn:
        townships = set(conn.execute(sa.text(
            "SELECT DISTINCT township_code FROM grid_cells WHERE grid_code = ANY(:c)"),
            {"c": [c["grid_code"] for c in cells]}).scalars())
    assert townships == {population.township}
    full = client.get(f"/api/people/{mine.id}", headers=headers,
                      params={"purpose": "census_check"})
    assert full.status_code == 200 and full.json()["citizen_id"] == mine.citizen_id
    for path in (f"/api/people/{other.id}", f"/api/people/{other.id}/access-log",
                 f"/api/people/households/{other.household_id}"):
        answer = client.get(path, headers=headers, params={"purpose": "census_check"}
                            if "access-log" not in path else None)
        assert answer.status_code == 404, path
    found = client.get("/api/people/search", headers=headers,
                       params={"q": other.citizen_id, "purpose": "census_check"}).json()
    assert found == {"items": [], "total": 0, "limit": 50}
    exported = client.get("/api/people/export.csv", headers=headers,
                          params={"grid_code": other.grid_code, "purpose": "census_check"})
    assert exported.status_code == 403


def test_county_officer_sees_both_townships(client: TestClient, engine: Engine,
                                            population: pop.SamplePopulation) -> None:
    headers = bearer(client, "population_officer")
    other = _resident(engine, "township_code <> :t AND grid_code = ANY(:c)",
                      {"t": population.township, "c": population.cells})
    found = client.get("/api/people/search", headers=headers,
                       params={"q": other.citizen_id, "purpose": "census_check"}).json()
    assert [i["id"] for i in found["items"]] == [other.id]
    cells = {c["grid_code"] for c in client.get("/api/people/cells", headers=headers).json()}
    assert set(population.cells) <= cells
