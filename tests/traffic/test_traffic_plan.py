"""The traffic-peak plan on the test session's county roads: deterministic, and its truth is
what the scenario file says (speeds per road class, the wave, the accident), every fix lies
within its GPS error of its true segment."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import shapely
import sqlalchemy as sa

from backend.catalog.traffic_scenarios import TrafficScenario, load_traffic
from backend.ingest.jt808.alarm_bits import decode_alarms
from backend.simulation.traffic_plan import (
    BUCKET_S,
    PlanError,
    TrafficPlan,
    plan_traffic,
)
from backend.simulation.traffic_run import load_inputs
from backend.traffic.network import TO_METRIC, RoadNetwork, road_of
from backend.traffic.typical import slot_of

START = datetime(2026, 3, 2, 9, 58, 20, tzinfo=UTC)  # a Monday, 17:58 local: not on a bucket


@pytest.fixture(scope="module")
def scenario() -> TrafficScenario:
    return load_traffic("traffic-peak")


@pytest.fixture(scope="module")
def inputs(engine: sa.Engine, county: dict[str, int], scenario: TrafficScenario
           ) -> tuple[RoadNetwork, dict[str, list[int]]]:
    with engine.connect() as conn:
        return load_inputs(conn, scenario)


@pytest.fixture(scope="module")
def plan(scenario: TrafficScenario, inputs: tuple[RoadNetwork, dict[str, list[int]]]
         ) -> TrafficPlan:
    return plan_traffic(scenario, *inputs, START)


def test_pilot_segments_are_the_roads_along_them_in_travel_order(
        inputs: tuple[RoadNetwork, dict[str, list[int]]]) -> None:
    network, pilot = inputs
    assert len(pilot) == 16 and all(len(keys) >= 2 for keys in pilot.values())
    rows = network.index_of
    for code, keys in pilot.items():
        # consecutive road segments meet: the end node of one is the start node of the next
        edges = [2 * rows[road_of(k)[0]] + (0 if road_of(k)[1] else 1) for k in keys]
        ends = [network.edge_nodes(e) for e in edges]
        assert all(a[1] == b[0] for a, b in zip(ends, ends[1:], strict=False)), code
    a, b = pilot["SX-JT-01A"], pilot["SX-JT-01B"]  # the same roads, both ways
    assert sorted(k >> 1 for k in a) == sorted(k >> 1 for k in b)
    assert all(k & 1 != j & 1 for k, j in zip(a, reversed(b), strict=True))


def test_the_plan_is_deterministic_and_the_interval_does_not_change_the_traffic(
        scenario: TrafficScenario, inputs: tuple[RoadNetwork, dict[str, list[int]]],
        plan: TrafficPlan) -> None:
    again = plan_traffic(scenario, *inputs, START)
    assert np.array_equal(again.fixes.lon, plan.fixes.lon)
    assert np.array_equal(again.fixes.segment, plan.fixes.segment)
    assert again.truth == plan.truth and again.typical == plan.typical
    sparse = plan_traffic(scenario, *inputs, START, fix_interval_s=30, noise_m=25)
    assert sparse.truth == plan.truth  # the same vehicles drove the same way
    assert len(sparse.fixes) < len(plan.fixes) / 2.5
    other = plan_traffic(scenario.model_copy(update={"seed": scenario.seed + 1}), *inputs, START)
    assert not np.array_equal(other.fixes.segment[:500], plan.fixes.segment[:500])


def test_fixes_lie_within_their_noise_of_their_true_segment(
        plan: TrafficPlan, inputs: tuple[RoadNetwork, dict[str, list[int]]]) -> None:
    network, _ = inputs
    f = plan.fixes
    rows = network.index_of
    lines = network.lines[[rows[int(s) >> 1] for s in f.segment]]
    x, y = TO_METRIC.transform(f.lon, f.lat)
    off = shapely.distance(lines, shapely.points(x, y))
    assert off.max() <= 3 * plan.noise_m + 0.1        # the error is clipped at 3 sigma
    tx, ty = TO_METRIC.transform(f.true_lon, f.true_lat)
    assert shapely.distance(lines, shapely.points(tx, ty)).max() < 0.01
    # the error is there: 2-D Gaussian, so its median is sigma * sqrt(2 ln 2) = 1.18 sigma
    error = np.hypot(x - tx, y - ty)
    assert 1.1 * plan.noise_m < np.median(error) < 1.25 * plan.noise_m
    # time order, every vehicle every fix_interval_s, ids as the yaml says
    assert np.all(np.diff(f.t_s) >= 0)
    per = {v: np.diff(f.t_s[f.vehicle == v]) for v in np.unique(f.vehicle)[:50]}
    assert all(np.all(d == plan.fix_interval_s) for d in per.values())
    assert {v.vehicle_id[:7] for v in plan.vehicles} == {"SXTAXI-", "SXCAR-0"}
    assert len(plan.vehicles) == 300


def test_truth_speeds_are_the_configured_speeds(plan: TrafficPlan, scenario: TrafficScenario,
                                                inputs: tuple[RoadNetwork, dict[str, list[int]]]
                                                ) -> None:
    network, _ = inputs
    special = set(plan.wave_segments) | set(plan.accident_segments)
    typical = {(r.segment, r.slot): r.speed_kmh for r in plan.typical}
    ratios = []
    for s in plan.truth:
        if s.segment in special or s.traversals < 3:
            continue
        ratios.append(s.speed_kmh / typical[(s.segment, slot_of(s.start))])
    ratios = np.array(ratios)
    # the typical speed is the configured one (class x segment factor x profile); vehicles
    # stray +-12 % and the profile changes within a bucket
    assert len(ratios) > 500
    assert abs(np.median(ratios) - 1) < 0.03 and np.percentile(np.abs(ratios - 1), 95) < 0.15
    # a bucket's speed is its traversals' total length over their total time
    tr = plan.traversals
    s = max(plan.truth, key=lambda s: s.traversals)
    lo = (s.start - plan.start).total_seconds()
    keep = (tr.segment == s.segment) & (tr.exit_s >= lo) & (tr.exit_s < lo + BUCKET_S)
    assert keep.sum() == s.traversals
    assert s.speed_kmh == pytest.approx(
        tr.length_m[keep].sum() / (tr.exit_s[keep] - tr.entry_s[keep]).sum() * 3.6)
    assert s.vehicles == len(set(tr.vehicle[keep].tolist())) <= s.traversals
    # road classes: the primary roads' free flow above the residential streets'
    cls = {int(2 * rid + d): c for rid, c in zip(network.road_id, network.road_class,
                                                 strict=True) for d in (0, 1)}
    by_class = {c: np.median([t.speed_kmh for t in plan.truth if cls[t.segment] == c
                              and t.segment not in special]) for c in ("primary",
                                                                       "residential")}
    assert by_class["primary"] > 1.5 * by_class["residential"]
    assert by_class["residential"] == pytest.approx(
        scenario.speeds_kmh["residential"] * 0.9, rel=0.15)


def _at(plan: TrafficPlan, seconds: float) -> datetime:
    t = plan.start + timedelta(seconds=seconds)
    return datetime.fromtimestamp(t.timestamp() // BUCKET_S * BUCKET_S, UTC)


def test_the_wave_is_on_its_pilot_segment_when_the_yaml_says(
        plan: TrafficPlan, scenario: TrafficScenario,
        inputs: tuple[RoadNetwork, dict[str, list[int]]]) -> None:
    _, pilot = inputs
    wave = scenario.wave
    assert list(plan.wave_segments) == pilot[wave.pilot]
    hold_from = wave.at_s + wave.ramp_s + (len(plan.wave_segments) - 1) * wave.lag_s
    for seg in plan.wave_segments:
        before = plan.truth_at(seg, _at(plan, wave.at_s - BUCKET_S))
        held = plan.truth_at(seg, _at(plan, hold_from + BUCKET_S))
        after = plan.truth_at(seg, _at(plan, wave.at_s + wave.span_s + 4 * BUCKET_S))
        assert before and held and after
        assert held.speed_kmh == pytest.approx(wave.speed_kmh, abs=1.5)
        assert held.vehicles >= 3  # enough probes for a level
        assert before.speed_kmh > 3 * held.speed_kmh and after.speed_kmh > 3 * held.speed_kmh
    # the opposite direction does not slow down
    back = pilot[wave.pilot.replace("A", "B")]
    other = [plan.truth_at(s, _at(plan, hold_from + BUCKET_S)) for s in back]
    assert all(o is None or o.speed_kmh > 25 for o in other)


def test_the_accident_is_where_and_when_the_yaml_says(
        plan: TrafficPlan, scenario: TrafficScenario,
        inputs: tuple[RoadNetwork, dict[str, list[int]]]) -> None:
    _, pilot = inputs
    acc = scenario.accident
    assert list(plan.accident_segments) == pilot[acc.pilot]
    assert plan.accident.segment in plan.accident_segments
    assert plan.accident.at == plan.start + timedelta(seconds=acc.at_s)
    assert plan.accident.reported_at == plan.accident.at + timedelta(seconds=acc.case.delay_s)
    f = plan.fixes
    alarmed = np.flatnonzero(f.alarm != 0)
    crash = {plan.vehicles[v].vehicle_id for v in f.vehicle[alarmed]}
    assert crash == {plan.accident.vehicle_id}
    assert plan.accident.vehicle_id.startswith(scenario.fleet[acc.fleet].id_prefix)
    assert decode_alarms(int(f.alarm[alarmed[0]])) == [acc.alarm]
    # from the crash on: stopped on its segment, at its place, until cleared; then no fixes
    assert set(f.segment[alarmed].tolist()) == {plan.accident.segment}
    assert np.all(f.speed_kmh[alarmed] == 0)
    assert f.t_s[alarmed].min() - acc.at_s < plan.fix_interval_s
    assert acc.at_s + acc.duration_s - f.t_s[alarmed].max() <= plan.fix_interval_s
    mine = f.vehicle == f.vehicle[alarmed[0]]
    assert f.t_s[mine].max() == f.t_s[alarmed].max()
    assert np.all(f.alarm[mine & (f.t_s < acc.at_s)] == 0)
    # it drove there: its fix before the crash is within one interval's drive
    before = np.flatnonzero(mine & (f.t_s < acc.at_s))[-1]
    bx, by = TO_METRIC.transform(f.true_lon[before], f.true_lat[before])
    cx, cy = TO_METRIC.transform(plan.accident.lon, plan.accident.lat)
    reach = f.speed_kmh[before] / 3.6 * plan.fix_interval_s
    assert math.hypot(cx - bx, cy - by) <= reach + 60  # + a change of speed at a node
    # speeds collapse on the accident's pilot segment while it lasts
    for seg in plan.accident_segments:
        during = plan.truth_at(seg, _at(plan, acc.at_s + 2 * BUCKET_S))
        assert during and during.speed_kmh == pytest.approx(acc.speed_kmh, abs=1.0)


def test_typical_speeds_cover_every_driven_segment_and_slot_of_the_run(
        plan: TrafficPlan, scenario: TrafficScenario) -> None:
    slots = sorted({r.slot for r in plan.typical})
    # 17:58 local on a Monday: slot 17*12 + 11 = 215 and the run's hour after it
    assert slots[0] == (17 * 60 + 55) // 5 and len(slots) == 13
    assert len(plan.typical) == len(slots) * len(plan.segments)
    assert all(0 < r.speed_kmh < 80 for r in plan.typical)


def test_a_pilot_code_not_on_the_network_is_named(
        scenario: TrafficScenario, inputs: tuple[RoadNetwork, dict[str, list[int]]]) -> None:
    network, pilot = inputs
    missing = {k: v for k, v in pilot.items() if k != scenario.wave.pilot}
    with pytest.raises(PlanError, match=r"wave\.pilot: no pilot segment SX-JT-01A"):
        plan_traffic(scenario, network, missing, START)
