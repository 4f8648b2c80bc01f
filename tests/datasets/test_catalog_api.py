"""The catalog over HTTP: search in Chinese (substring and trigram), filters, one dataset, its
versions and a version's report, departments; who may read what."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.auth.permissions import Permission, Role, permissions_of
from backend.datasets.store import Row, set_current, write_version
from tests.conftest import bearer

SUMMARY_KEYS = {"id", "resource_code", "name", "name_en", "department_code", "department_name",
                "share_type", "open_type", "update_cycle", "layer_id", "storage",
                "geometry_type", "synthetic", "last_updated_at", "current_seq", "score",
                "failing"}


def _ids(client: TestClient, **params: object) -> list[str]:
    r = client.get("/api/datasets", params=params)
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()["items"]]


def test_search_in_chinese_ranks_exact_then_substring_then_similar(client: TestClient) -> None:
    r = client.get("/api/datasets", params={"q": "户籍人口信息"})
    body = r.json()
    assert body["items"][0]["id"] == "household_population"
    assert set(body["items"][0]) == SUMMARY_KEYS
    assert body["items"][0]["department_name"] == "泗县公安局"
    # scores come from the quality runs other tests may have made: a number or none yet
    assert body["items"][0]["score"] is None or 0 <= body["items"][0]["score"] <= 100
    assert body["items"][0]["failing"] >= 0
    # a substring of names and of summaries
    people = _ids(client, q="人口", limit=200)
    assert "household_population" in people
    assert len(people) >= 3
    # typo-ish: not a substring of anything, found by trigram similarity
    assert "户籍人口资料" not in client.get("/api/datasets/household_population").json()["summary"]
    assert "household_population" in _ids(client, q="户籍人口资料")
    # English names are searched too
    assert _ids(client, q="Public toilets")[0] == "public_toilets"
    # % and _ are literal
    assert client.get("/api/datasets", params={"q": "%%"}).json()["total"] == 0


def test_filters_and_paging(client: TestClient) -> None:
    everything = client.get("/api/datasets", params={"limit": 200}).json()
    assert everything["total"] >= 323 + 21 - 9  # 9 layers are annex entries
    layers = client.get("/api/datasets", params={"has_layer": "true", "limit": 200}).json()
    # (other tests of the session may add records of their own: at least the catalog's)
    assert layers["total"] >= 21 and all(i["layer_id"] for i in layers["items"])
    assert {"pipelines", "cameras", "parcels"} <= {i["id"] for i in layers["items"]}
    rows = client.get("/api/datasets", params={"storage": "rows", "limit": 200}).json()
    assert rows["total"] >= 28
    assert {"household_population", "land_rights_parcels"} <= {i["id"] for i in rows["items"]}
    cgj = client.get("/api/datasets", params={"department": "CGJ", "limit": 200}).json()
    assert {"public_toilets", "waste_facilities"} <= {i["id"] for i in cgj["items"]}
    assert all(i["department_code"] == "CGJ" for i in cgj["items"])
    none = client.get("/api/datasets", params={"share_type": "none", "limit": 200}).json()
    assert "petitions" in {i["id"] for i in none["items"]}
    daily = client.get("/api/datasets", params={"update_cycle": "daily", "q": "信息"}).json()
    assert daily["total"] > 0 and all(i["update_cycle"] == "daily" for i in daily["items"])
    base = client.get("/api/datasets", params={"class_code": "101", "limit": 200}).json()
    assert "household_population" in {i["id"] for i in base["items"]}
    page1 = _ids(client, limit=10, offset=0)
    page2 = _ids(client, limit=10, offset=10)
    assert len(page1) == len(page2) == 10 and not set(page1) & set(page2)


@pytest.mark.parametrize(("params", "what"), [
    ({"limit": 201}, "limit"), ({"limit": 0}, "limit"), ({"offset": -1}, "offset"),
    ({"q": "x" * 101}, "q"), ({"q": "人"}, "q"), ({"share_type": "maybe"}, "share_type"),
    ({"has_layer": "perhaps"}, "has_layer"), ({"department": "C'GJ"}, "department"),
])
def test_hostile_search_input_is_refused(client: TestClient, params: dict, what: str) -> None:
    r = client.get("/api/datasets", params=params)
    assert r.status_code in (400, 422), r.text
    assert what in r.text


def test_one_dataset_with_fields(client: TestClient) -> None:
    d = client.get("/api/datasets/household_population").json()
    assert {"summary", "class_code", "item_code", "entry_code", "detail_code",
            "resource_format", "share_condition", "share_method", "published_on", "related",
            "keywords", "key_field", "coverage", "annex_no", "fields", "versions"} <= set(d)
    assert d["key_field"] == "citizen_id" and d["storage"] == "rows"
    assert d["fields"][0] == {"name": "citizen_id", "name_zh": "公民身份号码",
                              "data_type": "string", "description": None, "required": True,
                              "kind": "id_number", "authority": None, "link": None}
    meta = client.get("/api/datasets/sx001").json()
    assert meta["storage"] == "metadata" and meta["synthetic"] and meta["annex_no"] == 1
    assert meta["resource_code"].startswith(meta["detail_code"])
    assert client.get("/api/datasets/no_such").status_code == 404
    layer = client.get("/api/datasets/pipelines").json()
    assert layer["layer_id"] == "pipelines" and layer["department_code"] == "ZRZY"


def test_versions_and_the_report(client: TestClient, engine: sa.Engine) -> None:
    with engine.begin() as conn:
        out = write_version(conn, dataset_id="waste_facilities", arrival="generator",
                            actor="test", rows=[Row("t1", {"facility_id": "t1"})])
    versions = client.get("/api/datasets/waste_facilities/versions").json()
    mine = next(v for v in versions if v["id"] == out.version_id)
    assert mine["current"] is True and mine["rows_total"] == 1
    path = f"/api/datasets/waste_facilities/versions/{out.version_id}"
    steward = client.get(path, headers=bearer(client, "data_steward"))  # CGJ: its own
    assert steward.status_code == 200 and "report" in steward.json()
    assert client.get(path, headers=bearer(client, "data_bureau")).status_code == 200
    assert client.get(path, headers=bearer(client, "viewer")).status_code == 403
    with engine.begin() as conn:  # another department's (民政局) version
        theirs = write_version(conn, dataset_id="care_homes", arrival="generator",
                               actor="test", rows=[Row("h1", {"home_id": "h1"})])
    other = client.get(f"/api/datasets/care_homes/versions/{theirs.version_id}",
                       headers=bearer(client, "data_steward"))
    assert other.status_code == 403 and "MZJ" in other.json()["detail"]
    assert client.get("/api/datasets/waste_facilities/versions/99999999").status_code == 404
    summary = client.get("/api/datasets/waste_facilities").json()
    assert summary["current_seq"] == out.seq and summary["versions"] >= 1
    with engine.begin() as conn:  # a second version, then back: current_seq follows the pointer
        second = write_version(conn, dataset_id="waste_facilities", arrival="generator",
                               actor="test", rows=[Row("t2", {"facility_id": "t2"})])
        set_current(conn, dataset_id="waste_facilities", version_id=out.version_id,
                    actor="test")
    summary = client.get("/api/datasets/waste_facilities").json()
    assert (summary["current_seq"], second.seq) == (out.seq, out.seq + 1)


def test_departments(client: TestClient) -> None:
    deps = {d["code"]: d for d in client.get("/api/catalog/departments").json()}
    assert len(deps) == 42
    assert deps["GAJ"]["short_name"] == "公安局" and deps["GAJ"]["datasets"] >= 21
    assert deps["SJJ"]["name_en"] == "County Data Resources Bureau"
    assert sum(d["datasets"] for d in deps.values()) >= 335


def test_who_may_read_the_catalog(client: TestClient, anonymous: TestClient) -> None:
    for path in ("/api/datasets", "/api/datasets/sx001", "/api/catalog/departments",
                 "/api/datasets/sx001/versions"):
        assert anonymous.get(path).status_code == 401
    readers = [r for r in Role if Permission.CATALOG_READ in permissions_of([r.value])]
    assert len(readers) >= 5
    for role in readers:
        r = client.get("/api/datasets", params={"q": "人口"}, headers=bearer(client, role.value))
        assert r.status_code == 200, (role, r.text)


def test_failing_counts_the_rules_of_each_dataset_s_own_latest_run(
        client: TestClient, engine: sa.Engine) -> None:
    headers = bearer(client, "viewer")
    with engine.begin() as conn:
        rules = [conn.execute(sa.text(
            "INSERT INTO quality_rules (dataset_id, rule_key, kind, dimension) "
            "VALUES ('sx002', :k, 'required', 'completeness') RETURNING id"), {"k": k})
            .scalar_one() for k in ("t:failing:a", "t:failing:b")]
        run = conn.execute(sa.text("INSERT INTO quality_runs (dataset_id, trigger) "
                                   "VALUES ('sx002', 'manual') RETURNING id")).scalar_one()
        for rule, failed in zip(rules, (3, 1), strict=True):
            conn.execute(sa.text("INSERT INTO quality_results (run_id, rule_id, checked, failed) "
                                 "VALUES (:r, :q, 10, :f)"), {"r": run, "q": rule, "f": failed})
    try:
        got = {d["id"]: d["failing"] for d in client.get(
            "/api/datasets", params={"department": "FGW", "limit": 200},
            headers=headers).json()["items"]}
        assert got["sx002"] == 2
        assert got["sx001"] == 0  # a newer run of another dataset is not sx001's
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM quality_runs WHERE id = :r"), {"r": run})
            conn.execute(sa.text("DELETE FROM quality_rules WHERE id = ANY(:ids)"),
                         {"ids": rules})
