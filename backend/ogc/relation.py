"""What an OGC collection's features are read from, whatever the layer's kind: a table's rows,
or the rows of a dataset's current version in the version store (each field read from the
row's JSON and typed by the dataset's declared type, so filters compare numbers as numbers)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from backend.catalog.dataset_content import field_types
from backend.catalog.layers import LayerSpec
from backend.datasets.models import dataset_rows, dataset_versions, datasets
from backend.db.models import Base

SQL_TYPES: dict[str, sa.types.TypeEngine] = {"integer": sa.BigInteger(), "number": sa.Float(),
                                             "boolean": sa.Boolean()}
JSON_KINDS = {"integer": "number", "number": "number", "boolean": "boolean"}


@dataclass(frozen=True)
class Relation:
    source: sa.FromClause
    key: sa.ColumnElement
    geom: sa.ColumnElement
    columns: dict[str, sa.ColumnElement]  # exposed field -> typed value
    rows: tuple[sa.ColumnElement[bool], ...] = ()  # which rows of `source` are the features


def json_value(data: sa.ColumnElement, name: str, data_type: str) -> sa.ColumnElement:
    """A field of a row's JSON, typed; a value of the wrong JSON kind is NULL."""
    text = data[name].astext
    sql_type = SQL_TYPES.get(data_type)
    if sql_type is None:
        return text
    value = sa.cast(sa.cast(text, sa.Numeric), sql_type) if data_type == "integer" \
        else sa.cast(text, sql_type)
    return sa.case((sa.func.jsonb_typeof(data[name]) == JSON_KINDS[data_type], value))


def relation(spec: LayerSpec) -> Relation:
    src = spec.source
    if spec.kind == "dataset":
        types = field_types(src.dataset)
        r = dataset_rows.c
        joined = dataset_rows.join(datasets, datasets.c.id == r.dataset_id).join(
            dataset_versions, dataset_versions.c.id == datasets.c.current_version_id)
        seq = dataset_versions.c.seq
        return Relation(
            joined, r.key, r.geom,
            {f: json_value(r.data, f, types[f]) for f in spec.field_names},
            (r.dataset_id == src.dataset, r.first_seq <= seq,
             sa.or_(r.last_seq.is_(None), r.last_seq > seq)))
    table = Base.metadata.tables[src.table]
    return Relation(table, table.c[src.key], table.c[src.geometry_column],
                    {f: table.c[f] for f in spec.field_names})
