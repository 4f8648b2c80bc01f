"""The quality API: the latest run with samples, masking by who asks (the department's own
steward sees the values in full, audited; the bureau and others masked), running the rules
(own department's steward or the bureau only), the rule kinds, and the gate refusing a version
with a blocking tabular rule."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.datasets.store import Row
from tests.conftest import bearer
from tests.quality.conftest import Made
from tests.quality.test_runner import citizen_id

FIELDS = [("citizen_id", "string", True, "id_number"), ("name", "string", True, "name"),
          ("age", "integer", True)]


def _people(made: Made, dataset_id: str = "q_api", department: str = "CGJ") -> str:
    made.create(dataset_id, FIELDS, key="citizen_id", department=department)
    bad = citizen_id(2)[:-1] + ("0" if citizen_id(2)[-1] != "0" else "1")
    made.write(dataset_id, [
        Row(citizen_id(1), {"citizen_id": citizen_id(1), "name": "张三", "age": "30"}),
        Row(bad, {"citizen_id": bad, "name": "李四", "age": "x"}),
        Row(citizen_id(3), {"citizen_id": citizen_id(3), "name": "", "age": "40"})])
    return bad


def _rules(answer: dict) -> dict[str, dict]:
    return {r["rule_key"]: r for r in answer["rules"]}


def test_steward_runs_and_sees_own_samples_in_full(made: Made, client: TestClient,
                                                   engine: sa.Engine) -> None:
    bad = _people(made)
    steward = bearer(client, "data_steward")
    before = client.get("/api/datasets/q_api/quality", headers=steward).json()
    assert before["run"] is None and _rules(before)["type:age"]["message"] == "尚未检查"
    ran = client.post("/api/datasets/q_api/quality/run", headers=steward)
    assert ran.status_code == 200, ran.text
    answer = ran.json()
    assert answer["run"]["trigger"] == "manual" and answer["run"]["rows_checked"] == 3
    rules = _rules(answer)
    digits = rules["check_digits:citizen_id"]
    assert (digits["checked"], digits["failed"], digits["passed"]) == (3, 1, False)
    assert digits["samples"] == [{"key": bad, "value": bad, "reason": "校验码错误（GB 11643）"}]
    assert rules["type:age"]["samples"][0]["key"] == bad
    assert rules["required:name"]["failed"] == 1 and rules["required:name"]["dimension"] == (
        "completeness")
    with engine.connect() as conn:
        looks = conn.execute(sa.text(
            "SELECT data->'fields' FROM audit_log WHERE action = 'privacy.unmasked_view' "
            "AND entity_id = 'q_api' ORDER BY id DESC LIMIT 1")).scalar_one()
    assert looks == ["citizen_id"]


def test_others_get_masked_samples(made: Made, client: TestClient) -> None:
    bad = _people(made)
    client.post("/api/datasets/q_api/quality/run")  # the admin
    for role in ("data_bureau", "viewer", "commander"):
        answer = client.get("/api/datasets/q_api/quality", headers=bearer(client, role))
        assert answer.status_code == 200
        sample = _rules(answer.json())["check_digits:citizen_id"]["samples"][0]
        assert sample["value"] in (None, bad[:6] + "********" + bad[-4:]), role
        assert sample["key"] != bad, role
    assert _rules(client.get("/api/datasets/q_api/quality").json())[
        "check_digits:citizen_id"]["samples"][0]["value"] == bad  # admin: personal:read


def test_only_the_own_steward_or_the_bureau_may_run(made: Made, client: TestClient) -> None:
    with made.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO departments (code, name) VALUES ('TQOTHER', '别的局') "
                             "ON CONFLICT DO NOTHING"))
    _people(made, "q_other", department="TQOTHER")
    for role, status in (("data_steward", 403), ("viewer", 403), ("data_bureau", 200)):
        got = client.post("/api/datasets/q_other/quality/run", headers=bearer(client, role))
        assert got.status_code == status, (role, got.text)
    refused = client.post("/api/datasets/q_other/quality/run",
                          headers=bearer(client, "data_steward")).json()
    assert "TQOTHER" in refused["detail"]
    assert client.get("/api/datasets/no_such_one/quality").status_code == 404
    assert client.get("/api/datasets/Bad;Id/quality").status_code == 422


def test_rule_kinds(client: TestClient) -> None:
    kinds = {k["kind"]: k for k in client.get("/api/quality/rule-kinds",
                                              headers=bearer(client, "viewer")).json()}
    assert len(kinds) == 18
    assert kinds["check_digits"]["dimension"] == "validity"
    assert kinds["gcj02_plausible"]["name_en"] == "Not GCJ-02 shifted"
    assert "scheme" in kinds["check_digits"]["params"]["properties"]


def test_a_blocking_rule_refuses_a_version(made: Made, engine: sa.Engine) -> None:
    made.create("q_blocked", FIELDS, key="citizen_id")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE quality_rules SET blocking = true WHERE dataset_id = "
                             "'q_blocked' AND rule_key = 'type:age'"))
    good = {"citizen_id": citizen_id(1), "name": "张三", "age": "30"}
    out = made.write("q_blocked", [Row(citizen_id(1), good),
                                   Row(citizen_id(2), {**good, "citizen_id": citizen_id(2),
                                                       "age": "三十"})], gate=True)
    assert out.status == "rejected"
    assert out.report["blocking"] == [{
        "rule": "type:age", "kind": "type", "failed": 1,
        "samples": [{"key": citizen_id(2), "value": "三十", "reason": "不是有效的整数（integer）"}],
        "message": "数据类型：2 条中 1 条未通过"}]
    assert made.write("q_blocked", [Row(citizen_id(1), good)], gate=True).status == "accepted"
