"""Map matching against traces with known truth: on a hand-made grid and the demo county."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa
from scipy.sparse.csgraph import dijkstra

from backend.catalog.traffic_scenarios import load_traffic
from backend.simulation.traffic_plan import TrafficPlan, plan_traffic
from backend.simulation.traffic_run import load_inputs
from backend.traffic.matching import MapMatcher, MatchParams
from backend.traffic.network import TO_METRIC, RoadNetwork
from backend.traffic.ubodt import PathTable, directed_edges
from tests.traffic.traces import (
    T0,
    TraceMaker,
    accuracy,
    grid_network,
    match_traces,
    seat_edges,
)


def test_table_is_exact_within_its_bound() -> None:
    net = grid_network(5, 5, 200.0)
    table = PathTable(net, limit_m=700.0)
    src, dst, length = directed_edges(net)
    # Grid corners: (0, 0) is node of the first line's start; Manhattan distances.
    rng = np.random.default_rng(0)
    u = rng.integers(0, len(net.node_xy), 200)
    v = rng.integers(0, len(net.node_xy), 200)
    d = table.distance(u, v)
    manhattan = np.abs(net.node_xy[u] - net.node_xy[v]).sum(axis=1)
    within = manhattan <= 700.0 - 1e-6
    np.testing.assert_allclose(d[within], manhattan[within], atol=0.05)
    assert np.isinf(d[manhattan > 700.0 + 1e-6]).all()
    for a, b, path in zip(u[within], v[within], table.paths(u[within], v[within]), strict=True):
        if a == b:
            assert path == []
            continue
        assert src[path[0]] == a and dst[path[-1]] == b
        assert all(dst[p] == src[q] for p, q in zip(path, path[1:], strict=False))
        assert length[path].sum() == pytest.approx(table.distance(a, b), abs=0.05)


def test_grid_traces_match_true_edges() -> None:
    net = grid_network(8, 8, 200.0)
    maker = TraceMaker(net, seed=3)
    matcher = MapMatcher(net)
    traces = [maker.drive(f"g{i}", maker.random_route(5000), lambda e: 36.0, interval_s=10,
                          noise_m=10) for i in range(40)]
    strict, far = accuracy(traces, match_traces(matcher, traces), matcher.edge_len, near_m=30.0)
    assert strict >= 0.95, strict
    assert far >= 0.99, far
    assert matcher.counters["matched"] == sum(len(tr.positions) for tr in traces)


@pytest.mark.parametrize(("interval_s", "noise_m"), [(10, 10), (30, 20), (60, 30)])
def test_county_traces(county_net: RoadNetwork, county_table: PathTable, interval_s: int,
                       noise_m: float) -> None:
    """The seat's streets at 10/30/60 s with 10-30 m noise (per axis). A fix within 2 sigma
    of a junction on a straight run sits on either edge by chance: the strict share is
    reported, the rest must be right."""
    maker = TraceMaker(county_net, seed=interval_s)
    allowed = seat_edges(county_net)
    speeds = np.random.default_rng(1).uniform(20, 50, len(allowed))
    matcher = MapMatcher(county_net, table=county_table)
    traces = [maker.drive(f"c{i}", maker.random_route(6000, allowed=allowed),
                          lambda e: float(speeds[e]), interval_s=interval_s, noise_m=noise_m)
              for i in range(60)]
    strict, far = accuracy(traces, match_traces(matcher, traces), matcher.edge_len,
                         near_m=2 * noise_m + 10)
    print(f"\n{interval_s} s, {noise_m} m: strict {strict:.3f}, away from junctions {far:.3f}")
    # measured 0.983 / 0.943 / 0.917 (the lag-1 decision alone: 0.969 / 0.935 / 0.868)
    assert strict >= {10: 0.98, 20: 0.93, 30: 0.90}[noise_m]
    assert far >= 0.99


def peak_accuracy(matcher: MapMatcher, plan: TrafficPlan, network: RoadNetwork) -> float:
    """Share of the plan's fixes matched to their true directed segment."""
    f = plan.fixes
    x, y = TO_METRIC.transform(f.lon, f.lat)
    args = (f.vehicle.astype(np.int64), f.t_s.astype(float), np.asarray(x), np.asarray(y),
            f.heading_deg.astype(float), f.speed_kmh.astype(float))
    parts = [matcher.match(*(a[i:i + 500] for a in args)) for i in range(0, len(f), 500)]
    parts.append(matcher.flush(np.arange(len(plan.vehicles))))
    seg = 2 * network.road_id[np.arange(2 * len(network)) >> 1] + (np.arange(2 * len(network)) & 1)
    got = {(v, t): int(seg[e]) for c in parts
           for v, t, e in zip(c.slot.tolist(), c.t.tolist(), c.edge.tolist(), strict=True)}
    hits = sum(got.get((int(v), float(t))) == int(s)
               for v, t, s in zip(f.vehicle, f.t_s, f.segment, strict=True))
    return hits / len(f)


