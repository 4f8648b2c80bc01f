"""The catalog into the database: departments, dataset records and their fields, upserted
idempotently at every start (`backend.datasets.wiring`) and by `cityops datasets sync`.

One statement per table, fed the whole catalog as one JSON document: a record whose values are
unchanged is not written (`IS DISTINCT FROM`), so a start with nothing changed writes nothing
and takes a few tens of milliseconds. The version pointer, latest_seq and last_updated_at
belong to the version store and are never touched here. Records no longer in the catalog are
kept (their versions, grants and requests refer to them) and counted as `orphans`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import orjson
import sqlalchemy as sa

from backend.audit.chain import append
from backend.catalog.data_catalog import DataCatalog, load_data_catalog
from backend.catalog.layers import LayerCatalog
from backend.datasets.metadata import DatasetRecord, build_records
from backend.settings import Settings

COLUMNS = ("id", "resource_code", "annex_no", "name", "name_en", "department_code", "summary",
           "class_code", "item_code", "entry_code", "detail_code", "resource_format",
           "share_type", "share_condition", "share_method", "open_type", "update_cycle",
           "published_on", "related", "keywords", "layer_id", "storage", "geometry_type",
           "key_field", "coverage", "synthetic", "search_text")
TYPES = {"annex_no": "integer", "published_on": "date", "related": "text[]",
         "keywords": "text[]", "coverage": "boolean", "synthetic": "boolean"}
FIELD_COLUMNS = ("dataset_id", "position", "name", "name_zh", "data_type", "description",
                 "required", "kind", "authority", "link")
FIELD_TYPES = {"position": "smallint", "required": "boolean"}


def _recordset(columns: tuple[str, ...], types: dict[str, str]) -> str:
    return ", ".join(f"{c} {types.get(c, 'text')}" for c in columns)


# Constants composed from the column lists above (no input reaches the SQL text).
DEPARTMENTS_SQL = sa.text("""
INSERT INTO departments (code, name, short_name, name_en)
SELECT code, name, short_name, name_en
FROM jsonb_to_recordset(CAST(:doc AS jsonb)) AS x(code text, name text, short_name text,
                                                  name_en text)
ON CONFLICT (code) DO UPDATE SET short_name = EXCLUDED.short_name, name_en = EXCLUDED.name_en
WHERE (departments.short_name, departments.name_en)
      IS DISTINCT FROM (EXCLUDED.short_name, EXCLUDED.name_en)
RETURNING code""")
_UPDATABLE = [c for c in COLUMNS if c != "id"]
DATASETS_SQL = sa.text(
    f"INSERT INTO datasets ({', '.join(COLUMNS)}) "  # noqa: S608 (constant column names)
    f"SELECT {', '.join(COLUMNS)} FROM jsonb_to_recordset(CAST(:doc AS jsonb)) "
    f"AS x({_recordset(COLUMNS, TYPES)}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in _UPDATABLE)}, "
    f"updated_at = now() "
    f"WHERE ({', '.join(f'datasets.{c}' for c in _UPDATABLE)}) IS DISTINCT FROM "
    f"({', '.join(f'EXCLUDED.{c}' for c in _UPDATABLE)}) RETURNING id")
_FIELD_UPD = [c for c in FIELD_COLUMNS if c not in ("dataset_id", "name")]
FIELDS_SQL = sa.text(
    f"INSERT INTO dataset_fields ({', '.join(FIELD_COLUMNS)}) "  # noqa: S608 (constant names)
    f"SELECT {', '.join(FIELD_COLUMNS)} FROM jsonb_to_recordset(CAST(:doc AS jsonb)) "
    f"AS x({_recordset(FIELD_COLUMNS, FIELD_TYPES)}) "
    f"ON CONFLICT (dataset_id, name) DO UPDATE SET "
    f"{', '.join(f'{c} = EXCLUDED.{c}' for c in _FIELD_UPD)} "
    f"WHERE ({', '.join(f'dataset_fields.{c}' for c in _FIELD_UPD)}) IS DISTINCT FROM "
    f"({', '.join(f'EXCLUDED.{c}' for c in _FIELD_UPD)}) RETURNING dataset_id")
STALE_FIELDS_SQL = sa.text("""
DELETE FROM dataset_fields f
WHERE f.dataset_id = ANY(CAST(:ids AS text[]))
  AND NOT EXISTS (SELECT 1 FROM jsonb_to_recordset(CAST(:doc AS jsonb)) AS x(dataset_id text,
                                                                            name text)
                  WHERE x.dataset_id = f.dataset_id AND x.name = f.name)
