from __future__ import annotations

from backend.vehicles.rules import OffRouteParams, OffRouteRule, RuleContext, project
from tests.vehicles.support import LINE, along, drive, fix

RULE = OffRouteRule()
CTX = RuleContext(line=LINE)


def offsets(ds: list[float]) -> list:
    return [fix(i * 10, along(100.0 + 50 * i, d)) for i, d in enumerate(ds)]


def test_exactly_n_metres_is_on_route() -> None:
    assert drive(RULE, offsets([50.0] * 6), CTX) == []


def test_raises_on_mth_consecutive_fix_beyond_n() -> None:
    assert drive(RULE, offsets([50.01, 60.0]), CTX) == []
    assert drive(RULE, offsets([50.01, 60.0, 80.0]), CTX) == [(20, "off_route", "raised")]


def test_either_side_of_the_line_counts() -> None:
    assert drive(RULE, offsets([-60, 60, -60]), CTX) == [(20, "off_route", "raised")]


def test_one_fix_back_on_route_resets_the_count() -> None:
    assert drive(RULE, offsets([60, 60, 10, 60, 60]), CTX) == []
    assert drive(RULE, offsets([60, 60, 10, 60, 60, 60]), CTX) == [(50, "off_route", "raised")]


def test_clears_after_m_fixes_back_within_and_a_stray_fix_resets() -> None:
    ds = [70, 70, 70, 10, 10, 90, 10, 10, 10]
    assert drive(RULE, offsets(ds), CTX) == [
        (20, "off_route", "raised"), (80, "off_route", "cleared"),
    ]


def test_event_details() -> None:
    state = None
    events = []
    for p in offsets([60, 120, 80, 0, 0, 0]):
        state, ev = RULE.step(state, p, CTX)
        events += ev
    raised, cleared = events
    assert raised.started_at == offsets([60])[0].time
    assert abs(raised.details["distance_m"] - 80.0) < 0.1 and raised.details["line_id"] == "L1"
    assert abs(cleared.details["max_distance_m"] - 120.0) < 0.1


def test_vehicle_without_line_is_skipped() -> None:
    far = [fix(t, (118.5, 34.0)) for t in range(0, 100, 10)]
    assert drive(RULE, far, RuleContext()) == []


def test_unassigned_while_off_route_clears() -> None:
    state = None
    for p in offsets([70, 70, 70]):
        state, _ = RULE.step(state, p, CTX)
    state, events = RULE.step(state, fix(40, along(300, 70)), RuleContext())
    assert [(e.kind, e.action, e.details["reason"]) for e in events] == [
        ("off_route", "cleared", "no_line")
    ]


def test_distance_uses_the_whole_line_not_just_the_first_leg() -> None:
    # Points on the northbound second leg are on route, though 300 m+ from the first leg.
    north = [fix(t, (117.885, 33.484 + t / 100_000)) for t in range(0, 50, 10)]
    assert drive(RULE, north, CTX) == []
    assert drive(OffRouteRule(OffRouteParams(max_distance_m=1.0, fixes=1)), north, CTX) == []


def test_distances_are_true_metres() -> None:
    # 50 m due north of a vertex, measured on the ellipsoid: the GK 117E zone agrees within 1 cm.
    from pyproj import Geod

    lon, lat, _ = Geod(ellps="GRS80").fwd(117.870, 33.480, 180.0, 50.0)
    assert abs(LINE.distance_m(project(lon, lat)) - 50.0) < 0.01
