"""Map matching against traces with known truth: on a hand-made grid and the demo county."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from backend.traffic.matching import MapMatcher
from backend.traffic.network import RoadNetwork
from backend.traffic.ubodt import PathTable, directed_edges
from tests.traffic.traces import TraceMaker, accuracy, grid_network, match_traces, seat_edges


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
    assert strict >= {10: 0.95, 20: 0.9, 30: 0.8}[noise_m]
    assert far >= 0.98


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
