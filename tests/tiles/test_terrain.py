"""Terrain tiles: the encoders' round trip, and tiles of real DEMs (the Swiss sample and a
CGCS2000 DEM with a no-data hole made here) decoded as a map client does and compared with the
heights they came from, within the encoding's step."""

from __future__ import annotations

from collections.abc import Iterator

import morecantile
import numpy as np
import pytest
import sqlalchemy as sa
from rasterio.warp import Resampling

from backend.ingest.raster import ingest_raster
from backend.rasters.service import lookup
from tests.rasters import (
    DEM_SAMPLE,
    county_dem,
    decode,
    eroded,
    level_pixels,
    warp_to_tile,
)
from tiles.encode import (
    decode_terrain,
    encode_rgb_lossless,
    encode_terrain,
    terrain_step,
)
from tiles.errors import UnsupportedFormat
from tiles.raster import RasterFile
from tiles.terrain import DemSource

TMS = morecantile.tms.get("WebMercatorQuad")
SWISS, HOLE = "test_terrain_swiss", "test_terrain_hole"
ENCODINGS = ("mapbox", "terrarium")


@pytest.mark.parametrize(("encoding", "low", "high"), [
    ("mapbox", -10000.0, -10000.0 + ((1 << 24) - 1) * 0.1),
    ("terrarium", -32768.0, 32768.0 - 1 / 256),
])
def test_encoding_round_trip_is_within_half_a_step(encoding: str, low: float, high: float
                                                   ) -> None:
    rng = np.random.default_rng(7)
    heights = np.concatenate([rng.uniform(-500, 9000, 100_000),
                              [low, -0.04, 0.0, 0.05, 8848.86, high]])
    rgb = encode_terrain(heights.reshape(1, -1), encoding)
    back = decode_terrain(rgb, encoding)[0]
    assert np.abs(back - heights).max() <= terrain_step(encoding) / 2 + 1e-9
    # Beyond what 24 bits can say, heights stop at the range's ends.
    ends = decode_terrain(encode_terrain(np.array([[low - 500, high + 500]]), encoding),
                          encoding)[0]
    assert ends == pytest.approx([low, high], abs=1e-6)


def test_published_anchor_values() -> None:
    """Sea level is rgb(1, 134, 160) in terrain-RGB (Mapbox's documentation) and
    rgb(128, 0, 0) in Terrarium (Mapzen's); no data encodes as sea level."""
    h = np.array([[0.0, np.nan]])
    assert encode_terrain(h, "mapbox").tolist() == [[[1, 134, 160], [1, 134, 160]]]
    assert encode_terrain(h, "terrarium").tolist() == [[[128, 0, 0], [128, 0, 0]]]
    assert decode_terrain(np.array([[[1, 134, 160]]], np.uint8), "mapbox")[0, 0] == \
        pytest.approx(0.0, abs=1e-9)


def test_lossless_webp_keeps_every_bit() -> None:
    rgb = np.random.default_rng(3).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    for fmt in ("png", "webp"):
        assert np.array_equal(decode(encode_rgb_lossless(rgb, fmt)), rgb)


@pytest.fixture(scope="module")
def dems(engine: sa.Engine, county: dict[str, int],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RasterFile]]:
    work = tmp_path_factory.mktemp("terrain")
    hole = county_dem(work / "dem_4490.tif", epsg=4490)
    out = {}
    for layer, file, inside in ((SWISS, DEM_SAMPLE, False), (HOLE, hole, True)):
        ingest_raster(engine, file, layer_id=layer, kind="dem", raster_dir=work / "rasters",
                      max_bytes=50_000_000, actor="test", within_county=inside)
        found = lookup(engine, layer)
        assert found is not None
        out[layer] = found
    out["hole_source"] = RasterFile(hole, "", found.bounds, 0, 0, 1, "float32")
    yield out
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM raster_files WHERE layer_id LIKE 'test_terrain_%'"))


def tiles_of(file: RasterFile, z: int) -> list[morecantile.Tile]:
    return list(TMS.tiles(*file.bounds, zooms=[z]))


def decoded(src: DemSource, z: int, x: int, y: int, fmt: str, encoding: str
            ) -> np.ndarray | None:
    data = src.get_tile(z, x, y, fmt, encoding)
    if data is None:
        return None
    px = decode(data)
    assert px.shape == (256, 256, 3)  # terrain tiles are opaque RGB
    return decode_terrain(px, encoding)


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_stored_zooms_decode_to_the_stored_heights(dems: dict[str, RasterFile], fmt: str) -> None:
    """At the DEM's own zooms (full resolution and each overview), every decoded pixel equals
    the height stored in the COG at that level (read independently with rasterio) within half
    the encoding's step, and no data decodes as 0 m."""
    file = dems[SWISS]
    src = DemSource("dem", 0, 22, lambda: file)
    checked = 0
    for z in range(file.minzoom, file.maxzoom + 1):
        for t in tiles_of(file, z):
            stored = level_pixels(file.path, z, t.x, t.y)
            assert stored is not None
            for encoding in ENCODINGS:
                h = decoded(src, z, t.x, t.y, fmt, encoding)
                assert h is not None
                step = terrain_step(encoding)
                assert np.abs(h - np.nan_to_num(stored, nan=0.0)).max() <= step / 2 + 1e-6
                checked += int(np.isfinite(stored).sum())
    assert checked > 50_000


