"""The population base's reading routes: the caller's cells and households, search (a purpose
required), one person's record, export; the shapes of the published API."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.conftest import bearer
from tests.people import population as pop

OFFICER = "population_officer"


@pytest.fixture(scope="module")
def officer(client: TestClient) -> dict[str, str]:
    return bearer(client, OFFICER)


@pytest.fixture(scope="module")
def worker(client: TestClient) -> dict[str, str]:
    return bearer(client, "grid_worker")


def _a_resident(engine: Engine, grid_code: str) -> sa.Row:
    with engine.connect() as conn:
        return conn.execute(sa.text("""
SELECT id, citizen_id, name, phone, household_id FROM persons
WHERE grid_code = :g AND status = 'resident' ORDER BY id LIMIT 1"""), {"g": grid_code}).one()


def test_purposes_are_those_of_the_role(client: TestClient, officer: dict, worker: dict,
                                        population: pop.SamplePopulation) -> None:
    mine = client.get("/api/people/purposes", headers=officer).json()
    assert {"id": "social_assistance", "zh": "社会救助", "en": "Social assistance"} in mine
    assert client.get("/api/people/purposes", headers=worker).json() == []


def test_grid_worker_cells_are_their_own(client: TestClient, worker: dict,
                                         population: pop.SamplePopulation) -> None:
    cells = client.get("/api/people/cells", headers=worker).json()
    assert [c["grid_code"] for c in cells] == sorted(population.cells[:3])
    by_code = {c["grid_code"]: c for c in cells}
    for code in population.cells[:3]:
        assert by_code[code]["residents"] == population.current_by_cell[code]
        assert by_code[code]["households"] >= 1
        assert by_code[code]["township_name"]


def test_officer_cells_cover_the_county_by_township(client: TestClient, officer: dict,
                                                    population: pop.SamplePopulation) -> None:
    everything = client.get("/api/people/cells", headers=officer).json()
    one = client.get("/api/people/cells", headers=officer,
                     params={"township": population.township}).json()
    assert set(population.cells) <= {c["grid_code"] for c in everything}
    assert 0 < len(one) < len(everything)
    assert sum(c["residents"] for c in everything) >= sum(population.current_by_cell.values())


def test_households_of_a_cell_are_masked(client: TestClient, worker: dict, engine: Engine,
                                         population: pop.SamplePopulation) -> None:
    cell = population.cells[0]
    page = client.get("/api/people/households", headers=worker,
                      params={"grid_code": cell}).json()
    assert page["total"] == len(page["items"]) == 6
    assert sum(h["residents"] for h in page["items"]) == population.current_by_cell[cell]
    assert sum(h["members"] for h in page["items"]) == 19   # 4+3+1+5+2+4: every status
    first = page["items"][0]
    assert first["address"].endswith("号楼****") and "单元" not in first["address"]
    assert first["head_name"][1:] == "*" * (len(first["head_name"]) - 1)
    detail = client.get(f"/api/people/households/{first['id']}", headers=worker).json()
    assert detail["household_no"] == first["household_no"]
    assert detail["address"] == first["address"]
    assert len(detail["members"]) == first["residents"]
    head = detail["members"][0]
    assert head["relation"] == "户主"
    assert "*" in head["citizen_id"] and len(head["citizen_id"]) == 18
    assert head["citizen_id"][:6] in ("341324", "320324")
    with engine.connect() as conn:
        real = conn.execute(sa.text("SELECT name, citizen_id FROM persons WHERE id = :p"),
                            {"p": head["id"]}).one()
    assert head["name"] != real.name and head["name"][0] == real.name[0]
    assert head["citizen_id"][-4:] == real.citizen_id[-4:]


def test_households_say_how_many_others(client: TestClient, officer: dict, engine: Engine,
                                        population: pop.SamplePopulation) -> None:
    with engine.connect() as conn:
        household = conn.execute(sa.text("""
