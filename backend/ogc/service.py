"""Feature queries for OGC API - Features. Filters are bound parameters on the layer's
EPSG:4326 geometry (indexed); only the catalog's exposed fields are read or filtered, and
fields the layer's YAML marks personal (`kind`) go out by the masking policy."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from backend.auth.permissions import Principal
from backend.bounds import MAX_OFFSET
from backend.catalog.layers import LayerCatalog, LayerSpec
from backend.errors import InvalidInput, NotFound
from backend.ogc.relation import relation
from backend.privacy.looks import record_look
from backend.privacy.policy import View, present

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 100
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


@dataclass(frozen=True)
class Page:
    features: list[dict[str, Any]]
    number_matched: int


def collection(catalog: LayerCatalog, collection_id: str) -> LayerSpec:
    spec = catalog.get(collection_id)
    if spec is None or not spec.is_collection:
        ids = [s.id for s in feature_layers(catalog)]
        why = f" (layer {collection_id!r} is {spec.kind}: no features)" if spec else ""
        raise NotFound(
            f"No collection {collection_id!r}{why}. Collections: {', '.join(ids)}",
            collections=ids,
        )
    return spec


def feature_layers(catalog: LayerCatalog) -> list[LayerSpec]:
    """The layers that are feature collections (rows of a table or of a dataset)."""
    return [s for s in catalog.layers if s.is_collection]


def parse_bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    if raw is None:
        return None
    parts = raw.split(",")
    if len(parts) not in (4, 6):
        raise InvalidInput(
            f"bbox must be 4 numbers 'minLon,minLat,maxLon,maxLat' (or 6 with heights), got {raw!r}"
        )
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        raise InvalidInput(f"bbox must contain only numbers, got {raw!r}") from None
    if not all(math.isfinite(n) for n in nums):
        raise InvalidInput(f"bbox must contain finite numbers, got {raw!r}")
    if len(nums) == 6:
        nums = [nums[0], nums[1], nums[3], nums[4]]
    minx, miny, maxx, maxy = nums
    if not (
        -180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90
    ):
        raise InvalidInput(
            f"bbox {raw!r} is outside longitude -180..180 / latitude -90..90 (order: lon,lat)"
        )
    if minx > maxx or miny > maxy:
        raise InvalidInput(f"bbox {raw!r} has min above max: use minLon,minLat,maxLon,maxLat")
    return minx, miny, maxx, maxy


def _coerce(spec: LayerSpec, column: sa.ColumnElement, name: str, raw: str) -> Any:
    try:
        py = column.type.python_type
    except NotImplementedError:
        return raw
    try:
        if py is bool:
            if raw.lower() in ("true", "1"):
                return True
            if raw.lower() in ("false", "0"):
                return False
            raise ValueError(raw)
        if py in (int, float):
            return py(raw)
    except ValueError:
        raise InvalidInput(
            f"Filter {name}={raw!r} on {spec.id}: expected a {py.__name__} value"
        ) from None
    return raw


def _where(
    spec: LayerSpec, bbox: tuple[float, float, float, float] | None, filters: dict[str, str]
) -> list[sa.ColumnElement[bool]]:
    rel = relation(spec)
    geom = rel.geom
    clauses: list[sa.ColumnElement[bool]] = list(rel.rows)
    if bbox:
        envelope = sa.func.ST_MakeEnvelope(*bbox, 4326)
        clauses.append(sa.func.ST_Intersects(geom, envelope))
    exposed = set(spec.field_names)
    for name, value in filters.items():
        if name in spec.personal_fields:
            raise InvalidInput(f"{name!r} of {spec.id} is personal data and cannot be "
                               "filtered on: filter by another property or by bbox")
        if name not in exposed:
            raise InvalidInput(
                f"Unknown query parameter {name!r} for {spec.id}. Filterable properties: "
                f"{', '.join(spec.field_names)}; other parameters: bbox, limit, offset, f",
            )
        column = rel.columns[name]
        clauses.append(column == _coerce(spec, column, name, value))
    return clauses


def _feature(spec: LayerSpec, row: sa.Row, roles: frozenset[str], view: View
             ) -> tuple[dict[str, Any], list[str]]:
    """The feature with its personal fields under the masking policy, and those shown in
    full."""
    mapping = row._mapping
    properties = {f: mapping[f] for f in spec.field_names}
    shown = present(properties, spec.personal_fields, roles, view)
    return {
        "type": "Feature",
        "id": mapping["__id"],
        "geometry": orjson.loads(mapping["__geojson"]),
        "properties": properties,
    }, shown


def _roles(principal: Principal | None) -> frozenset[str]:
    return principal.roles if principal is not None else frozenset()


def _select(spec: LayerSpec) -> sa.Select:
    rel = relation(spec)
    return sa.select(
        rel.key.label("__id"),
        sa.func.ST_AsGeoJSON(rel.geom, 7).label("__geojson"),
        *[column.label(f) for f, column in rel.columns.items()],
    ).select_from(rel.source)


def items(
    engine: Engine,
    spec: LayerSpec,
    *,
    bbox: tuple[float, float, float, float] | None,
    filters: dict[str, str],
    limit: int,
    offset: int,
    principal: Principal | None = None,
) -> Page:
    """A page of features; personal fields masked for everyone (a page is a list)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    if offset < 0:
        raise InvalidInput(f"offset must be 0 or more, got {offset}")
    if offset > MAX_OFFSET:
        raise InvalidInput(f"offset must be at most {MAX_OFFSET}: narrow the query (bbox or a "
                           "property filter) to reach deeper features")
    rel = relation(spec)
    where = _where(spec, bbox, filters)
    query = _select(spec).where(*where).order_by(rel.key).limit(limit)
    count = sa.select(sa.func.count()).select_from(rel.source).where(*where)
    with engine.connect() as conn:
        rows = conn.execute(query.offset(offset)).all()
        matched = conn.execute(count).scalar_one()
    roles = _roles(principal)
    return Page([_feature(spec, r, roles, View.LIST)[0] for r in rows], int(matched))


def item(engine: Engine, spec: LayerSpec, feature_id: str,
         principal: Principal | None = None) -> dict[str, Any]:
    """One feature; its personal fields in full for personal:read (the look is audited)."""
    rel = relation(spec)
    try:
        key_value = _coerce(spec, rel.key, "id", feature_id)
    except InvalidInput:
        raise NotFound(f"No feature {feature_id!r} in {spec.id}") from None
    with engine.connect() as conn:
        row = conn.execute(_select(spec).where(rel.key == key_value, *rel.rows)).first()
    if row is None:
        raise NotFound(f"No feature {feature_id!r} in {spec.id}")
    feature, shown = _feature(spec, row, _roles(principal), View.RECORD)
    if shown and principal is not None:
        with engine.begin() as conn:
            record_look(conn, principal.username, f"layer:{spec.id}", [feature["id"]], shown)
    return feature


def extent(engine: Engine, spec: LayerSpec) -> list[float] | None:
    rel = relation(spec)
    box = sa.select(sa.func.ST_Extent(rel.geom).label("e")).select_from(rel.source).where(
        *rel.rows).scalar_subquery()
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(
                sa.func.ST_XMin(box),
                sa.func.ST_YMin(box),
                sa.func.ST_XMax(box),
                sa.func.ST_YMax(box),
            )
        ).first()
    if not row or row[0] is None:
        return None
    return [round(float(v), 7) for v in row]
