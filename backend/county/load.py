"""load_county: write a built county into PostGIS with COPY, in one transaction."""

from __future__ import annotations

import csv
import io

import numpy as np
import shapely
from psycopg2 import errors, sql
from sqlalchemy.engine import Engine

from backend.audit.chain import append_with_cursor
from backend.county.cameras import DEVICE_COLUMNS, PRESET_COLUMNS
from backend.county.frame import STORE_EPSG
from backend.county.tables import TABLES, County
from backend.errors import Conflict

CHILD = "bus_line_stops"


def _copy_rows(cur: object, table: str, columns: list[str], rows: object) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)  # type: ignore[arg-type]
    buf.seek(0)
    stmt = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
    cur.copy_expert(stmt, buf)  # type: ignore[attr-defined]


def _copy_table(cur: object, table: str, df: object) -> int:
    """COPY one GeoDataFrame; geometries as hex EWKB (SRID 4326). `id` and `geom_3857` are
    left to the database (identity and generated column)."""
    columns = [c for c in df.columns if c != "geom"]  # type: ignore[attr-defined]
    geoms = shapely.set_srid(np.asarray(df["geom"].to_numpy(), dtype=object),  # type: ignore[index]
                             STORE_EPSG)
    ewkb = shapely.to_wkb(geoms, hex=True, include_srid=True)
    cols = [_plain(df[c].to_numpy()) for c in columns]  # type: ignore[index]
    _copy_rows(cur, table, [*columns, "geom"], zip(*cols, ewkb, strict=True))
    return len(ewkb)


def _plain(values: np.ndarray) -> list[object]:
    """Python values for the csv writer: None stays NULL, numpy scalars become plain."""
    return [None if v is None or (isinstance(v, float) and np.isnan(v)) else
            (v.item() if isinstance(v, np.generic) else v) for v in values.tolist()]


def _copy_cameras(cur: object, county: County) -> dict[str, int]:
    """The domes' presets (by camera code) and the registering devices."""
    cur.execute("SELECT code, id FROM cameras WHERE source = %s",  # type: ignore[attr-defined]
                (county.source,))
    camera_id = dict(cur.fetchall())  # type: ignore[attr-defined]
    p = county.camera_presets
    rows = [(camera_id[c], *_plain(np.array(rest, dtype=object))) for c, *rest in
            p[PRESET_COLUMNS].itertuples(index=False, name=None)] if len(p) else []
    _copy_rows(cur, "camera_presets", ["camera_id", *PRESET_COLUMNS[1:]], rows)
    d = county.camera_devices
    devices = list(d[DEVICE_COLUMNS].itertuples(index=False, name=None)) if len(d) else []
    _copy_rows(cur, "camera_devices", DEVICE_COLUMNS, devices)
    return {"camera_presets": len(rows), "camera_devices": len(devices)}


def load_county(engine: Engine, county: County, *, replace: bool = True) -> dict[str, int]:
    """Write every table of `county` in one transaction; with replace, first delete the rows of
    its source (children first). Returns the row counts written; then ANALYZEs the tables."""
    counts: dict[str, int] = {}
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        src = county.source
        if replace:
            cur.execute(
                "DELETE FROM bus_line_stops WHERE line_id IN "
                "(SELECT id FROM bus_lines WHERE source = %s) OR stop_id IN "
                "(SELECT id FROM bus_stops WHERE source = %s)", (src, src))
            # The devices this source's cameras register through (themselves or an NVR).
            cur.execute(
                "DELETE FROM camera_devices WHERE code IN (SELECT code FROM cameras WHERE "
                "source = %s UNION SELECT parent_code FROM cameras WHERE source = %s)",
                (src, src))
            for table in reversed(TABLES):
                cur.execute(sql.SQL("DELETE FROM {} WHERE source = %s").format(
                    sql.Identifier(table)), (src,))
        for table in TABLES:
            counts[table] = _copy_table(cur, table, county.tables[table])
        cur.execute("SELECT code, id FROM bus_lines WHERE source = %s", (src,))
        line_id = dict(cur.fetchall())
        cur.execute("SELECT code, id FROM bus_stops WHERE source = %s", (src,))
        stop_id = dict(cur.fetchall())
        ls = county.line_stops
        rows = [(line_id[lc], int(seq), stop_id[sc], float(d)) for lc, seq, sc, d in
                zip(ls["line_code"], ls["seq"], ls["stop_code"], ls["distance_m"], strict=True)]
        _copy_rows(cur, CHILD, ["line_id", "seq", "stop_id", "distance_m"], rows)
        counts[CHILD] = len(rows)
        counts.update(_copy_cameras(cur, county))
        append_with_cursor(cur, "system", "data.load", "demo_county", src, counts)
        raw.commit()
    except errors.UniqueViolation as exc:
        raw.rollback()
        raise Conflict("The demo county (or rows with its codes) is already loaded; load it with "
                       "replace=True to replace it.", table=exc.diag.table_name) from exc
    except errors.ForeignKeyViolation as exc:
        raw.rollback()
        raise Conflict("Cases or grid workers refer to grid cells this county does not have "
                       "(a different recipe or scale?): load the county they were made in, or "
                       "load this one into a new database.", table=exc.diag.table_name) from exc
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()
    analyze(engine, [*TABLES, CHILD])
    return counts


def analyze(engine: Engine, tables: list[str]) -> list[str]:
    """ANALYZE the tables this role may analyze (owner or superuser); the managed app role owns
    none, so there autovacuum analyzes them shortly after. Returns the tables analyzed."""
    raw = engine.raw_connection()
    driver = raw.driver_connection  # psycopg2's own connection: ANALYZE may not run in a block
    try:
        driver.autocommit = True  # type: ignore[union-attr]
        cur = driver.cursor()  # type: ignore[union-attr]
        cur.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relname = ANY(%s) AND "
            "(pg_has_role(c.relowner, 'MEMBER') OR "
            " (SELECT rolsuper FROM pg_roles WHERE rolname = current_user))", (tables,))
        mine = sorted(r[0] for r in cur.fetchall())
        for table in mine:
            cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
        return mine
    finally:
        driver.autocommit = False  # type: ignore[union-attr]
        raw.close()
