"""The pure line operations on a hand-built L-shaped line (tests/transit/lines.py): progress,
direction both ways and its fallbacks, next stop both ways and through the turn-round, ETA
with the floor speed, headways on the out-and-back loop, bunching with hysteresis."""

from __future__ import annotations

import pytest

from backend.transit.operations import (
    OperationsParams,
    angle_between,
    line_operations,
    step_bunching,
    vehicle_progress,
)
from tests.transit.lines import CORNER, LENGTH, at, make_line, when

LINE = make_line()
NOW = when(10)


def progress(fix, previous=None, *, now=NOW, last=None, params=OperationsParams()):  # noqa: ANN001, ANN201
    return vehicle_progress(LINE, fix, previous, now=now, last_direction=last, params=params)


# Progress ----------------------------------------------------------------------------------


@pytest.mark.parametrize("s", [0.0, 300.0, 1394.0, 2000.0, LENGTH])
def test_progress_is_the_distance_along_the_line(s: float) -> None:
    v = progress(at(s, 10))
    assert v.progress_m == pytest.approx(s, abs=0.5)
    assert v.fraction == pytest.approx(s / LENGTH, abs=1e-3)
    assert v.on_line and v.offset_m < 0.5 and v.online


def test_a_fix_beside_the_line_is_on_it_within_the_offset_and_off_it_beyond() -> None:
    near = progress(at(600, 10, left_m=30))
    assert near.on_line and near.offset_m == pytest.approx(30, abs=0.5)
    assert near.progress_m == pytest.approx(600, abs=0.5)
    detour = progress(at(600, 10, left_m=400))
    assert not detour.on_line
    assert detour.direction is None and detour.next_stop is None and detour.loop_m is None


# Direction ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("s", "heading", "expected"), [
    (300, 90, "outbound"), (300, 270, "inbound"), (300, 130, "outbound"), (300, 230, "inbound"),
    (2000, 0, "outbound"), (2000, 180, "inbound"), (2000, 350, "outbound"),
])
def test_direction_from_the_heading_against_the_lines_bearing(
    s: float, heading: float, expected: str
) -> None:
    v = progress(at(s, 10, heading=heading))
    assert (v.direction, v.direction_from) == (expected, "heading")


@pytest.mark.parametrize("kwargs", [
    {"heading": 0.0},                 # across the line (a north heading on the east leg)
    {"heading": None},                # no heading reported
    {"heading": 270.0, "speed": 1.0}, # a crawling bus's heading is not trusted
])
def test_without_a_telling_heading_the_change_in_progress_decides(kwargs: dict) -> None:
    out = progress(at(320, 10, **kwargs), at(300, 5))
    back = progress(at(300, 10, **kwargs), at(320, 5))
    assert (out.direction, out.direction_from) == ("outbound", "progress")
    assert (back.direction, back.direction_from) == ("inbound", "progress")


def test_a_standing_bus_keeps_its_last_direction_or_has_none() -> None:
    standing = at(300, 10, speed=0.0)
    before = at(298, 5, speed=0.0)  # 2 m: GPS noise, not movement
    assert progress(standing, before).direction is None
    v = progress(standing, before, last="inbound")
    assert (v.direction, v.direction_from) == ("inbound", "previous")
    assert progress(standing, at(300, 20), last=None).direction is None  # "previous" is later


def test_angle_between_bearings() -> None:
    assert angle_between(350, 10) == 20 and angle_between(10, 350) == 20
    assert angle_between(90, 270) == 180 and angle_between(0, 0) == 0


# Next stop and ETA -------------------------------------------------------------------------


def test_next_stop_outbound_and_inbound() -> None:
    out = progress(at(700, 10)).next_stop
    assert out is not None and (out.code, out.seq) == ("S3", 3)
    assert out.distance_m == pytest.approx(300, abs=0.5)
    back = progress(at(700, 10, inbound=True)).next_stop
    assert back is not None and back.code == "S2"
    assert back.distance_m == pytest.approx(200, abs=0.5)


@pytest.mark.parametrize("s", [492.0, 500.0, 507.0])
def test_at_a_stop_the_next_stop_is_the_one_after_it(s: float) -> None:
    nxt = progress(at(s, 10)).next_stop
    assert nxt is not None and nxt.code == "S3"
    assert nxt.distance_m == pytest.approx(1000 - s, abs=0.5)
    assert progress(at(489, 10)).next_stop.code == "S2"


