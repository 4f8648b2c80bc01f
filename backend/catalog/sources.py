"""Where a layer's data comes from: one discriminated union on `kind`.

- `table`: a PostGIS table (vector tiles, OGC features, file ingest).
- `sql`: a view, or a set-returning function called per tile with the tile's area, its zoom and
  the declared arguments (vector tiles only).
- `cog`: imagery registered by `cityops ingest FILE.tif --layer ID` (raster tiles).
- `dem`: elevation registered the same way (terrain-RGB / Terrarium tiles, hillshade).
- `live`: a hub channel's features (the console draws them from the websocket; no tiles).
- `dataset`: the rows of a catalog dataset's current version in the version store
  (`dataset_rows`, scenarios/sixian/catalog/content.yaml): vector tiles and OGC features, the
  fields typed by the dataset's declared types.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from backend.catalog.strict import Strict
from backend.realtime.messages import CHANNELS

IDENT = r"^[a-z][a-z0-9_]*$"
Ident = Annotated[str, Field(pattern=IDENT)]
IMAGE_FORMATS = ("webp", "png", "jpg")
DEM_FORMATS = ("png", "webp")
DEM_ENCODINGS = ("mapbox", "terrarium")
LiveChannel = Literal[tuple(sorted(CHANNELS))]  # type: ignore[valid-type]


class FeatureColumns(Strict):
    """The columns a feature source exposes under fixed roles."""

    key: Ident = "id"
    geometry_column: Ident = "geom"  # EPSG:4326, for features and bounds
    tile_geometry_column: Ident = "geom_3857"  # EPSG:3857, for tiles (indexed)


class TableSource(FeatureColumns):
    kind: Literal["table"]
    table: Ident

    @property
    def relation(self) -> str:
        return self.table


class SqlSource(FeatureColumns):
    """`view: name`, or `function: name` with `args`: the function is called per tile as
    name(area geometry(3857), z integer, <args in the order given>) and returns rows with the
    key, the tile geometry and the fields."""

    kind: Literal["sql"]
    view: Ident | None = None
    function: Ident | None = None
    args: dict[Ident, int | float | str | bool] = {}
    # Tables the view or function reads: a change to any of them invalidates cached tiles.
    reads: list[Ident] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_relation(self) -> SqlSource:
        if (self.view is None) == (self.function is None):
            raise ValueError("give exactly one of view or function")
        if self.view is not None and self.args:
            raise ValueError("args are for a function, a view takes none")
        return self

    @property
    def relation(self) -> str:
        return self.view or self.function or ""


class CogSource(Strict):
    kind: Literal["cog"]
    formats: list[Literal["webp", "png", "jpg"]] = Field(default=list(IMAGE_FORMATS),
                                                         min_length=1)


class DemSource(Strict):
    kind: Literal["dem"]
    formats: list[Literal["png", "webp"]] = Field(default=list(DEM_FORMATS), min_length=1)
    # The first is the default (what `?encoding=` falls back to).
    encodings: list[Literal["mapbox", "terrarium"]] = Field(default=list(DEM_ENCODINGS),
                                                            min_length=1)


class LiveSource(Strict):
    kind: Literal["live"]
    channel: LiveChannel


class DatasetSource(Strict):
    """A content dataset (content.yaml) whose current version's rows are the features; its
    cached tiles are keyed by the dataset's current version (`version_key`)."""

    kind: Literal["dataset"]
    dataset: Ident

    @property
    def key(self) -> str:
        return "key"  # dataset_rows.key: the row's key field as text

    @property
    def version_key(self) -> str:
        return f"dataset:{self.dataset}"


Source = Annotated[TableSource | SqlSource | CogSource | DemSource | LiveSource | DatasetSource,
                   Field(discriminator="kind")]
VECTOR_KINDS = frozenset({"table", "sql", "dataset"})
FEATURE_KINDS = frozenset({"table", "dataset"})  # OGC API feature collections
RASTER_KINDS = frozenset({"cog", "dem"})


def formats_of(source: Any) -> tuple[str, ...]:
    """The tile formats a source gives (none for live)."""
    if source.kind in VECTOR_KINDS:
        return ("mvt",)
    if source.kind in RASTER_KINDS:
        return tuple(source.formats)
    return ()
