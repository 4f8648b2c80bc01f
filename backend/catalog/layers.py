"""The layer catalog: one YAML file per layer in layers/, validated strictly.

Adding a layer is adding a file. Unknown keys are rejected; every problem names the
file, the key and what was expected, so `cityops layers check` and the server's start
give the same actionable message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from backend.catalog.strict import CatalogError, read_yaml
from backend.privacy.policy import Kind

IDENT = r"^[a-z][a-z0-9_]*$"
STYLE_TYPES = {"fill", "line", "circle", "symbol", "fill-extrusion", "heatmap"}
STYLE_KEYS = {"type", "paint", "layout", "filter", "minzoom", "maxzoom", "id"}
PUBLIC = "public"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Title(Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class FieldSpec(Strict):
    name: Annotated[str, Field(pattern=IDENT)]
    zh: str
    en: str
    # A personal field (phone, name, email, id_number, address): masked by the policy of
    # backend.privacy.policy in OGC items, never in (shared, cached) tiles, never filterable.
    kind: Kind | None = None
    # Names of coded values ({online: {zh: 在线, en: Online}}): what a popup shows instead of
    # the raw code; a value without an entry is shown as it is.
    values: dict[str, Title] | None = None


class LayerSource(Strict):
    table: Annotated[str, Field(pattern=IDENT)]
    key: Annotated[str, Field(pattern=IDENT)] = "id"
    geometry_column: Annotated[str, Field(pattern=IDENT)] = "geom"
    tile_geometry_column: Annotated[str, Field(pattern=IDENT)] = "geom_3857"


class Rank(Strict):
    """Which features a tile keeps first when the per-tile cap is reached, and (with
    `min_by_zoom`) which are left out of low-zoom tiles: {zoom: least rank shown from it}."""

    field: Annotated[str, Field(pattern=IDENT)]
    order: Literal["asc", "desc"] = "desc"
    min_by_zoom: dict[Annotated[int, Field(ge=0, le=24)], float] = {}


class Extrusion(Strict):
    height: Annotated[str, Field(pattern=IDENT)]
    base: Annotated[str, Field(pattern=IDENT)] | None = None


class LayerSpec(Strict):
    id: Annotated[str, Field(pattern=IDENT)]
    title: Title
    description: Title | None = None
    department: str
    domain: Literal[
        "boundaries", "base", "utilities", "transport", "public_safety", "governance", "traffic"
    ]
    source: LayerSource
    geometry: Literal["point", "line", "polygon"]
    minzoom: Annotated[int, Field(ge=0, le=24)] = 0
    maxzoom: Annotated[int, Field(ge=0, le=24)] = 22
    fields: list[FieldSpec] = []
    rank: Rank | None = None
    feature_cap: Annotated[int, Field(ge=1, le=200_000)] = 20_000
    style: list[dict[str, Any]] = Field(min_length=1)
    extrusion: Extrusion | None = None
    roles: list[str] = Field(min_length=1)
    order: int = 0
    visible: bool = True
    synthetic: bool = False
    attribution: str | None = None

    @field_validator("style")
    @classmethod
    def _style_fragments(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, frag in enumerate(value):
            unknown = set(frag) - STYLE_KEYS
            if unknown:
                raise ValueError(
                    f"style[{i}] has unknown keys {sorted(unknown)}; allowed: {sorted(STYLE_KEYS)}"
                )
            kind = frag.get("type")
            if kind not in STYLE_TYPES:
                allowed = sorted(STYLE_TYPES)
                raise ValueError(f"style[{i}].type must be one of {allowed}, got {kind!r}")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> LayerSpec:
        if self.minzoom > self.maxzoom:
            raise ValueError(f"minzoom {self.minzoom} is above maxzoom {self.maxzoom}")
        names = {f.name for f in self.fields}
        if self.rank and self.rank.field not in names | {self.source.key}:
            raise ValueError(f"rank.field {self.rank.field!r} must be one of the exposed fields")
        personal = set(self.personal_fields)
        for role, used in (("rank.field", self.rank.field if self.rank else None),
                           ("extrusion.height", self.extrusion.height if self.extrusion
                            else None)):
            if used in personal:
                raise ValueError(f"{role} {used!r} is a personal field: tiles never carry it")
        if self.extrusion and self.extrusion.height not in names:
            raise ValueError(f"extrusion.height {self.extrusion.height!r} must be an exposed field")
        if self.extrusion and self.geometry != "polygon":
            raise ValueError("extrusion needs a polygon layer")
        return self

    @property
    def is_public(self) -> bool:
        return PUBLIC in self.roles

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def personal_fields(self) -> dict[str, Kind]:
        """Fields that hold a person's data, by kind (for the masking policy)."""
        return {f.name: f.kind for f in self.fields if f.kind is not None}

    @property
    def tile_field_names(self) -> list[str]:
        """What tiles carry: tiles are cached for every caller, so no personal field."""
        return [f.name for f in self.fields if f.kind is None]


def load_layer_file(path: Path) -> LayerSpec:
    spec = read_yaml(path, LayerSpec, path.name)
    if spec.id != path.stem:
        raise CatalogError([f"{path.name}: id: must equal the file name {path.stem!r}"])
    return spec


class LayerCatalog:
    """All layers, in draw order."""

    def __init__(self, layers: list[LayerSpec]) -> None:
        self.layers = sorted(layers, key=lambda s: (s.order, s.id))
        self._by_id = {s.id: s for s in self.layers}

    def __contains__(self, layer_id: str) -> bool:
        return layer_id in self._by_id

    def __getitem__(self, layer_id: str) -> LayerSpec:
        return self._by_id[layer_id]

    def get(self, layer_id: str) -> LayerSpec | None:
        return self._by_id.get(layer_id)

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.layers]


def load_catalog(
    directory: Path, *, known_columns: dict[str, set[str]] | None = None
) -> LayerCatalog:
    """Load every *.yaml in `directory`. With `known_columns` (table -> columns), also check
    that each layer's table and fields exist."""
    problems: list[str] = []
    layers: list[LayerSpec] = []
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise CatalogError([f"{directory}: no layer files (*.yaml) found"])
    for path in files:
        try:
            spec = load_layer_file(path)
        except CatalogError as exc:
            problems.extend(exc.problems)
            continue
        if known_columns is not None:
            problems.extend(_check_columns(path, spec, known_columns))
        layers.append(spec)
    if problems:
        raise CatalogError(problems)
    return LayerCatalog(layers)


def _check_columns(path: Path, spec: LayerSpec, known: dict[str, set[str]]) -> list[str]:
    table = spec.source.table
    if table not in known:
        return [f"{path.name}: source.table: no table {table!r}; known: {', '.join(sorted(known))}"]
    cols = known[table]
    out = []
    for i, f in enumerate(spec.fields):
        if f.name not in cols:
            out.append(f"{path.name}: fields.{i}.name: {table} has no column {f.name!r}")
    for key in ("key", "geometry_column", "tile_geometry_column"):
        col = getattr(spec.source, key)
        if col not in cols:
            out.append(f"{path.name}: source.{key}: {table} has no column {col!r}")
    return out


def model_columns() -> dict[str, set[str]]:
    """Columns of the tables the application defines (to check the catalog without a database)."""
    from backend.db.models import Base

    return {name: {c.name for c in t.columns} for name, t in Base.metadata.tables.items()}
