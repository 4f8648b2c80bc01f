"""Arrivals into the version store: a steward's file and a department system's push, each read
against the dataset's declared fields, bounded, refused with reasons, written as one version
(backend.datasets.store.write_version, the quality gate on) and audited by the store. No HTTP
here: the router and `cityops ingest --dataset` both call these."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import shapely
import sqlalchemy as sa

from backend.auth.permissions import Permission, Principal
from backend.datasets.store import Rejection, Row, VersionOutcome, set_current, write_version
from backend.errors import Conflict, Forbidden, InvalidInput, Unprocessable
from backend.exchange.counters import refused
from backend.exchange.fields import ColumnMap, DatasetSpec, load_spec, map_columns, to_rows
from backend.exchange.files import (
    FileTable,
    geometries_from,
    iter_records,
    points_from,
    read_csv,
    read_table,
    to_ewkb,
)
from backend.quality.gate import blocking_gate

# A file is a version of the whole dataset: past this share of refused rows it is more likely
# the wrong file, or a systematic fault (a shifted column, a date format) than a few bad rows,
# and a version without 5 % of its rows would make every count and score after it wrong.
MAX_REJECTED_SHARE = 0.05
# Columns a vector format adds by itself (a GeoPackage's fid, GeoJSON feature ids).
FORMAT_COLUMNS = {"fid", "id", "ogc_fid"}


@dataclass(frozen=True)
class Limits:
    report_rows: int = 200


def check_owner(principal: Principal | None, spec: DatasetSpec, *, govern: bool = False) -> None:
    """A steward acts for their own department's datasets; the bureau (govern) may look at every
    department's where `govern` allows it; the admin may act for any."""
    if principal is None:
        raise Forbidden("Log in first")
    if "admin" in principal.roles:
        return
    if govern and principal.may(Permission.DATASETS_GOVERN):
        return
    if principal.department != spec.department_code:
        mine = principal.department or "none"
        raise Forbidden(f"Dataset {spec.id} ({spec.name}) belongs to department "
                        f"{spec.department_code}; you act for {mine}")


def dataset_for(engine: sa.Engine, dataset_id: str, principal: Principal | None, *,
                govern: bool = False) -> DatasetSpec:
    with engine.connect() as conn:
        spec = load_spec(conn, dataset_id)
    check_owner(principal, spec, govern=govern)
    return spec


def _refuse(path: str, reason: str, message: str, report: dict[str, Any]) -> Unprocessable:
    refused(path, reason)
    return Unprocessable(message, report=report)


def _columns(spec: DatasetSpec, table: FileTable, filename: str, path: str) -> ColumnMap:
    fields = spec.by_header()
    columns = [c for c in table.columns if not (table.geoms is not None and c.lower()
                                                 in FORMAT_COLUMNS and c not in fields)]
    cmap = map_columns(spec, columns, coordinates=table.geoms is None)
    if cmap.unknown or cmap.missing:
        parts = []
        if cmap.missing:
            parts.append(f"missing required column(s) {', '.join(cmap.missing)}")
        if cmap.unknown:
            parts.append(f"unknown column(s) {', '.join(cmap.unknown)}")
        known = ", ".join(f"{f.name}/{f.name_zh}" for f in spec.fields)
        raise _refuse(path, "columns", f"{filename}: {'; '.join(parts)}. The columns of "
                      f"{spec.id} are (name or Chinese name): {known}.",
                      {"missing_columns": cmap.missing, "unknown_columns": cmap.unknown,
                       "columns": table.columns, "first_rows": table.first_rows()})
    return cmap


def _report_rejections(rejected: Sequence[Rejection], limit: int) -> list[dict[str, Any]]:
    return [{"row": r.row, "key": r.key, "field": r.field, "value": r.value, "reason": r.reason}
            for r in rejected[:limit]]


