"""Underground pipelines along roads, and video cameras at road junctions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.spatial import cKDTree

from backend.county.depths import gravity_profile, pressure_profile
from backend.county.frame import STREAM_CAMERAS, STREAM_PIPELINES, Frame, cut_line, rng
from backend.county.lattice import CITY, NONE, TOWN, Lattice
from backend.county.recipe import Recipe
from backend.county.roads import Roads
from backend.county.townships import Townships, Villages

CONTEXTS = ("city", "town", "rural")
INDUSTRY = {"tianwang": "00", "xueliang": "01", "traffic": "04"}  # GB/T 28181 行业编码
KIND_LABEL = {"tianwang": "天网", "xueliang": "雪亮", "traffic": "交通"}


@dataclass
class Pipelines:
    geoms: np.ndarray  # drawn in the direction of flow where the network has one
    key: np.ndarray  # <network>-<road line>-<piece along it>
    network: np.ndarray
    diameter: np.ndarray
    material: np.ndarray
    depth_start: np.ndarray  # cover to the pipe's top at the first vertex, metres
    depth_end: np.ndarray  # ... at the last vertex
    year: np.ndarray
    owner: np.ndarray
    pressure: np.ndarray  # gas pressure class, None for the other networks


@dataclass
class Cameras:
    geoms: np.ndarray
    code: np.ndarray
    name: np.ndarray
    kind: np.ndarray
    direction: np.ndarray
    fov: np.ndarray
    status: np.ndarray
    url: np.ndarray
    township: np.ndarray


def _context(lat: Lattice, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(context 0 city / 1 town / 2 rural, detailed?) of points on or near lattice lines: a
    point on a cell edge counts as city (town) if any cell touching it is."""
    ctx = np.full(len(pts), 2)
    det = np.zeros(len(pts), dtype=bool)
    for du, dv in ((0.5, 0.5), (-0.5, 0.5), (0.5, -0.5), (-0.5, -0.5)):
        a, b = lat.locate(pts + np.array([du, dv]))
        ok = a >= 0
        kind = np.where(ok, lat.kind[a, b], NONE)
        ctx = np.where(kind == CITY, 0, np.where((kind == TOWN) & (ctx > 1), 1, ctx))
        det |= ok & lat.detailed[a, b]
    return ctx, det