def test_over_zoom_heights_are_bilinear(dems: dict[str, RasterFile]) -> None:
    """Past the DEM's resolution, heights are interpolated bilinearly: they equal GDAL's own
    bilinear warp of the stored COG within one step wherever the 2x2 kernel sees no no-data
    (>= 2 source pixels from it), and for 99 % of all pixels."""
    file = dems[SWISS]
    src = DemSource("dem", 0, 22, lambda: file)
    for z in (file.maxzoom + 1, file.maxzoom + 2):
        inner, every = [], []
        for t in tiles_of(file, z):
            ref, valid = warp_to_tile(file.path, z, t.x, t.y, resampling=Resampling.bilinear)
            for encoding in ENCODINGS:
                h = decoded(src, z, t.x, t.y, "png", encoding)
                if h is None:
                    assert not valid.any()
                    continue
                diff = np.abs(h - ref[0]) / terrain_step(encoding)
                core = eroded(valid, 2 * 2 ** (z - file.maxzoom))
                inner.append(diff[core])
                every.append(diff[valid])
        assert np.concatenate(inner).size > 10_000 and np.concatenate(inner).max() <= 1.0
        assert np.percentile(np.concatenate(every), 99) <= 1.0


def test_heights_follow_the_original_dem(dems: dict[str, RasterFile]) -> None:
    """Against the original file (Swiss LV95, 2.5 m), warped straight into each tile: the
    stored COG is resampled once more (to 4.8 m Web Mercator pixels at zoom 15) in steep
    Alpine terrain, so the bound is loose: median <= 0.15 m, max <= 3 m."""
    file = dems[SWISS]
    src = DemSource("dem", 0, 22, lambda: file)
    diffs = []
    for z in (file.maxzoom, file.maxzoom + 1):
        for t in tiles_of(file, z):
            ref, valid = warp_to_tile(DEM_SAMPLE, z, t.x, t.y, resampling=Resampling.bilinear)
            h = decoded(src, z, t.x, t.y, "png", "mapbox")
            assert h is not None
            diffs.append(np.abs(h - ref[0])[eroded(valid, 2)])
    d = np.concatenate(diffs)
    assert d.size > 10_000 and np.median(d) <= 0.15 and d.max() <= 3.0


def test_no_data_is_sea_level(dems: dict[str, RasterFile]) -> None:
    """The CGCS2000 DEM's hole (no-data in the source) decodes as 0 m in both encodings; the
    heights around it are the plain's 18-62 m."""
    file = dems[HOLE]
    src = DemSource("dem", 0, 22, lambda: file)
    z = file.maxzoom
    hole_px = land_px = 0
    for t in tiles_of(file, z):
        _, valid = warp_to_tile(dems["hole_source"].path, z, t.x, t.y,
                                resampling=Resampling.nearest)
        _, rect = warp_to_tile(dems["hole_source"].path, z, t.x, t.y,
                               resampling=Resampling.nearest, ignore_nodata=True)
        inside = eroded(rect, 2)
        hole = eroded(inside & ~valid, 2)
        land = eroded(valid, 2)
        for encoding in ENCODINGS:
            h = decoded(src, z, t.x, t.y, "png", encoding)
            assert h is not None
            assert np.abs(h[hole]).max(initial=0.0) <= 1e-6
            assert ((h[land] >= 17.5) & (h[land] <= 62)).all()
        hole_px += int(hole.sum())
        land_px += int(land.sum())
    assert hole_px > 1000 and land_px > 10_000


def test_bad_requests_and_tilejson(dems: dict[str, RasterFile]) -> None:
    file = dems[SWISS]
    src = DemSource("dem", 0, 22, lambda: file)
    t = tiles_of(file, file.maxzoom)[0]
    with pytest.raises(UnsupportedFormat, match="it gives: png, webp"):
        src.get_tile(t.z, t.x, t.y, "jpg")
    with pytest.raises(UnsupportedFormat, match="no 'lerc' encoding; it gives: mapbox"):
        src.get_tile(t.z, t.x, t.y, "png", "lerc")
    assert src.get_tile(t.z, t.x + 5, t.y, "png") is None  # beyond the DEM
    doc = src.tilejson("/tiles/dem/{z}/{x}/{y}.png?encoding=terrarium", None)
    assert doc["encoding"] == "terrarium" and doc["format"] == "png"
    assert src.tilejson("/tiles/dem/{z}/{x}/{y}.webp", [1.0, 2.0, 3.0, 4.0])["encoding"] == \
        "mapbox"
    assert src.variants == ENCODINGS and src.version_keys == ("raster:dem",)
