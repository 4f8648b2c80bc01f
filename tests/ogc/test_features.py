"""OGC API - Features: read by our own client and by GDAL's OAPIF driver."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient


def test_landing_and_conformance(client: TestClient) -> None:
    landing = client.get("/ogc/").json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "conformance", "data", "service-desc"} <= rels
    conf = client.get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf


def test_collections_list_every_layer(client: TestClient) -> None:
    body = client.get("/ogc/collections").json()
    ids = {c["id"] for c in body["collections"]}
    assert {"parcels", "buildings", "cameras", "grid_cells", "county"} <= ids
    one = client.get("/ogc/collections/cameras").json()
    assert any(link["rel"] == "items" for link in one["links"])
    bbox = one["extent"]["spatial"]["bbox"][0]
    assert 117 < bbox[0] < bbox[2] < 119


def test_items_page_through_with_next_links(client: TestClient, engine: sa.Engine) -> None:
    with engine.connect() as conn:
        total = conn.execute(sa.text("SELECT count(*) FROM cameras")).scalar_one()
    seen: list[int] = []
    url = "/ogc/collections/cameras/items?limit=7"
    pages = 0
    while url and pages < 1000:
        response = client.get(url)
        assert response.headers["content-type"] == "application/geo+json"
        body = response.json()
        assert body["numberMatched"] == total
        assert body["numberReturned"] == len(body["features"])
        seen += [f["id"] for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://testserver", "") if nxt else ""
        pages += 1
    assert len(seen) == total == len(set(seen))


def test_bbox_and_property_filters_match_postgis(client: TestClient, engine: sa.Engine) -> None:
    bbox = (117.85, 33.45, 117.91, 33.50)
    body = client.get(
        "/ogc/collections/cameras/items",
        params={"bbox": ",".join(map(str, bbox)), "kind": "traffic", "limit": 10000},
    ).json()
    with engine.connect() as conn:
        expected = set(conn.execute(sa.text(
            "SELECT id FROM cameras WHERE kind = 'traffic' AND "
            "ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4326))"
        ), dict(zip("abcd", bbox, strict=True))).scalars())
    assert {f["id"] for f in body["features"]} == expected
    for feature in body["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        assert bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]
        assert feature["properties"]["kind"] == "traffic"
        assert "source" not in feature["properties"]  # only the catalog's exposed fields


def test_single_item(client: TestClient, engine: sa.Engine) -> None:
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT id, grid_code FROM grid_cells LIMIT 1")).one()
    feature = client.get(f"/ogc/collections/grid_cells/items/{row.id}").json()
    assert feature["properties"]["grid_code"] == row.grid_code
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert client.get("/ogc/collections/grid_cells/items/999999999").status_code == 404
    assert client.get("/ogc/collections/grid_cells/items/abc").status_code == 404


def test_pipeline_items_carry_the_engineers_fields(client: TestClient, engine: sa.Engine) -> None:
    body = client.get("/ogc/collections/pipelines/items",
                      params={"network": "gas", "limit": 50}).json()
    assert body["numberReturned"] > 0
    with engine.connect() as conn:
        for feature in body["features"]:
            props = feature["properties"]
            row = conn.execute(sa.text(
                "SELECT depth_start_m, depth_end_m, owner, pressure_class FROM pipelines "
                "WHERE id = :id"), {"id": feature["id"]}).one()
            assert (props["depth_start_m"], props["depth_end_m"]) == (row.depth_start_m,
                                                                      row.depth_end_m)
            assert props["owner"] == row.owner and props["pressure_class"] == row.pressure_class
            assert props["pressure_class"] in {"low", "medium_b", "medium_a"}
    low = client.get("/ogc/collections/pipelines/items",
                     params={"pressure_class": "low", "limit": 10000}).json()
    assert low["features"] and all(f["properties"]["network"] == "gas" for f in low["features"])


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("bbox=1,2,3", "4 numbers"),
        ("bbox=a,b,c,d", "only numbers"),
        ("bbox=118,33,117,34", "min above max"),
        ("bbox=33,200,34,201", "outside longitude"),
        ("limit=0", "limit must be between 1 and 10000"),
        ("offset=-1", "offset must be 0 or more"),
        ("colour=red", "Unknown query parameter 'colour'"),
        ("fov_deg=wide", "expected a float value"),
        ("f=html", "f=json"),
    ],
)
def test_bad_queries_get_400_with_a_reason(client: TestClient, query: str, words: str) -> None:
    response = client.get(f"/ogc/collections/cameras/items?{query}")
    assert response.status_code == 400, response.text
    assert words in response.json()["detail"]


def test_unknown_collection_lists_the_known_ones(client: TestClient) -> None:
    response = client.get("/ogc/collections/nope/items")
    assert response.status_code == 404
    assert "parcels" in response.json()["collections"]


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="gdal-bin is installed by make")
def test_gdal_reads_the_layers_unmodified(
    live_server: str, engine: sa.Engine, client: TestClient
) -> None:
    """GDAL's OAPIF driver is an independent client: what QGIS uses too. Anonymous, it sees
    the public layers; with a bearer token in GDAL_HTTP_HEADERS, the caller's layers."""
    url = f"OAPIF:{live_server}/ogc/"
    public = subprocess.run(["ogrinfo", "-ro", "-q", url], capture_output=True, text=True,
                            timeout=120, check=True)
    assert "county" in public.stdout and "parcels" not in public.stdout
    env = {**os.environ, "GDAL_HTTP_HEADERS": f"Authorization: {client.headers['authorization']}"}
    listing = subprocess.run(["ogrinfo", "-ro", "-q", url], capture_output=True, text=True,
                             timeout=120, check=True, env=env)
    assert "cameras" in listing.stdout and "parcels" in listing.stdout
    with engine.connect() as conn:
        expected = conn.execute(sa.text("SELECT count(*) FROM grid_cells")).scalar_one()
    out = subprocess.run(
        ["ogr2ogr", "-f", "GeoJSON", "/vsistdout/", url, "grid_cells"],
        capture_output=True, text=True, timeout=120, check=True, env=env,
    )
    collection = json.loads(out.stdout)
    assert len(collection["features"]) == expected
    codes = {f["properties"]["grid_code"] for f in collection["features"]}
    assert all(len(code) == 15 and code.startswith("341324") for code in codes)
