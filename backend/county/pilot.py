"""Smart-traffic pilot segments: the central blocks of named seat arterials, each way."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from backend.county.lattice import CITY, Lattice
from backend.county.recipe import Recipe
from backend.county.roads import Roads

# Local axes are the frame's, turned only a few degrees from east / north.
# Keyed by (axis of the road: 0 runs north-south, 1 east-west; drawn forward?).
DIRECTIONS = {(0, True): "南向北", (0, False): "北向南", (1, True): "西向东", (1, False): "东向西"}


@dataclass
class Pilot:
    geoms: np.ndarray
    code: list[str]
    name: list[str]
    road: list[str]
    direction: list[str]
    speed: list[int]
    length: list[float]


def build_pilot(recipe: Recipe, lat: Lattice, roads: Roads) -> Pilot:
    """Segments between consecutive cross arterials (lattice lines), nearest the seat first."""
    by_line = {v: k for k, v in roads.city_lines.items()}
    candidates: list[tuple[float, str, int, float, float, float]] = []
    for road in recipe.pilot.roads:
        axis, line = roads.city_lines[road]
        at = float(lat.us[line] if axis == 0 else lat.vs[line])
        cross = lat.vs if axis == 0 else lat.us
        for k in range(len(cross) - 1):
            # Only where the arterial runs through the city on at least one side.
            if axis == 0:
                sides = [lat.kind[line - 1, k], lat.kind[min(line, lat.shape[0] - 1), k]]
            else:
                sides = [lat.kind[k, line - 1], lat.kind[k, min(line, lat.shape[1] - 1)]]
            if CITY not in sides:
                continue
            mid = (cross[k] + cross[k + 1]) / 2
            dist = float(np.hypot(at, mid))
            candidates.append((dist, road, k, at, float(cross[k]), float(cross[k + 1])))
    # Nearest the seat first, taking the roads in turn.
    candidates.sort(key=lambda c: (c[0], c[1], c[2]))
    turn = {r: 0 for r in recipe.pilot.roads}
    ranked = []
    for c in candidates:
        ranked.append((turn[c[1]], recipe.pilot.roads.index(c[1]), c))
        turn[c[1]] += 1
    candidates = [c for *_, c in sorted(ranked, key=lambda x: (x[0], x[1]))]
    out = Pilot(np.empty(0), [], [], [], [], [], [])
    geoms = []
    for n, (_, road, k, at, lo, hi) in enumerate(candidates[: recipe.pilot.segments], start=1):
        axis, _line = roads.city_lines[road]
        ends = [by_line.get((1 - axis, k)), by_line.get((1 - axis, k + 1))]
        cls = "primary" if road in recipe.urban.primary else "secondary"
        coords = np.array([[at, lo], [at, hi]]) if axis == 0 else np.array([[lo, at], [hi, at]])
        ways = (True, False) if recipe.pilot.both_directions else (True,)
        for forward in ways:
            line = shapely.linestrings(coords if forward else coords[::-1])
            span = "—".join(e or "?" for e in (ends if forward else ends[::-1]))
            direction = DIRECTIONS[(axis, forward)]
            geoms.append(line)
            out.code.append(f"SX-JT-{n:02d}{'A' if forward else 'B'}")
            out.name.append(f"{road}（{span}）{direction}")
            out.road.append(road)
            out.direction.append(direction)
            out.speed.append(recipe.road_classes[cls].speed)
            out.length.append(round(float(shapely.length(line)), 1))
    out.geoms = np.array(geoms, dtype=object)
    return out
