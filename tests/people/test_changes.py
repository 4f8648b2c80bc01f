"""Changes from the field (issue 13 part 8): a grid worker reports each kind for the people of
their cells, offline drafts are answered once, bad bodies are refused with what to fix, and a
population officer of the source department accepts (a new person version) or rejects.

Changes that are accepted touch persons, so those tests use a household of their own (made
and removed per test); the session population is only visited, never changed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from stdnum.iso7064 import mod_11_2

from tests.conftest import bearer, password_of
from tests.people.population import SamplePopulation

FOREIGN = "population_officer_mzj"  # a population officer of 民政局, not of 公安局 (GAJ)


def valid_id(born: date, seq: int, sex: str, region: str = "341321") -> str:
    """An ID from 砀山县: none of the session population's (泗县, 睢宁县) can be the same."""
    body = f"{region}{born:%Y%m%d}{seq * 2 % 1000 + (1 if sex == '男' else 0):03d}"
    return body + mod_11_2.calc_check_digit(body)


@dataclass
class Household:
    id: int
    grid_code: str
    persons: list[int]


@pytest.fixture(scope="module")
def worker(client: TestClient, population: SamplePopulation) -> dict[str, str]:
    return bearer(client, "grid_worker")


@pytest.fixture(scope="module")
def officer(client: TestClient) -> dict[str, str]:
    return bearer(client, "population_officer")


@pytest.fixture(scope="module")
def foreign_officer(client: TestClient, engine: Engine) -> dict[str, str]:
    from backend.auth.users import create_user

    with engine.begin() as conn:
        if conn.execute(sa.text("SELECT 1 FROM users WHERE username = :u"), {"u": FOREIGN}
                        ).first() is None:
            create_user(conn, FOREIGN, password_of(FOREIGN), ["population_officer"],
                        department="MZJ")
    return bearer(client, FOREIGN)


@pytest.fixture()
def household(engine: Engine, population: SamplePopulation) -> Iterator[Household]:
    """A household of three in the worker's first cell, with version 1 of each person; removed
    afterwards with the changes about it and any person a move_in made."""
    grid = population.cells[0]
    tag = uuid.uuid4().int % 900 + 100
    with engine.begin() as conn:
        cell = conn.execute(sa.text(
            "SELECT township_code, ST_X(pt) x, ST_Y(pt) y FROM grid_cells, "
            "LATERAL ST_PointOnSurface(geom) pt WHERE grid_code = :g"), {"g": grid}).one()
        address = conn.execute(sa.text("""
INSERT INTO addresses (grid_code, township_code, building_label, unit, geom)
VALUES (:g, :t, '变更测试路1号楼', '1单元101室', ST_SetSRID(ST_MakePoint(:x, :y), 4326))
RETURNING id"""), {"g": grid, "t": cell.township_code, "x": cell.x, "y": cell.y}).scalar_one()
        hid = conn.execute(sa.text("""
INSERT INTO households (household_no, address_id, grid_code, township_code)
VALUES (:no, :a, :g, :t) RETURNING id"""), {"no": f"CHG{uuid.uuid4().hex[:12]}", "a": address,
                                             "g": grid, "t": cell.township_code}).scalar_one()
        persons = []
        for i, (name, sex, rel) in enumerate([("赵大海", "男", "户主"), ("钱小红", "女", "配偶"),
                                              ("赵小宝", "男", "子女")]):
            born = date(1970 + i * 15, 3, 1 + i)
            pid = conn.execute(sa.text("""
INSERT INTO persons (citizen_id, name, sex, birth_date, ethnicity, phone, registered_region,
  address_id, household_id, relation, status, grid_code, township_code, source_dataset)
VALUES (:cid, :name, :sex, :born, '汉族', '13900000000', '341324', :a, :h, :rel, 'resident',
  :g, :t, 'household_population') RETURNING id"""), {
                "cid": valid_id(born, tag + i, sex), "name": name, "sex": sex, "born": born,
                "a": address, "h": hid, "rel": rel, "g": grid, "t": cell.township_code}
            ).scalar_one()
            conn.execute(sa.text("""
INSERT INTO person_versions (person_id, version, data, source_dataset, made_by)
SELECT id, 1, to_jsonb(p) - 'id', source_dataset, 'test' FROM persons p WHERE id = :p"""),
                         {"p": pid})
            persons.append(pid)
    yield Household(hid, grid, persons)
    with engine.begin() as conn:
        made = [*persons, *conn.execute(sa.text(
            "SELECT id FROM persons WHERE household_id = :h"), {"h": hid}).scalars()]
        conn.execute(sa.text("DELETE FROM population_changes WHERE household_id = :h "
                             "OR person_id = ANY(:p)"), {"h": hid, "p": made})
        conn.execute(sa.text("DELETE FROM persons WHERE id = ANY(:p)"), {"p": made})
        conn.execute(sa.text("DELETE FROM households WHERE id = :h"), {"h": hid})
        conn.execute(sa.text("DELETE FROM addresses WHERE id = :a"), {"a": address})


