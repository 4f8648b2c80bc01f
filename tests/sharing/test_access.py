"""Data access by grant: rows and downloads for the own department, the bureau and grantees
(granted fields only), grants that expire, masking by the privacy policy with audited looks,
and a grant opening the dataset's map layer."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.auth.permissions import may_see_layer, principal_for
from backend.sharing.grants import LAYER_GRANTS
from tests.sharing.conftest import add_dataset, add_version

H = Callable[[str], dict[str, str]]
FIELDS = [("k", "string", None), ("name", "string", "name"), ("phone", "string", "phone"),
          ("district", "string", None)]
ROWS = [{"k": "a1", "name": "张三丰", "phone": "13812345678", "district": "泗城镇"},
        {"k": "a2", "name": "李四", "phone": "13900001111", "district": "大庄镇"}]


def _granted(anonymous: TestClient, headers: H, dataset_id: str, role: str,
             fields: list[str]) -> int:
    made = anonymous.post(f"/api/datasets/{dataset_id}/requests", headers=headers(role),
                          json={"purpose": "走访核实", "fields": fields}).json()
    anonymous.post(f"/api/requests/{made['id']}/review", headers=headers("data_bureau"),
                   json={"decision": "pass"})
    return made["id"]


def _looks(engine: sa.Engine, actor: str, dataset_id: str) -> list[dict]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT data FROM audit_log WHERE action = 'privacy.unmasked_view' AND actor = :a "
            "AND entity = 'dataset' AND entity_id = :d ORDER BY id"),
            {"a": actor, "d": dataset_id}).scalars())


def test_no_grant_no_rows_then_the_granted_fields_masked_for_the_role(
        engine: sa.Engine, anonymous: TestClient, headers: H) -> None:
    ds = add_dataset(engine, "GVA", share_type="unconditional", fields=FIELDS)
    add_version(engine, ds, ROWS)
    refused = anonymous.get(f"/api/datasets/{ds}/rows", headers=headers("viewer"))
    assert refused.status_code == 403 and "/requests" in refused.json()["detail"]
    asked = anonymous.get(f"/api/datasets/{ds}/access", headers=headers("viewer")).json()
    assert asked["may_read"] is False and "/requests" in asked["why"]
    _granted(anonymous, headers, ds, "viewer", ["name", "district", "geometry"])
    asked = anonymous.get(f"/api/datasets/{ds}/access", headers=headers("viewer")).json()
    assert asked == {"dataset_id": ds, "may_read": True, "why": "grant",
                     "fields": ["district", "geometry", "name"]}
    assert anonymous.get("/api/datasets/no_such_one/access",
                         headers=headers("viewer")).status_code == 404
    page = anonymous.get(f"/api/datasets/{ds}/rows?limit=10", headers=headers("viewer"))
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["total"] == 2 and body["fields"] == ["name", "district", "geometry"]
    first = body["items"][0]
    assert set(first) == {"key", "name", "district", "geometry"}  # no phone: not granted
    assert first["name"] == "张**" and first["district"] == "泗城镇"  # viewer: names masked
    assert first["geometry"]["type"] == "Point"
    assert _looks(engine, "viewer", ds) == []  # nothing shown in full: no look recorded
    assert anonymous.get(f"/api/datasets/{ds}/rows?limit=1001",
                         headers=headers("viewer")).status_code == 422


def test_a_role_that_may_see_personal_values_gets_them_and_an_audited_look(
        engine: sa.Engine, anonymous: TestClient, headers: H) -> None:
    ds = add_dataset(engine, "GVA", share_type="unconditional", fields=FIELDS)
    add_version(engine, ds, ROWS)
    _granted(anonymous, headers, ds, "commander", [])  # every field
    body = anonymous.get(f"/api/datasets/{ds}/rows", headers=headers("commander")).json()
    assert body["items"][0]["name"] == "张三丰" and body["items"][0]["phone"] == "13812345678"
    looks = _looks(engine, "commander", ds)
    assert len(looks) == 1
    assert looks[0]["fields"] == ["name", "phone"] and looks[0]["keys"] == ["a1", "a2"]


def test_own_department_and_the_bureau_read_without_a_grant(
        engine: sa.Engine, anonymous: TestClient, headers: H) -> None:
    ds = add_dataset(engine, "CGJ", fields=FIELDS)
    add_version(engine, ds, ROWS)
    own = anonymous.get(f"/api/datasets/{ds}/rows", headers=headers("data_steward")).json()
    assert own["items"][1]["phone"] == "139****1111"  # the steward sees phones masked
    bureau = anonymous.get(f"/api/datasets/{ds}/rows", headers=headers("data_bureau"))
    assert bureau.status_code == 200
    assert bureau.json()["items"][0]["name"] == "张**"  # the bureau: masked, never in full
    other = add_dataset(engine, "GVB", fields=FIELDS)
    assert anonymous.get(f"/api/datasets/{other}/rows",
                         headers=headers("data_steward")).status_code == 403
    meta = add_dataset(engine, "CGJ", storage="metadata")
    r = anonymous.get(f"/api/datasets/{meta}/rows", headers=headers("data_steward"))
    assert r.status_code == 409 and "catalogue entry" in r.json()["detail"]


def test_grants_expire_and_can_be_revoked(engine: sa.Engine, anonymous: TestClient,
                                          headers: H) -> None:
    ds = add_dataset(engine, "GVA", share_type="unconditional", fields=FIELDS)
    add_version(engine, ds, ROWS)
    request_id = _granted(anonymous, headers, ds, "viewer", ["district"])
    url = f"/api/datasets/{ds}/rows"
    assert anonymous.get(url, headers=headers("viewer")).status_code == 200
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE data_grants SET valid_until = now() - interval '1 second' "
                             "WHERE request_id = :r"), {"r": request_id})
    assert anonymous.get(url, headers=headers("viewer")).status_code == 403


def test_downloads_stream_the_current_version_masked(engine: sa.Engine, anonymous: TestClient,
                                                     headers: H) -> None:
    ds = add_dataset(engine, "GVA", share_type="unconditional", fields=FIELDS)
    add_version(engine, ds, ROWS)
    add_version(engine, ds, [*ROWS, {"k": "a3", "name": "王五", "phone": "13700000000",
                                     "district": "屏山镇"}])
    _granted(anonymous, headers, ds, "viewer", ["name", "district"])  # no geometry
    r = anonymous.get(f"/api/datasets/{ds}/download?format=csv", headers=headers("viewer"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert f"{ds}-v2.csv" in r.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert table[0] == ["key", "name", "district"]
    assert [row[:3] for row in table[1:]] == [["a1", "张**", "泗城镇"], ["a2", "李*", "大庄镇"],
                                              ["a3", "王*", "屏山镇"]]
    geo = anonymous.get(f"/api/datasets/{ds}/download?format=geojson",
                        headers=headers("viewer")).json()
    assert len(geo["features"]) == 3
    assert geo["features"][0]["properties"]["name"] == "张**"
    assert geo["features"][0]["geometry"] is None  # not granted
    assert anonymous.get(f"/api/datasets/{ds}/download?format=xlsx",
                         headers=headers("viewer")).status_code == 422
    _granted(anonymous, headers, ds, "commander", [])
    full = anonymous.get(f"/api/datasets/{ds}/download?format=geojson",
                         headers=headers("commander")).json()
    assert full["features"][2]["properties"]["phone"] == "13700000000"
    assert full["features"][2]["geometry"]["type"] == "Point"
    looks = _looks(engine, "commander", ds)
    assert looks[-1]["via"] == "download.geojson" and looks[-1]["rows"] == 3


def test_a_grant_opens_the_datasets_map_layer(engine: sa.Engine, app: object,
                                              anonymous: TestClient, headers: H) -> None:
    catalog = app.state.resources.catalog  # type: ignore[attr-defined]
    parcels = catalog["parcels"]
    viewer = principal_for(None, "viewer", "viewer", ["viewer"])
    assert "viewer" not in parcels.roles
    assert not may_see_layer(viewer, parcels)
    assert anonymous.get("/tiles/parcels.json", headers=headers("viewer")).status_code == 403
    ds = add_dataset(engine, "GVA", share_type="unconditional", storage="layer",
                     layer_id="parcels")
    request_id = _granted(anonymous, headers, ds, "viewer", [])
    assert may_see_layer(viewer, parcels)
    assert anonymous.get("/tiles/parcels.json", headers=headers("viewer")).status_code == 200
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE data_grants SET revoked_at = now() WHERE request_id = :r"),
                     {"r": request_id})
    LAYER_GRANTS.invalidate()  # the cache holds a grant ~30 s; a revocation here drops it
    assert not may_see_layer(viewer, parcels)
    r = anonymous.get(f"/api/datasets/{ds}/rows", headers=headers("data_bureau"))
    assert r.status_code == 409 and "/ogc/collections/parcels/items" in r.json()["detail"]
    assert json.loads(r.text)  # an error body, not a crash
