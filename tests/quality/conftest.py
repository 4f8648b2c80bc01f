"""Datasets made for the quality tests: catalog rows and fields inserted here, content written
through the real version store (backend.datasets.store.write_version), rules synced from the
real rules file, everything removed again afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from backend.datasets.store import Row, VersionOutcome, write_version
from backend.incidents.calendar import WorkCalendar
from backend.quality.gate import blocking_gate
from backend.quality.rules import sync_rules
from backend.settings import Settings

DEPARTMENT = "CGJ"  # the test data steward's department


@dataclass
class Made:
    engine: sa.Engine
    settings: Settings
    ids: list[str]

    def create(self, dataset_id: str, fields: Sequence[tuple], *, key: str | None = None,
               geometry: str | None = None, coverage: bool = False, cycle: str = "daily",
               storage: str = "rows", layer_id: str | None = None,
               department: str = DEPARTMENT) -> str:
        """fields: (name, data_type, required, kind, authority, link)."""
        with self.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO datasets (id, resource_code, name, department_code, share_type, "
                "update_cycle, storage, layer_id, key_field, geometry_type, coverage) VALUES "
                "(:id, :code, :name, :dept, 'conditional', :cycle, :storage, :layer, :key, "
                ":geom, :cov)"),
                {"id": dataset_id, "code": f"TEST/QUALITY/{dataset_id}", "dept": department,
                 "name": f"质量测试 {dataset_id}", "cycle": cycle, "storage": storage,
                 "layer": layer_id, "key": key, "geom": geometry, "cov": coverage})
            for i, f in enumerate(fields):
                name, data_type, required, kind, authority, link = (*f, None, None, None,
                                                                    None)[:6]
                conn.execute(sa.text(
                    "INSERT INTO dataset_fields (dataset_id, position, name, name_zh, "
                    "data_type, required, kind, authority, link) VALUES (:d, :p, :n, :n, :t, "
                    ":r, :k, :a, :l)"),
                    {"d": dataset_id, "p": i, "n": name, "t": data_type, "r": bool(required),
                     "k": kind, "a": authority, "l": link})
        self.ids.append(dataset_id)
        sync_rules(self.engine, self.settings.catalog_dir, dataset_id)
        return dataset_id

    def write(self, dataset_id: str, rows: Sequence[Row], *, gate: bool = False,
              mode: str = "full") -> VersionOutcome:
        with self.engine.begin() as conn:
            return write_version(conn, dataset_id=dataset_id, rows=rows, arrival="file",
                                 actor="quality-test", mode=mode,
                                 gate=blocking_gate if gate else None)


@pytest.fixture()
def made(engine: sa.Engine, settings: Settings, county: dict[str, int]) -> Iterator[Made]:
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO departments (code, name) VALUES (:c, '城管局') "
                             "ON CONFLICT DO NOTHING"), {"c": DEPARTMENT})
    m = Made(engine, settings, [])
    yield m
    with engine.begin() as conn:
        for d in reversed(m.ids):
            conn.execute(sa.text("DELETE FROM dataset_rows WHERE dataset_id = :d"), {"d": d})
            conn.execute(sa.text("UPDATE datasets SET current_version_id = NULL WHERE id = :d"),
                         {"d": d})
            conn.execute(sa.text("DELETE FROM datasets WHERE id = :d"), {"d": d})


@pytest.fixture(scope="session")
def calendar(settings: Settings) -> WorkCalendar:
    return WorkCalendar.load(*settings.work_calendars)


def results(engine: sa.Engine, run_id: int) -> dict[str, dict]:
    """The run's results by rule key."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT q.rule_key, q.kind, r.checked, r.failed, r.samples, r.message "
            "FROM quality_results r JOIN quality_rules q ON q.id = r.rule_id "
            "WHERE r.run_id = :r"), {"r": run_id}).all()
    return {r[0]: {"kind": r[1], "checked": r[2], "failed": r[3], "samples": r[4],
                   "message": r[5]} for r in rows}


Point = Callable[[float, float], str]