SELECT household_id FROM persons WHERE status IN ('moved','deceased') AND grid_code = ANY(:c)
LIMIT 1"""), {"c": population.cells}).scalar_one()
    detail = client.get(f"/api/people/households/{household}", headers=officer).json()
    assert detail["others"] == 1
    assert all(m["status"] in ("resident", "registered_elsewhere") for m in detail["members"])


def test_grid_worker_may_not_list_another_cell(client: TestClient, worker: dict,
                                               population: pop.SamplePopulation) -> None:
    other = population.cells[10]
    refused = client.get("/api/people/households", headers=worker, params={"grid_code": other})
    assert refused.status_code == 403
    assert "outside your area" in refused.json()["detail"]
    page = client.get("/api/people/households", headers=worker, params={"limit": 500}).json()
    assert {h["grid_code"] for h in page["items"]} == set(population.cells[:3])


def test_search_needs_a_purpose(client: TestClient, officer: dict,
                                population: pop.SamplePopulation) -> None:
    none = client.get("/api/people/search", headers=officer, params={"q": "王"})
    assert none.status_code == 403
    body = none.json()
    assert "purpose" in body["detail"]
    assert {p["id"] for p in body["allowed_purposes"]} >= {"social_assistance", "census_check"}
    foreign = client.get("/api/people/search", headers=officer,
                         params={"q": "王", "purpose": "marketing"})
    assert foreign.status_code == 403
    assert foreign.json()["allowed_purposes"] == body["allowed_purposes"]


def test_search_by_id_and_by_name(client: TestClient, officer: dict, engine: Engine,
                                  population: pop.SamplePopulation) -> None:
    someone = _a_resident(engine, population.cells[4])
    found = client.get("/api/people/search", headers=officer,
                       params={"q": someone.citizen_id, "purpose": "census_check"}).json()
    assert found["total"] == 1
    item = found["items"][0]
    assert item["id"] == someone.id
    assert item["citizen_id"] != someone.citizen_id and item["citizen_id"][-4:] == \
        someone.citizen_id[-4:]
    assert set(item) == {"id", "citizen_id", "name", "sex", "birth_date", "age", "status",
                         "grid_code", "township_code", "household_no"}
    by_name = client.get("/api/people/search", headers=officer,
                         params={"q": someone.name, "purpose": "census_check",
                                 "limit": 5}).json()
    assert by_name["limit"] == 5 and by_name["total"] >= 1 and len(by_name["items"]) <= 5
    assert all(i["name"][0] == someone.name[0] and "*" in i["name"] for i in by_name["items"])
    bad = client.get("/api/people/search", headers=officer,
                     params={"q": "abc", "purpose": "census_check"})
    assert bad.status_code in (400, 422)


def test_search_finds_the_deceased_with_their_status(client: TestClient, officer: dict,
                                                     engine: Engine,
                                                     population: pop.SamplePopulation) -> None:
    with engine.connect() as conn:
        cid = conn.execute(sa.text("SELECT citizen_id FROM persons WHERE status = 'deceased' "
                                   "AND grid_code = ANY(:c) LIMIT 1"),
                           {"c": population.cells}).scalar_one()
    found = client.get("/api/people/search", headers=officer,
                       params={"q": cid, "purpose": "social_assistance"}).json()
    assert [i["status"] for i in found["items"]] == ["deceased"]


def test_record_with_a_purpose_is_full(client: TestClient, officer: dict, engine: Engine,
                                       population: pop.SamplePopulation) -> None:
    someone = _a_resident(engine, population.cells[5])
    record = client.get(f"/api/people/{someone.id}", headers=officer,
                        params={"purpose": "social_assistance"}).json()
    assert record["citizen_id"] == someone.citizen_id and record["name"] == someone.name
    assert record["phone"] == someone.phone
    assert "单元" in record["address"]
    assert record["masked"] is False
    assert record["purpose"] == {"id": "social_assistance", "zh": "社会救助",
                                 "en": "Social assistance"}
    assert record["household"]["id"] == someone.household_id
    assert all("*" in m["name"] for m in record["household"]["members"])
    assert record["versions"][0]["version"] == 1 and record["versions"][0]["made_by"] == "test"
    assert record["source"]["dataset_id"] == "household_population"
    assert record["grid_name"] and record["township_name"]


def test_record_without_a_purpose_is_masked(client: TestClient, officer: dict, engine: Engine,
                                            population: pop.SamplePopulation) -> None:
    someone = _a_resident(engine, population.cells[5])
    record = client.get(f"/api/people/{someone.id}", headers=officer).json()
    assert record["masked"] is True and record["purpose"] is None
    assert record["citizen_id"] != someone.citizen_id
    assert record["phone"] == someone.phone[:3] + "****" + someone.phone[-4:]
    refused = client.get(f"/api/people/{someone.id}", headers=officer,
                         params={"purpose": "marketing"})
    assert refused.status_code == 403 and refused.json()["allowed_purposes"]


def test_unknown_person_is_404(client: TestClient, officer: dict,
                               population: pop.SamplePopulation) -> None:
    missing = client.get("/api/people/999999999", headers=officer,
                         params={"purpose": "census_check"})
    assert missing.status_code == 404


def test_export_is_full_and_bounded_to_the_cell(client: TestClient, officer: dict,
                                                population: pop.SamplePopulation) -> None:
    cell = population.cells[2]
    answer = client.get("/api/people/export.csv", headers=officer,
                        params={"grid_code": cell, "purpose": "census_check"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert len(rows) == population.current_by_cell[cell]
    assert all(r["citizen_id"] in population.persons for r in rows)
    assert not any("*" in r["name"] for r in rows)
    no_purpose = client.get("/api/people/export.csv", headers=officer,
                            params={"grid_code": cell})
    assert no_purpose.status_code == 422
    foreign = client.get("/api/people/export.csv", headers=officer,
                         params={"grid_code": cell, "purpose": "marketing"})
    assert foreign.status_code == 403 and foreign.json()["allowed_purposes"]