@pytest.mark.parametrize(("interval_s", "noise_m", "floor"),
                         [(10, 10, 0.98), (10, 30, 0.95), (30, 20, 0.94), (60, 30, 0.88)])
def test_traffic_peak_fixes_on_their_true_segment(engine: sa.Engine, county: dict[str, int],
                                                  interval_s: int, noise_m: float,
                                                  floor: float) -> None:
    """The traffic-peak scenario's own fixes (noise per axis, clipped at 3 sigma), against
    the lag-1 HMM decision without the along-path smoother on the same fixes."""
    sc = load_traffic("traffic-peak")
    with engine.connect() as conn:
        network, pilot = load_inputs(conn, sc)
    plan = plan_traffic(sc, network, pilot, T0, fix_interval_s=interval_s, noise_m=noise_m)
    table = PathTable(network)
    strict = peak_accuracy(MapMatcher(network, table=table), plan, network)
    before = peak_accuracy(MapMatcher(network, MatchParams(
        smooth=False, heading_kappa=1.5, heading_min_kmh=8.0, noise_alpha=0.0), table=table),
        plan, network)
    print(f"\ntraffic-peak {interval_s} s, {noise_m} m: strict {strict:.3f} (lag-1 HMM alone "
          f"{before:.3f})")
    assert strict >= floor
    assert strict > before


def test_bad_fixes_are_counted_and_skipped() -> None:
    net = grid_network(4, 4, 200.0)
    m = MapMatcher(net)
    x0, y0 = net.node_xy.min(axis=0)
    nan = np.full(1, np.nan)

    def fix(slot: int, t: float, x: float, y: float) -> int:
        return len(m.match(np.array([slot]), np.array([t]), np.array([x]), np.array([y]),
                           nan, nan))

    fix(0, 0.0, x0 + 50, y0 + 3)
    fix(0, 10.0, x0 + 150, y0 - 2)           # commits the first fix
    fix(0, 10.0, x0 + 160, y0)               # duplicate time
    fix(0, 5.0, x0 + 100, y0)                # out of order
    fix(0, 20.0, x0 + 5000, y0 + 5000)       # far from any road
    fix(0, 25.0, x0 + 550, y0 + 590)         # 570 m in 15 s: 137 km/h ... allowed
    fix(0, 26.0, x0 + 0, y0 + 0)             # 800 m in 1 s: a jump
    c = m.counters
    assert c["unmatched:duplicate"] == 1
    assert c["unmatched:out_of_order"] == 1
    assert c["unmatched:off_road"] == 1
    assert c["unmatched:impossible_jump"] == 1
    assert c["matched"] == 2


def test_state_is_bounded_per_vehicle() -> None:
    net = grid_network(4, 4, 200.0)
    m = MapMatcher(net)
    x0, y0 = net.node_xy.min(axis=0)
    n = 2000
    for k in range(n):  # one vehicle, many fixes: the state does not grow
        m.match(np.array([0]), np.array([k * 5.0]), np.array([x0 + (k * 20) % 600]),
                np.array([y0 + 1.0]), np.array([np.nan]), np.array([np.nan]))
    assert m.cap == 64 and m.c_edge.shape == (64, m.k)
    assert m.counters["matched"] > n * 0.9


def test_network_graph_agrees_with_scipy(county_net: RoadNetwork,
                                         county_table: PathTable) -> None:
    """Spot check of the table on the county against a direct Dijkstra."""
    import scipy.sparse as sp
    src, dst, length = directed_edges(county_net)
    m = len(county_net.node_xy)
    order = np.lexsort((length, dst, src))
    first = np.r_[True, (src[order][1:] != src[order][:-1]) | (dst[order][1:] != dst[order][:-1])]
    e = order[first]
    e = e[src[e] != dst[e]]
    g = sp.csr_matrix((np.maximum(length[e], 1e-3), (src[e], dst[e])), shape=(m, m))
    sources = np.random.default_rng(2).integers(0, m, 20)
    d = dijkstra(g, indices=sources, limit=county_table.limit_m)
    for row, s in enumerate(sources):
        ok = np.isfinite(d[row])
        got = county_table.distance(np.full(int(ok.sum()), s), np.flatnonzero(ok))
        np.testing.assert_allclose(got, d[row][ok], rtol=1e-5, atol=0.01)
