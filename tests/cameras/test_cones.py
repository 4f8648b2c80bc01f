"""View cones against hand-computed cases (metres, camera at the origin, heading 0 = +y)."""

from __future__ import annotations

import math

import pytest
from shapely.geometry import Point, Polygon, box

from backend.cameras import cones

R = 100.0
ARC_ERROR = 1e-4  # the arc is drawn in 1-degree chords: 5e-5 of a sector's area


def sector_area(fov_deg: float, r: float = R) -> float:
    return r * r * math.radians(fov_deg) / 2


def test_an_open_sector_is_r_squared_fov_over_two() -> None:
    for heading, fov in ((0, 90), (45, 60), (300, 35.5), (180, 120)):
        cone = cones.view(0, 0, heading, fov, R, [])
        assert cone.status == cones.OK
        assert cone.area_m2 == pytest.approx(sector_area(fov), rel=ARC_ERROR)
        assert cone.visible_share == pytest.approx(1.0)
    full = cones.view(0, 0, 0, 360, R, [])
    assert full.area_m2 == pytest.approx(math.pi * R * R, rel=ARC_ERROR)


def test_the_heading_is_clockwise_from_north() -> None:
    east = cones.view(0, 0, 90, 20, R, []).geom
    assert east.contains(Point(50, 0)) and not east.contains(Point(0, 50))
    south_west = cones.view(0, 0, 225, 20, R, []).geom
    assert south_west.contains(Point(-30, -30)) and not south_west.contains(Point(30, 30))


def test_a_square_straight_ahead_removes_exactly_its_shadow() -> None:
    """A 10 x 10 m building 20 m north. Its near face (y = 20, x in [-5, 5]) faces the camera;
    the rays through its corners are x = +-y/4. Hidden: the wedge between those rays beyond
    the face, out to the range: the sector of half-angle atan(5/20) minus the triangle
    (0,0), (-5,20), (5,20) whose area is 100 m^2."""
    cone = cones.view(0, 0, 0, 90, R, [box(-5, 20, 5, 30)])
    half = math.atan(5 / 20)
    shadow = R * R * half - 100.0
    assert cone.status == cones.OK
    assert cone.area_m2 == pytest.approx(sector_area(90) - shadow, rel=ARC_ERROR)
    # The expected polygon, built by hand: the sector's outline with the notch cut in.
    arc_left = [(R * math.sin(math.radians(b)), R * math.cos(math.radians(b)))
                for b in range(-45, -14)]
    arc_right = [(R * math.sin(math.radians(b)), R * math.cos(math.radians(b)))
                 for b in range(15, 46)]
    edge = R * math.sin(half), R * math.cos(half)
    expected = Polygon([(0, 0), *arc_left, (-edge[0], edge[1]), (-5, 20), (5, 20), edge,
                        *arc_right])
    assert cone.geom.symmetric_difference(expected).area < 2e-3 * expected.area
    # Points: in front of the face seen, behind it not, just either side of a corner ray.
    assert cone.geom.contains(Point(0, 19.9)) and not cone.geom.contains(Point(0, 20.1))
    assert not cone.geom.contains(Point(0, 99))
    assert cone.geom.contains(Point(15.05, 60)) and not cone.geom.contains(Point(14.95, 60))
    assert cone.geom.contains(Point(-15.05, 60)) and not cone.geom.contains(Point(-14.95, 60))
    assert cone.visible_share == pytest.approx(cone.area_m2 / sector_area(90), rel=ARC_ERROR)


def test_a_building_beside_the_sector_changes_nothing() -> None:
    open_ = cones.view(0, 0, 0, 90, R, [])
    beside = cones.view(0, 0, 0, 90, R, [box(50, -10, 60, 10), box(-40, -80, 40, -20)])
    assert beside.area_m2 == pytest.approx(open_.area_m2, abs=1e-9)
    assert beside.geom.equals(open_.geom)


def test_a_building_beyond_the_range_changes_nothing() -> None:
    assert cones.view(0, 0, 0, 90, R, [box(-5, 101, 5, 120)]).area_m2 == pytest.approx(
        sector_area(90), rel=ARC_ERROR)


def test_a_concave_building_and_a_second_behind_it() -> None:
    """An L-shaped building hides the union of its parts' shadows; a building wholly in that
    shadow changes nothing more."""
    ell = Polygon([(-10, 30), (10, 30), (10, 40), (0, 40), (0, 50), (-10, 50)])
    alone = cones.view(0, 0, 0, 90, R, [ell])
    hidden_too = cones.view(0, 0, 0, 90, R, [ell, box(-2, 70, 2, 80)])
    # The L's shadow is the wedge of x = -y/3 .. x = y/3 beyond its front face y = 30.
    shadow = R * R * math.atan(10 / 30) - 30 * 20 / 2
    assert alone.area_m2 == pytest.approx(sector_area(90) - shadow, rel=ARC_ERROR)
    assert hidden_too.area_m2 == pytest.approx(alone.area_m2, rel=1e-9)


def test_a_camera_inside_a_footprint_is_flagged() -> None:
    cone = cones.view(0, 0, 0, 90, R, [box(-5, -5, 5, 5)])
    assert cone.status == cones.INSIDE and cone.geom is None
    assert cone.sector_area_m2 == pytest.approx(sector_area(90), rel=ARC_ERROR)


def test_the_building_a_camera_hangs_on_does_not_hide_its_view() -> None:
    """0.5 m inside the wall (a survey error) or 0.5 m outside it: the facade casts no shadow,
    only its own footprint is out of the view."""
    wall = box(-5, -0.5, 5, 5)  # the camera is 0.5 m inside, looking north through the roof
    cone = cones.view(0, 0, 0, 90, R, [wall])
    assert cone.status == cones.OK
    assert cone.area_m2 == pytest.approx(sector_area(90) - wall.intersection(
        cones.sector(0, 0, 0, 90, R)).area, rel=ARC_ERROR)
    outside = cones.view(0, 0, 180, 90, R, [box(-5, 0.5, 5, 10)])  # hung on it, looking away
    assert outside.area_m2 == pytest.approx(sector_area(90), rel=ARC_ERROR)


def test_no_heading_and_everything_hidden() -> None:
    assert cones.view(0, 0, None, 90, R, []).status == cones.NO_HEADING
    # Boxed in by four walls 2 m away: only the little floor inside is seen.
    walls = [box(-3, 2, 3, 3), box(-3, -3, 3, -2), box(2, -3, 3, 3), box(-3, -3, -2, 3)]
    boxed = cones.view(0, 0, 0, 90, R, walls)
    assert boxed.status == cones.OK and boxed.area_m2 == pytest.approx(4.0, rel=1e-3)
    # A camera whose mounting building covers its whole sector sees nothing.
    covered = cones.view(0, 0, 0, 90, 10, [box(-20, -0.5, 20, 20)])
    assert covered.status == cones.EMPTY and covered.geom is None and covered.area_m2 == 0
    assert covered.visible_share == 0.0


def test_a_wall_longer_than_the_range_hides_everything_behind_it() -> None:
    """A wall across the whole view 50 m ahead, its ends 200 m out: the view is the triangle
    |x| <= y < 50 (its far corners 70.7 m away, inside the range): 50 * 100 / 2 m^2."""
    cone = cones.view(0, 0, 0, 90, R, [box(-200, 50, 200, 60)])
    assert cone.area_m2 == pytest.approx(2500.0, rel=1e-9)
    assert cone.geom.contains(Point(0, 49.9)) and not cone.geom.contains(Point(0, 50.1))
