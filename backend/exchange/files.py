"""A steward's file read into columns and records: CSV (UTF-8 with or without BOM, else GBK /
GB18030, detected), XLSX (GDAL's XLSX driver), and the vector formats GeoJSON, GeoPackage and
zipped Shapefile through the house's reader (backend.ingest.readers). Geometry ends in EPSG:4326
as hex EWKB: a .prj's or GeoPackage's CRS is reprojected; tables give points from lon/lat
(经度/纬度) columns. Nothing here knows the dataset: fields.map_columns does that."""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS, Transformer

from backend.errors import InvalidInput
from backend.ingest.readers import read_source

TABLE_SUFFIXES = (".csv", ".xlsx")
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip")
SUPPORTED = "CSV, XLSX, GeoJSON, GeoPackage, zipped Shapefile (.zip with .shp/.shx/.dbf/.prj)"
WGS84 = CRS.from_epsg(4326)
csv.field_size_limit(1 << 20)  # one value of at most 1 MiB: a longer one is a broken quote


@dataclass
class FileTable:
    format: str
    columns: list[str]
    records: list[dict[str, Any]]     # one per data row, by column
    geoms: list[str | None] | None    # hex EWKB (EPSG:4326) per row; None: no geometry column
    geom_errors: dict[int, str] = field(default_factory=dict)  # 1-based row -> reason
    notes: list[str] = field(default_factory=list)

    def first_rows(self, n: int = 5) -> list[dict[str, Any]]:
        return [{k: _shown(v) for k, v in r.items()} for r in self.records[:n]]


def _shown(value: Any) -> Any:
    if value is None or isinstance(value, int | float | bool | str):
        return value if not isinstance(value, float) or np.isfinite(value) else None
    return str(value)


def read_table(path: Path, filename: str) -> FileTable:
    suffix = Path(filename).suffix.lower()
    if suffix == ".csv":
        return read_csv(path.read_bytes(), filename)
    if suffix == ".xlsx":
        return _read_xlsx(path, filename)
    if suffix in VECTOR_SUFFIXES:
        return _read_vector(path, filename, suffix)
    raise InvalidInput(f"{filename}: unknown file type {suffix or '(no extension)'!r}; "
                       f"supported: {SUPPORTED}.")


def decode_text(raw: bytes, filename: str) -> tuple[str, str]:
    """(text, encoding): strict UTF-8 (a BOM dropped) first, then GB18030 (GBK's superset, what
    Excel in China saves); anything else is refused naming the first undecodable byte."""
    bom = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    try:
        return raw[bom:].decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8:
        if bom:
            raise _undecodable(filename, raw, bom + utf8.start, None) from utf8
        try:
            return raw.decode("gb18030"), "gb18030"
        except UnicodeDecodeError as gbk:
            raise _undecodable(filename, raw, utf8.start, gbk.start) from gbk


def _undecodable(filename: str, raw: bytes, utf8_at: int, gbk_at: int | None) -> InvalidInput:
    gbk = "" if gbk_at is None else f" nor GBK/GB18030 (bad byte at offset {gbk_at})"
    return InvalidInput(
        f"{filename}: the text is not UTF-8 (bad byte 0x{raw[utf8_at]:02x} at byte offset "
        f"{utf8_at}){gbk}; save it as UTF-8 (CSV UTF-8 in Excel) and upload again.",
        reason="encoding")


def read_csv(raw: bytes, filename: str) -> FileTable:
    text, encoding = decode_text(raw, filename)
    try:
        dialect = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|")
        sep = dialect.delimiter
    except csv.Error:
        sep = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    try:
        header = next(reader, None)
        if not header:
            raise InvalidInput(f"{filename} is empty: the first line must name the columns.",
                               reason="empty")
        columns = [h.strip() for h in header]
        records = []
        for line in reader:
            if not line or all(not v.strip() for v in line):
                continue
            if len(line) > len(columns):
                raise InvalidInput(
                    f"{filename}: data row {len(records) + 1} has {len(line)} values for "
                    f"{len(columns)} columns ({line[:len(columns) + 1]!r}); quote values that "
                    "contain the separator.", reason="columns")
            records.append(dict(zip(columns, line, strict=False)))
    except csv.Error as exc:
        raise InvalidInput(f"{filename}: not a readable CSV ({exc}).", reason="csv") from exc
    notes = [] if encoding == "utf-8" else [f"{filename} is not UTF-8: read as GB18030 (GBK)"]
    return FileTable("CSV", columns, records, None, notes=notes)


