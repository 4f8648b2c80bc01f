"""Map matching and segment speeds on the demo county's seat (built in-process, no database):
accuracy (share of fixes on the true directed edge) at 10/30/60 s with 10-30 m noise, segment
speed MAE against the traces' truth, fixes/s of ProbeEngine.consume() for batches of ~500 fixes
from ~300 vehicles, and fastmm (FMM in C++) on the same traces when it is installed.

    python -m tests.perf.bench_matching [--scale 0.02] [--vehicles 300]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta

import numpy as np
import shapely

from backend.traffic.matching import MapMatcher, MatchParams
from backend.traffic.network import TO_METRIC, RoadNetwork, network_from_lines
from backend.traffic.probes import ProbeEngine
from backend.traffic.ubodt import PathTable
from tests.traffic.traces import (
    T0,
    Trace,
    TraceMaker,
    accuracy,
    batches,
    match_traces,
    merge,
    seat_edges,
    true_speeds,
)

SETTINGS = [(10, 10), (10, 30), (30, 20), (30, 30), (60, 10), (60, 30)]
PEAK = [(i, n) for i in (10, 30, 60) for n in (10, 20, 30)]
# the same traffic with "30 m" read as radial RMS: sigma 30 / sqrt(2) m per axis
RADIAL = [(i, 30 / np.sqrt(2)) for i in (10, 30, 60)]
# The first matcher's method, measured in the same run: the lag-1 HMM decision (no along-path
# smoother, fixed emission noise, the old heading weight).
LAG1 = MatchParams(smooth=False, heading_kappa=1.5, heading_min_kmh=8.0, noise_alpha=0.0)
NOISE = ("noise N m = Gaussian with sigma N m per axis (radial RMS sqrt(2) N, median radial "
         "1.18 N); traffic-peak clips the radial error at 3 N, the synthetic traces do not")


def county_network(scale: float) -> RoadNetwork:
    from backend.county import build_county, load_recipe

    roads = build_county(load_recipe(), scale=scale).tables["roads"]
    return network_from_lines(np.arange(1, len(roads) + 1), roads.geometry.values,
                              roads.road_class.values, roads.name.values,
                              roads.speed_limit.values.astype(float))


def make_traces(net: RoadNetwork, n: int, interval_s: int, noise_m: float, length_m: float,
                seed: int) -> list[Trace]:
    rng = np.random.default_rng(seed)
    cls = np.repeat(net.road_class, 2)
    base = {"primary": 45.0, "secondary": 35.0, "tertiary": 28.0}
    speeds = np.array([base.get(c, 30.0) for c in cls]) * rng.uniform(0.8, 1.2, len(cls))
    maker, allowed = TraceMaker(net, seed=seed), seat_edges(net)
    return [maker.drive(f"b{i}", maker.random_route(length_m, allowed=allowed),
                        lambda e: float(speeds[e]), interval_s=interval_s, noise_m=noise_m,
                        start=T0 + timedelta(seconds=float(rng.uniform(0, interval_s))))
            for i in range(n)]


def fastmm_matcher(net: RoadNetwork, cache: str):  # noqa: ANN201 - optional dependency
    try:
        import fastmm
    except ImportError:
        return None
    nw = fastmm.Network()
    for i, line in enumerate(net.lines):
        c = [tuple(p) for p in shapely.get_coordinates(line).tolist()]
        nw.add_edge(2 * i, source=int(net.a[i]), target=int(net.b[i]), geom=c)
        nw.add_edge(2 * i + 1, source=int(net.b[i]), target=int(net.a[i]), geom=c[::-1])
    nw.finalize()
    # The network is returned too: the matcher keeps a bare C++ reference to it (dropping it
    # is a segmentation fault).
    return fastmm, fastmm.FastMapMatch(nw, fastmm.TransitionMode.SHORTEST,
                                       max_distance_between_candidates=3000.0,
                                       cache_dir=cache), nw


def fastmm_match(fm, traces: list[Trace]) -> tuple[dict[tuple[int, float], int], float]:  # noqa: ANN001
    mod, matcher, _network = fm
    got: dict[tuple[int, float], int] = {}
    t0 = time.perf_counter()
    for i, tr in enumerate(traces):
        x, y = TO_METRIC.transform(np.array([p.lon for p in tr.positions]),
                                   np.array([p.lat for p in tr.positions]))
        ts = [p.time.timestamp() - T0.timestamp() for p in tr.positions]
        res = matcher.match(mod.Trajectory.from_xyt_tuples(list(zip(x.tolist(), y.tolist(), ts,
                                                                     strict=True))),
                            max_candidates=10, candidate_search_radius=100.0, gps_error=20.0,
                            reverse_tolerance=30.0)
        for sub in res.subtrajectories:
            if sub.error_code != mod.MatchErrorCode.SUCCESS:
                continue
            for seg in sub.segments:
                got[(i, tr.positions[seg.p0.trajectory_index].time.timestamp())] = \
                    seg.edges[0].edge_id
                got[(i, tr.positions[seg.p1.trajectory_index].time.timestamp())] = \
                    seg.edges[-1].edge_id
    return got, time.perf_counter() - t0


def speed_mae(net: RoadNetwork, table: PathTable, traces: list[Trace]) -> tuple[float, int, float]:
    """(MAE km/h, segment-buckets compared, consume() fixes/s) over 5-minute windows."""
    engine = ProbeEngine(net, table=table)
    five = timedelta(minutes=5)
    pending = [T0 + k * five for k in range(1, 13)]
    got: dict = {}
    spent, stream = 0.0, merge(traces)
    for batch in batches(stream, 500):
        t0 = time.perf_counter()
        engine.consume(batch)
        spent += time.perf_counter() - t0
        while pending and batch[-1].time > pending[0] + timedelta(minutes=2):
            end = pending.pop(0)
            got[end] = {s.segment: s.speed_kmh for s in engine.window(end)}
    errors = []
    for end, speeds in got.items():
        lo, hi = (end - five).timestamp(), end.timestamp()
        truth = true_speeds(traces, engine.seg_of_edge, table.edge_len, lo, hi)
        errors += [abs(speeds[s] - v) for s, v in truth.items() if s in speeds]
    return float(np.mean(errors)) if errors else float("nan"), len(errors), len(stream) / spent


def peak_inputs(scale: float):  # noqa: ANN201 - (scenario, network, pilot keys)
    """traffic-peak's inputs as backend.simulation.traffic_run.load_inputs reads them from the
    database, here from the county built in-process."""
    from backend.catalog.traffic_scenarios import load_traffic
    from backend.county import build_county, load_recipe
    from backend.simulation.traffic_motion import pilot_keys, seat_bbox

    sc = load_traffic("traffic-peak")
    county = build_county(load_recipe(), scale=scale)
    roads, pilots = county.tables["roads"], county.tables["pilot_segments"]
    lines = dict(zip(pilots.code, pilots.geometry.values, strict=True))
    centre = shapely.MultiLineString(list(lines.values())).centroid
    w, s, e, n = seat_bbox(centre.x, centre.y, sc.area_km)
    ids = np.arange(1, len(roads) + 1)
    keep = shapely.intersects(roads.geometry.values, shapely.box(w, s, e, n))
    net = network_from_lines(ids[keep], roads.geometry.values[keep],
                             roads.road_class.values[keep], roads.name.values[keep],
                             roads.speed_limit.values[keep].astype(float))
    return sc, net, pilot_keys(net, lines)


def bench_peak(scale: float, repeat: int) -> None:
    """The traffic-peak scenario's own traces (scenario helper's plan, with its truth)."""
    from backend.simulation.traffic_plan import plan_traffic

    sc, net, pilot = peak_inputs(scale)
    table = PathTable(net)
    start = T0
    print(f"traffic-peak ({len(net)} roads in the seat, {sc.duration_s / 60:.0f} min); {NOISE};"
          " strict = share of fixes on the true directed segment")
    for interval, noise in PEAK + RADIAL:
        plan = plan_traffic(sc, net, pilot, start, fix_interval_s=interval, noise_m=noise)
        f = plan.fixes
        x, y = TO_METRIC.transform(f.lon, f.lat)
        seg_of_edge = ProbeEngine(net, table=table).seg_of_edge
        args = (f.vehicle.astype(np.int64), f.t_s.astype(float), np.asarray(x), np.asarray(y),
                f.heading_deg.astype(float), f.speed_kmh.astype(float))
        share, rate = {}, 0.0
        for name, params in (("lag1", LAG1), ("now", None)):
            matcher, got = MapMatcher(net, params, table=table), {}
            t0 = time.perf_counter()
            parts = [matcher.match(*(a[i:i + 500] for a in args)) for i in range(0, len(f), 500)]
            rate = len(f) / (time.perf_counter() - t0)
            parts.append(matcher.flush(np.arange(len(plan.vehicles))))
            for c in parts:
                for v, t, e in zip(c.slot.tolist(), c.t.tolist(), c.edge.tolist(), strict=True):
                    got[(v, t)] = int(seg_of_edge[e])
            share[name] = sum(got.get((int(v), float(t))) == int(s)
                              for v, t, s in zip(f.vehicle, f.t_s, f.segment, strict=True)) / len(f)
        positions = plan.positions()
        ends = [start + timedelta(minutes=5 * k) for k in range(1, int(sc.duration_s // 300) + 1)]
        rates, errors = [], []
        for _ in range(repeat):
            engine, spent, pending, errors = ProbeEngine(net, table=table), 0.0, list(ends), []
            for batch in batches(positions, 500):
                t1 = time.perf_counter()
                engine.consume(batch)
                spent += time.perf_counter() - t1
                while pending and batch[-1].time > pending[0] + timedelta(minutes=2):
                    end = pending.pop(0)
                    pub = {s.segment: s.speed_kmh for s in engine.window(end)}
                    errors += [abs(pub[s.segment] - s.speed_kmh)
                               for s in plan.window(end, min_vehicles=3) if s.segment in pub]
            rates.append(len(positions) / spent)
        label = (f"{noise:>2.0f} m" if (interval, noise) in PEAK
                 else f"{noise * np.sqrt(2):.0f} m radial RMS ({noise:.1f} m per axis)")
        print(f"  {interval:>2} s {label}: {len(f)} fixes of {len(plan.vehicles)} vehicles;"
              f" strict {share['now']:.3f} (lag-1 HMM alone {share['lag1']:.3f}); matcher"
              f" {rate:,.0f} fixes/s; speed MAE {np.mean(errors):.2f} km/h over {len(errors)}"
              f" segment-buckets; consume() median {statistics.median(rates):,.0f} fixes/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.02)
    ap.add_argument("--vehicles", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--peak-only", action="store_true")
    args = ap.parse_args()
    bench_peak(args.scale, args.repeat)
    if args.peak_only:
        return
    net = county_network(args.scale)
    t0 = time.perf_counter()
    table = PathTable(net)
    print(f"network: {len(net)} roads, {len(net.node_xy)} nodes; path table {len(table)} pairs "
          f"<= 3 km in {time.perf_counter() - t0:.2f} s")
    with tempfile.TemporaryDirectory() as cache:
        fm = fastmm_matcher(net, cache)
        print(f"accuracy: strict = on the true directed edge; far = misses within 2 sigma + 10 m "
              f"of a junction forgiven; {NOISE}")
        for interval, noise in SETTINGS:
            traces = make_traces(net, 60, interval, noise, 6000.0, seed=interval + int(noise))
            n = sum(len(tr.positions) for tr in traces)
            own_rates = []
            for _ in range(args.repeat):
                m = MapMatcher(net, table=table)
                t1 = time.perf_counter()
                got = match_traces(m, traces)
                own_rates.append(n / (time.perf_counter() - t1))
            strict, far = accuracy(traces, got, table.edge_len, 2 * noise + 10)
            line = (f"  {interval:>2} s {noise:>2} m ({n} fixes): own strict {strict:.3f} far "
                    f"{far:.3f} at {statistics.median(own_rates):,.0f} fixes/s")
            if fm is not None:
                fgot, spent = fastmm_match(fm, traces)
                fs, ff = accuracy(traces, fgot, table.edge_len, 2 * noise + 10)
                line += (f" | fastmm (whole traces, offline) strict {fs:.3f} far {ff:.3f} at "
                         f"{n / spent:,.0f} fixes/s")
            print(line)
    print(f"segment speeds and consume() throughput: {args.vehicles} vehicles, batches of 500")
    for interval, noise in ((10, 20), (30, 20), (60, 30)):
        traces = make_traces(net, args.vehicles, interval, noise, 15_000.0, seed=interval)
        mae, k, rate = speed_mae(net, table, traces)
        print(f"  {interval:>2} s {noise:>2} m: speed MAE {mae:.2f} km/h over {k} segment-buckets;"
              f" consume() {rate:,.0f} fixes/s")


if __name__ == "__main__":
    main()
