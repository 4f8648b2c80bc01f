"""The `dataset` layer kind: a content dataset's current version as vector tiles and OGC
features, typed by the dataset's declared types, keyed by its current version."""

from __future__ import annotations

from collections.abc import Iterator

import mapbox_vector_tile
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from shapely.geometry import Point, box

from backend.catalog.layers import LayerSpec
from backend.datasets.store import set_current
from backend.maps.service import vector_layer
from tests.dataset_versions import write_rows
from tiles.connections import raw_connections
from tiles.postgis import PostGISRenderer
from tiles.tms import lonlat_to_tile

SEAT = (117.88003, 33.47922)
Z = 14
X, Y = lonlat_to_tile(*SEAT, Z)


def _village(code: str, households: int, confirmed: float, lon: float, lat: float
             ) -> tuple[dict, Point]:
    return ({"village_code": code, "village_name": f"测试村{code[-3:]}",
             "township_code": "341324100", "contracting_households": households,
             "contracted_area_mu": 1000.0, "confirmed_area_mu": confirmed,
             "certificates_issued": households // 2}, Point(lon, lat))


VILLAGES = [
    _village("341324100201", 320, 950.5, SEAT[0] + 0.001, SEAT[1] + 0.001),
    _village("341324100202", 180, 800.0, SEAT[0] - 0.002, SEAT[1] - 0.001),
    _village("341324100203", 90, 999.0, SEAT[0] + 0.0015, SEAT[1] - 0.0015),
    _village("341324100299", 75, 500.0, 118.15, 33.72),  # far away: not in the tile
]


@pytest.fixture()
def villages(client: TestClient, engine: sa.Engine) -> Iterator[list[int]]:
    """Two versions of village_land_rights (the app's start synced its catalog record): the
    first with all four villages, the second with village 202 changed and 203 gone."""
    first = write_rows(engine, "village_land_rights", "village_code", VILLAGES)
    changed = dict(VILLAGES[1][0], contracting_households=181)
    second = write_rows(engine, "village_land_rights", "village_code",
                        [VILLAGES[0], (changed, VILLAGES[1][1]), VILLAGES[3]])
    yield [first.version_id, second.version_id]


def _tile(client: TestClient, layer: str = "village_land_rights") -> tuple[dict, str]:
    response = client.get(f"/tiles/{layer}/{Z}/{X}/{Y}.mvt")
    assert response.status_code in (200, 204), response.text
    features = mapbox_vector_tile.decode(response.content).get(layer, {}).get("features", []) \
        if response.status_code == 200 else []
    return {f["properties"]["village_code"]: f["properties"] for f in features}, \
        response.headers["etag"]


def test_a_tile_holds_the_current_rows_with_typed_properties(
    client: TestClient, villages: list[int]
) -> None:
    got, _ = _tile(client)
    assert set(got) == {"341324100201", "341324100202"}  # 203 left, 299 lies elsewhere
    first = got["341324100201"]
    assert first["contracting_households"] == 320
    assert isinstance(first["contracting_households"], int)  # integer stays an integer
    assert first["confirmed_area_mu"] == pytest.approx(950.5)
    assert isinstance(first["confirmed_area_mu"], float)
    assert first["village_name"] == "测试村201"
    assert got["341324100202"]["contracting_households"] == 181  # the newer version's value
    tj = client.get("/tiles/village_land_rights.json").json()
    fields = tj["vector_layers"][0]["fields"]
    assert fields["contracting_households"] == "Number" and fields["village_name"] == "String"


def test_a_new_current_version_changes_the_etag_and_the_tile(
    client: TestClient, engine: sa.Engine, villages: list[int]
) -> None:
    before, etag = _tile(client)
    assert client.get(f"/tiles/village_land_rights/{Z}/{X}/{Y}.mvt",
                      headers={"If-None-Match": etag}).status_code == 304
    with engine.begin() as conn:  # a rollback to the first version: its rows again
        set_current(conn, dataset_id="village_land_rights", version_id=villages[0],
                    actor="tester")
    after, etag_after = _tile(client)
    assert etag_after != etag
    assert set(after) == {"341324100201", "341324100202", "341324100203"}
    assert after["341324100202"]["contracting_households"] == 180
    assert before["341324100202"]["contracting_households"] == 181
    with engine.begin() as conn:
        set_current(conn, dataset_id="village_land_rights", version_id=villages[1],
                    actor="tester")
    assert _tile(client) == (before, etag)  # the same version: the same ETag


PARCELS = [({"contract_no": f"HT{i:04d}", "holder_name": "张三丰", "holder_citizen_id":
             "341324199001011234", "area_mu": float(i), "village_code": "341324100201"},
            box(SEAT[0] + i * 0.0004, SEAT[1], SEAT[0] + i * 0.0004 + 0.0003, SEAT[1] + 0.0003))
           for i in range(1, 6)]


def test_personal_fields_never_reach_a_tile_and_the_cap_keeps_the_largest(
    client: TestClient, engine: sa.Engine
) -> None:
    write_rows(engine, "land_rights_parcels", "contract_no", PARCELS)
    spec = LayerSpec.model_validate({
        "id": "parcels_probe", "title": {"zh": "地块", "en": "Parcels"}, "department": "农业农村局",
        "domain": "rural_land", "source": {"kind": "dataset", "dataset": "land_rights_parcels"},
        "geometry": "polygon", "roles": ["admin"], "feature_cap": 3,
        "rank": {"field": "area_mu", "order": "desc"},
        "fields": [{"name": "contract_no", "zh": "合同", "en": "Contract"},
                   {"name": "holder_name", "zh": "承包方", "en": "Holder", "kind": "name"},
                   {"name": "area_mu", "zh": "面积", "en": "Area"}],
        "style": [{"type": "fill"}]})
    layer = vector_layer(spec)
    assert layer.fields == ("contract_no", "area_mu")
    x, y = lonlat_to_tile(SEAT[0] + 0.001, SEAT[1] + 0.0001, 16)
    raw = PostGISRenderer(raw_connections(engine)).render([layer], 16, x, y)
    features = mapbox_vector_tile.decode(raw)["parcels_probe"]["features"]
    assert sorted(f["properties"]["area_mu"] for f in features) == [3.0, 4.0, 5.0]
    assert all(set(f["properties"]) == {"contract_no", "area_mu"} for f in features)
    # the layer file's parcels: no personal field declared, none in the tile, z13 and above
    response = client.get(f"/tiles/land_rights_parcels/16/{x}/{y}.mvt")
    props = [f["properties"] for f in
             mapbox_vector_tile.decode(response.content)["land_rights_parcels"]["features"]]
    assert len(props) == 5 and not any("holder_name" in p or "holder_citizen_id" in p
                                       for p in props)
    assert client.get("/tiles/land_rights_parcels/12/3438/1644.mvt").status_code == 204


def test_ogc_items_of_a_dataset_layer_are_typed_and_filterable(
    client: TestClient, villages: list[int]
) -> None:
    ids = [c["id"] for c in client.get("/ogc/collections").json()["collections"]]
    assert "village_land_rights" in ids and "weather_warnings" in ids
    base = "/ogc/collections/village_land_rights"
    page = client.get(f"{base}/items", params={"limit": 100}).json()
    by_id = {f["id"]: f for f in page["features"]}
    assert set(by_id) == {"341324100201", "341324100202", "341324100299"}
    assert page["numberMatched"] == 3
    props = by_id["341324100202"]["properties"]
    assert props["contracting_households"] == 181 and props["confirmed_area_mu"] == 800.0
    assert by_id["341324100202"]["geometry"]["type"] == "Point"
    hit = client.get(f"{base}/items", params={"contracting_households": "320"}).json()
    assert [f["id"] for f in hit["features"]] == ["341324100201"]
    near = client.get(f"{base}/items", params={"bbox": "117.87,33.47,117.89,33.49"}).json()
    assert {f["id"] for f in near["features"]} == {"341324100201", "341324100202"}
    bad = client.get(f"{base}/items", params={"contracting_households": "many"})
    assert bad.status_code == 400 and "expected a int value" in bad.json()["detail"]
    one = client.get(f"{base}/items/341324100299").json()
    assert one["properties"]["village_name"] == "测试村299"
    assert client.get(f"{base}/items/341324100203").status_code == 404  # not current
    extent = client.get(base).json()["extent"]["spatial"]["bbox"][0]
    assert extent[0] == pytest.approx(SEAT[0] - 0.002) and extent[2] == pytest.approx(118.15)
