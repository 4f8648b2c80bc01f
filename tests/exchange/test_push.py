"""The push API: a department system's credential, JSON and CSV bodies, idempotency (replay
200, another body 409), 403 for another department's dataset, 401 without a credential, 422
with the row reasons, the body limit, and the credential's life (made, revoked)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.exchange.credentials import new_push_key, revoke_push_key
from tests.exchange.helpers import content_of, drop_dataset, make_dataset

TOILETS = "test_push_toilets"


@pytest.fixture()
def toilets(engine: sa.Engine) -> Iterator[str]:
    yield make_dataset(engine, "public_toilets", dataset_id=TOILETS, department="CGJ")
    drop_dataset(engine, TOILETS)


@pytest.fixture(scope="module")
def cgj_key(engine: sa.Engine) -> Iterator[dict[str, str]]:
    key_id, token = new_push_key(engine, department="CGJ", label="城管局数字城管系统",
                                 actor="tester")
    yield {"Authorization": f"Bearer {token}"}
    revoke_push_key(engine, key_id=key_id, actor="tester")


def rows(n: int, start: int = 0) -> list[dict]:
    return [{"toilet_id": f"P{i}", "name": f"公厕{i}", "geometry": {
        "type": "Point", "coordinates": [117.9 + i / 1000, 33.5]}} for i in range(start, n)]


def test_json_push_incremental_and_idempotent(anonymous: TestClient, cgj_key: dict[str, str],
                                              toilets: str, engine: sa.Engine) -> None:
    url = f"/api/datasets/{toilets}/versions"
    first = anonymous.post(url, headers={**cgj_key, "Idempotency-Key": "b1"},
                           json={"mode": "full", "rows": rows(3)})
    assert first.status_code == 201, first.text
    v = first.json()
    assert (v["arrival"], v["rows_total"], v["created_by"]) == ("push", 3, v["created_by"])
    assert v["created_by"].startswith("push:CGJ:")
    again = anonymous.post(url, headers={**cgj_key, "Idempotency-Key": "b1"},
                           json={"mode": "full", "rows": rows(3)})
    assert again.status_code == 200 and again.json()["id"] == v["id"]
    clash = anonymous.post(url, headers={**cgj_key, "Idempotency-Key": "b1"},
                           json={"mode": "full", "rows": rows(4)})
    assert clash.status_code == 409 and "b1" in clash.json()["detail"]
    inc = anonymous.post(url, headers={**cgj_key, "Idempotency-Key": "b2"},
                         json={"mode": "incremental", "rows": rows(5, 3), "deletes": ["P0"]})
    assert inc.status_code == 201, inc.text
    assert (inc.json()["rows_added"], inc.json()["rows_removed"], inc.json()["rows_total"]) == (
        2, 1, 4)
    assert sorted(content_of(engine, toilets)) == ["P1", "P2", "P3", "P4"]
    with engine.connect() as conn:
        actions = conn.execute(sa.text(
            "SELECT count(*) FROM audit_log WHERE entity = 'dataset' AND entity_id = :d AND "
            "action = 'dataset.version'"), {"d": toilets}).scalar_one()
    assert actions == 2


def test_csv_push(anonymous: TestClient, cgj_key: dict[str, str], toilets: str,
                  engine: sa.Engine) -> None:
    body = "公厕编号,名称,经度,纬度\nC1,东关公厕,117.9,33.5\nC2,西关公厕,117.8,33.4\n"
    r = anonymous.post(f"/api/datasets/{toilets}/versions?mode=full",
                       headers={**cgj_key, "Content-Type": "text/csv"},
                       content=body.encode("gbk"))
    assert r.status_code == 201, r.text
    assert content_of(engine, toilets)["C2"]["name"] == "西关公厕"


def test_bad_rows_refuse_the_push_with_reasons(anonymous: TestClient, cgj_key: dict[str, str],
                                               toilets: str, engine: sa.Engine) -> None:
    bad = [{"toilet_id": "X1", "name": "a", "geometry": {"type": "Pointy"}},
           {"toilet_id": "X2", "name": "b", "open_hours": {"a": 1}, "colour": "red"}]
    r = anonymous.post(f"/api/datasets/{toilets}/versions", headers=cgj_key,
                       json={"mode": "full", "rows": bad})
    assert r.status_code == 422
    assert "colour" in r.json()["detail"]
    r = anonymous.post(f"/api/datasets/{toilets}/versions", headers=cgj_key,
                       json={"mode": "full", "rows": [{"toilet_id": "X2", "name": "b",
                                                       "open_hours": {"a": 1}}]})
    assert r.status_code == 422
    assert r.json()["report"]["rejected_rows"][0]["reason"] == (
        "must be a single value, not a list or object")
    r = anonymous.post(f"/api/datasets/{toilets}/versions", headers=cgj_key,
                       json={"mode": "full", "rows": bad[:1]})
    assert r.status_code == 422
    assert r.json()["report"]["rejected_rows"][0] == {
        "row": 1, "key": "X1", "field": "geometry", "value": None,
        "reason": "geometry is not a GeoJSON geometry object"}
    shape = anonymous.post(f"/api/datasets/{toilets}/versions", headers=cgj_key,
                           json={"mode": "sideways", "rows": rows(1)})
    assert shape.status_code == 400 and "mode" in shape.json()["detail"]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM dataset_versions WHERE dataset_id = "
                                    ":d"), {"d": toilets}).scalar_one() == 0


def test_other_department_no_credential_revoked_and_size(
        anonymous: TestClient, client: TestClient, cgj_key: dict[str, str], toilets: str,
        engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    other = make_dataset(engine, "gdp_quarterly", dataset_id="test_push_gdp", department="TJJ")
    try:
        r = anonymous.post(f"/api/datasets/{other}/versions", headers=cgj_key,
                           json={"mode": "full", "rows": [{"period_industry": "x"}]})
        assert r.status_code == 403 and "TJJ" in r.json()["detail"]
    finally:
        drop_dataset(engine, other)
    url = f"/api/datasets/{toilets}/versions"
    assert anonymous.post(url, json={"rows": rows(1)}).status_code == 401
    assert anonymous.post(url, headers={"Authorization": "Bearer nope"},
                          json={"rows": rows(1)}).status_code == 401
    # a user's session is no push credential
    assert client.post(url, json={"rows": rows(1)}).status_code == 401
    key_id, token = new_push_key(engine, department="CGJ", label="old", actor="tester")
    revoke_push_key(engine, key_id=key_id, actor="tester")
    assert anonymous.post(url, headers={"Authorization": f"Bearer {token}"},
                          json={"rows": rows(1)}).status_code == 401
    settings = client.app.state.resources.settings  # type: ignore[attr-defined]
    monkeypatch.setattr(settings, "dataset_push_max_bytes", 2048)
    big = anonymous.post(url, headers=cgj_key, json={"mode": "full", "rows": rows(100)})
    assert big.status_code == 413
