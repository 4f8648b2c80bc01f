"""A dataset's declared fields (dataset_fields) and how arriving values become a version's rows:
headers matched to fields by `name` or `name_zh`, each value coerced by the field's data_type
into its JSON form (a bad value refuses its row with a Rejection), the key read from the key
field. Every arrival path (file, push, table exchange) goes through `to_rows`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from backend.datasets.store import Rejection, Row
from backend.errors import Conflict, NotFound

TRUE = {"true", "t", "yes", "y", "1", "是"}
FALSE = {"false", "f", "no", "n", "0", "否"}
MAX_TEXT = 10_000  # characters in one value: a longer one is a wrong column, not data
# Columns that carry a point's coordinates in tables (CSV, XLSX): never unknown fields.
DBF_NAME_BYTES = 10
LON_NAMES = ("lon", "lng", "longitude", "x", "经度", "东经")
LAT_NAMES = ("lat", "latitude", "y", "纬度", "北纬")
# A table's geometry as one column (GeoJSON or WKT text), as this platform's own CSV download
# writes it; and the store's key column of a download (not a field: read again, it is ignored).
GEOMETRY_NAMES = ("geometry", "geom", "wkt", "geojson", "几何", "空间位置")
STORE_KEY = "key"


@dataclass(frozen=True)
class Field:
    name: str
    name_zh: str
    data_type: str
    required: bool


@dataclass(frozen=True)
class DatasetSpec:
    id: str
    name: str
    department_code: str
    storage: str
    key_field: str | None
    geometry_type: str | None
    fields: tuple[Field, ...]

    def by_header(self) -> dict[str, Field]:
        """Field by every header that names it (name, name_zh, name in any case); the geometry
        field comes from the source's geometry, never from a value column."""
        found: dict[str, Field] = {}
        for f in self.fields:
            if f.data_type == "geometry":
                continue
            found[f.name] = f
            found[f.name.lower()] = f
            found[f.name_zh] = f
        return found


def load_spec(conn: sa.Connection, dataset_id: str) -> DatasetSpec:
    row = conn.execute(sa.text(
        "SELECT id, name, department_code, storage, key_field, geometry_type FROM datasets "
        "WHERE id = :id"), {"id": dataset_id}).first()
    if row is None:
        raise NotFound(f"no dataset {dataset_id!r}")
    fields = conn.execute(sa.text(
        "SELECT name, name_zh, data_type, required FROM dataset_fields WHERE dataset_id = :id "
        "ORDER BY position, name"), {"id": dataset_id}).all()
    spec = DatasetSpec(row.id, row.name, row.department_code, row.storage, row.key_field,
                       row.geometry_type, tuple(Field(*f) for f in fields))
    if spec.storage == "layer":  # a metadata-only entry is collected by its first version
        raise Conflict(f"dataset {dataset_id} ({spec.name}) is a map layer: its data is the "
                       "layer's table (cityops ingest FILE --layer)")
    return spec


@dataclass
class ColumnMap:
    fields: dict[str, Field]     # source column -> field
    unknown: list[str]
    missing: list[str]           # required fields no column names
    lon: str | None = None
    lat: str | None = None
    geometry: str | None = None  # a column of GeoJSON or WKT text


def map_columns(spec: DatasetSpec, columns: Sequence[str], *,
                coordinates: bool = False) -> ColumnMap:
    """Match source columns to the fields; `coordinates`: lon/lat columns make a point."""
    headers = spec.by_header()
    mapped: dict[str, Field] = {}
    unknown: list[str] = []
    lon = lat = geometry = None
    geometry_names = {*GEOMETRY_NAMES, *(f.name.lower() for f in spec.fields
                                         if f.data_type == "geometry")}
    for col in columns:
        name = str(col).strip()
        f = headers.get(name) or headers.get(name.lower()) or _dbf_match(spec, name)
        if f is not None and f not in mapped.values():
            mapped[col] = f
        elif name.lower() == STORE_KEY:
            continue  # the store key of this platform's own download
        elif (coordinates and spec.geometry_type and name.lower() in geometry_names
              and geometry is None):
            geometry = col
        elif coordinates and spec.geometry_type and name.lower() in LON_NAMES and lon is None:
            lon = col
        elif coordinates and spec.geometry_type and name.lower() in LAT_NAMES and lat is None:
            lat = col
        else:
            unknown.append(name)
    present = {f.name for f in mapped.values()}
    missing = [f"{f.name} ({f.name_zh})" for f in spec.fields if f.required
               and f.name not in present and f.data_type != "geometry"]
    return ColumnMap(mapped, unknown, missing, lon, lat, geometry)


