"""Play a grid day (planned by backend.simulation.grid_day_plan) through the real case service
with a simulated clock: every report and step is taken at its simulated time by the user whose
role the flow gives it, so each case's history, stage clocks and 督办 are what a real day would
leave. Also the entry points (`cityops scenario run grid-day`, `cityops demo`).

Steps after the day's end are not taken, so late cases stay open. Every `sweep_every_min` the
server's own sweep (`supervise_case`) runs at the simulated time and flags what is overdue then.

Idempotent: each case carries the idempotency key `<name>/<seed>/<day>/<tag>`; a second run
for the same day finds every case and takes only the steps a case does not have yet (none
after a complete run), and sweeps only if it took a step. Nothing is published on the hub
(the server need not be running); consoles see the cases on their next load.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from backend.audit.chain import append as audit
from backend.auth.permissions import Principal, principal_for
from backend.auth.users import create_user
from backend.catalog.grid_scenarios import GridDayScenario, ScenarioError
from backend.errors import CityOpsError, InvalidInput
from backend.incidents.calendar import WorkCalendar
from backend.incidents.clocks import Limits
from backend.incidents.flow import Action
from backend.incidents.service import (
    NewIncident,
    StepParams,
    create_incident,
    overdue_candidates,
    supervise_case,
    transition,
)
from backend.simulation.grid_day_plan import (
    LOCAL,
    Case,
    Step,
    at_local,
    grid_worker,
    handler,
    key_prefix,
    plan_day,
    previous_working_day,
)

SUPERVISOR, DISPATCHER, COMMANDER = "sim-supervisor", "sim-dispatcher", "sim-commander"
CENTRE_USERS = [(SUPERVISOR, "监督中心受理员（模拟）", "supervisor"),
                (DISPATCHER, "指挥中心调度员（模拟）", "dispatcher"),
                (COMMANDER, "指挥中心值班长（模拟）", "commander")]
BY_CENTRE = {Action.FILE: SUPERVISOR, Action.VOID: SUPERVISOR,
             Action.SEND_TO_VERIFY: SUPERVISOR, Action.DISPATCH: DISPATCHER,
             Action.GRANT_EXTENSION: COMMANDER, Action.DENY_EXTENSION: COMMANDER,
             Action.PARK: COMMANDER, Action.UNPARK: COMMANDER}
BY_WORKER = {Action.CONFIRM, Action.REWORK}   # the township's grid worker, sent to verify
ON_SITE = {Action.HANDLE, Action.CONFIRM, Action.REWORK}  # taken at the case's place


@dataclass
class Report:
    scenario: str
    day: date
    cases: int = 0
    created: int = 0
    steps: int = 0
    sweeps: int = 0
    supervised: list[str] = field(default_factory=list)   # flagged by this run's sweeps
    others_supervised: int = 0                             # other open cases the sweeps flagged
    abandoned: list[str] = field(default_factory=list)    # resumed cases whose step failed
    states: dict[str, int] = field(default_factory=dict)
    special: dict[str, str] = field(default_factory=dict)  # name: case number

    @property
    def open(self) -> int:
        return sum(n for s, n in self.states.items() if s not in ("closed", "voided"))

    def lines(self) -> list[str]:
        states = " · ".join(f"{s} {n}" for s, n in sorted(self.states.items()))
        out = [f"{self.scenario} {self.day}: {self.cases} cases ({self.created} new), "
               f"{self.steps} steps taken, {self.sweeps} sweeps, {self.open} open at the end",
               f"  {states}"]
        if self.special:
            out.append("  " + " · ".join(f"{k} {v}" for k, v in self.special.items()))
        if self.supervised:
            out.append(f"  督办 by the sweep: {', '.join(self.supervised)}")
        if self.others_supervised:
            out.append(f"  the sweeps also flagged {self.others_supervised} other overdue case(s)")
        if self.abandoned:
            out.append(f"  not resumed (changed since): {', '.join(self.abandoned)}")
        return out


# The database -----------------------------------------------------------------------------------

def _label(scenario: GridDayScenario) -> str:
    return f"{scenario.name}/scenario.yaml"


def ensure_categories(engine: sa.Engine, scenario: GridDayScenario, categories_file: Path
                      ) -> None:
    """Load the county's categories when the server has not done so yet (a fresh demo)."""
    from backend.incidents.categories import load_categories
    from backend.incidents.supervision import load_category_book

    wanted = set(scenario.categories) | {c.category for c in scenario.special}
    with engine.connect() as conn:
        known = set(conn.execute(sa.text(
            "SELECT code FROM case_categories WHERE active AND code = ANY(:c)"),
            {"c": sorted(wanted)}).scalars())
    if known != wanted:
        load_category_book(engine, load_categories(categories_file), categories_file.name)


