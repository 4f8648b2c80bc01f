"""Raster ingest on real files: GeoTIFFs in the county's CRSs made here, the real sample
rasters, and bad input refused with the reason, leaving the registry and raster_dir unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
import sqlalchemy as sa
from rasterio.control import GroundControlPoint
from rasterio.transform import Affine, from_origin
from rio_cogeo.cogeo import cog_validate

import backend.ingest.raster as raster_ingest
import backend.ingest.raster_cog as raster_cog
from backend.errors import InvalidInput, Unprocessable
from backend.ingest.raster import ingest_raster
from backend.ingest.raster_report import RasterReport
from backend.rasters.service import Locator, lookup, raster_source
from tests.rasters import (
    DEM_SAMPLE,
    RGB_SAMPLE,
    SEAT,
    county_dem,
    county_ortho,
    dem_heights,
    ortho_pixels,
    seat_origin,
    write_geotiff,
)

LAYER = "test_raster_ingest"
ROOT = Path(__file__).resolve().parents[2]
Ingest = Callable[..., RasterReport]


@pytest.fixture
def raster_dir(tmp_path: Path) -> Path:
    return tmp_path / "rasters"


@pytest.fixture
def ingest(engine: sa.Engine, county: dict[str, int], raster_dir: Path) -> Iterator[Ingest]:
    def run(file: Path, kind: str = "cog", **kw: object) -> RasterReport:
        args: dict[str, object] = {"layer_id": LAYER, "kind": kind, "raster_dir": raster_dir,
                                   "max_bytes": 50_000_000, "actor": "test"}
        return ingest_raster(engine, file, **{**args, **kw})  # type: ignore[arg-type]

    yield run
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM raster_files WHERE layer_id LIKE 'test_%'"))


def registry(engine: sa.Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT layer_id, sha256, loaded_at FROM raster_files ORDER BY layer_id"))]


def version(engine: sa.Engine, layer: str = LAYER) -> int:
    with engine.connect() as conn:
        v = conn.execute(sa.text("SELECT version FROM layer_versions WHERE table_name = :t"),
                         {"t": f"raster:{layer}"}).scalar()
    return int(v or 0)


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_gauss_krueger_orthophoto_is_stored_on_the_web_grid(
    ingest: Ingest, engine: sa.Engine, raster_dir: Path, tmp_path: Path
) -> None:
    src = county_ortho(tmp_path / "ortho_4548.tif", epsg=4548)
    before = version(engine)
    report = ingest(src)
    assert report.ok and report.source_crs.startswith("EPSG:4548 (CGCS2000 / 3-degree")
    assert "Gauss-Kruger CM 117E" in report.transform
    assert any("reprojected from EPSG:4548" in f for f in report.fixes)
    assert any("WEBP (quality 85)" in f for f in report.fixes)
    assert report.maxzoom == 17  # 1 m pixels at 33.5N: zoom 17 (0.996 m on the ground)
    assert version(engine) == before + 1 == report.data_version
    stored = lookup(engine, LAYER)
    assert stored is not None and stored.path == raster_dir / f"{stored.sha256}.tif"
    assert listing(raster_dir) == [stored.path.name]  # no temporary file left
    assert stored.bounds[0] < SEAT[0] < stored.bounds[2]
    assert stored.bounds[1] < SEAT[1] < stored.bounds[3]
    assert cog_validate(stored.path, quiet=True)[0]
    with rasterio.open(stored.path) as cog:
        assert cog.crs.to_epsg() == 3857 and cog.compression.name == "webp"
        assert cog.block_shapes[0] == (256, 256)
        assert len(cog.overviews(1)) == report.overviews == stored.maxzoom - stored.minzoom
        # Every aligned level starts on a tile corner of its zoom (a small image pads little:
        # all but the coarsest of its few levels are aligned).
        fix = next(f for f in report.fixes if "aligned to the web tiles" in f)
        lowest = int(fix.split("at zooms ")[1].split("-")[0])
        assert report.maxzoom - lowest >= report.overviews - 2
        for level in range(report.maxzoom - lowest + 1):
            with rasterio.open(stored.path, overview_level=level - 1 if level else None) as ds:
                tile = 2 * 20037508.342789244 / 2 ** (report.maxzoom - level)
                assert abs((ds.transform.c + 20037508.342789244) / tile % 1) < 1e-6
        # The seat's pixel has the colour of the source pixel under it.
        x, y = _mercator(*SEAT)
        row, col = cog.index(x, y)
        got = cog.read(window=((row, row + 1), (col, col + 1)))[:, 0, 0].astype(int)
    with rasterio.open(src) as s:
        sx, sy = _transform(4326, 4548, *SEAT)
        srow, scol = s.index(sx, sy)
        want = ortho_pixels(s.width, s.height)[:, srow, scol].astype(int)
    assert np.abs(got - want).max() <= 12  # WebP q85 on a smooth pattern + 1 px of resampling
    with engine.connect() as conn:
        audit = conn.execute(sa.text(
            "SELECT actor, data FROM audit_log WHERE action = 'data.load' AND entity = :l "
            "ORDER BY id DESC LIMIT 1"), {"l": LAYER}).one()
    assert audit.data["sha256"] == stored.sha256 and audit.data["source_crs"] == "EPSG:4548"


def test_cgcs2000_dem_with_a_hole_lists_the_no_data(
    ingest: Ingest, engine: sa.Engine, tmp_path: Path
) -> None:
    src = county_dem(tmp_path / "dem_4490.tif", epsg=4490)
    report = ingest(src, kind="dem")
    assert report.source_crs.startswith("EPSG:4490") and report.nodata is not None
    nd = report.nodata
    assert nd.pixels == 60 * 80 and nd.total == 300 * 240 and nd.bbox is not None
    # The hole's extent: columns 120-200, rows 90-150 of a 0.0003 degree grid.
    x0, y0 = seat_origin(4490, 300 * 0.0003, 240 * 0.0003)
    assert nd.bbox == pytest.approx((x0 + 120 * 0.0003, y0 - 150 * 0.0003,
                                     x0 + 200 * 0.0003, y0 - 90 * 0.0003), abs=1e-9)
    heights = dem_heights(300, 240)
    heights[90:150, 120:200] = np.nan
    assert report.heights == pytest.approx((np.nanmin(heights), np.nanmax(heights)), abs=1e-3)
    assert any("encode it as 0 m" in f for f in report.fixes)
    text = report.summary()
    assert "no data (value -9999 or NaN): 4800 of 72000 pixels (6.67%)" in text
    stored = lookup(engine, LAYER)
    assert stored is not None and stored.dtype == "float32" and stored.nodata == -9999.0
    with rasterio.open(stored.path) as cog:
        assert cog.compression.name == "deflate" and cog.crs.to_epsg() == 3857


def test_ground_control_points_place_an_image(
    ingest: Ingest, engine: sa.Engine, tmp_path: Path
) -> None:
    """A scan placed by four control points (no geotransform) is warped by them."""
    x0, y0 = seat_origin(4548, 500, 400)
    gcps = [GroundControlPoint(row, col, x0 + col, y0 - row)
            for row, col in ((0, 0), (0, 500), (400, 0), (400, 500))]
    path = tmp_path / "scan_gcps.tif"
    with rasterio.open(path, "w", driver="GTiff", width=500, height=400, count=3,
                       dtype="uint8") as dst:
        dst.write(ortho_pixels(500, 400))
        dst.gcps = (gcps, rasterio.crs.CRS.from_epsg(4548))
    report = ingest(path)
    assert report.georeference == "4 ground control points"
    stored = lookup(engine, LAYER)
    assert stored is not None
    assert stored.bounds[0] < SEAT[0] < stored.bounds[2]
    assert stored.bounds[1] < SEAT[1] < stored.bounds[3]


def test_reloading_replaces_the_file_and_bumps_the_version(
    ingest: Ingest, engine: sa.Engine, raster_dir: Path, tmp_path: Path
) -> None:
    first = ingest(county_dem(tmp_path / "a.tif", hole=None), kind="dem")
    second = ingest(county_dem(tmp_path / "b.tif"), kind="dem")
    assert second.data_version == first.data_version + 1  # type: ignore[operator]
    assert first.sha256 != second.sha256
    assert any("previous file" in note for note in second.notes)
    stored = lookup(engine, LAYER)
    assert stored is not None and stored.sha256 == second.sha256


def test_samples_outside_the_county_are_refused_unless_allowed(
    ingest: Ingest, engine: sa.Engine, raster_dir: Path
) -> None:
    for sample, kind in ((RGB_SAMPLE, "cog"), (DEM_SAMPLE, "dem")):
        with pytest.raises(Unprocessable, match="lies outside the county"):
            ingest(sample, kind=kind)
        assert lookup(engine, LAYER) is None and listing(raster_dir) == []
    report = ingest(RGB_SAMPLE, within_county=False)
    assert report.source_crs.startswith("EPSG:32618") and report.nodata is not None
    assert report.nodata.how == "value 0" and 0.1 < report.nodata.share < 0.5
    assert report.county_check.startswith("skipped")


def _refused(ingest: Ingest, engine: sa.Engine, raster_dir: Path, file: Path, match: str,
             kind: str = "cog", **kw: object) -> None:
    raster_dir.mkdir(parents=True, exist_ok=True)
    before_rows, before_files, before_version = registry(engine), listing(raster_dir), \
        version(engine)
    with pytest.raises(InvalidInput, match=match) as caught:
        ingest(file, kind=kind, **kw)
    assert registry(engine) == before_rows and listing(raster_dir) == before_files
    assert version(engine) == before_version
    assert caught.value.detail["report"].error == caught.value.message


def test_bad_files_are_refused_with_the_reason(
    ingest: Ingest, engine: sa.Engine, raster_dir: Path, tmp_path: Path
) -> None:
    ok = county_ortho(tmp_path / "ok.tif", width=300, height=300)
    data = ortho_pixels(300, 300)
    x0, y0 = seat_origin(4548, 300, 300)
    gk = from_origin(x0, y0, 1, 1)
    cases: list[tuple[Path, str, str]] = [
        (write_geotiff(tmp_path / "nocrs.tif", data, crs=None, transform=gk),
         "has no coordinate reference system", "cog"),
        (write_geotiff(tmp_path / "identity.tif", data, crs="EPSG:4548",
                       transform=Affine.identity()),
         "is not georeferenced", "cog"),
        (write_geotiff(tmp_path / "allnodata.tif", np.full((1, 50, 50), -9999, np.float32),
                       crs="EPSG:4548", transform=gk, nodata=-9999), "holds no data", "dem"),
        (write_geotiff(tmp_path / "uint16.tif", data.astype(np.uint16), crs="EPSG:4548",
                       transform=gk), "imagery must be 8-bit", "cog"),
        (write_geotiff(tmp_path / "two.tif", np.zeros((2, 20, 20), np.float32),
                       crs="EPSG:4548", transform=gk), "an elevation model has one", "dem"),
    ]
    empty = tmp_path / "empty.tif"
    empty.write_bytes(b"")
    cases.append((empty, "is empty", "cog"))
    text = tmp_path / "notes.tif"
    text.write_text("这不是 GeoTIFF\n")
    cases.append((text, "is not a GeoTIFF that GDAL can read", "cog"))
    png = tmp_path / "image.png"
    from PIL import Image
    Image.fromarray(np.moveaxis(data, 0, -1)).save(png)
    cases.append((png, "is not a GeoTIFF", "cog"))
    truncated = tmp_path / "truncated.tif"
    with rasterio.open(ok) as s:  # a stripped, uncompressed copy cut in the middle
        profile = {**s.profile, "tiled": False, "compress": None}
        with rasterio.open(truncated, "w", **profile) as t:
            t.write(s.read())
    truncated.write_bytes(truncated.read_bytes()[: os.path.getsize(truncated) // 2])
    cases.append((truncated, "damaged or truncated", "cog"))
    for file, match, kind in cases:
        _refused(ingest, engine, raster_dir, file, match, kind)
    _refused(ingest, engine, raster_dir, ok, "above the raster size limit", max_bytes=1024)
    _refused(ingest, engine, raster_dir, tmp_path / "missing.tif", "does not exist")


def test_a_web_mercator_copy_past_the_limit_is_refused(
    ingest: Ingest, engine: sa.Engine, raster_dir: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(raster_cog, "MAX_OUTPUT_PIXELS", 100_000)
    _refused(ingest, engine, raster_dir, county_ortho(tmp_path / "o.tif", width=400, height=300),
             r"In Web Mercator at zoom 17 this raster would be \d+ x \d+ pixels")


def test_a_failed_registration_leaves_no_file(
    ingest: Ingest, engine: sa.Engine, raster_dir: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kw: object) -> None:
        raise InvalidInput("the database refused it")

    monkeypatch.setattr(raster_ingest, "register", broken)
    _refused(ingest, engine, raster_dir, county_dem(tmp_path / "d.tif"), "database refused",
             kind="dem")


def _mercator(lon: float, lat: float) -> tuple[float, float]:
    return _transform(4326, 3857, lon, lat)


def _transform(a: int, b: int, x: float, y: float) -> tuple[float, float]:
    from pyproj import Transformer

    return Transformer.from_crs(a, b, always_xy=True).transform(x, y)  # type: ignore[no-any-return]


def _cli(settings: object, raster_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CITYOPS_DATABASE_NAME": settings.database_name,  # type: ignore[attr-defined]
           "CITYOPS_RASTER_DIR": str(raster_dir), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "backend.cli", "ingest", *args],
                          capture_output=True, text=True, env=env, timeout=300, check=False,
                          cwd=ROOT)


@pytest.fixture
def cli_layers(engine: sa.Engine, county: dict[str, int]) -> Iterator[None]:
    """The catalog's own raster layers, registered by the CLI, unregistered afterwards."""
    yield
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM raster_files WHERE layer_id IN ('ortho', 'dem')"))


