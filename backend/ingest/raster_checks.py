"""The checks a raster passes before it is converted: a readable GeoTIFF of bounded size, in a
known CRS, georeferenced, of bands and type the layer's kind can use, touching the county, not
empty. Each refusal names the reason and, where there is one, the fix."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import shapely
import sqlalchemy as sa
from pyproj import CRS as ProjCRS
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.enums import ColorInterp, MaskFlags
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader
from rasterio.transform import Affine, from_gcps
from rasterio.windows import Window

from backend.errors import InvalidInput, Unprocessable
from backend.ingest.raster_report import NodataFound, RasterReport

# A file may declare far more pixels than its bytes hold (a compressed bomb): bounded before
# anything is read. 1.6e9 px is a 40,000 px square (a 1 m orthophoto of 1,600 km2).
MAX_PIXELS = 1_600_000_000
SCAN_PIXELS = 1 << 22  # pixels read at once while looking for no-data
NUMERIC = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "int64", "uint64",
           "float32", "float64"}
PLAUSIBLE_HEIGHT = (-500.0, 9000.0)  # metres: outside, the units are probably not metres


@dataclass(frozen=True)
class Layout:
    """How the source's bands become the stored COG's."""

    indexes: tuple[int, ...]  # source bands read, in order
    has_mask: bool  # the source marks no-data (value, alpha, mask or GCP warp)
    nodata: float | None  # the source's no-data value (DEM), None when none


def check_size(file: Path, max_bytes: int) -> int:
    try:
        size = file.stat().st_size
    except FileNotFoundError:
        raise InvalidInput(f"{file} does not exist.") from None
    except OSError as exc:
        raise InvalidInput(f"{file} cannot be read: {exc.strerror}.") from None
    if not file.is_file():
        raise InvalidInput(f"{file} is not a file.")
    if size == 0:
        raise InvalidInput(f"{file.name} is empty (0 bytes).")
    if size > max_bytes:
        raise InvalidInput(
            f"{file.name} is {size / 1e6:.1f} MB, above the raster size limit of "
            f"{max_bytes / 1e6:.1f} MB (CITYOPS_RASTER_MAX_BYTES). Split it into tiles, or "
            "raise the limit if this machine has room for it.")
    return size


def gdal_reason(exc: BaseException) -> str:
    """GDAL's own words: rasterio wraps the specific error ("TIFFReadEncodedStrip() failed",
    "Read error at scanline 150") in a general one ("Read failed. See previous exception"), so
    the innermost message is taken; file paths are cut to their names."""
    messages = []
    seen: BaseException | None = exc
    while seen is not None and len(messages) < 5:
        text = str(seen).strip()
        if text:
            messages.append(text.splitlines()[0])
        seen = seen.__cause__ or seen.__context__
    if not messages:
        return type(exc).__name__
    specific = [m for m in messages if "previous exception" not in m]
    reason = (specific[-1] if specific else messages[0]).rstrip(".")
    for word in reason.split():
        stripped = word.strip("'\"`:,()")
        if "/" in stripped and stripped.startswith("/"):
            reason = reason.replace(stripped, Path(stripped).name)
    return reason[:300]


@contextlib.contextmanager
def open_geotiff(file: Path) -> Iterator[DatasetReader]:
    try:
        ds = rasterio.open(file, driver="GTiff")
    except RasterioError as exc:
        raise InvalidInput(f"{file.name} is not a GeoTIFF that GDAL can read "
                           f"({gdal_reason(exc)}). Nothing was loaded.") from None
    with ds:
        yield ds


def source_crs(ds: DatasetReader, file: Path) -> CRS:
    """The CRS of the pixels (of the GCPs when the file is georeferenced by control points)."""
    gcps, gcp_crs = ds.gcps
    crs = gcp_crs if gcps else ds.crs
    if crs is None or not crs.to_wkt():
        raise InvalidInput(
            f"{file.name} has no coordinate reference system. Set the one it was made in, "
            "e.g. `gdal_edit.py -a_srs EPSG:4548 FILE` (CGCS2000 / 3-degree Gauss-Kruger CM "
            "117E), then load it again.")
    if crs.to_epsg(confidence_threshold=70) is None:
        raise InvalidInput(
            f"{file.name}'s CRS ({ProjCRS.from_wkt(crs.to_wkt()).name}) matches no EPSG CRS; "
            "reproject it to a known one (e.g. `gdalwarp -t_srs EPSG:4548`) first.")
    return crs


def describe_crs(crs: CRS) -> str:
    return f"EPSG:{crs.to_epsg(confidence_threshold=70)} ({ProjCRS.from_wkt(crs.to_wkt()).name})"


def georeference(ds: DatasetReader, file: Path) -> tuple[Affine, str]:
    """The pixel-to-CRS transform, and how the file states it."""
    gcps, _ = ds.gcps
    if gcps:
        if len(gcps) < 3:
            raise InvalidInput(f"{file.name} has only {len(gcps)} ground control point(s); "
                               "at least 3 are needed to place it.")
        return from_gcps(gcps), f"{len(gcps)} ground control points"
    t = ds.transform
    if t.is_identity or t.determinant == 0:
        raise InvalidInput(
            f"{file.name} is not georeferenced (its pixel grid has no position: identity "
            "transform and no ground control points). Georeference it first, e.g. with "
            "`gdal_translate -a_ullr` or GCPs in QGIS.")
    rotated = "rotated " if t.b or t.d else ""
    return t, f"{rotated}geotransform, {abs(t.a):g} x {abs(t.e):g} CRS units per pixel"


def footprint_4326(ds: DatasetReader, transform: Affine, crs: CRS) -> shapely.Polygon:
    """The file's outline in lon/lat (edges densified: straight lines in a projected CRS
    curve in lon/lat)."""
    w, h = ds.width, ds.height
    steps = np.linspace(0.0, 1.0, 33)
    cols = np.concatenate([steps * w, np.full(33, w), steps[::-1] * w, np.zeros(33)])
    rows = np.concatenate([np.zeros(33), steps * h, np.full(33, h), steps[::-1] * h])
    xs, ys = _apply(transform, cols, rows)
    to_wgs84 = Transformer.from_crs(ProjCRS.from_wkt(crs.to_wkt()), "EPSG:4326", always_xy=True)
    lon, lat = to_wgs84.transform(xs, ys)
    poly = shapely.Polygon(np.column_stack([lon, lat]))
    if not poly.is_valid or not np.isfinite(poly.bounds).all():
        raise InvalidInput("The file's extent cannot be placed in lon/lat: check its CRS.")
    return poly


def check_county(
    engine: sa.Engine, footprint: shapely.Polygon, file: Path, report: RasterReport,
    within_county: bool,
) -> None:
    if not within_county:
        report.county_check = "skipped (outside the county allowed)"
        return
    with engine.connect() as conn:
        hit = conn.execute(sa.text(
            "SELECT count(*) AS n, bool_or(ST_Intersects(geom, ST_GeomFromWKB(:wkb, 4326))) "
            "AS hit FROM county"), {"wkb": shapely.to_wkb(footprint)}).one()
    if hit.n == 0:
        report.county_check = "skipped: no county boundary loaded"
        report.notes.append("No county boundary is loaded: the raster was not checked for "
                            "lying in the county. Load the county layer first.")
        return
    if not hit.hit:
        w, s, e, n = footprint.bounds
        raise Unprocessable(
            f"{file.name} lies outside the county: its extent {w:.4f},{s:.4f} - "
            f"{e:.4f},{n:.4f} (lon/lat) does not touch the county boundary. Check its CRS "
            "(a wrong zone or false easting moves it far away), or load it with "
            "--outside-county if it is meant to cover elsewhere.")
    report.county_check = "touches the county"


def band_layout(ds: DatasetReader, file: Path, kind: str, report: RasterReport) -> Layout:
    dtype = ds.dtypes[0]
    interp = ds.colorinterp
    alpha = [i for i, c in zip(ds.indexes, interp, strict=True) if c == ColorInterp.alpha]
    colour = [i for i in ds.indexes if i not in alpha]
    flags = ds.mask_flag_enums[0]
    masked = bool(alpha) or ds.nodata is not None or MaskFlags.per_dataset in flags \
        or bool(ds.gcps[0])
    if kind == "dem":
        if ds.count != 1:
            raise InvalidInput(f"{file.name} has {ds.count} bands; an elevation model has one "
                               "(heights in metres).")
        if dtype not in NUMERIC:
            raise InvalidInput(f"{file.name} holds {dtype} values; heights must be numbers.")
        if dtype != "float32":
            report.fixes.append(f"heights converted from {dtype} to float32")
        return Layout((1,), masked, ds.nodata)
    if dtype != "uint8":
        raise InvalidInput(
            f"{file.name} holds {dtype} values; imagery must be 8-bit (0-255). Rescale it "
            "first, e.g. `gdal_translate -ot Byte -scale FILE OUT.tif`.")
    if ColorInterp.palette in interp:
        raise InvalidInput(f"{file.name} is a paletted image; expand it to RGB first "
                           "(`gdal_translate -expand rgb FILE OUT.tif`).")
    if len(colour) == 1:
        report.fixes.append("grey band repeated into red, green and blue (WebP blocks are RGB)")
        indexes: tuple[int, ...] = (colour[0],) * 3
    elif len(colour) in (3, 4):
        indexes = tuple(colour[:3])
        if len(colour) == 4:
            report.notes.append(f"band {colour[3]} ({interp[colour[3] - 1].name}) is not "
                                "used: bands 1-3 are shown as red, green, blue")
    else:
        raise InvalidInput(f"{file.name} has {len(colour)} colour bands; imagery has 1 (grey) "
                           "or 3 (red, green, blue), optionally with an alpha band.")
    if alpha:
        report.fixes.append(f"alpha band {alpha[0]} turned into the file's mask")
    return Layout(indexes, masked, None)


def scan_nodata(ds: DatasetReader, transform: Affine, crs: CRS, file: Path, kind: str,
                report: RasterReport) -> NodataFound:
    """Read the whole file once: count pixels without data and their extent. This also reads
    every block, so a truncated or damaged file fails here with GDAL's reason."""
    nodata = ds.nodata
    float_dem = kind == "dem" and np.dtype(ds.dtypes[0]).kind == "f"
    if kind == "dem":
        how = f"value {nodata:g}" if nodata is not None else "none declared"
        if float_dem:
            how += " or NaN" if nodata is not None else "; NaN"
    else:
        alpha = ColorInterp.alpha in ds.colorinterp
        how = ("alpha band" if alpha else f"value {nodata:g}" if nodata is not None
               else "mask" if MaskFlags.per_dataset in ds.mask_flag_enums[0] else "none")
    found = NodataFound(how=how, total=ds.width * ds.height)
    rows_step = max(1, SCAN_PIXELS // max(ds.width, 1))
    rmin = cmin = None
    rmax = cmax = -1
    low, high = np.inf, -np.inf
    for row in range(0, ds.height, rows_step):
        window = Window(0, row, ds.width, min(rows_step, ds.height - row))
        try:
            if kind == "dem":
                values = ds.read(1, window=window)
                bad = np.zeros(values.shape, bool) if nodata is None else values == nodata
                if float_dem:
                    bad |= ~np.isfinite(values)
                if not bad.all():
                    low = min(low, float(values[~bad].min()))
                    high = max(high, float(values[~bad].max()))
            else:
                ds.read(window=window)  # the mask of an unmasked file is read without the data
                bad = ds.dataset_mask(window=window) == 0
        except RasterioError as exc:
            raise InvalidInput(
                f"{file.name} cannot be read to the end (rows {row}-{row + window.height - 1}"
                f" of {ds.height}): "
                f"{gdal_reason(exc)}. The file is damaged or truncated; nothing was "
                "loaded.") from None
        if bad.any():
            found.pixels += int(bad.sum())
            r_any, c_any = np.flatnonzero(bad.any(axis=1)), np.flatnonzero(bad.any(axis=0))
            rmin = row + int(r_any[0]) if rmin is None else rmin
            rmax = row + int(r_any[-1])
            cmin = int(c_any[0]) if cmin is None else min(cmin, int(c_any[0]))
            cmax = max(cmax, int(c_any[-1]))
    if found.pixels == found.total:
        raise InvalidInput(f"{file.name} holds no data: every pixel is no-data ({how}). "
                           "Nothing was loaded.")
    if found.pixels and rmin is not None and cmin is not None:
        found.bbox = _pixel_box(transform, crs, cmin, rmin, cmax + 1, rmax + 1)
    if kind == "dem":
        report.heights = (round(low, 3), round(high, 3))
        if low < PLAUSIBLE_HEIGHT[0] or high > PLAUSIBLE_HEIGHT[1]:
            report.notes.append(
                f"heights range from {low:g} to {high:g}: outside {PLAUSIBLE_HEIGHT[0]:g} to "
                f"{PLAUSIBLE_HEIGHT[1]:g} m, are they in metres?")
    return found


def _apply(t: Affine, cols: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel (col, row) corners to CRS coordinates."""
    return t.a * cols + t.b * rows + t.c, t.d * cols + t.e * rows + t.f


def _pixel_box(transform: Affine, crs: CRS, c0: int, r0: int, c1: int, r1: int
               ) -> tuple[float, float, float, float]:
    cols = np.array([c0, c1, c1, c0], float)
    rows = np.array([r0, r0, r1, r1], float)
    xs, ys = _apply(transform, cols, rows)
    lon, lat = Transformer.from_crs(ProjCRS.from_wkt(crs.to_wkt()), "EPSG:4326",
                                    always_xy=True).transform(xs, ys)
    return float(min(lon)), float(min(lat)), float(max(lon)), float(max(lat))


def check_pixels(ds: DatasetReader, file: Path) -> None:
    if ds.width <= 0 or ds.height <= 0:
        raise InvalidInput(f"{file.name} has no pixels ({ds.width} x {ds.height}).")
    if ds.width * ds.height > MAX_PIXELS:
        raise InvalidInput(
            f"{file.name} declares {ds.width} x {ds.height} pixels, above the limit of "
            f"{MAX_PIXELS:,} per band. Split it into tiles first.")
