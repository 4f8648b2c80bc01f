from __future__ import annotations

import dataclasses

import pytest
from shapely.geometry import box

from backend.ingest.position import Position
from backend.vehicles.rules import (
    DEFAULT_RULES,
    AlarmBitsRule,
    AlarmEvent,
    Geofence,
    GeofenceRule,
    LongStopRule,
    OffRouteParams,
    OffRouteRule,
    OverspeedParams,
    OverspeedRule,
    RuleContext,
    VehicleState,
    run_rules,
)
from tests.vehicles.support import LINE, along, at, fix

SOS = 1 << 0
# A school zone straddling the first leg between 900 m and 1100 m along it.
FENCE = Geofence.make(
    "g-school", "School zone", box(along(900.0)[0], 33.475, along(1100.0)[0], 33.485)
)
CTX = RuleContext(line=LINE, geofences=(FENCE,))


def run_all(
    fixes: list[Position], ctx: RuleContext = CTX, rules: tuple = DEFAULT_RULES
) -> tuple[VehicleState | None, list[AlarmEvent]]:
    state: VehicleState | None = None
    events: list[AlarmEvent] = []
    for p in fixes:
        state, ev = run_rules(state, p, ctx, rules)
        events += ev
    return state, events


def test_default_rules_order_and_unique_names() -> None:
    assert [r.name for r in DEFAULT_RULES] == [
        "overspeed", "off_route", "long_stop", "geofence", "jt808_bits",
    ]


EAGER = (
    OverspeedRule(OverspeedParams(min_duration_s=0.0)),
    OffRouteRule(OffRouteParams(fixes=1)),
    LongStopRule(),
    GeofenceRule(),
    AlarmBitsRule(),
)


def test_events_of_one_fix_come_out_in_rule_order() -> None:
    first = fix(0, along(700.0), speed=20.0)
    storm = fix(10, along(1000.0, -100.0), speed=90.0, flags=SOS | 1 << 30)
    _, events = run_all([first, storm], rules=EAGER)
    assert [(e.kind, e.action) for e in events] == [
        ("overspeed", "raised"),
        ("off_route", "raised"),
        ("geofence_enter", "instant"),
        ("sos", "raised"),
        ("rollover", "raised"),
    ]
    _, reversed_events = run_all([first, storm], rules=tuple(reversed(EAGER)))
    # Rules run in the given order; within the bits rule, events stay in bit order.
    assert [e.kind for e in reversed_events] == [
        "sos", "rollover", "geofence_enter", "off_route", "overspeed",
    ]


def test_state_is_immutable_and_steps_are_pure() -> None:
    p0, p1 = fix(0, along(100.0)), fix(10, along(200.0, 80.0), speed=80.0, flags=SOS)
    s0, _ = run_rules(None, p0, CTX)
    s1a, ev_a = run_rules(s0, p1, CTX)
    s1b, ev_b = run_rules(s0, p1, CTX)
    assert s1a == s1b and ev_a == ev_b
    assert s0.last_time == p0.time and s1a.last_time == p1.time
    with pytest.raises(dataclasses.FrozenInstanceError):
        s0.last_time = None  # type: ignore[misc]
    with pytest.raises(TypeError):
        s0.rules["overspeed"] = None  # type: ignore[index]


def test_state_of_another_vehicle_is_refused() -> None:
    s, _ = run_rules(None, fix(0), CTX)
    with pytest.raises(ValueError, match="bus-2"):
        run_rules(s, fix(10, vid="bus-2"), CTX)


def test_late_fixes_leave_stateful_rules_alone() -> None:
    off = [fix(t, along(300.0 + t, 80.0)) for t in (10, 20)]
    state, events = run_all(off)
    assert state is not None and events == []
    # Backfilled off-route fixes (older, and one repeating the last time) do not count...
    for late in (fix(15, along(310.0, 90.0)), fix(20, along(320.0, 90.0)), fix(5, speed=120.0)):
        same, ev = run_rules(state, late, CTX)
        assert same is state and ev == []
    # ...so the alarm is raised on the third live fix, not earlier.
    state, events = run_rules(state, fix(30, along(330.0, 80.0)), CTX)
    assert [(at(e), e.kind, e.action) for e in events] == [(30, "off_route", "raised")]


def test_late_alarm_bits_are_still_reported_without_touching_live_state() -> None:
    state, _ = run_all([fix(0), fix(100)])
    assert state is not None
    same, events = run_rules(state, fix(50, flags=SOS), CTX)
    assert same is state
    assert [(at(e), e.kind, e.action, e.details["late"]) for e in events] == [
        (50, "sos", "instant", True)
    ]
    # The live stream never had SOS set: nothing to clear afterwards.
    _, events = run_rules(state, fix(110), CTX)
    assert events == []


def _p(t: float, s: float, d: float = 0.0, v: float = 40.0, flags: int = 0) -> Position:
    return fix(t, along(s, d), speed=v, flags=flags)


def test_scripted_drive_produces_exactly_the_expected_events() -> None:
    script = [
        *[_p(t, 0.0, v=0.0) for t in range(0, 70, 10)],      # dwell at the first stop
        _p(70, 100), _p(80, 200),
        _p(90, 300, v=75), _p(100, 420, v=75), _p(110, 540, v=75),  # speeding 20 s
        _p(120, 660, v=50), _p(130, 760, v=50),                  # back under the limit 10 s
        _p(140, 860), _p(150, 960), _p(160, 1060), _p(170, 1160),  # through the school zone
        _p(180, 1200, -120, 30), _p(190, 1250, -120, 30), _p(200, 1300, -120, 30),  # detour
        _p(210, 1310, v=5), _p(220, 1320, v=5), _p(230, 1330, v=5),  # back on the line
        *[_p(t, 1330, v=0.0) for t in range(240, 571, 30)],   # stuck 64 m from the corner stop
        _p(95, 5000, 500, v=120, flags=SOS),                  # late 0x0704 fix: instant only
        _p(580, 1330, v=0.0, flags=SOS),                      # driver presses SOS
        _p(590, 1340, v=20, flags=SOS),                       # moves off
        _p(600, 1390, v=30),                                  # SOS released
        fix(610, (117.885, 33.482), speed=30.0),               # up the second leg
    ]
    _, events = run_all(script)
    assert [(at(e), e.kind, e.action) for e in events] == [
        (110, "overspeed", "raised"),
        (130, "overspeed", "cleared"),
        (150, "geofence_enter", "instant"),
        (170, "geofence_exit", "instant"),
        (200, "off_route", "raised"),
        (230, "off_route", "cleared"),
        (570, "long_stop", "raised"),
        (95, "sos", "instant"),
        (580, "sos", "raised"),
        (590, "long_stop", "cleared"),
        (600, "sos", "cleared"),
    ]
    assert all(e.vehicle_id == "bus-1" for e in events)
    by_kind = {(e.kind, e.action): e for e in events}
    assert by_kind[("long_stop", "raised")].details["duration_s"] == 330
    assert at_started(by_kind[("overspeed", "cleared")]) == 90
    assert at_started(by_kind[("sos", "cleared")]) == 580


def at_started(e: AlarmEvent) -> float:
    return (e.started_at - fix(0).time).total_seconds()
