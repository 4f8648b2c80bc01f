"""Vector tiles decoded and compared with what PostGIS says lies in the tile."""

from __future__ import annotations

import math
from collections.abc import Iterator

import mapbox_vector_tile
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tiles.connections import raw_connections
from tiles.postgis import BUFFER, EXTENT, PostGISRenderer, VectorLayer
from tiles.tms import lonlat_to_tile, tile_bounds

SEAT = (117.88003, 33.47922)  # the county seat: dense demo data


def decode(content: bytes) -> dict:
    return mapbox_vector_tile.decode(content)


def ids_in_tile(engine: sa.Engine, table: str, z: int, x: int, y: int) -> set[int]:
    """What PostGIS says lies in the tile including its buffer (exact test, not bbox)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            f"SELECT id FROM {table} "
            "WHERE ST_Intersects(geom_3857, ST_TileEnvelope(:z, :x, :y, margin => :m))"
        ), {"z": z, "x": x, "y": y, "m": BUFFER / EXTENT})
        return {r[0] for r in rows}


def busiest_tile(engine: sa.Engine, table: str, z: int) -> tuple[int, int, int]:
    """The z-tile holding most features of `table` (so the test looks where data is)."""
    with engine.connect() as conn:
        lon, lat = conn.execute(sa.text(
            f"SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) c FROM {table} "
            "ORDER BY ST_Distance(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) LIMIT 1) s"
        ), {"lon": SEAT[0], "lat": SEAT[1]}).one()
    x, y = lonlat_to_tile(lon, lat, z)
    return z, x, y


def test_building_tile_holds_exactly_the_buildings_postgis_finds(
    client: TestClient, engine: sa.Engine
) -> None:
    z, x, y = busiest_tile(engine, "buildings", 16)
    expected = ids_in_tile(engine, "buildings", z, x, y)
    assert expected, "the small county should have buildings near the seat"
    response = client.get(f"/tiles/buildings/{z}/{x}/{y}.mvt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert response.headers["content-encoding"] == "gzip"
    layer = decode(response.content)["buildings"]
    got = {f["id"]: f["properties"] for f in layer["features"]}
    assert set(got) == expected
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT id, floors, height FROM buildings WHERE id = ANY(:ids)"
        ), {"ids": list(expected)}).all()
    for row in rows:
        assert got[row.id]["floors"] == row.floors
        assert got[row.id]["height"] == pytest.approx(row.height)
    assert set(layer["features"][0]["properties"]) <= {"name", "use", "floors", "height"}


PIPE_FIELDS = ("network", "diameter_mm", "material", "depth_start_m", "depth_end_m",
               "install_year", "owner", "pressure_class")


def test_pipeline_tile_carries_each_pipes_record(client: TestClient, engine: sa.Engine) -> None:
    """What the 3D view and the popup read: cover at both ends, network, diameter, owner, and
    a pressure class on gas pipes only, equal to the stored row."""
    z, x, y = busiest_tile(engine, "pipelines", 16)
    expected = ids_in_tile(engine, "pipelines", z, x, y)
    response = client.get(f"/tiles/pipelines/{z}/{x}/{y}.mvt")
    assert response.status_code == 200
    got = {f["id"]: f["properties"] for f in decode(response.content)["pipelines"]["features"]}
    assert set(got) == expected
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            f"SELECT id, {', '.join(PIPE_FIELDS)} FROM pipelines WHERE id = ANY(:ids)"
        ), {"ids": list(expected)}).mappings().all()
    networks = set()
    for row in rows:
        props = got[row["id"]]
        assert set(props) <= set(PIPE_FIELDS)
        for name in PIPE_FIELDS:
            if row[name] is None:
                assert name not in props, (row["id"], name)  # MVT leaves NULLs out
            elif isinstance(row[name], float):
                assert props[name] == pytest.approx(row[name]), (row["id"], name)
            else:
                assert props[name] == row[name], (row["id"], name)
        assert props["depth_start_m"] > 0 and props["depth_end_m"] > 0
        assert ("pressure_class" in props) == (props["network"] == "gas")
        networks.add(props["network"])
    assert {"drainage", "gas", "water_supply"} <= networks


def test_point_lands_where_postgis_puts_it(client: TestClient, engine: sa.Engine) -> None:
    z, x, y = busiest_tile(engine, "cameras", 15)
    features = decode(client.get(f"/tiles/cameras/{z}/{x}/{y}.mvt").content)["cameras"]["features"]
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    with engine.connect() as conn:
        for feature in features[:20]:
            px, py = feature["geometry"]["coordinates"]
            # mapbox-vector-tile flips y so that it grows upwards
            mx = minx + px / EXTENT * (maxx - minx)
            my = miny + py / EXTENT * (maxy - miny)
            dbx, dby = conn.execute(sa.text(
                "SELECT ST_X(geom_3857), ST_Y(geom_3857) FROM cameras WHERE id = :id"
            ), {"id": feature["id"]}).one()
            resolution = (maxx - minx) / EXTENT
            assert math.hypot(mx - dbx, my - dby) <= resolution


def test_feature_cap_keeps_the_most_significant(engine: sa.Engine) -> None:
    z, x, y = busiest_tile(engine, "parcels", 14)
    capped = VectorLayer(id="parcels", table="parcels", fields=("area_m2",), rank_field="area_m2",
                         feature_cap=5, minzoom=0)
    raw = PostGISRenderer(raw_connections(engine)).render([capped], z, x, y)
    features = decode(raw)["parcels"]["features"]
    with engine.connect() as conn:
        largest = conn.execute(sa.text(
            "SELECT id FROM parcels WHERE geom_3857 && ST_TileEnvelope(:z, :x, :y, margin => :m) "
            "ORDER BY area_m2 DESC, id LIMIT 5"
        ), {"z": z, "x": x, "y": y, "m": BUFFER / EXTENT}).scalars().all()
    assert len(ids_in_tile(engine, "parcels", z, x, y)) > 5
    assert {f["id"] for f in features} == set(largest)


def test_merged_tile_has_one_named_layer_per_source(client: TestClient, engine: sa.Engine) -> None:
    z, x, y = busiest_tile(engine, "buildings", 15)
    response = client.get(f"/tiles/county,roads,buildings,cameras/{z}/{x}/{y}.mvt")
    assert response.status_code == 200
    layers = decode(response.content)
    expected = {name: ids_in_tile(engine, name, z, x, y)
                for name in ("county", "roads", "buildings", "cameras")}
    # a source with nothing in this tile contributes no layer at all
    assert set(layers) == {name for name, ids in expected.items() if ids}
    assert {"county", "roads", "buildings"} <= set(layers)
    for name in layers:
        assert {f["id"] for f in layers[name]["features"]} == expected[name]


def test_layers_outside_their_zoom_range_are_left_out(client: TestClient) -> None:
    x, y = lonlat_to_tile(*SEAT, 10)
    assert client.get(f"/tiles/buildings/10/{x}/{y}.mvt").status_code == 204
    merged = client.get(f"/tiles/county,buildings/10/{x}/{y}.mvt")
    assert merged.status_code == 200
    assert set(decode(merged.content)) == {"county"}


def test_uncompressed_when_the_client_does_not_accept_gzip(client: TestClient, engine) -> None:
    z, x, y = busiest_tile(engine, "roads", 14)
    response = client.get(f"/tiles/roads/{z}/{x}/{y}.mvt", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert decode(response.content)["roads"]["features"]


def test_matching_etag_answers_304(client: TestClient, engine: sa.Engine) -> None:
    z, x, y = busiest_tile(engine, "roads", 14)
    first = client.get(f"/tiles/roads/{z}/{x}/{y}.mvt")
    etag = first.headers["etag"]
    assert "max-age" in first.headers["cache-control"]
    again = client.get(f"/tiles/roads/{z}/{x}/{y}.mvt", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    other = client.get(f"/tiles/roads/{z}/{x}/{y}.mvt", headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200


@pytest.fixture()
def extra_building(engine: sa.Engine) -> Iterator[int]:
    with engine.begin() as conn:
        new_id = conn.execute(sa.text(
            "INSERT INTO buildings (name, floors, height, source, source_key, geom) VALUES "
            "('测试楼', 40, 120, 'test:tiles', 'b1', ST_Multi(ST_Buffer(ST_SetSRID("
            "ST_MakePoint(:lon, :lat), 4326), 0.0002, 4))) RETURNING id"
        ), {"lon": SEAT[0], "lat": SEAT[1]}).scalar_one()
    yield new_id
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM buildings WHERE source = 'test:tiles'"))


def test_a_data_change_invalidates_the_cached_tile(client: TestClient, engine: sa.Engine,
                                                    request: pytest.FixtureRequest) -> None:
    x, y = lonlat_to_tile(*SEAT, 16)
    url = f"/tiles/buildings/16/{x}/{y}.mvt"
    before = client.get(url)
    cached = client.get(url)
    assert cached.headers["etag"] == before.headers["etag"]
    new_id = request.getfixturevalue("extra_building")
    after = client.get(url)
    assert after.headers["etag"] != before.headers["etag"]
    ids = {f["id"] for f in decode(after.content)["buildings"]["features"]}
    assert new_id in ids


def test_tilejson(client: TestClient) -> None:
    tj = client.get("/tiles/buildings.json").json()
    assert tj["tilejson"] == "3.0.0"
    assert tj["tiles"][0].endswith("/tiles/buildings/{z}/{x}/{y}.mvt")
    assert tj["minzoom"] == 14
    assert tj["vector_layers"][0]["fields"]["floors"] == "Number"
    assert len(tj["bounds"]) == 4
    merged = client.get("/tiles/county,roads.json").json()
    assert [v["id"] for v in merged["vector_layers"]] == ["county", "roads"]


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/tiles/buildings/25/0/0.mvt", 400, "Zoom 25"),
        ("/tiles/buildings/3/8/0.mvt", 400, "0-7"),
        ("/tiles/buildings/3/-1/0.mvt", 400, "does not exist"),
        ("/tiles/buildings/3/a/0.mvt", 400, "x must be an integer"),
        ("/tiles/nope/3/1/1.mvt", 404, "Known layers: buildings"),
        ("/tiles/roads,nope/3/1/1.mvt", 404, "nope"),
        ("/tiles/nope.json", 404, "Unknown layer"),
    ],
)
def test_bad_tile_requests_get_clear_errors(
    client: TestClient, path: str, status: int, words: str
) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert words in response.json()["detail"]


def test_cached_tiles_are_answered_without_the_database(engine: sa.Engine, county) -> None:  # noqa: ANN001
    from backend.catalog.layers import load_catalog
    from backend.maps.service import build_tile_service
    from tests.conftest import ROOT

    service = build_tile_service(load_catalog(ROOT / "layers"), engine, cache_bytes=1 << 20,
                                 cache_enabled=True, version_ttl=60.0)
    x, y = lonlat_to_tile(*SEAT, 15)
    assert service.peek(["roads"], 15, x, y) is None  # versions never read yet
    rendered = service.get(["roads"], 15, x, y)
    hit = service.peek(["roads"], 15, x, y)
    assert hit is not None and hit.data == rendered.data and hit.etag == rendered.etag
    assert service.peek(["buildings"], 15, x, y) is None  # not rendered yet: goes to a thread


def test_low_zoom_road_tiles_leave_out_minor_roads(client: TestClient, engine: sa.Engine) -> None:
    """Generalisation: the catalog's rank.min_by_zoom keeps rural lanes out of overview tiles."""
    classes = {}
    for z in (10, 14):
        x, y = lonlat_to_tile(*SEAT, z)
        features = decode(client.get(f"/tiles/roads/{z}/{x}/{y}.mvt").content)["roads"]["features"]
        classes[z] = {f["properties"]["road_class"] for f in features}
        ranks = [f["properties"]["rank"] for f in features]
        assert ranks and min(ranks) >= (4 if z == 10 else 0)
    assert "rural" not in classes[10] and "residential" not in classes[10]
    assert "residential" in classes[14]


def test_township_labels_are_one_point_inside_each_township(
    client: TestClient, engine: sa.Engine
) -> None:
    body = client.get("/ogc/collections/township_labels/items?limit=100").json()
    assert body["numberMatched"] == 19
    with engine.connect() as conn:
        for feature in body["features"]:
            lon, lat = feature["geometry"]["coordinates"]
            inside = conn.execute(sa.text(
                "SELECT ST_Contains(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) "
                "FROM townships WHERE id = :id"
            ), {"lon": lon, "lat": lat, "id": feature["id"]}).scalar_one()
            assert inside, feature["properties"]["name"]
