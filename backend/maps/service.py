"""Turns the layer catalog into tile-engine layers and API payloads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from backend.catalog.layers import LayerCatalog, LayerSpec
from backend.db.models import Base
from tiles.cache import DataVersions, TileCache
from tiles.postgis import PostGISRenderer, VectorLayer
from tiles.service import TileService

DOMAINS: dict[str, dict[str, str]] = {
    "boundaries": {"zh": "行政区划", "en": "Boundaries"},
    "base": {"zh": "基础地理", "en": "Base map"},
    "utilities": {"zh": "地下管线", "en": "Utilities"},
    "transport": {"zh": "交通出行", "en": "Transport"},
    "public_safety": {"zh": "公共安全", "en": "Public safety"},
    "governance": {"zh": "网格治理", "en": "Grid governance"},
    "traffic": {"zh": "智慧交通", "en": "Smart traffic"},
}
# Where the map opens before any data is loaded: the county seat (WGS84, zh.wikipedia).
COUNTY_SEAT = (117.88003, 33.47922)
COUNTY_BOUNDS = [117.6286, 33.2767, 118.1804, 33.769]


def _field_type(table: str, column: str) -> str:
    col = Base.metadata.tables[table].c.get(column) if table in Base.metadata.tables else None
    if col is None:
        return "String"
    try:
        py = col.type.python_type
    except NotImplementedError:
        return "String"
    if py is bool:
        return "Boolean"
    if py in (int, float):
        return "Number"
    return "String"


def vector_layer(spec: LayerSpec) -> VectorLayer:
    table = spec.source.table
    return VectorLayer(
        id=spec.id,
        table=table,
        fields=tuple(spec.tile_field_names),  # never a personal field in a shared tile
        minzoom=spec.minzoom,
        maxzoom=spec.maxzoom,
        key=spec.source.key,
        tile_geometry=spec.source.tile_geometry_column,
        rank_field=spec.rank.field if spec.rank else None,
        rank_desc=spec.rank.order == "desc" if spec.rank else True,
        rank_min_by_zoom=tuple(sorted(spec.rank.min_by_zoom.items())) if spec.rank else (),
        feature_cap=spec.feature_cap,
        description=spec.title.en,
        attribution=spec.attribution,
        field_types={f: _field_type(table, f) for f in spec.tile_field_names},
    )


def raw_connections(engine: Engine):  # noqa: ANN201 - a context-manager factory
    """DB-API connections from the SQLAlchemy pool, for the framework-free tile engine."""

    @contextmanager
    def connect() -> Iterator[Any]:
        fairy = engine.raw_connection()
        try:
            yield fairy.driver_connection  # the psycopg2 connection itself
        finally:
            fairy.close()  # back to the pool

    return connect


def build_tile_service(
    catalog: LayerCatalog,
    engine: Engine,
    *,
    cache_bytes: int,
    cache_enabled: bool,
    version_ttl: float,
) -> TileService:
    connect = raw_connections(engine)
    return TileService(
        [vector_layer(spec) for spec in catalog.layers],
        PostGISRenderer(connect),
        DataVersions(connect, ttl=version_ttl),
        TileCache(cache_bytes) if cache_enabled else None,
    )


def layer_payload(spec: LayerSpec) -> dict[str, Any]:
    return {
        "id": spec.id,
        "title": spec.title.model_dump(),
        "description": spec.description.model_dump() if spec.description else None,
        "department": spec.department,
        "domain": spec.domain,
        "geometry": spec.geometry,
        "minzoom": spec.minzoom,
        "maxzoom": spec.maxzoom,
        "fields": [f.model_dump() for f in spec.fields],
        "style": spec.style,
        "extrusion": spec.extrusion.model_dump() if spec.extrusion else None,
        "visible": spec.visible,
        "synthetic": spec.synthetic,
        "attribution": spec.attribution,
        "order": spec.order,
        "public": spec.is_public,
        "tiles": f"/tiles/{spec.id}/{{z}}/{{x}}/{{y}}.mvt",
        "tilejson": f"/tiles/{spec.id}.json",
    }


def county_bounds(engine: Engine) -> list[float]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                "FROM (SELECT ST_Extent(geom) AS e FROM county) s"
            )
        ).first()
    if not row or row[0] is None:
        return COUNTY_BOUNDS
    return [round(float(v), 6) for v in row]


def catalog_payload(catalog: LayerCatalog, engine: Engine) -> dict[str, Any]:
    bounds = county_bounds(engine)
    return {
        "layers": [layer_payload(spec) for spec in catalog.layers],
        "domains": DOMAINS,
        "bounds": bounds,
        "center": list(COUNTY_SEAT),
    }