def build_pipelines(recipe: Recipe, lat: Lattice, roads: Roads) -> Pipelines:
    pc = recipe.pipelines
    g = rng(recipe.seed, STREAM_PIPELINES)
    gd = rng(recipe.seed, STREAM_PIPELINES, 1)  # depths, owners: apart from the geometry's
    geoms, cls, _, kind = roads.sources.arrays()
    mids = shapely.get_coordinates(shapely.line_interpolate_point(geoms, 0.5, normalized=True))
    ctx, _ = _context(lat, mids)
    ranks = {c: r.rank for c, r in recipe.road_classes.items()}
    coords: list[np.ndarray] = []
    attrs: list[tuple[object, ...]] = []
    take = g.random(len(geoms))
    for i in range(len(geoms)):
        group = "trunk" if kind[i] in ("trunk", "county") else cls[i]
        if kind[i] == "lattice" and take[i] > pc.rural_fraction:
            continue
        networks = pc.by_class.get(group, [])  # type: ignore[call-overload]
        line = geoms[i]
        length = shapely.length(line)
        central = ctx[i] == 0 and np.hypot(*mids[i]) <= pc.heating_radius_km * 1e3
        for net in networks:
            if net == "heating" and not central:
                continue
            spec = pc.networks[net]
            off = shapely.offset_curve(line, spec.offset_m) if spec.offset_m else line
            c = shapely.get_coordinates(off)
            if len(c) < 2 or length < pc.piece_m.lo:
                continue
            n_min = int(np.ceil(length / pc.piece_m.hi))
            n_max = int(length // pc.piece_m.lo)
            n = int(np.clip(round(length / g.uniform(pc.piece_m.lo * 1.5, pc.piece_m.hi * 0.8)),
                            n_min, n_max))
            w = 1.0 + g.uniform(-0.3, 0.3, n)
            cum = np.concatenate([[0.0], np.cumsum(w / w.sum())]) * shapely.length(off)
            if np.any(np.diff(cum) < pc.piece_m.lo) or np.any(np.diff(cum) > pc.piece_m.hi):
                cum = np.linspace(0.0, shapely.length(off), n + 1)
            d = spec.diameter_mm
            base = int(round((ranks[cls[i]] - 1) / 6 * (len(d) - 1)))
            year = int(g.integers(spec.install_year[0], spec.install_year[1] + 1))
            material = spec.materials[int(g.integers(len(spec.materials)))]
            owner = spec.owners[int(gd.integers(len(spec.owners)))]
            pressure = spec.pressure[group] if spec.pressure else None  # type: ignore[index]
            if spec.slope is not None:
                depth, flow = gravity_profile(np.diff(cum), gd, depth=spec.depth_m,
                                              slope=spec.slope, head_share=pc.head_share)
            else:
                depth = pressure_profile(n, gd, depth=spec.depth_m, drift_m=pc.drift_m)
                flow = np.ones(n, dtype=bool)
            for k, piece in enumerate(cut_line(c, cum)):
                start, end = (depth[k], depth[k + 1]) if flow[k] else (depth[k + 1], depth[k])
                coords.append(piece if flow[k] else piece[::-1])
                dia = d[int(np.clip(base + g.integers(-1, 2), 0, len(d) - 1))]
                relaid = g.random() < 0.08  # some pieces were relaid later
                y = int(g.integers(year, spec.install_year[1] + 1)) if relaid else year
                attrs.append((f"{net}-{i:06d}-{k:03d}", net, dia, material, start / 100.0,
                              end / 100.0, y, owner, pressure))
    lines = shapely.linestrings(np.vstack(coords), indices=np.repeat(
        np.arange(len(coords)), [len(c) for c in coords])) if coords else np.empty(0, object)
    mids = shapely.get_coordinates(shapely.line_interpolate_point(lines, 0.5, normalized=True))
    _, det = _context(lat, mids)
    keep = det & (shapely.length(lines) > 1.0)
    cols = list(zip(*attrs, strict=True)) if attrs else [[]] * 9
    arr = [np.asarray(c, dtype=object)[keep] for c in cols]
    return Pipelines(geoms=lines[keep], key=arr[0], network=arr[1], diameter=arr[2].astype(int),
                     material=arr[3], depth_start=arr[4].astype(float),
                     depth_end=arr[5].astype(float), year=arr[6].astype(int), owner=arr[7],
                     pressure=arr[8])


def build_cameras(recipe: Recipe, frame: Frame, lat: Lattice, roads: Roads, tw: Townships,
                  vil: Villages, scale: float) -> Cameras:
    cc = recipe.cameras
    g = rng(recipe.seed, STREAM_CAMERAS)
    graph = roads.graph
    deg = graph.degree
    ctx, det = _context(lat, graph.xy)
    nodes = np.flatnonzero((deg >= 3) & det)
    weight = np.array([cc.weights[CONTEXTS[c]] for c in ctx[nodes]]) * (deg[nodes] - 1.5)
    slots = np.repeat(nodes, 4)
    sw = np.repeat(weight, 4) * np.tile([1.0, 0.6, 0.35, 0.2], len(nodes))
    n = min(int(round(cc.count * min(scale, 1.0))), len(slots))
    if n == 0:
        empty = np.empty(0, dtype=object)
        return Cameras(empty, empty, empty, empty, np.empty(0), np.empty(0), empty, empty, empty)
    chosen = np.sort(g.choice(len(slots), size=n, replace=False, p=sw / sw.sum()))
    at = slots[chosen]
    # Names: the two most important named roads meeting at the junction.
    names: dict[int, list[str]] = {}
    for e in range(len(graph.a)):
        nm = roads.name[graph.row[e]]
        if isinstance(nm, str):
            for v in (int(graph.a[e]), int(graph.b[e])):
                if nm not in names.setdefault(v, []):
                    names[v].append(nm)
    _, near_village = cKDTree(vil.points).query(graph.xy[at])
    kinds, statuses = list(cc.status), np.array(list(cc.status.values()))
    status = np.array(kinds, dtype=object)[g.choice(len(kinds), n, p=statuses / statuses.sum())]
    ang = g.uniform(0, 2 * np.pi, n)
    dist = g.uniform(6.0, 14.0, n)
    pos = graph.xy[at] + np.column_stack([np.cos(ang), np.sin(ang)]) * dist[:, None]
    look = frame.bearing_of(-np.cos(ang), -np.sin(ang))  # towards the junction
    direction = np.round((look + g.normal(0, 15, n)) % 360.0, 1)
    kind = np.empty(n, dtype=object)
    fov = np.empty(n)
    code = np.empty(n, dtype=object)
    name = np.empty(n, dtype=object)
    for k in range(n):
        mix = cc.kinds[CONTEXTS[ctx[at[k]]]]  # type: ignore[index]
        keys = list(mix)
        p = np.array([mix[x] for x in keys])
        kind[k] = keys[int(g.choice(len(keys), p=p / p.sum()))]
        span = cc.fov_deg[kind[k]]
        fov[k] = round(float(g.uniform(span.lo, span.hi)), 1)
        code[k] = f"{recipe.county.code}00{INDUSTRY[kind[k]]}132{k + 1:07d}"
        road = names.get(int(at[k]), [])
        where = (f"{road[0]}与{road[1]}交叉口" if len(road) > 1 else
                 f"{road[0]}{vil.names[near_village[k]]}路口" if road else
                 f"{vil.names[near_village[k]]}路口")
        name[k] = f"{where}（{KIND_LABEL[kind[k]]}）"
    pts = shapely.points(pos)
    township = np.full(n, None, dtype=object)
    for t, poly in enumerate(tw.polys):
        township[shapely.contains(poly, pts)] = tw.codes[t]
    url = np.array([cc.stream_url.format(code=c) for c in code], dtype=object)
    ok = np.array([t is not None for t in township], dtype=bool)  # drop any outside the county
    return Cameras(geoms=pts[ok], code=code[ok], name=name[ok], kind=kind[ok],
                   direction=direction[ok], fov=fov[ok], status=status[ok], url=url[ok],
                   township=township[ok])