def test_cli_loads_gauss_krueger_imagery_and_a_cgcs2000_dem(
    settings: object, engine: sa.Engine, cli_layers: None, raster_dir: Path, tmp_path: Path
) -> None:
    ortho = county_ortho(tmp_path / "县城影像_4548.tif", epsg=4548, width=600, height=500)
    res = _cli(settings, raster_dir, str(ortho), "--layer", "ortho")
    assert res.returncode == 0, res.stderr
    assert "source CRS: EPSG:4548 (CGCS2000 / 3-degree Gauss-Kruger CM 117E)" in res.stdout
    assert "reprojected from EPSG:4548" in res.stdout and "county check: touches" in res.stdout
    stored = lookup(engine, "ortho")
    assert stored is not None and stored.path.parent == raster_dir and stored.maxzoom == 17
    report = tmp_path / "dem.json"
    dem = county_dem(tmp_path / "dem_4490.tif", epsg=4490)
    res = _cli(settings, raster_dir, str(dem), "--layer", "dem", "--report", str(report))
    assert res.returncode == 0, res.stderr
    assert "no data (value -9999 or NaN): 4800 of 72000 pixels" in res.stdout
    assert json.loads(report.read_text())["source_crs"].startswith("EPSG:4490")
    with engine.connect() as conn:
        rows = {r.layer_id: r.source_crs for r in conn.execute(sa.text(
            "SELECT layer_id, source_crs FROM raster_files WHERE layer_id IN ('ortho', 'dem')"))}
        who = conn.execute(sa.text("SELECT loaded_by FROM raster_files WHERE layer_id = 'dem'"))
        assert who.scalar_one().startswith("cli:")
    assert rows == {"ortho": "EPSG:4548", "dem": "EPSG:4490"}


