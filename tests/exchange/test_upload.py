"""File upload: each format (CSV UTF-8 and GBK, XLSX, GeoJSON, GeoPackage, zipped Shapefile
with its .prj), wrong columns, types and encoding refused with the rows and columns named, the
size limit, the rollback, the audit entries, the data.updates notice and the counters."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from shapely.geometry import Point

from backend.exchange.counters import REFUSALS
from tests.conftest import bearer
from tests.exchange.helpers import content_of, drop_dataset, make_dataset

TOILETS = "test_upload_toilets"      # points, 城管局 (CGJ: the test steward's department)
WASTE = "test_upload_waste"          # points with a number field


@pytest.fixture()
def toilets(engine: sa.Engine) -> Iterator[str]:
    yield make_dataset(engine, "public_toilets", dataset_id=TOILETS, department="CGJ")
    drop_dataset(engine, TOILETS)


@pytest.fixture()
def waste(engine: sa.Engine) -> Iterator[str]:
    yield make_dataset(engine, "waste_facilities", dataset_id=WASTE, department="CGJ")
    drop_dataset(engine, WASTE)


@pytest.fixture(scope="module")
def steward(client: TestClient) -> dict[str, str]:
    return bearer(client, "data_steward")


def post(client: TestClient, headers: dict[str, str], dataset: str, name: str,
         data: bytes) -> object:
    return client.post(f"/api/datasets/{dataset}/upload", headers=headers,
                       files={"file": (name, data, "application/octet-stream")})


TOILET_HEADER = "公厕编号,名称,开放时间,经度,纬度"


def toilet_csv(n: int = 10, encoding: str = "utf-8-sig", header: str = TOILET_HEADER) -> bytes:
    lines = [header] + [f"T{i:03d},第{i}号公厕,全天,117.88{i % 10},33.48{i % 10}"
                        for i in range(n)]
    return ("\n".join(lines) + "\n").encode(encoding)


def test_a_utf8_csv_with_chinese_headers_becomes_a_version(
        client: TestClient, steward: dict[str, str], toilets: str, engine: sa.Engine) -> None:
    r = post(client, steward, toilets, "公厕.csv", toilet_csv())
    assert r.status_code == 201, r.text
    v = r.json()
    assert (v["status"], v["seq"], v["arrival"], v["rows_total"], v["rows_added"]) == (
        "accepted", 1, "file", 10, 10)
    assert v["current"] is True and v["source"] == "公厕.csv" and v["report"]["rejected_rows"] == []
    rows = content_of(engine, toilets)
    assert rows["T003"] == {"toilet_id": "T003", "name": "第3号公厕", "open_hours": "全天"}
    with engine.connect() as conn:
        lon, lat = conn.execute(sa.text(
            "SELECT ST_X(geom), ST_Y(geom) FROM dataset_rows WHERE dataset_id = :d AND key = "
            "'T003'"), {"d": toilets}).one()
        audited = conn.execute(sa.text(
            "SELECT data FROM audit_log WHERE entity = 'dataset' AND entity_id = :d AND action "
            "= 'dataset.version'"), {"d": toilets}).scalar_one()
    assert (lon, lat) == pytest.approx((117.883, 33.483))
    assert audited["arrival"] == "file" and audited["added"] == 10
    # the second version changes one row, drops one and adds one; then the rollback
    changed = toilet_csv(10).replace("第1号公厕".encode(), "一号公厕".encode())
    changed = changed.replace("T009,第9号公厕,全天,117.889,33.489\n".encode(),
                              "T010,新公厕,,117.88,33.48\n".encode())
    second = post(client, steward, toilets, "b.csv", changed).json()
    assert (second["rows_added"], second["rows_changed"], second["rows_removed"]) == (1, 1, 1)
    back = client.post(f"/api/datasets/{toilets}/current", headers=steward,
                       json={"version_id": v["id"]})
    assert back.status_code == 200 and back.json()["current"] is True
    assert content_of(engine, toilets)["T001"]["name"] == "第1号公厕"


def test_a_gbk_csv_is_detected(client: TestClient, steward: dict[str, str], toilets: str,
                               engine: sa.Engine) -> None:
    r = post(client, steward, toilets, "gbk.csv", toilet_csv(5, "gbk"))
    assert r.status_code == 201, r.text
    assert any("GB18030" in n for n in r.json()["report"]["notes"])
    assert content_of(engine, toilets)["T002"]["name"] == "第2号公厕"


def test_an_undecodable_file_is_refused_naming_the_byte(
        client: TestClient, steward: dict[str, str], toilets: str) -> None:
    before = REFUSALS[("upload", "encoding")]
    data = toilet_csv(3) + b"T9,\xff\xfe\x80,x,1,2\n"
    r = post(client, steward, toilets, "bad.csv", data)
    assert r.status_code == 422
    detail = r.json()["detail"]
    offset = data.index(b"\xff")
    assert f"byte offset {offset})" in detail and "UTF-8" in detail
    assert REFUSALS[("upload", "encoding")] == before + 1


def test_wrong_columns_are_refused_with_the_columns_and_first_rows(
        client: TestClient, steward: dict[str, str], toilets: str, engine: sa.Engine) -> None:
    r = post(client, steward, toilets, "cols.csv",
             toilet_csv(3, header="编号,名称,开放时间,经度,纬度"))
    assert r.status_code == 422
    body = r.json()
    assert "toilet_id (公厕编号)" in body["detail"] and "编号" in body["detail"]
    assert body["report"]["missing_columns"] == ["toilet_id (公厕编号)"]
    assert body["report"]["unknown_columns"] == ["编号"]
    assert body["report"]["first_rows"][0]["编号"] == "T000"
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM dataset_versions WHERE dataset_id = "
                                    ":d"), {"d": toilets}).scalar_one() == 0


def waste_csv(bad: int, n: int = 40) -> bytes:
    lines = ["facility_id,name,capacity_t,lon,lat"]
    for i in range(n):
        cap = "很多" if i < bad else str(100 + i)
        lines.append(f"W{i:02d},设施{i},{cap},117.9,33.5")
    return ("\n".join(lines) + "\n").encode()


def test_bad_values_are_rows_rejected_with_reasons_and_too_many_refuse_the_file(
        client: TestClient, steward: dict[str, str], waste: str, engine: sa.Engine) -> None:
    r = post(client, steward, waste, "w.csv", waste_csv(bad=1))
    assert r.status_code == 201, r.text
    v = r.json()
    assert (v["rows_total"], v["rows_rejected"]) == (39, 1)
    assert v["report"]["rejected_rows"] == [{"row": 1, "key": "W00", "field": "capacity_t",
                                             "value": "很多",
                                             "reason": "'很多' is not a number"}]
    assert content_of(engine, waste)["W05"]["capacity_t"] == 105
    refused = post(client, steward, waste, "w3.csv", waste_csv(bad=3))
    assert refused.status_code == 422
    body = refused.json()
    assert "3 of 40 rows" in body["detail"] and "capacity_t" in body["detail"]
    assert [x["row"] for x in body["report"]["rejected_rows"]] == [1, 2, 3]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM dataset_versions WHERE dataset_id = "
                                    ":d"), {"d": waste}).scalar_one() == 1


def frame(n: int = 4) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"facility_id": [f"G{i}" for i in range(n)], "设施名称": [f"站{i}" for i in range(n)],
         "capacity_t": [10.5 * i for i in range(n)]},
        geometry=[Point(117.85 + i / 100, 33.45 + i / 100) for i in range(n)], crs=4326)


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".zip", ".xlsx"])
def test_each_format(client: TestClient, steward: dict[str, str], waste: str,
                     engine: sa.Engine, tmp_path: Path, suffix: str) -> None:
    gdf = frame()
    path = tmp_path / f"w{suffix}"
    if suffix == ".zip":
        # a Shapefile in CGCS2000 / 3-degree Gauss-Kruger CM 117E (EPSG:4548), with .prj and .cpg
        folder = tmp_path / "shp"
        folder.mkdir()
        pyogrio.write_dataframe(gdf.rename(columns={"设施名称": "name"}).to_crs(4548),
                                folder / "w.shp", encoding="UTF-8")
        assert (folder / "w.prj").exists() and (folder / "w.cpg").exists()
        with zipfile.ZipFile(path, "w") as zf:
            for part in folder.iterdir():
                zf.write(part, part.name)
    elif suffix == ".xlsx":
        table = pd.DataFrame(gdf.drop(columns="geometry"))
        table["经度"] = gdf.geometry.x
        table["纬度"] = gdf.geometry.y
        pyogrio.write_dataframe(table, path, driver="XLSX", layer="设施")
    else:
        pyogrio.write_dataframe(gdf, path)
    r = post(client, steward, waste, path.name, path.read_bytes())
    assert r.status_code == 201, r.text
    assert r.json()["rows_total"] == 4
    rows = content_of(engine, waste)
    assert rows["G2"]["capacity_t"] == 21 and rows["G3"]["name"] == "站3"
    with engine.connect() as conn:
        lon, lat = conn.execute(sa.text(
            "SELECT ST_X(geom), ST_Y(geom) FROM dataset_rows WHERE dataset_id = :d AND key = "
            "'G2' AND last_seq IS NULL"), {"d": waste}).one()
    assert (lon, lat) == pytest.approx((117.87, 33.47), abs=1e-6)


def test_size_limit_other_department_and_roles(
        client: TestClient, steward: dict[str, str], toilets: str, engine: sa.Engine,
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = client.app.state.resources.settings  # type: ignore[attr-defined]
    monkeypatch.setattr(settings, "dataset_upload_max_bytes", 2048)
    r = post(client, steward, toilets, "big.csv", toilet_csv(200))
    assert r.status_code == 413 and "DATASET_UPLOAD_MAX_BYTES" in r.json()["detail"]
    monkeypatch.undo()
    other = make_dataset(engine, "gdp_quarterly", dataset_id="test_upload_gdp", department="TJJ")
    try:
        r = post(client, steward, other, "g.csv", b"period_industry\nx\n")
        assert r.status_code == 403 and "TJJ" in r.json()["detail"]
    finally:
        drop_dataset(engine, other)
    viewer = bearer(client, "viewer")
    assert post(client, viewer, toilets, "a.csv", toilet_csv(2)).status_code == 403
    assert client.post(f"/api/datasets/{toilets}/upload", headers={"Authorization": ""},
                       files={"file": ("a.csv", toilet_csv(2))}).status_code == 401
    assert post(client, steward, "no_such_dataset", "a.csv", toilet_csv(2)).status_code == 404


def test_the_hub_hears_of_the_new_version(client: TestClient, steward: dict[str, str],
                                          toilets: str) -> None:
    from tests.conftest import console, next_event

    with console(client, "data.updates") as ws:
        r = post(client, steward, toilets, "a.csv", toilet_csv(3))
        assert r.status_code == 201
        event = next_event(ws)["data"]
    assert event["dataset_id"] == toilets and event["rows_added"] == 3
    assert event["name"] == "公测信息" and "at" in event


def test_refusals_are_on_metrics(client: TestClient, steward: dict[str, str],
                                 toilets: str) -> None:
    post(client, steward, toilets, "x.txt", b"hello")
    text = client.get("/metrics").text
    assert 'cityops_dataset_arrivals_refused_total{path="upload",reason="format"}' in text


def test_read_csv_keeps_leading_zeros() -> None:
    from backend.exchange.files import read_csv

    table = read_csv(b"a,b\n007,x\n", "a.csv")
    assert table.records == [{"a": "007", "b": "x"}]


def test_a_version_the_gate_refuses_is_kept_as_rejected(
        client: TestClient, steward: dict[str, str], toilets: str, engine: sa.Engine,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The quality slice's gate replaces the placeholder at merge; any gate's refusal is a 422
    with the version's report, and the version stays rejected, never current."""
    from backend.exchange import service

    def refuse(cur, dataset_id: str, relation: str) -> list[dict]:  # noqa: ANN001
        return [{"rule": "toilet_id:unique", "failed": 1, "samples": []}]

    monkeypatch.setattr(service, "blocking_gate", refuse)
    r = post(client, steward, toilets, "a.csv", toilet_csv(3))
    assert r.status_code == 422 and "toilet_id:unique" in r.json()["detail"]
    report = r.json()["report"]
    assert report["status"] == "rejected" and report["blocking"][0]["rule"] == "toilet_id:unique"
    with engine.connect() as conn:
        status, current = conn.execute(sa.text(
            "SELECT v.status, d.current_version_id FROM dataset_versions v JOIN datasets d ON "
            "d.id = v.dataset_id WHERE v.id = :v"), {"v": report["version_id"]}).one()
    assert (status, current) == ("rejected", None)
