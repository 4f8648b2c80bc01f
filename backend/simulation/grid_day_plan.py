"""The pure planning of a grid day (scenarios/grid-day): which cases are reported when and
where, and the steps each takes, from the scenario's seed alone; no database. Playing the plan
through the case service is backend.simulation.grid_day.

The day is a working day (by default the one before today). Reports are drawn per window,
township and category from the scenario's seed, their places inside the township's grid cells
by PostGIS (seeded, when played); routine cases go report -> file (or void) -> dispatch ->
accept -> start -> handle -> send_to_verify -> confirm with delays in working minutes, kept
inside the category's stage limits; the scripted cases follow their steps. Steps after the
day's end are not planned, so late cases stay open.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from backend.catalog.grid_scenarios import GridDayScenario, SpecialCase, clock
from backend.incidents.calendar import WorkCalendar
from backend.incidents.clocks import Limits
from backend.incidents.flow import Action

LOCAL = ZoneInfo("Asia/Shanghai")
STAGE_SHARE = 0.8   # a routine stage uses at most this share of its limit: never overdue


def grid_worker(index: int) -> str:
    return f"sim-grid-{index + 1:02d}"


def handler(department: str) -> str:
    return f"sim-handler-{department.lower()}"


@dataclass(frozen=True)
class Step:
    at: datetime
    action: Action
    note: str | None = None
    department: str | None = None
    hours: float | None = None


@dataclass
class Case:
    tag: str                 # r007 (routine) or s-rework (scripted)
    key: str                 # the idempotency key
    category: str
    urgency: str
    township: str
    worker: str              # the township's grid worker
    source: str
    description: str
    reported_at: datetime
    grid_code: str
    point_seed: int
    steps: list[Step]
    special: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    lon: float = 0.0
    lat: float = 0.0
    address: str | None = None


# The day ----------------------------------------------------------------------------------------

def previous_working_day(calendar: WorkCalendar, today: date) -> date:
    day = today - timedelta(days=1)
    while not calendar.is_workday(day):
        day -= timedelta(days=1)
    return day


def key_prefix(scenario: GridDayScenario, day: date) -> str:
    return f"{scenario.name}/{scenario.seed}/{day.isoformat()}/"


def at_local(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, clock(hhmm), LOCAL)


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def plan_day(scenario: GridDayScenario, day: date, calendar: WorkCalendar,
             cells: dict[str, list[str]], limits: dict[tuple[str, str], Limits]) -> list[Case]:
    """The day's cases in report order, each with its steps up to the day's end. Pure: the same
    scenario, day, cells and limits give the same plan (`cells`: township -> grid codes in
    code order; `limits`: (category, urgency) -> limits)."""
    rng = random.Random(scenario.seed)
    end = at_local(day, scenario.end)
    worker = {name: grid_worker(i) for i, name in enumerate(scenario.townships)}
    times = []
    for window in scenario.report_windows:
        first = at_local(day, window.from_)
        span = calendar.working_seconds(first, at_local(day, window.to))
        times += [calendar.add_working(first, rng.uniform(0, span)).replace(microsecond=0)
                  for _ in range(window.reports)]
    times.sort()
    voided = set(rng.sample(range(len(times)), scenario.voided))
    prefix = key_prefix(scenario, day)

    def minutes(name: str) -> float:
        low, high = getattr(scenario.delays_min, name)
        return rng.uniform(low, high)

    def chain(start: datetime, spec: list[tuple[float, Step]]) -> list[Step]:
        """Steps `after` working minutes apart, up to the day's end."""
        out, at = [], start
        for after_min, step in spec:
            at = calendar.add_working(at, round(after_min * 60))
            if at > end:
                break
            out.append(Step(at, step.action, step.note, step.department, step.hours))
        return out

    cases = []
    for i, reported in enumerate(times):
        township = _weighted(rng, scenario.townships)
        category = _weighted(rng, {c: m.weight for c, m in scenario.categories.items()})
        mix = scenario.categories[category]
        urgency = "urgent" if mix.urgent else "normal"
        source = _weighted(rng, scenario.sources)
        say = rng.choice(mix.say)
        grid_code = rng.choice(cells[township])
        point_seed = rng.randrange(1, 2**31 - 1)
        phone = f"1380000{rng.randrange(10_000):04d}" if source == "hotline" else None
        if i in voided:
            spec = [(minutes("void"), Step(reported, Action.VOID, rng.choice(scenario.void_notes)))]
        else:
            lim = limits[(category, urgency)]
            accept = min(minutes("accept"), STAGE_SHARE * lim.accept * 60)
            start, work = _within(minutes("start"), minutes("handle"), lim.handle)
            send, check = _within(minutes("send_to_verify"), minutes("confirm"), lim.verify)
            spec = [(minutes("file"), Step(reported, Action.FILE)),
                    (minutes("dispatch"), Step(reported, Action.DISPATCH)),
                    (accept, Step(reported, Action.ACCEPT)),
                    (start, Step(reported, Action.START)),
                    (work, Step(reported, Action.HANDLE, rng.choice(scenario.handled_notes))),
                    (send, Step(reported, Action.SEND_TO_VERIFY)),
                    (check, Step(reported, Action.CONFIRM, "复核通过"))]
        cases.append(Case(
            f"r{i:03d}", f"{prefix}r{i:03d}", category, urgency, township, worker[township],
            source, say, reported, grid_code, point_seed, chain(reported, spec),
            reporter_name="12345热线市民" if phone else None, reporter_phone=phone))
    for case in scenario.special:
        cases.append(_special(case, day, scenario.seed, prefix, worker, cells, chain))
    cases.sort(key=lambda c: (c.reported_at, c.tag))
    return cases


def _within(first: float, second: float, limit_h: float) -> tuple[float, float]:
    """Two delays scaled down together to fit the share of a stage's limit."""
    room = STAGE_SHARE * limit_h * 60
    scale = min(1.0, room / (first + second)) if first + second > 0 else 1.0
    return first * scale, second * scale


def _special(case: SpecialCase, day: date, seed: int, prefix: str, worker: dict[str, str],
             cells: dict[str, list[str]],
             chain: Callable[[datetime, list[tuple[float, Step]]], list[Step]]) -> Case:
    """A scripted case; its own random stream (seed and name) picks its cell and point."""
    rng = random.Random(f"{seed}/{case.name}")
    reported = at_local(day, case.at)
    steps = [(s.after_min, Step(reported, Action(s.do), s.note, s.department, s.hours))
             for s in case.steps]
    return Case(f"s-{case.name}", f"{prefix}s-{case.name}", case.category,
                "urgent" if case.urgent else "normal", case.township, worker[case.township],
                case.source, case.say, reported, rng.choice(cells[case.township]),
                rng.randrange(1, 2**31 - 1), chain(reported, steps), special=case.name)
