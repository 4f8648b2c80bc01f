"""Fixtures for governance and sharing: departments, datasets, fields, versions and quality
results inserted directly into the contract tables (the catalog sync and the quality runner
live on other branches), and signed-in headers per role."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.datasets.store import Row, write_version
from tests.conftest import bearer

DEPARTMENTS = {"CGJ": "县城管局", "GVA": "县测试甲局", "GVB": "县测试乙局"}
POINT = "0101000020E6100000295C8FC2F5785D40E17A14AE47BD4040"  # EWKB POINT(117.89 33.48)
_ids = itertools.count(1)


@pytest.fixture(scope="module", autouse=True)
def _cleanup(engine: sa.Engine) -> Iterator[None]:
    """The module's test datasets go at its end: the session's other tests count the
    catalog's own records (requests, grants, runs, scores, tasks go with them)."""
    yield
    with engine.begin() as conn:
        ids = {"p": "gov\\_test\\_%"}
        conn.execute(sa.text("UPDATE datasets SET current_version_id = NULL "
                             "WHERE id LIKE :p"), ids)
        conn.execute(sa.text("DELETE FROM dataset_rows WHERE dataset_id LIKE :p"), ids)
        conn.execute(sa.text("DELETE FROM datasets WHERE id LIKE :p"), ids)


@pytest.fixture(scope="session")
def departments(engine: sa.Engine) -> dict[str, str]:
    with engine.begin() as conn:
        for code, name in DEPARTMENTS.items():
            conn.execute(sa.text("INSERT INTO departments (code, name) VALUES (:c, :n) "
                                 "ON CONFLICT DO NOTHING"), {"c": code, "n": name})
    return DEPARTMENTS


Field = tuple[str, str, str | None]  # name, data_type, kind


def add_dataset(engine: sa.Engine, department: str, *, share_type: str = "conditional",
                storage: str = "rows", fields: Sequence[Field] = (("name", "string", None),),
                share_condition: str | None = None, layer_id: str | None = None,
                update_cycle: str = "daily", summary: str | None = "示意数据",
                **extra: Any) -> str:
    """A dataset record with its fields; returns its (unique) id."""
    n = next(_ids)
    dataset_id = f"gov_test_{n}"
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO departments (code, name) VALUES (:c, :c) "
                             "ON CONFLICT DO NOTHING"), {"c": department})
        conn.execute(sa.text(
            "INSERT INTO datasets (id, resource_code, name, department_code, share_type, "
            "share_condition, update_cycle, storage, key_field, layer_id, summary, share_method,"
            " resource_format, published_on, keywords) VALUES (:id, :code, :name, :dept, :share,"
            " :cond, :cycle, :storage, 'k', :layer, :summary, :method, :fmt, :pub, :kw)"),
            {"id": dataset_id, "code": f"GOV/TEST/{n}", "name": f"测试数据{n}",
             "dept": department, "share": share_type, "cond": share_condition,
             "cycle": update_cycle, "storage": storage, "layer": layer_id, "summary": summary,
             "method": extra.get("share_method"), "fmt": extra.get("resource_format"),
             "pub": extra.get("published_on"), "kw": extra.get("keywords", [])})
        for i, (name, data_type, kind) in enumerate(fields):
            conn.execute(sa.text(
                "INSERT INTO dataset_fields (dataset_id, position, name, name_zh, data_type, "
                "kind) VALUES (:d, :p, :n, :n, :t, :k)"),
                {"d": dataset_id, "p": i, "n": name, "t": data_type, "k": kind})
    return dataset_id


def add_version(engine: sa.Engine, dataset_id: str, rows: Sequence[dict[str, Any]]) -> int:
    with engine.begin() as conn:
        outcome = write_version(conn, dataset_id=dataset_id, arrival="file", actor="tester",
                                rows=[Row(str(r["k"]), r, POINT) for r in rows])
    return outcome.version_id


def add_run(engine: sa.Engine, dataset_id: str,
            results: Sequence[tuple[str, str, int, int]]) -> int:
    """One finished quality run: (rule_key, dimension, checked, failed) per rule (rules made
    on first use)."""
    with engine.begin() as conn:
        run_id = conn.execute(sa.text(
            "INSERT INTO quality_runs (dataset_id, trigger, finished_at) "
            "VALUES (:d, 'manual', now()) RETURNING id"), {"d": dataset_id}).scalar_one()
        for key, dimension, checked, failed in results:
            rule_id = conn.execute(sa.text(
                "INSERT INTO quality_rules (dataset_id, rule_key, kind, dimension) "
                "VALUES (:d, :k, :kind, :dim) ON CONFLICT (dataset_id, rule_key) "
                "DO UPDATE SET dimension = EXCLUDED.dimension RETURNING id"),
                {"d": dataset_id, "k": key, "kind": key.split(":")[0],
                 "dim": dimension}).scalar_one()
            conn.execute(sa.text(
                "INSERT INTO quality_results (run_id, rule_id, checked, failed) "
                "VALUES (:r, :rule, :c, :f)"),
                {"r": run_id, "rule": rule_id, "c": checked, "f": failed})
    return run_id


@pytest.fixture(scope="session")
def headers(client: TestClient, departments: dict[str, str]) -> Callable[[str], dict[str, str]]:
    """Signed-in headers per role name (one login each)."""
    cache: dict[str, dict[str, str]] = {}

    def get(role: str) -> dict[str, str]:
        if role not in cache:
            cache[role] = bearer(client, role)
        return cache[role]

    return get