def read_county(conn: sa.Connection, scenario: GridDayScenario
                ) -> tuple[dict[str, list[str]], dict[tuple[str, str], Limits], dict[str, str]]:
    """The townships' grid cells and the categories' limits and units, or ScenarioError naming
    the scenario's keys that the database does not know."""
    problems = []
    cells: dict[str, list[str]] = {}
    for name in scenario.townships:
        cells[name] = list(conn.execute(sa.text(
            "SELECT grid_code FROM grid_cells WHERE township_name = :t ORDER BY grid_code"),
            {"t": name}).scalars())
        if not cells[name]:
            problems.append(f"{_label(scenario)}: townships.{name}: no grid cells in a "
                            "township of that name (is the county loaded?)")
    rows = {r.code: r for r in conn.execute(sa.text(
        "SELECT code, department_code, limits FROM case_categories WHERE active"))}
    used = [(f"categories.{c}", c) for c in scenario.categories] + [
        (f"special.{i}.category", c.category) for i, c in enumerate(scenario.special)]
    for key, code in used:
        if code not in rows:
            problems.append(f"{_label(scenario)}: {key}: {code} is not an active case category")
    departments = set(conn.execute(sa.text("SELECT code FROM departments")).scalars())
    for i, case in enumerate(scenario.special):
        for j, step in enumerate(case.steps):
            if step.department and step.department not in departments:
                problems.append(f"{_label(scenario)}: special.{i}.steps.{j}.department: "
                                f"unknown unit {step.department}")
    if problems:
        raise ScenarioError(problems)
    limits = {(code, urgency): Limits(**row.limits[urgency])
              for code, row in rows.items() for urgency in row.limits}
    return cells, limits, {code: row.department_code for code, row in rows.items()}


def place(conn: sa.Connection, cases: list[Case]) -> None:
    """A point inside each case's grid cell (seeded, so the same every run) and its address."""
    rows = conn.execute(sa.text("""
SELECT k.n, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat, g.township_name, g.community
FROM unnest(CAST(:codes AS text[]), CAST(:seeds AS int[])) WITH ORDINALITY AS k(code, seed, n)
JOIN grid_cells g ON g.grid_code = k.code
CROSS JOIN LATERAL (SELECT (ST_Dump(ST_GeneratePoints(g.geom, 1, k.seed))).geom) p
ORDER BY k.n"""), {"codes": [c.grid_code for c in cases],
                   "seeds": [c.point_seed for c in cases]}).all()
    for case, row in zip(cases, rows, strict=True):
        case.lon, case.lat = round(row.lon, 7), round(row.lat, 7)
        case.address = f"{row.township_name}{row.community or ''}"


def ensure_users(conn: sa.Connection, scenario: GridDayScenario, units: set[str]
                 ) -> dict[str, Principal]:
    """The scenario's own users (random passwords nobody is told: they only act here), the grid
    workers on their township's cells and the handlers in their units. Demo users are left
    alone."""
    names = dict(conn.execute(sa.text("SELECT code, name FROM departments")).all())
    wanted = [(u, d, [r], None) for u, d, r in CENTRE_USERS]
    wanted += [(grid_worker(i), f"网格员（{t}）", ["grid_worker"], None)
               for i, t in enumerate(scenario.townships)]
    wanted += [(handler(u), f"{names.get(u, u)}办件人（模拟）", ["department_handler"], u)
               for u in sorted(units)]
    actor = f"scenario:{scenario.name}"
    existing = {r.username: r for r in conn.execute(sa.text(
        "SELECT username, department FROM users WHERE username = ANY(:u)"),
        {"u": [w[0] for w in wanted]})}
    for username, display, roles, unit in wanted:
        if username not in existing:
            create_user(conn, username, secrets.token_urlsafe(24), roles,
                        display_name=display, department=unit)
        elif unit and existing[username].department != unit:
            conn.execute(sa.text("UPDATE users SET department = :d WHERE username = :u"),
                         {"d": unit, "u": username})
            audit(conn, actor, "user.update", "user", username, {"department": unit})
    for i, township in enumerate(scenario.townships):
        added = conn.execute(sa.text("""
INSERT INTO grid_workers (grid_code, user_id)
SELECT g.grid_code, u.id FROM grid_cells g, users u
WHERE g.township_name = :t AND u.username = :u ON CONFLICT DO NOTHING"""),
            {"t": township, "u": grid_worker(i)}).rowcount
        if added:
            audit(conn, actor, "grid.assign_workers", "user", grid_worker(i),
                  {"township": township, "cells_added": added})
    return {r.username: principal_for(r.id, r.username, r.display_name, r.roles)
            for r in conn.execute(sa.text(
                "SELECT id, username, display_name, roles FROM users WHERE username = ANY(:u)"),
                {"u": [w[0] for w in wanted]})}


