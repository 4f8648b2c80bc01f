from __future__ import annotations

from backend.ingest.position import Position
from backend.vehicles.rules import OverspeedParams, OverspeedRule, RuleContext
from tests.vehicles.support import T0, drive, fix

RULE = OverspeedRule()
BUS = RuleContext()  # class "bus": 60 km/h, threshold 66 with the default 10 % tolerance


def speeds(pairs: list[tuple[float, float | None]]) -> list[Position]:
    return [fix(t, speed=v) for t, v in pairs]


def test_exactly_at_threshold_never_raises() -> None:
    assert drive(RULE, speeds([(t, 66.0) for t in range(0, 120, 5)]), BUS) == []


def test_exactly_min_duration_does_not_raise_one_second_more_does() -> None:
    over = [(t, 70.0) for t in (0, 5, 10, 15)]
    assert drive(RULE, speeds(over), BUS) == []
    assert drive(RULE, speeds([*over, (16, 70.0)]), BUS) == [(16, "overspeed", "raised")]


def test_raised_event_carries_start_limit_and_source() -> None:
    state = None
    events = []
    for p in speeds([(0, 80.0), (10, 90.0), (20, 85.0)]):
        state, ev = RULE.step(state, p, BUS)
        events += ev
    (e,) = events
    assert e.started_at == T0 and e.severity == "warning"
    assert e.details["limit_kmh"] == 60.0 and e.details["limit_source"] == "class"
    assert e.details["speed_kmh"] == 85.0


def test_dip_under_threshold_restarts_duration() -> None:
    fixes = speeds([(0, 70.0), (10, 70.0), (14, 66.0), (20, 70.0), (30, 70.0), (36, 70.0)])
    assert drive(RULE, fixes, BUS) == [(36, "overspeed", "raised")]


def test_the_stricter_of_segment_and_class_limits_applies() -> None:
    seg = RuleContext(speed_limit_kmh=lambda p: 40.0)
    assert drive(RULE, speeds([(0, 45.0), (20, 45.0)]), seg) == [(20, "overspeed", "raised")]
    # An 80 km/h road does not lift a bus's 60 km/h limit.
    fast_road = RuleContext(speed_limit_kmh=lambda p: 80.0)
    assert drive(RULE, speeds([(0, 70.0), (20, 70.0)]), fast_road) == [
        (20, "overspeed", "raised")]
    unknown = RuleContext(speed_limit_kmh=lambda p: None)
    assert drive(RULE, speeds([(0, 45.0), (20, 45.0)]), unknown) == []
    coach = RuleContext(vehicle_class="coach")
    assert drive(RULE, speeds([(0, 90.0), (20, 90.0)]), coach) == []


def test_hysteresis_band_holds_and_clearing_needs_time_under_limit() -> None:
    fixes = speeds([
        (0, 80.0), (20, 80.0),                 # raised at 20
        (30, 63.0), (60, 63.0),                # above limit, under threshold: still raised
        (70, 60.0), (75, 58.0),                # under for 5 s
        (78, 61.0),                            # back over the limit: under-streak restarts
        (80, 55.0), (89, 55.0), (90, 55.0),    # 10 s under: cleared at 90
    ])
    assert drive(RULE, fixes, BUS) == [(20, "overspeed", "raised"), (90, "overspeed", "cleared")]


def test_cleared_event_reports_peak_and_start() -> None:
    state = None
    events = []
    for p in speeds([(0, 80.0), (20, 95.0), (30, 70.0), (40, 50.0), (50, 50.0)]):
        state, ev = RULE.step(state, p, BUS)
        events += ev
    assert [e.action for e in events] == ["raised", "cleared"]
    assert events[1].started_at == T0 and events[1].details["max_speed_kmh"] == 95.0


def test_gap_between_fixes_restarts_count() -> None:
    assert drive(RULE, speeds([(0, 80.0), (100, 80.0), (110, 80.0)]), BUS) == []


def test_missing_speed_is_no_evidence_either_way() -> None:
    fixes = speeds([(0, 80.0), (8, None), (16, 80.0)])
    assert drive(RULE, fixes, BUS) == [(16, "overspeed", "raised")]


def test_custom_params() -> None:
    strict = OverspeedRule(OverspeedParams(tolerance=0.0, min_duration_s=0.0, clear_after_s=0.0))
    fixes = speeds([(0, 60.5), (1, 60.0)])
    assert drive(strict, fixes, BUS) == [(0, "overspeed", "raised"), (1, "overspeed", "cleared")]