def body(kind: str, grid: str, **more: object) -> dict:
    return {"client_id": str(uuid.uuid4()), "kind": kind, "grid_code": grid, **more}


def report(client: TestClient, headers: dict[str, str], payload: dict, status: int = 201
           ) -> dict:
    r = client.post("/api/people/changes", json=payload, headers=headers)
    assert r.status_code == status, r.text
    return r.json()


def fixture_person(engine: Engine, grid: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT id FROM persons WHERE grid_code = :g AND status = 'resident' ORDER BY id "
            "LIMIT 1"), {"g": grid}).scalar_one()


def test_a_visit_is_recorded_and_an_offline_replay_answers_the_same_change(
        client: TestClient, engine: Engine, population: SamplePopulation,
        worker: dict[str, str]) -> None:
    person = fixture_person(engine, population.cells[1])
    sent = body("visit", population.cells[1], person_id=person, note="入户走访，家中无异常")
    made = report(client, worker, sent)
    assert made["status"] == "recorded" and made["kind"] == "visit"
    assert made["department_code"] == "GAJ" and made["reported_by"] == "grid_worker"
    assert made["person_name"].endswith("*") and made["household_no"]
    again = report(client, worker, sent, status=200)  # the draft sent a second time
    assert again == made
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM population_changes WHERE client_id = :c"),
                         {"c": sent["client_id"]}).scalar_one()
    assert n == 1
    assert made["id"] in [c["id"] for c in client.get("/api/people/changes/mine",
                                                      headers=worker).json()]
    # a visit waits for no one: there is nothing to decide
    r = client.post(f"/api/people/changes/{made['id']}/decision", json={"decision": "accept"},
                    headers=bearer(client, "population_officer"))
    assert r.status_code == 409


def test_each_kind_is_pending_for_the_source_department(
        client: TestClient, household: Household, worker: dict[str, str],
        officer: dict[str, str]) -> None:
    g, (head, spouse, child) = household.grid_code, household.persons
    newcomer = valid_id(date(1999, 5, 6), 7, "女")
    made = [
        report(client, worker, body("move_out", g, person_id=head, payload={"to": "江苏省南京市"})),
        report(client, worker, body("correction", g, person_id=spouse,
                                    payload={"field": "phone", "value": "13812345678"})),
        report(client, worker, body("death", g, person_id=child,
                                    payload={"date": "2026-01-02"})),
        report(client, worker, body("move_in", g, payload={
            "name": "孙丽丽", "citizen_id": newcomer, "sex": "女", "birth_date": "1999-05-06",
            "relation": "其他", "household_id": household.id})),
    ]
    assert {m["status"] for m in made} == {"pending"}
    assert {m["department_code"] for m in made} == {"GAJ"}
    assert {m["household_id"] for m in made} == {household.id}
    move_in = made[3]["payload"]
    assert move_in["citizen_id"] == newcomer[:6] + "********" + newcomer[-4:]
    assert move_in["name"] == "孙**"
    assert made[1]["payload"]["value"] == "138****5678"
    queue = client.get("/api/people/changes?status=pending", headers=officer).json()
    assert {m["id"] for m in made} <= {c["id"] for c in queue}


def test_outside_the_reporters_cells_is_403(
        client: TestClient, engine: Engine, population: SamplePopulation,
        worker: dict[str, str]) -> None:
    elsewhere = population.cells[10]
    person = fixture_person(engine, elsewhere)
    for sent in (body("visit", elsewhere),
                 body("move_out", population.cells[0], person_id=person),
                 body("death", elsewhere, person_id=person, payload={"date": "2026-01-01"})):
        r = client.post("/api/people/changes", json=sent, headers=worker)
        assert r.status_code == 403, r.text
        assert "outside your cells" in r.json()["detail"]