def _existing(conn: sa.Connection, prefix: str) -> dict[str, tuple[int, str, int]]:
    """key -> (case id, its unit now, steps taken by people after the report)."""
    return {r.idempotency_key: (r.id, r.department_code, r.steps) for r in conn.execute(sa.text(
        "SELECT i.id, i.idempotency_key, i.department_code, (SELECT count(*) - 1 FROM "
        "incident_events e WHERE e.incident_id = i.id AND e.actor <> 'system') AS steps "
        "FROM incidents i WHERE starts_with(i.idempotency_key, :p)"), {"p": prefix})}


# Playing ----------------------------------------------------------------------------------------

def play(engine: sa.Engine, scenario: GridDayScenario, *, calendar: WorkCalendar,
         categories_file: Path, day: date | None = None, today: date | None = None) -> Report:
    """Play the scenario's day (default: the working day before `today`, local) and report."""
    day = day or previous_working_day(calendar, today or datetime.now(LOCAL).date())
    if not calendar.is_workday(day):
        raise InvalidInput(f"{day} is not a working day in the work calendar: pick another")
    if at_local(day, scenario.end) > datetime.now(LOCAL):
        raise InvalidInput(f"{day} has not ended yet ({scenario.end} local): play a past "
                           "working day, so that no step lies in the future")
    ensure_categories(engine, scenario, categories_file)
    prefix = key_prefix(scenario, day)
    with engine.begin() as conn:
        cells, limits, departments = read_county(conn, scenario)
        cases = plan_day(scenario, day, calendar, cells, limits)
        place(conn, cases)
        units = {departments[c.category] for c in cases} | {
            s.department for c in cases for s in c.steps if s.department}
        who = ensure_users(conn, scenario, units)
        existing = _existing(conn, prefix)
    report = Report(scenario.name, day)
    ids: dict[int, int] = {}          # case index -> incident id
    unit: dict[int, str] = {}         # case index -> the unit it is dispatched to now
    done: dict[int, int] = {}         # case index -> steps it already has
    for n, case in enumerate(cases):
        if case.key in existing:
            ids[n], unit[n], done[n] = existing[case.key]
    resumed, abandoned = set(ids), set()
    timeline = [(c.reported_at, 0, n, -1) for n, c in enumerate(cases)]
    timeline += [(s.at, 0, n, j) for n, c in enumerate(cases) for j, s in enumerate(c.steps)]
    every = timedelta(minutes=scenario.sweep_every_min)
    at, end = at_local(day, scenario.start) + every, at_local(day, scenario.end)
    while at <= end:
        timeline.append((at, 1, -1, -1))
        at += every
    timeline.sort()
    ours: dict[int, int] = {}          # incident id -> case index
    with engine.connect() as conn:     # one session; each step is its own transaction
        for at, is_sweep, n, j in timeline:
            if is_sweep:
                if report.steps:  # a rerun that took no step leaves the day as it was
                    _sweep(conn, calendar, at, ours, report)
                continue
            case = cases[n]
            if j < 0:
                if n not in ids:
                    ids[n], unit[n] = _report(conn, case, who, at), departments[case.category]
                    done[n] = 0
                    report.created += 1
                    report.steps += 1
                ours[ids[n]] = n
                continue
            if j < done[n] or n in abandoned:
                continue
            step = case.steps[j]
            if step.action is Action.DISPATCH:
                unit[n] = step.department or departments[case.category]
            try:
                with _transaction(conn):
                    transition(conn, ids[n], step.action,
                               _actor(step.action, case, unit[n], who),
                               _params(step, case, unit[n]), calendar, step.at)
            except CityOpsError:
                if n not in resumed:
                    raise
                abandoned.add(n)  # changed by hand since the first run: leave it as it is
                report.abandoned.append(case.key)
                continue
            report.steps += 1
        _summarise(conn, prefix, cases, report)
    return report


