"""Catalog records for the arrivals' tests: the catalog sync is another slice's, so each test
inserts the dataset and field rows it needs from content.yaml's entry (as
tests/datasets/test_store.py does)."""

from __future__ import annotations

import sqlalchemy as sa

from backend.catalog.dataset_content import department_codes, load_content


def make_dataset(engine: sa.Engine, entry_id: str, *, dataset_id: str | None = None,
                 department: str | None = None) -> str:
    """Insert (afresh) the dataset and its fields of content.yaml's `entry_id`; returns its id."""
    entry = next(d for d in load_content() if d.id == entry_id)
    dataset_id = dataset_id or entry.id
    department = department or department_codes()[entry.annex.department]
    drop_dataset(engine, dataset_id)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO departments (code, name) VALUES (:c, :c) "
                             "ON CONFLICT DO NOTHING"), {"c": department})
        conn.execute(sa.text(
            "INSERT INTO datasets (id, resource_code, name, name_en, department_code, share_type, "
            "update_cycle, storage, key_field, geometry_type, coverage) VALUES (:id, :code, "
            ":name, :en, :dept, :share, :cycle, 'rows', :key, :geom, :coverage)"),
            {"id": dataset_id, "code": f"TEST/{dataset_id}", "name": entry.annex.name,
             "en": entry.en, "dept": department, "share": entry.share_type,
             "cycle": entry.update_cycle, "key": entry.key, "geom": entry.geometry,
             "coverage": entry.coverage})
        for i, f in enumerate(entry.fields):
            conn.execute(sa.text(
                "INSERT INTO dataset_fields (dataset_id, position, name, name_zh, data_type, "
                "required, kind, authority, link) VALUES (:d, :p, :n, :zh, :t, :r, :k, :a, :l)"),
                {"d": dataset_id, "p": i, "n": f.name, "zh": f.zh, "t": f.type,
                 "r": f.required, "k": f.kind, "a": f.authority, "l": f.link})
    return dataset_id


def drop_dataset(engine: sa.Engine, dataset_id: str) -> None:
    with engine.begin() as conn:
        params = {"d": dataset_id}
        conn.execute(sa.text("UPDATE datasets SET current_version_id = NULL WHERE id = :d"),
                     params)
        for table in ("dataset_rows", "dataset_exchange_links", "dataset_fields",
                      "dataset_versions", "quality_rules"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE dataset_id = :d"),  # noqa: S608
                         params)
        conn.execute(sa.text("DELETE FROM datasets WHERE id = :d"), params)


def clear_content(engine: sa.Engine, dataset_id: str) -> None:
    """A catalog record (synced from the catalog files) back to no version: its record, fields
    and rules stay."""
    with engine.begin() as conn:
        params = {"d": dataset_id}
        conn.execute(sa.text("UPDATE datasets SET current_version_id = NULL, latest_seq = 0, "
                             "last_updated_at = NULL WHERE id = :d"), params)
        for table in ("dataset_rows", "dataset_exchange_links", "dataset_versions"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE dataset_id = :d"),  # noqa: S608
                         params)


def content_of(engine: sa.Engine, dataset_id: str) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT r.key, r.data FROM dataset_rows r JOIN datasets d ON d.id = r.dataset_id "
            "JOIN dataset_versions v ON v.id = d.current_version_id WHERE r.dataset_id = :d "
            "AND r.first_seq <= v.seq AND (r.last_seq IS NULL OR r.last_seq > v.seq)"),
            {"d": dataset_id}).all()
    return {k: d for k, d in rows}
