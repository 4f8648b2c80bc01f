"""GET /api/people/quarantine: a population officer sees their own department's refused rows
(row keys masked as a list, counts by check), an officer of another department none of them,
and roles without people:confirm are refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.auth.users import create_user
from tests.conftest import bearer, password_of

DATASET = "test_quarantine_api"
GOOD = "341324198001011234"


@pytest.fixture(scope="module")
def refused(engine: sa.Engine, users: dict[str, str]) -> Iterator[None]:
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO departments (code, name) VALUES ('TQZ', '测试局') "
                             "ON CONFLICT DO NOTHING"))
        create_user(conn, "officer_tqz", password_of("officer_tqz"), ["population_officer"],
                    display_name="测试 其他部门", department="TQZ")
        conn.execute(sa.text("""
INSERT INTO population_quarantine (dataset_id, version_id, department_code, row_key, citizen_id,
  check_failed, reason, data)
VALUES (:d, 1, 'GAJ', :k, :k, 'check_digit', '校验码应为 X', '{}'),
       (:d, 1, 'GAJ', '341324198002301235', '341324198002301235', 'birth_date', '无此日期', '{}'),
       (:d, 1, 'GAJ', '34132419800101123X', '34132419800101123X', 'check_digit', '校验码', '{}'),
       (:d, 1, 'TQZ', '341324198001019999', '341324198001019999', 'region', '无此区划', '{}')
"""), {"d": DATASET, "k": GOOD})
    yield
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM population_quarantine WHERE dataset_id = :d"),
                     {"d": DATASET})
        conn.execute(sa.text("DELETE FROM users WHERE username = 'officer_tqz'"))


def test_own_department_masked(client: TestClient, refused: None) -> None:
    r = client.get("/api/people/quarantine", params={"dataset": DATASET},
                   headers=bearer(client, "population_officer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 3 and body["by_check"] == {"birth_date": 1, "check_digit": 2}
    assert {i["dataset_id"] for i in body["items"]} == {DATASET}
    keys = {i["row_key"] for i in body["items"]}
    assert GOOD not in keys and "341324********1234" in keys
    assert all("*" in k for k in keys)
    assert set(body["items"][0]) == {"id", "dataset_id", "version_id", "row_key", "check_failed",
                                     "reason", "created_at"}
    page = client.get("/api/people/quarantine", params={"dataset": DATASET, "limit": 2,
                                                        "offset": 2},
                      headers=bearer(client, "population_officer")).json()
    assert len(page["items"]) == 1 and page["total"] == 3


def test_other_department_sees_none_of_them(client: TestClient, refused: None) -> None:
    r = client.get("/api/people/quarantine", params={"dataset": DATASET},
                   headers=bearer(client, "officer_tqz"))
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 1 and body["by_check"] == {"region": 1}
    assert [i["check_failed"] for i in body["items"]] == ["region"]


@pytest.mark.parametrize("role", ["grid_worker", "viewer", "commander", "data_steward"])
def test_without_people_confirm_forbidden(client: TestClient, refused: None, role: str) -> None:
    r = client.get("/api/people/quarantine", headers=bearer(client, role))
    assert r.status_code == 403
    assert r.json()["detail"]
