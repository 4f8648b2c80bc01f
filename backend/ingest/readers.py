"""Read a vector file into attribute columns + shapely geometries, whatever the format.

GeoJSON, GeoPackage, Shapefile (bare or zipped) go through pyogrio; CSV is read as text (codes
such as land-use "0701" keep their leading zeros; the database casts each value) with the
geometry from longitude/latitude (or x/y) columns or a WKT column.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely
from numpy.typing import NDArray
from pyproj import CRS

from backend.errors import InvalidInput

VECTOR_SUFFIXES = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG",
                   ".shp": "ESRI Shapefile", ".zip": "ESRI Shapefile"}
SUPPORTED = ".geojson, .json, .gpkg, .zip (zipped Shapefile), .shp, .csv"
X_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "东经")
Y_NAMES = ("lat", "latitude", "y", "纬度", "北纬")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "shape")
WGS84_CODES = {"EPSG:4326", "OGC:CRS84"}


@dataclass
class SourceData:
    format: str
    frame: pd.DataFrame  # attribute columns only
    geoms: NDArray[np.object_]  # shapely geometries or None, one per row
    crs: CRS | None  # as declared by the file
    implicit_crs: bool = False  # only the format's default (GeoJSON without a crs member)
    geom_errors: dict[int, str] = field(default_factory=dict)  # row position -> reason
    used_columns: set[str] = field(default_factory=set)  # turned into the geometry
    warnings: list[str] = field(default_factory=list)


def read_source(
    path: Path,
    *,
    layer: str | None = None,
    encoding: str | None = None,
    x_field: str | None = None,
    y_field: str | None = None,
) -> SourceData:
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file.")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, encoding=encoding, x_field=x_field, y_field=y_field)
    if suffix not in VECTOR_SUFFIXES:
        raise InvalidInput(
            f"{path.name}: unknown file type {suffix or '(no extension)'!r}; "
            f"supported: {SUPPORTED}."
        )
    return _read_vector(path, VECTOR_SUFFIXES[suffix], layer=layer, encoding=encoding)


def _fail(path: Path, exc: Exception) -> InvalidInput:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return InvalidInput(f"{path.name} cannot be read as a vector file: {first}")


def _read_vector(path: Path, fmt: str, *, layer: str | None, encoding: str | None) -> SourceData:
    notes: list[str] = []
    target = str(path)
    if path.suffix.lower() == ".zip":
        target = _zip_member(path, layer)
        layer = None
    try:
        layers = [str(row[0]) for row in pyogrio.list_layers(target)]
        if layer is not None and layer not in layers:
            raise InvalidInput(f"{path.name} has no layer {layer!r}; its layers: {layers}.")
        if layer is None and len(layers) > 1:
            layer = layers[0]
            notes.append(f"{path.name} has {len(layers)} layers {layers}; read {layer!r} "
                         "(choose another with the layer option)")
        info = pyogrio.read_info(target, layer=layer, encoding=encoding)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            gdf = pyogrio.read_dataframe(target, layer=layer, encoding=encoding,
                                         fid_as_index=True)
    except InvalidInput:
        raise
    except Exception as exc:  # any driver error means the file is unreadable
        raise _fail(path, exc) from exc
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    fields = {str(f).lower() for f in info["fields"]}
    fid_name = None
    if info.get("fid_column"):  # GeoPackage: the fid is the table's stable primary key
        fid_name = str(info["fid_column"])
    elif fmt == "GeoJSON" and "id" not in fields and _geojson_has(path, rb'"id"\s*:'):
        fid_name = "id"  # integer feature ids become GDAL's FID
    if fid_name and fid_name.lower() not in fields:
        frame.insert(0, fid_name, gdf.index.to_numpy())
    frame = frame.reset_index(drop=True)
    crs = gdf.crs
    implicit = (fmt == "GeoJSON" and crs is not None and _is_wgs84(crs)
                and not _geojson_has(path, rb'"crs"\s*:'))
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    driver = str(info.get("driver") or fmt)
    return SourceData(driver, frame, geoms, crs, implicit_crs=implicit, warnings=notes)


def _zip_member(path: Path, layer: str | None) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            shps = [n for n in zf.namelist() if n.lower().endswith(".shp")
                    and not n.startswith("__MACOSX/")]
    except zipfile.BadZipFile as exc:
        raise InvalidInput(f"{path.name} is not a valid zip archive.") from exc
    if layer is not None:
        chosen = [n for n in shps if Path(n).stem == layer or n == layer]
        if not chosen:
            raise InvalidInput(f"{path.name} has no Shapefile {layer!r}; it has {shps}.")
        shps = chosen[:1]
    if not shps:
        raise InvalidInput(f"{path.name} contains no .shp file; a zipped Shapefile needs "
                           ".shp, .shx, .dbf (and .prj for its CRS).")
    if len(shps) > 1:
        raise InvalidInput(f"{path.name} contains several Shapefiles {shps}; choose one with the "
                           "layer option (its name without .shp).")
    return f"/vsizip/{path.resolve()}/{shps[0]}"


def _is_wgs84(crs: CRS) -> bool:
    auth = crs.to_authority(min_confidence=90)
    return auth is not None and f"{auth[0]}:{auth[1]}" in WGS84_CODES


def _geojson_has(path: Path, pattern: bytes, chunk: int = 1 << 20) -> bool:
    """Scan the raw text for a member GDAL does not report (a crs member, integer ids)."""
    regex = re.compile(pattern)
    tail = b""
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            if regex.search(tail + block):
                return True
            tail = block[-32:]
    return False


def _read_csv(path: Path, *, encoding: str | None, x_field: str | None,
              y_field: str | None) -> SourceData:
    notes: list[str] = []
    raw = path.read_bytes()
    # Excel in China saves GBK by default
    candidates = [encoding] if encoding else ["utf-8-sig", "gb18030"]
    text = None
    for enc in candidates:
        try:
            text = raw.decode(enc)
            if enc == "gb18030":
                notes.append(f"{path.name} is not UTF-8; read it as GB18030 (GBK)")
            break
        except (UnicodeDecodeError, LookupError):
            continue
    if text is None:
        raise InvalidInput(f"{path.name}: cannot decode the text as {' or '.join(candidates)}; "
                           "save it as UTF-8 or pass the encoding option.")
    try:
        dialect = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|")
        sep = dialect.delimiter
    except csv.Error:
        sep = ","
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str,
                            keep_default_na=False, skipinitialspace=True)
    except Exception as exc:  # pandas raises several parser error types
        raise _fail(path, exc) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    geoms, errors, used = _csv_geometry(path, frame, x_field, y_field)
    return SourceData("CSV", frame, geoms, None, geom_errors=errors, used_columns=used,
                      warnings=notes)


def _find(columns: list[str], names: tuple[str, ...]) -> str | None:
    lower = {c.lower(): c for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def _csv_geometry(
    path: Path, frame: pd.DataFrame, x_field: str | None, y_field: str | None
) -> tuple[NDArray[np.object_], dict[int, str], set[str]]:
    cols = list(frame.columns)
    for name in (x_field, y_field):
        if name is not None and name not in cols:
            raise InvalidInput(f"{path.name} has no column {name!r}; its columns: {cols}.")
    x_col = x_field or _find(cols, X_NAMES)
    y_col = y_field or _find(cols, Y_NAMES)
    errors: dict[int, str] = {}
    if x_col and y_col:
        xs = pd.to_numeric(frame[x_col].str.strip(), errors="coerce").to_numpy(dtype=float)
        ys = pd.to_numeric(frame[y_col].str.strip(), errors="coerce").to_numpy(dtype=float)
        bad = ~(np.isfinite(xs) & np.isfinite(ys))
        geoms = np.asarray(shapely.points(np.where(bad, np.nan, xs), np.where(bad, np.nan, ys)),
                           dtype=object)
        geoms[bad] = None
        for i in np.flatnonzero(bad):
            errors[int(i)] = (f"{x_col}/{y_col} must be numbers, got "
                              f"{frame[x_col].iat[i]!r}, {frame[y_col].iat[i]!r}")
        return geoms, errors, {x_col, y_col}
    wkt_col = _find(cols, WKT_NAMES)
    if wkt_col is None:
        raise InvalidInput(
            f"{path.name}: no coordinate columns found (looked for {'/'.join(X_NAMES)} and "
            f"{'/'.join(Y_NAMES)}, or a WKT column {'/'.join(WKT_NAMES)}); its columns: {cols}. "
            "Name them with the x_field/y_field options."
        )
    values = frame[wkt_col].str.strip().replace("", None).to_numpy(dtype=object)
    geoms = np.asarray(shapely.from_wkt(values, on_invalid="ignore"), dtype=object)
    for i in np.flatnonzero(pd.isna(geoms) & pd.notna(values)):
        errors[int(i)] = f"{wkt_col}: not valid WKT ({str(values[i])[:40]!r})"
    return geoms, errors, {wkt_col}