def read_rows(spec: DatasetSpec, table: FileTable, filename: str, *, path: str,
              limits: Limits) -> tuple[list[Row], list[Rejection]]:
    cmap = _columns(spec, table, filename, path)
    geom_errors = dict(table.geom_errors)
    if table.geoms is None and cmap.geometry:
        table.geoms, errors = geometries_from(table.records, cmap.geometry)
        geom_errors.update(errors)
    elif table.geoms is None and cmap.lon and cmap.lat:
        table.geoms, errors = points_from(table.records, cmap.lon, cmap.lat)
        geom_errors.update(errors)
    rejected: list[Rejection] = []
    rows = list(to_rows(spec, iter_records(table), cmap, rejected, geom_errors))
    total = len(rows) + len({r.row for r in rejected})
    if total == 0:
        raise _refuse(path, "empty", f"{filename} has no data rows.", {"columns": table.columns})
    share = len({r.row for r in rejected}) / total
    if share > MAX_REJECTED_SHARE:
        first = sorted({r.field for r in rejected if r.field})
        raise _refuse(path, "rows", f"{filename}: {len({r.row for r in rejected})} of {total} "
                      f"rows ({share:.1%}) have bad values (fields: {', '.join(first)}), more "
                      f"than the {MAX_REJECTED_SHARE:.0%} a version may leave out; nothing was "
                      "stored. Fix the rows listed and upload again.",
                      {"rows": total, "rejected_rows": _report_rejections(
                          rejected, limits.report_rows), "rejected_more": max(
                          0, len(rejected) - limits.report_rows), "first_rows":
                          table.first_rows()})
    return rows, rejected


def upload_file(engine: sa.Engine, *, dataset_id: str, path: Path, filename: str, actor: str,
                principal: Principal | None = None, check: bool = True,
                limits: Limits | None = None) -> VersionOutcome:
    """A file into a new version of the dataset (`check`: the principal must own it). Refused
    files (encoding, columns, too many bad rows) raise Unprocessable with a report and store
    nothing; a version the gate refuses is stored as rejected and returned."""
    limits = limits or Limits()
    spec = dataset_for(engine, dataset_id, principal) if check else _spec(engine, dataset_id)
    try:
        table = read_table(path, filename)
    except InvalidInput as exc:
        reason = str(exc.detail.get("reason", "format"))
        raise _refuse("upload", reason, exc.message, {"file": filename}) from exc
    rows, rejected = read_rows(spec, table, filename, path="upload", limits=limits)
    with engine.begin() as conn:
        outcome = write_version(conn, dataset_id=spec.id, rows=rows, arrival="file",
                                actor=actor, source=filename, rejected=rejected,
                                gate=blocking_gate, report_rows=limits.report_rows)
    outcome.report.setdefault("notes", table.notes)
    if outcome.status != "accepted":
        refused("upload", "blocking")
    return outcome


def _spec(engine: sa.Engine, dataset_id: str) -> DatasetSpec:
    with engine.connect() as conn:
        return load_spec(conn, dataset_id)


def body_digest(body: bytes, mode: str) -> str:
    return hashlib.sha256(mode.encode() + b"\n" + body).hexdigest()


def _replay(engine: sa.Engine, dataset_id: str, key: str, digest: str) -> None:
    """409 when the key was used for a different body (the digest is kept in `source`)."""
    with engine.connect() as conn:
        source = conn.execute(sa.text(
            "SELECT source FROM dataset_versions WHERE dataset_id = :d AND idempotency_key = :k"),
            {"d": dataset_id, "k": key}).scalar()
    if source is not None and not source.endswith(f"sha256={digest}"):
        refused("push", "idempotency_conflict")
        raise Conflict(f"Idempotency-Key {key!r} was already used for a different body on "
                       f"{dataset_id}; use a new key for new data")


def _json_records(spec: DatasetSpec, payload: Any
                  ) -> tuple[list[dict[str, Any]], list[str], dict[int, str], list[str | None]]:
    if not isinstance(payload, dict) or not isinstance(payload.get("rows", []), list):
        raise InvalidInput('The body must be {"mode": "full"|"incremental", "rows": [{...}], '
                           '"deletes": [key, ...]}', reason="shape")
    rows = payload.get("rows") or []
    deletes = payload.get("deletes") or []
    if not isinstance(deletes, list) or not all(isinstance(k, str | int) for k in deletes):
        raise InvalidInput("deletes must be a list of keys (strings)", reason="shape")
    records: list[dict[str, Any]] = []
    geoms: list[Any] = []
    errors: dict[int, str] = {}
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise InvalidInput(f"rows[{i - 1}] must be an object of field: value",
                               reason="shape")
        record = dict(row)
        geometry = record.pop("geometry", None)
        g = None
        if geometry is not None:
            try:
                g = shapely.from_geojson(orjson.dumps(geometry))
            except Exception:  # shapely raises GEOSException and others for bad GeoJSON
                errors[i] = "geometry is not a GeoJSON geometry object"
        records.append(record)
        geoms.append(g)
    return records, [str(k) for k in deletes], errors, to_ewkb(geoms)


