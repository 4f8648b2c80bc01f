"""Load a GeoTIFF into a raster layer: `cityops ingest FILE.tif --layer ID`.

Checks (raster_checks), converts to a Cloud-Optimized GeoTIFF on the Web Mercator tile grid
(raster_cog), stores it under raster_dir named by its SHA-256 and points the layer at it
(backend.rasters.service.register: the row, the `raster:<layer id>` data version and the audit
record in one transaction). A refusal at any step leaves the registry and raster_dir as they
were; the report lists each fix.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import sqlalchemy as sa
from pyproj import CRS as ProjCRS
from pyproj import Transformer
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.errors import RasterioError

from backend.audit.actor import resolve
from backend.errors import CityOpsError, InvalidInput
from backend.ingest import raster_checks as checks
from backend.ingest.raster_cog import TMS, StoredCog, write_cog
from backend.ingest.raster_report import RasterReport
from backend.rasters.service import Registration, register
from tiles.encode import QUALITY

Kind = Literal["cog", "dem"]


def ingest_raster(
    engine: sa.Engine, file: str | Path, *, layer_id: str, kind: Kind, raster_dir: Path,
    max_bytes: int, actor: str | None, within_county: bool = True,
) -> RasterReport:
    """Load `file` as the raster of layer `layer_id` (imagery: "cog"; elevation: "dem").

    Raises InvalidInput / Unprocessable with the reason when the file is refused (nothing is
    registered or left in raster_dir; `exc.detail["report"]` holds the report so far)."""
    started = time.perf_counter()
    path = Path(file)
    report = RasterReport(file=path.name, layer=layer_id, kind=kind)
    try:
        _load(engine, path, report, layer_id=layer_id, kind=kind, raster_dir=raster_dir,
              max_bytes=max_bytes, actor=actor, within_county=within_county)
        report.status = "loaded"
    except CityOpsError as exc:
        report.error = exc.message
        exc.detail.setdefault("report", report)
        raise
    except (RasterioError, CPLE_BaseError) as exc:
        report.error = (f"{path.name} could not be read: {checks.gdal_reason(exc)}. Nothing "
                        "was loaded.")
        raise InvalidInput(report.error, report=report) from exc
    finally:
        report.duration_s = round(time.perf_counter() - started, 3)
    return report


def _load(
    engine: sa.Engine, path: Path, report: RasterReport, *, layer_id: str, kind: Kind,
    raster_dir: Path, max_bytes: int, actor: str | None, within_county: bool,
) -> None:
    report.bytes_in = checks.check_size(path, max_bytes)
    with checks.open_geotiff(path) as ds:
        checks.check_pixels(ds, path)
        report.width, report.height, report.bands = ds.width, ds.height, ds.count
        report.dtype = ds.dtypes[0]
        crs = checks.source_crs(ds, path)
        transform, report.georeference = checks.georeference(ds, path)
        report.source_crs = checks.describe_crs(crs)
        footprint = checks.footprint_4326(ds, transform, crs)
        report.footprint = tuple(round(v, 7) for v in footprint.bounds)  # type: ignore[assignment]
        checks.check_county(engine, footprint, path, report, within_county)
        layout = checks.band_layout(ds, path, kind, report)
        report.nodata = checks.scan_nodata(ds, transform, crs, path, kind, report)
        stored, res = write_cog(ds, layout, kind, raster_dir)
    _describe(report, crs, stored, res, layout.has_mask)
    try:
        version, previous = register(engine, Registration(
            layer_id=layer_id, kind=kind, path=stored.path, sha256=stored.sha256,
            bytes=stored.bytes, width=stored.width, height=stored.height, bands=stored.bands,
            dtype=stored.dtype, nodata=stored.nodata, source_name=path.name,
            source_crs=report.source_crs.split(" ")[0], bounds=footprint.bounds,
            minzoom=stored.minzoom, maxzoom=stored.maxzoom,
            report=report.to_dict() | {"status": "loaded"}), actor=resolve(actor))
    except BaseException:
        if stored.created:
            stored.path.unlink(missing_ok=True)
        raise
    report.data_version = version
    if previous and previous != str(stored.path):
        report.notes.append(f"the layer's previous file {Path(previous).name} is no longer "
                            "served (kept on disk)")


def _describe(report: RasterReport, crs: CRS, stored: StoredCog, res: float,
              has_mask: bool) -> None:
    """The fixes, in the words of the report."""
    report.path, report.sha256 = str(stored.path), stored.sha256
    report.bytes_out, report.out_width, report.out_height = (
        stored.bytes, stored.width, stored.height)
    report.minzoom, report.maxzoom = stored.minzoom, stored.maxzoom
    report.compression, report.overviews = stored.compression, stored.overviews
    op = Transformer.from_crs(ProjCRS.from_wkt(crs.to_wkt()), "EPSG:3857", always_xy=True)
    accuracy = (f"accuracy {op.accuracy:g} m" if op.accuracy >= 0
                else "PROJ knows no datum shift between them and applies none")
    report.transform = f"{op.description} ({accuracy})"
    cell = TMS.matrix(stored.maxzoom).cellSize
    if report.source_crs.startswith("EPSG:3857 "):
        report.fixes.append(f"already in EPSG:3857: aligned to the web tile grid at zoom "
                            f"{stored.maxzoom} ({cell:.3f} m pixels)")
    else:
        report.fixes.append(
            f"reprojected from {report.source_crs} to EPSG:3857 (Web Mercator) by "
            f"{report.transform}")
        report.fixes.append(
            f"resampled (bilinear) from {res:.3f} m to {cell:.3f} m pixels (Web Mercator "
            f"metres), the grid of zoom {stored.maxzoom}, aligned to the web tiles at zooms "
            f"{stored.maxzoom - stored.aligned}-{stored.maxzoom} (those tiles are read as one "
            "block)")
    if report.kind == "dem":
        report.fixes.append(
            f"stored as float32, {stored.compression} with floating-point predictor, 256 px "
            f"blocks, {stored.overviews} overview(s) (average) for zooms "
            f"{stored.minzoom}-{stored.maxzoom}")
        if report.nodata and report.nodata.pixels:
            report.fixes.append("no-data kept as no-data: terrain tiles encode it as 0 m "
                                "(sea level)")
    else:
        report.fixes.append(
            f"stored as {stored.compression} (quality {QUALITY}) in 256 px blocks "
            f"with {stored.overviews} overview(s) (average) for zooms "
            f"{stored.minzoom}-{stored.maxzoom}")
        report.fixes.append(
            "no-data and the area around the image kept in an internal mask (transparent "
            "in PNG and WebP tiles)" if has_mask else
            "the file marks no no-data: the area around it on the tile grid is masked "
            "(transparent in PNG and WebP tiles)")

