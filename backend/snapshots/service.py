"""Situation snapshots: take one (gather the view with the caller's rights, render the offline
HTML file, keep it under var/snapshots, register and audit it in one transaction), list them,
find one's file. No FastAPI here: the router and `cityops snapshot` both call `take`."""

from __future__ import annotations

import hashlib
import math
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from backend.audit.chain import append as audit
from backend.auth.permissions import Principal, visible_layers
from backend.catalog.layers import LayerCatalog
from backend.catalog.strict import Title
from backend.domains import service as domains
from backend.domains.area import Area, parse_bbox, parse_code, parse_polygon
from backend.domains.views import ViewCatalog
from backend.errors import NotFound, Unprocessable
from backend.snapshots import gather
from backend.snapshots.models import snapshots
from backend.snapshots.render import render
from backend.snapshots.schemas import AreaIn, SnapshotIn

if TYPE_CHECKING:
    from backend.settings import Settings

TZ = ZoneInfo("Asia/Shanghai")
OVERVIEW_TITLE = Title(zh="全县态势总览", en="County overview")
# How far past the county's extent a snapshot's extent may reach (the wall shows some margin
# around the county, a spliced wall more), in county widths / heights.
BBOX_SLACK = 3.0
LIST_LIMIT = 200


@dataclass(frozen=True)
class Options:
    """The settings a snapshot reads."""

    directory: Path
    max_features: int
    timeout_ms: int
    offline_after_s: float

    @classmethod
    def of(cls, settings: Settings) -> Options:
        return cls(settings.var_dir / "snapshots", settings.snapshot_max_features,
                   settings.domain_query_timeout_ms, settings.vehicle_offline_after_s)


def check_bbox(bbox: list[float], county: list[float]) -> gather.BBox:
    """The map's extent: ordered, finite, overlapping the county, not much larger than it.
    Returns the part the data is read from (the extent cut to the county's, plus margin)."""
    w, s, e, n = bbox
    if not all(math.isfinite(v) for v in bbox) or not (w < e and s < n):
        raise Unprocessable("bbox: west must be less than east and south less than north")
    cw, cs, ce, cn = county
    width, height = ce - cw, cn - cs
    if e - w > width * (1 + 2 * BBOX_SLACK) or n - s > height * (1 + 2 * BBOX_SLACK):
        raise Unprocessable(f"bbox: the extent {e - w:.3f}° x {n - s:.3f}° is far larger than "
                            f"the county ({width:.3f}° x {height:.3f}°): zoom in")
    if e < cw or w > ce or n < cs or s > cn:
        raise Unprocessable(f"bbox: the extent does not overlap the county "
                            f"({cw:.4f},{cs:.4f},{ce:.4f},{cn:.4f})")
    margin_x, margin_y = width * 0.1, height * 0.1
    return (max(w, cw - margin_x), max(s, cs - margin_y), min(e, ce + margin_x),
            min(n, cn + margin_y))


def _area(given: AreaIn | None) -> Area | None:
    """The area the figures are cut by, parsed by the domain views' own rules."""
    if given is None:
        return None
    forms = {k: v for k, v in given.model_dump().items() if v is not None}
    if len(forms) != 1:
        raise Unprocessable("area: give exactly one of bbox, township, grid or polygon")
    kind, value = next(iter(forms.items()))
    if kind == "bbox":
        return parse_bbox(",".join(str(v) for v in value))
    if kind == "polygon":
        return parse_polygon(value)
    return parse_code(kind, value)


def _domain(situation: gather.Situation, engine: Engine, views: ViewCatalog, view_id: str,
            area_in: AreaIn | None, seen: set[str], timeout_ms: int) -> list[str]:
    """A domain view's title, card and chart specs and its figures for the area; its layers."""
    view = domains.view_or_404(views, view_id)
    area = _area(area_in)
    domains.check_area(engine, area)
    described = view.describe(seen)
    situation.title = view.title
    situation.kpis, situation.charts = described["kpis"], described["charts"]
    situation.figures = domains.compute_figures(engine, view, area, timeout_ms=timeout_ms)
    situation.area = situation.figures.get("area")
    situation.synthetic = bool(described.get("synthetic", True))
    return list(described["layers"])


