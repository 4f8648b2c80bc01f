"""Stage clocks replayed from a case's history, with a frozen clock, across a weekend and the
National Day holiday; pauses for extensions, returns and parking; 按期 on closing."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from backend.incidents.calendar import WorkCalendar
from backend.incidents.clocks import FlowEvent, Limits, replay
from backend.incidents.flow import State
from tests.conftest import ROOT

CST = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar.load(ROOT / "scenarios" / "sixian" / "work_calendar_2026.yaml")
LIMITS = Limits(accept=2, handle=16, verify=4, total=24)


def at(day: str, hm: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{hm}").replace(tzinfo=CST)


def ev(day: str, hm: str, action: str, state: State, hours: float = 0.0) -> FlowEvent:
    return FlowEvent(at(day, hm), action, state, hours)


def test_no_clock_runs_before_dispatch() -> None:
    events = [ev("2026-11-20", "09:00", "report", State.REPORTED),
              ev("2026-11-20", "09:10", "file", State.FILED)]
    clocks = replay(events, LIMITS, CAL, at("2026-11-24", "09:00"))
    assert clocks.case.elapsed_h == 0 and not clocks.case.started and not clocks.case.running


def test_accept_clock_runs_over_a_weekend_only_in_office_hours() -> None:
    # Dispatched Friday 16:30; by Monday 09:30 two working hours have passed: at the limit.
    events = [ev("2026-11-27", "16:30", "dispatch", State.DISPATCHED)]
    monday = replay(events, LIMITS, CAL, at("2026-11-30", "09:30"))
    accept = monday.stages["accept"]
    assert accept.elapsed_h == 2.0 and accept.running and not accept.overdue
    assert accept.due_at == at("2026-11-30", "09:30")
    later = replay(events, LIMITS, CAL, at("2026-11-30", "09:31"))
    assert later.stages["accept"].overdue and later.overdue_now() == ["accept"]
    assert later.stages["accept"].left_h < 0


def test_the_holiday_stops_the_handle_clock_and_pauses_are_not_counted() -> None:
    events = [
        ev("2026-09-29", "09:00", "dispatch", State.DISPATCHED),
        ev("2026-09-29", "10:00", "accept", State.ACCEPTED),          # accept: 1 h
        ev("2026-09-29", "11:00", "start", State.IN_PROGRESS),
        ev("2026-09-29", "11:30", "request_extension", State.IN_PROGRESS),  # paused from here
        ev("2026-09-30", "09:00", "grant_extension", State.IN_PROGRESS, 8.0),
        ev("2026-10-08", "10:00", "handle", State.HANDLED),
    ]
    clocks = replay(events, LIMITS, CAL, at("2026-10-08", "10:00"))
    # handle: 29 Sep 10:00-11:30 (1.5 h) + 30 Sep 09:00-12:00, 14:00-17:30 (6.5 h), the
    # holiday 1-7 Oct not at all, + 8 Oct 08:30-10:00 (1.5 h)
    assert clocks.stages["accept"].elapsed_h == 1.0
    assert clocks.stages["handle"].elapsed_h == 9.5
    assert clocks.stages["handle"].limit_h == 24.0 and clocks.case.limit_h == 32.0
    assert clocks.stages["verify"].running and clocks.stages["verify"].elapsed_h == 0


def test_returned_and_parked_pause_the_case_clock_and_on_time_is_judged_at_closing() -> None:
    events = [
        ev("2026-11-23", "09:00", "dispatch", State.DISPATCHED),
        ev("2026-11-23", "10:00", "return", State.RETURNED),        # wrong unit: paused
        ev("2026-11-24", "10:00", "dispatch", State.DISPATCHED),    # 1 day later
        ev("2026-11-24", "10:30", "accept", State.ACCEPTED),
        ev("2026-11-24", "11:00", "park", State.PARKED),            # paused
        ev("2026-11-26", "09:00", "unpark", State.IN_PROGRESS),
        ev("2026-11-26", "11:00", "handle", State.HANDLED),
        ev("2026-11-26", "15:00", "send_to_verify", State.VERIFYING),
        ev("2026-11-26", "16:00", "confirm", State.CLOSED),
    ]
    clocks = replay(events, LIMITS, CAL, at("2026-12-31", "12:00"))
    assert clocks.stages["accept"].elapsed_h == 1.5
    assert clocks.stages["handle"].elapsed_h == 2.5
    assert clocks.stages["verify"].elapsed_h == 3.0       # 11:00-12:00 and 14:00-16:00
    assert clocks.case.elapsed_h == 7.0 and not clocks.case.running
    assert clocks.on_time is True


def test_a_late_stage_makes_the_case_late() -> None:
    events = [
        ev("2026-11-23", "09:00", "dispatch", State.DISPATCHED),
        ev("2026-11-23", "14:30", "accept", State.ACCEPTED),        # 3.5 h > 2 h
        ev("2026-11-23", "15:00", "start", State.IN_PROGRESS),
        ev("2026-11-23", "16:00", "handle", State.HANDLED),
        ev("2026-11-23", "16:30", "send_to_verify", State.VERIFYING),
        ev("2026-11-23", "17:00", "confirm", State.CLOSED),
    ]
    clocks = replay(events, LIMITS, CAL, at("2026-11-23", "17:00"))
    assert clocks.stages["accept"].overdue and clocks.on_time is False