def test_at_the_last_stop_the_next_is_the_first_on_the_way_back() -> None:
    end = progress(at(LENGTH, 10, heading=0.0)).next_stop  # outbound, at the terminus
    assert end is not None and end.code == "S4"
    assert end.distance_m == pytest.approx(LENGTH - CORNER, abs=0.5)
    start = progress(at(0, 10, inbound=True)).next_stop  # inbound, at the first stop
    assert start is not None and start.code == "S2"
    assert start.distance_m == pytest.approx(500, abs=0.5)


def test_past_the_last_stop_the_distance_runs_through_the_turn_round() -> None:
    line = make_line([0.0, 500.0, 1000.0, 2000.0])  # the last stop 500 m before the end
    v = vehicle_progress(line, at(2200, 10, heading=0.0), now=NOW)
    assert v.next_stop is not None and v.next_stop.code == "S4"
    assert v.next_stop.distance_m == pytest.approx((LENGTH - 2200) + (LENGTH - 2000), abs=0.5)


def test_eta_is_distance_over_recent_speed_with_a_floor() -> None:
    moving = progress(at(700, 10, speed=36.0)).next_stop  # 300 m at 10 m/s
    assert moving is not None and moving.eta_s == pytest.approx(30, abs=0.2)
    mean = progress(at(700, 10, speed=36.0), at(650, 5, speed=18.0)).next_stop  # mean 27 km/h
    assert mean is not None and mean.eta_s == pytest.approx(300 / 7.5, abs=0.2)
    stopped = progress(at(700, 10, speed=0.0), last="outbound").next_stop  # floor: 10 km/h
    assert stopped is not None and stopped.eta_s == pytest.approx(300 / (10 / 3.6), abs=0.5)
    # No reported speed: the change in progress over time (50 m in 5 s = 36 km/h).
    derived = progress(at(700, 10, speed=None), at(650, 5, speed=None)).next_stop
    assert derived is not None and derived.eta_s == pytest.approx(30, abs=0.3)


def test_an_offline_bus_has_a_next_stop_but_no_eta() -> None:
    v = progress(at(700, 0), now=when(121))
    assert not v.online and v.loop_m is None
    assert v.next_stop is not None and v.next_stop.code == "S3" and v.next_stop.eta_s is None


# Headways ----------------------------------------------------------------------------------


def ops(*fixes, now=NOW, directions=None, params=OperationsParams()):  # noqa: ANN001, ANN002, ANN201
    return line_operations(LINE, fixes, now=now, directions=directions, params=params)


def test_headways_follow_the_loop_front_first() -> None:
    o = ops(at(100, 10, vid="a", speed=36), at(900, 10, vid="c", speed=36),
            at(400, 10, vid="b", speed=36), at(1500, 10, vid="d", inbound=True, speed=36))
    out = [(h.follower, h.leader, round(h.gap_m), h.across_terminus)
           for h in o.headways_in("outbound")]
    d_loop = 2 * LENGTH - 1500
    assert out == [("c", "d", round(d_loop - 900), True), ("b", "c", 500, False),
                   ("a", "b", 300, False)]
    (back,) = o.headways_in("inbound")  # d leads nobody back: its leader is a, round the start
    assert (back.follower, back.leader, back.across_terminus) == ("d", "a", True)
    assert back.gap_m == pytest.approx(1500 + 100, abs=1)
    assert o.headway_of("a").headway_s == pytest.approx(30, abs=0.2)  # 300 m at 10 m/s
    assert o.headways_in("outbound")[1].direction == "outbound"


def test_headways_in_one_direction_front_bus_wraps_round_the_loop() -> None:
    o = ops(at(100, 10, vid="a"), at(400, 10, vid="b"))
    front = o.headway_of("b")
    assert front.leader == "a" and front.across_terminus
    assert front.gap_m == pytest.approx(2 * LENGTH - 300, abs=1)


def test_the_time_headway_uses_the_followers_speed_with_the_floor() -> None:
    o = ops(at(100, 10, vid="a", speed=0.0), at(400, 10, vid="b", speed=50),
            directions={"a": "outbound"})  # a standing bus: its last direction
    assert o.headway_of("a").headway_s == pytest.approx(300 / (10 / 3.6), abs=0.5)


