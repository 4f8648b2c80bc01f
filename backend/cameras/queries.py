"""Reading the camera registry in its published shape (CameraRead): a bounded, filtered page
and one camera with its presets. Whether a camera can play is the media module's answer,
passed in, so that a page costs one look at the stream directory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from backend.cameras.media import Streams
from backend.cameras.schemas import CameraPage, CameraRead, PresetRead
from backend.errors import NotFound

COLUMNS = """c.id, c.code, c.name, c.kind, c.status, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat,
  c.direction_deg AS heading_deg, c.fov_deg, c.range_m, c.height_m, c.tilt_deg, c.ptz_type,
  c.use_type, c.address, c.township_code, c.manufacturer, c.model, c.owner, c.civil_code,
  c.parent_code, c.status_changed_at, c.last_seen_at"""


@dataclass(frozen=True, slots=True)
class CameraFilter:
    bbox: tuple[float, float, float, float] | None = None
    statuses: Sequence[str] = ()
    kinds: Sequence[str] = ()


def _where(f: CameraFilter) -> tuple[str, dict[str, Any]]:
    clauses, params = [], {}
    if f.bbox is not None:
        # geom && envelope: the GiST index on cameras.geom answers it
        clauses.append("c.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)")
        params.update(zip("wsen", f.bbox, strict=True))
    if f.statuses:
        clauses.append("c.status = ANY(:statuses)")
        params["statuses"] = list(f.statuses)
    if f.kinds:
        clauses.append("c.kind = ANY(:kinds)")
        params["kinds"] = list(f.kinds)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _read(row: sa.RowMapping, streams: dict[str, bool],
          presets: list[PresetRead] | None = None) -> CameraRead:
    data = {k: v for k, v in row.items() if k != "id"}
    return CameraRead.model_validate({**data, "has_stream": streams.get(row["code"], False),
                                      "presets": presets or []})


def page(conn: sa.Connection, f: CameraFilter, streams: Streams, *, limit: int,
         offset: int) -> CameraPage:
    """By code, `limit` at most."""
    where, params = _where(f)
    total = conn.execute(sa.text(f"SELECT count(*) FROM cameras c{where}"),  # noqa: S608
                         params).scalar_one()
    rows = conn.execute(sa.text(
        f"SELECT {COLUMNS} FROM cameras c{where} ORDER BY c.code "  # noqa: S608
        "LIMIT :limit OFFSET :offset"), {**params, "limit": limit, "offset": offset}
    ).mappings().all()
    have = streams([r["code"] for r in rows])
    return CameraPage(cameras=[_read(r, have) for r in rows], total=total, limit=limit,
                      offset=offset)


def one(conn: sa.Connection, code: str, streams: Streams) -> CameraRead:
    """One camera with its presets; NotFound naming the id."""
    row = conn.execute(sa.text(f"SELECT {COLUMNS} FROM cameras c WHERE c.code = :code"),  # noqa: S608
                       {"code": code}).mappings().first()
    if row is None:
        raise NotFound(f"No camera {code} in the registry")
    presets = [PresetRead.model_validate(dict(p)) for p in conn.execute(sa.text(
        "SELECT preset_no, name, heading_deg, fov_deg, range_m, tilt_deg FROM camera_presets "
        "WHERE camera_id = :id ORDER BY preset_no"), {"id": row["id"]}).mappings()]
    return _read(row, streams([code]), presets)


def parent_of(conn: sa.Connection, code: str) -> str | None:
    """The id of the device the camera registers through (an NVR's; None: itself);
    NotFound when the registry does not hold the camera."""
    row = conn.execute(sa.text("SELECT parent_code FROM cameras WHERE code = :code"),
                       {"code": code}).first()
    if row is None:
        raise NotFound(f"No camera {code} in the registry")
    return row[0]
