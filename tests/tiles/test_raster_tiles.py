"""Imagery tiles decoded and compared with the source's pixels: the real Landsat sample
(UTM 18N) through the real ingest, and a Gauss-Krueger orthophoto whose stored WebP blocks are
served as they are (and a JPEG COG whose blocks get their tables back)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import morecantile
import numpy as np
import pytest
import rasterio
import sqlalchemy as sa
from PIL import Image
from rasterio.warp import Resampling
from rio_cogeo.cogeo import cog_translate

from backend.ingest.raster import ingest_raster
from backend.rasters.service import lookup
from tests.rasters import RGB_SAMPLE, county_ortho, decode, warp_to_tile
from tiles.cog_blocks import read_jpeg_tables
from tiles.encode import encode_png
from tiles.errors import UnsupportedFormat
from tiles.raster import CogSource, RasterFile

TMS = morecantile.tms.get("WebMercatorQuad")
LANDSAT, ORTHO = "test_tiles_landsat", "test_tiles_ortho"


@pytest.fixture(scope="module")
def stored(engine: sa.Engine, county: dict[str, int],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RasterFile]]:
    """The Landsat sample and a 1 m Gauss-Krueger orthophoto, loaded by the real ingest."""
    work = tmp_path_factory.mktemp("raster_tiles")
    ortho = county_ortho(work / "ortho_4548.tif", width=1600, height=1400)
    out: dict[str, RasterFile] = {}
    for layer, file, inside in ((LANDSAT, RGB_SAMPLE, False), (ORTHO, ortho, True)):
        ingest_raster(engine, file, layer_id=layer, kind="cog", raster_dir=work / "rasters",
                      max_bytes=50_000_000, actor="test", within_county=inside)
        found = lookup(engine, layer)
        assert found is not None
        out[layer] = found
    yield out
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM raster_files WHERE layer_id LIKE 'test_tiles_%'"))


def source(file: RasterFile, formats: tuple[str, ...] = ("webp", "png", "jpg")) -> CogSource:
    return CogSource("imagery", 0, 22, lambda: file, formats=formats)


def tiles_of(file: RasterFile, z: int) -> list[morecantile.Tile]:
    return list(TMS.tiles(*file.bounds, zooms=[z]))


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_png_encoder_round_trips(channels: int) -> None:
    """The numpy PNG writer against Pillow's reader: every byte back, for grey, RGB, RGBA."""
    pixels = np.random.default_rng(channels).integers(0, 256, (256, 200, channels), np.uint8)
    pixels[:, :50] = 7  # flat areas too
    back = np.asarray(Image.open(io.BytesIO(encode_png(pixels))))
    assert np.array_equal(back.reshape(pixels.shape), pixels)


@pytest.mark.parametrize("z", [7, 8, 9, 10])
def test_tiles_show_the_source_pixels(stored: dict[str, RasterFile], z: int) -> None:
    """Every tile of the Landsat sample at overview (7, 8), full (9) and over-zoom (10) levels,
    in each format, against GDAL's own warp of the source into the tile. Tolerances (0-255):
    WebP/JPEG at quality 85 on 300 m Landsat texture, two resamplings (ingest + tile) against
    one: mean <= 6, 95th percentile <= 20; PNG (lossless, decoded from the WebP) likewise.
    The mask (alpha) agrees with the source's no-data on >= 99 % of each tile's pixels at
    stored levels, >= 95 % when over-zoomed (a 305 m mask drawn at 153 m)."""
    file = stored[LANDSAT]
    src = source(file)
    resampling = Resampling.average if z < file.maxzoom else Resampling.bilinear
    diffs: dict[str, list[np.ndarray]] = {"webp": [], "png": [], "jpg": []}
    for t in tiles_of(file, z):
        ref, ref_valid = warp_to_tile(RGB_SAMPLE, z, t.x, t.y, resampling=resampling)
        opaque = None
        for fmt in ("png", "webp", "jpg"):
            data = src.get_tile(z, t.x, t.y, fmt)
            if data is None:
                assert not ref_valid.any(), f"{z}/{t.x}/{t.y} has data but no tile"
                continue
            px = decode(data).astype(np.float64)
            if fmt == "jpg":
                assert px.shape[2] == 3  # JPEG: no alpha; compare where the PNG is opaque
                valid = opaque
            else:
                valid = px[..., 3] > 0 if px.shape[2] == 4 else np.ones((256, 256), bool)
                agree = (valid == ref_valid).mean()
                assert agree >= (0.99 if z <= file.maxzoom else 0.95), (z, t, fmt, agree)
                opaque = valid if fmt == "png" else opaque
            both = valid & ref_valid
            diffs[fmt].append(np.abs(px[..., :3].transpose(2, 0, 1) - ref)[:, both].ravel())
    for fmt, found in diffs.items():
        d = np.concatenate(found)
        assert d.size > 10_000
        assert d.mean() <= 6 and np.percentile(d, 95) <= 20, (z, fmt, d.mean())