def test_a_body_past_the_limit_is_413(client: TestClient, population: SamplePopulation,
                                      worker: dict[str, str]) -> None:
    big = body("visit", population.cells[0], note="很" * 30_000)  # 90 kB of UTF-8
    r = client.post("/api/people/changes", json=big, headers=worker)
    assert r.status_code == 413
    assert "people_change_max_bytes".upper() in r.json()["detail"]


@pytest.mark.parametrize(("payload", "says"), [
    ({"kind": "correction", "payload": {"field": "sex", "value": "女"}}, "payload.field"),
    ({"kind": "death", "payload": {}}, "payload.date"),
    ({"kind": "visit", "payload": {"extra": 1}}, "payload.extra"),
    ({"kind": "visit", "shoe_size": 42}, "shoe_size"),
    ({"kind": "move_out", "payload": {}}, "needs person_id"),
    ({"kind": "death", "payload": {"date": "2999-01-01"}, "person_id": 1}, "in the future"),
])
def test_a_bad_body_is_422_saying_what_to_fix(
        client: TestClient, population: SamplePopulation, worker: dict[str, str],
        payload: dict, says: str) -> None:
    r = client.post("/api/people/changes", json={**body("visit", population.cells[0]), **payload},
                    headers=worker)
    assert r.status_code == 422
    assert says in str(r.json()["detail"])


GOOD = valid_id(date(1990, 1, 1), 3, "男")


@pytest.mark.parametrize(("citizen_id", "sex", "check"), [
    (GOOD[:17] + ("0" if GOOD[-1] != "0" else "1"), "男", "check_digit"),
    (GOOD, "女", "sex"),
    (GOOD[:16], "男", "format"),
])
def test_a_move_in_with_a_bad_id_is_422_naming_the_check(
        client: TestClient, household: Household, worker: dict[str, str],
        citizen_id: str, sex: str, check: str) -> None:
    r = client.post("/api/people/changes", headers=worker, json=body(
        "move_in", household.grid_code, payload={
            "name": "李四", "citizen_id": citizen_id, "sex": sex, "birth_date": "1990-01-01",
            "relation": "其他", "household_id": household.id}))
    assert r.status_code == 422, r.text
    detail = r.json()
    assert detail.get("check") == check or "citizen_id" in str(detail["detail"])


def test_an_impossible_birth_date_in_the_id_is_422(
        client: TestClient, household: Household, worker: dict[str, str]) -> None:
    body17 = "34132419900230001"  # 30 February 1990, sequence 001 (男)
    bad = body17 + mod_11_2.calc_check_digit(body17)
    r = client.post("/api/people/changes", headers=worker, json=body(
        "move_in", household.grid_code, payload={
            "name": "李四", "citizen_id": bad, "sex": "男", "birth_date": "1990-02-28",
            "relation": "其他", "household_id": household.id}))
    assert r.status_code == 422 and r.json()["check"] == "birth_date", r.text


def versions(engine: Engine, person_id: int) -> list[tuple[int, int | None, str, dict]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT version, change_id, made_by, data FROM person_versions WHERE person_id = :p "
            "ORDER BY version"), {"p": person_id})]


def test_accepting_makes_version_2_with_its_history(
        client: TestClient, engine: Engine, household: Household, worker: dict[str, str],
        officer: dict[str, str]) -> None:
    head, spouse = household.persons[:2]
    move = report(client, worker, body("move_out", household.grid_code, person_id=head))
    fix = report(client, worker, body("correction", household.grid_code, person_id=spouse,
                                      payload={"field": "name", "value": "钱晓红"}))
    for change in (move, fix):
        r = client.post(f"/api/people/changes/{change['id']}/decision", headers=officer,
                        json={"decision": "accept", "note": "核实无误"})
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["status"] == "accepted" and out["person_version"] == 2
        assert out["decided_by"] == "population_officer"
    history = versions(engine, head)
    assert [v[0] for v in history] == [1, 2]
    assert history[1][1] == move["id"] and history[1][2] == "population_officer"
    assert history[1][3]["status"] == "moved" and history[1][3]["address_id"] is None
    assert history[0][3]["status"] == "resident"
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT name, version FROM persons WHERE id = :p"),
                           {"p": spouse}).one()
        audited = conn.execute(sa.text(
            "SELECT count(*) FROM audit_log WHERE action = 'people.change_accepted' "
            "AND entity_id = ANY(:ids)"), {"ids": [str(move["id"]), str(fix["id"])]}).scalar_one()
    assert tuple(row) == ("钱晓红", 2)
    assert audited == 2


