"""Imagery and terrain tiles through the server: a GeoTIFF in a Gauss-Krüger CRS and a
CGCS2000 DEM loaded by the real ingest, then asked for over HTTP like the console does (rights,
formats, encodings, ETags, 204 outside the coverage, a reload changing the ETag)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.ingest.raster import ingest_raster
from backend.settings import Settings
from tests.conftest import bearer
from tests.rasters import SEAT, county_dem, county_ortho, decode, dem_heights
from tiles.encode import decode_terrain
from tiles.tms import lonlat_to_tile


@pytest.fixture(scope="module")
def loaded(engine: sa.Engine, settings: Settings, county: dict,
           tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("raster-routes")
    ortho = county_ortho(folder / "ortho_4548.tif")
    dem = county_dem(folder / "dem_4490.tif")
    for path, layer, kind in ((ortho, "ortho", "cog"), (dem, "dem", "dem")):
        ingest_raster(engine, path, layer_id=layer, kind=kind, raster_dir=folder / "store",
                      max_bytes=settings.raster_max_bytes, actor="test")
    return {"ortho": ortho, "dem": dem, "store": folder / "store"}


def test_imagery_tiles_are_served_in_each_format_to_those_with_the_right(
    client: TestClient, anonymous: TestClient, loaded: dict[str, Path]
) -> None:
    auth = bearer(client, "viewer")
    z = 16
    x, y = lonlat_to_tile(*SEAT, z)
    layer = next(la for la in client.get("/api/layers", headers=auth).json()["layers"]
                 if la["id"] == "ortho")
    assert layer["tiles"] == "/tiles/ortho/{z}/{x}/{y}.webp" and layer["basemap"] == "imagery"
    assert layer["available"] is True  # a file is registered
    sizes = {}
    for fmt, media in (("webp", "image/webp"), ("png", "image/png"), ("jpg", "image/jpeg")):
        r = client.get(f"/tiles/ortho/{z}/{x}/{y}.{fmt}", headers=auth)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == media
        assert "content-encoding" not in r.headers  # images are not gzipped again
        assert r.headers["cache-control"].startswith("private")  # staff-only imagery
        pixels = decode(r.content)
        assert pixels.shape[:2] == (256, 256) and pixels[..., :3].std() > 5  # real texture
        sizes[fmt] = len(r.content)
        again = client.get(f"/tiles/ortho/{z}/{x}/{y}.{fmt}",
                           headers={**auth, "If-None-Match": r.headers["etag"]})
        assert again.status_code == 304
    assert anonymous.get(f"/tiles/ortho/{z}/{x}/{y}.webp").status_code in (401, 403)
    far_x, far_y = lonlat_to_tile(117.70, 33.70, z)  # in the county, outside the small image
    assert client.get(f"/tiles/ortho/{z}/{far_x}/{far_y}.webp", headers=auth).status_code == 204
    wrong = client.get(f"/tiles/ortho/{z}/{x}/{y}.mvt", headers=auth)
    assert wrong.status_code == 404 and wrong.json()["available"] == ["webp", "png", "jpg"]
    tj = client.get("/tiles/ortho.json", headers=auth).json()
    assert tj["tiles"][0].endswith("/tiles/ortho/{z}/{x}/{y}.webp")
    west, south, east, north = tj["bounds"]  # the image's footprint, not the county's
    assert west < SEAT[0] < east and south < SEAT[1] < north
    assert east - west < 0.03 and north - south < 0.03


def test_terrain_tiles_decode_to_the_heights_in_both_encodings(
    client: TestClient, loaded: dict[str, Path]
) -> None:
    auth = bearer(client, "viewer")
    z = 13
    x, y = lonlat_to_tile(*SEAT, z)
    mapbox = client.get(f"/tiles/dem/{z}/{x}/{y}.png", headers=auth)
    terrarium = client.get(f"/tiles/dem/{z}/{x}/{y}.png?encoding=terrarium", headers=auth)
    assert mapbox.status_code == terrarium.status_code == 200
    assert mapbox.headers["etag"] != terrarium.headers["etag"]
    h1 = decode_terrain(decode(mapbox.content)[..., :3], "mapbox")
    h2 = decode_terrain(decode(terrarium.content)[..., :3], "terrarium")
    land = (h1 != 0) & (h2 != 0)  # outside the DEM and in its hole: sea level
    assert land.sum() > 1000
    # Within the source's range (bilinear never leaves it); both encodings agree within
    # their coarser step (0.1 m).
    source = dem_heights(300, 240)
    assert h1[land].min() >= source.min() - 0.1 and h1[land].max() <= source.max() + 0.1
    assert np.abs(h1[land] - h2[land]).max() <= 0.1 + 1e-6
    bad = client.get(f"/tiles/dem/{z}/{x}/{y}.png?encoding=lerc", headers=auth)
    assert bad.status_code == 404 and bad.json()["available"] == ["mapbox", "terrarium"]
    tj = client.get("/tiles/dem.json", headers=auth).json()
    assert tj["encoding"] == "mapbox"


def test_a_reload_changes_the_etag_and_the_pixels(
    client: TestClient, engine: sa.Engine, settings: Settings, loaded: dict[str, Path],
    tmp_path: Path
) -> None:
    auth = bearer(client, "viewer")
    z = 16
    x, y = lonlat_to_tile(*SEAT, z)
    before = client.get(f"/tiles/ortho/{z}/{x}/{y}.png", headers=auth)
    brighter = county_ortho(tmp_path / "ortho_again.tif", width=1500)
    ingest_raster(engine, brighter, layer_id="ortho", kind="cog",
                  raster_dir=loaded["store"], max_bytes=settings.raster_max_bytes,
                  actor="test")
    time.sleep(settings.tile_version_ttl_s + 0.2)  # versions are trusted for the ttl
    after = client.get(f"/tiles/ortho/{z}/{x}/{y}.png",
                       headers={**auth, "If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
