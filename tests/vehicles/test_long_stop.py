from __future__ import annotations

from backend.vehicles.rules import LineGeometry, LongStopRule, RuleContext
from tests.vehicles.support import LINE, LINE_LONLAT, along, drive, fix

RULE = LongStopRule()
CTX = RuleContext(line=LINE)
MID = along(700.0, 5.0)  # between stops: 700 m from either end of the first leg


def stopped(times: list[float], where: tuple[float, float] = MID, speed: float = 0.0) -> list:
    return [fix(t, where, speed=speed) for t in times]


def test_exactly_t_does_not_raise_longer_does() -> None:
    assert drive(RULE, stopped([0, 100, 200, 300]), CTX) == []
    assert drive(RULE, stopped([0, 100, 200, 300, 301]), CTX) == [(301, "long_stop", "raised")]


def test_speed_threshold_boundary() -> None:
    assert drive(RULE, stopped([0, 200, 400], speed=3.0), CTX) == []
    assert drive(RULE, stopped([0, 200, 400], speed=2.9), CTX) == [(400, "long_stop", "raised")]


def test_not_raised_within_radius_of_a_stop() -> None:
    at_stop = along(0.0, 30.0)  # exactly 30 m from the first stop: inside
    assert drive(RULE, stopped([0, 200, 400, 600], at_stop), CTX) == []
    outside = along(0.0, 30.5)
    assert drive(RULE, stopped([0, 200, 400], outside), CTX) == [(400, "long_stop", "raised")]


def test_cleared_when_it_moves_and_event_details() -> None:
    state = None
    events = []
    for p in [*stopped([0, 200, 400, 500]), fix(520, MID, speed=12.0)]:
        state, ev = RULE.step(state, p, CTX)
        events += ev
    raised, cleared = events
    assert (raised.action, cleared.action) == ("raised", "cleared")
    assert raised.started_at == cleared.started_at == stopped([0])[0].time
    assert raised.details["duration_s"] == 400 and cleared.details["duration_s"] == 520
    # 700 m from the first stop, ~694 m from the corner stop (the first leg is ~1394 m long).
    assert 690.0 < raised.details["nearest_stop_m"] < 700.0


def test_moving_briefly_restarts_the_clock() -> None:
    fixes = [*stopped([0, 200]), fix(250, MID, speed=20.0), *stopped([260, 500, 561])]
    assert drive(RULE, fixes, CTX) == [(561, "long_stop", "raised")]


def test_vehicle_without_line_is_skipped_and_line_without_stops_always_counts() -> None:
    assert drive(RULE, stopped([0, 400, 800]), RuleContext()) == []
    bare = RuleContext(line=LineGeometry.from_lonlat("L0", LINE_LONLAT))
    assert drive(RULE, stopped([0, 400]), bare) == [(400, "long_stop", "raised")]
