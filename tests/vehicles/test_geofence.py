from __future__ import annotations

from shapely.geometry import box

from backend.vehicles.rules import Geofence, GeofenceRule, RuleContext
from tests.vehicles.support import drive, fix

RULE = GeofenceRule()
# Two adjacent blocks of the county seat sharing the edge lon = 117.880.
WEST = Geofence.make("g-west", "Old town", box(117.870, 33.475, 117.880, 33.485))
EAST = Geofence.make("g-east", "School zone", box(117.880, 33.475, 117.890, 33.485))
CTX = RuleContext(geofences=(WEST, EAST))
OUT = (117.860, 33.480)
IN_WEST = (117.875, 33.480)
IN_EAST = (117.885, 33.480)


def path(*points: tuple[float, float]) -> list:
    return [fix(i * 10, p) for i, p in enumerate(points)]


def test_first_fix_establishes_state_without_event() -> None:
    assert drive(RULE, path(IN_WEST), CTX) == []
    assert drive(RULE, path(IN_WEST, IN_WEST), CTX) == []
    assert drive(RULE, path(IN_WEST, OUT), CTX) == [(10, "geofence_exit", "instant")]


def test_enter_and_exit_from_outside() -> None:
    events = drive(RULE, path(OUT, IN_WEST, IN_WEST, OUT), CTX)
    assert events == [(10, "geofence_enter", "instant"), (30, "geofence_exit", "instant")]


def test_crossing_between_fences_exits_before_entering() -> None:
    state, _ = RULE.step(None, fix(0, IN_WEST), CTX)
    state, events = RULE.step(state, fix(10, IN_EAST), CTX)
    assert [(e.kind, e.details["geofence_id"], e.details["name"]) for e in events] == [
        ("geofence_exit", "g-west", "Old town"),
        ("geofence_enter", "g-east", "School zone"),
    ]


def test_shared_boundary_is_inside_both() -> None:
    state, _ = RULE.step(None, fix(0, OUT), CTX)
    state, events = RULE.step(state, fix(10, (117.880, 33.480)), CTX)
    assert [e.details["geofence_id"] for e in events] == ["g-west", "g-east"]
    assert state.inside == frozenset({"g-west", "g-east"})


def test_no_geofences_no_events() -> None:
    assert drive(RULE, path(OUT, IN_WEST, OUT), RuleContext()) == []
