"""Stage clocks of a case, replayed from its history. Pure: events, a calendar, limits, now.

Clocks start at dispatch. One clock per stage, each with its own limit in working hours:
  accept  runs while the case is dispatched (waiting to be accepted);
  handle  runs while it is accepted or in progress;
  verify  runs while it is handled or being verified;
and the case clock runs through all of them until it is closed. Every clock pauses while an
extension request is pending, while the case is returned (wrong unit) and while it is parked.
A granted extension adds its hours to the handle limit and to the case limit. 按期 (on time):
closed with every stage and the case within their limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from backend.incidents.calendar import WorkCalendar
from backend.incidents.flow import Action, State

STAGES = ("accept", "handle", "verify")
RUNS_IN: dict[str, frozenset[State]] = {
    "accept": frozenset({State.DISPATCHED}),
    "handle": frozenset({State.ACCEPTED, State.IN_PROGRESS}),
    "verify": frozenset({State.HANDLED, State.VERIFYING}),
}
CASE_RUNS_IN = frozenset().union(*RUNS_IN.values())


@dataclass(frozen=True, slots=True)
class Limits:
    """Working hours per stage and for the whole case."""

    accept: float
    handle: float
    verify: float
    total: float


@dataclass(frozen=True, slots=True)
class FlowEvent:
    at: datetime
    action: str          # an Action value, or "report"
    to_state: State
    extension_hours: float = 0.0  # for grant_extension


@dataclass(frozen=True, slots=True)
class Clock:
    name: str            # accept | handle | verify | case
    elapsed_h: float
    limit_h: float
    running: bool
    started: bool
    due_at: datetime | None  # when a running clock runs out (None when not running)
    overdue: bool

    @property
    def left_h(self) -> float:
        """Working hours left (negative when overdue)."""
        return round(self.limit_h - self.elapsed_h, 4)


@dataclass(frozen=True, slots=True)
class Clocks:
    stages: dict[str, Clock]
    case: Clock
    on_time: bool | None     # None until the case is closed

    def overdue_now(self) -> list[str]:
        return [c.name for c in (*self.stages.values(), self.case) if c.overdue]


def replay(events: Sequence[FlowEvent], limits: Limits, calendar: WorkCalendar,
           now: datetime) -> Clocks:
    """The clocks after `events` (in time order), as of `now`."""
    elapsed = {name: 0.0 for name in (*STAGES, "case")}
    started = dict.fromkeys(elapsed, False)
    extra = 0.0
    state: State | None = None
    pending = False
    since: datetime | None = None
    closed = False

    def running(name: str) -> bool:
        if state is None or pending or not started["case"]:
            return False
        return state in (CASE_RUNS_IN if name == "case" else RUNS_IN[name])

    def advance(until: datetime) -> None:
        if since is None:
            return
        seconds = None
        for name in elapsed:
            if running(name):
                if seconds is None:
                    seconds = calendar.working_seconds(since, until)
                elapsed[name] += seconds

    for ev in events:
        advance(ev.at)
        since = ev.at
        if ev.action == Action.DISPATCH:
            started["case"] = True
        if ev.action == Action.REQUEST_EXTENSION:
            pending = True
        elif ev.action in (Action.GRANT_EXTENSION, Action.DENY_EXTENSION):
            pending = False
            extra += ev.extension_hours if ev.action == Action.GRANT_EXTENSION else 0.0
        elif ev.to_state not in (State.ACCEPTED, State.IN_PROGRESS):
            pending = False
        state = ev.to_state
        for name in STAGES:
            if started["case"] and state in RUNS_IN[name]:
                started[name] = True
        closed = state is State.CLOSED
    if not closed:
        advance(now)

    limit_of = {"accept": limits.accept, "handle": limits.handle + extra,
                "verify": limits.verify, "case": limits.total + extra}

    def clock(name: str) -> Clock:
        limit_s = limit_of[name] * 3600.0
        is_running = not closed and running(name)
        # A clock already over its limit ran out at `now` at the latest.
        due = calendar.add_working(now, limit_s - elapsed[name]) if is_running else None
        return Clock(name, round(elapsed[name] / 3600.0, 4), limit_of[name], is_running,
                     started[name], due, elapsed[name] > limit_s + 1e-6)

    stages = {name: clock(name) for name in STAGES}
    case = clock("case")
    on_time = None
    if closed:
        on_time = not case.overdue and not any(c.overdue for c in stages.values())
    return Clocks(stages, case, on_time)