def _read_xlsx(path: Path, filename: str) -> FileTable:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layers = [str(r[0]) for r in pyogrio.list_layers(str(path))]
            frame = pyogrio.read_dataframe(str(path), layer=layers[0], read_geometry=False)
    except Exception as exc:  # any driver error means the workbook is unreadable
        raise InvalidInput(f"{filename} cannot be read as an XLSX workbook: "
                           f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                           reason="xlsx") from exc
    notes = [f"{filename}: read the first sheet {layers[0]!r} of {layers}"] if len(
        layers) > 1 else []
    columns = [str(c).strip() for c in frame.columns]
    frame.columns = columns
    records = [{k: _cell(v) for k, v in r.items()} for r in frame.to_dict("records")]
    return FileTable("XLSX", columns, records, None, notes=notes)


def _cell(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is pd.NaT:  # a blank date of a GeoJSON or XLSX column: no value, not 'NaT'
        return None
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    return value


def _read_vector(path: Path, filename: str, suffix: str) -> FileTable:
    # read_source picks the driver by suffix: give the saved upload its real one.
    named = path.with_suffix(suffix)
    if named != path:
        path.rename(named)
    source = read_source(named)
    geoms = np.asarray(source.geoms, dtype=object)
    if source.crs is not None and not CRS.from_user_input(source.crs).equals(WGS84):
        transformer = Transformer.from_crs(source.crs, WGS84, always_xy=True)
        present = np.array([g is not None for g in geoms], dtype=bool)
        if present.any():
            geoms[present] = shapely.transform(
                geoms[present].astype(object),
                lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
    notes = list(source.warnings)
    if source.crs is None:
        notes.append(f"{filename} declares no CRS: coordinates read as EPSG:4326")
    frame = source.frame
    columns = [str(c) for c in frame.columns]
    records = [{k: _cell(v) for k, v in r.items()} for r in frame.to_dict("records")]
    return FileTable(source.format, columns, records, to_ewkb(geoms),
                     {i + 1: e for i, e in source.geom_errors.items()}, notes)


def to_ewkb(geoms: Any) -> list[str | None]:
    """Hex EWKB with SRID 4326 of shapely geometries (None stays None)."""
    arr = np.asarray(geoms, dtype=object)
    if len(arr) == 0:
        return []
    out = shapely.to_wkb(shapely.set_srid(arr, 4326), hex=True, include_srid=True)
    return [None if v is None else str(v) for v in out]


def points_from(records: list[dict[str, Any]], lon: str, lat: str
                ) -> tuple[list[str | None], dict[int, str]]:
    """Points from a table's lon/lat columns; a row with a blank pair has no geometry, a row
    with a non-number pair a geometry error."""
    n = len(records)
    xs = np.full(n, np.nan)
    ys = np.full(n, np.nan)
    errors: dict[int, str] = {}
    for i, r in enumerate(records):
        x, y = r.get(lon), r.get(lat)
        if (x is None or str(x).strip() == "") and (y is None or str(y).strip() == ""):
            continue
        try:
            xs[i], ys[i] = float(x), float(y)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            errors[i + 1] = f"{lon}/{lat} must be numbers, got {x!r}, {y!r}"
    return point_ewkb(xs, ys), errors


def geometries_from(records: list[dict[str, Any]], column: str
                    ) -> tuple[list[str | None], dict[int, str]]:
    """Geometries from a table's column of GeoJSON or WKT text (EPSG:4326), as this
    platform's CSV download writes them; blank: no geometry; unreadable: a geometry error."""
    out: list[str | None] = []
    errors: dict[int, str] = {}
    for i, r in enumerate(records):
        text = str(r.get(column) or "").strip()
        if not text:
            out.append(None)
            continue
        try:
            geom = (shapely.from_geojson(text) if text.startswith("{")
                    else shapely.from_wkt(text))
        except shapely.errors.GEOSException as exc:
            errors[i + 1] = f"{column} is neither GeoJSON nor WKT: {str(exc)[:80]}"
            out.append(None)
            continue
        out.append(str(shapely.to_wkb(shapely.set_srid(geom, 4326), hex=True,
                                      include_srid=True)))
    return out, errors


POINT_4326 = "0101000020E6100000"  # EWKB header: little-endian, Point with SRID, 4326


def point_ewkb(xs: np.ndarray, ys: np.ndarray) -> list[str | None]:
    """Hex EWKB points straight from the coordinates (a NaN pair: None); a tenth of the time
    of shapely objects, which a 100,000-row table does not need."""
    ok = np.isfinite(xs) & np.isfinite(ys)
    raw = np.column_stack([xs, ys]).astype("<f8").tobytes()
    return [POINT_4326 + raw[16 * i:16 * i + 16].hex() if good else None
            for i, good in enumerate(ok.tolist())]


def iter_records(table: FileTable) -> Iterator[tuple[int, dict[str, Any], str | None]]:
    geoms = table.geoms
    for i, record in enumerate(table.records):
        yield i + 1, record, (geoms[i] if geoms is not None else None)
