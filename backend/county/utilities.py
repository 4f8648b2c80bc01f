"""Underground pipelines along roads (cameras: backend/county/cameras.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from backend.county.depths import gravity_profile, pressure_profile
from backend.county.frame import STREAM_PIPELINES, cut_line, rng
from backend.county.lattice import CITY, NONE, TOWN, Lattice
from backend.county.recipe import Recipe
from backend.county.roads import Roads

CONTEXTS = ("city", "town", "rural")


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


def junction_context(lat: Lattice, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    ctx, _ = junction_context(lat, mids)
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
    _, det = junction_context(lat, mids)
    keep = det & (shapely.length(lines) > 1.0)
    cols = list(zip(*attrs, strict=True)) if attrs else [[]] * 9
    arr = [np.asarray(c, dtype=object)[keep] for c in cols]
    return Pipelines(geoms=lines[keep], key=arr[0], network=arr[1], diameter=arr[2].astype(int),
                     material=arr[3], depth_start=arr[4].astype(float),
                     depth_end=arr[5].astype(float), year=arr[6].astype(int), owner=arr[7],
                     pressure=arr[8])
