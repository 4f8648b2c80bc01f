"""The access log: every full look at a person (record, export) is one audit-chain row plus a
person_access row per person seen; masked answers (lists, search, a record without purpose)
leave no trace; GET .../access-log and `cityops audit person` answer who looked, when and why;
the chain still verifies after the looks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from backend.audit.chain import verify
from backend.settings import Settings
from tests.conftest import bearer
from tests.people import population as pop

OFFICER = "population_officer"


@pytest.fixture(scope="module")
def officer(client: TestClient) -> dict[str, str]:
    return bearer(client, OFFICER)


def _person(engine: Engine, cells: list[str], nth: int) -> sa.Row:
    with engine.connect() as conn:
        return conn.execute(sa.text("""
SELECT id, citizen_id, grid_code FROM persons WHERE grid_code = ANY(:c) AND status = 'resident'
ORDER BY id OFFSET :n LIMIT 1"""), {"c": cells, "n": nth}).one()


def _counts(engine: Engine, person_id: int) -> tuple[int, int]:
    with engine.connect() as conn:
        looks = conn.execute(sa.text("SELECT count(*) FROM person_access WHERE person_id = :p"),
                             {"p": person_id}).scalar_one()
        chain = conn.execute(sa.text("SELECT count(*) FROM audit_log WHERE action = "
                                     "'privacy.unmasked_view' AND entity = 'person'")
                             ).scalar_one()
    return looks, chain


def test_a_full_look_is_logged_with_actor_purpose_and_fields(
        client: TestClient, officer: dict, engine: Engine,
        population: pop.SamplePopulation) -> None:
    someone = _person(engine, population.cells, 40)
    before = _counts(engine, someone.id)
    record = client.get(f"/api/people/{someone.id}", headers=officer,
                        params={"purpose": "public_security"})
    assert record.status_code == 200
    assert _counts(engine, someone.id) == (before[0] + 1, before[1] + 1)
    log = client.get(f"/api/people/{someone.id}/access-log", headers=officer).json()
    assert log["person_id"] == someone.id and log["days"] == 90
    newest = log["items"][0]
    assert newest["actor"] == OFFICER and newest["actor_name"] == f"测试 {OFFICER}"
    assert (newest["purpose"], newest["purpose_zh"], newest["purpose_en"]) == (
        "public_security", "治安管理", "Public security")
    assert newest["kind"] == "view"
    assert {"citizen_id", "name", "phone", "address"} <= set(newest["fields"])
    with engine.connect() as conn:
        audit = conn.execute(sa.text("""
SELECT a.actor, a.entity_id, a.data FROM audit_log a
JOIN person_access x ON x.audit_seq = a.id WHERE x.person_id = :p ORDER BY a.id DESC LIMIT 1"""),
                             {"p": someone.id}).one()
    assert audit.actor == OFFICER and audit.entity_id == str(someone.id)
    assert audit.data["ids"] == [someone.id] and audit.data["purpose"] == "public_security"
    assert sorted(audit.data["fields"]) == sorted(newest["fields"])


def test_masked_answers_and_reading_the_log_leave_no_trace(
        client: TestClient, officer: dict, engine: Engine,
        population: pop.SamplePopulation) -> None:
    someone = _person(engine, population.cells, 41)
    before = _counts(engine, someone.id)
    assert client.get(f"/api/people/{someone.id}", headers=officer).json()["masked"] is True
    found = client.get("/api/people/search", headers=officer,
                       params={"q": someone.citizen_id, "purpose": "census_check"}).json()
    assert found["total"] == 1
    worker = bearer(client, "grid_worker")
    assert client.get("/api/people/households", headers=worker).status_code == 200
    assert client.get(f"/api/people/{someone.id}/access-log", headers=officer).status_code == 200
    assert _counts(engine, someone.id) == before


def test_an_export_is_logged_per_person(client: TestClient, officer: dict, engine: Engine,
                                        population: pop.SamplePopulation) -> None:
    cell = population.cells[6]
    with engine.connect() as conn:
        ids = conn.execute(sa.text("SELECT id FROM persons WHERE grid_code = :g AND status IN "
                                   "('resident','registered_elsewhere') ORDER BY id"),
                           {"g": cell}).scalars().all()
    chain_before = _counts(engine, ids[0])[1]
    answer = client.get("/api/people/export.csv", headers=officer,
                        params={"grid_code": cell, "purpose": "epidemic_control"})
    assert answer.status_code == 200
    assert _counts(engine, ids[0])[1] == chain_before + 1   # one chain row for the answer
    with engine.connect() as conn:
        logged = conn.execute(sa.text("""
