"""What the console's browser tests share: a signed-in page of a given size that records console
errors and requests, the map's idle wait, a blank-screenshot measure, and small real rasters
(GeoTIFFs made here, loaded through the raster ingest) for the catalog's imagery and DEM layers."""

from __future__ import annotations

from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

from tests.conftest import ROOT
from tests.e2e.conftest import login

SEAT = (117.88003, 33.47922)
SHOTS = ROOT / "var" / "screenshots"

WAIT_IDLE = "() => new Promise(r => { const m = window.__map; m.once('idle', () => r(true)); " \
            "m.triggerRepaint(); })"
# SwiftShader renders terrain on the CPU: a pitched view with relief takes minutes to settle.
TERRAIN_TIMEOUT = 300_000

# The DEM made here: a gentle plain rising to the north and one hill (heights in metres).
DEM_BOX = (117.60, 33.25, 118.20, 33.80)
HILL = (117.884, 33.482, 45.0, 0.012)  # beside the county seat: lon, lat, rise (m), radius (deg)


def plain_height(lon: np.ndarray | float, lat: np.ndarray | float) -> np.ndarray | float:
    """The made DEM's height at a point (m): 18 m in the south, 26 m in the north, plus the hill."""
    hill_lon, hill_lat, rise, radius = HILL
    d2 = ((np.asarray(lon) - hill_lon) ** 2 + (np.asarray(lat) - hill_lat) ** 2) / radius**2
    north = (np.asarray(lat) - DEM_BOX[1]) / (DEM_BOX[3] - DEM_BOX[1])
    return 18.0 + 8.0 * north + rise * np.exp(-d2)


def not_blank(png: bytes) -> float:
    pixels = np.asarray(Image.open(BytesIO(png)).convert("L"), dtype=float)
    return float(pixels.std())


def open_page(browser: Any, base_url: str, size: tuple[int, int] = (1280, 800), *,
              phone: bool = False, user: str = "admin") -> Any:
    """A signed-in page; `page.errors` collects console errors, `page.requests` every URL."""
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="zh-CN",
                                  is_mobile=phone, has_touch=phone, device_scale_factor=1)
    page = context.new_page()
    page.errors, page.requests = [], []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: page.requests.append(r.url))
    login(page, base_url, user)
    return page


def goto_console(page: Any, base_url: str, timeout: int = 60_000, idle: bool = True) -> None:
    """Opens the console and waits for the catalog on the map and the map idle (a big screen
    with imagery on needs many raster tiles rendered: give it a longer `timeout`). Without
    `idle`, the catalog on the map is enough: a 4K frame drawn by software GL (SwiftShader) on a
    busy 2-core machine may not settle within minutes, and the caller waits for what it needs."""
    page.goto(base_url)
    page.wait_for_function("() => window.__ready === true" if idle else
                           "() => !!window.__catalog && !!window.__map", timeout=timeout)
    page.evaluate("window.__desk?.setOpen(false)")


def outside_requests(page: Any, base_url: str) -> list[str]:
    origin = urlparse(base_url).netloc
    return [u for u in page.requests if urlparse(u).scheme in ("http", "https", "ws", "wss")
            and urlparse(u).netloc != origin]


def _write_geotiff(path: Path, data: np.ndarray, box: tuple[float, float, float, float]) -> None:
    import rasterio
    from rasterio.transform import from_bounds

    bands, height, width = data.shape
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=bands,
                       dtype=data.dtype, crs="EPSG:4326", compress="deflate",
                       transform=from_bounds(*box, width, height)) as ds:
        ds.write(data)


def _grid(box: tuple[float, float, float, float], step: float) -> tuple[np.ndarray, np.ndarray]:
    w, s, e, n = box
    lon = np.arange(w + step / 2, e, step)
    lat = np.arange(n - step / 2, s, -step)
    return np.meshgrid(lon, lat)


def _imagery(box: tuple[float, float, float, float], step: float, seed: int) -> np.ndarray:
    """Fields and blocks: a texture with edges, so a drawn tile is told from an empty one."""
    lon, lat = _grid(box, step)
    rng = np.random.default_rng(seed)
    blocks = (np.floor((lon - box[0]) / (step * 40)) + np.floor((lat - box[1]) / (step * 40))) % 3
    noise = rng.normal(0, 8, lon.shape)
    r = 80 + 35 * blocks + noise
    g = 110 + 25 * (blocks == 1) + noise
    b = 60 + 20 * (blocks == 2) + noise
    return np.clip(np.stack([r, g, b]), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def rasters(client: Any, engine: sa.Engine, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[dict[str, dict[str, Any]]]:
    """Each raster layer of the catalog (imagery, DEM) loaded with a small made GeoTIFF through
    the real ingest; unloaded again afterwards so later tests see the catalog as it was.
    Yields {layer id: its catalog entry}."""
    from backend.ingest.raster import ingest_raster

    catalog = client.get("/api/layers").json()["layers"]
    layers = [la for la in catalog if la["kind"] in ("cog", "dem")]
    assert layers, "the catalog has no raster layer"
    made = tmp_path_factory.mktemp("rasters")
    imagery = sorted((la for la in layers if la["kind"] == "cog"), key=lambda la: la["order"])
    for i, layer in enumerate(imagery):
        # Coarse and wide first, finer and smaller after (as the county and its seat).
        half = 0.08 / (i + 1)
        box = (SEAT[0] - half, SEAT[1] - half * 0.8, SEAT[0] + half, SEAT[1] + half * 0.8)
        path = made / f"{layer['id']}.tif"
        _write_geotiff(path, _imagery(box, half / 600, seed=i), box)
        ingest_raster(engine, path, layer_id=layer["id"], kind="cog", raster_dir=made / "store",
                      max_bytes=1 << 30, actor=None)
    for layer in (la for la in layers if la["kind"] == "dem"):
        lon, lat = _grid(DEM_BOX, 0.001)
        path = made / f"{layer['id']}.tif"
        _write_geotiff(path, plain_height(lon, lat)[None].astype(np.float32), DEM_BOX)
        ingest_raster(engine, path, layer_id=layer["id"], kind="dem", raster_dir=made / "store",
                      max_bytes=1 << 30, actor=None)
    yield {la["id"]: la for la in layers}
    with engine.begin() as conn:
        ids = [la["id"] for la in layers]
        conn.execute(sa.text("DELETE FROM raster_files WHERE layer_id = ANY(:ids)"), {"ids": ids})
        conn.execute(sa.text(
            "UPDATE layer_versions SET version = version + 1 WHERE table_name = ANY(:keys)"),
            {"keys": [f"raster:{i}" for i in ids]})
