"""Load one vector file into a layer's table: one file = one source = one transaction.

Re-loading a source is a full sync of that source (upsert by (source, source_key), delete the
source's keys the file no longer has; `append` skips the delete). Rows of other sources are
never touched. Bad rows are rejected with a reason; by default any rejected row fails the whole
file (`max_reject_ratio=0.0`) and then nothing is written: the table is exactly as it was.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import psycopg2
import sqlalchemy as sa
from numpy.typing import NDArray
from psycopg2.extensions import cursor as Cursor
from shapely.geometry.base import BaseGeometry
from tqdm import tqdm

from backend.audit.chain import append_with_cursor
from backend.cameras.device_id import DeviceIdError, decode
from backend.catalog.layers import LayerCatalog
from backend.datasets.store import record_layer_load
from backend.errors import CityOpsError, InvalidInput
from backend.ingest import load
from backend.ingest.crs import choose_crs, to_wgs84
from backend.ingest.geometry import check_geometries, county_area
from backend.ingest.readers import SourceData, read_source
from backend.ingest.report import IngestResult, RowIssue, write_report
from backend.ingest.schema import ColumnMap, TargetTable, map_columns, pick_key, target_table
from backend.ingest.values import coercer_for, is_missing, key_text

DEFAULT_MAX_REJECT_RATIO = 0.0  # any rejected row fails the file: a partial layer misleads
DEFAULT_COUNTY_BUFFER_M = 1000.0
BATCH_ROWS = 5000
MAX_SHOWN = 3
DEVICE_ID_TABLE, DEVICE_ID_COLUMN = "cameras", "code"


def ingest_file(
    engine: sa.Engine,
    catalog: LayerCatalog,
    path: str | Path,
    *,
    layer_id: str,
    crs: int | str | None = None,
    from_gcj02: bool = False,
    source: str | None = None,
    key_field: str | None = None,
    append: bool = False,
    report_path: str | Path | None = None,
    progress: bool = True,
    county_geom: BaseGeometry | None = None,
    max_reject_ratio: float = DEFAULT_MAX_REJECT_RATIO,
    layer: str | None = None,
    encoding: str | None = None,
    x_field: str | None = None,
    y_field: str | None = None,
    columns: Mapping[str, str] | None = None,
    county_buffer_m: float = DEFAULT_COUNTY_BUFFER_M,
    batch_rows: int = BATCH_ROWS,
    actor: str = "system",
) -> IngestResult:
    """Load `path` into layer `layer_id`.

    crs: EPSG code (4548, "EPSG:4548") of the coordinates; required for CSV, must agree with
      the file's own CRS when it declares one. from_gcj02: the lon/lat are GCJ-02 (web maps).
    source: the datum's source name (default "file:<stem>"); key_field: the column whose value
      identifies a feature across loads (default: a stable id column such as id/fid/code).
    append: upsert only, keep the source's rows missing from the file.
    county_geom: the county boundary in EPSG:4326 (default: the county table); features
      farther than county_buffer_m from it are rejected.
    max_reject_ratio: the share of rejected rows tolerated (0.0: none; 1.0: any, as long as
      one row is valid). actor: who loads it, for the audit log.
    layer: GeoPackage layer, or Shapefile name inside a zip. encoding: of a CSV or DBF.
    x_field/y_field: CSV coordinate columns (default: lon/lng/longitude/x/经度, lat/...).
    columns: explicit file column -> table column mapping.

    Raises NotFound (unknown layer) or InvalidInput (whole file rejected, database unchanged;
    `exc.detail["result"]` holds the IngestResult). The report is written in both cases.
    """
    started = time.perf_counter()
    file = Path(path)
    target = target_table(catalog, layer_id)
    if not 0.0 <= max_reject_ratio <= 1.0:
        raise InvalidInput(f"max_reject_ratio must be between 0 and 1, got {max_reject_ratio}.")
    name = source if source is not None else f"file:{file.stem}"
    if not name.strip() or len(name) > 200 or not name.isprintable():
        raise InvalidInput(f"Source name {name!r} must be 1-200 printable characters.")
    result = IngestResult(file=str(file), layer=layer_id, table=target.name, source=name,
                          from_gcj02=from_gcj02, append=append,
                          max_reject_ratio=max_reject_ratio)
    try:
        data = read_source(file, layer=layer, encoding=encoding, x_field=x_field,
                           y_field=y_field)
        _run(engine, file, target, data, result, crs=crs, key_field=key_field,
             columns=columns, county_geom=county_geom, county_buffer_m=county_buffer_m,
             progress=progress, batch_rows=max(1, batch_rows), actor=actor)
        result.status = "loaded"
    except Exception as exc:
        result.status = "failed"
        err = exc if isinstance(exc, CityOpsError) else _as_domain_error(file, target, exc)
        result.error = err.message
        err.detail.setdefault("result", result)
        _finish(result, started, report_path)
        if err is exc:
            raise
        raise err from exc
    _finish(result, started, report_path)
    return result


def _finish(result: IngestResult, started: float, report_path: str | Path | None) -> None:
    result.rejected = len(result.rejected_rows)
    result.repaired = len(result.repaired_rows)
    result.valid = result.read - result.rejected
    result.duration_s = round(time.perf_counter() - started, 3)
    if report_path is not None:
        write_report(result, report_path)


def _as_domain_error(file: Path, target: TargetTable, exc: Exception) -> CityOpsError:
    """Database and unexpected errors as a short message; the traceback stays in __cause__."""
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, psycopg2.Error):
        diag = getattr(orig, "diag", None)
        text = (diag.message_primary if diag and diag.message_primary
                else str(orig).strip().splitlines()[0])
        cls = CityOpsError if isinstance(orig, psycopg2.OperationalError) else InvalidInput
        return cls(f"The database refused {file.name}: {text}. Nothing was changed in "
                   f"{target.name}.")
    return CityOpsError(f"Unexpected error while loading {file.name} ({type(exc).__name__}); "
                        f"nothing was changed in {target.name}. Please report it.")


def _run(
    engine: sa.Engine, file: Path, target: TargetTable, data: SourceData,
    result: IngestResult, *, crs: int | str | None, key_field: str | None,
    columns: Mapping[str, str] | None, county_geom: BaseGeometry | None,
    county_buffer_m: float, progress: bool, batch_rows: int, actor: str,
) -> None:
    result.format = data.format
    result.warnings.extend(data.warnings)
    choice = choose_crs(file, declared=data.crs, implicit=data.implicit_crs, flag=crs,
                        from_gcj02=result.from_gcj02)
    result.crs_declared, result.crs_used = choice.declared, choice.used
    if choice.note:
        result.warnings.append(choice.note)
    cmap = map_columns(file, data.frame.columns, target, explicit=columns,
                       not_data=data.used_columns, truncated=data.format == "ESRI Shapefile")
    key = pick_key(file, data.frame.columns, target, key_field, cmap.mapping)
    result.key_field = key
    result.columns_written = list(cmap.mapping.values())
    result.columns_ignored = [c for c in cmap.ignored if c != key]
    result.read = n = len(data.frame)
    if n == 0:
        raise InvalidInput(f"{file.name} contains no features; nothing to load.")
    geoms = to_wgs84(data.geoms, choice.crs, from_gcj02=result.from_gcj02)
    area = _county_area(engine, target, county_geom, county_buffer_m, result)
    keys = [key_text(v) for v in data.frame[key].tolist()]
    counts = Counter(k for k in keys if k is not None)
    dup_rows: dict[str, list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        if k is not None and counts[k] > 1:
            dup_rows[k].append(i + 1)
    id_check = _device_id_check(engine, target)
    with engine.begin() as conn, _cursor(conn) as cur:
        load.lock_source(cur, target.name, result.source)
        load.create_stage(cur, target.name, target.geom_column, result.columns_written)
        with tqdm(total=n, unit="row", desc=f"{file.name} -> {target.layer.id}",
                  disable=not progress) as bar:
            for start in range(0, n, batch_rows):
                stop = min(start + batch_rows, n)
                rows = _stage_batch(data, cmap, target, geoms, keys, dup_rows, area, result,
                                    start, stop, key, id_check)
                load.copy_rows(cur, rows)
                bar.update(stop - start)
        load.analyze_stage(cur)
        _database_checks(cur, target, result)
        _enforce_policy(file, target, result)
        counts_w = load.write(cur, target.name, target.geom_column, result.columns_written,
                              source=result.source, append=result.append)
        # the layer is a catalog dataset too: this load is its new version
        record_layer_load(cur, layer_id=target.layer.id, table=target.name,
                          source=result.source, actor=actor, added=counts_w.inserted,
                          changed=counts_w.updated, removed=counts_w.deleted,
                          rejected=len(result.rejected_rows))
        append_with_cursor(cur, actor, "data.load", target.layer.id, result.source, {
            "file": file.name, "rows": n, "rejected": len(result.rejected_rows),
            "inserted": counts_w.inserted, "updated": counts_w.updated,
            "deleted": counts_w.deleted, "append": result.append})
    result.inserted, result.updated, result.deleted = (
        counts_w.inserted, counts_w.updated, counts_w.deleted)
    result.unchanged = n - len(result.rejected_rows) - result.inserted - result.updated


def _cursor(conn: sa.Connection) -> Cursor:
    """The psycopg2 cursor of the SQLAlchemy connection's transaction (COPY needs it)."""
    raw = conn.connection.dbapi_connection
    if raw is None:
        raise CityOpsError("The database connection was closed.")
    return raw.cursor()  # type: ignore[no-any-return]


