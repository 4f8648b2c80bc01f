"""The layer catalog: one YAML file per layer in layers/<domain>/<id>.yaml, validated strictly.

A layer is one dataset record whatever its kind (a table, SQL, imagery, elevation, a live
channel; backend.catalog.sources). Adding a layer is adding a file. Unknown keys are rejected;
every problem names the file, the key and what was expected, so `cityops layers check` and the
server's start give the same actionable message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from backend.catalog.domains import DOMAINS_FILE, Domain, DomainTable, load_domains
from backend.catalog.sources import (
    FEATURE_KINDS,
    IDENT,
    RASTER_KINDS,
    VECTOR_KINDS,
    Source,
    formats_of,
)
from backend.catalog.strict import CatalogError, Strict, Title, read_yaml
from backend.privacy.policy import Kind

VECTOR_STYLES = {"fill", "line", "circle", "symbol", "fill-extrusion", "heatmap"}
STYLE_TYPES_BY_KIND = {"table": VECTOR_STYLES, "sql": VECTOR_STYLES, "live": VECTOR_STYLES,
                       "dataset": VECTOR_STYLES, "cog": {"raster"}, "dem": {"hillshade"}}
STYLE_TYPES = set().union(*STYLE_TYPES_BY_KIND.values())
UPDATE_CYCLES = Literal["realtime", "daily", "weekly", "monthly", "quarterly", "half_yearly",
                        "yearly", "irregular"]  # 实时/每日/每周/每月/每季度/每半年/每年/不定期
SHARE_TYPES = Literal["unconditional", "conditional", "none"]  # 无条件/有条件/不予共享
CYCLE_ZH = {"realtime": "实时", "daily": "每日", "weekly": "每周", "monthly": "每月",
            "quarterly": "每季度", "half_yearly": "每半年", "yearly": "每年", "irregular": "不定期"}
SHARE_ZH = {"unconditional": "无条件共享", "conditional": "有条件共享", "none": "不予共享"}
STYLE_KEYS = {"type", "paint", "layout", "filter", "minzoom", "maxzoom", "id"}
PUBLIC = "public"


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


class Rank(Strict):
    """Which features a tile keeps first when the per-tile cap is reached, and (with
    `min_by_zoom`) which are left out of low-zoom tiles: {zoom: least rank shown from it}."""

    field: Annotated[str, Field(pattern=IDENT)]
    order: Literal["asc", "desc"] = "desc"
    min_by_zoom: dict[Annotated[int, Field(ge=0, le=24)], float] = {}


class Extrusion(Strict):
    height: Annotated[str, Field(pattern=IDENT)]
    base: Annotated[str, Field(pattern=IDENT)] | None = None


class Underground(Strict):
    """How a line layer is drawn below ground in 3D: fields holding the cover depth (m) at the
    line's first and last vertex, and its width (diameter in mm)."""

    depth_start: Annotated[str, Field(pattern=IDENT)]
    depth_end: Annotated[str, Field(pattern=IDENT)]
    width: Annotated[str, Field(pattern=IDENT)]


class LayerSpec(Strict):
    id: Annotated[str, Field(pattern=IDENT)]
    title: Title
    description: Title | None = None
    department: str
    # The folder the file lies in (set by the loader; must be a row of layers/domains.yaml).
    domain: Annotated[str, Field(pattern=IDENT)]
    source: Source
    geometry: Literal["point", "line", "polygon"] | None = None  # vector and live kinds
    minzoom: Annotated[int, Field(ge=0, le=24)] = 0
    maxzoom: Annotated[int, Field(ge=0, le=24)] = 22
    fields: list[FieldSpec] = []
    rank: Rank | None = None
    feature_cap: Annotated[int, Field(ge=1, le=200_000)] = 20_000
    style: list[dict[str, Any]] = []
    extrusion: Extrusion | None = None
    underground: Underground | None = None
    # Imagery meant for the console's base switch (drawn under every vector layer).
    basemap: Literal["imagery"] | None = None
    opacity: Annotated[float, Field(ge=0, le=1)] | None = None  # raster layers' default
    roles: list[str] = Field(min_length=1)
    order: int = 0
    visible: bool = True
    synthetic: bool = False
    attribution: str | None = None
    # Catalog metadata (the data-catalog issue adds more): where the data comes from, under which
    # licence, how often it is updated, how it may be shared.
    provenance: str | None = None
    licence: str | None = None
    update_cycle: UPDATE_CYCLES | None = None
    share_type: SHARE_TYPES | None = None

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
        kind = self.source.kind
        allowed = STYLE_TYPES_BY_KIND[kind]
        for i, frag in enumerate(self.style):
            if frag["type"] not in allowed:
                raise ValueError(f"style[{i}].type {frag['type']!r} does not suit a {kind} layer;"
                                 f" use one of {sorted(allowed)}")
        if kind in RASTER_KINDS:
            self._check_raster()
            return self
        if self.geometry is None:
            raise ValueError(f"geometry (point, line or polygon) is required for a {kind} layer")
        if kind in VECTOR_KINDS and not self.style:
            raise ValueError("style needs at least one fragment")
        if kind == "live":
            given = [k for k in ("rank", "extrusion", "underground", "basemap", "opacity")
                     if getattr(self, k) is not None]
            if given or self.fields:
                raise ValueError(f"{', '.join(given) or 'fields'} do not apply to a live layer")
            return self
        for key in ("basemap", "opacity"):
            if getattr(self, key) is not None:
                raise ValueError(f"{key} applies to imagery and elevation layers only")
        names = {f.name for f in self.fields}
        if self.underground is not None:
            if self.geometry != "line":
                raise ValueError("underground needs a line layer")
            missing = [v for v in self.underground.model_dump().values() if v not in names]
            if missing:
                raise ValueError(f"underground names fields {missing} that are not exposed")
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

    def _check_raster(self) -> None:
        if self.geometry is not None:
            raise ValueError(f"geometry does not apply to a {self.source.kind} (raster) layer")
        given = [k for k in ("rank", "extrusion", "underground") if getattr(self, k) is not None]
        if given or self.fields:
            raise ValueError(f"{', '.join(given) or 'fields'} do not apply to a raster layer")
        if self.basemap is not None and self.source.kind != "cog":
            raise ValueError("basemap: imagery is for cog layers")

    @property
    def kind(self) -> str:
        return self.source.kind

    @property
    def has_features(self) -> bool:
        """Rows in a table (file ingest, labels, geofences)."""
        return self.source.kind == "table"

    @property
    def is_collection(self) -> bool:
        """An OGC API feature collection: a table's rows or a dataset's current rows."""
        return self.source.kind in FEATURE_KINDS

    @property
    def formats(self) -> tuple[str, ...]:
        return formats_of(self.source)

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


