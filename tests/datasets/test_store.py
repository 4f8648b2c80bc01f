"""The version store: immutable versions, the current pointer, incremental changes, the gate,
idempotency and the audit chain, on the session's PostGIS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from backend.datasets.store import (
    CONTENT_SQL,
    Rejection,
    Row,
    set_current,
    unique_keys,
    write_version,
)
from backend.errors import Conflict

DATASET = "test_store_rows"
POINT = "0101000020E6100000295C8FC2F5785D40E17A14AE47BD4040"  # EWKB POINT(117.89 33.48)


@pytest.fixture()
def dataset(engine: sa.Engine) -> Iterator[str]:
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO departments (code, name) VALUES ('TSTORE', '测试部门') "
                             "ON CONFLICT DO NOTHING"))
        conn.execute(sa.text(
            "INSERT INTO datasets (id, resource_code, name, department_code, share_type, "
            "update_cycle, storage, key_field) VALUES (:id, :code, '测试数据', 'TSTORE', "
            "'unconditional', 'daily', 'rows', 'k')"), {"id": DATASET, "code": "TEST/STORE"})
    yield DATASET
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM dataset_rows WHERE dataset_id = :d"), {"d": DATASET})
        conn.execute(sa.text("UPDATE datasets SET current_version_id = NULL WHERE id = :d"),
                     {"d": DATASET})
        conn.execute(sa.text("DELETE FROM datasets WHERE id = :d"), {"d": DATASET})


def _content(engine: sa.Engine, seq: int) -> dict[str, dict]:
    with engine.connect() as conn:
        cur = conn.connection.dbapi_connection.cursor()
        cur.execute(CONTENT_SQL, {"dataset": DATASET, "seq": seq})
        return {key: data for key, data, _ in cur.fetchall()}


def _rows(*pairs: tuple[str, int]) -> list[Row]:
    return [Row(k, {"k": k, "v": v}, POINT) for k, v in pairs]


def test_versions_are_immutable_and_the_pointer_moves(engine: sa.Engine, dataset: str) -> None:
    with engine.begin() as conn:
        first = write_version(conn, dataset_id=dataset, rows=_rows(("a", 1), ("b", 2)),
                              arrival="file", actor="tester", source="a.csv")
    assert (first.status, first.seq, first.rows_added, first.rows_total) == ("accepted", 1, 2, 2)
    with engine.begin() as conn:
        second = write_version(conn, dataset_id=dataset, rows=_rows(("b", 3), ("c", 4)),
                               arrival="file", actor="tester")
    assert (second.rows_added, second.rows_changed, second.rows_removed) == (1, 1, 1)
    assert _content(engine, 1) == {"a": {"k": "a", "v": 1}, "b": {"k": "b", "v": 2}}
    assert _content(engine, 2) == {"b": {"k": "b", "v": 3}, "c": {"k": "c", "v": 4}}
    with engine.begin() as conn:
        third = write_version(conn, dataset_id=dataset, rows=_rows(("d", 5)), mode="incremental",
                              deletes=["b"], arrival="exchange", actor="tester")
    assert _content(engine, 3) == {"c": {"k": "c", "v": 4}, "d": {"k": "d", "v": 5}}
    assert (third.rows_added, third.rows_removed, third.rows_total) == (1, 1, 2)
    with engine.begin() as conn:
        set_current(conn, dataset_id=dataset, version_id=first.version_id, actor="tester")
        current = conn.execute(sa.text("SELECT current_version_id, latest_seq FROM datasets "
                                       "WHERE id = :d"), {"d": dataset}).one()
        audited = conn.execute(sa.text(
            "SELECT array_agg(action ORDER BY id) FROM audit_log WHERE entity = 'dataset' "
            "AND entity_id = :d"), {"d": dataset}).scalar_one()
    assert tuple(current) == (first.version_id, 3)
    assert audited == ["dataset.version"] * 3 + ["dataset.current"]


def test_a_gate_refusal_keeps_the_report_and_stores_no_row(engine: sa.Engine,
                                                            dataset: str) -> None:
    def refuse_negative(cur, dataset_id: str, relation: str) -> list[dict]:  # noqa: ANN001
        cur.execute(f"SELECT count(*) FROM {relation} WHERE (data->>'v')::int < 0")  # noqa: S608
        failed = cur.fetchone()[0]
        return [{"rule": "range:v", "failed": failed}] if failed else []

    with engine.begin() as conn:
        out = write_version(conn, dataset_id=dataset, rows=_rows(("a", 1), ("b", -1)),
                            arrival="push", actor="tester", gate=refuse_negative,
                            rejected=[Rejection(3, "not a number", field="v", value="x")])
    assert out.status == "rejected" and out.seq is None
    assert out.report["blocking"] == [{"rule": "range:v", "failed": 1}]
    assert out.report["rejected_rows"][0]["reason"] == "not a number"
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM dataset_rows WHERE dataset_id = :d"),
                            {"d": dataset}).scalar_one() == 0
        with pytest.raises(Conflict):
            set_current(conn, dataset_id=dataset, version_id=out.version_id, actor="tester")


def test_the_same_idempotency_key_gives_the_same_version(engine: sa.Engine,
                                                          dataset: str) -> None:
    with engine.begin() as conn:
        a = write_version(conn, dataset_id=dataset, rows=_rows(("a", 1)), arrival="push",
                          actor="tester", idempotency_key="batch-1")
    with engine.begin() as conn:
        b = write_version(conn, dataset_id=dataset, rows=_rows(("a", 2)), arrival="push",
                          actor="tester", idempotency_key="batch-1")
    assert b.replayed and b.version_id == a.version_id
    assert _content(engine, 1) == {"a": {"k": "a", "v": 1}}


def test_repeated_and_missing_keys_get_store_keys() -> None:
    assert unique_keys(["a", "a", None, "", "b", "a"]) == ["a", "a#2", "~3", "~4", "b", "a#3"]


def test_a_layer_load_is_a_version_of_the_layer_dataset(engine: sa.Engine) -> None:
    from backend.datasets.store import record_layer_load

    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO departments (code, name) VALUES ('TSTORE', '测试部门') "
                             "ON CONFLICT DO NOTHING"))
        conn.execute(sa.text(
            "INSERT INTO datasets (id, resource_code, name, department_code, share_type, "
            "update_cycle, storage, layer_id) VALUES ('test_layer_ds', 'TEST/LAYER', '测试图层', "
            "'TSTORE', 'conditional', 'irregular', 'layer', 'test_layer_x')"))
        cur = conn.connection.dbapi_connection.cursor()
        assert record_layer_load(cur, layer_id="no_such_layer", table="parcels",
                                 source="t", actor="tester") is None
        out = record_layer_load(cur, layer_id="test_layer_x", table="parcels", source="file:x",
                                actor="tester", added=3, rejected=1)
        parcels = conn.execute(sa.text("SELECT count(*) FROM parcels")).scalar_one()
        row = conn.execute(sa.text("SELECT current_version_id, latest_seq, last_updated_at "
                                   "FROM datasets WHERE id = 'test_layer_ds'")).one()
        conn.execute(sa.text("UPDATE datasets SET current_version_id = NULL "
                             "WHERE id = 'test_layer_ds'"))
        conn.execute(sa.text("DELETE FROM datasets WHERE id = 'test_layer_ds'"))
    assert out is not None and (out.seq, out.rows_added, out.rows_rejected) == (1, 3, 1)
    assert out.rows_total == parcels
    assert row.current_version_id == out.version_id and row.latest_seq == 1
    assert row.last_updated_at is not None


def test_the_first_version_collects_a_metadata_only_entry(engine: sa.Engine) -> None:
    from backend.datasets.sync import keep_codes

    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO departments (code, name) VALUES ('TSTORE', '测试部门') "
                             "ON CONFLICT DO NOTHING"))
        conn.execute(sa.text(
            "INSERT INTO datasets (id, resource_code, name, department_code, share_type, "
            "update_cycle, storage) VALUES ('test_collect', 'TEST/COLLECT', '待归集数据', "
            "'TSTORE', 'unconditional', 'monthly', 'metadata')"))
    try:
        with engine.begin() as conn:
            out = write_version(conn, dataset_id="test_collect", rows=_rows(("a", 1)),
                                arrival="file", actor="tester")
        with engine.connect() as conn:
            storage = conn.execute(sa.text("SELECT storage FROM datasets "
                                           "WHERE id = 'test_collect'")).scalar_one()
            docs = [{"id": "test_collect", "resource_code": "X", "storage": "metadata"}]
            keep_codes(conn, docs)  # the catalog file still says metadata: the sync keeps rows
        assert out.status == "accepted" and storage == "rows"
        assert docs[0]["storage"] == "rows" and docs[0]["resource_code"] == "TEST/COLLECT"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM dataset_rows WHERE dataset_id = 'test_collect'"))
            conn.execute(sa.text("UPDATE datasets SET current_version_id = NULL "
                                 "WHERE id = 'test_collect'"))
            conn.execute(sa.text("DELETE FROM datasets WHERE id = 'test_collect'"))
