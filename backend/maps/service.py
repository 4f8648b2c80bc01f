"""Turns the layer catalog into tile-engine layers and API payloads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from backend.catalog.dataset_content import field_types
from backend.catalog.layers import LayerCatalog, LayerSpec
from backend.catalog.sources import VECTOR_KINDS
from backend.catalog.strict import CatalogError
from backend.db.models import Base
from backend.rasters.service import raster_source
from tiles.cache import DataVersions, TileCache
from tiles.connections import raw_connections
from tiles.errors import UnsupportedFormat
from tiles.postgis import PostGISRenderer, VectorLayer, VectorSource, merge_vector_sources
from tiles.service import TileService
from tiles.source import Source

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


# Data versions: every table's (bumped by a trigger) and every dataset's current version, so
# a new version (or a rollback) of a dataset layer's dataset changes its tiles' ETags. The id of
# the current version is the version: no trigger, no extra write, exact after a rollback.
VERSIONS_SQL = ("SELECT table_name, version FROM layer_versions UNION ALL"
                " SELECT 'dataset:' || id, current_version_id FROM datasets"
                " WHERE current_version_id IS NOT NULL")
TILEJSON_TYPES = {"integer": "Number", "number": "Number", "boolean": "Boolean"}


def dataset_vector_layer(spec: LayerSpec) -> VectorLayer:
    """A `dataset` layer: its fields typed by the dataset's declared types (content.yaml,
    the same declarations dataset_fields holds)."""
    src = spec.source
    types = field_types(src.dataset)
    fields = tuple(spec.tile_field_names)  # never a personal field in a shared tile
    rank = spec.rank
    return VectorLayer(
        id=spec.id, table="dataset_rows", dataset=src.dataset, reads=(src.version_key,),
        fields=fields, minzoom=spec.minzoom, maxzoom=spec.maxzoom, key="key",
        rank_field=rank.field if rank else None, rank_desc=rank.order == "desc" if rank else True,
        rank_min_by_zoom=tuple(sorted(rank.min_by_zoom.items())) if rank else (),
        feature_cap=spec.feature_cap, description=spec.title.en, attribution=spec.attribution,
        field_types={f: TILEJSON_TYPES.get(types[f], "String") for f in fields},
        json_types={f: types[f] for f in fields}
        | ({rank.field: types.get(rank.field, "string")} if rank else {}),
    )


def vector_layer(spec: LayerSpec) -> VectorLayer:
    if spec.kind == "dataset":
        return dataset_vector_layer(spec)
    src = spec.source
    table = src.relation  # a table, a view or a function
    function = getattr(src, "function", None)
    return VectorLayer(
        id=spec.id,
        table=table,
        function_args=tuple(src.args.items()) if function else None,
        reads=tuple(getattr(src, "reads", ())),
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


def build_tile_service(
    catalog: LayerCatalog,
    engine: Engine,
    *,
    cache_bytes: int,
    cache_enabled: bool,
    version_ttl: float,
) -> TileService:
    connect = raw_connections(engine)
    check_sql_sources(catalog, engine)
    renderer = PostGISRenderer(connect)
    sources: list[Source] = []
    for spec in catalog.layers:
        if spec.kind in VECTOR_KINDS:
            sources.append(VectorSource([vector_layer(spec)], renderer))
        elif spec.kind in ("cog", "dem"):
            sources.append(raster_source(
                engine, layer_id=spec.id, kind=spec.kind, minzoom=spec.minzoom,
                maxzoom=spec.maxzoom, formats=spec.formats,
                encodings=tuple(getattr(spec.source, "encodings", ())), ttl_s=version_ttl))
        elif spec.kind == "live":
            sources.append(LiveLayer(spec.id, spec.source.channel))
    return TileService(
        sources,
        DataVersions(connect, ttl=version_ttl, query=VERSIONS_SQL),
        TileCache(cache_bytes) if cache_enabled else None,
        merge=merge_vector_sources,
    )


@dataclass(frozen=True)
class LiveLayer:
    """A live layer in the tile service: it is known (rights, titles) but gives no tiles; the
    console draws it from its hub channel."""

    id: str
    channel: str
    minzoom: int = 0
    maxzoom: int = 24
    formats: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()
    version_keys: tuple[str, ...] = ()

    def tilejson(self, tile_url: str, bounds: list[float] | None) -> dict[str, Any]:
        raise UnsupportedFormat(f"Layer {self.id!r} is live (hub channel {self.channel}): it has"
                                " no tiles; subscribe to the channel on /ws", [])

    def get_tile(self, z: int, x: int, y: int, fmt: str, variant: str | None = None) -> None:
        return None


def check_sql_sources(catalog: LayerCatalog, engine: Engine) -> None:
    """SQL layers name a view or a function the migrations do not define: check that it exists
    (with the declared columns) when the server starts, with the same message style as the
    YAML checks."""
    problems: list[str] = []
    with engine.connect() as conn:
        for spec in catalog.layers:
            src = spec.source
            if spec.kind != "sql":
                continue
            label = f"{spec.domain}/{spec.id}.yaml"
            if src.view:
                cols = set(conn.execute(sa.text(
                    "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:v)"
                    " AND attnum > 0 AND NOT attisdropped"), {"v": src.view}).scalars())
                if not cols:
                    problems.append(f"{label}: source.view: no view {src.view!r} in the database")
                    continue
                if not conn.execute(sa.text("SELECT has_table_privilege(:v, 'SELECT')"),
                                    {"v": src.view}).scalar():
                    problems.append(f"{label}: source.view: the server's database role may not "
                                    f"read {src.view!r}: GRANT SELECT ON {src.view} to it")
                wanted = [*spec.field_names, src.key, src.tile_geometry_column]
                problems.extend(f"{label}: source.view: {src.view} has no column {c!r}"
                                for c in wanted if c not in cols)
            else:
                found = conn.execute(sa.text(
                    "SELECT count(*) FROM pg_proc WHERE proname = :f AND proretset"
                ), {"f": src.function}).scalar()
                if not found:
                    problems.append(f"{label}: source.function: no set-returning function "
                                    f"{src.function!r} in the database")
    if problems:
        raise CatalogError(problems)


def _tiles_url(spec: LayerSpec) -> str | None:
    formats = spec.formats
    return f"/tiles/{spec.id}/{{z}}/{{x}}/{{y}}.{formats[0]}" if formats else None


def layer_payload(spec: LayerSpec, available: bool = True) -> dict[str, Any]:
    """`available`: a raster layer has a registered file (else the console lists it as having
    no data yet and asks for no tiles)."""
    src = spec.source
    return {
        "id": spec.id,
        "title": spec.title.model_dump(),
        "description": spec.description.model_dump() if spec.description else None,
        "department": spec.department,
        "domain": spec.domain,
        "kind": spec.kind,
        "formats": list(spec.formats),
        "encoding": src.encodings[0] if spec.kind == "dem" else None,
        "channel": src.channel if spec.kind == "live" else None,
        "basemap": spec.basemap,
        "opacity": spec.opacity,
        "underground": spec.underground.model_dump() if spec.underground else None,
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
        "tiles": _tiles_url(spec),
        "tilejson": f"/tiles/{spec.id}.json" if spec.formats else None,
        "available": available,
        "provenance": spec.provenance,
        "licence": spec.licence,
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


def has_data(tiles: TileService, layer_id: str) -> bool:
    """A raster layer has a registered file: asked of its tile source's locator, which caches
    the registry row for the data-version TTL (no query per catalog request)."""
    locate = getattr(tiles.sources.get(layer_id), "locate", None)
    return locate is None or locate() is not None


def catalog_payload(catalog: LayerCatalog, engine: Engine, tiles: TileService) -> dict[str, Any]:
    bounds = county_bounds(engine)
    return {
        "layers": [layer_payload(spec, has_data(tiles, spec.id)) for spec in catalog.layers],
        "domains": [{"id": d.id, **d.title.model_dump(), "order": d.order, "icon": d.icon}
                    for d in catalog.domains],
        "bounds": bounds,
        "center": list(COUNTY_SEAT),
    }
