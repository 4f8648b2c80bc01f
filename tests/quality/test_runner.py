"""The one-pass runner over a tabular dataset with people and companies: each rule kind passes
clean rows and catches its planted defect; check digits judged by python-stdnum; 一数一源
conflicts listed with both values; references to another dataset's current version."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from stdnum.cn import ric, uscc

from backend.datasets.store import Row
from backend.incidents.calendar import WorkCalendar
from backend.quality.rules import RuleBook, sync_rules
from backend.quality.runner import run_dataset, run_new_versions
from backend.settings import Settings
from tests.quality.conftest import Made, results


def citizen_id(seq: int, birth: str = "19800101") -> str:
    base = f"341324{birth}{seq:03d}0"
    return base[:-1] + ric.calc_check_digit(base)


def credit_code(n: int) -> str:
    base = f"91341324{n:09d}0"
    return base[:-1] + uscc.calc_check_digit(base[:-1])


PEOPLE = [("citizen_id", "string", True, "id_number"), ("name", "string", True, "name"),
          ("birth_date", "date", True), ("gender", "string", True)]
RECORDS = [("record_no", "string", True), ("citizen_id", "string", True, "id_number", None,
                                               "q_people"),
           ("name", "string", True, "name", "q_people.name"),
           ("birth_date", "date", True, None, "q_people.birth_date"),
           ("visits", "integer", False), ("employer_uscc", "string", False)]


def people(made: Made) -> None:
    made.create("q_people", PEOPLE, key="citizen_id")
    rows = [Row(citizen_id(i), {"citizen_id": citizen_id(i), "name": f"张{i}",
                                "birth_date": "1980-01-01", "gender": "男"})
            for i in range(1, 21)]
    assert made.write("q_people", rows).status == "accepted"


def test_each_tabular_kind_catches_its_defect(made: Made, engine: sa.Engine,
                                              calendar: WorkCalendar) -> None:
    people(made)
    made.create("q_records", RECORDS, key="record_no")
    bad_id = citizen_id(5)[:-1] + ("0" if citizen_id(5)[-1] != "0" else "1")
    rows = [Row(f"R{i}", {"record_no": f"R{i}", "citizen_id": citizen_id(i), "name": f"张{i}",
                          "birth_date": "1980-01-01", "visits": str(i),
                          "employer_uscc": credit_code(i)}) for i in range(1, 11)]
    rows[1] = Row("R2", {**rows[1].data, "name": ""})                  # required
    rows[2] = Row("R3", {**rows[2].data, "visits": "三"})              # type integer
    rows[3] = Row("R4", {**rows[3].data, "birth_date": "1980-13-01"})  # type date + authority
    rows[4] = Row("R5", {**rows[4].data, "citizen_id": bad_id})        # check digit + orphan
    rows[5] = Row("R6", {**rows[5].data, "name": "李四"})              # authority conflict
    rows[6] = Row("R7", {**rows[6].data, "citizen_id": citizen_id(99)})  # orphan reference
    rows[7] = Row("R8", {**rows[7].data, "employer_uscc": credit_code(8)[:-1] + "Y"
                         if credit_code(8)[-1] != "Y" else credit_code(8)[:-1] + "0"})
    rows.append(Row(None, {**rows[8].data}))                            # duplicate R9
    made.write("q_records", rows)
    run = run_dataset(engine, "q_records", trigger="manual", calendar=calendar)
    got = results(engine, run)
    assert got["required:name"]["failed"] == 1
    assert got["required:record_no"]["failed"] == 0
    assert got["type:visits"]["failed"] == 1
    assert got["type:visits"]["samples"][0]["value"] == "三"
    assert got["type:birth_date"]["failed"] == 1
    digits = got["check_digits:citizen_id"]
    assert (digits["checked"], digits["failed"]) == (11, 1)
    assert digits["samples"][0] == {"key": "R5", "value": bad_id,
                                    "reason": "校验码错误（GB 11643）"}
    assert got["check_digits:employer_uscc"]["failed"] == 1
    assert got["reference:citizen_id"]["failed"] == 2  # R5's bad ID and R7's stranger
    authority = got["authority:name"]
    assert authority["failed"] == 1  # R2's empty name is not compared; R6 conflicts
    assert authority["samples"][0] == {"key": "R6", "value": "李四", "source_value": "张6",
                                       "reason": "与权威来源 q_people.name 不一致"}
    assert "冲突已列出" in authority["message"]
    assert got["authority:birth_date"]["failed"] == 1
    assert got["unique:record_no"]["failed"] == 1
    assert got["unique:record_no"]["samples"][0]["value"] == "R9"
    assert got["timely"]["failed"] == 0
    with engine.connect() as conn:
        checked = conn.execute(sa.text("SELECT rows_checked, trigger FROM quality_runs "
                                       "WHERE id = :r"), {"r": run}).one()
    assert tuple(checked) == (11, "manual")


def test_clean_data_passes_every_rule(made: Made, engine: sa.Engine,
                                      calendar: WorkCalendar) -> None:
    people(made)
    run = run_dataset(engine, "q_people", trigger="manual", calendar=calendar)
    got = results(engine, run)
    assert {k: v["failed"] for k, v in got.items() if v["failed"]} == {}
    assert got["check_digits:citizen_id"]["checked"] == 20
    assert got["unique:citizen_id"]["checked"] == 20


def test_new_versions_are_run_once(made: Made, engine: sa.Engine,
                                   calendar: WorkCalendar) -> None:
    people(made)
    first = run_new_versions(engine, calendar)
    assert len(first) >= 1
    assert run_new_versions(engine, calendar) == []
    with engine.connect() as conn:
        trigger = conn.execute(sa.text("SELECT trigger FROM quality_runs WHERE dataset_id = "
                                       "'q_people'")).scalar_one()
    assert trigger == "version"


def test_a_pattern_postgresql_cannot_compile_is_reported_not_synced(
        made: Made, engine: sa.Engine, settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = RuleBook.load

    def with_pattern(catalog_dir: Path) -> RuleBook:  # a named group: Python's syntax only
        book = real(catalog_dir)
        book.content["q_pattern"] = [{"kind": "regex", "params": {
            "field": "code", "pattern": "^(?P<n>[0-9]+)$"}}]
        return book

    monkeypatch.setattr(RuleBook, "load", staticmethod(with_pattern))
    made.create("q_pattern", [("code", "string", True)], key="code")
    report = sync_rules(engine, settings.catalog_dir, "q_pattern")
    assert report.datasets == 0 and "PostgreSQL cannot compile" in report.problems[0]
