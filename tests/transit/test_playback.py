"""Track simplification for playback: Douglas-Peucker in space and time (the synchronized
Euclidean distance), tolerance half a pixel at the zoom."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from backend.transit.playback import simplify_indices, tolerance_m, track_points
from tests.transit.lines import place
from tests.vehicles.support import T0


def rows(stations: list[float], step_s: float = 5.0) -> list[tuple]:
    """(time, lon, lat, speed, heading) every step_s at these distances along the test line."""
    return [(T0 + timedelta(seconds=k * step_s), *place(s), 30.0 + k, 90.0)
            for k, s in enumerate(stations)]


def test_tolerance_is_half_a_pixel_of_maplibres_512_pixel_tiles() -> None:
    assert tolerance_m(0, 0) == pytest.approx(40_075_016.686 / 1024)
    assert tolerance_m(14, 33.48) == pytest.approx(2.0, abs=0.05)
    assert tolerance_m(15, 33.48) == pytest.approx(tolerance_m(14, 33.48) / 2)


def test_a_dense_straight_track_at_constant_speed_keeps_first_and_last() -> None:
    track = rows([k * 10.0 for k in range(121)])  # 1.2 km east, 10 m every 5 s
    points = track_points(track, zoom=14)
    assert len(points) == 2
    assert points[0] == track_points(track)[0] and points[-1] == track_points(track)[-1]


def test_points_are_epoch_ms_lon_lat_speed_heading_in_time_order() -> None:
    track = rows([0.0, 10.0, 20.0])
    points = track_points(track)
    assert points[0] == [int(T0.timestamp() * 1000), track[0][1], track[0][2], 30.0, 90.0]
    assert [p[0] for p in points] == sorted(p[0] for p in points)


def test_a_wait_at_a_stop_is_kept() -> None:
    # 300 m at 10 m/s, a minute standing at 300 m, then 300 m more: both ends of the wait stay,
    # with their own times, so a replay shows the bus standing.
    stations = [k * 50.0 for k in range(7)] + [300.0] * 12 + [300 + k * 50.0 for k in range(1, 7)]
    track = rows(stations)
    kept = track_points(track, zoom=16)
    assert len(kept) < len(track)
    times = [p[0] for p in kept]
    all_ms = [p[0] for p in track_points(track)]
    assert times[0] == all_ms[0] and times[-1] == all_ms[-1]
    assert all_ms[6] in times and all_ms[6 + 12] in times  # arrival and departure


def test_a_corner_is_kept_at_any_street_level_zoom() -> None:
    from tests.transit.lines import CORNER

    track = rows([k * 50.0 for k in range(51)])  # 2.5 km through the corner at ~1394 m
    kept = track_points(track, zoom=12)
    assert 3 <= len(kept) <= 4
    corner_k = round(CORNER / 50)
    assert any(abs(p[0] - track_points(track)[corner_k][0]) <= 5000 for p in kept[1:-1])
    assert len(track_points(track, zoom=2)) == 2  # half a pixel at zoom 2 is kilometres


def test_simplify_indices_edge_cases() -> None:
    assert list(simplify_indices(np.array([]), np.zeros((0, 2)), 1.0)) == []
    assert list(simplify_indices(np.array([0.0]), np.zeros((1, 2)), 1.0)) == [0]
    t = np.array([0.0, 0.0, 0.0])  # one instant: the middle point's place is its own
    xy = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 0.0]])
    assert list(simplify_indices(t, xy, 1.0)) == [0, 1, 2]