RETURNING f.dataset_id""")
ORPHANS_SQL = sa.text("SELECT count(*) FROM datasets WHERE NOT (id = ANY(CAST(:ids AS text[])))")


@dataclass(frozen=True)
class SyncResult:
    datasets: int            # records in the catalog
    departments_changed: int
    datasets_changed: int
    fields_changed: int
    orphans: int             # records in the database that the catalog no longer has

    @property
    def changed(self) -> bool:
        return bool(self.departments_changed or self.datasets_changed or self.fields_changed)


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def search_text(rec: DatasetRecord, dept_names: list[str]) -> str:
    v = rec.values
    parts = [v["name"], v.get("name_en") or "", v.get("summary") or "", " ".join(v["keywords"]),
             " ".join(f.name_zh for f in rec.fields), *dept_names]
    return " ".join(p for p in parts if p)


def department_rows(data: DataCatalog) -> list[dict[str, str]]:
    rows = [{"code": d.code, "name": d.name, "short_name": d.annex, "name_en": d.en}
            for d in data.departments]
    b = data.bureau
    rows.append({"code": b.code, "name": b.name, "short_name": "数据资源管理局", "name_en": b.en})
    return rows


def keep_codes(conn: sa.Connection, docs: list[dict[str, Any]]) -> None:
    """What the platform has made of a record stays: a published resource code never changes
    (a new record whose generated code another record holds, as when a layer is added between
    others, takes the next free sequence number of its department), and a catalog entry whose
    data has been collected since (its first version: storage 'rows') stays collected."""
    held = {r.id: r for r in conn.execute(sa.text(
        "SELECT id, resource_code, storage FROM datasets"))}
    used = {r.resource_code for r in held.values()}
    for doc in docs:
        if doc["id"] in held:
            doc["resource_code"] = held[doc["id"]].resource_code
            if doc["storage"] == "metadata" and held[doc["id"]].storage == "rows":
                doc["storage"] = "rows"
            continue
        code = doc["resource_code"]
        head, _, seq = code.rpartition("-")
        n = int(seq)
        while code in used:
            n += 1
            code = f"{head}-{n:04d}"
        doc["resource_code"] = code
        used.add(code)


def sync_catalog(engine: sa.Engine, data: DataCatalog, layers: LayerCatalog) -> SyncResult:
    """Upsert the catalog (idempotent; see the module's note). One transaction, audited when
    something changed."""
    records = build_records(data, layers)
    depts = department_rows(data)
    names = {d["code"]: [d["name"], d["short_name"], d["name_en"]] for d in depts}
    docs = []
    fields = []
    for rec in records:
        row = {c: _json(rec.values.get(c)) for c in COLUMNS if c != "search_text"}
        row["search_text"] = search_text(rec, names[rec.values["department_code"]])
        docs.append(row)
        fields += [{"dataset_id": rec.id, "position": i, **asdict(f)}
                   for i, f in enumerate(rec.fields)]
    ids = [r["id"] for r in docs]
    with engine.begin() as conn:
        dep_doc = orjson.dumps(depts).decode()
        # Existing names are kept (the case desk's departments, e.g. CGJ 县城市管理局).
        conn.execute(sa.text("INSERT INTO departments (code, name) SELECT code, name FROM "
                             "jsonb_to_recordset(CAST(:doc AS jsonb)) AS x(code text, name text) "
                             "ON CONFLICT (code) DO NOTHING"), {"doc": dep_doc})
        dep_changed = len(conn.execute(DEPARTMENTS_SQL, {"doc": dep_doc}).all())
        keep_codes(conn, docs)
        # An annex row now served by another record (e.g. 暂住人口信息: metadata sx029, then
        # the content dataset temporary_population): the old record lets go of the number.
        conn.execute(sa.text("UPDATE datasets SET annex_no = NULL WHERE NOT (id = ANY(:ids)) "
                             "AND annex_no = ANY(:nos)"),
                     {"ids": ids, "nos": [d["annex_no"] for d in docs if d["annex_no"]]})
        ds_changed = len(conn.execute(DATASETS_SQL, {"doc": orjson.dumps(docs).decode()}).all())
        field_doc = orjson.dumps(fields).decode()
        f_changed = len(conn.execute(FIELDS_SQL, {"doc": field_doc}).all())
        f_changed += len(conn.execute(STALE_FIELDS_SQL, {"ids": ids, "doc": field_doc}).all())
        orphans = conn.execute(ORPHANS_SQL, {"ids": ids}).scalar_one()
        result = SyncResult(len(records), dep_changed, ds_changed, f_changed, orphans)
        if result.changed:
            append(conn, None, "datasets.sync", "datasets", None,
                   {"departments": dep_changed, "datasets": ds_changed, "fields": f_changed,
                    "total": len(records)})
    return result


def sync_from(settings: Settings, engine: sa.Engine, layers: LayerCatalog) -> SyncResult:
    """Read settings.catalog_dir (checked against `layers`) and sync it."""
    return sync_catalog(engine, load_data_catalog(settings.catalog_dir, layers), layers)