def test_accepting_a_move_in_makes_a_new_person(
        client: TestClient, engine: Engine, household: Household, worker: dict[str, str],
        officer: dict[str, str]) -> None:
    cid = valid_id(date(2001, 7, 8), 11, "男")
    made = report(client, worker, body("move_in", household.grid_code, payload={
        "name": "周新", "citizen_id": cid, "sex": "男", "birth_date": "2001-07-08",
        "relation": "子女", "household_id": household.id}))
    out = client.post(f"/api/people/changes/{made['id']}/decision", headers=officer,
                      json={"decision": "accept"}).json()
    assert out["status"] == "accepted" and out["person_version"] == 1 and out["person_id"]
    with engine.connect() as conn:
        person = conn.execute(sa.text(
            "SELECT citizen_id, household_id, grid_code, status FROM persons WHERE id = :p"),
            {"p": out["person_id"]}).one()
    assert tuple(person) == (cid, household.id, household.grid_code, "resident")
    assert [(v[0], v[1]) for v in versions(engine, out["person_id"])] == [(1, made["id"])]


def test_rejecting_needs_a_note_and_leaves_the_person(
        client: TestClient, engine: Engine, household: Household, worker: dict[str, str],
        officer: dict[str, str]) -> None:
    child = household.persons[2]
    made = report(client, worker, body("death", household.grid_code, person_id=child,
                                       payload={"date": "2026-02-01"}))
    url = f"/api/people/changes/{made['id']}/decision"
    r = client.post(url, headers=officer, json={"decision": "reject"})
    assert r.status_code == 422 and "note" in str(r.json()["detail"])
    r = client.post(url, headers=officer, json={"decision": "reject", "note": "经核实，本人健在"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert r.json()["decision_note"] == "经核实，本人健在"
    assert [v[0] for v in versions(engine, child)] == [1]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT status, version FROM persons WHERE id = :p"),
                            {"p": child}).one() == ("resident", 1)
    assert client.post(url, headers=officer, json={"decision": "accept"}).status_code == 409
    mine = {c["id"]: c for c in client.get("/api/people/changes/mine", headers=worker).json()}
    assert mine[made["id"]]["status"] == "rejected"


def test_an_officer_of_another_department_is_403(
        client: TestClient, household: Household, worker: dict[str, str],
        foreign_officer: dict[str, str]) -> None:
    made = report(client, worker, body("move_out", household.grid_code,
                                       person_id=household.persons[0]))
    r = client.post(f"/api/people/changes/{made['id']}/decision", headers=foreign_officer,
                    json={"decision": "accept"})
    assert r.status_code == 403 and "GAJ" in r.json()["detail"]
    queue = client.get("/api/people/changes", headers=foreign_officer).json()
    assert made["id"] not in {c["id"] for c in queue}
    # and a grid worker cannot decide at all
    assert client.post(f"/api/people/changes/{made['id']}/decision", headers=worker,
                       json={"decision": "accept"}).status_code == 403


def test_a_change_to_a_person_changed_since_the_report_is_409(
        client: TestClient, household: Household, worker: dict[str, str],
        officer: dict[str, str]) -> None:
    spouse = household.persons[1]
    first = report(client, worker, body("correction", household.grid_code, person_id=spouse,
                                        payload={"field": "ethnicity", "value": "回族"}))
    second = report(client, worker, body("correction", household.grid_code, person_id=spouse,
                                         payload={"field": "phone", "value": "13700001111"}))
    ok = client.post(f"/api/people/changes/{first['id']}/decision", headers=officer,
                     json={"decision": "accept"})
    assert ok.status_code == 200
    stale = client.post(f"/api/people/changes/{second['id']}/decision", headers=officer,
                        json={"decision": "accept"})
    assert stale.status_code == 409 and "version 2" in stale.json()["detail"]
    pending = client.get("/api/people/changes?status=pending", headers=officer).json()
    assert second["id"] in {c["id"] for c in pending}  # still there, to be rejected
