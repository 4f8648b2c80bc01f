"""The grid-day scenario played into the test database through the real case service: about
fifty cases on the simulated clock, the scripted rework, extension, return, park and the
overdue case flagged (督办) by the server's sweep, KPIs that make sense, a second run that adds
nothing, and `cityops audit verify` on the chain the day leaves (and on an edited row)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from backend.catalog.grid_scenarios import load_grid_day, load_grid_day_file
from backend.catalog.scenarios import ScenarioError, load_scenario
from backend.cli import main
from backend.incidents.calendar import WorkCalendar
from backend.incidents.kpi import KpiQuery, incident_kpis
from backend.settings import Settings
from backend.simulation.grid_day import Report, play, read_county
from backend.simulation.grid_day_plan import (
    STAGE_SHARE,
    key_prefix,
    plan_day,
    previous_working_day,
)

LOCAL = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 3, 10)  # a Tuesday no other test uses
EXPECTED_STATES = {"closed": 29, "voided": 3, "reported": 1, "filed": 3, "dispatched": 2,
                   "accepted": 1, "in_progress": 6, "handled": 3, "verifying": 1, "parked": 1}
SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "grid-day" / "scenario.yaml"


@pytest.fixture(scope="module")
def calendar(settings: Settings) -> WorkCalendar:
    return WorkCalendar.load(*settings.work_calendars)


@pytest.fixture(scope="module")
def played(engine: sa.Engine, county: dict[str, int], settings: Settings,
           calendar: WorkCalendar) -> Iterator[Report]:
    scenario = load_grid_day("grid-day")
    report = play(engine, scenario, calendar=calendar, categories_file=settings.case_categories,
                  day=DAY)
    yield report
    with engine.begin() as conn:  # the audit rows stay: the app's role cannot delete them
        conn.execute(sa.text("DELETE FROM incidents WHERE starts_with(idempotency_key, :p)"),
                     {"p": key_prefix(scenario, DAY)})
        conn.execute(sa.text("DELETE FROM users WHERE username LIKE 'sim-%' AND NOT EXISTS "
                             "(SELECT 1 FROM incidents i WHERE users.id IN "
                             "(i.reporter_id, i.assignee_id, i.verifier_id))"))


def cases(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT i.*, g.township_name FROM incidents i JOIN grid_cells g USING (grid_code) "
            "WHERE starts_with(idempotency_key, :p) ORDER BY reported_at"),
            {"p": key_prefix(load_grid_day("grid-day"), DAY)}))


def timeline(engine: sa.Engine, case_no: str) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT e.* FROM incident_events e JOIN incidents i ON i.id = e.incident_id "
            "WHERE i.case_no = :n ORDER BY e.at, e.id"), {"n": case_no}))


def local(at: datetime) -> datetime:
    return at.astimezone(LOCAL)


# The loader ---------------------------------------------------------------------------------

def test_the_scenario_file_loads_and_the_bus_scenario_still_does() -> None:
    sc = load_grid_day("grid-day")
    assert sc.kind == "grid-day" and sc.routine_reports + len(sc.special) == 50
    assert {c.name for c in sc.special} == {"rework", "extension", "return", "park", "overdue"}
    assert load_scenario("bus-morning-peak").fleet


@pytest.mark.parametrize(("change", "expected"), [
    (("sweep_every_min: 15", "sweep_evry_min: 15"),
     "grid-day/scenario.yaml: sweep_evry_min: unknown key (typo?)"),
    (("{after_min: 20, do: grant_extension, hours: 8, note: 同意延期}",
      "{after_min: 20, do: grant_extension, note: 同意延期}"),
     "grid-day/scenario.yaml: special.1.steps.5: grant_extension needs hours"),
    (("{after_min: 30, do: rework, note: 复核发现路面仍有大片油污，需高压冲洗}",
      "{after_min: 30, do: rework}"),
     "grid-day/scenario.yaml: special.0.steps.6: rework needs a note"),
    (("    township: 泗城镇\n", "    township: 不存在镇\n"),
     "grid-day/scenario.yaml: special.3.township: '不存在镇' is not one of townships"),
    (("{after_min: 10, do: file}", "{after_min: 10, do: supervise}"),
     "grid-day/scenario.yaml: special.0.steps.0.do: Input should be 'file'"),
])
def test_a_bad_file_is_rejected_naming_the_file_and_key(
        tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    text = SCENARIO.read_text(encoding="utf-8")
    assert change[0] in text
    path = tmp_path / "grid-day" / "scenario.yaml"
    path.parent.mkdir()
    path.write_text(text.replace(*change, 1), encoding="utf-8")
    with pytest.raises(ScenarioError) as err:
        load_grid_day_file(path)
    assert expected in str(err.value)


def test_names_the_database_does_not_know_are_rejected_by_key(
        tmp_path: Path, engine: sa.Engine, county: dict[str, int], played: Report) -> None:
    text = SCENARIO.read_text(encoding="utf-8").replace("  E0303: {weight", "  E0999: {weight")
    text = text.replace("  山头镇: 2\n", "  不存在镇: 2\n")
    path = tmp_path / "grid-day" / "scenario.yaml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    with engine.connect() as conn, pytest.raises(ScenarioError) as err:
        read_county(conn, load_grid_day_file(path))
    problems = str(err.value)
    assert "grid-day/scenario.yaml: categories.E0999: E0999 is not an active case" in problems
    assert "grid-day/scenario.yaml: townships.不存在镇: no grid cells" in problems


def test_the_plan_is_the_same_every_working_day_and_keeps_routine_cases_in_time(
        engine: sa.Engine, calendar: WorkCalendar, played: Report) -> None:
    sc = load_grid_day("grid-day")
    with engine.connect() as conn:
        cells, limits, _ = read_county(conn, sc)
    monday = plan_day(sc, date(2026, 11, 23), calendar, cells, limits)
    again = plan_day(sc, date(2026, 11, 23), calendar, cells, limits)
    tuesday = plan_day(sc, date(2026, 11, 24), calendar, cells, limits)
    shape = [(c.tag, c.category, c.grid_code, c.reported_at.timetz(),
              [(s.action, s.at.timetz()) for s in c.steps]) for c in monday]
    assert shape == [(c.tag, c.category, c.grid_code, c.reported_at.timetz(),
                      [(s.action, s.at.timetz()) for s in c.steps]) for c in tuesday]
    assert [c.steps for c in monday] == [c.steps for c in again]
    end = datetime(2026, 11, 23, 17, 30, tzinfo=LOCAL)
    for case in monday:
        assert all(s.at <= end for s in case.steps)
        if case.special:
            continue
        lim = limits[(case.category, case.urgency)]
        at = {s.action.value: s.at for s in case.steps}
        for first, last, limit_h in (("dispatch", "accept", lim.accept),
                                     ("accept", "handle", lim.handle),
                                     ("handle", "confirm", lim.verify)):
            if first in at and last in at:
                used = calendar.working_seconds(at[first], at[last])
                assert used <= STAGE_SHARE * limit_h * 3600 + 1, (case.tag, first, last)


def test_the_previous_working_day_skips_weekends_and_holidays(calendar: WorkCalendar) -> None:
    assert previous_working_day(calendar, date(2026, 11, 24)) == date(2026, 11, 23)
    assert previous_working_day(calendar, date(2026, 11, 23)) == date(2026, 11, 20)  # Monday
    assert previous_working_day(calendar, date(2026, 10, 8)) == date(2026, 9, 30)  # 国庆节


# The day ------------------------------------------------------------------------------------

def test_about_fifty_cases_end_the_day_in_the_expected_states(
        played: Report, engine: sa.Engine) -> None:
    assert played.cases == played.created == 50
    assert played.states == EXPECTED_STATES and played.open == 18
    rows = cases(engine)
    assert len(rows) == 50
    assert len({r.township_name for r in rows}) >= 6
    assert len({r.department_code for r in rows}) >= 6
    assert len({r.category_code for r in rows}) >= 12
    assert {r.source for r in rows} == {"grid_worker", "hotline", "video", "inspection"}
    assert {r.urgency for r in rows} == {"normal", "urgent"}
    assert all(r.case_no.startswith("SX20260310-") for r in rows)
    day_start = datetime.combine(DAY, time(8, 30), LOCAL)
    day_end = datetime.combine(DAY, time(17, 30), LOCAL)
    assert all(day_start <= r.reported_at <= day_end for r in rows)
    with engine.connect() as conn:
        outside = conn.execute(sa.text(
            "SELECT count(*) FROM incidents i JOIN grid_cells g USING (grid_code) "
            "WHERE starts_with(i.idempotency_key, :p) AND NOT ST_Intersects(g.geom, i.geom)"),
            {"p": key_prefix(load_grid_day("grid-day"), DAY)}).scalar_one()
    assert outside == 0


def test_every_step_is_on_the_simulated_clock_by_the_right_hands(
        played: Report, engine: sa.Engine) -> None:
    with engine.connect() as conn:
        events = conn.execute(sa.text(
            "SELECT e.incident_id, e.at, e.action, e.actor, e.actor_role FROM incident_events e "
            "JOIN incidents i ON i.id = e.incident_id WHERE starts_with(i.idempotency_key, :p) "
            "ORDER BY e.incident_id, e.id"),
            {"p": key_prefix(load_grid_day("grid-day"), DAY)}).all()
    assert len(events) > 300
    day_end = datetime.combine(DAY, time(17, 30), LOCAL)
    previous: dict[int, datetime] = {}
    for ev in events:
        assert datetime.combine(DAY, time(8, 30), LOCAL) <= ev.at <= day_end
        assert ev.at >= previous.get(ev.incident_id, ev.at)  # in order, as they were taken
        previous[ev.incident_id] = ev.at
        role = {"file": "supervisor", "void": "supervisor", "send_to_verify": "supervisor",
                "dispatch": "dispatcher", "accept": "department_handler",
                "start": "department_handler", "handle": "department_handler",
                "confirm": "grid_worker", "supervise": "system"}.get(ev.action)
        if role:
            assert ev.actor_role == role, ev
        assert ev.actor.startswith("sim-") or ev.actor == "system"


def test_the_rework_case_is_handled_again(played: Report, engine: sa.Engine) -> None:
    events = timeline(engine, played.special["rework"])
    assert [e.action for e in events] == [
        "report", "file", "dispatch", "accept", "start", "handle", "send_to_verify", "rework",
        "handle", "send_to_verify", "confirm"]
    rework = events[7]
    assert rework.from_state == "verifying" and rework.to_state == "in_progress"
    assert rework.actor == "sim-grid-01" and "油污" in rework.note
    row = next(r for r in cases(engine) if r.case_no == played.special["rework"])
    assert row.state == "closed" and row.rework_count == 1 and row.on_time


def test_the_extension_is_requested_granted_and_used(
        played: Report, engine: sa.Engine, calendar: WorkCalendar) -> None:
    events = timeline(engine, played.special["extension"])
    actions = [e.action for e in events]
    assert actions == ["report", "file", "dispatch", "accept", "start", "request_extension",
                       "grant_extension", "handle", "send_to_verify", "confirm"]
    grant = events[6]
    assert grant.actor == "sim-commander" and grant.data["extension_hours"] == 8
    row = next(r for r in cases(engine) if r.case_no == played.special["extension"])
    assert row.extension_count == 1 and row.state == "closed"
    # Handled after more than the 4 working hours of 路面塌陷 (the pending request paused the
    # clock), yet on time thanks to the 8 hours granted.
    handling = calendar.working_seconds(events[3].at, events[7].at) - \
        calendar.working_seconds(events[5].at, events[6].at)
    assert handling > 4 * 3600 and row.on_time and not row.supervised


def test_the_case_returned_by_the_wrong_unit_is_dispatched_again(
        played: Report, engine: sa.Engine) -> None:
    events = timeline(engine, played.special["return"])
    assert [e.action for e in events][:6] == ["report", "file", "dispatch", "return",
                                              "dispatch", "accept"]
    first, back, again, accept = events[2], events[3], events[4], events[5]
    assert first.data["department_code"] == "CGJ"
    assert back.actor == "sim-handler-cgj" and back.to_state == "returned" and back.note
    assert again.data["department_code"] == "HWS" and accept.actor == "sim-handler-hws"
    row = next(r for r in cases(engine) if r.case_no == played.special["return"])
    assert row.return_count == 1 and row.department_code == "HWS" and row.state == "closed"


def test_the_parked_case_waits_with_its_reason(played: Report, engine: sa.Engine) -> None:
    events = timeline(engine, played.special["park"])
    assert events[-1].action == "park" and events[-1].actor == "sim-commander"
    assert "挂账" in events[-1].note


def test_the_overdue_case_is_supervised_by_the_sweep_after_its_stage_limit(
        played: Report, engine: sa.Engine, calendar: WorkCalendar) -> None:
    case_no = played.special["overdue"]
    assert played.supervised == [case_no]  # the only one of the day's cases
    events = timeline(engine, case_no)
    actions = [e.action for e in events]
    assert actions[:5] == ["report", "file", "dispatch", "supervise", "accept"]
    dispatch, supervise = events[2], events[3]
    accept_due = calendar.add_working(dispatch.at, 1 * 3600)  # 交通信号灯: accept within 1 h
    assert supervise.actor == "system" and supervise.data == {"automatic": True}
    assert accept_due < supervise.at <= accept_due + timedelta(minutes=15)
    assert "accept" in supervise.note
    row = next(r for r in cases(engine) if r.case_no == case_no)
    assert row.supervised and row.state == "closed" and row.on_time is False
    assert [r.case_no for r in cases(engine) if r.supervised] == [case_no]


def test_the_day_gives_sensible_kpis(played: Report, engine: sa.Engine) -> None:
    with engine.connect() as conn:
        out = incident_kpis(conn, KpiQuery(datetime.combine(DAY, time(0), LOCAL),
                                           datetime.combine(DAY + timedelta(days=1), time(0),
                                                            LOCAL), "department"))
    total = out["total"]
    filed = 50 - EXPECTED_STATES["voided"] - EXPECTED_STATES["reported"]
    assert total["filed"] == filed and total["closed"] == EXPECTED_STATES["closed"]
    assert 0 < total["rates"]["closed_rate"] < 1
    assert total["rates"]["closed_rate"] == round(EXPECTED_STATES["closed"] / filed, 4)
    assert 0 < total["rates"]["on_time_rate"] < 1  # the supervised case closed late
    assert total["reworked"] == 1 and total["extended"] == 1 and total["supervised"] == 1
    assert total["open"] == played.open - EXPECTED_STATES["reported"]
    assert len(out["groups"]) >= 6 and sum(g["filed"] for g in out["groups"]) == filed


# The commands -------------------------------------------------------------------------------

def counts(engine: sa.Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM incident_events), "
            "(SELECT count(*) FROM audit_log)")).one()


def test_a_second_run_of_the_command_adds_nothing(
        played: Report, engine: sa.Engine, settings: Settings,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CITYOPS_DATABASE_NAME", settings.database_name)
    before = counts(engine)
    assert main(["scenario", "run", "grid-day", "--day", DAY.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "grid-day 2026-03-10: 50 cases (0 new), 0 steps taken, 0 sweeps" in out
    assert played.special["overdue"] in out
    assert counts(engine) == before
    assert main(["scenario", "run", "grid-day", "--day", "2026-03-08"]) == 2  # a Sunday
    assert "not a working day" in capsys.readouterr().err
    assert main(["scenario", "run", "grid-day", "--day", "2099-12-01"]) == 2
    assert "has not ended yet" in capsys.readouterr().err


def test_audit_verify_passes_then_names_an_edited_row(
        played: Report, engine: sa.Engine, admin_engine: sa.Engine, settings: Settings,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CITYOPS_DATABASE_NAME", settings.database_name)
    assert main(["audit", "verify"]) == 0
    rows = counts(engine)[2]
    # The session's servers may have anchored the head already: "..., agreeing with K anchors".
    assert re.fullmatch(rf"audit log intact: {rows} rows(, agreeing with \d+ anchors?)?",
                        capsys.readouterr().out.strip())
    with engine.connect() as conn:  # one of the day's rows: the overdue case's 督办
        target = conn.execute(sa.text(
            "SELECT id FROM audit_log WHERE action = 'incident.supervise' "
            "AND data->>'case_no' = :n"), {"n": played.special["overdue"]}).scalar_one()
    with admin_engine.begin() as conn:
        original = conn.execute(sa.text("SELECT actor FROM audit_log WHERE id = :i"),
                                {"i": target}).scalar_one()
        conn.execute(sa.text("UPDATE audit_log SET actor = 'commander' WHERE id = :i"),
                     {"i": target})
    try:
        assert main(["audit", "verify"]) == 1
        err = capsys.readouterr().err
        assert f"row {target} was altered after it was written" in err
    finally:
        with admin_engine.begin() as conn:
            conn.execute(sa.text("UPDATE audit_log SET actor = :a WHERE id = :i"),
                         {"a": original, "i": target})
    assert main(["audit", "verify"]) == 0