def push_rows(engine: sa.Engine, *, dataset_id: str, principal: Principal, body: bytes,
              content_type: str, mode: str, idempotency_key: str | None,
              limits: Limits | None = None) -> VersionOutcome:
    """A department system's push: JSON {mode, rows, deletes} or CSV (mode from the query).
    Any bad row refuses the whole push (422 with the row reasons): a machine client fixes and
    resends, and a retry under the same key then means the same thing."""
    limits = limits or Limits()
    spec = dataset_for(engine, dataset_id, principal)
    deletes: list[str] = []
    try:
        if content_type.startswith("text/csv"):
            table = read_csv(body, "body")
        else:
            payload = orjson.loads(body)
            mode = str(payload.get("mode", mode)) if isinstance(payload, dict) else mode
            records, deletes, errors, geoms = _json_records(spec, payload)
            columns = list(dict.fromkeys(k for r in records for k in r))
            table = FileTable("JSON", columns, records, geoms, errors)
    except orjson.JSONDecodeError as exc:
        refused("push", "json")
        raise InvalidInput(f"The body is not valid JSON: {exc}") from exc
    except InvalidInput as exc:
        refused("push", str(exc.detail.get("reason", "format")))
        raise
    if mode not in ("full", "incremental"):
        refused("push", "mode")
        raise InvalidInput("mode must be full or incremental")
    if table.geoms is not None and all(g is None for g in table.geoms) and not table.records:
        table.geoms = None
    cmap = _columns(spec, table, "body", "push") if table.records else None
    rejected: list[Rejection] = []
    rows: list[Row] = []
    if cmap is not None:
        if table.geoms is None and cmap.geometry:
            table.geoms, errs = geometries_from(table.records, cmap.geometry)
            table.geom_errors.update(errs)
        elif table.geoms is None and cmap.lon and cmap.lat:
            table.geoms, errs = points_from(table.records, cmap.lon, cmap.lat)
            table.geom_errors.update(errs)
        rows = list(to_rows(spec, iter_records(table), cmap, rejected, table.geom_errors))
    if rejected:
        raise _refuse("push", "rows", f"{len({r.row for r in rejected})} row(s) have bad values; "
                      "nothing was stored", {"rejected_rows": _report_rejections(
                          rejected, limits.report_rows)})
    if mode == "full" and not rows:
        raise _refuse("push", "empty", "A full version needs rows", {})
    digest = body_digest(body, mode)
    source = f"{principal.display_name} sha256={digest}"
    if idempotency_key is not None:
        _replay(engine, spec.id, idempotency_key, digest)
    with engine.begin() as conn:
        outcome = write_version(conn, dataset_id=spec.id, rows=rows, arrival="push",
                                actor=principal.username, source=source, mode=mode,
                                deletes=deletes, idempotency_key=idempotency_key,
                                gate=blocking_gate, report_rows=limits.report_rows)
    if outcome.status != "accepted" and not outcome.replayed:
        refused("push", "blocking")
    return outcome


def move_current(engine: sa.Engine, *, dataset_id: str, version_id: int,
                 principal: Principal, actor: str) -> VersionOutcome:
    dataset_for(engine, dataset_id, principal)
    with engine.begin() as conn:
        return set_current(conn, dataset_id=dataset_id, version_id=version_id, actor=actor)


VERSION_COLUMNS = ("id, seq, status, arrival, mode, source, created_at, created_by, rows_total, "
                   "rows_added, rows_changed, rows_removed, rows_rejected, report")


def version_read(engine: sa.Engine, version_id: int) -> dict[str, Any]:
    """VersionRead + report, as GET /api/datasets/{id}/versions/{version_id} shows it."""
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            f"SELECT v.{VERSION_COLUMNS.replace(', ', ', v.')}, "  # noqa: S608 (constant)
            "d.current_version_id = v.id AS current FROM dataset_versions v "
            "JOIN datasets d ON d.id = v.dataset_id WHERE v.id = :id"), {"id": version_id}).one()
    out = dict(row._mapping)
    out["created_at"] = out["created_at"].isoformat()
    out["current"] = bool(out["current"])
    return out


def outcome_read(engine: sa.Engine, outcome: VersionOutcome,
                 extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    out = version_read(engine, outcome.version_id)
    if extra:
        out["report"] = {**out["report"], **extra}
    return out