def test_offline_and_off_line_buses_are_left_out_of_headways() -> None:
    o = ops(at(100, 0, vid="old"), at(300, 119, vid="a"), at(500, 119, vid="b"),
            at(700, 119, vid="detour", left_m=300), now=when(125))
    assert {h.follower for h in o.headways} == {"a", "b"}
    assert not o.vehicle("old").online and not o.vehicle("detour").on_line
    assert ops(at(100, 10, vid="alone")).headways == ()


# Bunching ----------------------------------------------------------------------------------


def test_bunching_raises_holds_and_clears_with_hysteresis() -> None:
    params = OperationsParams()
    state: dict = {}
    seen = []
    # The leader "a" at 1000 m; the follower "b" at 0 km/h (the floor, 2.8 m/s) closes in and
    # falls back: 400 m (144 s), 100 m (raise), 200 m (72 s: hold), 320 m (115 s: hold),
    # 400 m (clear), 200 m (not raised again: neither under 150 m nor 60 s).
    for t, gap in enumerate([400, 100, 200, 320, 400, 200]):
        o = ops(at(1000, t, vid="a", speed=0.0), at(1000 - gap, t, vid="b", speed=0.0),
                now=when(t), directions={"a": "outbound", "b": "outbound"})
        state, events = step_bunching(state, o, params)
        seen.append([(e.vehicle_id, e.action) for e in events])
        assert ("b" in state) == (gap in (100, 200, 320) and t < 5)
    assert seen == [[], [("b", "raised")], [], [], [("b", "cleared")], []]


def test_bunching_event_details_and_times() -> None:
    o = ops(at(1000, 10, vid="a", speed=36), at(960, 10, vid="b", speed=36))
    state, (raised,) = step_bunching({}, o)
    assert (raised.kind, raised.action, raised.severity) == ("bunching", "raised", "warning")
    assert raised.vehicle_id == "b" and raised.time == when(10) == raised.started_at
    assert raised.details["leader"] == "a" and raised.details["gap_m"] == pytest.approx(40, 0.1)
    assert raised.details["direction"] == "outbound" and raised.details["line_id"] == 7
    far = ops(at(2000, 50, vid="a", speed=36), at(700, 50, vid="b", speed=36), now=when(50))
    state, (cleared,) = step_bunching(state, far)
    assert cleared.action == "cleared" and cleared.started_at == when(10)
    assert cleared.time == when(50) and state == {}


def test_a_time_headway_under_a_minute_is_bunching_too() -> None:
    o = ops(at(1000, 10, vid="a", speed=36), at(600, 10, vid="b", speed=36))  # 400 m, 40 s
    _, events = step_bunching({}, o)
    assert [(e.vehicle_id, e.action) for e in events] == [("b", "raised")]


def test_a_bunched_pair_stays_bunched_while_the_leader_turns_round() -> None:
    state, _ = step_bunching({}, ops(at(LENGTH - 60, 10, vid="a"), at(LENGTH - 100, 10, vid="b")))
    assert "b" in state
    turned = ops(at(LENGTH - 30, 15, vid="a", inbound=True), at(LENGTH - 70, 15, vid="b"),
                 now=when(15))
    h = turned.headway_of("b")
    assert h.leader == "a" and h.across_terminus and h.gap_m == pytest.approx(100, abs=1)
    state, events = step_bunching(state, turned)
    assert events == [] and state["b"].leader == "a"


def test_a_bunched_follower_that_goes_offline_is_cleared() -> None:
    state, _ = step_bunching({}, ops(at(1000, 10, vid="a"), at(950, 10, vid="b")))
    later = ops(at(1500, 200, vid="a"), at(950, 10, vid="b"), now=when(200))
    state, (cleared,) = step_bunching(state, later)
    assert (cleared.vehicle_id, cleared.action) == ("b", "cleared")
    assert cleared.details["reason"] == "not_measured" and state == {}


def test_flags_of_other_lines_pass_through() -> None:
    state, _ = step_bunching({}, ops(at(1000, 10, vid="a"), at(950, 10, vid="b")))
    other = line_operations(make_line(line_id=8), [], now=NOW)
    kept, events = step_bunching(state, other)
    assert events == [] and kept == state
