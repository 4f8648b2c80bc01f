"""ProbeEngine: segment speeds against the traces' truth, dwell removal, the k-vehicle
threshold, refusals that do not move speeds, bounded state, segment_of, concurrent use."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from backend.ingest.position import Position
from backend.traffic.network import TO_WGS84, RoadNetwork
from backend.traffic.probes import ProbeEngine
from backend.traffic.ubodt import PathTable
from tests.traffic.traces import (
    T0,
    TraceMaker,
    batches,
    merge,
    metric_network,
    seat_edges,
    true_speeds,
)

FIVE = timedelta(minutes=5)


def straight_road(n: int = 6, seg_m: float = 400.0) -> RoadNetwork:
    x0, y0 = 585_000.0, 3_705_000.0
    return metric_network([[(x0 + i * seg_m, y0), (x0 + (i + 1) * seg_m, y0)]
                           for i in range(n)], road_class="primary")


def feed(engine: ProbeEngine, positions: list[Position], ends: list[datetime]) -> dict:
    """Consume in batches of 500, taking each window as soon as the stream has passed it."""
    out, pending = {}, list(ends)
    for batch in batches(positions, 500):
        engine.consume(batch)
        while pending and batch[-1].time > pending[0] + timedelta(minutes=2):
            end = pending.pop(0)
            out[end] = {s.segment: s for s in engine.window(end)}
    for end in pending:
        out[end] = {s.segment: s for s in engine.window(end)}
    return out


def test_county_speeds_against_truth(county_net: RoadNetwork, county_table: PathTable) -> None:
    rng = np.random.default_rng(7)
    allowed = seat_edges(county_net)
    base = {"primary": 45.0, "secondary": 35.0, "tertiary": 28.0}
    cls = np.repeat(county_net.road_class, 2)
    speeds = np.array([base.get(c, 30.0) for c in cls]) * rng.uniform(0.8, 1.2, len(cls))
    maker = TraceMaker(county_net, seed=7)
    traces = [maker.drive(f"t{i}", maker.random_route(12_000, allowed=allowed),
                          lambda e: float(speeds[e]), interval_s=30, noise_m=20,
                          start=T0 + timedelta(seconds=float(rng.uniform(0, 300))))
              for i in range(200)]
    engine = ProbeEngine(county_net, table=county_table)
    ends = [T0 + k * FIVE for k in range(2, 6)]
    got = feed(engine, merge(traces), ends)
    errors = []
    for end in ends:
        lo, hi = (end - FIVE).timestamp(), end.timestamp()
        truth = true_speeds(traces, engine.seg_of_edge, engine.table.edge_len, lo, hi)
        errors += [abs(got[end][s].speed_kmh - v) for s, v in truth.items() if s in got[end]]
        assert len(set(truth) & set(got[end])) >= 0.8 * len(truth)
    mae = float(np.mean(errors))
    print(f"\nsegment speeds: MAE {mae:.2f} km/h over {len(errors)} segment-buckets")
    assert mae <= 5.0
    assert all(s.vehicles >= 3 and s.start == end - FIVE and s.end == end
               for end in ends for s in got[end].values())


def bus_traces(net: RoadNetwork, n: int, dwell_s: float, stop_off: float = 200.0):
    maker = TraceMaker(net, seed=n)
    route = [0, 2, 4, 6, 8, 10]  # all forward edges along the straight road
    return [maker.drive(f"bus{i}", route, lambda e: 30.0, interval_s=10, noise_m=5,
                        start=T0 + timedelta(seconds=40 * i), stops={4: [(stop_off, dwell_s)]})
            for i in range(n)]


def test_dwell_at_stops_is_removed() -> None:
    net = straight_road()
    traces = bus_traces(net, 4, dwell_s=60.0)
    x, y = net.node_xy[:, 0].min() + 2 * 400 + 200, net.node_xy[:, 1].min()
    stop_seg = int(2 * net.road_id[2])  # road row 2, forward
    with_stops = ProbeEngine(net, stops_xy=np.array([[x, y + 8.0]]))
    without = ProbeEngine(net)
    end = T0 + timedelta(minutes=10)
    for eng in (with_stops, without):
        for batch in batches(merge(traces), 50):
            eng.consume(batch)
    a = {s.segment: s for s in with_stops.window(end, timedelta(minutes=10))}
    b = {s.segment: s for s in without.window(end, timedelta(minutes=10))}
    assert a[stop_seg].vehicles == 4
    assert a[stop_seg].speed_kmh == pytest.approx(30.0, abs=3.0)
    assert b[stop_seg].speed_kmh < 15.0  # 400 m in 48 s + 60 s standing: ~13 km/h
    other = int(2 * net.road_id[3])
    assert a[other].speed_kmh == pytest.approx(30.0, abs=3.0)


def test_k_vehicle_threshold() -> None:
    net = straight_road()
    end = T0 + timedelta(minutes=10)
    for n in (2, 3):
        eng = ProbeEngine(net)
        for batch in batches(merge(bus_traces(net, n, dwell_s=0.0)), 100):
            eng.consume(batch)
        three = eng.window(end, timedelta(minutes=10))
        two = eng.window(end, timedelta(minutes=10), min_vehicles=2)
        assert two and all(s.vehicles == n for s in two)
        assert (len(three) > 0) == (n >= 3)


def position(vid: str, t: datetime, x: float, y: float, speed: float | None = 30.0) -> Position:
    lon, lat = TO_WGS84.transform(x, y)
    return Position(vehicle_id=vid, time=t, lon=float(lon), lat=float(lat), speed_kmh=speed,
                    heading_deg=90.0, source="http")


def test_refused_fixes_do_not_move_speeds() -> None:
    net = straight_road()
    traces = bus_traces(net, 3, dwell_s=0.0)
    clean = ProbeEngine(net)
    dirty = ProbeEngine(net)
    stream = merge(traces)
    x0, y0 = net.node_xy.min(axis=0)
    bad = []
    for p in stream[30::7]:  # after every bus has started: "late" is late for it
        bad.append(p)                                                   # duplicate
        bad.append(position(p.vehicle_id, p.time - timedelta(seconds=3), x0, y0))  # late
        bad.append(position(p.vehicle_id, p.time + timedelta(seconds=1), x0 + 900, y0 + 3000))
    noisy = sorted(stream + bad, key=lambda p: p.time)
    noisy.append(Position(vehicle_id="x", time=T0, lon=float("nan"), lat=33.5))
    for eng, s in ((clean, stream), (dirty, noisy)):
        for batch in batches(s, 64):
            eng.consume(batch)
    end = T0 + timedelta(minutes=10)
    a = clean.window(end, timedelta(minutes=10))
    b = dirty.window(end, timedelta(minutes=10))
    assert a and [(s.segment, s.traversals) for s in a] == [(s.segment, s.traversals) for s in b]
    for s, t in zip(a, b, strict=True):
        assert t.speed_kmh == pytest.approx(s.speed_kmh, abs=0.5)
    c = dirty.counters
    refused = (c["unmatched:duplicate"] + c["unmatched:out_of_order"] + c["unmatched:off_road"]
               + c["unmatched:impossible_jump"])
    assert refused == len(bad) and c["unmatched:invalid"] == 1


def test_state_is_bounded() -> None:
    net = straight_road()
    x0, y0 = net.node_xy.min(axis=0)
    eng = ProbeEngine(net, max_vehicles=50, idle=timedelta(minutes=2), keep=timedelta(minutes=3))
    for k in range(60):  # 60 minutes, 20 new vehicles a minute driving the road
        t = T0 + timedelta(minutes=k)
        batch = [position(f"v{k}-{j}", t + timedelta(seconds=10 * i), x0 + 100 * i + j, y0)
                 for j in range(20) for i in range(10)]
        eng.consume(sorted(batch, key=lambda p: p.time))
        assert eng.vehicles <= 50
    assert eng.counters["evicted:capacity"] + eng.counters["evicted:idle"] >= 60 * 20 - 50
    newest = T0 + timedelta(minutes=60)
    assert eng.traversals > 0
    assert all(r[0] >= (newest - timedelta(minutes=5)).timestamp() for r in eng._trav)


def test_segment_of_and_concurrent_consumers() -> None:
    net = straight_road()
    traces = bus_traces(net, 6, dwell_s=0.0)
    eng = ProbeEngine(net)
    stream = merge(traces)
    halves = [[p for p in stream if int(p.vehicle_id[3:]) % 2 == k] for k in (0, 1)]

    def run(ps: list[Position]) -> None:
        for batch in batches(ps, 20):
            eng.consume(batch)

    threads = [threading.Thread(target=run, args=(h,)) for h in halves]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert eng.counters["matched"] + 6 >= len(stream)  # the last fix of each waits (lag 1)
    last = traces[0].positions[-1]
    seg = eng.segment_of("bus0")
    assert seg == int(2 * net.road_id[int(traces[0].edge[-1]) >> 1])
    assert eng.segment_of("nobody") is None
    assert last.time.tzinfo is UTC