def take(engine: Engine, *, options: Options, catalog: LayerCatalog, views: ViewCatalog | None,
         principal: Principal, request: SnapshotIn, county: list[float]) -> dict[str, Any]:
    """Make, keep, register and audit one snapshot; its record (as listed). `views`: the
    domain views, None where they are not loaded."""
    box = check_bbox(request.bbox, county)
    if request.view != gather.OVERVIEW and views is None:
        raise NotFound(f"no view {request.view!r}: the domain views are not loaded in this "
                       "process, only the overview can be saved")
    now = datetime.now(TZ)
    county_fc, towns = gather.basemap(engine)
    situation = gather.Situation(
        view=request.view, title=OVERVIEW_TITLE, lang=request.lang,
        bbox=(request.bbox[0], request.bbox[1], request.bbox[2], request.bbox[3]),
        zoom=request.zoom, created_at=now, user=principal.display_name or principal.username,
        synthetic=True, county=county_fc, townships=towns)
    layer_ids = None
    if request.view != gather.OVERVIEW:
        seen = {s.id for s in visible_layers(principal, catalog)}
        layer_ids = _domain(situation, engine, views, request.view, request.area, seen,
                            options.timeout_ms)
    specs = gather.visible_layers(catalog, principal, layer_ids, request.zoom)
    situation.layers = gather.layer_parts(engine, specs, principal, box,
                                          options.max_features, situation.notes)
    gather.live_parts(engine, situation, principal, box, options.offline_after_s)
    if request.view == gather.OVERVIEW:
        situation.kpis, situation.figures = gather.overview_cards(situation)
    return _keep(engine, options.directory, situation, principal, request)


def _keep(engine: Engine, directory: Path, situation: gather.Situation, principal: Principal,
          request: SnapshotIn) -> dict[str, Any]:
    text = render(situation).encode("utf-8")
    digest = hashlib.sha256(text).hexdigest()
    stamp = situation.created_at.strftime("%Y%m%d-%H%M%S")
    name = f"snapshot-{request.view}-{stamp}-{secrets.token_hex(4)}.html"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    partial = path.with_suffix(".part")
    partial.write_bytes(text)
    os.replace(partial, path)  # a reader never sees half a file
    title = situation.title.zh if request.lang == "zh" else situation.title.en
    area = request.area.model_dump(exclude_none=True) if request.area else None
    try:
        with engine.begin() as conn:
            row = conn.execute(snapshots.insert().values(
                view=request.view, title=f"{title} {stamp}", file_name=name, bytes=len(text),
                sha256=digest, area={"bbox": request.bbox, "zoom": request.zoom, "cut": area},
                created_by=principal.username).returning(*snapshots.c)).one()
            audit(conn, principal.username, "snapshot.create", "snapshot", row.id, {
                "view": request.view, "bbox": request.bbox, "zoom": request.zoom,
                "area": area, "file": name, "sha256": digest, "bytes": len(text),
                "features": situation.feature_count})
    except Exception:
        path.unlink(missing_ok=True)  # no file without its register row
        raise
    return record(row._mapping)


def record(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "view": row["view"], "title": row["title"],
            "file_name": row["file_name"], "bytes": row["bytes"], "sha256": row["sha256"],
            "created_at": row["created_at"], "created_by": row["created_by"],
            "url": f"/api/snapshots/{row['id']}/file"}


def list_snapshots(engine: Engine, *, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(snapshots).order_by(snapshots.c.created_at.desc(),
                                                          snapshots.c.id.desc()).limit(limit))
        return [record(r._mapping) for r in rows]


def snapshot_file(engine: Engine, directory: Path, snapshot_id: int) -> tuple[dict[str, Any],
                                                                             Path]:
    """A snapshot's record and its file (404 when either is gone)."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(snapshots).where(snapshots.c.id == snapshot_id)).first()
    if row is None:
        raise NotFound(f"no snapshot {snapshot_id}")
    path = directory / row.file_name
    if path.parent != directory or not path.is_file():
        raise NotFound(f"the file of snapshot {snapshot_id} ({row.file_name}) is no longer "
                       "kept on this server")
    return record(row._mapping), path
