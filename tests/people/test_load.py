"""The loader on a small hand-made source in the session database (a dedicated dataset, removed
afterwards; the test population's rows are left alone): counts, quarantine rows with their
checks and reasons, an idempotent second load, a changed row making version 2, nothing bad in
persons, one transaction."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from stdnum.cn import ric

from backend.catalog.population_sources import PopulationSource, source_of
from backend.datasets.store import Row, write_version
from backend.people.idcheck import check_id
from backend.people.load import load_dataset, quarantine_counts
from tests.people.population import SamplePopulation as Population

DATASET = "test_people_load"
PREFIX = "TL"  # household numbers of this module


def spec() -> PopulationSource:
    base = source_of("household_population")
    assert base is not None
    return base.model_copy(update={"dataset": DATASET})


def cid(born: str, seq: int, region: str = "341324") -> str:
    body = f"{region}{born}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def person(i: int, building: int, **over: object) -> dict[str, object]:
    sex = "男" if i % 2 else "女"
    born = f"19{60 + i % 30}0{1 + i % 9}1{i % 10}"
    row = {"citizen_id": cid(born, 700 + i * 2 + (1 if sex == "男" else 0) - 0 % 2),
           "name": f"载{i}", "gender": sex, "birth_date": f"{born[:4]}-{born[4:6]}-{born[6:]}",
           "ethnicity": "汉族", "phone": f"1390000{i:04d}", "address": "泗县测试路1号",
           "household_no": f"{PREFIX}{i // 3:06d}", "household_kind": "家庭户",
           "relation": "户主" if i % 3 == 0 else "子女", "status": "正常",
           "township_code": "341324100", "residence_address": f"测试载入路{building}号楼",
           "residence_unit": f"1单元{i:03d}室", "building_id": building}
    row.update(over)
    return row


@pytest.fixture(scope="module")
def buildings(engine: sa.Engine, population: Population) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("""
SELECT b.id FROM buildings b JOIN grid_cells g ON ST_Intersects(g.geom, ST_PointOnSurface(b.geom))
ORDER BY b.id LIMIT 3""")).scalars())


@pytest.fixture(scope="module")
def dataset(engine: sa.Engine, population: Population) -> Iterator[str]:
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO departments (code, name) VALUES ('GAJ', '泗县公安局') "
                             "ON CONFLICT DO NOTHING"))
        conn.execute(sa.text("""