@contextmanager
def _transaction(conn: sa.Connection) -> Iterator[None]:
    """One step's transaction. Its commit need not wait for the disk: a crash loses at most the
    last steps, which a rerun takes again."""
    with conn.begin():
        conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
        yield


def _report(conn: sa.Connection, case: Case, who: dict[str, Principal], at: datetime) -> int:
    reporter = who[case.worker] if case.source == "grid_worker" else who[SUPERVISOR]
    with _transaction(conn):
        incident_id, _ = create_incident(conn, NewIncident(
            category_code=case.category, description=case.description, lon=case.lon,
            lat=case.lat, source=case.source, urgency=case.urgency, address=case.address,
            idempotency_key=case.key, reporter_name=case.reporter_name,
            reporter_phone=case.reporter_phone), reporter, at)
    return incident_id


def _actor(action: Action, case: Case, unit: str, who: dict[str, Principal]) -> Principal:
    if action in BY_CENTRE:
        return who[BY_CENTRE[action]]
    if action in BY_WORKER:
        return who[case.worker]
    return who[handler(unit)]


def _params(step: Step, case: Case, unit: str) -> StepParams:
    where = {"lon": case.lon, "lat": case.lat} if step.action in ON_SITE else {}
    return StepParams(
        note=step.note, extension_hours=step.hours,
        department_code=unit if step.action is Action.DISPATCH else None,
        verifier=case.worker if step.action is Action.SEND_TO_VERIFY else None, **where)


def _sweep(conn: sa.Connection, calendar: WorkCalendar, at: datetime, ours: dict[int, int],
           report: Report) -> None:
    """The server's 督办 sweep (what supervision_loop runs every minute), at simulated `at`."""
    with _transaction(conn):
        candidates = overdue_candidates(conn, at)
    changes = []
    for incident_id in candidates:  # one transaction per case, as the server's sweep does
        with _transaction(conn):
            change = supervise_case(conn, incident_id, calendar, at)
        if change is not None:
            changes.append(change)
    report.sweeps += 1
    for change in changes:
        if change.incident_id in ours:
            report.supervised.append(change.data["case_no"])
        else:
            report.others_supervised += 1


def _summarise(conn: sa.Connection, prefix: str, cases: list[Case], report: Report) -> None:
    rows = conn.execute(sa.text(
        "SELECT idempotency_key, case_no, state FROM incidents "
        "WHERE starts_with(idempotency_key, :p)"), {"p": prefix}).all()
    conn.rollback()
    report.cases = len(rows)
    report.states = dict(Counter(r.state for r in rows))
    by_key = {r.idempotency_key: r.case_no for r in rows}
    report.special = {c.special: by_key[c.key] for c in cases
                      if c.special and c.key in by_key}


# Entry points -----------------------------------------------------------------------------------

def run_from_cli(settings, name: str, day: str | None) -> int:  # noqa: ANN001
    """`cityops scenario run grid-day [--day YYYY-MM-DD]`."""
    import sys

    from backend.catalog.grid_scenarios import load_grid_day
    from backend.db.engine import create_engine, resolve_urls

    try:
        scenario = load_grid_day(name, settings.scenarios_dir)
        the_day = date.fromisoformat(day) if day else None
    except ScenarioError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 1
    except ValueError:
        raise InvalidInput(f"--day {day!r} is not a date like 2026-11-23") from None
    engine = create_engine(resolve_urls(settings).app, pool_size=1)
    try:
        report = play(engine, scenario, calendar=WorkCalendar.load(*settings.work_calendars),
                      categories_file=settings.case_categories, day=the_day)
    except ScenarioError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print("\n".join(report.lines()), flush=True)
    return 0


def play_for_demo(settings, engine: sa.Engine, name: str = "grid-day") -> None:  # noqa: ANN001
    """`cityops demo`: yesterday's (the previous working day's) grid day, once."""
    from backend.catalog.grid_scenarios import load_grid_day

    scenario = load_grid_day(name, settings.scenarios_dir)
    report = play(engine, scenario, calendar=WorkCalendar.load(*settings.work_calendars),
                  categories_file=settings.case_categories)
    if not report.created and not report.steps:
        print(f"{name} {report.day}: already played ({report.cases} cases)", flush=True)
    else:
        print("\n".join(report.lines()), flush=True)
