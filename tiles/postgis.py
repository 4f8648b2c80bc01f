"""Vector tiles (MVT) from PostGIS tables, views and set-returning functions with ST_AsMVT;
several layers merged into one tile (one VectorSource per request's list of layers).

Each layer filters on its stored EPSG:3857 geometry with `&&` against the tile envelope
widened by the buffer (so the GiST index is used and nothing is cut at tile edges), keeps
at most `feature_cap` features ranked by the layer's significance key (not by id), and
encodes them with ST_AsMVTGeom. Merged tiles are the concatenation of one ST_AsMVT per
layer, which is itself a valid MVT with one named layer per source. All values are bound
parameters; identifiers are quoted by psycopg2.sql.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg2 import sql

from tiles.connections import Connect
from tiles.errors import UnsupportedFormat

EXTENT = 4096
BUFFER = 64  # in tile units: 64/4096 of a tile on each side


@dataclass(frozen=True)
class VectorLayer:
    """What the engine needs to know about one layer: a table or view (`table`), or a
    set-returning function (`table` with `function_args`, called as
    table(area geometry(3857), z integer, *args) per tile)."""

    id: str
    table: str
    fields: tuple[str, ...]
    minzoom: int = 0
    maxzoom: int = 22
    key: str = "id"
    tile_geometry: str = "geom_3857"
    rank_field: str | None = None
    rank_desc: bool = True
    # ((zoom, least rank), ...): from each zoom on, features ranked below are left out
    rank_min_by_zoom: tuple[tuple[int, float], ...] = ()
    feature_cap: int = 20_000
    description: str = ""
    attribution: str | None = None
    field_types: dict[str, str] = field(default_factory=dict)
    function_args: tuple[tuple[str, Any], ...] | None = None
    # What a cached tile depends on (default: the table itself).
    reads: tuple[str, ...] = ()
    # A dataset of the version store: the features are its current version's rows of
    # `dataset_rows` (`table` is then unused), each field read from the row's JSON and cast by
    # its declared type (`json_types`: integer, number, boolean; anything else stays text).
    dataset: str | None = None
    json_types: dict[str, str] = field(default_factory=dict)

    @property
    def tables(self) -> tuple[str, ...]:
        return self.reads or (self.table,)

    def in_zoom(self, z: int) -> bool:
        return self.minzoom <= z <= self.maxzoom

    def rank_floor(self, z: int) -> float:
        """The least rank shown at zoom z (generalisation of dense layers at low zoom)."""
        floor = float("-inf")
        for zoom, least in sorted(self.rank_min_by_zoom):
            if z >= zoom:
                floor = least
        return floor

    def tilejson(self, tile_url: str, bounds: list[float] | None) -> dict[str, Any]:
        tj: dict[str, Any] = {
            "tilejson": "3.0.0",
            "name": self.id,
            "description": self.description,
            "scheme": "xyz",
            "tiles": [tile_url],
            "minzoom": self.minzoom,
            "maxzoom": self.maxzoom,
            "vector_layers": [self.vector_layer()],
        }
        if self.attribution:
            tj["attribution"] = self.attribution
        if bounds:
            tj["bounds"] = bounds
            tj["center"] = [
                round((bounds[0] + bounds[2]) / 2, 6),
                round((bounds[1] + bounds[3]) / 2, 6),
                max(self.minzoom, min(12, self.maxzoom)),
            ]
        return tj

    def vector_layer(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "description": self.description,
            "minzoom": self.minzoom,
            "maxzoom": self.maxzoom,
            "fields": {f: self.field_types.get(f, "String") for f in self.fields},
        }


JSON_CASTS = {"integer": ("number", "bigint"), "number": ("number", "double precision"),
              "boolean": ("boolean", "boolean")}


def json_value(field_name: str, json_type: str, alias: str = "r") -> sql.Composed:
    """A row's value of `field_name` from its `data` JSON, typed: a number or boolean cast
    only when the JSON holds one (a stray string gives NULL, never a failed tile)."""
    name = sql.Literal(field_name)
    cast = JSON_CASTS.get(json_type)
    if cast is None:
        return sql.SQL("{a}.data ->> {n}").format(a=sql.Identifier(alias), n=name)
    json_kind, pg_type = cast
    value = sql.SQL("({a}.data -> {n})::numeric::bigint" if pg_type == "bigint"
                    else "({a}.data -> {n})::" + pg_type).format(a=sql.Identifier(alias), n=name)
    return sql.SQL("CASE WHEN jsonb_typeof({a}.data -> {n}) = {k} THEN {v} END").format(
        a=sql.Identifier(alias), n=name, k=sql.Literal(json_kind), v=value)


# The rows of a dataset's current version (the pointer may have been rolled back, so not
# simply `last_seq IS NULL`), cut by the tile's area in EPSG:4326 (the GiST index on geom).
DATASET_ROWS = sql.SQL(
    " FROM env, datasets d JOIN dataset_versions v ON v.id = d.current_version_id,"
    " dataset_rows r"
    " WHERE d.id = {ds} AND r.dataset_id = {ds} AND r.geom && env.area_4326"
    " AND r.first_seq <= v.seq AND (r.last_seq IS NULL OR r.last_seq > v.seq)"
)


def dataset_layer_query(layer: VectorLayer, index: int) -> sql.Composed:
    """The ST_AsMVT sub-select of a dataset layer (features carry no id: keys are text)."""
    assert layer.dataset is not None
    values = {f: json_value(f, layer.json_types.get(f, "string")) for f in layer.fields}
    cols = sql.SQL("").join(sql.SQL(", {} AS {}").format(v, sql.Identifier(f))
                            for f, v in values.items())
    where = order = sql.SQL("")
    if layer.rank_field:
        rank = values.get(layer.rank_field) or json_value(
            layer.rank_field, layer.json_types.get(layer.rank_field, "string"))
        direction = sql.SQL("DESC NULLS LAST" if layer.rank_desc else "ASC NULLS LAST")
        order = sql.SQL(" ORDER BY {} {}, r.key").format(rank, direction)
        if layer.rank_min_by_zoom:
            where = sql.SQL(" AND {} >= {}").format(rank, sql.Placeholder(f"floor{index}"))
    return sql.SQL(
        "COALESCE((SELECT ST_AsMVT(q, {name}, {extent}, 'geom') FROM ("
        " SELECT ST_AsMVTGeom(ST_Transform(r.geom, 3857), env.tile, {extent}, {buffer}, true)"
        " AS geom{cols}{rows}{where}{order} LIMIT {cap}"
        ") q WHERE q.geom IS NOT NULL), ''::bytea)"
    ).format(
        name=sql.Literal(layer.id), extent=sql.Literal(EXTENT), buffer=sql.Literal(BUFFER),
        cols=cols, rows=DATASET_ROWS.format(ds=sql.Placeholder(f"ds{index}")), where=where,
        order=order,
        cap=sql.Placeholder(f"cap{index}"),
    )


def layer_query(layer: VectorLayer, index: int) -> sql.Composed:
    """One ST_AsMVT sub-select for `layer`; parameters are %(z)s %(x)s %(y)s and the cap."""
    if layer.dataset is not None:
        return dataset_layer_query(layer, index)
    t = sql.Identifier
    columns = sql.SQL(", ").join(sql.SQL("t.{}").format(t(f)) for f in layer.fields)
    order = sql.SQL("")
    if layer.rank_field:
        direction = sql.SQL("DESC NULLS LAST" if layer.rank_desc else "ASC NULLS LAST")
        order = sql.SQL("ORDER BY t.{} {}, t.{}").format(
            t(layer.rank_field), direction, t(layer.key)
        )
    select_cols = sql.SQL(", {}").format(columns) if layer.fields else sql.SQL("")
    where = sql.SQL("")
    relation: sql.Composable = t(layer.table)
    if layer.function_args is not None:
        args = [sql.Placeholder(f"a{index}_{j}") for j in range(len(layer.function_args))]
        relation = sql.SQL("{}({})").format(
            t(layer.table), sql.SQL(", ").join([sql.SQL("env.area"), sql.Placeholder("z"), *args])
        )
    if layer.rank_field and layer.rank_min_by_zoom:
        where = sql.SQL(" AND t.{} >= {}").format(
            t(layer.rank_field), sql.Placeholder(f"floor{index}")
        )
    return sql.SQL(
        "COALESCE((SELECT ST_AsMVT(q, {name}, {extent}, 'geom', 'fid') FROM ("
        " SELECT t.{key} AS fid,"
        " ST_AsMVTGeom(t.{geom}, env.tile, {extent}, {buffer}, true) AS geom{cols}"
        " FROM env, {table} t"
        " WHERE t.{geom} && env.area{where} {order} LIMIT {cap}"
        ") q WHERE q.geom IS NOT NULL), ''::bytea)"
    ).format(
        name=sql.Literal(layer.id),
        extent=sql.Literal(EXTENT),
        buffer=sql.Literal(BUFFER),
        key=t(layer.key),
        geom=t(layer.tile_geometry),
        cols=select_cols,
        table=relation,
        where=where,
        order=order,
        cap=sql.Placeholder(f"cap{index}"),
    )


def tile_query(layers: Sequence[VectorLayer]) -> sql.Composed:
    """The whole tile: one row, one bytea column (the concatenated layers)."""
    parts = sql.SQL(" || ").join(layer_query(layer, i) for i, layer in enumerate(layers))
    return sql.SQL(
        "WITH env AS (SELECT tile, area, {area_4326} AS area_4326 FROM ("
        "SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS tile,"
        " ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => {margin}) AS area) e)"
        " SELECT {parts}"
    ).format(margin=sql.Literal(BUFFER / EXTENT), parts=parts, area_4326=sql.SQL(
        "ST_Transform(area, 4326)" if any(la.dataset for la in layers) else "NULL::geometry"))


def tile_params(layers: Sequence[VectorLayer], z: int, x: int, y: int) -> dict[str, Any]:
    params: dict[str, Any] = {"z": z, "x": x, "y": y}
    for i, layer in enumerate(layers):
        params[f"cap{i}"] = layer.feature_cap
        if layer.dataset is not None:
            params[f"ds{i}"] = layer.dataset
        if layer.rank_min_by_zoom:
            params[f"floor{i}"] = max(layer.rank_floor(z), -1e300)  # PostgreSQL has no -inf int
        for j, (_, value) in enumerate(layer.function_args or ()):
            params[f"a{i}_{j}"] = value
    return params


class PostGISRenderer:
    """Renders raw (uncompressed) MVT bytes for a list of layers."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._sql_cache: dict[tuple[str, ...], str] = {}

    def _sql(self, layers: Sequence[VectorLayer], conn: Any) -> str:
        key = tuple(layer.id for layer in layers)
        text = self._sql_cache.get(key)
        if text is None:
            text = tile_query(layers).as_string(conn)
            self._sql_cache[key] = text
        return text

    def render(self, layers: Sequence[VectorLayer], z: int, x: int, y: int) -> bytes:
        with self._connect() as conn:
            with conn.cursor() as cur:
                cur.execute(self._sql(layers, conn), tile_params(layers, z, x, y))
                row = cur.fetchone()
            conn.rollback()  # read-only: end the implicit transaction before the pool reuses it
        return bytes(row[0]) if row and row[0] is not None else b""

    def bounds(self, layer: VectorLayer, geometry_column: str = "geom") -> list[float] | None:
        """Extent in EPSG:4326 of a layer's data (None when empty)."""
        extent = sql.SQL("SELECT ST_Extent({g}) AS e FROM {t}").format(
            g=sql.Identifier(geometry_column), t=sql.Identifier(layer.table))
        if layer.dataset is not None:  # the current version's rows (env: no tile, any area)
            extent = sql.SQL("WITH env AS (SELECT ST_MakeEnvelope(-180, -90, 180, 90, 4326)"
                             " AS area_4326) SELECT ST_Extent(r.geom) AS e{}").format(
                DATASET_ROWS.format(ds=sql.Placeholder("ds0")))
        query = sql.SQL("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ({}) s"
                        ).format(extent)
        with self._connect() as conn:
            with conn.cursor() as cur:
                cur.execute(query, {"ds0": layer.dataset})
                row = cur.fetchone()
            conn.rollback()
        if not row or row[0] is None:
            return None
        return [round(float(v), 6) for v in row]