INSERT INTO datasets (id, resource_code, name, department_code, share_type, update_cycle, storage)
VALUES (:d, 'TEST-PEOPLE-LOAD', '载入测试人口', 'GAJ', 'conditional', 'daily', 'rows')
ON CONFLICT (id) DO NOTHING"""), {"d": DATASET})
    yield DATASET
    with engine.begin() as conn:
        for stmt in (
            "DELETE FROM person_versions WHERE person_id IN (SELECT id FROM persons "
            "WHERE source_dataset = :d)",
            "UPDATE households SET head_person_id = NULL WHERE household_no LIKE 'TL%'",
            "DELETE FROM persons WHERE source_dataset = :d",
            "DELETE FROM households WHERE household_no LIKE 'TL%'",
            "DELETE FROM addresses WHERE building_label LIKE '测试载入路%'",
            "DELETE FROM population_quarantine WHERE dataset_id = :d",
            "UPDATE datasets SET current_version_id = NULL WHERE id = :d",
            "DELETE FROM dataset_rows WHERE dataset_id = :d",
            "DELETE FROM dataset_versions WHERE dataset_id = :d",
            "DELETE FROM datasets WHERE id = :d",
        ):
            conn.execute(sa.text(stmt), {"d": DATASET})


def write(engine: sa.Engine, rows: list[dict[str, object]]) -> None:
    with engine.begin() as conn:
        write_version(conn, dataset_id=DATASET, arrival="generator", actor="test",
                      rows=[Row(str(r["citizen_id"]) if r["citizen_id"] else None, r)
                            for r in rows])


def load(engine: sa.Engine):  # noqa: ANN201
    with engine.begin() as conn:
        return load_dataset(conn, DATASET, actor="test", source=spec())


def q(engine: sa.Engine, text: str, **params: object) -> object:
    with engine.connect() as conn:
        return conn.execute(sa.text(text), {"d": DATASET, **params}).scalar_one()


def good_rows(buildings: list[int]) -> list[dict[str, object]]:
    return [person(i, buildings[i % len(buildings)]) for i in range(12)]


def bad_rows(buildings: list[int]) -> list[dict[str, object]]:
    b = buildings[0]
    wrong = person(20, b)
    wrong["citizen_id"] = str(wrong["citizen_id"])[:17] + (
        "0" if str(wrong["citizen_id"])[17] != "0" else "1")
    return [
        wrong,                                                             # check_digit
        person(21, b, citizen_id=cid("19800230", 743), birth_date="1980-02-30"),  # birth_date
        person(22, b, citizen_id=cid("19800101", 745, "349999"), birth_date="1980-01-01"),
        person(23, b, gender="女"),                                         # sex (odd seq: 男)
        person(24, b, citizen_id="3413241980", birth_date="1980-01-01"),    # format
        person(25, b, name=None),                                           # missing
        person(26, b, building_id=None),                                    # missing residence
        person(3, b, name="重复"),                                           # duplicate of row 3
        person(27, b, birth_date="1999-01-01"),                             # field vs the ID
    ]


def test_first_load(engine: sa.Engine, dataset: str, buildings: list[int]) -> None:
    rows = good_rows(buildings) + bad_rows(buildings)
    assert check_id(str(rows[0]["citizen_id"]), str(rows[0]["gender"])) is None
    write(engine, rows)
    report = load(engine)
    assert report.rows == len(rows)
    assert (report.loaded, report.changed, report.unchanged) == (12, 0, 0)
    assert report.quarantined == {"check_digit": 1, "birth_date": 2, "region": 1, "sex": 1,
                                  "format": 1, "missing": 2, "duplicate": 1}
    with engine.connect() as conn:
        got = conn.execute(sa.text(
            "SELECT check_failed, reason, department_code FROM population_quarantine "
            "WHERE dataset_id = :d"), {"d": DATASET}).all()
    assert {r.department_code for r in got} == {"GAJ"}
    by = {r.check_failed: r.reason for r in got}
    assert "MOD 11-2" in by["check_digit"] and "349999" in by["region"]
    assert "奇数男" in by["sex"] and "重复" in by["duplicate"]
    assert quarantine_counts(engine.connect(), DATASET)["missing"] == 2
    # nothing malformed reached persons; every person has its first version and a cell
    assert q(engine, "SELECT count(*) FROM persons WHERE source_dataset = :d") == 12
    assert q(engine, "SELECT count(*) FROM persons p WHERE source_dataset = :d AND "
                     "(grid_code IS NULL OR address_id IS NULL OR household_id IS NULL)") == 0
    assert q(engine, "SELECT count(*) FROM person_versions v JOIN persons p ON p.id = "
                     "v.person_id WHERE p.source_dataset = :d AND v.version = 1") == 12
    assert q(engine, "SELECT count(*) FROM persons WHERE source_dataset = :d AND name = "
                     "'重复'") == 0
    assert q(engine, "SELECT count(*) FROM households WHERE household_no LIKE 'TL%' "
                     "AND head_person_id IS NOT NULL") == 4
    assert q(engine, "SELECT count(*) FROM audit_log WHERE action = 'people.load' "
                     "AND entity_id = :d") == 1


def test_second_load_changes_nothing(engine: sa.Engine, dataset: str) -> None:
    before = q(engine, "SELECT count(*) FROM population_quarantine WHERE dataset_id = :d")
    report = load(engine)
    assert (report.loaded, report.changed, report.unchanged) == (0, 0, 12)
    assert q(engine, "SELECT count(*) FROM population_quarantine WHERE dataset_id = :d") == before
    assert q(engine, "SELECT max(version) FROM persons WHERE source_dataset = :d") == 1


def test_changed_row_makes_version_2(engine: sa.Engine, dataset: str,
                                     buildings: list[int]) -> None:
    rows = good_rows(buildings)
    rows[1]["phone"] = "13912345678"
    rows[2]["status"] = "死亡"
    write(engine, rows)
    report = load(engine)
    assert (report.loaded, report.changed, report.unchanged) == (0, 2, 10)
    with engine.connect() as conn:
        versions = conn.execute(sa.text("""
SELECT p.citizen_id, p.version, p.status, v.data->>'phone' AS phone FROM persons p
JOIN person_versions v ON v.person_id = p.id AND v.version = p.version
WHERE p.source_dataset = :d AND p.version = 2 ORDER BY 1"""), {"d": DATASET}).all()
    assert len(versions) == 2
    assert {v.status for v in versions} == {"resident", "deceased"}
    assert "13912345678" in {v.phone for v in versions}


def test_one_transaction(engine: sa.Engine, dataset: str, buildings: list[int]) -> None:
    rows = good_rows(buildings)
    rows[4]["name"] = "不会留下"
    write(engine, rows)
    with engine.connect() as conn, conn.begin() as tx:
        report = load_dataset(conn, DATASET, actor="test", source=spec())
        assert report.changed == 3  # row 4, and rows 1-2 back to their first values
        tx.rollback()   # what a kill mid-load leaves: the previous state
    assert q(engine, "SELECT count(*) FROM persons WHERE name = '不会留下'") == 0