SELECT person_id, kind, purpose, audit_seq FROM person_access
WHERE audit_seq = (SELECT max(audit_seq) FROM person_access)"""), {}).all()
    assert sorted(r.person_id for r in logged) == ids
    assert {(r.kind, r.purpose) for r in logged} == {("export", "epidemic_control")}
    log = client.get(f"/api/people/{ids[-1]}/access-log", headers=officer).json()
    assert log["items"][0]["kind"] == "export"


def test_the_log_is_limited_to_the_scope_and_the_window(
        client: TestClient, officer: dict, engine: Engine,
        population: pop.SamplePopulation) -> None:
    someone = _person(engine, population.cells, 42)
    client.get(f"/api/people/{someone.id}", headers=officer, params={"purpose": "census_check"})
    with engine.begin() as conn:  # one look back-dated past the window
        conn.execute(sa.text("""
INSERT INTO person_access (person_id, at, actor, purpose, kind, fields, audit_seq)
VALUES (:p, now() - interval '100 days', 'someone_else', 'census_check', 'view', '{name}', 0)"""),
                     {"p": someone.id})
    recent = client.get(f"/api/people/{someone.id}/access-log", headers=officer).json()
    assert all(i["actor"] != "someone_else" for i in recent["items"]) and recent["items"]
    longer = client.get(f"/api/people/{someone.id}/access-log", headers=officer,
                        params={"days": 365}).json()
    assert longer["items"][-1]["actor"] == "someone_else"
    assert longer["items"][-1]["actor_name"] is None
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM person_access WHERE actor = 'someone_else'"))
    outside = _person(engine, population.cells[5:], 0)   # not one of the grid worker's cells
    worker_read = client.get(f"/api/people/{outside.id}/access-log",
                             headers=bearer(client, "grid_worker"))
    assert worker_read.status_code == 403   # grid workers hold no people:read at all


def test_cityops_audit_person_prints_the_log(client: TestClient, officer: dict,
                                             engine: Engine, settings: Settings,
                                             population: pop.SamplePopulation) -> None:
    someone = _person(engine, population.cells, 43)
    client.get(f"/api/people/{someone.id}", headers=officer,
               params={"purpose": "household_registration"})
    env = {**os.environ, "CITYOPS_DATABASE_NAME": settings.database_name}
    done = subprocess.run([sys.executable, "-m", "backend.cli", "audit", "person",
                           someone.citizen_id, "--days", "30"], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert someone.citizen_id not in done.stdout   # the operator's screen shows it masked
    # other tests may have looked at this person too: at least this look, on its own line
    assert " looks in the last 30 days" in done.stdout and "0 looks" not in done.stdout
    assert OFFICER in done.stdout and "household_registration 户籍业务办理" in done.stdout
    unknown = subprocess.run([sys.executable, "-m", "backend.cli", "audit", "person",
                              "110101199001010000"], capture_output=True, text=True, env=env,
                             timeout=300, check=False)
    assert unknown.returncode == 1 and "no person" in unknown.stdout


def test_the_chain_verifies_after_the_looks(client: TestClient, officer: dict, engine: Engine,
                                            population: pop.SamplePopulation) -> None:
    for nth in range(3):
        someone = _person(engine, population.cells, 50 + nth)
        assert client.get(f"/api/people/{someone.id}", headers=officer,
                          params={"purpose": "census_check"}).status_code == 200
    with engine.connect() as conn:
        verdict = verify(conn)
    assert verdict.ok, verdict.problem
    assert verdict.rows >= 3
