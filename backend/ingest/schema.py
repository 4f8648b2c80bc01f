"""The target of a load: the layer's table, its writable and required columns, and how the
file's columns map onto them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from geoalchemy2 import Geometry

from backend.catalog.layers import LayerCatalog, LayerSpec
from backend.errors import InvalidInput, NotFound

RESERVED = frozenset({"id", "source", "source_key", "updated_at"})  # set by the loader
# Stable identifiers worth using as the source key when --key is not given. ArcGIS OBJECTID and
# Shapefile row numbers are renumbered on every export, so they are not on the list.
DBF_NAME_LIMIT = 10
KEY_CANDIDATES = ("source_key", "id", "fid", "code", "编号", "编码", "代码")


@dataclass(frozen=True)
class TargetTable:
    layer: LayerSpec
    table: sa.Table
    geom_column: str
    geometry_type: str  # POINT, LINESTRING, MULTIPOLYGON, ...
    writable: dict[str, sa.Column]  # in table order
    required: tuple[str, ...]  # NOT NULL without a server default

    @property
    def name(self) -> str:
        return self.table.name


@dataclass(frozen=True)
class ColumnMap:
    mapping: dict[str, str]  # file column -> table column, in table order
    ignored: list[str]


def target_table(catalog: LayerCatalog, layer_id: str) -> TargetTable:
    from backend.db.models import Base  # imports every table into the metadata

    spec = catalog.get(layer_id)
    if spec is None:
        raise NotFound(f"No layer {layer_id!r}; known layers: {', '.join(catalog.ids)}.",
                       layer=layer_id)
    if not spec.has_features:
        raise InvalidInput(f"Layer {layer_id!r} is a {spec.kind} layer, not a feature table: "
                           + ("load a GeoTIFF into it" if spec.kind in ("cog", "dem") else
                              "it cannot be loaded from a file"), layer=layer_id)
    table = Base.metadata.tables.get(spec.source.table)
    geom_name = spec.source.geometry_column
    if table is None or not {"source", "source_key", geom_name} <= set(table.c.keys()):
        raise InvalidInput(f"Layer {layer_id!r} (table {spec.source.table!r}) is not a feature "
                           "table with source/source_key and cannot be loaded from a file.")
    geom_type = table.c[geom_name].type
    if not isinstance(geom_type, Geometry) or not geom_type.geometry_type:
        raise InvalidInput(f"Layer {layer_id!r}: column {geom_name!r} is not a typed geometry.")
    skip = RESERVED | {geom_name}
    writable = {
        c.name: c for c in table.columns
        if c.name not in skip and c.computed is None and c.identity is None
        and not isinstance(c.type, Geometry)
    }
    required = tuple(n for n, c in writable.items()
                     if not c.nullable and c.server_default is None and c.default is None)
    return TargetTable(spec, table, geom_name, str(geom_type.geometry_type).upper(), writable,
                       required)


def map_columns(
    path: Path,
    columns: Iterable[str],
    target: TargetTable,
    *,
    explicit: Mapping[str, str] | None,
    not_data: set[str],
    truncated: bool = False,
) -> ColumnMap:
    """File columns to table columns: `explicit` first, then the same name (any case), then a
    layer field's Chinese or English title (a CSV saved with the catalog's headers), then, with
    `truncated` (Shapefile: names cut to 10 characters), the one column the name begins."""
    cols = list(columns)
    titles: dict[str, str] = {}
    for f in target.layer.fields:
        if f.name in target.writable:
            titles[f.zh.strip().lower()] = f.name
            titles[f.en.strip().lower()] = f.name
    by_name = {n.lower(): n for n in target.writable}
    mapping: dict[str, str] = {}
    for src, dst in (explicit or {}).items():
        if src not in cols:
            raise InvalidInput(f"Column mapping: {path.name} has no column {src!r}; "
                               f"its columns: {cols}.")
        if dst not in target.writable:
            raise InvalidInput(f"Column mapping: {target.name} has no writable column {dst!r}; "
                               f"writable: {list(target.writable)}.")
        mapping[src] = dst
    for col in cols:
        if col in mapping or col in not_data:
            continue
        norm = col.strip().lower()
        dst = by_name.get(norm) or titles.get(norm)
        if dst is None and truncated and len(norm) == DBF_NAME_LIMIT:
            starts = [n for low, n in by_name.items() if low.startswith(norm)]
            dst = starts[0] if len(starts) == 1 else None
        if dst is not None:
            mapping[col] = dst
    taken: dict[str, str] = {}
    for src, dst in mapping.items():
        if dst in taken:
            raise InvalidInput(f"{path.name}: columns {taken[dst]!r} and {src!r} both map to "
                               f"{target.name}.{dst}; keep one, or map them explicitly.")
        taken[dst] = src
    missing = [c for c in target.required if c not in taken]
    if missing:
        raise InvalidInput(
            f"{path.name} lacks the column(s) {missing} that {target.name} requires; its columns: "
            f"{cols}. Rename them, or map them with the column mapping option."
        )
    order = list(target.writable)
    ordered = dict(sorted(mapping.items(), key=lambda kv: order.index(kv[1])))
    ignored = [c for c in cols if c not in ordered and c not in not_data]
    return ColumnMap(ordered, ignored)


def pick_key(path: Path, columns: Iterable[str], target: TargetTable, key_field: str | None,
             mapping: Mapping[str, str]) -> str:
    """`key_field`, else the file column mapped onto one of the table's unique columns (a
    camera's code: the feature's business identity), else a conventional id column, else ask
    for --key."""
    cols = list(columns)
    lower = {c.lower(): c for c in reversed(cols)}
    if key_field is not None:
        found = key_field if key_field in cols else lower.get(key_field.lower())
        if found is None:
            raise InvalidInput(f"--key {key_field!r}: {path.name} has no such column; "
                               f"its columns: {cols}.")
        return found
    unique = {c.name for c in target.table.columns if c.unique and c.name in target.writable}
    mapped_unique = [src for src, dst in mapping.items() if dst in unique]
    for name in (KEY_CANDIDATES[0], *mapped_unique, *KEY_CANDIDATES[1:]):
        if name.lower() in lower:
            return lower[name.lower()]
    raise InvalidInput(
        f"{path.name} has no stable id column (looked for {', '.join(KEY_CANDIDATES)}); pass "
        f"--key COLUMN naming the column that identifies a feature across updates. "
        f"Its columns: {cols}."
    )