def _county_area(
    engine: sa.Engine, target: TargetTable, county_geom: BaseGeometry | None,
    buffer_m: float, result: IngestResult,
) -> BaseGeometry | None:
    if target.name == "county":
        result.county_check = "skipped: the county layer itself"
        return None
    origin = "given"
    if county_geom is None:
        county_geom, origin = load.county_boundary(engine), "county table"
    if county_geom is None or county_geom.is_empty:
        result.county_check = "skipped: no county boundary"
        result.warnings.append("No county boundary is loaded: features were not checked for "
                               "lying inside the county. Load the county layer first.")
        return None
    result.county_check = f"applied ({origin} boundary + {buffer_m:g} m)"
    return county_area(county_geom, buffer_m)


def _stage_batch(
    data: SourceData, cmap: ColumnMap, target: TargetTable, geoms: NDArray[np.object_],
    keys: list[str | None], dup_rows: dict[str, list[int]], area: BaseGeometry | None,
    result: IngestResult, start: int, stop: int, key_col: str,
    id_check: Callable[[str], str | None] | None = None,
) -> list[load.StagedRow]:
    batch = data.frame.iloc[start:stop]
    outcome = check_geometries(geoms[start:stop], target.geometry_type, area)
    cols = [(dst, coercer_for(target.writable[dst]), batch[src].tolist(),
             dst in target.required) for src, dst in cmap.mapping.items()]
    rows: list[load.StagedRow] = []
    for j in range(stop - start):
        pos = start + j
        key = keys[pos]
        reasons: list[str] = []
        if key is not None and "\x00" in key:
            key = None
            reasons.append(f"source key in column {key_col!r} contains a NUL character")
        elif key is None:
            reasons.append(f"no source key (column {key_col!r} is empty)")
        elif key in dup_rows:
            reasons.append(f"source key {key!r} is repeated on rows {dup_rows[key][:5]}")
        if pos in data.geom_errors:
            reasons.append(data.geom_errors[pos])
        elif j in outcome.rejected:
            reasons.append(outcome.rejected[j])
        values: list[str | None] = []
        for dst, coerce, vals, required in cols:
            text, err = (None, None) if is_missing(vals[j]) else coerce(vals[j])
            if err:
                reasons.append(f"{dst}: {err}")
            elif text is None and required:
                reasons.append(f"{dst}: required, but empty")
            values.append(text)
            if dst == DEVICE_ID_COLUMN and id_check is not None and text is not None:
                problem = id_check(text)
                if problem:
                    reasons.append(problem)
        if reasons:
            result.reject(pos + 1, key, "; ".join(reasons))
            if key is not None:  # staged so a full sync keeps the stored version of this key
                rows.append(load.StagedRow(pos + 1, False, key, None, [None] * len(values)))
            continue
        if j in outcome.repaired:
            result.repaired_rows.append(RowIssue(pos + 1, key, outcome.repaired[j]))
        rows.append(load.StagedRow(pos + 1, True, str(key), outcome.hexes[j], values))
    return rows


