"""The camera register in and out (issue 11, part 1). Import checks every row (the id decoded
against this county, the part that is wrong named; ranges; kinds; the point inside the county),
writes the valid ones in one audited transaction (by code: new cameras inserted, known ones
updated in the columns the file gives, presets replaced), keeps the registering device's
keepalive and its digest secret as HA1 only, and reports each refused row with its reasons.
Export writes the same form (never a password or HA1)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from psycopg2 import sql

from backend.audit.chain import append_with_cursor
from backend.cameras.register_io import COLUMNS, Format, format_of, read_register, write_register
from backend.cameras.register_report import RegisterReport
from backend.cameras.register_rules import Checked, check_row
from backend.errors import InvalidInput
from backend.ingest.gb28181.digest import ha1  # the only form a device secret is kept in

AUDIT_ACTION, AUDIT_ENTITY = "cameras.import", "camera_register"
NEEDED_FOR_NEW = ("kind", "lon", "lat")
# register column -> cameras column, where they differ; lon/lat become geom
TABLE_COLUMN = {"heading_deg": "direction_deg"}
NOT_STORED_ON_CAMERA = ("lon", "lat", "keepalive_s")
INSERT_ONLY = ("status",)  # a known camera's status is live (SIP), not the register's
REAL_COLUMNS = ("heading_deg", "fov_deg", "range_m", "height_m", "tilt_deg")
DEFAULT_KEEPALIVE_S = 60


@dataclass
class _Plan:
    rows: list[tuple[int, Checked]]  # (row number, row) to write
    existing: dict[str, int]         # code -> camera id


def import_register(engine: sa.Engine, path: str | Path, *, realm: str, fmt: str | None = None,
                    encoding: str = "utf-8", source: str | None = None, actor: str = "system",
                    report_path: str | Path | None = None) -> RegisterReport:
    """Import a register file. Raises InvalidInput when the file cannot be read or no row is
    valid (nothing written); otherwise the report lists what was written and refused."""
    started = time.perf_counter()
    file = Path(path)
    report = RegisterReport(file=str(file), source=source or f"register:{file.stem}")
    try:
        report.format = form = format_of(file, fmt)
        rows = read_register(file, form, encoding=encoding)
        report.read = len(rows)
        counties = _counties(engine, report)
        plan = _check(engine, rows, counties, report)
        if not plan.rows:
            shown = "; ".join(f"row {r.row}: {r.reason}" for r in report.rejected_rows[:3])
            raise InvalidInput(f"{file.name}: all {len(rows)} rows were refused ({shown}). "
                               "Nothing was imported.", report=report)
        _write(engine, plan, report, realm=realm, actor=actor)
        report.status = "loaded"
    except InvalidInput as exc:
        report.error = exc.message
        exc.detail.setdefault("report", report)
        report.finish(started, report_path)
        raise
    report.finish(started, report_path)
    return report


def _counties(engine: sa.Engine, report: RegisterReport) -> Collection[str] | None:
    with engine.connect() as conn:
        codes = {str(c) for c in conn.execute(sa.text("SELECT code FROM county")).scalars()}
    if not codes:
        report.warnings.append("No county is loaded: ids were not checked against the county "
                               "code, nor positions against its boundary.")
    return codes or None


def _check(engine: sa.Engine, rows: list[dict[str, Any]], counties: Collection[str] | None,
           report: RegisterReport) -> _Plan:
    first: dict[str, int] = {}
    good: list[tuple[int, Checked]] = []
    for n, raw in enumerate(rows, start=1):
        checked, reasons = check_row(raw, counties)
        code = str(raw.get("code"))[:40] if raw.get("code") is not None else None
        if checked is not None and checked.code in first:
            reasons = [f"code: repeated (first on row {first[checked.code]})"]
        if reasons or checked is None:
            report.reject(n, code, "; ".join(reasons))
            continue
        first[checked.code] = n
        good.append((n, checked))
    with engine.connect() as conn:
        existing = dict(conn.execute(sa.text(
            "SELECT code, id FROM cameras WHERE code = ANY(:c)"),
            {"c": [c.code for _, c in good]}).all())
        outside = _outside_county(conn, good) if counties else set()
    kept: list[tuple[int, Checked]] = []
    for n, c in good:
        missing = [k for k in NEEDED_FOR_NEW if c.values.get(k) is None]
        if c.code not in existing and missing:
            report.reject(n, c.code, f"{', '.join(missing)}: required for a camera not yet "
                                     "in the registry")
        elif n in outside:
            report.reject(n, c.code, f"lon, lat: ({c.values['lon']:g}, {c.values['lat']:g}) "
                                     "is outside the county")
        elif c.values.get("parent_code") == c.code:
            report.reject(n, c.code, "parent_code: a camera cannot be its own parent")
        else:
            kept.append((n, c))
    kept = _consistent_devices(kept, report)
    return _Plan(kept, existing)


def _outside_county(conn: sa.Connection, rows: list[tuple[int, Checked]]) -> set[int]:
    placed = [(n, c.values["lon"], c.values["lat"]) for n, c in rows
              if c.values.get("lon") is not None]
    if not placed:
        return set()
    got = conn.execute(sa.text(
        "SELECT t.n FROM unnest(CAST(:n AS int[]), CAST(:x AS float8[]), CAST(:y AS float8[])) "
        "AS t(n, x, y) WHERE NOT EXISTS (SELECT 1 FROM county c WHERE ST_Covers(c.geom, "
        "ST_SetSRID(ST_MakePoint(t.x, t.y), 4326)))"),
        {"n": [p[0] for p in placed], "x": [p[1] for p in placed], "y": [p[2] for p in placed]})
    return set(got.scalars())


def _device_of(c: Checked) -> str:
    return c.values.get("parent_code") or c.code


def _consistent_devices(rows: list[tuple[int, Checked]], report: RegisterReport
                        ) -> list[tuple[int, Checked]]:
    """Cameras behind one NVR share its keepalive and password: a row that says otherwise than
    the first row of the same device is refused."""
    seen: dict[str, tuple[int, Any, Any]] = {}
    out: list[tuple[int, Checked]] = []
    for n, c in rows:
        dev, ka, pw = _device_of(c), c.values.get("keepalive_s"), c.password
        if dev in seen:
            m, ka0, pw0 = seen[dev]
            if (ka is not None and ka0 is not None and ka != ka0) or (
                    pw is not None and pw0 is not None and pw != pw0):
                report.reject(n, c.code, f"keepalive_s, password: device {dev} is given "
                                         f"other values on row {m}")
                continue
            seen[dev] = (m, ka0 if ka0 is not None else ka, pw0 if pw0 is not None else pw)
        else:
            seen[dev] = (n, ka, pw)
        out.append((n, c))
    return out


def _write(engine: sa.Engine, plan: _Plan, report: RegisterReport, *, realm: str,
           actor: str) -> None:
    devices: dict[str, dict[str, Any]] = defaultdict(dict)
    with engine.begin() as conn:
        cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        for _, c in plan.rows:
            cols = {TABLE_COLUMN.get(k, k): v for k, v in c.values.items()
                    if k not in NOT_STORED_ON_CAMERA}
            if c.code in plan.existing:
                cam = plan.existing[c.code]
                _update(cur, cam, {k: v for k, v in cols.items() if k not in INSERT_ONLY}, c)
                report.updated += 1
            else:
                cam = _insert(cur, c, cols, report.source)
                report.inserted += 1
                devices[_device_of(c)].setdefault("keepalive_s", DEFAULT_KEEPALIVE_S)
            if c.presets is not None:
                cur.execute("DELETE FROM camera_presets WHERE camera_id = %s", (cam,))
                for p in c.presets:
                    cur.execute("INSERT INTO camera_presets (camera_id, preset_no, name, "
                                "heading_deg, fov_deg, range_m, tilt_deg) VALUES "
                                "(%s, %s, %s, %s, %s, %s, %s)",
                                (cam, p["preset_no"], p["name"], p["heading_deg"],
                                 p["fov_deg"], p["range_m"], p["tilt_deg"]))
                report.presets += len(c.presets)
            dev = devices[_device_of(c)]
            if c.values.get("keepalive_s") is not None:
                dev["keepalive_s"] = c.values["keepalive_s"]
            if c.password is not None:
                dev["ha1"] = ha1(_device_of(c), realm, c.password)
        for code, attrs in devices.items():
            if not attrs:  # a known camera whose row says nothing of its device: no device
                continue   # row made (export then import gives the same file)
            cur.execute("INSERT INTO camera_devices (code, keepalive_s) VALUES (%s, %s) "
                        "ON CONFLICT (code) DO NOTHING",
                        (code, attrs.get("keepalive_s", DEFAULT_KEEPALIVE_S)))
            for col in ("keepalive_s", "ha1"):
                if col in attrs:
                    cur.execute(sql.SQL("UPDATE camera_devices SET {} = %s, updated_at = now() "
                                        "WHERE code = %s").format(sql.Identifier(col)),
                                (attrs[col], code))
        report.devices = sum(1 for attrs in devices.values() if attrs)
        append_with_cursor(cur, actor, AUDIT_ACTION, AUDIT_ENTITY, report.source, {
            "file": Path(report.file).name, "rows": report.read,
            "inserted": report.inserted, "updated": report.updated,
            "rejected": len(report.rejected_rows), "presets": report.presets,
            "devices": report.devices,
            "passwords": sum(1 for _, c in plan.rows if c.password is not None)})


def _point(c: Checked) -> sql.Composable | None:
    if c.values.get("lon") is None:
        return None
    return sql.SQL("ST_SetSRID(ST_MakePoint({}, {}), 4326)").format(
        sql.Literal(c.values["lon"]), sql.Literal(c.values["lat"]))


def _insert(cur: Any, c: Checked, cols: dict[str, Any], source: str) -> int:
    cols = {"code": c.code, "source": source, "source_key": c.code,
            **{k: v for k, v in cols.items() if v is not None}}
    names = [sql.Identifier(k) for k in cols] + [sql.Identifier("geom")]
    values = [sql.Placeholder()] * len(cols) + [_point(c)]
    cur.execute(sql.SQL("INSERT INTO cameras ({}) VALUES ({}) RETURNING id").format(
        sql.SQL(", ").join(names), sql.SQL(", ").join(values)), list(cols.values()))
    return int(cur.fetchone()[0])


def _update(cur: Any, cam: int, cols: dict[str, Any], c: Checked) -> None:
    sets = [sql.SQL("{} = %s").format(sql.Identifier(k)) for k in cols]
    point = _point(c)
    if point is not None:
        sets.append(sql.SQL("geom = {}").format(point))
    if sets:
        cur.execute(sql.SQL("UPDATE cameras SET {} WHERE id = %s").format(
            sql.SQL(", ").join(sets)), [*cols.values(), cam])


def export_rows(engine: sa.Engine, *, source: str | None = None) -> list[dict[str, Any]]:
    """Every camera (or one source's) in register form, by code."""
    with engine.connect() as conn:
        result = conn.execute(sa.text(
            "SELECT c.code, c.name, c.kind, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.status,"
            " c.manufacturer, c.model, c.owner, c.civil_code, c.address, c.ptz_type, "
            "c.position_type, c.use_type, c.room_type, c.direction_deg AS heading_deg, "
            "c.fov_deg, c.range_m, c.height_m, c.tilt_deg, c.parent_code, d.keepalive_s, "
            "(SELECT json_agg(json_build_object('preset_no', p.preset_no, 'name', p.name, "
            " 'heading_deg', p.heading_deg, 'fov_deg', p.fov_deg, 'range_m', p.range_m, "
            " 'tilt_deg', p.tilt_deg) "
            " ORDER BY p.preset_no) FROM camera_presets p WHERE p.camera_id = c.id) AS presets "
            "FROM cameras c LEFT JOIN camera_devices d ON d.code = coalesce(c.parent_code, "
            "c.code) WHERE CAST(:src AS text) IS NULL OR c.source = :src ORDER BY c.code"),
            {"src": source})
        rows = [dict(r._mapping) for r in result]
    for row in rows:
        for col in REAL_COLUMNS:  # float4 as the value it was written as, not 7.0999999
            if row[col] is not None:
                row[col] = round(float(row[col]), 4)
        row["presets"] = row["presets"] or []
    return rows


def export_register(engine: sa.Engine, path: str | Path, *, fmt: str | None = None,
                    source: str | None = None) -> int:
    """Write the register file; returns the number of cameras."""
    file = Path(path)
    form: Format = format_of(file, fmt)
    return write_register(file, form, ({c: r.get(c) for c in COLUMNS}
                                       for r in export_rows(engine, source=source)))