def test_cli_refuses_with_the_reason_and_exit_2(
    settings: object, engine: sa.Engine, cli_layers: None, raster_dir: Path, tmp_path: Path
) -> None:
    x0, y0 = seat_origin(4548, 100, 100)
    nocrs = write_geotiff(tmp_path / "nocrs.tif", ortho_pixels(100, 100), crs=None,
                          transform=from_origin(x0, y0, 1, 1))
    res = _cli(settings, raster_dir, str(nocrs), "--layer", "ortho")
    assert res.returncode == 2 and "has no coordinate reference system" in res.stderr
    assert "Traceback" not in res.stderr
    report = tmp_path / "refused.json"
    res = _cli(settings, raster_dir, str(RGB_SAMPLE), "--layer", "ortho", "--report", str(report))
    assert res.returncode == 2 and "lies outside the county" in res.stderr
    assert "--outside-county" in res.stderr
    refused = json.loads(report.read_text())
    assert refused["status"] == "failed" and "outside the county" in refused["error"]
    assert refused["source_crs"].startswith("EPSG:32618")
    res = _cli(settings, raster_dir, str(RGB_SAMPLE), "--layer", "ortho", "--crs", "4548")
    assert res.returncode == 2 and "--crs: only for vector files" in res.stderr
    assert lookup(engine, "ortho") is None and listing(raster_dir) == []
    res = _cli(settings, raster_dir, str(RGB_SAMPLE), "--layer", "ortho", "--outside-county")
    assert res.returncode == 0, res.stderr
    assert lookup(engine, "ortho") is not None


def test_the_tile_source_follows_the_registry(
    ingest: Ingest, engine: sa.Engine, tmp_path: Path
) -> None:
    """raster_source: tiles come from whatever file is registered, re-read after ttl_s; a
    registered file gone from disk gives no tiles (logged) instead of failing every request."""
    src = raster_source(engine, layer_id=LAYER, kind="dem", minzoom=0, maxzoom=18,
                        formats=("png",), encodings=("terrarium",), ttl_s=0.0)
    assert src.variants == ("terrarium",) and src.formats == ("png",)
    assert src.locate() is None
    ingest(county_dem(tmp_path / "d.tif"), kind="dem")
    found = src.locate()
    assert found is not None and found == lookup(engine, LAYER)
    z, (x, y) = found.maxzoom, _tile_of(*SEAT, found.maxzoom)
    assert src.get_tile(z, x, y, "png", "terrarium") is not None
    cached = Locator(engine, LAYER, ttl_s=3600)
    assert cached() == found
    found.path.unlink()
    assert src.locate() is None and src.get_tile(z, x, y, "png", "terrarium") is None
    assert cached() == found  # within its ttl the locator does not ask again


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    from tiles.tms import lonlat_to_tile

    return lonlat_to_tile(lon, lat, z)