def test_nothing_outside_the_footprint(stored: dict[str, RasterFile]) -> None:
    file = stored[LANDSAT]
    src = source(file)
    t = tiles_of(file, 9)[0]
    assert src.get_tile(9, t.x - 3, t.y, "png") is None  # west of the scene
    assert src.get_tile(2, 0, 0, "png") is None  # the other side of the world
    # Inside the footprint but where the rotated scene has no pixels: empty as well.
    empty = [t for t in tiles_of(file, 11)[:40]  # the top rows: the scene's north-west corner
             if not warp_to_tile(RGB_SAMPLE, 11, t.x, t.y, resampling=Resampling.nearest)[1].any()]
    assert empty and all(src.get_tile(11, t.x, t.y, "webp") is None for t in empty[:5])
    nothing = CogSource("imagery", 0, 22, lambda: None)
    assert nothing.get_tile(9, t.x, t.y, "png") is None


def _stored_block(path: Path, z: int, x: int, y: int) -> tuple[bytes, bool] | None:
    """The bytes of the block holding tile z/x/y in the level of that zoom, and whether its
    mask is all valid; read with GDAL's block index and plain file reads."""
    with rasterio.open(path) as base:
        levels = [None, *range(len(base.overviews(1)))]
        maxzoom = int(base.tags()["TILING_SCHEME_ZOOM_LEVEL"])
    level = levels[maxzoom - z] if 0 <= maxzoom - z < len(levels) else -1
    if level == -1:
        return None
    with rasterio.open(path, overview_level=level) as ds:
        x0, _, _, y1 = TMS.xy_bounds(morecantile.Tile(x, y, z))
        col, row = ds.index(x0 + 1e-3, y1 - 1e-3)[::-1]
        bx, by = col // 256, row // 256
        if not (0 <= bx < ds.width // 256 and 0 <= by < ds.height // 256):
            return None
        off = int(ds.get_tag_item(f"BLOCK_OFFSET_{bx}_{by}", "TIFF", bidx=1))
        size = int(ds.get_tag_item(f"BLOCK_SIZE_{bx}_{by}", "TIFF", bidx=1))
        full = bool((ds.read_masks(1, window=((by * 256, by * 256 + 256),
                                              (bx * 256, bx * 256 + 256))) == 255).all())
    with path.open("rb") as fh:
        fh.seek(off)
        return fh.read(size), full


def test_stored_webp_blocks_are_served_as_they_are(stored: dict[str, RasterFile]) -> None:
    """At each stored zoom, a fully valid block is the tile, byte for byte; it decodes to the
    pixels rio-tiler reads there (max difference 3: two WebP decoders' rounding); a block at
    the image's edge (part no-data) is decoded instead, so its no-data is transparent."""
    file = stored[ORTHO]
    src = source(file)
    passed = edges = 0
    for z in range(file.minzoom, file.maxzoom + 1):
        for t in tiles_of(file, z):
            block = _stored_block(file.path, z, t.x, t.y)
            tile = src.get_tile(z, t.x, t.y, "webp")
            if block is None or tile is None:
                continue
            raw, full = block
            if full:
                passed += 1
                assert tile == raw
                opened = src._open.get(src.id, file)
                img = opened.reader.tile(t.x, t.y, z, tilesize=256)  # rio-tiler itself
                ref = np.moveaxis(img.data, 0, -1).astype(int)
                assert np.abs(decode(tile).astype(int) - ref).max() <= 3
                png = decode(src.get_tile(z, t.x, t.y, "png") or b"")
                assert png.shape == (256, 256, 3)
                assert np.abs(png.astype(int) - decode(tile).astype(int)).max() <= 3
            else:
                edges += 1
                assert tile != raw
                assert decode(tile).shape[2] == 4 and (decode(tile)[..., 3] == 0).any()
    assert passed >= 4 and edges >= 4


def test_jpeg_blocks_get_their_tables_back(
    stored: dict[str, RasterFile], tmp_path: Path
) -> None:
    """A JPEG (YCbCr) web-optimized COG: its blocks hold no quantisation tables (JPEGTables
    does); the served tile is tables + block, a complete JPEG showing the block's pixels (two
    JPEG decoders, GDAL's and Pillow's, upsample chroma differently: mean <= 0.5, max <= 8)."""
    jpeg_cog = tmp_path / "ortho_jpeg.tif"
    with rasterio.open(stored[ORTHO].path) as src_ds:
        cog_translate(src_ds, jpeg_cog, {"driver": "GTiff", "tiled": True, "blockxsize": 256,
                                         "blockysize": 256, "compress": "JPEG",
                                         "photometric": "YCbCr", "interleave": "pixel"},
                      tms=TMS, aligned_levels=3, overview_level=3, add_mask=True, quiet=True)
    file = RasterFile(jpeg_cog, "0" * 64, stored[ORTHO].bounds, stored[ORTHO].minzoom,
                      stored[ORTHO].maxzoom, 3, "uint8")
    src = source(file)
    with jpeg_cog.open("rb") as fh:
        tables = read_jpeg_tables(fh.fileno())
    served = 0
    for t in tiles_of(file, file.maxzoom):
        block = _stored_block(jpeg_cog, file.maxzoom, t.x, t.y)
        if block is None or not block[1]:
            continue
        raw = block[0]
        # Abbreviated: no quantisation table (DQT) before the scan; GDAL keeps them in the
        # JPEGTables tag (its default JPEGTABLESMODE), which the tile puts back.
        assert b"\xff\xdb" not in raw[:raw.index(b"\xff\xda")]
        tile = src.get_tile(file.maxzoom, t.x, t.y, "jpg")
        assert tile is not None and tile.startswith(b"\xff\xd8") and tile.endswith(raw[2:])
        assert len(tile) == len(raw) + len(next(iter(tables.values())) or b"") - 4
        with rasterio.open(jpeg_cog) as ds:
            x0, _, _, y1 = TMS.xy_bounds(t)
            row, col = ds.index(x0 + 1e-3, y1 - 1e-3)
            ref = ds.read(window=((row, row + 256), (col, col + 256)))
        diff = np.abs(decode(tile).astype(int) - np.moveaxis(ref, 0, -1))
        assert diff.mean() <= 0.5 and diff.max() <= 8
        served += 1
    assert served >= 2


def test_open_files_are_kept_per_thread_and_reopened_on_change(
    stored: dict[str, RasterFile],
) -> None:
    current = {"file": stored[LANDSAT]}
    src = CogSource("imagery", 0, 22, lambda: current["file"])
    t = tiles_of(stored[LANDSAT], 9)[8]
    src.get_tile(9, t.x, t.y, "png")
    first = src._open.by_source["imagery"]
    src.get_tile(9, t.x, t.y, "webp")
    assert src._open.by_source["imagery"] is first  # reused, not reopened
    other: list[object] = []
    thread = threading.Thread(target=lambda: (src.get_tile(9, t.x, t.y, "png"),
                                              other.append(src._open.by_source["imagery"])))
    thread.start()
    thread.join()
    assert other and other[0] is not first  # each thread its own handles
    current["file"] = stored[ORTHO]  # a new file registered for the layer
    o = tiles_of(stored[ORTHO], 16)[1]
    assert src.get_tile(16, o.x, o.y, "png") is not None
    assert src._open.by_source["imagery"].file == stored[ORTHO]
    assert first.reader.dataset.closed


def test_formats_and_tilejson(stored: dict[str, RasterFile]) -> None:
    file = stored[ORTHO]
    src = source(file, formats=("png", "webp"))
    with pytest.raises(UnsupportedFormat, match="has no 'jpg' tiles; it gives: png, webp"):
        src.get_tile(16, 0, 0, "jpg")
    doc = src.tilejson("http://h/tiles/ortho/{z}/{x}/{y}.png", None)
    assert doc["tilejson"] == "3.0.0" and doc["tiles"] == ["http://h/tiles/ortho/{z}/{x}/{y}.png"]
    assert doc["format"] == "png" and doc["tileSize"] == 256
    assert doc["bounds"] == list(file.bounds) and doc["minzoom"] == 0 and doc["maxzoom"] == 22
    w, s, e, n = file.bounds
    assert w < doc["center"][0] < e and s < doc["center"][1] < n
    assert src.version_keys == ("raster:imagery",)