class VectorSource:
    """The Source (tiles.source) of one request's vector layers, merged into one MVT."""

    formats = ("mvt",)
    variants: tuple[str, ...] = ()

    def __init__(self, layers: Sequence[VectorLayer], renderer: PostGISRenderer) -> None:
        self.layers = tuple(layers)
        self.renderer = renderer
        self.id = ",".join(layer.id for layer in self.layers)
        self.minzoom = min(layer.minzoom for layer in self.layers)
        self.maxzoom = max(layer.maxzoom for layer in self.layers)
        self.version_keys = tuple(dict.fromkeys(t for la in self.layers for t in la.tables))

    def get_tile(
        self, z: int, x: int, y: int, fmt: str = "mvt", variant: str | None = None
    ) -> bytes | None:
        active = [layer for layer in self.layers if layer.in_zoom(z)]
        if not active:
            return None
        return self.renderer.render(active, z, x, y) or None

    def tilejson(self, tile_url: str, bounds: list[float] | None) -> dict[str, Any]:
        first = self.layers[0]
        tj = first.tilejson(tile_url, bounds)
        if len(self.layers) == 1:
            return tj
        tj["name"] = self.id
        tj["minzoom"], tj["maxzoom"] = self.minzoom, self.maxzoom
        tj["vector_layers"] = [la.vector_layer() for la in self.layers]
        tj["description"] = "; ".join(la.description for la in self.layers)
        tj.pop("attribution", None)
        attributions = [la.attribution for la in self.layers if la.attribution]
        if attributions:
            tj["attribution"] = "; ".join(attributions)
        return tj


def merge_vector_sources(sources: Sequence[Any]) -> VectorSource:
    """One MVT for several vector layers (TileService's merge). Imagery and terrain tiles do
    not merge: each is asked for alone."""
    others = [s.id for s in sources if not isinstance(s, VectorSource)]
    if others:
        raise UnsupportedFormat(
            f"Only vector layers merge into one tile; ask for {', '.join(others)} alone", ["mvt"])
    return VectorSource([la for s in sources for la in s.layers], sources[0].renderer)