def _dbf_match(spec: DatasetSpec, name: str) -> Field | None:
    """A Shapefile's DBF cuts field names to 10 characters: `facility_i` is `facility_id`
    when exactly one field starts so."""
    if len(name.encode()) != DBF_NAME_BYTES:
        return None
    found = [f for f in spec.fields if f.name.lower().startswith(name.lower())]
    return found[0] if len(found) == 1 else None


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def _integer(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool):
        return None, f"{value!r} is not an integer"
    if isinstance(value, int):
        return value, None
    text = _text(value)
    try:
        return int(text), None
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None, f"{text[:40]!r} is not an integer"
    if number.is_integer():
        return int(number), None
    return None, f"{text[:40]!r} is not an integer"


def _number(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool):
        return None, f"{value!r} is not a number"
    try:
        number = float(value) if isinstance(value, int | float) else float(_text(value))
    except ValueError:
        return None, f"{_text(value)[:40]!r} is not a number"
    if not math.isfinite(number):
        return None, f"{_text(value)[:40]!r} is not a finite number"
    return (int(number) if number.is_integer() and abs(number) < 2**53 else number), None


def _date(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, datetime):
        return value.date().isoformat(), None
    if isinstance(value, date):
        return value.isoformat(), None
    text = _text(value).replace("/", "-")
    try:
        return date.fromisoformat(text[:10]).isoformat(), None
    except ValueError:
        return None, f"{_text(value)[:40]!r} is not a date (YYYY-MM-DD)"


def _datetime(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, datetime):
        return value.isoformat(), None
    text = _text(value).replace("/", "-")
    try:
        return datetime.fromisoformat(text).isoformat(), None
    except ValueError:
        return None, (f"{_text(value)[:40]!r} is not a date and time "
                      "(ISO 8601, e.g. 2024-05-01T08:30:00+08:00)")


def _boolean(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool):
        return value, None
    text = _text(value).lower()
    if text in TRUE:
        return True, None
    if text in FALSE:
        return False, None
    return None, f"{text[:40]!r} is not a yes/no value (true/false, 是/否, 1/0)"


def _string(value: Any) -> tuple[Any, str | None]:
    text = _text(value)
    if "\x00" in text:
        return None, "contains a NUL character"
    if len(text) > MAX_TEXT:
        return None, f"{len(text)} characters, more than the {MAX_TEXT} allowed"
    return text, None


COERCE = {"string": _string, "integer": _integer, "number": _number, "date": _date,
          "datetime": _datetime, "boolean": _boolean}


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def to_rows(spec: DatasetSpec, records: Iterable[tuple[int, Mapping[str, Any], str | None]],
            columns: ColumnMap, rejected: list[Rejection],
            geom_errors: Mapping[int, str] | None = None) -> Iterator[Row]:
    """Rows of the version from (row number, {column: value}, hex EWKB or None); a row with a
    bad value or a bad geometry goes to `rejected` with its reasons instead."""
    plan = [(col, f.name, COERCE.get(f.data_type, _string)) for col, f in columns.fields.items()]
    key_field = spec.key_field
    geom_errors = geom_errors or {}
    for number, record, geom_hex in records:
        data: dict[str, Any] = {}
        bad: list[Rejection] = []
        for col, name, coerce in plan:
            value = record.get(col)
            if is_missing(value):
                data[name] = None
                continue
            if isinstance(value, dict | list | tuple):
                bad.append(Rejection(number, "must be a single value, not a list or object",
                                     field=name, value=str(value)[:80]))
                continue
            coerced, error = coerce(value)
            if error is not None:
                bad.append(Rejection(number, error, field=name, value=_text(value)[:80]))
            data[name] = coerced
        key = data.get(key_field) if key_field else None
        key_text = None if key is None else str(key)
        if number in geom_errors:
            bad.append(Rejection(number, geom_errors[number], field="geometry"))
        if bad:
            rejected.extend(Rejection(r.row, r.reason, key_text, r.field, r.value) for r in bad)
            continue
        yield Row(key_text, data, geom_hex)