def load_layer_file(path: Path, domain: str) -> LayerSpec:
    label = f"{domain}/{path.name}"
    spec = read_yaml(path, LayerSpec, label, implied={"domain": domain})
    if spec.id != path.stem:
        raise CatalogError([f"{label}: id: must equal the file name {path.stem!r}"])
    return spec


class LayerCatalog:
    """All layers, in draw order, and the domains they are grouped by."""

    def __init__(self, layers: list[LayerSpec], domains: list[Domain] | None = None) -> None:
        self.layers = sorted(layers, key=lambda s: (s.order, s.id))
        self._by_id = {s.id: s for s in self.layers}
        self.domains = domains if domains is not None else []

    def __contains__(self, layer_id: str) -> bool:
        return layer_id in self._by_id

    def __getitem__(self, layer_id: str) -> LayerSpec:
        return self._by_id[layer_id]

    def get(self, layer_id: str) -> LayerSpec | None:
        return self._by_id.get(layer_id)

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.layers]

    def subset(self, layers: list[LayerSpec]) -> LayerCatalog:
        return LayerCatalog(layers, self.domains)


def load_catalog(
    directory: Path, *, known_columns: dict[str, set[str]] | None = None
) -> LayerCatalog:
    """Load layers/domains.yaml and every layers/<domain>/*.yaml. With `known_columns`
    (table -> columns), also check that each table layer's table and fields exist (SQL
    sources are checked against the database when the server starts)."""
    problems: list[str] = []
    layers: list[LayerSpec] = []
    try:
        table: DomainTable | None = load_domains(directory)
    except CatalogError as exc:
        problems.extend(exc.problems)
        table = None
    known_domains = set(table.ids) if table else set()
    stray = sorted(p.name for p in directory.glob("*.yaml") if p.name != DOMAINS_FILE)
    problems.extend(f"{name}: (file): layer files live in layers/<domain>/; move it into the "
                    "folder of its domain" for name in stray)
    files = sorted(directory.glob("*/*.yaml"))
    if not files:
        problems.append(f"{directory}: no layer files (<domain>/*.yaml) found")
    seen: dict[str, str] = {}
    for path in files:
        domain = path.parent.name
        label = f"{domain}/{path.name}"
        if table is not None and domain not in known_domains:
            problems.append(f"{label}: (folder): {domain!r} is not a domain of {DOMAINS_FILE};"
                            f" known: {', '.join(table.ids)}")
            continue
        try:
            spec = load_layer_file(path, domain)
        except CatalogError as exc:
            problems.extend(exc.problems)
            continue
        if spec.id in seen:
            problems.append(f"{label}: id: {spec.id!r} is also {seen[spec.id]}")
            continue
        seen[spec.id] = label
        if known_columns is not None:
            problems.extend(_check_columns(label, spec, known_columns))
        if spec.kind == "dataset":
            from backend.catalog.dataset_content import check_dataset_layer, content_by_id

            problems.extend(check_dataset_layer(label, spec, content_by_id()))
        layers.append(spec)
    if problems:
        raise CatalogError(problems)
    return LayerCatalog(layers, table.ordered() if table else [])


def _check_columns(label: str, spec: LayerSpec, known: dict[str, set[str]]) -> list[str]:
    if spec.source.kind != "table":
        return []
    table = spec.source.table
    if table not in known:
        return [f"{label}: source.table: no table {table!r}; known: {', '.join(sorted(known))}"]
    cols = known[table]
    out = []
    for i, f in enumerate(spec.fields):
        if f.name not in cols:
            out.append(f"{label}: fields.{i}.name: {table} has no column {f.name!r}")
    for key in ("key", "geometry_column", "tile_geometry_column"):
        col = getattr(spec.source, key)
        if col not in cols:
            out.append(f"{label}: source.{key}: {table} has no column {col!r}")
    return out


def model_columns() -> dict[str, set[str]]:
    """Columns of the tables the application defines (to check the catalog without a database)."""
    from backend.db.models import Base

    return {name: {c.name for c in t.columns} for name, t in Base.metadata.tables.items()}