def _device_id_check(engine: sa.Engine, target: TargetTable
                     ) -> Callable[[str], str | None] | None:
    """Cameras are keyed by GB/T 28181 ids of this county: a row whose id does not decode is
    refused with the part that is wrong (the table's CHECK only knows "20 digits")."""
    if target.name != DEVICE_ID_TABLE:
        return None
    counties = load.county_codes(engine) or None  # no county loaded: any centre code

    def check(code: str) -> str | None:
        try:
            decode(code, counties)
        except DeviceIdError as exc:
            return f"{DEVICE_ID_COLUMN}: {exc}"
        return None
    return check


def _database_checks(cur: Cursor, target: TargetTable, result: IngestResult) -> None:
    """The table's own CHECK and UNIQUE constraints, evaluated on the staged rows."""
    available = {"source_key", target.geom_column, *result.columns_written}
    readable: dict[str, str] = {}
    for c in target.table.constraints:
        if isinstance(c, sa.CheckConstraint) and isinstance(c.name, str):
            text = str(c.sqltext)
            readable[c.name] = readable[f"ck_{target.name}_{c.name}"] = text
    found: dict[int, tuple[str, list[str]]] = {}

    def collect(items: list[tuple[int, str, str]]) -> None:
        for row, key, reason in items:
            found.setdefault(row, (key, []))[1].append(reason)
        load.mark_rejected(cur, [row for row, _, _ in items])

    collect(load.check_constraints(cur, target.name, available, readable))
    collect(load.unique_conflicts(cur, target.name, available, source=result.source,
                                  append=result.append))
    for row, (key, reasons) in sorted(found.items()):
        result.reject(row, key, "; ".join(reasons))


def _enforce_policy(file: Path, target: TargetTable, result: IngestResult) -> None:
    rejected, read = len(result.rejected_rows), result.read
    if rejected == 0:
        return
    shown = "; ".join(f"row {r.row}: {r.reason}" for r in
                      sorted(result.rejected_rows, key=lambda r: r.row)[:MAX_SHOWN])
    more = f" (and {rejected - MAX_SHOWN} more)" if rejected > MAX_SHOWN else ""
    unchanged = f"Nothing was loaded; {target.name} is unchanged."
    if rejected == read:
        raise InvalidInput(f"{file.name}: all {read} rows were rejected: {shown}{more}. "
                           f"{unchanged} Check the CRS, the layer and the columns.")
    if rejected / read > result.max_reject_ratio:
        raise InvalidInput(
            f"{file.name}: {rejected} of {read} rows rejected, above the allowed ratio "
            f"{result.max_reject_ratio:g}: {shown}{more}. {unchanged} Fix those rows (the "
            "report lists each one), or accept skipping them with a higher max reject ratio."
        )
